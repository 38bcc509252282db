//! `RequestStore`: cooperation requests, their history, the links between
//! them and the statistics aggregates kept with every write (`requests`,
//! `request_events`, `request_follows`, `request_stat_counts`,
//! `request_stat_durations`).

/// The `RequestStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_requests {
    ($store:ident) => {
        /// Kinds as an SQL list, e.g. `'a', 'b'`.
        fn sql_kinds(keep: fn(entraide_domain::request::RequestKind) -> bool) -> String {
            entraide_domain::request::RequestKind::ALL
                .into_iter()
                .filter(|k| keep(*k))
                .map(|k| format!("'{}'", k.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        }

        /// The states in which a request is closed, as an SQL list.
        fn sql_final_states() -> String {
            entraide_domain::request::RequestState::ALL
                .into_iter()
                .filter(|s| s.is_final())
                .map(|s| format!("'{}'", s.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        }

        /// A request for the data of the preservation `r` (an MLA request, a
        /// production order...), following it directly or through an
        /// extension of it, sent or received: `clocks::FollowUp` in SQL
        /// (`m.sent_at` is when ours was sent or theirs received).
        fn sql_follow_up() -> String {
            format!(
                "SELECT 1 FROM request_follows f JOIN requests m ON m.id = f.request_id \
                 WHERE (f.follows_id = r.id OR f.follows_id IN (SELECT x.request_id FROM request_follows x WHERE x.follows_id = r.id)) \
                 AND m.kind IN ({}) AND (m.sent_at IS NOT NULL OR m.direction = 'incoming')",
                sql_kinds(entraide_domain::request::RequestKind::requests_production)
            )
        }

        /// `FollowUp::keeps_in_force`: one awaits its decision.
        fn sql_pending_follow_up() -> String {
            format!("{} AND m.state NOT IN ({})", sql_follow_up(), sql_final_states())
        }

        /// `StatRow::followed_up`: one came before `r` closed
        /// (`FollowUp::came_by`), as a boolean.
        fn sql_came_by_closing() -> String {
            format!(
                "EXISTS ({} AND (r.closed_at IS NULL OR COALESCE(m.sent_at, m.created_at) <= r.closed_at))",
                sql_follow_up()
            )
        }

        /// `StatRow::extends`: `r` extends a preservation of the register.
        fn sql_extends() -> String {
            format!(
                "EXISTS (SELECT 1 FROM request_follows e JOIN requests p ON p.id = e.follows_id \
                 WHERE e.request_id = r.id AND r.kind = 'preservation_extension' AND p.kind IN ({}))",
                sql_kinds(entraide_domain::request::RequestKind::is_preservation)
            )
        }

        static REQUEST_COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "r.id, r.case_id, r.reference, r.kind, r.direction, r.state, r.legal_basis, r.requested_country, \
                 r.counterpart, r.content, r.drafted_by, r.approved_by, r.approved_digest, r.refusal_ground, r.deadline_due, \
                 r.deadline_source, r.created_at, r.updated_at, r.sent_at, r.acknowledged_at, r.first_data_at, r.closed_at, \
                 (SELECT l.peer_node FROM request_links l WHERE l.request_id = r.id) AS exchanged_with, \
                 r.deadline_trigger, r.deadline_started_at, r.enforcing_notified_at, r.objection_due, r.objection_source, \
                 r.objection_effect, r.objection_at, r.objection_conditions, \
                 (r.kind IN ({}) AND EXISTS ({})) AS pending_decision",
                sql_kinds(entraide_domain::request::RequestKind::is_preservation),
                sql_pending_follow_up()
            )
        });

        fn request_from_row(row: &DbRow) -> StoreResult<CooperationRequest> {
            use entraide_domain::request::{Direction, LegalBasis, RefusalGround, RequestKind, RequestState};
            let kind: String = row.try_get("kind").map_err(db_err)?;
            let direction: String = row.try_get("direction").map_err(db_err)?;
            let state: String = row.try_get("state").map_err(db_err)?;
            let basis: Option<String> = row.try_get("legal_basis").map_err(db_err)?;
            let country: Option<String> = row.try_get("requested_country").map_err(db_err)?;
            let ground: Option<String> = row.try_get("refusal_ground").map_err(db_err)?;
            let content: String = row.try_get("content").map_err(db_err)?;
            let trigger: Option<String> = row.try_get("deadline_trigger").map_err(db_err)?;
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
                exchanged_with: row.try_get("exchanged_with").map_err(db_err)?,
                deadline_trigger: trigger
                    .map(|t| t.parse::<entraide_domain::request::Trigger>())
                    .transpose()
                    .map_err(|e| corrupt("deadline trigger", e))?,
                deadline_started_at: opt_millis(row.try_get("deadline_started_at").map_err(db_err)?)?,
                enforcing: enforcing_from_row(row)?,
                pending_decision: row.try_get("pending_decision").map_err(db_err)?,
            })
        }

        fn enforcing_from_row(row: &DbRow) -> StoreResult<Option<$crate::EnforcingAuthority>> {
            let Some(notified_at) = opt_millis(row.try_get("enforcing_notified_at").map_err(db_err)?)? else {
                return Ok(None);
            };
            let effect: Option<String> = row.try_get("objection_effect").map_err(db_err)?;
            let objection = match effect {
                None => None,
                Some(e) => Some($crate::Objection {
                    effect: e
                        .parse::<entraide_domain::request::ObjectionEffect>()
                        .map_err(|e| corrupt("objection effect", e))?,
                    at: opt_millis(row.try_get("objection_at").map_err(db_err)?)?
                        .ok_or_else(|| StoreError::Corrupt("objection without its time".into()))?,
                    conditions: row.try_get("objection_conditions").map_err(db_err)?,
                }),
            };
            Ok(Some($crate::EnforcingAuthority {
                notified_at,
                window_due: opt_millis(row.try_get("objection_due").map_err(db_err)?)?
                    .ok_or_else(|| StoreError::Corrupt("notification without its window".into()))?,
                window_source: row.try_get::<Option<String>, _>("objection_source").map_err(db_err)?.unwrap_or_default(),
                objection,
            }))
        }

        /// The enforcing authority's columns of a request, in the order
        /// `enforcing_notified_at, objection_due, objection_source,
        /// objection_effect, objection_at, objection_conditions`.
        #[allow(clippy::type_complexity)]
        fn enforcing_columns(
            r: &CooperationRequest,
        ) -> (Option<i64>, Option<i64>, Option<String>, Option<&'static str>, Option<i64>, Option<String>) {
            match &r.enforcing {
                None => (None, None, None, None, None, None),
                Some(e) => (
                    Some(to_millis(e.notified_at)),
                    Some(to_millis(e.window_due)),
                    Some(e.window_source.clone()),
                    e.objection.as_ref().map(|o| o.effect.as_str()),
                    e.objection.as_ref().map(|o| to_millis(o.at)),
                    e.objection.as_ref().and_then(|o| o.conditions.clone()),
                ),
            }
        }

        /// Links a new request to the earlier ones it follows.
        async fn insert_follows(tx: &mut sqlx::Transaction<'_, Db>, request_id: Uuid, follows: &[Uuid]) -> StoreResult<()> {
            for earlier in follows {
                sqlx::query("INSERT INTO request_follows (request_id, follows_id) VALUES ($1, $2)")
                    .bind(request_id)
                    .bind(earlier)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| conflict_or(e, "follows"))?;
            }
            Ok(())
        }

        /// Moves the end of the preservation an extension extends, if it is
        /// still as read (false otherwise), with the event recording it. Its
        /// reminder is due again before the new end.
        async fn apply_extension(tx: &mut sqlx::Transaction<'_, Db>, x: &$crate::Extended) -> StoreResult<bool> {
            let (Some(expected_due), Some(due)) = (x.previous.deadline_due, x.next.deadline_due) else {
                return Ok(false);
            };
            let done = sqlx::query(
                "UPDATE requests SET deadline_due = $1, deadline_source = $2, deadline_trigger = $3, deadline_started_at = $4, \
                 updated_at = $5, reminded_at = NULL WHERE id = $6 AND state = $7 AND deadline_due = $8",
            )
            .bind(to_millis(due))
            .bind(&x.next.deadline_source)
            .bind(x.next.deadline_trigger.map(|t| t.as_str()))
            .bind(x.next.deadline_started_at.map(to_millis))
            .bind(to_millis(x.next.updated_at))
            .bind(x.previous.id)
            .bind(x.previous.state.as_str())
            .bind(to_millis(expected_due))
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            insert_request_event(&mut **tx, &x.event).await?;
            Ok(true)
        }

        async fn insert_request_event<'e, E>(exec: E, e: &RequestEvent) -> StoreResult<()>
        where
            E: sqlx::Executor<'e, Database = Db>,
        {
            sqlx::query(
                "INSERT INTO request_events (request_id, at, actor_id, actor, action, from_state, to_state, detail, occurred_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(e.request_id)
            .bind(to_millis(e.at))
            .bind(e.actor_id)
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&e.from_state)
            .bind(&e.to_state)
            .bind(&e.detail)
            .bind(e.occurred_at.map(to_millis))
            .execute(exec)
            .await
            .map_err(db_err)?;
            Ok(())
        }

        /// What one request contributes to the statistics aggregates (its
        /// counts and durations; the links between requests are not read).
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
                followed_up: false,
                extends: false,
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
                let enforcing = enforcing_columns(r);
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
                     deadline_source, created_at, updated_at, sent_at, acknowledged_at, first_data_at, closed_at, \
                     deadline_trigger, deadline_started_at, enforcing_notified_at, objection_due, objection_source, \
                     objection_effect, objection_at, objection_conditions) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
                     $23, $24, $25, $26, $27, $28, $29, $30)",
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
                .bind(r.deadline_trigger.map(|t| t.as_str()))
                .bind(r.deadline_started_at.map(to_millis))
                .bind(enforcing.0)
                .bind(enforcing.1)
                .bind(enforcing.2)
                .bind(enforcing.3)
                .bind(enforcing.4)
                .bind(enforcing.5)
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_or(e, "reference"))?;
                move_statistics(&mut tx, None, r).await?;
                insert_request_event(&mut *tx, event).await?;
                insert_audit(&mut *tx, &audit).await?;
                apply_effects(&mut tx, effects).await?;
                insert_follows(&mut tx, r.id, &effects.follows).await?;
                if let Some(x) = &effects.extends {
                    if !apply_extension(&mut tx, x).await? {
                        // The preservation changed since it was read: nothing
                        // of this step is written.
                        return Err(StoreError::Conflict("preservation end"));
                    }
                }
                tx.commit().await.map_err(db_err)?;
                Ok(reference)
            }

            async fn request_by_id(&self, id: Uuid) -> StoreResult<Option<CooperationRequest>> {
                let sql = format!("SELECT {} FROM requests r WHERE r.id = $1", *REQUEST_COLUMNS);
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
                    "SELECT {} FROM requests r JOIN case_members cm ON cm.case_id = r.case_id WHERE cm.user_id = ",
                    *REQUEST_COLUMNS
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
                let mut q = sqlx::QueryBuilder::<Db>::new(format!("SELECT {} FROM requests r WHERE 1 = 1", *REQUEST_COLUMNS));
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
                let sql = format!("SELECT {} FROM requests r WHERE r.reference = $1", *REQUEST_COLUMNS);
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
                let enforcing = enforcing_columns(r);
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query(
                    "UPDATE requests SET state = $1, legal_basis = $2, requested_country = $3, counterpart = $4, content = $5, \
                     approved_by = $6, approved_digest = $7, refusal_ground = $8, deadline_due = $9, deadline_source = $10, \
                     updated_at = $11, sent_at = $12, acknowledged_at = $13, first_data_at = $14, closed_at = $15, \
                     deadline_trigger = $16, deadline_started_at = $17, enforcing_notified_at = $18, objection_due = $19, \
                     objection_source = $20, objection_effect = $21, objection_at = $22, objection_conditions = $23 \
                     WHERE id = $24 AND state = $25",
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
                .bind(r.deadline_trigger.map(|t| t.as_str()))
                .bind(r.deadline_started_at.map(to_millis))
                .bind(enforcing.0)
                .bind(enforcing.1)
                .bind(enforcing.2)
                .bind(enforcing.3)
                .bind(enforcing.4)
                .bind(enforcing.5)
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
                if let Some(x) = &effects.extends {
                    if !apply_extension(&mut tx, x).await? {
                        // The preservation moved since it was read: nothing of
                        // this step is written (the caller reports it).
                        return Ok(false);
                    }
                }
                tx.commit().await.map_err(db_err)?;
                Ok(true)
            }

            async fn claim_reminders(&self, now: OffsetDateTime, horizon: OffsetDateTime) -> StoreResult<Vec<CooperationRequest>> {
                let sql = format!(
                    "SELECT {} FROM requests r WHERE r.reminded_at IS NULL AND r.deadline_due IS NOT NULL \
                     AND r.deadline_due < $1 AND r.state NOT IN ('answered', 'refused', 'withdrawn', 'expired') \
                     ORDER BY r.deadline_due LIMIT 100",
                    *REQUEST_COLUMNS
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
                // In force: the states from which a preservation may lapse
                // (`next_state`, action `expire`).
                let sql = format!(
                    "SELECT {} FROM requests r WHERE r.kind IN ({}) \
                     AND r.state IN ('sent', 'registered', 'acknowledged', 'in_execution', 'preserved') \
                     AND r.deadline_due IS NOT NULL AND r.deadline_due < $1 AND NOT EXISTS ({}) \
                     ORDER BY r.deadline_due LIMIT 1000",
                    *REQUEST_COLUMNS,
                    sql_kinds(entraide_domain::request::RequestKind::is_preservation),
                    sql_pending_follow_up()
                );
                sqlx::query(&sql)
                    .bind(to_millis(before))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(request_from_row)
                    .collect()
            }

            async fn requests_following(&self, id: Uuid) -> StoreResult<Vec<CooperationRequest>> {
                let sql = format!(
                    "SELECT {} FROM requests r JOIN request_follows rf ON rf.request_id = r.id WHERE rf.follows_id = $1 \
                     ORDER BY r.created_at, r.id",
                    *REQUEST_COLUMNS
                );
                sqlx::query(&sql)
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(request_from_row)
                    .collect()
            }

            async fn requests_followed(&self, id: Uuid) -> StoreResult<Vec<CooperationRequest>> {
                let sql = format!(
                    "SELECT {} FROM requests r JOIN request_follows rf ON rf.follows_id = r.id WHERE rf.request_id = $1 \
                     ORDER BY r.created_at, r.id",
                    *REQUEST_COLUMNS
                );
                sqlx::query(&sql)
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(request_from_row)
                    .collect()
            }

            async fn request_stat_rows(&self, from: OffsetDateTime, to: OffsetDateTime) -> StoreResult<Vec<entraide_domain::request::StatRow>> {
                use entraide_domain::request::{Direction, RefusalGround, RequestKind, RequestState, StatRow};
                let sql = format!(
                    "SELECT r.kind, r.direction, r.state, r.requested_country, r.refusal_ground, r.created_at, r.sent_at, \
                     r.acknowledged_at, r.first_data_at, r.closed_at, ({}) AS followed_up, ({}) AS extends \
                     FROM requests r WHERE r.created_at >= $1 AND r.created_at < $2",
                    sql_came_by_closing(),
                    sql_extends()
                );
                let rows = sqlx::query(&sql)
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
                            followed_up: row.try_get("followed_up").map_err(db_err)?,
                            extends: row.try_get("extends").map_err(db_err)?,
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
                // Counted from the requests: whether a preservation lapsed
                // "before the MLA request" depends on requests linked to it
                // after its own last write.
                let sql = format!(
                    "SELECT CAST(COUNT(*) AS BIGINT) AS total FROM requests r WHERE r.kind IN ({}) AND r.state = 'expired' \
                     AND r.created_at >= $1 AND r.created_at < $2 AND NOT ({}) AND NOT ({})",
                    sql_kinds(entraide_domain::request::RequestKind::is_preservation),
                    sql_came_by_closing(),
                    sql_extends()
                );
                let lapsed: i64 = sqlx::query(&sql)
                    .bind(from_day.saturating_mul(86_400_000))
                    .bind(to_day.saturating_mul(86_400_000))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)?
                    .try_get("total")
                    .map_err(db_err)?;
                Ok($crate::StatAggregates {
                    counts,
                    durations,
                    preservations_lapsed: u64::try_from(lapsed).unwrap_or(0),
                })
            }

            async fn rebuild_request_statistics(&self) -> StoreResult<u64> {
                // `StatRow::start`: an incoming request's clock starts when it
                // was received (`sent_at`), else at its registration.
                const START: &str = "(CASE WHEN direction = 'outgoing' THEN sent_at ELSE COALESCE(sent_at, created_at) END)";
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
                    "SELECT id, request_id, at, actor_id, actor, action, from_state, to_state, detail, occurred_at \
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
                            occurred_at: opt_millis(row.try_get("occurred_at").map_err(db_err)?)?,
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
