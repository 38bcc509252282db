//! `EvidenceStore`: evidence items, the append-only custody log and its
//! signed tree heads, resumable uploads (`evidence_items`, `custody_events`,
//! `custody_log_writer`, `custody_tree_heads`, `foreign_tree_heads`,
//! `evidence_uploads`).

/// The `EvidenceStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_evidence {
    ($store:ident) => {
        const ITEM_COLUMNS: &str = "id, case_id, sha256, md5, sha1, size, file_name, description, source, acquired_at, acquired_place, performer, \
            authorisation, exhibit_number, origin, state, legal_hold, retention_until, integrity, verified_at, disposed_at, disposal_reason, \
            created_by, created_at, updated_at";

        const DATE_FORMAT: &[time::format_description::FormatItem<'static>] = time::macros::format_description!("[year]-[month]-[day]");

        fn item_from_row(row: &DbRow) -> StoreResult<EvidenceItem> {
            let size: i64 = row.try_get("size").map_err(db_err)?;
            let source: String = row.try_get("source").map_err(db_err)?;
            let state: String = row.try_get("state").map_err(db_err)?;
            let integrity: String = row.try_get("integrity").map_err(db_err)?;
            let retention: Option<String> = row.try_get("retention_until").map_err(db_err)?;
            Ok(EvidenceItem {
                id: row.try_get("id").map_err(db_err)?,
                case_id: row.try_get("case_id").map_err(db_err)?,
                sha256: row.try_get("sha256").map_err(db_err)?,
                md5: row.try_get("md5").map_err(db_err)?,
                sha1: row.try_get("sha1").map_err(db_err)?,
                size: u64::try_from(size).map_err(|e| corrupt("evidence size", e))?,
                file_name: row.try_get("file_name").map_err(db_err)?,
                description: row.try_get("description").map_err(db_err)?,
                source: source.parse().map_err(|e| corrupt("evidence source", e))?,
                acquired_at: opt_millis(row.try_get("acquired_at").map_err(db_err)?)?,
                acquired_place: row.try_get("acquired_place").map_err(db_err)?,
                performer: row.try_get("performer").map_err(db_err)?,
                authorisation: row.try_get("authorisation").map_err(db_err)?,
                exhibit_number: row.try_get("exhibit_number").map_err(db_err)?,
                origin: row.try_get("origin").map_err(db_err)?,
                state: state.parse().map_err(|e| corrupt("evidence state", e))?,
                legal_hold: row.try_get("legal_hold").map_err(db_err)?,
                retention_until: retention
                    .map(|d| time::Date::parse(&d, DATE_FORMAT).map_err(|e| corrupt("retention date", e)))
                    .transpose()?,
                integrity: integrity.parse().map_err(|e| corrupt("evidence integrity", e))?,
                verified_at: opt_millis(row.try_get("verified_at").map_err(db_err)?)?,
                disposed_at: opt_millis(row.try_get("disposed_at").map_err(db_err)?)?,
                disposal_reason: row.try_get("disposal_reason").map_err(db_err)?,
                created_by: row.try_get("created_by").map_err(db_err)?,
                created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                updated_at: from_millis(row.try_get("updated_at").map_err(db_err)?)?,
            })
        }

        fn retention_text(item: &EvidenceItem) -> StoreResult<Option<String>> {
            item.retention_until
                .map(|d| d.format(DATE_FORMAT).map_err(|e| corrupt("retention date", e)))
                .transpose()
        }

        const EVENT_COLUMNS: &str = "leaf_index, id, case_id, item_id, kind, at, actor_id, actor, record, leaf_hash";

        fn event_from_row(row: &DbRow) -> StoreResult<CustodyEvent> {
            let index: i64 = row.try_get("leaf_index").map_err(db_err)?;
            let kind: String = row.try_get("kind").map_err(db_err)?;
            Ok(CustodyEvent {
                leaf_index: u64::try_from(index).map_err(|e| corrupt("leaf index", e))?,
                event: NewCustodyEvent {
                    id: row.try_get("id").map_err(db_err)?,
                    case_id: row.try_get("case_id").map_err(db_err)?,
                    item_id: row.try_get("item_id").map_err(db_err)?,
                    kind: kind.parse().map_err(|e| corrupt("custody event kind", e))?,
                    at: from_millis(row.try_get("at").map_err(db_err)?)?,
                    actor_id: row.try_get("actor_id").map_err(db_err)?,
                    actor: row.try_get("actor").map_err(db_err)?,
                    record: row.try_get("record").map_err(db_err)?,
                    leaf_hash: row.try_get("leaf_hash").map_err(db_err)?,
                },
            })
        }

        const HEAD_COLUMNS: &str = "tree_size, root_hash, signed_at, signature, public_key, exported";

        fn head_from_row(row: &DbRow) -> StoreResult<StoredTreeHead> {
            let size: i64 = row.try_get("tree_size").map_err(db_err)?;
            Ok(StoredTreeHead {
                tree_size: u64::try_from(size).map_err(|e| corrupt("tree size", e))?,
                root_hash: row.try_get("root_hash").map_err(db_err)?,
                signed_at: from_millis(row.try_get("signed_at").map_err(db_err)?)?,
                signature: row.try_get("signature").map_err(db_err)?,
                public_key: row.try_get("public_key").map_err(db_err)?,
                exported: row.try_get("exported").map_err(db_err)?,
            })
        }

        fn upload_from_row(row: &DbRow) -> StoreResult<EvidenceUpload> {
            let size: i64 = row.try_get("size").map_err(db_err)?;
            let received: i64 = row.try_get("received").map_err(db_err)?;
            Ok(EvidenceUpload {
                id: row.try_get("id").map_err(db_err)?,
                case_id: row.try_get("case_id").map_err(db_err)?,
                created_by: row.try_get("created_by").map_err(db_err)?,
                created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                size: u64::try_from(size).map_err(|e| corrupt("upload size", e))?,
                received: u64::try_from(received).map_err(|e| corrupt("upload offset", e))?,
                metadata: row.try_get("metadata").map_err(db_err)?,
            })
        }

        fn to_i64(v: u64, what: &str) -> StoreResult<i64> {
            i64::try_from(v).map_err(|e| corrupt(what, e))
        }

        /// One writer of the custody log at a time, on both databases and
        /// across replicas: the transaction first updates the single row of
        /// `custody_log_writer` (which also makes a SQLite transaction a
        /// writer from its first statement), then reads where the log ends.
        /// Returns the next leaf index.
        async fn lock_custody_log(tx: &mut sqlx::Transaction<'_, Db>) -> StoreResult<u64> {
            sqlx::query("UPDATE custody_log_writer SET writes = writes + 1 WHERE id = 1")
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
            let next: Option<i64> = sqlx::query_scalar("SELECT MAX(leaf_index) + 1 FROM custody_events")
                .fetch_one(&mut **tx)
                .await
                .map_err(db_err)?;
            Ok(next.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
        }

        /// Rows per INSERT statement (ten parameters each).
        const EVENT_ROWS_PER_STATEMENT: usize = 500;

        /// Appends events at `*next` onwards, several rows per statement;
        /// returns their indices and advances `*next`.
        async fn insert_custody_events(tx: &mut sqlx::Transaction<'_, Db>, next: &mut u64, events: &[&NewCustodyEvent]) -> StoreResult<Vec<u64>> {
            let mut indices = Vec::with_capacity(events.len());
            for chunk in events.chunks(EVENT_ROWS_PER_STATEMENT) {
                let first = *next;
                let mut q = sqlx::QueryBuilder::<Db>::new(
                    "INSERT INTO custody_events (leaf_index, id, case_id, item_id, kind, at, actor_id, actor, record, leaf_hash) ",
                );
                let mut index = first;
                let mut rows = Vec::with_capacity(chunk.len());
                for e in chunk {
                    rows.push((to_i64(index, "leaf index")?, *e));
                    indices.push(index);
                    index += 1;
                }
                q.push_values(rows, |mut b, (i, e)| {
                    b.push_bind(i)
                        .push_bind(e.id)
                        .push_bind(e.case_id)
                        .push_bind(e.item_id)
                        .push_bind(e.kind.as_str())
                        .push_bind(to_millis(e.at))
                        .push_bind(e.actor_id)
                        .push_bind(e.actor.clone())
                        .push_bind(e.record.clone())
                        .push_bind(e.leaf_hash.clone());
                });
                q.build().execute(&mut **tx).await.map_err(db_err)?;
                *next = index;
            }
            Ok(indices)
        }

        async fn insert_item(tx: &mut sqlx::Transaction<'_, Db>, item: &EvidenceItem) -> StoreResult<()> {
                let sql = format!(
                    "INSERT INTO evidence_items ({ITEM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)"
                );
                sqlx::query(&sql)
                    .bind(item.id)
                    .bind(item.case_id)
                    .bind(&item.sha256)
                    .bind(&item.md5)
                    .bind(&item.sha1)
                    .bind(to_i64(item.size, "evidence size")?)
                    .bind(&item.file_name)
                    .bind(&item.description)
                    .bind(item.source.as_str())
                    .bind(item.acquired_at.map(to_millis))
                    .bind(&item.acquired_place)
                    .bind(&item.performer)
                    .bind(&item.authorisation)
                    .bind(&item.exhibit_number)
                    .bind(&item.origin)
                    .bind(item.state.as_str())
                    .bind(item.legal_hold)
                    .bind(retention_text(item)?)
                    .bind(item.integrity.as_str())
                    .bind(item.verified_at.map(to_millis))
                    .bind(item.disposed_at.map(to_millis))
                    .bind(&item.disposal_reason)
                    .bind(item.created_by)
                    .bind(to_millis(item.created_at))
                    .bind(to_millis(item.updated_at))
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| conflict_or(e, "exhibit number"))?;
                Ok(())
        }

        async fn update_item(tx: &mut sqlx::Transaction<'_, Db>, item: &EvidenceItem) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE evidence_items SET state = $1, legal_hold = $2, retention_until = $3, integrity = $4, verified_at = $5, \
                     disposed_at = $6, disposal_reason = $7, updated_at = $8 WHERE id = $9",
                )
                .bind(item.state.as_str())
                .bind(item.legal_hold)
                .bind(retention_text(item)?)
                .bind(item.integrity.as_str())
                .bind(item.verified_at.map(to_millis))
                .bind(item.disposed_at.map(to_millis))
                .bind(&item.disposal_reason)
                .bind(to_millis(item.updated_at))
                .bind(item.id)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
        }

        async fn run_item_job(tx: &mut sqlx::Transaction<'_, Db>, next: &mut u64, job: &CustodyJob) -> StoreResult<Vec<u64>> {
            let (events, audit) = match job {
                CustodyJob::CreateItem { item, events, audit } => {
                    insert_item(tx, item).await?;
                    (events, Some(audit))
                }
                CustodyJob::UpdateItem { item, events, audit } => {
                    update_item(tx, item).await?;
                    (events, audit.as_ref())
                }
                CustodyJob::Append { events, audit } => (events, audit.as_ref()),
            };
            let events: Vec<&NewCustodyEvent> = events.iter().collect();
            let indices = insert_custody_events(tx, next, &events).await?;
            if let Some(audit) = audit {
                insert_audit(&mut **tx, audit).await?;
            }
            Ok(indices)
        }

        /// Writes the queued appends in as few statements as possible and
        /// fills in their jobs' indices.
        async fn flush_appends(
            tx: &mut sqlx::Transaction<'_, Db>,
            next: &mut u64,
            pending: &mut Vec<(usize, &[NewCustodyEvent])>,
            results: &mut [StoreResult<Vec<u64>>],
        ) -> StoreResult<()> {
            if pending.is_empty() {
                return Ok(());
            }
            let all: Vec<&NewCustodyEvent> = pending.iter().flat_map(|(_, events)| events.iter()).collect();
            let indices = insert_custody_events(tx, next, &all).await?;
            let mut at = 0;
            for (job, events) in pending.drain(..) {
                if let Some(slot) = results.get_mut(job) {
                    *slot = Ok(indices.get(at..at + events.len()).map(<[u64]>::to_vec).unwrap_or_default());
                }
                at += events.len();
            }
            Ok(())
        }

        #[$crate::async_trait]
        impl $crate::EvidenceStore for $store {
            async fn create_evidence_item(&self, item: &EvidenceItem, events: &[NewCustodyEvent], audit: &NewAuditEntry) -> StoreResult<Vec<u64>> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let mut next = lock_custody_log(&mut tx).await?;
                insert_item(&mut tx, item).await?;
                let events: Vec<&NewCustodyEvent> = events.iter().collect();
                let indices = insert_custody_events(&mut tx, &mut next, &events).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(indices)
            }

            async fn apply_custody_jobs(&self, jobs: &[CustodyJob]) -> StoreResult<Vec<StoreResult<Vec<u64>>>> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let mut next = lock_custody_log(&mut tx).await?;
                let mut results: Vec<StoreResult<Vec<u64>>> = Vec::with_capacity(jobs.len());
                // Consecutive appends share statements; a change to an item
                // gets its own savepoint, so that its failure stays its own.
                let mut pending: Vec<(usize, &[NewCustodyEvent])> = Vec::new();
                for (i, job) in jobs.iter().enumerate() {
                    match job {
                        CustodyJob::Append { events, audit } => {
                            results.push(Ok(Vec::new()));
                            pending.push((i, events.as_slice()));
                            if let Some(audit) = audit {
                                insert_audit(&mut *tx, audit).await?;
                            }
                        }
                        CustodyJob::CreateItem { .. } | CustodyJob::UpdateItem { .. } => {
                            flush_appends(&mut tx, &mut next, &mut pending, &mut results).await?;
                            let mut sp = sqlx::Acquire::begin(&mut *tx).await.map_err(db_err)?;
                            let mut sp_next = next;
                            let result = run_item_job(&mut sp, &mut sp_next, job).await;
                            match &result {
                                Ok(_) => {
                                    sp.commit().await.map_err(db_err)?;
                                    next = sp_next;
                                }
                                Err(_) => sp.rollback().await.map_err(db_err)?,
                            }
                            results.push(result);
                        }
                    }
                }
                flush_appends(&mut tx, &mut next, &mut pending, &mut results).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(results)
            }

            async fn evidence_item(&self, id: Uuid) -> StoreResult<Option<EvidenceItem>> {
                let sql = format!("SELECT {ITEM_COLUMNS} FROM evidence_items WHERE id = $1");
                sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(item_from_row)
                    .transpose()
            }

            async fn evidence_in_case(&self, case_id: Uuid) -> StoreResult<Vec<EvidenceItem>> {
                let sql = format!("SELECT {ITEM_COLUMNS} FROM evidence_items WHERE case_id = $1 ORDER BY created_at, id");
                sqlx::query(&sql)
                    .bind(case_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(item_from_row)
                    .collect()
            }

            async fn all_evidence(&self) -> StoreResult<Vec<EvidenceItem>> {
                let sql = format!("SELECT {ITEM_COLUMNS} FROM evidence_items ORDER BY created_at, id");
                sqlx::query(&sql)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(item_from_row)
                    .collect()
            }

            async fn count_live_evidence_with_hash(&self, sha256: &str) -> StoreResult<u64> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM evidence_items WHERE sha256 = $1 AND state <> 'disposed'")
                    .bind(sha256)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            async fn update_evidence_item(&self, item: &EvidenceItem, events: &[NewCustodyEvent], audit: Option<&NewAuditEntry>) -> StoreResult<Vec<u64>> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let mut next = lock_custody_log(&mut tx).await?;
                update_item(&mut tx, item).await?;
                let events: Vec<&NewCustodyEvent> = events.iter().collect();
                let indices = insert_custody_events(&mut tx, &mut next, &events).await?;
                if let Some(audit) = audit {
                    insert_audit(&mut *tx, audit).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(indices)
            }

            async fn append_custody_events(&self, events: &[NewCustodyEvent], audit: Option<&NewAuditEntry>) -> StoreResult<Vec<u64>> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let mut next = lock_custody_log(&mut tx).await?;
                let events: Vec<&NewCustodyEvent> = events.iter().collect();
                let indices = insert_custody_events(&mut tx, &mut next, &events).await?;
                if let Some(audit) = audit {
                    insert_audit(&mut *tx, audit).await?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(indices)
            }

            async fn custody_events_for_item(&self, item_id: Uuid) -> StoreResult<Vec<CustodyEvent>> {
                let sql = format!("SELECT {EVENT_COLUMNS} FROM custody_events WHERE item_id = $1 ORDER BY leaf_index");
                sqlx::query(&sql)
                    .bind(item_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(event_from_row)
                    .collect()
            }

            async fn custody_events_for_case(&self, case_id: Uuid) -> StoreResult<Vec<CustodyEvent>> {
                let sql = format!("SELECT {EVENT_COLUMNS} FROM custody_events WHERE case_id = $1 ORDER BY leaf_index");
                sqlx::query(&sql)
                    .bind(case_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(event_from_row)
                    .collect()
            }

            async fn custody_leaf_hashes(&self, from: u64, limit: u64) -> StoreResult<Vec<String>> {
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT leaf_index, leaf_hash FROM custody_events WHERE leaf_index >= $1 ORDER BY leaf_index LIMIT $2",
                )
                .bind(to_i64(from, "leaf index")?)
                .bind(to_i64(limit, "limit")?)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                let mut expected = from;
                let mut hashes = Vec::with_capacity(rows.len());
                for (index, hash) in rows {
                    if u64::try_from(index).ok() != Some(expected) {
                        return Err(StoreError::Corrupt(format!("custody log has a gap at leaf {expected}")));
                    }
                    expected += 1;
                    hashes.push(hash);
                }
                Ok(hashes)
            }

            async fn custody_log_size(&self) -> StoreResult<u64> {
                let n: Option<i64> = sqlx::query_scalar("SELECT MAX(leaf_index) + 1 FROM custody_events")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
            }

            async fn store_tree_head(&self, h: &StoredTreeHead) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO custody_tree_heads (tree_size, root_hash, signed_at, signature, public_key, exported) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tree_size) DO NOTHING",
                )
                .bind(to_i64(h.tree_size, "tree size")?)
                .bind(&h.root_hash)
                .bind(to_millis(h.signed_at))
                .bind(&h.signature)
                .bind(&h.public_key)
                .bind(h.exported)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn latest_tree_head(&self) -> StoreResult<Option<StoredTreeHead>> {
                let sql = format!("SELECT {HEAD_COLUMNS} FROM custody_tree_heads ORDER BY tree_size DESC LIMIT 1");
                sqlx::query(&sql)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(head_from_row)
                    .transpose()
            }

            async fn tree_head(&self, tree_size: u64) -> StoreResult<Option<StoredTreeHead>> {
                let sql = format!("SELECT {HEAD_COLUMNS} FROM custody_tree_heads WHERE tree_size = $1");
                sqlx::query(&sql)
                    .bind(to_i64(tree_size, "tree size")?)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(head_from_row)
                    .transpose()
            }

            async fn exported_tree_heads(&self) -> StoreResult<Vec<StoredTreeHead>> {
                let sql = format!("SELECT {HEAD_COLUMNS} FROM custody_tree_heads WHERE exported = $1 ORDER BY tree_size");
                sqlx::query(&sql)
                    .bind(true)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(head_from_row)
                    .collect()
            }

            async fn mark_tree_head_exported(&self, tree_size: u64) -> StoreResult<()> {
                sqlx::query("UPDATE custody_tree_heads SET exported = $1 WHERE tree_size = $2")
                    .bind(true)
                    .bind(to_i64(tree_size, "tree size")?)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn foreign_tree_heads(&self, public_key: &str) -> StoreResult<Vec<ForeignTreeHead>> {
                let rows = sqlx::query(
                    "SELECT public_key, tree_size, root_hash, node_id, signed_at, signature, received_at FROM foreign_tree_heads \
                     WHERE public_key = $1 ORDER BY tree_size",
                )
                .bind(public_key)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows.iter()
                    .map(|row| {
                        let size: i64 = row.try_get("tree_size").map_err(db_err)?;
                        Ok(ForeignTreeHead {
                            public_key: row.try_get("public_key").map_err(db_err)?,
                            tree_size: u64::try_from(size).map_err(|e| corrupt("tree size", e))?,
                            root_hash: row.try_get("root_hash").map_err(db_err)?,
                            node_id: row.try_get("node_id").map_err(db_err)?,
                            signed_at: opt_millis(row.try_get("signed_at").map_err(db_err)?)?,
                            signature: row.try_get("signature").map_err(db_err)?,
                            received_at: from_millis(row.try_get("received_at").map_err(db_err)?)?,
                        })
                    })
                    .collect()
            }

            async fn store_foreign_tree_head(&self, h: &ForeignTreeHead) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO foreign_tree_heads (public_key, tree_size, root_hash, node_id, signed_at, signature, received_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (public_key, tree_size) DO NOTHING",
                )
                .bind(&h.public_key)
                .bind(to_i64(h.tree_size, "tree size")?)
                .bind(&h.root_hash)
                .bind(&h.node_id)
                .bind(h.signed_at.map(to_millis))
                .bind(&h.signature)
                .bind(to_millis(h.received_at))
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn create_upload(&self, u: &EvidenceUpload) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO evidence_uploads (id, case_id, created_by, created_at, size, received, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(u.id)
                .bind(u.case_id)
                .bind(u.created_by)
                .bind(to_millis(u.created_at))
                .bind(to_i64(u.size, "upload size")?)
                .bind(to_i64(u.received, "upload offset")?)
                .bind(&u.metadata)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn upload(&self, id: Uuid) -> StoreResult<Option<EvidenceUpload>> {
                sqlx::query("SELECT id, case_id, created_by, created_at, size, received, metadata FROM evidence_uploads WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(upload_from_row)
                    .transpose()
            }

            async fn advance_upload(&self, id: Uuid, from: u64, to: u64) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE evidence_uploads SET received = $1 WHERE id = $2 AND received = $3")
                    .bind(to_i64(to, "upload offset")?)
                    .bind(id)
                    .bind(to_i64(from, "upload offset")?)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_upload(&self, id: Uuid) -> StoreResult<()> {
                sqlx::query("DELETE FROM evidence_uploads WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn evidence_bytes(&self, case_id: Option<Uuid>) -> StoreResult<u64> {
                // SUM of BIGINT is NUMERIC on PostgreSQL: cast back.
                let query = match case_id {
                    Some(case_id) => sqlx::query_scalar::<_, i64>(
                        "SELECT CAST(COALESCE((SELECT SUM(size) FROM evidence_items WHERE case_id = $1 AND state <> 'disposed'), 0) \
                         + COALESCE((SELECT SUM(size) FROM evidence_uploads WHERE case_id = $1), 0) AS BIGINT)",
                    )
                    .bind(case_id),
                    None => sqlx::query_scalar::<_, i64>(
                        "SELECT CAST(COALESCE((SELECT SUM(size) FROM evidence_items WHERE state <> 'disposed'), 0) \
                         + COALESCE((SELECT SUM(size) FROM evidence_uploads), 0) AS BIGINT)",
                    ),
                };
                let bytes = query.fetch_one(&self.pool).await.map_err(db_err)?;
                u64::try_from(bytes).map_err(|e| corrupt("evidence size", e))
            }
        }
    };
}
