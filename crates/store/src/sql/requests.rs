//! `RequestStore`: cooperation requests, their history and the statistics
//! aggregates kept with every write (`requests`, `request_events`,
//! `request_stat_counts`, `request_stat_durations`).

/// The `RequestStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_requests {
    ($store:ident) => {
        const REQUEST_COLUMNS: &str = "r.id, r.case_id, r.reference, r.kind, r.direction, r.state, r.legal_basis, r.requested_country, \
            r.counterpart, r.content, r.drafted_by, r.approved_by, r.approved_digest, r.refusal_ground, r.deadline_due, \
            r.deadline_source, r.created_at, r.updated_at, r.sent_at, r.acknowledged_at, r.first_data_at, r.closed_at";

        fn request_from_row(row: &DbRow) -> StoreResult<CooperationRequest> {
            use entraide_domain::request::{Direction, LegalBasis, RefusalGround, RequestKind, RequestState};
            let kind: String = row.try_get("kind").map_err(db_err)?;
            let direction: String = row.try_get("direction").map_err(db_err)?;
            let state: String = row.try_get("state").map_err(db_err)?;
            let basis: Option<String> = row.try_get("legal_basis").map_err(db_err)?;
            let country: Option<String> = row.try_get("requested_country").map_err(db_err)?;
            let ground: Option<String> = row.try_get("refusal_ground").map_err(db_err)?;
            let content: String = row.try_get("content").map_err(db_err)?;
            Ok(CooperationRequest {
                id: row.try_get("id").map_err(db_err)?,
                case_id: row.try_get("case_id").map_err(db_err)?,
                reference: row.try_get("reference").map_err(db_err)?,
                kind: kind.parse::<RequestKind>().map_err(|e| corrupt("request kind", e))?,
                direction: direction.parse::<Direction>().map_err(|e| corrupt("direction", e))?,
                state: state.parse::<RequestState>().map_err(|e| corrupt("request state", e))?,
                legal_basis: basis.map(|b| b.parse::<LegalBasis>()).transpose().map_err(|e| corrupt("legal basis", e))?,
                requested_country: country.map(|c| CountryCode::parse(&c)).transpose().map_err(|e| corrupt("country", e))?,
                counterpart: row.try_get("counterpart").map_err(db_err)?,
                content: serde_json::from_str(&content).map_err(|e| corrupt("request content", e))?,
                drafted_by: row.try_get("drafted_by").map_err(db_err)?,
                approved_by: row.try_get("approved_by").map_err(db_err)?,
                approved_digest: row.try_get("approved_digest").map_err(db_err)?,
                refusal_ground: ground.map(|g| g.parse::<RefusalGround>()).transpose().map_err(|e| corrupt("refusal ground", e))?,
                deadline_due: opt_millis(row.try_get("deadline_due").map_err(db_err)?)?,
                deadline_source: row.try_get("deadline_source").map_err(db_err)?,
                created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                updated_at: from_millis(row.try_get("updated_at").map_err(db_err)?)?,
                sent_at: opt_millis(row.try_get("sent_at").map_err(db_err)?)?,
                acknowledged_at: opt_millis(row.try_get("acknowledged_at").map_err(db_err)?)?,
                first_data_at: opt_millis(row.try_get("first_data_at").map_err(db_err)?)?,
                closed_at: opt_millis(row.try_get("closed_at").map_err(db_err)?)?,
            })
        }

        async fn insert_request_event<'e, E>(exec: E, e: &RequestEvent) -> StoreResult<()>
        where
            E: sqlx::Executor<'e, Database = Db>,
        {
            sqlx::query(
                "INSERT INTO request_events (request_id, at, actor_id, actor, action, from_state, to_state, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(e.request_id)
            .bind(to_millis(e.at))
            .bind(e.actor_id)
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&e.from_state)
            .bind(&e.to_state)
            .bind(&e.detail)
            .execute(exec)
            .await
            .map_err(db_err)?;
            Ok(())
        }

        /// What one request contributes to the statistics aggregates.
        fn stat_row(r: &CooperationRequest) -> entraide_domain::request::StatRow {
            entraide_domain::request::StatRow {
                kind: r.kind,
                direction: r.direction,
                state: r.state,
                country: r.requested_country,
                refusal_ground: r.refusal_ground,
                created_at: r.created_at,
                sent_at: r.sent_at,
                acknowledged_at: r.acknowledged_at,
                first_data_at: r.first_data_at,
                closed_at: r.closed_at,
            }
        }

        async fn add_count(
            tx: &mut sqlx::Transaction<'_, Db>,
            day: i64,
            k: &entraide_domain::request::CountKey,
            n: i64,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO request_stat_counts (day, kind, direction, state, country, ground, n) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (day, kind, direction, state, country, ground) DO UPDATE SET n = request_stat_counts.n + excluded.n",
            )
            .bind(day)
            .bind(&k.kind)
            .bind(&k.direction)
            .bind(&k.state)
            .bind(&k.country)
            .bind(&k.ground)
            .bind(n)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
            Ok(())
        }

        /// Moves a request's contribution from `before` to `after`, in the
        /// same transaction as the write.
        async fn move_statistics(
            tx: &mut sqlx::Transaction<'_, Db>,
            before: Option<&CooperationRequest>,
            after: &CooperationRequest,
        ) -> StoreResult<()> {
            let day = to_millis(after.created_at).div_euclid(86_400_000);
            let new = stat_row(after);
            let old = before.map(stat_row);
            let new_key = new.count_key();
            if old.as_ref().map(|o| o.count_key()) != Some(new_key.clone()) {
                if let Some(o) = &old {
                    add_count(tx, day, &o.count_key(), -1).await?;
                }
                add_count(tx, day, &new_key, 1).await?;
            }
            let had: Vec<_> = old.map(|o| o.durations()).unwrap_or_default();
            for (measure, hours) in new.durations() {
                if had.iter().any(|(m, _)| *m == measure) {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO request_stat_durations (day, measure, hours, n) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (day, measure, hours) DO UPDATE SET n = request_stat_durations.n + excluded.n",
                )
                .bind(day)
                .bind(measure.as_str())
                .bind(hours)
                .bind(1_i64)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
            }
            Ok(())
        }

        fn content_json(r: &CooperationRequest) -> StoreResult<String> {
            serde_json::to_string(&r.content).map_err(|e| StoreError::Corrupt(format!("request content: {e}")))
        }

        #[$crate::async_trait]
        impl $crate::RequestStore for $store {
            async fn create_request(&self, r: &CooperationRequest, event: &RequestEvent, audit: &NewAuditEntry, effects: &Effects) -> StoreResult<String> {
                let content = content_json(r)?;
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                if let Some((case, case_audit)) = &effects.new_case {
                    insert_new_case(&mut tx, case, case_audit).await?;
                }
                // The next number of the case's sequence: the row's write lock
                // (PostgreSQL) or the single writer (SQLite) makes concurrent
                // creators wait for each other's commit instead of colliding.
                let row = sqlx::query(
                    "UPDATE cases SET request_seq = request_seq + 1 WHERE id = $1 RETURNING request_seq, reference",
                )
                .bind(r.case_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?
                .ok_or(StoreError::NotFound)?;
                let n: i64 = row.try_get("request_seq").map_err(db_err)?;
                let case_reference: String = row.try_get("reference").map_err(db_err)?;
                let reference = format!("{case_reference}/R{n}");
                let audit = NewAuditEntry { target: Some(reference.clone()), ..audit.clone() };
                sqlx::query(
                    "INSERT INTO requests (id, case_id, reference, kind, direction, state, legal_basis, requested_country, \
                     counterpart, content, drafted_by, approved_by, approved_digest, refusal_ground, deadline_due, \
                     deadline_source, created_at, updated_at, sent_at, acknowledged_at, first_data_at, closed_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
                )
                .bind(r.id)
                .bind(r.case_id)
                .bind(&reference)
                .bind(r.kind.as_str())
                .bind(r.direction.as_str())
                .bind(r.state.as_str())
                .bind(r.legal_basis.map(|b| b.as_str()))
                .bind(r.requested_country.map(|c| c.to_string()))
                .bind(&r.counterpart)
                .bind(content)
                .bind(r.drafted_by)
                .bind(r.approved_by)
                .bind(&r.approved_digest)
                .bind(r.refusal_ground.map(|g| g.as_str()))
                .bind(r.deadline_due.map(to_millis))
                .bind(&r.deadline_source)
                .bind(to_millis(r.created_at))
                .bind(to_millis(r.updated_at))
                .bind(r.sent_at.map(to_millis))
                .bind(r.acknowledged_at.map(to_millis))
                .bind(r.first_data_at.map(to_millis))
                .bind(r.closed_at.map(to_millis))
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_or(e, "reference"))?;
                move_statistics(&mut tx, None, r).await?;
                insert_request_event(&mut *tx, event).await?;
                insert_audit(&mut *tx, &audit).await?;
                apply_effects(&mut tx, effects).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(reference)
            }

            async fn request_by_id(&self, id: Uuid) -> StoreResult<Option<CooperationRequest>> {
                let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests r WHERE r.id = $1");
                sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(request_from_row)
                    .transpose()
            }

            async fn requests_for_member(&self, member: Uuid, f: &RequestFilter) -> StoreResult<Vec<CooperationRequest>> {
                let mut q = sqlx::QueryBuilder::<Db>::new(format!(
                    "SELECT {REQUEST_COLUMNS} FROM requests r JOIN case_members m ON m.case_id = r.case_id WHERE m.user_id = "
                ));
                q.push_bind(member);
                if let Some(case_id) = f.case_id {
                    q.push(" AND r.case_id = ").push_bind(case_id);
                }
                if let Some(state) = f.state {
                    q.push(" AND r.state = ").push_bind(state.as_str());
                }
                if let Some(kind) = f.kind {
                    q.push(" AND r.kind = ").push_bind(kind.as_str());
                }
                if let Some(direction) = f.direction {
                    q.push(" AND r.direction = ").push_bind(direction.as_str());
                }
                if let Some(before) = f.due_before {
                    q.push(" AND r.deadline_due IS NOT NULL AND r.deadline_due < ").push_bind(to_millis(before));
                    q.push(" ORDER BY r.deadline_due ASC");
                } else {
                    q.push(" ORDER BY r.updated_at DESC");
                }
                q.push(" LIMIT ").push_bind(i64::from(f.limit.clamp(1, 10_000)));
                q.build()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(request_from_row)
                    .collect()
            }

            async fn all_requests(&self, f: &RequestFilter) -> StoreResult<Vec<CooperationRequest>> {
                let mut q = sqlx::QueryBuilder::<Db>::new(format!("SELECT {REQUEST_COLUMNS} FROM requests r WHERE 1 = 1"));
                if let Some(state) = f.state {
                    q.push(" AND r.state = ").push_bind(state.as_str());
                }
                if let Some(kind) = f.kind {
                    q.push(" AND r.kind = ").push_bind(kind.as_str());
                }
                if let Some(direction) = f.direction {
                    q.push(" AND r.direction = ").push_bind(direction.as_str());
                }
                q.push(" ORDER BY r.updated_at DESC LIMIT ").push_bind(i64::from(f.limit.clamp(1, 100_000)));
                q.build()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(request_from_row)
                    .collect()
            }

            async fn request_by_reference(&self, reference: &str) -> StoreResult<Option<CooperationRequest>> {
                let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests r WHERE r.reference = $1");
                sqlx::query(&sql)
                    .bind(reference)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(request_from_row)
                    .transpose()
            }

            async fn update_request(
                &self,
                previous: &CooperationRequest,
                r: &CooperationRequest,
                event: &RequestEvent,
                audit: &NewAuditEntry,
                effects: &Effects,
            ) -> StoreResult<bool> {
                let expected_state = previous.state;
                let content = content_json(r)?;
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query(
                    "UPDATE requests SET state = $1, legal_basis = $2, requested_country = $3, counterpart = $4, content = $5, \
                     approved_by = $6, approved_digest = $7, refusal_ground = $8, deadline_due = $9, deadline_source = $10, \
                     updated_at = $11, sent_at = $12, acknowledged_at = $13, first_data_at = $14, closed_at = $15 \
                     WHERE id = $16 AND state = $17",
                )
                .bind(r.state.as_str())
                .bind(r.legal_basis.map(|b| b.as_str()))
                .bind(r.requested_country.map(|c| c.to_string()))
                .bind(&r.counterpart)
                .bind(content)
                .bind(r.approved_by)
                .bind(&r.approved_digest)
                .bind(r.refusal_ground.map(|g| g.as_str()))
                .bind(r.deadline_due.map(to_millis))
                .bind(&r.deadline_source)
                .bind(to_millis(r.updated_at))
                .bind(r.sent_at.map(to_millis))
                .bind(r.acknowledged_at.map(to_millis))
                .bind(r.first_data_at.map(to_millis))
                .bind(r.closed_at.map(to_millis))
                .bind(r.id)
                .bind(expected_state.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                move_statistics(&mut tx, Some(previous), r).await?;
                insert_request_event(&mut *tx, event).await?;
                insert_audit(&mut *tx, audit).await?;
                apply_effects(&mut tx, effects).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(true)
            }

            async fn claim_reminders(&self, now: OffsetDateTime, horizon: OffsetDateTime) -> StoreResult<Vec<CooperationRequest>> {
                let sql = format!(
                    "SELECT {REQUEST_COLUMNS} FROM requests r WHERE r.reminded_at IS NULL AND r.deadline_due IS NOT NULL \
                     AND r.deadline_due < $1 AND r.state NOT IN ('answered', 'refused', 'withdrawn', 'expired') \
                     ORDER BY r.deadline_due LIMIT 100"
                );
                let candidates: Vec<CooperationRequest> = sqlx::query(&sql)
                    .bind(to_millis(horizon))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(request_from_row)
                    .collect::<StoreResult<_>>()?;
                let mut claimed = Vec::new();
                for r in candidates {
                    let done = sqlx::query("UPDATE requests SET reminded_at = $1 WHERE id = $2 AND reminded_at IS NULL")
                        .bind(to_millis(now))
                        .bind(r.id)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                    if done.rows_affected() == 1 {
                        claimed.push(r);
                    }
                }
                Ok(claimed)
            }

            async fn release_reminder(&self, id: Uuid) -> StoreResult<()> {
                sqlx::query("UPDATE requests SET reminded_at = NULL WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn overdue_preservations(&self, before: OffsetDateTime) -> StoreResult<Vec<CooperationRequest>> {
                let sql = format!(
                    "SELECT {REQUEST_COLUMNS} FROM requests r WHERE r.state = $1 AND r.deadline_due IS NOT NULL AND r.deadline_due < $2 \
                     ORDER BY r.deadline_due LIMIT 1000"
                );
                sqlx::query(&sql)
                    .bind("preserved")
                    .bind(to_millis(before))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(request_from_row)
                    .collect()
            }

            async fn request_stat_rows(&self, from: OffsetDateTime, to: OffsetDateTime) -> StoreResult<Vec<entraide_domain::request::StatRow>> {
                use entraide_domain::request::{Direction, RefusalGround, RequestKind, RequestState, StatRow};
                let rows = sqlx::query(
                    "SELECT kind, direction, state, requested_country, refusal_ground, created_at, sent_at, \
                     acknowledged_at, first_data_at, closed_at FROM requests WHERE created_at >= $1 AND created_at < $2",
                )
                .bind(to_millis(from))
                .bind(to_millis(to))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows.iter()
                    .map(|row| {
                        let kind: String = row.try_get("kind").map_err(db_err)?;
                        let direction: String = row.try_get("direction").map_err(db_err)?;
                        let state: String = row.try_get("state").map_err(db_err)?;
                        let country: Option<String> = row.try_get("requested_country").map_err(db_err)?;
                        let ground: Option<String> = row.try_get("refusal_ground").map_err(db_err)?;
                        Ok(StatRow {
                            kind: kind.parse::<RequestKind>().map_err(|e| corrupt("request kind", e))?,
                            direction: direction.parse::<Direction>().map_err(|e| corrupt("direction", e))?,
                            state: state.parse::<RequestState>().map_err(|e| corrupt("request state", e))?,
                            country: country.and_then(|c| CountryCode::parse(&c).ok()),
                            refusal_ground: ground.and_then(|g| g.parse::<RefusalGround>().ok()),
                            created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                            sent_at: opt_millis(row.try_get("sent_at").map_err(db_err)?)?,
                            acknowledged_at: opt_millis(row.try_get("acknowledged_at").map_err(db_err)?)?,
                            first_data_at: opt_millis(row.try_get("first_data_at").map_err(db_err)?)?,
                            closed_at: opt_millis(row.try_get("closed_at").map_err(db_err)?)?,
                        })
                    })
                    .collect()
            }

            async fn request_statistics(&self, from_day: i64, to_day: i64) -> StoreResult<$crate::StatAggregates> {
                use entraide_domain::request::{CountKey, Measure};
                let rows = sqlx::query(
                    "SELECT kind, direction, state, country, ground, CAST(SUM(n) AS BIGINT) AS total FROM request_stat_counts \
                     WHERE day >= $1 AND day < $2 GROUP BY kind, direction, state, country, ground",
                )
                .bind(from_day)
                .bind(to_day)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                let mut counts = Vec::with_capacity(rows.len());
                for row in &rows {
                    let total: i64 = row.try_get("total").map_err(db_err)?;
                    if total <= 0 {
                        continue;
                    }
                    counts.push((
                        CountKey {
                            kind: row.try_get("kind").map_err(db_err)?,
                            direction: row.try_get("direction").map_err(db_err)?,
                            state: row.try_get("state").map_err(db_err)?,
                            country: row.try_get("country").map_err(db_err)?,
                            ground: row.try_get("ground").map_err(db_err)?,
                        },
                        u64::try_from(total).unwrap_or(0),
                    ));
                }
                let rows = sqlx::query(
                    "SELECT measure, hours, CAST(SUM(n) AS BIGINT) AS total FROM request_stat_durations \
                     WHERE day >= $1 AND day < $2 GROUP BY measure, hours",
                )
                .bind(from_day)
                .bind(to_day)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                let mut durations = Vec::with_capacity(rows.len());
                for row in &rows {
                    let measure: String = row.try_get("measure").map_err(db_err)?;
                    let total: i64 = row.try_get("total").map_err(db_err)?;
                    if let Some(m) = Measure::parse(&measure) {
                        if total > 0 {
                            durations.push((m, row.try_get("hours").map_err(db_err)?, u64::try_from(total).unwrap_or(0)));
                        }
                    }
                }
                Ok($crate::StatAggregates { counts, durations })
            }

            async fn rebuild_request_statistics(&self) -> StoreResult<u64> {
                const START: &str = "(CASE WHEN direction = 'outgoing' THEN sent_at ELSE created_at END)";
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                for sql in ["DELETE FROM request_stat_counts", "DELETE FROM request_stat_durations"] {
                    sqlx::query(sql).execute(&mut *tx).await.map_err(db_err)?;
                }
                sqlx::query(
                    "INSERT INTO request_stat_counts (day, kind, direction, state, country, ground, n) \
                     SELECT created_at / 86400000, kind, direction, state, COALESCE(requested_country, ''), \
                     COALESCE(refusal_ground, ''), COUNT(*) FROM requests GROUP BY 1, 2, 3, 4, 5, 6",
                )
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                for (measure, column, answered) in [
                    ("acknowledgement", "acknowledged_at", ""),
                    ("first_data", "first_data_at", ""),
                    ("completion", "closed_at", " AND state = 'answered'"),
                ] {
                    let sql = format!(
                        "INSERT INTO request_stat_durations (day, measure, hours, n) \
                         SELECT created_at / 86400000, '{measure}', ({column} - {START}) / 3600000, COUNT(*) FROM requests \
                         WHERE {column} IS NOT NULL AND {START} IS NOT NULL AND {column} >= {START}{answered} GROUP BY 1, 3"
                    );
                    sqlx::query(&sql).execute(&mut *tx).await.map_err(db_err)?;
                }
                let total = sqlx::query("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS total FROM request_stat_counts")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let total: i64 = total.try_get("total").map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                Ok(u64::try_from(total).unwrap_or(0))
            }

            async fn request_events(&self, request_id: Uuid) -> StoreResult<Vec<RequestEvent>> {
                let rows = sqlx::query(
                    "SELECT id, request_id, at, actor_id, actor, action, from_state, to_state, detail \
                     FROM request_events WHERE request_id = $1 ORDER BY id",
                )
                .bind(request_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                rows.iter()
                    .map(|row| {
                        Ok(RequestEvent {
                            id: row.try_get("id").map_err(db_err)?,
                            request_id: row.try_get("request_id").map_err(db_err)?,
                            at: from_millis(row.try_get("at").map_err(db_err)?)?,
                            actor_id: row.try_get("actor_id").map_err(db_err)?,
                            actor: row.try_get("actor").map_err(db_err)?,
                            action: row.try_get("action").map_err(db_err)?,
                            from_state: row.try_get("from_state").map_err(db_err)?,
                            to_state: row.try_get("to_state").map_err(db_err)?,
                            detail: row.try_get("detail").map_err(db_err)?,
                        })
                    })
                    .collect()
            }
        }
    };
}
