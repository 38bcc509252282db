//! Delivery of the outbox: one worker per replica claims what is due, peer
//! by peer, and delivers each peer's messages in order — small ones in a
//! row together (`/federation/inbox/batch`), the rest one per request —
//! retried with exponential backoff and jitter, given up (not delivered,
//! audited with the reason) when expired or refused. A peer's signed
//! receipt is the evidence of delivery.

use std::time::Duration;

use entraide_domain::{AuditAction, AuditOutcome};
use entraide_evidence::PublicKey;
use entraide_federation::{MessageKind, OutboxStatus, ReceiptStatus, SignedReceipt};
use entraide_proto as proto;
use entraide_store::OutboxMessage;
use reqwest::StatusCode;
use time::OffsetDateTime;
use uuid::Uuid;

use super::attachments::outgoing::{forget_outgoing, push, PushError};
use super::inbox::{INBOX_BATCH_PATH, INBOX_PATH, MAX_BATCH_BYTES, MAX_BATCH_ENVELOPES};
use super::outbox::backoff;
use super::signed::{problem_code, send_signed, DELIVERY_TIMEOUT};
use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

/// Envelopes larger than this travel alone.
const BATCHED_ENVELOPE_MAX: usize = 64 * 1024;
/// How long a claim on a peer's messages lasts.
const LEASE: time::Duration = time::Duration::seconds(120);
/// Peers served in one round, and messages claimed per peer.
const PEERS_PER_ROUND: u32 = 32;
const MESSAGES_PER_PEER: u32 = 256;

/// What became of one delivery attempt.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Delivered (receipt stored), given up (dead), or no longer pending.
    Done,
    /// Not delivered this time: the peer's later messages must wait.
    Retry,
}

/// Delivers what is due: the peers one after the other's claims are
/// taken, each peer's messages in order (a batch per peer, one request
/// after the other on a kept-alive connection), the peers side by side.
pub async fn deliver_due(app: &AppState) -> AppResult<usize> {
    let now = OffsetDateTime::now_utc();
    let lease_until = now + LEASE;
    let due = app
        .store
        .claim_outbox(now, lease_until, PEERS_PER_ROUND, MESSAGES_PER_PEER)
        .await?;
    let n = due.len();
    let mut per_peer: Vec<(String, Vec<Uuid>)> = Vec::new();
    for (id, recipient) in due {
        match per_peer.last_mut() {
            Some((peer, ids)) if *peer == recipient => ids.push(id),
            _ => per_peer.push((recipient, vec![id])),
        }
    }
    let rounds = per_peer
        .into_iter()
        .map(|(peer, ids)| deliver_batch(app, peer, ids, lease_until));
    for result in futures_util::future::join_all(rounds).await {
        result?;
    }
    Ok(n)
}

/// One peer's claimed messages, in order; stops at the first that must be
/// retried (or before the claim could run out) and gives the rest back.
/// Small messages in a row travel together (`/federation/inbox/batch`);
/// a large one (or an attachment's manifest) alone.
async fn deliver_batch(
    app: &AppState,
    peer: String,
    ids: Vec<Uuid>,
    lease_until: OffsetDateTime,
) -> AppResult<()> {
    let result = deliver_in_order(app, &ids, lease_until).await;
    app.store.release_outbox(&peer, lease_until).await?;
    result
}

async fn deliver_in_order(
    app: &AppState,
    ids: &[Uuid],
    lease_until: OffsetDateTime,
) -> AppResult<()> {
    let mut next = 0;
    let mut batches = true;
    while next < ids.len() {
        let deadline = OffsetDateTime::now_utc() + DELIVERY_TIMEOUT + time::Duration::seconds(5);
        if deadline >= lease_until {
            break;
        }
        let group = if batches {
            gather(app, &ids[next..]).await?
        } else {
            Vec::new()
        };
        if group.len() < 2 {
            match deliver_one(app, ids[next], lease_until).await? {
                Outcome::Done => next += 1,
                Outcome::Retry => break,
            }
            continue;
        }
        match deliver_group(app, &group).await? {
            Grouped::Done => next += group.len(),
            // The rest waits for the next round.
            Grouped::Partly => break,
            // Each is given up on its own (`deliver_one`).
            Grouped::PeerRemoved => batches = false,
        }
    }
    Ok(())
}

/// The pending, unexpired, small messages at the head of `ids`, as many
/// as one batch takes.
async fn gather(app: &AppState, ids: &[Uuid]) -> AppResult<Vec<OutboxMessage>> {
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
enum Grouped {
    /// Every message delivered or given up.
    Done,
    /// Stopped at a message that must be retried (those before it were
    /// delivered or given up).
    Partly,
    /// The peer is no longer known: nothing was sent.
    PeerRemoved,
}

fn not_delivered_audit(
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
async fn retry_later(
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

/// A peer's delivery receipt for `message_id`, as stored, if it is signed
/// with the peer's pinned key and says "delivered".
fn delivery_receipt(
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

/// Sends a group of pending messages to their peer in one request and
/// records, in order, each one's receipt (all in one transaction) or its
/// refusal.
async fn deliver_group(app: &AppState, group: &[OutboxMessage]) -> AppResult<Grouped> {
    let Some(first) = group.first() else {
        return Ok(Grouped::Done);
    };
    let Some(peer) = app.store.peer(&first.recipient).await? else {
        // Each goes its own way (given up: the peer was removed).
        return Ok(Grouped::PeerRemoved);
    };
    let now = OffsetDateTime::now_utc();
    let target = format!("{}{INBOX_BATCH_PATH}", peer.base_url);
    let mut body = Vec::with_capacity(group.iter().map(|m| m.envelope.len() + 1).sum());
    for m in group {
        body.extend_from_slice(m.envelope.as_bytes());
        body.push(b'\n');
    }
    let result = send_signed(
        app,
        reqwest::Method::POST,
        &target,
        "application/x-ndjson",
        body,
        now,
    )
    .await;
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
    let res = match result {
        Ok(r) => r,
        Err(e) => {
            retry_first(format!("cannot reach {}: {e}", peer.base_url)).await?;
            return Ok(Grouped::Partly);
        }
    };
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
        // The request itself was refused (its signature, the sender):
        // each message would be, alone.
        let code = problem_code(&text, status);
        for m in group {
            let reason = format!("refused by {}: {code}", peer.node_id);
            tracing::warn!(message = %m.message_id, peer = %m.recipient, %code, "message refused by the peer");
            let audit = not_delivered_audit(m.message_id, &m.recipient, &reason);
            give_up(app, m.message_id, m.message_type, &reason, &audit).await?;
        }
        return Ok(Grouped::Done);
    }
    if !status.is_success() {
        retry_first(format!("{} answered {status}", peer.base_url)).await?;
        return Ok(Grouped::Partly);
    }
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

/// Marks a message not delivered (audited); an attachment's file leaves
/// the outgoing spool with it.
async fn give_up(
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

async fn deliver_one(app: &AppState, id: Uuid, lease_until: OffsetDateTime) -> AppResult<Outcome> {
    // Read here, not when claimed: one envelope in memory at a time.
    let Some(m) = app
        .store
        .outbox_message(id)
        .await?
        .filter(|m| m.status == OutboxStatus::Pending)
    else {
        return Ok(Outcome::Done);
    };
    let now = OffsetDateTime::now_utc();
    let (message_id, recipient) = (m.message_id, m.recipient.clone());
    let recipient = recipient.as_str();
    let not_delivered = |reason: String| {
        let audit = not_delivered_audit(message_id, recipient, &reason);
        (reason, audit)
    };
    if m.expires_at <= now {
        let (reason, audit) = not_delivered(format!(
            "expired before delivery: {}",
            m.last_error
                .clone()
                .unwrap_or_else(|| "never attempted".into())
        ));
        tracing::warn!(message = %m.message_id, peer = %m.recipient, "message not delivered: expired");
        give_up(app, m.message_id, m.message_type, &reason, &audit).await?;
        return Ok(Outcome::Done);
    }
    let Some(peer) = app.store.peer(&m.recipient).await? else {
        let (reason, audit) = not_delivered("the peer was removed".into());
        give_up(app, m.message_id, m.message_type, &reason, &audit).await?;
        return Ok(Outcome::Done);
    };
    let target = format!("{}{INBOX_PATH}", peer.base_url);
    let body = m.envelope.into_bytes();
    let result = send_signed(
        app,
        reqwest::Method::POST,
        &target,
        "application/json",
        body,
        now,
    )
    .await;
    let attempts = m.attempts + 1;
    let retry = |error: String| async move {
        retry_later(app, message_id, recipient, attempts, &error).await
    };
    let res = match result {
        Ok(r) => r,
        Err(e) => {
            retry(format!("cannot reach {}: {e}", peer.base_url)).await?;
            return Ok(Outcome::Retry);
        }
    };
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    if status.is_success() {
        let key = PublicKey::parse(&peer.signing_key)
            .ok_or_else(|| AppError::Internal("pinned key unreadable".into()))?;
        let signed = serde_json::from_str::<SignedReceipt>(&text).ok();
        match delivery_receipt(signed, &key, m.message_id)? {
            Some(stored) => {
                // An attachment's manifest is in: its bytes follow, and only
                // then is the message delivered.
                if m.message_type == MessageKind::Attachment {
                    // Pushing stops in time for the claim on this peer's
                    // queue to be released before it runs out.
                    let stop_by = lease_until - DELIVERY_TIMEOUT - time::Duration::seconds(5);
                    match push(app, &peer, m.message_id, stop_by).await {
                        Ok(()) => {}
                        Err(PushError::Retry(error)) => {
                            retry(error).await?;
                            return Ok(Outcome::Retry);
                        }
                        Err(PushError::Paused(progress)) => {
                            // Not a failure: the next round carries on at once.
                            let now = OffsetDateTime::now_utc();
                            app.store
                                .outbox_retry(message_id, m.attempts, now, &progress)
                                .await?;
                            return Ok(Outcome::Retry);
                        }
                        Err(PushError::Refused(reason)) => {
                            let (reason, audit) = not_delivered(reason);
                            tracing::warn!(message = %m.message_id, peer = %m.recipient, "attachment refused by the peer");
                            give_up(app, m.message_id, m.message_type, &reason, &audit).await?;
                            return Ok(Outcome::Done);
                        }
                    }
                }
                app.store
                    .outbox_delivered(m.message_id, &stored, OffsetDateTime::now_utc())
                    .await?;
                Ok(Outcome::Done)
            }
            None => {
                retry("the receipt is missing or not signed by the peer".into()).await?;
                Ok(Outcome::Retry)
            }
        }
    } else if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
        // Refused: retrying would not help.
        let code = problem_code(&text, status);
        let (reason, audit) = not_delivered(format!("refused by {}: {code}", peer.node_id));
        tracing::warn!(message = %m.message_id, peer = %m.recipient, %code, "message refused by the peer");
        give_up(app, m.message_id, m.message_type, &reason, &audit).await?;
        Ok(Outcome::Done)
    } else {
        retry(format!("{} answered {status}", peer.base_url)).await?;
        Ok(Outcome::Retry)
    }
}

/// Runs deliveries: when woken (a message was queued) and every second.
pub fn start_worker(app: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = app.outbox_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            loop {
                match deliver_due(&app).await {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox delivery failed");
                        break;
                    }
                }
            }
        }
    })
}
