//! `CaseStore`: cases and their members (`cases`, `case_members`).

/// The `CaseStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_cases {
    ($store:ident) => {
        /// A new case with its creator as first member and its audit entry,
        /// in the caller's transaction.
        async fn insert_new_case(
            tx: &mut sqlx::Transaction<'_, Db>,
            c: &Case,
            audit: &NewAuditEntry,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO cases (id, reference, title, summary, status, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(c.id)
            .bind(c.reference.as_str())
            .bind(c.title.as_str())
            .bind(c.summary.as_str())
            .bind(c.status.as_str())
            .bind(c.created_by)
            .bind(to_millis(c.created_at))
            .bind(to_millis(c.updated_at))
            .execute(&mut **tx)
            .await
            .map_err(|e| conflict_or(e, "reference"))?;
            sqlx::query("INSERT INTO case_members (case_id, user_id, added_by, added_at) VALUES ($1, $2, $3, $4)")
                .bind(c.id)
                .bind(c.created_by)
                .bind(c.created_by)
                .bind(to_millis(c.created_at))
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
            insert_audit(&mut **tx, audit).await
        }

        const CASE_COLUMNS: &str = "c.id, c.reference, c.title, c.summary, c.status, c.created_by, c.created_at, c.updated_at";

        fn case_from_row(row: &DbRow) -> StoreResult<Case> {
            let reference: String = row.try_get("reference").map_err(db_err)?;
            let title: String = row.try_get("title").map_err(db_err)?;
            let summary: String = row.try_get("summary").map_err(db_err)?;
            let status: String = row.try_get("status").map_err(db_err)?;
            Ok(Case {
                id: row.try_get("id").map_err(db_err)?,
                reference: CaseReference::parse(&reference).map_err(|e| corrupt("case reference", e))?,
                title: CaseTitle::parse(&title).map_err(|e| corrupt("case title", e))?,
                summary: CaseSummary::parse(&summary).map_err(|e| corrupt("case summary", e))?,
                status: status.parse::<CaseStatus>().map_err(|e| corrupt("case status", e))?,
                created_by: row.try_get("created_by").map_err(db_err)?,
                created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                updated_at: from_millis(row.try_get("updated_at").map_err(db_err)?)?,
            })
        }

        #[$crate::async_trait]
        impl $crate::CaseStore for $store {
            async fn create_case(&self, c: &Case, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                insert_new_case(&mut tx, c, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn case_by_id(&self, id: Uuid) -> StoreResult<Option<Case>> {
                let sql = format!("SELECT {CASE_COLUMNS} FROM cases c WHERE c.id = $1");
                sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(case_from_row)
                    .transpose()
            }

            async fn cases_for_member(&self, user_id: Uuid) -> StoreResult<Vec<Case>> {
                let sql = format!(
                    "SELECT {CASE_COLUMNS} FROM cases c JOIN case_members m ON m.case_id = c.id \
                     WHERE m.user_id = $1 ORDER BY c.updated_at DESC, c.reference"
                );
                sqlx::query(&sql)
                    .bind(user_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(case_from_row)
                    .collect()
            }

            async fn all_cases(&self) -> StoreResult<Vec<Case>> {
                let sql = format!("SELECT {CASE_COLUMNS} FROM cases c ORDER BY c.updated_at DESC, c.reference");
                sqlx::query(&sql)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(case_from_row)
                    .collect()
            }

            async fn is_case_member(&self, case_id: Uuid, user_id: Uuid) -> StoreResult<bool> {
                let row = sqlx::query("SELECT 1 AS one FROM case_members WHERE case_id = $1 AND user_id = $2")
                    .bind(case_id)
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(row.is_some())
            }

            async fn case_members(&self, case_id: Uuid) -> StoreResult<Vec<CaseMember>> {
                let rows = sqlx::query(
                    "SELECT m.user_id, u.email, u.display_name, m.added_by, m.added_at \
                     FROM case_members m JOIN users u ON u.id = m.user_id WHERE m.case_id = $1 ORDER BY u.email",
                )
                .bind(case_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows.iter()
                    .map(|row| {
                        let email: String = row.try_get("email").map_err(db_err)?;
                        let name: String = row.try_get("display_name").map_err(db_err)?;
                        Ok(CaseMember {
                            user_id: row.try_get("user_id").map_err(db_err)?,
                            email: Email::parse(&email).map_err(|e| corrupt("member e-mail", e))?,
                            display_name: DisplayName::parse(&name).map_err(|e| corrupt("member name", e))?,
                            added_by: row.try_get("added_by").map_err(db_err)?,
                            added_at: from_millis(row.try_get("added_at").map_err(db_err)?)?,
                        })
                    })
                    .collect()
            }

            async fn add_case_member(
                &self,
                case_id: Uuid,
                user_id: Uuid,
                added_by: Uuid,
                at: OffsetDateTime,
                audit: &NewAuditEntry,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query("INSERT INTO case_members (case_id, user_id, added_by, added_at) VALUES ($1, $2, $3, $4)")
                    .bind(case_id)
                    .bind(user_id)
                    .bind(added_by)
                    .bind(to_millis(at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| conflict_or(e, "member"))?;
                sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
                    .bind(to_millis(at))
                    .bind(case_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }

            async fn remove_case_member(&self, case_id: Uuid, user_id: Uuid, audit: &NewAuditEntry) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query("DELETE FROM case_members WHERE case_id = $1 AND user_id = $2")
                    .bind(case_id)
                    .bind(user_id)
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
