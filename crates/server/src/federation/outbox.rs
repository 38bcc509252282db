//! The durable outbox: a message for a peer is sealed (signed, encrypted
//! to the peer's key) and queued in the database with its audit entry —
//! the evidence "accepted for sending" — then delivered by the worker
//! (`delivery`), in order per peer.

use std::time::Duration;

use entraide_domain::{AuditAction, AuditOutcome};
use entraide_federation::envelope::seal;
use entraide_federation::{MessageKind, OutboxStatus, Outgoing, PeerStatus};
use entraide_store::{NewAuditEntry, OutboxMessage};
use rand::Rng;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::config::FederationSettings;
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

/// Queues a message for a peer (evidence: "accepted for sending").
pub async fn send(
    app: &AppState,
    actor: &Actor,
    recipient: &str,
    message_type: MessageKind,
    payload: &[u8],
    in_reply_to: Option<Uuid>,
    lifetime: time::Duration,
) -> AppResult<OutboxMessage> {
    let m = seal_for(app, recipient, message_type, payload, in_reply_to, lifetime).await?;
    enqueue(app, actor, m).await
}

/// Seals a message for a peer without queueing it (its id is known before
/// anything it depends on is put in place).
pub async fn seal_for(
    app: &AppState,
    recipient: &str,
    message_type: MessageKind,
    payload: &[u8],
    in_reply_to: Option<Uuid>,
    lifetime: time::Duration,
) -> AppResult<OutboxMessage> {
    let peer = app
        .store
        .peer(recipient)
        .await?
        .ok_or(AppError::NotFound { what: "peer" })?;
    if peer.status != PeerStatus::Active {
        return Err(AppError::Conflict {
            code: "peer_disabled",
            detail: format!("{recipient} is disabled"),
        });
    }
    let now = OffsetDateTime::now_utc();
    let (header, envelope) = seal(
        app.identity.federation_key(now),
        &peer.encryption_key,
        &Outgoing {
            sender: app.settings.node_id.as_str(),
            recipient,
            message_type,
            in_reply_to,
            lifetime,
            payload,
        },
        now,
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let m = OutboxMessage {
        message_id: header.message_id,
        recipient: recipient.to_owned(),
        message_type,
        envelope: serde_json::to_string(&envelope)
            .map_err(|e| AppError::Internal(e.to_string()))?,
        status: OutboxStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        receipt: None,
        retrieval_receipt: None,
        created_at: now,
        expires_at: now + lifetime,
        delivered_at: None,
    };
    Ok(m)
}

/// The audit entry of a message accepted for sending, written with it.
pub fn sending_audit(actor: &Actor, m: &OutboxMessage) -> NewAuditEntry {
    actor
        .entry(AuditAction::MessageSent, AuditOutcome::Success)
        .target(m.message_id.to_string())
        .detail(serde_json::json!({ "recipient": m.recipient, "type": m.message_type }))
}

/// Queues a sealed message (evidence: "accepted for sending").
pub async fn enqueue(app: &AppState, actor: &Actor, m: OutboxMessage) -> AppResult<OutboxMessage> {
    let audit = sending_audit(actor, &m);
    app.store.enqueue_outbox(&m, &audit).await?;
    app.outbox_wake.notify_one();
    Ok(m)
}

/// Makes the messages waiting for `node_id` due now and wakes the worker:
/// the peer's operator said they added this node, or the peer moved. How
/// many were waiting.
pub async fn deliver_now(app: &AppState, node_id: &str) -> AppResult<u64> {
    if app.store.peer(node_id).await?.is_none() {
        return Err(AppError::NotFound { what: "peer" });
    }
    let n = app
        .store
        .outbox_due_now(node_id, OffsetDateTime::now_utc())
        .await?;
    app.outbox_wake.notify_one();
    Ok(n)
}

/// Delay before attempt `attempts + 1` of a message the peer refused
/// because it has not added this node yet: the first wait, doubled at each
/// attempt up to the longest (`federation.peer_wait_*`), ±10 % jitter.
pub fn peer_wait(settings: &FederationSettings, attempts: u32) -> Duration {
    let doubled = settings
        .peer_wait_first
        .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(20)));
    let wait = doubled.min(settings.peer_wait_max);
    wait.mul_f64(rand::thread_rng().gen_range(0.9..1.1))
}

/// Delay before attempt `attempts + 1`: 2^attempts seconds (at most ten
/// minutes), ±25 % jitter.
pub fn backoff(attempts: u32) -> Duration {
    let base = 2f64.powi(attempts.min(10) as i32).min(600.0);
    let jitter = rand::thread_rng().gen_range(0.75..1.25);
    Duration::from_secs_f64(base * jitter)
}
