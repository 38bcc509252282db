//! What becomes of a message after an attempt to deliver it: delivered
//! (the peer's signed receipt kept), tried again later, waiting for its
//! peer to add this node, or given up — not delivered, audited with the
//! reason.

use entraide_domain::{AuditAction, AuditOutcome};
use entraide_evidence::PublicKey;
use entraide_federation::{MessageKind, ReceiptStatus, SignedReceipt};
use entraide_store::OutboxMessage;
use time::OffsetDateTime;
use uuid::Uuid;

use super::attachments::outgoing::forget_outgoing;
use super::outbox::{backoff, peer_wait};
use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

pub(super) fn not_delivered_audit(
    message_id: Uuid,
    recipient: &str,
    reason: &str,
) -> entraide_store::NewAuditEntry {
    Actor::command_line()
        .entry(AuditAction::MessageNotDelivered, AuditOutcome::Failure)
        .target(message_id.to_string())
        .detail(serde_json::json!({ "recipient": recipient, "reason": reason }))
}

/// Tries the message again later (exponential backoff with jitter).
pub(super) async fn retry_later(
    app: &AppState,
    message_id: Uuid,
    recipient: &str,
    attempts: u32,
    error: &str,
) -> AppResult<()> {
    let next = OffsetDateTime::now_utc() + backoff(attempts);
    tracing::info!(message = %message_id, peer = %recipient, attempts, %error, "delivery failed; will retry");
    app.store
        .outbox_retry(message_id, attempts, next, error)
        .await?;
    Ok(())
}

/// Tries the message again once the peer may have added this node: later
/// and later, never after the message expires (it is given up then).
pub(super) async fn wait_for_peer(app: &AppState, m: &OutboxMessage, text: &str) -> AppResult<()> {
    let attempts = m.attempts + 1;
    let next = (OffsetDateTime::now_utc() + peer_wait(&app.settings.federation, attempts))
        .min(m.expires_at);
    tracing::info!(message = %m.message_id, peer = %m.recipient, attempts, "the peer has not added this node yet; will try again");
    app.store
        .outbox_retry(m.message_id, attempts, next, text)
        .await?;
    Ok(())
}

/// A peer's delivery receipt for `message_id`, as stored, if it is signed
/// with the peer's pinned key and says "delivered".
pub(super) fn delivery_receipt(
    signed: Option<SignedReceipt>,
    key: &PublicKey,
    message_id: Uuid,
) -> AppResult<Option<String>> {
    match signed.and_then(|s| s.verify(key).map(|r| (s, r))) {
        Some((signed, r)) if r.message_id == message_id && r.status == ReceiptStatus::Delivered => {
            serde_json::to_string(&signed)
                .map(Some)
                .map_err(|e| AppError::Internal(e.to_string()))
        }
        _ => Ok(None),
    }
}

/// Marks a message not delivered (audited); an attachment's file leaves
/// the outgoing spool with it.
pub(super) async fn give_up(
    app: &AppState,
    id: Uuid,
    message_type: MessageKind,
    reason: &str,
    audit: &entraide_store::NewAuditEntry,
) -> AppResult<()> {
    // The file first: once the message reads "not delivered", nothing of
    // it is left in the spool (and a crash in between finds the file gone,
    // which gives the message up too).
    if message_type == MessageKind::Attachment {
        forget_outgoing(app, id);
    }
    app.store.outbox_dead(id, reason, audit).await?;
    Ok(())
}
