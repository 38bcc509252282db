//! `UserStore`: accounts, sign-in failures and locks, TOTP, calendar keys
//! (`users`; disabling a user, changing or resetting a password and
//! resetting a second factor also end sessions).
//! `USER_COLUMNS` and `user_from_row` also serve `TokenStore`.

/// The `UserStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_users {
    ($store:ident) => {
        const USER_COLUMNS: &str = "id, email, display_name, password_hash, roles, disabled, failed_sign_ins, locked_until, totp_secret, totp_enabled, locale, calendar_key_hash, must_change_password, created_at";

        fn user_from_row(row: &DbRow) -> StoreResult<User> {
            let email: String = row.try_get("email").map_err(db_err)?;
            let name: String = row.try_get("display_name").map_err(db_err)?;
            let roles: String = row.try_get("roles").map_err(db_err)?;
            let failures: i64 = row.try_get("failed_sign_ins").map_err(db_err)?;
            Ok(User {
                id: row.try_get("id").map_err(db_err)?,
                email: Email::parse(&email).map_err(|e| corrupt("user e-mail", e))?,
                display_name: DisplayName::parse(&name).map_err(|e| corrupt("user name", e))?,
                password_hash: row.try_get("password_hash").map_err(db_err)?,
                roles: RoleSet::parse_list(&roles).map_err(|e| corrupt("user roles", e))?,
                disabled: row.try_get("disabled").map_err(db_err)?,
                failed_sign_ins: u32::try_from(failures).unwrap_or(u32::MAX),
                locked_until: opt_millis(row.try_get("locked_until").map_err(db_err)?)?,
                totp_secret: row.try_get("totp_secret").map_err(db_err)?,
                totp_enabled: row.try_get("totp_enabled").map_err(db_err)?,
                locale: row.try_get("locale").map_err(db_err)?,
                calendar_key_hash: row.try_get("calendar_key_hash").map_err(db_err)?,
                must_change_password: row.try_get("must_change_password").map_err(db_err)?,
                created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
            })
        }

        /// Ends every session of the user.
        async fn end_sessions(tx: &mut sqlx::Transaction<'_, Db>, user_id: Uuid) -> StoreResult<()> {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
            Ok(())
        }

        /// Voids the user's reset links not used yet: a new password
        /// makes them pointless, and one might be in a mailbox someone
        /// else reads.
        async fn void_reset_links(tx: &mut sqlx::Transaction<'_, Db>, user_id: Uuid) -> StoreResult<()> {
            sqlx::query("DELETE FROM password_resets WHERE user_id = $1 AND used_at IS NULL")
                .bind(user_id)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
            Ok(())
        }

        #[$crate::async_trait]
        impl $crate::UserStore for $store {
            async fn create_user(&self, u: &NewUser, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO users (id, email, display_name, password_hash, roles, disabled, failed_sign_ins, totp_enabled, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(u.id)
                .bind(u.email.as_str())
                .bind(u.display_name.as_str())
                .bind(&u.password_hash)
                .bind(u.roles.to_list())
                .bind(false)
                .bind(0_i64)
                .bind(false)
                .bind(to_millis(u.created_at))
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_or(e, "email"))?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
                sqlx::query(&sql)
                    .bind(email.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(user_from_row)
                    .transpose()
            }

            async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
                sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(user_from_row)
                    .transpose()
            }

            async fn list_users(&self) -> StoreResult<Vec<User>> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY email");
                sqlx::query(&sql)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(user_from_row)
                    .collect()
            }

            async fn set_roles(&self, id: Uuid, roles: RoleSet, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query("UPDATE users SET roles = $1 WHERE id = $2")
                    .bind(roles.to_list())
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn set_disabled(&self, id: Uuid, disabled: bool, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
                    .bind(disabled)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                if disabled {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn record_sign_in_failure(
                &self,
                id: Uuid,
                failures: u32,
                locked_until: Option<OffsetDateTime>,
                audit: &NewAuditEntry,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query("UPDATE users SET failed_sign_ins = $1, locked_until = $2 WHERE id = $3")
                    .bind(i64::from(failures))
                    .bind(locked_until.map(to_millis))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn record_sign_in_success(&self, id: Uuid) -> StoreResult<()> {
                sqlx::query("UPDATE users SET failed_sign_ins = $1, locked_until = NULL WHERE id = $2")
                    .bind(0_i64)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn set_pending_totp_secret(&self, id: Uuid, secret: &str) -> StoreResult<()> {
                sqlx::query("UPDATE users SET totp_secret = $1 WHERE id = $2 AND totp_enabled = $3")
                    .bind(secret)
                    .bind(id)
                    .bind(false)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn enable_totp(&self, id: Uuid, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query("UPDATE users SET totp_enabled = $1 WHERE id = $2 AND totp_secret IS NOT NULL")
                    .bind(true)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn consume_totp_step(&self, id: Uuid, step: i64) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $3)",
                )
                .bind(step)
                .bind(id)
                .bind(step)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_calendar_key(&self, id: Uuid, key_hash: Option<&str>, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query("UPDATE users SET calendar_key_hash = $1 WHERE id = $2")
                    .bind(key_hash)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn user_by_calendar_key(&self, key_hash: &str) -> StoreResult<Option<User>> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE calendar_key_hash = $1 AND disabled = $2");
                sqlx::query(&sql)
                    .bind(key_hash)
                    .bind(false)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(user_from_row)
                    .transpose()
            }

            async fn set_locale(&self, id: Uuid, locale: &str) -> StoreResult<()> {
                sqlx::query("UPDATE users SET locale = $1 WHERE id = $2")
                    .bind(locale)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn set_password_hash(&self, id: Uuid, hash: &str, keep_session: Option<&str>, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query("UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3")
                    .bind(hash)
                    .bind(false)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
                    .bind(id)
                    .bind(keep_session.unwrap_or(""))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                void_reset_links(&mut tx, id).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn set_temporary_password(&self, id: Uuid, hash: &str, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query(
                    "UPDATE users SET password_hash = $1, must_change_password = $2, failed_sign_ins = $3, locked_until = NULL WHERE id = $4",
                )
                .bind(hash)
                .bind(true)
                .bind(0_i64)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                end_sessions(&mut tx, id).await?;
                void_reset_links(&mut tx, id).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn reset_second_factor(&self, id: Uuid, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query(
                    "UPDATE users SET totp_secret = NULL, totp_enabled = $1, totp_last_step = NULL WHERE id = $2",
                )
                .bind(false)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                end_sessions(&mut tx, id).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }
        }
    };
}
