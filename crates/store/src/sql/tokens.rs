//! `TokenStore`: API tokens, by the hash of their secret (`api_tokens`,
//! joined with `users` for the token and its user in one round trip).

/// The `TokenStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_tokens {
    ($store:ident) => {
        fn token_from_row(row: &DbRow) -> StoreResult<ApiToken> {
            Ok(ApiToken {
                id: row.try_get("id").map_err(db_err)?,
                user_id: row.try_get("user_id").map_err(db_err)?,
                name: row.try_get("name").map_err(db_err)?,
                token_hash: row.try_get("token_hash").map_err(db_err)?,
                created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                last_used_at: opt_millis(row.try_get("last_used_at").map_err(db_err)?)?,
                revoked_at: opt_millis(row.try_get("revoked_at").map_err(db_err)?)?,
            })
        }

        const TOKEN_COLUMNS: &str = "id, user_id, name, token_hash, created_at, last_used_at, revoked_at";

        #[$crate::async_trait]
        impl $crate::TokenStore for $store {
            async fn create_token(&self, t: &ApiToken, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(t.id)
                .bind(t.user_id)
                .bind(&t.name)
                .bind(&t.token_hash)
                .bind(to_millis(t.created_at))
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_or(e, "token"))?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>> {
                let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1");
                sqlx::query(&sql)
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(token_from_row)
                    .transpose()
            }

            async fn token_with_user(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>> {
                let row = sqlx::query(
                    "SELECT t.id AS token_id, t.name AS token_name, t.token_hash, t.created_at AS token_created_at, \
                     t.last_used_at, t.revoked_at, u.id, u.email, u.display_name, u.password_hash, u.roles, u.disabled, \
                     u.failed_sign_ins, u.locked_until, u.totp_secret, u.totp_enabled, u.locale, u.calendar_key_hash, u.created_at \
                     FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                let Some(row) = row else { return Ok(None) };
                let user = user_from_row(&row)?;
                let token = ApiToken {
                    id: row.try_get("token_id").map_err(db_err)?,
                    user_id: user.id,
                    name: row.try_get("token_name").map_err(db_err)?,
                    token_hash: row.try_get("token_hash").map_err(db_err)?,
                    created_at: from_millis(row.try_get("token_created_at").map_err(db_err)?)?,
                    last_used_at: opt_millis(row.try_get("last_used_at").map_err(db_err)?)?,
                    revoked_at: opt_millis(row.try_get("revoked_at").map_err(db_err)?)?,
                };
                Ok(Some((token, user)))
            }

            async fn token_by_id(&self, id: Uuid) -> StoreResult<Option<ApiToken>> {
                let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1");
                sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(token_from_row)
                    .transpose()
            }

            async fn tokens_for_user(&self, user_id: Uuid) -> StoreResult<Vec<ApiToken>> {
                let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at");
                sqlx::query(&sql)
                    .bind(user_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(token_from_row)
                    .collect()
            }

            async fn revoke_token(&self, id: Uuid, at: OffsetDateTime, audit: &NewAuditEntry) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(to_millis(at))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(true)
            }

            async fn touch_token(&self, id: Uuid, at: OffsetDateTime) -> StoreResult<()> {
                sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                    .bind(to_millis(at))
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }
        }
    };
}
