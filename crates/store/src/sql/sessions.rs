//! `SessionStore`: browser sessions, by the hash of their identifier
//! (`sessions`).

/// The `SessionStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_sessions {
    ($store:ident) => {
        #[$crate::async_trait]
        impl $crate::SessionStore for $store {
            async fn create_session(&self, s: &Session) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (id_hash, user_id, csrf_token, second_factor_pending, created_at, last_seen_at, client_ip, second_factor_done) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&s.id_hash)
                .bind(s.user_id)
                .bind(&s.csrf_token)
                .bind(s.second_factor_pending)
                .bind(to_millis(s.created_at))
                .bind(to_millis(s.last_seen_at))
                .bind(&s.client_ip)
                .bind(s.second_factor_done)
                .execute(&self.pool)
                .await
                .map_err(|e| conflict_or(e, "session"))?;
                Ok(())
            }

            async fn session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
                let row = sqlx::query(
                    "SELECT id_hash, user_id, csrf_token, second_factor_pending, second_factor_done, created_at, last_seen_at, client_ip \
                     FROM sessions WHERE id_hash = $1",
                )
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(Session {
                    id_hash: row.try_get("id_hash").map_err(db_err)?,
                    user_id: row.try_get("user_id").map_err(db_err)?,
                    csrf_token: row.try_get("csrf_token").map_err(db_err)?,
                    second_factor_pending: row.try_get("second_factor_pending").map_err(db_err)?,
                    second_factor_done: row.try_get("second_factor_done").map_err(db_err)?,
                    created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                    last_seen_at: from_millis(row.try_get("last_seen_at").map_err(db_err)?)?,
                    client_ip: row.try_get("client_ip").map_err(db_err)?,
                }))
            }

            async fn touch_session(&self, id_hash: &str, at: OffsetDateTime) -> StoreResult<()> {
                sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
                    .bind(to_millis(at))
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn complete_second_factor(&self, id_hash: &str) -> StoreResult<()> {
                sqlx::query("UPDATE sessions SET second_factor_pending = $1, second_factor_done = $2 WHERE id_hash = $3")
                    .bind(false)
                    .bind(true)
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn delete_sessions_older_than(
                &self,
                created_before: OffsetDateTime,
                seen_before: OffsetDateTime,
            ) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM sessions WHERE created_at < $1 OR last_seen_at < $2")
                    .bind(to_millis(created_before))
                    .bind(to_millis(seen_before))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected())
            }
        }
    };
}
