//! `MessageStore`: messages to peers (`outbox_messages`, `outbox_envelopes`),
//! from peers (`inbox_messages`), and the links between our requests and
//! theirs (`request_links`).

/// The `MessageStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_messages {
    ($store:ident) => {
        /// Queues a sealed message and its envelope, with its audit entry,
        /// in the caller's transaction.
        async fn insert_outbox(
            tx: &mut sqlx::Transaction<'_, Db>,
            m: &OutboxMessage,
            audit: &NewAuditEntry,
        ) -> StoreResult<()> {
            let sql = format!("INSERT INTO outbox_messages ({OUTBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
            sqlx::query(&sql)
                .bind(m.message_id)
                .bind(&m.recipient)
                .bind(m.message_type.as_str())
                .bind(m.status.as_str())
                .bind(i64::from(m.attempts))
                .bind(to_millis(m.next_attempt_at))
                .bind(&m.last_error)
                .bind(&m.receipt)
                .bind(&m.retrieval_receipt)
                .bind(to_millis(m.created_at))
                .bind(to_millis(m.expires_at))
                .bind(m.delivered_at.map(to_millis))
                .execute(&mut **tx)
                .await
                .map_err(|e| conflict_or(e, "message"))?;
            sqlx::query("INSERT INTO outbox_envelopes (message_id, envelope) VALUES ($1, $2)")
                .bind(m.message_id)
                .bind(&m.envelope)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
            insert_audit(&mut **tx, audit).await
        }

        /// Links a request to its other side (upsert: the peer's id may be
        /// learnt later).
        async fn insert_link<'e, E>(exec: E, link: &RequestLink) -> StoreResult<()>
        where
            E: sqlx::Executor<'e, Database = Db>,
        {
            sqlx::query(
                "INSERT INTO request_links (request_id, peer_node, peer_request_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (request_id) DO UPDATE SET peer_request_id = COALESCE(request_links.peer_request_id, excluded.peer_request_id)",
            )
            .bind(link.request_id)
            .bind(&link.peer_node)
            .bind(link.peer_request_id)
            .bind(to_millis(link.at))
            .execute(exec)
            .await
            .map_err(db_err)?;
            Ok(())
        }

        async fn mark_applied<'e, E>(exec: E, id: Uuid, at: OffsetDateTime) -> StoreResult<bool>
        where
            E: sqlx::Executor<'e, Database = Db>,
        {
            let done = sqlx::query("UPDATE inbox_messages SET applied_at = $1 WHERE message_id = $2 AND applied_at IS NULL")
                .bind(to_millis(at))
                .bind(id)
                .execute(exec)
                .await
                .map_err(db_err)?;
            Ok(done.rows_affected() > 0)
        }

        /// What follows a business step, in its transaction (the case
        /// opened for it is written first, by `insert_new_case`).
        async fn apply_effects(tx: &mut sqlx::Transaction<'_, Db>, effects: &Effects) -> StoreResult<()> {
            for link in &effects.links {
                insert_link(&mut **tx, link).await?;
            }
            for (m, audit) in &effects.outbox {
                insert_outbox(tx, m, audit).await?;
            }
            if let Some(id) = effects.applies_inbox {
                mark_applied(&mut **tx, id, OffsetDateTime::now_utc()).await?;
            }
            Ok(())
        }

        const OUTBOX_COLUMNS: &str = "message_id, recipient, message_type, status, attempts, next_attempt_at, last_error, receipt, retrieval_receipt, created_at, expires_at, delivered_at";
        /// The envelope lives in `outbox_envelopes` (written once; the
        /// message's row changes on every claim and delivery).
        const OUTBOX_SELECT: &str = "SELECT o.message_id, o.recipient, o.message_type, e.envelope, o.status, o.attempts, o.next_attempt_at, \
            o.last_error, o.receipt, o.retrieval_receipt, o.created_at, o.expires_at, o.delivered_at \
            FROM outbox_messages o JOIN outbox_envelopes e ON e.message_id = o.message_id";

        fn outbox_from_row(row: &DbRow) -> StoreResult<OutboxMessage> {
            let attempts: i64 = row.try_get("attempts").map_err(db_err)?;
            let kind: String = row.try_get("message_type").map_err(db_err)?;
            let status: String = row.try_get("status").map_err(db_err)?;
            Ok(OutboxMessage {
                message_id: row.try_get("message_id").map_err(db_err)?,
                recipient: row.try_get("recipient").map_err(db_err)?,
                message_type: kind.parse::<$crate::MessageKind>().map_err(|e| corrupt("message kind", e))?,
                envelope: row.try_get("envelope").map_err(db_err)?,
                status: status.parse::<$crate::OutboxStatus>().map_err(|e| corrupt("outbox status", e))?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                next_attempt_at: from_millis(row.try_get("next_attempt_at").map_err(db_err)?)?,
                last_error: row.try_get("last_error").map_err(db_err)?,
                receipt: row.try_get("receipt").map_err(db_err)?,
                retrieval_receipt: row.try_get("retrieval_receipt").map_err(db_err)?,
                created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                expires_at: from_millis(row.try_get("expires_at").map_err(db_err)?)?,
                delivered_at: opt_millis(row.try_get("delivered_at").map_err(db_err)?)?,
            })
        }

        const INBOX_COLUMNS: &str = "message_id, sender, message_type, envelope, receipt, received_at, retrieved_at, retrieved_by";

        fn inbox_from_row(row: &DbRow) -> StoreResult<InboxMessage> {
            let kind: String = row.try_get("message_type").map_err(db_err)?;
            Ok(InboxMessage {
                message_id: row.try_get("message_id").map_err(db_err)?,
                sender: row.try_get("sender").map_err(db_err)?,
                message_type: kind.parse::<$crate::MessageKind>().map_err(|e| corrupt("message kind", e))?,
                envelope: row.try_get("envelope").map_err(db_err)?,
                receipt: row.try_get("receipt").map_err(db_err)?,
                received_at: from_millis(row.try_get("received_at").map_err(db_err)?)?,
                retrieved_at: opt_millis(row.try_get("retrieved_at").map_err(db_err)?)?,
                retrieved_by: row.try_get("retrieved_by").map_err(db_err)?,
            })
        }

        #[$crate::async_trait]
        impl $crate::MessageStore for $store {
            async fn enqueue_outbox(&self, m: &OutboxMessage, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                insert_outbox(&mut tx, m, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn outbox_message(&self, id: Uuid) -> StoreResult<Option<OutboxMessage>> {
                let sql = format!("{OUTBOX_SELECT} WHERE o.message_id = $1");
                sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(outbox_from_row)
                    .transpose()
            }

            async fn outbox_messages(&self, ids: &[Uuid], max_envelope: usize) -> StoreResult<Vec<OutboxMessage>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let marks: Vec<String> = (2..=ids.len() + 1).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "{OUTBOX_SELECT} WHERE length(e.envelope) <= $1 AND o.message_id IN ({})",
                    marks.join(", ")
                );
                let mut q = sqlx::query(&sql).bind(i64::try_from(max_envelope).unwrap_or(i64::MAX));
                for id in ids {
                    q = q.bind(*id);
                }
                let mut found: std::collections::HashMap<Uuid, OutboxMessage> = q
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(outbox_from_row)
                    .map(|m| m.map(|m| (m.message_id, m)))
                    .collect::<StoreResult<_>>()?;
                Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
            }

            async fn outbox(&self, limit: u32) -> StoreResult<Vec<OutboxMessage>> {
                let sql = format!("{OUTBOX_SELECT} ORDER BY o.seq DESC LIMIT $1");
                sqlx::query(&sql)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(outbox_from_row)
                    .collect()
            }

            async fn claim_outbox(&self, now: OffsetDateTime, lease_until: OffsetDateTime, peers: u32, per_peer: u32) -> StoreResult<Vec<(Uuid, String)>> {
                // Each peer's oldest pending message, if due and free.
                let heads: Vec<(Uuid, String, i64)> = sqlx::query(
                    "SELECT o.message_id, o.recipient, o.seq FROM outbox_messages o WHERE o.seq IN \
                     (SELECT MIN(p.seq) FROM outbox_messages p WHERE p.status = 'pending' GROUP BY p.recipient) \
                     AND o.next_attempt_at <= $1 AND (o.claimed_until IS NULL OR o.claimed_until < $2) ORDER BY o.seq LIMIT $3",
                )
                .bind(to_millis(now))
                .bind(to_millis(now))
                .bind(i64::from(peers))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?
                .iter()
                .map(|row| Ok((row.try_get(0).map_err(db_err)?, row.try_get(1).map_err(db_err)?, row.try_get(2).map_err(db_err)?)))
                .collect::<StoreResult<_>>()?;
                let mut claimed = Vec::new();
                for (head, recipient, seq) in heads {
                    let won = sqlx::query(
                        "UPDATE outbox_messages SET claimed_until = $1 WHERE message_id = $2 AND status = 'pending' \
                         AND (claimed_until IS NULL OR claimed_until < $3)",
                    )
                    .bind(to_millis(lease_until))
                    .bind(head)
                    .bind(to_millis(now))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                    if won.rows_affected() != 1 {
                        continue; // another replica has this peer
                    }
                    claimed.push((head, recipient.clone()));
                    if per_peer <= 1 {
                        continue;
                    }
                    // The peer is ours while we hold its oldest message:
                    // the ones after it come along, in order.
                    sqlx::query(
                        "UPDATE outbox_messages SET claimed_until = $1 WHERE seq IN \
                         (SELECT seq FROM outbox_messages WHERE recipient = $2 AND status = 'pending' AND seq > $3 ORDER BY seq LIMIT $4)",
                    )
                    .bind(to_millis(lease_until))
                    .bind(&recipient)
                    .bind(seq)
                    .bind(i64::from(per_peer - 1))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                    let rest = sqlx::query(
                        "SELECT message_id FROM outbox_messages WHERE recipient = $1 AND status = 'pending' \
                         AND seq > $2 AND claimed_until = $3 ORDER BY seq",
                    )
                    .bind(&recipient)
                    .bind(seq)
                    .bind(to_millis(lease_until))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    for row in rest {
                        claimed.push((row.try_get(0).map_err(db_err)?, recipient.clone()));
                    }
                }
                Ok(claimed)
            }

            async fn release_outbox(&self, recipient: &str, lease_until: OffsetDateTime) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE outbox_messages SET claimed_until = NULL WHERE recipient = $1 AND status = 'pending' AND claimed_until = $2",
                )
                .bind(recipient)
                .bind(to_millis(lease_until))
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn outbox_delivered(&self, id: Uuid, receipt: &str, at: OffsetDateTime) -> StoreResult<()> {
                self.outbox_delivered_many(&[(id, receipt.to_owned())], at).await
            }

            async fn outbox_delivered_many(&self, delivered: &[(Uuid, String)], at: OffsetDateTime) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                for (id, receipt) in delivered {
                    sqlx::query(
                        "UPDATE outbox_messages SET status = 'delivered', receipt = $1, delivered_at = $2, claimed_until = NULL, \
                         attempts = attempts + 1 WHERE message_id = $3",
                    )
                    .bind(receipt)
                    .bind(to_millis(at))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                }
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn outbox_retry(&self, id: Uuid, attempts: u32, next: OffsetDateTime, error: &str) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE outbox_messages SET attempts = $1, next_attempt_at = $2, last_error = $3, claimed_until = NULL \
                     WHERE message_id = $4 AND status = 'pending'",
                )
                .bind(i64::from(attempts))
                .bind(to_millis(next))
                .bind(error)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn outbox_dead(&self, id: Uuid, reason: &str, audit: &NewAuditEntry) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query(
                    "UPDATE outbox_messages SET status = 'dead', last_error = $1, claimed_until = NULL WHERE message_id = $2",
                )
                .bind(reason)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(())
            }

            async fn outbox_due_now(&self, recipient: &str, now: OffsetDateTime) -> StoreResult<u64> {
                let now = to_millis(now);
                let done = sqlx::query(
                    "UPDATE outbox_messages SET next_attempt_at = $1 WHERE recipient = $2 AND status = 'pending' \
                     AND next_attempt_at > $1 AND (claimed_until IS NULL OR claimed_until <= $1)",
                )
                .bind(now)
                .bind(recipient)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected())
            }

            async fn outbox_retrieved(&self, id: Uuid, receipt: &str) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE outbox_messages SET retrieval_receipt = $1 WHERE message_id = $2 AND retrieval_receipt IS NULL",
                )
                .bind(receipt)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_inbox(&self, m: &InboxMessage, audit: &NewAuditEntry) -> StoreResult<Option<InboxMessage>> {
                let stored = self.insert_inbox_many(&[(m.clone(), audit.clone())]).await?;
                Ok(stored.into_iter().next().flatten())
            }

            async fn insert_inbox_many(&self, items: &[(InboxMessage, NewAuditEntry)]) -> StoreResult<Vec<Option<InboxMessage>>> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let sql = format!("INSERT INTO inbox_messages ({INBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (message_id) DO NOTHING");
                let mut seen_before = Vec::with_capacity(items.len());
                for (m, audit) in items {
                    let done = sqlx::query(&sql)
                        .bind(m.message_id)
                        .bind(&m.sender)
                        .bind(m.message_type.as_str())
                        .bind(&m.envelope)
                        .bind(&m.receipt)
                        .bind(to_millis(m.received_at))
                        .bind(m.retrieved_at.map(to_millis))
                        .bind(&m.retrieved_by)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    let duplicate = done.rows_affected() == 0;
                    if !duplicate {
                        insert_audit(&mut *tx, audit).await?;
                    }
                    seen_before.push(duplicate);
                }
                tx.commit().await.map_err(db_err)?;
                let mut out = Vec::with_capacity(items.len());
                for ((m, _), duplicate) in items.iter().zip(seen_before) {
                    out.push(if duplicate { self.inbox_message(m.message_id).await? } else { None });
                }
                Ok(out)
            }

            async fn mark_inbox_applied(&self, id: Uuid, at: OffsetDateTime) -> StoreResult<bool> {
                mark_applied(&self.pool, id, at).await
            }

            async fn inbox_applied(&self, id: Uuid) -> StoreResult<bool> {
                let applied: Option<Option<i64>> = sqlx::query_scalar("SELECT applied_at FROM inbox_messages WHERE message_id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(matches!(applied, Some(Some(_))))
            }

            async fn unapplied_inbox(&self, limit: u32) -> StoreResult<Vec<InboxMessage>> {
                let sql = format!("SELECT {INBOX_COLUMNS} FROM inbox_messages WHERE applied_at IS NULL ORDER BY received_at LIMIT $1");
                sqlx::query(&sql)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(inbox_from_row)
                    .collect()
            }

            async fn inbox_message(&self, id: Uuid) -> StoreResult<Option<InboxMessage>> {
                let sql = format!("SELECT {INBOX_COLUMNS} FROM inbox_messages WHERE message_id = $1");
                sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .as_ref()
                    .map(inbox_from_row)
                    .transpose()
            }

            async fn inbox(&self, limit: u32) -> StoreResult<Vec<InboxMessage>> {
                let sql = format!("SELECT {INBOX_COLUMNS} FROM inbox_messages ORDER BY received_at DESC LIMIT $1");
                sqlx::query(&sql)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(inbox_from_row)
                    .collect()
            }

            async fn link_request(&self, request_id: Uuid, peer_node: &str, peer_request_id: Option<Uuid>, at: OffsetDateTime) -> StoreResult<()> {
                let link = RequestLink { request_id, peer_node: peer_node.to_owned(), peer_request_id, at };
                insert_link(&self.pool, &link).await
            }

            async fn request_link(&self, request_id: Uuid) -> StoreResult<Option<(String, Option<Uuid>)>> {
                let row: Option<(String, Option<Uuid>)> = sqlx::query_as(
                    "SELECT peer_node, peer_request_id FROM request_links WHERE request_id = $1",
                )
                .bind(request_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(row)
            }

            async fn request_by_link(&self, peer_node: &str, peer_request_id: Uuid) -> StoreResult<Option<Uuid>> {
                let id: Option<Uuid> = sqlx::query_scalar(
                    "SELECT request_id FROM request_links WHERE peer_node = $1 AND peer_request_id = $2",
                )
                .bind(peer_node)
                .bind(peer_request_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(id)
            }

            async fn mark_retrieved(&self, id: Uuid, by: &str, at: OffsetDateTime, audit: &NewAuditEntry) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query(
                    "UPDATE inbox_messages SET retrieved_at = $1, retrieved_by = $2 WHERE message_id = $3 AND retrieved_at IS NULL",
                )
                .bind(to_millis(at))
                .bind(by)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
