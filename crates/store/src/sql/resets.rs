//! `PasswordResetStore`: self-service password reset links, by the hash of
//! their secret (`password_resets`), created with the mail that carries
//! them (`mail_outbox`).

/// The `PasswordResetStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_resets {
    ($store:ident) => {
        #[$crate::async_trait]
        impl $crate::PasswordResetStore for $store {
            async fn create_password_reset(
                &self,
                reset: &PasswordReset,
                mail: &OutboxMail,
                audit: &NewAuditEntry,
                since: OffsetDateTime,
                limit: u64,
            ) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                // A write to the user's row first: PostgreSQL locks the row
                // (SQLite the database) until the end, so the count below
                // cannot change under us.
                sqlx::query("UPDATE users SET failed_sign_ins = failed_sign_ins WHERE id = $1")
                    .bind(reset.user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let made: i64 = sqlx::query("SELECT COUNT(*) FROM password_resets WHERE user_id = $1 AND created_at >= $2")
                    .bind(reset.user_id)
                    .bind(to_millis(since))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .try_get(0)
                    .map_err(db_err)?;
                if u64::try_from(made).unwrap_or(0) >= limit {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&reset.token_hash)
                .bind(reset.user_id)
                .bind(to_millis(reset.created_at))
                .bind(to_millis(reset.expires_at))
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_or(e, "reset link"))?;
                insert_mail(&mut tx, mail).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(true)
            }

            async fn password_reset(&self, token_hash: &str) -> StoreResult<Option<PasswordReset>> {
                let row = sqlx::query(
                    "SELECT token_hash, user_id, created_at, expires_at, used_at FROM password_resets WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(PasswordReset {
                    token_hash: row.try_get("token_hash").map_err(db_err)?,
                    user_id: row.try_get("user_id").map_err(db_err)?,
                    created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                    expires_at: from_millis(row.try_get("expires_at").map_err(db_err)?)?,
                    used_at: opt_millis(row.try_get("used_at").map_err(db_err)?)?,
                }))
            }

            async fn complete_password_reset(
                &self,
                token_hash: &str,
                now: OffsetDateTime,
                password_hash: &str,
                audit: &NewAuditEntry,
            ) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                // One conditional write: of two requests using the link at
                // once, one finds it used.
                let used = sqlx::query(
                    "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $3",
                )
                .bind(to_millis(now))
                .bind(token_hash)
                .bind(to_millis(now))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if used.rows_affected() != 1 {
                    return Ok(false);
                }
                let user_id: Uuid = sqlx::query("SELECT user_id FROM password_resets WHERE token_hash = $1")
                    .bind(token_hash)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .try_get(0)
                    .map_err(db_err)?;
                sqlx::query(
                    "UPDATE users SET password_hash = $1, must_change_password = $2, failed_sign_ins = $3, locked_until = NULL WHERE id = $4",
                )
                .bind(password_hash)
                .bind(false)
                .bind(0_i64)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                end_sessions(&mut tx, user_id).await?;
                void_reset_links(&mut tx, user_id).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(true)
            }

            async fn forget_password_resets(&self, before: OffsetDateTime) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM password_resets WHERE expires_at < $1")
                    .bind(to_millis(before))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected())
            }
        }
    };
}
