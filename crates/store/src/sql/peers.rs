//! `PeerStore`: the other nodes this node knows and their pinned keys
//! (`peers`).

/// The `PeerStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_peers {
    ($store:ident) => {
        const PEER_COLUMNS: &str = "node_id, base_url, organisation, country, kind, signing_key, signing_fingerprint, encryption_key, document, signature, status, added_at, updated_at, next_signing_key, key_valid_until";

        fn peer_from_row(row: &DbRow) -> StoreResult<Peer> {
            let status: String = row.try_get("status").map_err(db_err)?;
            Ok(Peer {
                node_id: row.try_get("node_id").map_err(db_err)?,
                base_url: row.try_get("base_url").map_err(db_err)?,
                organisation: row.try_get("organisation").map_err(db_err)?,
                country: row.try_get("country").map_err(db_err)?,
                kind: row.try_get("kind").map_err(db_err)?,
                signing_key: row.try_get("signing_key").map_err(db_err)?,
                signing_fingerprint: row.try_get("signing_fingerprint").map_err(db_err)?,
                encryption_key: row.try_get("encryption_key").map_err(db_err)?,
                document: row.try_get("document").map_err(db_err)?,
                signature: row.try_get("signature").map_err(db_err)?,
                status: status.parse::<$crate::PeerStatus>().map_err(|e| corrupt("peer status", e))?,
                added_at: from_millis(row.try_get("added_at").map_err(db_err)?)?,
                updated_at: from_millis(row.try_get("updated_at").map_err(db_err)?)?,
                next_signing_key: row.try_get("next_signing_key").map_err(db_err)?,
                key_valid_until: opt_millis(row.try_get("key_valid_until").map_err(db_err)?)?,
            })
        }

        #[$crate::async_trait]
        impl $crate::PeerStore for $store {
            async fn set_peer_next_key(&self, node_id: &str, next_key: &str, valid_until: OffsetDateTime, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query("UPDATE peers SET next_signing_key = $1, key_valid_until = $2 WHERE node_id = $3")
                    .bind(next_key)
                    .bind(to_millis(valid_until))
                    .bind(node_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn promote_peer_key(&self, node_id: &str, fingerprint: &str, at: OffsetDateTime, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query(
                    "UPDATE peers SET signing_key = next_signing_key, signing_fingerprint = $1, next_signing_key = NULL, \
                     key_valid_until = NULL, updated_at = $2 WHERE node_id = $3 AND next_signing_key IS NOT NULL",
                )
                .bind(fingerprint)
                .bind(to_millis(at))
                .bind(node_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn add_peer(&self, p: &Peer, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let sql = format!("INSERT INTO peers ({PEER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)");
                sqlx::query(&sql)
                    .bind(&p.node_id)
                    .bind(&p.base_url)
                    .bind(&p.organisation)
                    .bind(&p.country)
                    .bind(&p.kind)
                    .bind(&p.signing_key)
                    .bind(&p.signing_fingerprint)
                    .bind(&p.encryption_key)
                    .bind(&p.document)
                    .bind(&p.signature)
                    .bind(p.status.as_str())
                    .bind(to_millis(p.added_at))
                    .bind(to_millis(p.updated_at))
                    .bind(&p.next_signing_key)
                    .bind(p.key_valid_until.map(to_millis))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| conflict_or(e, "peer"))?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn peers(&self) -> StoreResult<Vec<Peer>> {
                let sql = format!("SELECT {PEER_COLUMNS} FROM peers ORDER BY node_id");
                sqlx::query(&sql)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(peer_from_row)
                    .collect()
            }

            async fn peer(&self, node_id: &str) -> StoreResult<Option<Peer>> {
                let sql = format!("SELECT {PEER_COLUMNS} FROM peers WHERE node_id = $1");
                sqlx::query(&sql)
                    .bind(node_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(peer_from_row)
                    .transpose()
            }

            async fn set_peer_status(&self, node_id: &str, status: $crate::PeerStatus, at: OffsetDateTime, audit: &NewAuditEntry) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query("UPDATE peers SET status = $1, updated_at = $2 WHERE node_id = $3")
                    .bind(status.as_str())
                    .bind(to_millis(at))
                    .bind(node_id)
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

            async fn refresh_peer(&self, p: &Peer, audit: &NewAuditEntry) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query(
                    "UPDATE peers SET base_url = $1, organisation = $2, country = $3, kind = $4, signing_key = $5, \
                     signing_fingerprint = $6, encryption_key = $7, document = $8, signature = $9, updated_at = $10, \
                     next_signing_key = $11, key_valid_until = $12 WHERE node_id = $13",
                )
                .bind(&p.base_url)
                .bind(&p.organisation)
                .bind(&p.country)
                .bind(&p.kind)
                .bind(&p.signing_key)
                .bind(&p.signing_fingerprint)
                .bind(&p.encryption_key)
                .bind(&p.document)
                .bind(&p.signature)
                .bind(to_millis(p.updated_at))
                .bind(&p.next_signing_key)
                .bind(p.key_valid_until.map(to_millis))
                .bind(&p.node_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_or(e, "peer"))?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(true)
            }

            async fn remove_peer(&self, node_id: &str, audit: &NewAuditEntry) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query("DELETE FROM peers WHERE node_id = $1")
                    .bind(node_id)
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
        }
    };
}
