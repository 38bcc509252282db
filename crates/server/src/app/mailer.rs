//! Sending the mail outbox over SMTP.
//!
//! Mail is never sent from a request: it is queued in the database
//! (`MailStore`, in the transaction of what caused it) and a worker on each
//! replica claims due mails for a while, sends them and records the result.
//! One replica sends each mail; a mail refused for now is tried again later
//! (backing off), one refused for good, tried too often or past its expiry
//! is given up on. Once sent or given up on, its body is emptied. Neither
//! bodies nor credentials are ever logged.

use std::sync::Arc;
use std::time::Duration;

use entraide_store::{MailStatus, OutboxMail, Store};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::app::mail::{SmtpSettings, SmtpTls};

/// Why a mail was not sent.
#[derive(Debug)]
pub enum SendError {
    /// Worth trying again later (server unreachable, busy, 4xx).
    Transient(String),
    /// Will never pass (5xx, an address that does not parse).
    Permanent(String),
}

/// The SMTP connection settings made into a transport.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// For Message-IDs: the domain of the sender's address.
    domain: String,
}

impl Mailer {
    pub fn new(s: &SmtpSettings) -> Result<Self, String> {
        let builder = match s.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
                .map_err(|e| e.to_string())?,
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host).map_err(|e| e.to_string())?
            }
        };
        let mut builder = builder.port(s.port).timeout(Some(Duration::from_secs(30)));
        if let Some((user, password)) = &s.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let from: Mailbox = s.from.parse().map_err(|e| format!("smtp.from: {e}"))?;
        let domain = from.email.domain().to_owned();
        Ok(Self {
            transport: builder.build(),
            from,
            domain,
        })
    }

    /// Sends one mail of the outbox.
    pub async fn send(&self, mail: &OutboxMail) -> Result<(), SendError> {
        let to: Mailbox = mail
            .recipient
            .parse()
            .map_err(|e| SendError::Permanent(format!("recipient: {e}")))?;
        // The same id each attempt: a mail sent twice (a replica stopped
        // between sending and recording it) is recognisably one.
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{}@{}>", mail.id, self.domain)))
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| SendError::Permanent(format!("message: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Transient(e.to_string())),
        }
    }
}

/// Attempts before a mail is given up on.
pub const MAX_ATTEMPTS: u32 = 8;
/// How long a replica holds the mails it claimed.
const LEASE: time::Duration = time::Duration::minutes(5);
/// Mails claimed per round.
const BATCH: u32 = 20;
/// How often the outbox is looked at when nothing wakes the worker.
const IDLE: Duration = Duration::from_secs(20);

/// Waiting after the `attempts`-th failure: 30 s, doubling, at most an hour.
pub fn backoff(attempts: u32) -> time::Duration {
    let secs = 30_i64.saturating_mul(1_i64 << attempts.saturating_sub(1).min(7));
    time::Duration::seconds(secs.min(3600))
}

/// Queues a mail and wakes the worker.
pub async fn enqueue(
    store: &dyn Store,
    wake: &Notify,
    mail: &OutboxMail,
) -> Result<bool, entraide_store::StoreError> {
    let queued = store.enqueue_mail(mail).await?;
    wake.notify_one();
    Ok(queued)
}

/// A new mail, due now, to be sent before `expires_at`.
pub fn new_mail(
    kind: &str,
    recipient: &str,
    subject: String,
    body: String,
    expires_at: OffsetDateTime,
) -> OutboxMail {
    let now = OffsetDateTime::now_utc();
    OutboxMail {
        id: Uuid::now_v7(),
        kind: kind.to_owned(),
        recipient: recipient.to_owned(),
        subject,
        body,
        dedup_key: None,
        status: MailStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
        expires_at,
        sent_at: None,
    }
}

/// One round: sends the due mails this replica could claim; how many were
/// sent.
pub async fn send_due(
    store: &dyn Store,
    mailer: &Mailer,
    now: OffsetDateTime,
) -> Result<usize, entraide_store::StoreError> {
    let mut sent = 0;
    for mail in store.claim_mail(now, now + LEASE, BATCH).await? {
        if mail.expires_at <= OffsetDateTime::now_utc() {
            tracing::warn!(mail = %mail.id, kind = %mail.kind, "mail expired before it could be sent");
            store
                .mail_failed(mail.id, "expired before it could be sent")
                .await?;
            continue;
        }
        match mailer.send(&mail).await {
            Ok(()) => {
                store.mail_sent(mail.id, OffsetDateTime::now_utc()).await?;
                tracing::info!(mail = %mail.id, kind = %mail.kind, "mail sent");
                sent += 1;
            }
            Err(SendError::Permanent(error)) => {
                tracing::warn!(mail = %mail.id, kind = %mail.kind, %error, "mail refused: given up");
                store.mail_failed(mail.id, &bounded(&error)).await?;
            }
            Err(SendError::Transient(error)) => {
                let attempts = mail.attempts.saturating_add(1);
                if attempts >= MAX_ATTEMPTS {
                    tracing::warn!(mail = %mail.id, kind = %mail.kind, %error, attempts, "mail not sent: given up");
                    store.mail_failed(mail.id, &bounded(&error)).await?;
                } else {
                    tracing::info!(mail = %mail.id, kind = %mail.kind, %error, attempts, "mail not sent: will retry");
                    let next = OffsetDateTime::now_utc() + backoff(attempts);
                    store
                        .mail_retry(mail.id, attempts, next, &bounded(&error))
                        .await?;
                }
            }
        }
    }
    Ok(sent)
}

/// What is kept of a server's error.
fn bounded(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(500).collect()
}

/// Starts the worker when SMTP is configured: it sends what is due, then
/// waits to be woken (a mail queued) or for a while; it also forgets reset
/// links long expired.
pub fn start_worker(
    store: Arc<dyn Store>,
    smtp: Option<&SmtpSettings>,
    wake: Arc<Notify>,
) -> Option<JoinHandle<()>> {
    let mailer = match Mailer::new(smtp?) {
        Ok(m) => m,
        Err(error) => {
            tracing::error!(%error, "SMTP settings unusable: no mail will be sent");
            return None;
        }
    };
    Some(tokio::spawn(async move {
        let mut round: u64 = 0;
        loop {
            let now = OffsetDateTime::now_utc();
            match send_due(store.as_ref(), &mailer, now).await {
                // Something was sent: there may be more.
                Ok(n) if n as u32 >= BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sending mail failed"),
            }
            if round.is_multiple_of(180) {
                if let Err(e) = store
                    .forget_password_resets(now - time::Duration::days(1))
                    .await
                {
                    tracing::warn!(error = %e, "forgetting expired reset links failed");
                }
            }
            round += 1;
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(IDLE) => {}
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_up_to_an_hour() {
        assert_eq!(backoff(1), time::Duration::seconds(30));
        assert_eq!(backoff(2), time::Duration::seconds(60));
        assert_eq!(backoff(20), time::Duration::seconds(3600));
    }
}
