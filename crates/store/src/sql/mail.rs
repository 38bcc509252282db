//! `MailStore`: the mail outbox (`mail_outbox`). Sending follows the
//! federation outbox: a replica claims a mail for a while (`claimed_until`)
//! with a conditional write, so that one replica sends it; a mail whose
//! sender stopped is claimed again once the claim runs out.

/// The `MailStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_mail {
    ($store:ident) => {
        const MAIL_COLUMNS: &str = "id, kind, recipient, subject, body, dedup_key, status, attempts, next_attempt_at, last_error, created_at, expires_at, sent_at";

        fn mail_from_row(row: &DbRow) -> StoreResult<OutboxMail> {
            let status: String = row.try_get("status").map_err(db_err)?;
            let attempts: i64 = row.try_get("attempts").map_err(db_err)?;
            Ok(OutboxMail {
                id: row.try_get("id").map_err(db_err)?,
                kind: row.try_get("kind").map_err(db_err)?,
                recipient: row.try_get("recipient").map_err(db_err)?,
                subject: row.try_get("subject").map_err(db_err)?,
                body: row.try_get("body").map_err(db_err)?,
                dedup_key: row.try_get("dedup_key").map_err(db_err)?,
                status: $crate::MailStatus::parse(&status)
                    .ok_or_else(|| corrupt("mail status", &status))?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                next_attempt_at: from_millis(row.try_get("next_attempt_at").map_err(db_err)?)?,
                last_error: row.try_get("last_error").map_err(db_err)?,
                created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                expires_at: from_millis(row.try_get("expires_at").map_err(db_err)?)?,
                sent_at: opt_millis(row.try_get("sent_at").map_err(db_err)?)?,
            })
        }

        /// Queues a mail in a transaction (with what caused it); false when
        /// its `dedup_key` was queued before.
        async fn insert_mail(tx: &mut sqlx::Transaction<'_, Db>, m: &OutboxMail) -> StoreResult<bool> {
            let done = sqlx::query(
                "INSERT INTO mail_outbox (id, kind, recipient, subject, body, dedup_key, status, attempts, next_attempt_at, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (dedup_key) DO NOTHING",
            )
            .bind(m.id)
            .bind(&m.kind)
            .bind(&m.recipient)
            .bind(&m.subject)
            .bind(&m.body)
            .bind(&m.dedup_key)
            .bind(m.status.as_str())
            .bind(i64::from(m.attempts))
            .bind(to_millis(m.next_attempt_at))
            .bind(to_millis(m.created_at))
            .bind(to_millis(m.expires_at))
            .execute(&mut **tx)
            .await
            .map_err(|e| conflict_or(e, "mail"))?;
            Ok(done.rows_affected() == 1)
        }

        #[$crate::async_trait]
        impl $crate::MailStore for $store {
            async fn enqueue_mail(&self, mail: &OutboxMail) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let queued = insert_mail(&mut tx, mail).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(queued)
            }

            async fn claim_mail(&self, now: OffsetDateTime, lease_until: OffsetDateTime, limit: u32) -> StoreResult<Vec<OutboxMail>> {
                let due: Vec<Uuid> = sqlx::query(
                    "SELECT id FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
                     AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY seq LIMIT $3",
                )
                .bind(to_millis(now))
                .bind(to_millis(now))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?
                .iter()
                .map(|row| row.try_get(0).map_err(db_err))
                .collect::<StoreResult<_>>()?;
                let mut claimed = Vec::new();
                for id in due {
                    // Conditional: of two replicas, one wins each mail.
                    let won = sqlx::query(
                        "UPDATE mail_outbox SET claimed_until = $1 WHERE id = $2 AND status = 'pending' \
                         AND (claimed_until IS NULL OR claimed_until < $3)",
                    )
                    .bind(to_millis(lease_until))
                    .bind(id)
                    .bind(to_millis(now))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                    if won.rows_affected() != 1 {
                        continue;
                    }
                    let sql = format!("SELECT {MAIL_COLUMNS} FROM mail_outbox WHERE id = $1");
                    let row = sqlx::query(&sql)
                        .bind(id)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db_err)?;
                    claimed.push(mail_from_row(&row)?);
                }
                Ok(claimed)
            }

            async fn mail_sent(&self, id: Uuid, at: OffsetDateTime) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE mail_outbox SET status = 'sent', body = '', sent_at = $1, claimed_until = NULL, last_error = NULL WHERE id = $2",
                )
                .bind(to_millis(at))
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn mail_retry(&self, id: Uuid, attempts: u32, next_attempt_at: OffsetDateTime, error: &str) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE mail_outbox SET attempts = $1, next_attempt_at = $2, last_error = $3, claimed_until = NULL WHERE id = $4",
                )
                .bind(i64::from(attempts))
                .bind(to_millis(next_attempt_at))
                .bind(error)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn mail_failed(&self, id: Uuid, error: &str) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE mail_outbox SET status = 'failed', body = '', last_error = $1, claimed_until = NULL WHERE id = $2",
                )
                .bind(error)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn mail_outbox(&self, limit: u32) -> StoreResult<Vec<OutboxMail>> {
                let sql = format!("SELECT {MAIL_COLUMNS} FROM mail_outbox ORDER BY seq DESC LIMIT $1");
                sqlx::query(&sql)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(mail_from_row)
                    .collect()
            }
        }
    };
}
