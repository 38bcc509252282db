//! `SignatureStore`: the signatures of federation requests accepted here,
//! until they expire (`seen_signatures`), so that a request sent again word
//! for word is refused.

/// The `SignatureStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_signatures {
    ($store:ident) => {
        #[$crate::async_trait]
        impl $crate::SignatureStore for $store {
            async fn record_signature(
                &self,
                signature_sha256: &str,
                sender: &str,
                expires_at: OffsetDateTime,
            ) -> StoreResult<bool> {
                // One statement: two replicas receiving the same request
                // cannot both find it new.
                let done = sqlx::query(
                    "INSERT INTO seen_signatures (signature_sha256, sender, expires_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (signature_sha256) DO NOTHING",
                )
                .bind(signature_sha256)
                .bind(sender)
                .bind(to_millis(expires_at))
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn forget_signatures_expired(&self, now: OffsetDateTime) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM seen_signatures WHERE expires_at < $1")
                    .bind(to_millis(now))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected())
            }
        }
    };
}
