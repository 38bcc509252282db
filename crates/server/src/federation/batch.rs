//! Small messages to one peer in a row travel together: one request to
//! `/federation/inbox/batch`, answered with each one's signed receipt or
//! refusal, in order.

use entraide_evidence::PublicKey;
use entraide_federation::{MessageKind, OutboxStatus, SignedReceipt};
use entraide_proto as proto;
use entraide_store::OutboxMessage;
use time::OffsetDateTime;
use uuid::Uuid;

use super::answer::{deliver, Answer, Delivery};
use super::inbox::{INBOX_BATCH_PATH, MAX_BATCH_BYTES, MAX_BATCH_ENVELOPES};
use super::settle::{delivery_receipt, give_up, not_delivered_audit, retry_later, wait_for_peer};
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

/// Envelopes larger than this travel alone.
const BATCHED_ENVELOPE_MAX: usize = 64 * 1024;

/// The pending, unexpired, small messages at the head of `ids`, as many
/// as one batch takes.
pub(super) async fn gather(app: &AppState, ids: &[Uuid]) -> AppResult<Vec<OutboxMessage>> {
    let now = OffsetDateTime::now_utc();
    let mut group: Vec<OutboxMessage> = Vec::new();
    let mut bytes = 0;
    let head: Vec<Uuid> = ids.iter().take(MAX_BATCH_ENVELOPES).copied().collect();
    let found = app
        .store
        .outbox_messages(&head, BATCHED_ENVELOPE_MAX)
        .await?;
    for (id, m) in head.iter().zip(found) {
        // One missing or large in between: the group stops there.
        if m.message_id != *id {
            break;
        }
        let len = m.envelope.len() + 1;
        if m.status != OutboxStatus::Pending
            || m.message_type == MessageKind::Attachment
            || m.expires_at <= now
            || bytes + len > MAX_BATCH_BYTES
            || group.first().is_some_and(|f| f.recipient != m.recipient)
        {
            break;
        }
        bytes += len;
        group.push(m);
    }
    Ok(group)
}

/// What became of a batch.
pub(super) enum Grouped {
    /// Every message delivered or given up.
    Done,
    /// Stopped at a message that must be retried (those before it were
    /// delivered or given up).
    Partly,
    /// The peer is no longer known: nothing was sent.
    PeerRemoved,
}

/// Sends a group of pending messages to their peer in one request and
/// records, in order, each one's receipt (all in one transaction) or its
/// refusal.
pub(super) async fn deliver_group(app: &AppState, group: &[OutboxMessage]) -> AppResult<Grouped> {
    let Some(first) = group.first() else {
        return Ok(Grouped::Done);
    };
    let Some(peer) = app.store.peer(&first.recipient).await? else {
        // Each goes its own way (given up: the peer was removed).
        return Ok(Grouped::PeerRemoved);
    };
    let target = format!("{}{INBOX_BATCH_PATH}", peer.base_url);
    let mut body = Vec::with_capacity(group.iter().map(|m| m.envelope.len() + 1).sum());
    for m in group {
        body.extend_from_slice(m.envelope.as_bytes());
        body.push(b'\n');
    }
    let batch = Delivery {
        target: &target,
        content_type: "application/x-ndjson",
        body: body.into(),
    };
    let answer = deliver(app, &peer, &batch).await;
    let retry_first = |error: String| async move {
        retry_later(
            app,
            first.message_id,
            &first.recipient,
            first.attempts + 1,
            &error,
        )
        .await
    };
    let text = match answer {
        Answer::Accepted(text) => text,
        Answer::WaitingForPeer(text) => {
            // The first waits; the rest keep their places behind it.
            wait_for_peer(app, first, &text).await?;
            return Ok(Grouped::Partly);
        }
        Answer::Refused(reason) => {
            // The request itself was refused (its signature, its size):
            // each message would be, alone.
            for m in group {
                tracing::warn!(message = %m.message_id, peer = %m.recipient, %reason, "message refused by the peer");
                let audit = not_delivered_audit(m.message_id, &m.recipient, &reason);
                give_up(app, m.message_id, m.message_type, &reason, &audit).await?;
            }
            return Ok(Grouped::Done);
        }
        Answer::Retry(error) => {
            retry_first(error).await?;
            return Ok(Grouped::Partly);
        }
    };
    let key = PublicKey::parse(&peer.signing_key)
        .ok_or_else(|| AppError::Internal("pinned key unreadable".into()))?;
    let results = serde_json::from_str::<proto::BatchReceipts>(&text)
        .ok()
        .map(|r| r.results)
        .filter(|r| r.len() == group.len());
    let Some(results) = results else {
        retry_first("the batch answer is malformed or incomplete".into()).await?;
        return Ok(Grouped::Partly);
    };
    let mut delivered: Vec<(Uuid, String)> = Vec::new();
    let mut outcome = Grouped::Done;
    for (m, r) in group.iter().zip(results) {
        if let Some(problem) = r.problem {
            let reason = format!("refused by {}: {}", peer.node_id, problem.code);
            tracing::warn!(message = %m.message_id, peer = %m.recipient, code = %problem.code, "message refused by the peer");
            let audit = not_delivered_audit(m.message_id, &m.recipient, &reason);
            give_up(app, m.message_id, m.message_type, &reason, &audit).await?;
            continue;
        }
        let signed = r
            .receipt
            .and_then(|v| serde_json::from_value::<SignedReceipt>(v).ok());
        match delivery_receipt(signed, &key, m.message_id)? {
            Some(stored) => delivered.push((m.message_id, stored)),
            None => {
                retry_later(
                    app,
                    m.message_id,
                    &m.recipient,
                    m.attempts + 1,
                    "the receipt is missing or not signed by the peer",
                )
                .await?;
                outcome = Grouped::Partly;
                break;
            }
        }
    }
    app.store
        .outbox_delivered_many(&delivered, OffsetDateTime::now_utc())
        .await?;
    Ok(outcome)
}
