//! `KnowledgeStore`: the knowledge repository (`knowledge_documents`,
//! `knowledge_state`).

/// The `KnowledgeStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_knowledge {
    ($store:ident) => {
        fn knowledge_from_row(row: &DbRow) -> StoreResult<KnowledgeRow> {
            Ok(KnowledgeRow {
                id: row.try_get("id").map_err(db_err)?,
                unit: row.try_get("unit").map_err(db_err)?,
                kind: row.try_get("kind").map_err(db_err)?,
                instrument: row.try_get("instrument").map_err(db_err)?,
                jurisdiction: row.try_get("jurisdiction").map_err(db_err)?,
                position: row.try_get("position").map_err(db_err)?,
                body: row.try_get("body").map_err(db_err)?,
            })
        }

        const KNOWLEDGE_COLUMNS: &str = "id, unit, kind, instrument, jurisdiction, position, body";

        #[$crate::async_trait]
        impl $crate::KnowledgeStore for $store {
            async fn replace_knowledge(
                &self,
                units: &[String],
                rows: &[KnowledgeRow],
                audit: &NewAuditEntry,
            ) -> StoreResult<i64> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                // One import at a time: the state row is locked first.
                sqlx::query("UPDATE knowledge_state SET generation = generation WHERE id = 1")
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                for unit in units {
                    sqlx::query("DELETE FROM knowledge_documents WHERE unit = $1")
                        .bind(unit)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                let now = to_millis(OffsetDateTime::now_utc());
                for chunk in rows.chunks(400) {
                    let mut sql = String::from(
                        "INSERT INTO knowledge_documents (id, unit, kind, instrument, jurisdiction, position, body, updated_at) VALUES ",
                    );
                    for i in 0..chunk.len() {
                        let b = i * 8;
                        if i > 0 {
                            sql.push(',');
                        }
                        sql.push_str(&format!(
                            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                            b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8
                        ));
                    }
                    let mut q = sqlx::query(&sql);
                    for r in chunk {
                        q = q
                            .bind(&r.id)
                            .bind(&r.unit)
                            .bind(&r.kind)
                            .bind(&r.instrument)
                            .bind(&r.jurisdiction)
                            .bind(r.position)
                            .bind(&r.body)
                            .bind(now);
                    }
                    q.execute(&mut *tx)
                        .await
                        .map_err(|e| conflict_or(e, "document identifier"))?;
                }
                let generation: i64 = sqlx::query_scalar(
                    "UPDATE knowledge_state SET generation = generation + 1 WHERE id = 1 RETURNING generation",
                )
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(generation)
            }

            async fn knowledge_generation(&self) -> StoreResult<i64> {
                sqlx::query_scalar("SELECT generation FROM knowledge_state WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)
            }

            async fn knowledge_document(&self, id: &str) -> StoreResult<Option<KnowledgeRow>> {
                let row = sqlx::query(&format!(
                    "SELECT {KNOWLEDGE_COLUMNS} FROM knowledge_documents WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                row.as_ref().map(knowledge_from_row).transpose()
            }

            async fn knowledge_articles(&self, instrument: &str) -> StoreResult<Vec<KnowledgeRow>> {
                let rows = sqlx::query(&format!(
                    "SELECT {KNOWLEDGE_COLUMNS} FROM knowledge_documents WHERE instrument = $1 ORDER BY position"
                ))
                .bind(instrument)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows.iter().map(knowledge_from_row).collect()
            }

            async fn knowledge_of_kind(&self, kind: &str) -> StoreResult<Vec<KnowledgeRow>> {
                let rows = sqlx::query(&format!(
                    "SELECT {KNOWLEDGE_COLUMNS} FROM knowledge_documents WHERE kind = $1 AND instrument IS NULL ORDER BY id"
                ))
                .bind(kind)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows.iter().map(knowledge_from_row).collect()
            }

            async fn knowledge_page(&self, after: &str, limit: i64) -> StoreResult<Vec<KnowledgeRow>> {
                let rows = sqlx::query(&format!(
                    "SELECT {KNOWLEDGE_COLUMNS} FROM knowledge_documents WHERE id > $1 ORDER BY id LIMIT $2"
                ))
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows.iter().map(knowledge_from_row).collect()
            }

            async fn knowledge_counts(&self) -> StoreResult<Vec<(String, i64)>> {
                let rows = sqlx::query(
                    "SELECT kind, COUNT(*) AS n FROM knowledge_documents GROUP BY kind ORDER BY kind",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows.iter()
                    .map(|r| Ok((r.try_get("kind").map_err(db_err)?, r.try_get("n").map_err(db_err)?)))
                    .collect()
            }
        }
    };
}
