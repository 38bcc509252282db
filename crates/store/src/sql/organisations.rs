//! `OrganisationStore`: the organisation that runs this node (`organisations`).

/// The `OrganisationStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_organisations {
    ($store:ident) => {
        #[$crate::async_trait]
        impl $crate::OrganisationStore for $store {
            async fn own_organisation(&self) -> StoreResult<Organisation> {
                let row = sqlx::query(
                    "SELECT id, node_id, name, kind, country, require_totp, created_at FROM organisations WHERE is_own = $1",
                )
                .bind(true)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?
                .ok_or(StoreError::NotFound)?;
                let node_id: String = row.try_get("node_id").map_err(db_err)?;
                let name: String = row.try_get("name").map_err(db_err)?;
                let kind: String = row.try_get("kind").map_err(db_err)?;
                let country: String = row.try_get("country").map_err(db_err)?;
                Ok(Organisation {
                    id: row.try_get("id").map_err(db_err)?,
                    node_id: NodeId::parse(&node_id).map_err(|e| corrupt("node id", e))?,
                    name: OrganisationName::parse(&name).map_err(|e| corrupt("organisation name", e))?,
                    kind: kind.parse::<OrganisationKind>().map_err(|e| corrupt("organisation kind", e))?,
                    country: CountryCode::parse(&country).map_err(|e| corrupt("country", e))?,
                    require_totp: row.try_get("require_totp").map_err(db_err)?,
                    created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                })
            }

            async fn create_own_organisation(&self, o: &Organisation) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO organisations (id, node_id, name, kind, country, require_totp, is_own, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(o.id)
                .bind(o.node_id.as_str())
                .bind(o.name.as_str())
                .bind(o.kind.as_str())
                .bind(o.country.as_str())
                .bind(o.require_totp)
                .bind(true)
                .bind(to_millis(o.created_at))
                .execute(&self.pool)
                .await
                .map_err(|e| conflict_or(e, "organisation"))?;
                Ok(())
            }

            async fn set_require_totp(&self, require: bool, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query("UPDATE organisations SET require_totp = $1 WHERE is_own = $2")
                    .bind(require)
                    .bind(true)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }
        }
    };
}
