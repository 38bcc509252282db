//! `AuditStore`: the append-only audit log (`audit_log`). `insert_audit`
//! writes the entry every mutating method of every store takes, in that
//! method's transaction.

/// The `AuditStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_audit {
    ($store:ident) => {
        async fn insert_audit<'e, E>(exec: E, e: &NewAuditEntry) -> StoreResult<()>
        where
            E: sqlx::Executor<'e, Database = Db>,
        {
            sqlx::query(
                "INSERT INTO audit_log (at, actor_id, actor, action, outcome, case_id, target, client_ip, request_id, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(to_millis(e.at))
            .bind(e.actor_id)
            .bind(&e.actor)
            .bind(e.action.as_str())
            .bind(e.outcome.as_str())
            .bind(e.case_id)
            .bind(&e.target)
            .bind(&e.client_ip)
            .bind(&e.request_id)
            .bind(&e.detail)
            .execute(exec)
            .await
            .map_err(db_err)?;
            Ok(())
        }

        #[$crate::async_trait]
        impl $crate::AuditStore for $store {
            async fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<()> {
                insert_audit(&self.pool, entry).await
            }

            async fn audit_entries(&self, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
                let mut q = sqlx::QueryBuilder::<Db>::new(
                    "SELECT id, at, actor_id, actor, action, outcome, case_id, target, client_ip, request_id, detail FROM audit_log WHERE 1 = 1",
                );
                if let Some(actor) = &f.actor {
                    q.push(" AND LOWER(actor) LIKE ").push_bind(format!("%{}%", actor.to_lowercase().replace(['%', '_'], "")));
                }
                if let Some(action) = &f.action {
                    if action.ends_with('.') {
                        q.push(" AND action LIKE ").push_bind(format!("{}%", action.replace(['%', '_'], "")));
                    } else {
                        q.push(" AND action = ").push_bind(action.clone());
                    }
                }
                if let Some(outcome) = f.outcome {
                    q.push(" AND outcome = ").push_bind(outcome.as_str());
                }
                if let Some(case_id) = f.case_id {
                    q.push(" AND case_id = ").push_bind(case_id);
                }
                if let Some(from) = f.from {
                    q.push(" AND at >= ").push_bind(to_millis(from));
                }
                if let Some(to) = f.to {
                    q.push(" AND at < ").push_bind(to_millis(to));
                }
                if let Some(before) = f.before_id {
                    q.push(" AND id < ").push_bind(before);
                }
                q.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(f.limit.clamp(1, 10_000)));
                let rows = q.build().fetch_all(&self.pool).await.map_err(db_err)?;
                rows.iter()
                    .map(|row| {
                        Ok(AuditEntry {
                            id: row.try_get("id").map_err(db_err)?,
                            at: from_millis(row.try_get("at").map_err(db_err)?)?,
                            actor_id: row.try_get("actor_id").map_err(db_err)?,
                            actor: row.try_get("actor").map_err(db_err)?,
                            action: row.try_get("action").map_err(db_err)?,
                            outcome: row.try_get("outcome").map_err(db_err)?,
                            case_id: row.try_get("case_id").map_err(db_err)?,
                            target: row.try_get("target").map_err(db_err)?,
                            client_ip: row.try_get("client_ip").map_err(db_err)?,
                            request_id: row.try_get("request_id").map_err(db_err)?,
                            detail: row.try_get("detail").map_err(db_err)?,
                        })
                    })
                    .collect()
            }
        }
    };
}
