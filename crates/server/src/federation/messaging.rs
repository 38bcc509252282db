//! Messages between nodes: the durable outbox (ordered per peer, retried
//! with exponential backoff and jitter, given up when the message expires),
//! the inbox (HTTP-signed requests from pinned peers only, checked,
//! stored before answering with a signed receipt; a duplicate gets the same
//! receipt), and the evidence of delivery: accepted for sending, delivered
//! (receipt), retrieved (a second receipt when someone opens it), not
//! delivered (expired or refused, with the reason).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use entraide_domain::{AuditAction, AuditOutcome};
use entraide_evidence::PublicKey;
use entraide_federation::envelope::{now_rfc3339, seal, MAX_ENVELOPE_BYTES};
use entraide_federation::httpsig::{self, BodyBinding, SignatureHeaders};
use entraide_federation::{Envelope, Outgoing, Receipt, SignedReceipt};
use entraide_proto as proto;
use entraide_store::{InboxMessage, OutboxMessage};
use rand::Rng;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::caller::Caller;
use crate::error::{AppError, AppResult};
use crate::http::{json_response, ApiJson};
use crate::ops::{Actor, AuditEntryExt};
use crate::peers::base_url;
use crate::state::AppState;

pub const INBOX_PATH: &str = "/federation/inbox";
/// Several small envelopes in one request (see `inbox_batch`).
pub const INBOX_BATCH_PATH: &str = "/federation/inbox/batch";
/// At most this many envelopes, and bytes, in one batch.
pub const MAX_BATCH_ENVELOPES: usize = 256;
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Envelopes larger than this travel alone.
const BATCHED_ENVELOPE_MAX: usize = 64 * 1024;

/// Queues a message for a peer (evidence: "accepted for sending").
pub async fn send(
    app: &AppState,
    actor: &Actor,
    recipient: &str,
    message_type: &str,
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
    message_type: &str,
    payload: &[u8],
    in_reply_to: Option<Uuid>,
    lifetime: time::Duration,
) -> AppResult<OutboxMessage> {
    let peer = app
        .store
        .peer(recipient)
        .await?
        .ok_or(AppError::NotFound { what: "peer" })?;
    if peer.status != "active" {
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
        message_type: message_type.to_owned(),
        envelope: serde_json::to_string(&envelope)
            .map_err(|e| AppError::Internal(e.to_string()))?,
        status: "pending".into(),
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

/// Queues a sealed message (evidence: "accepted for sending").
pub async fn enqueue(app: &AppState, actor: &Actor, m: OutboxMessage) -> AppResult<OutboxMessage> {
    let audit = actor
        .entry(AuditAction::MessageSent, AuditOutcome::Success)
        .target(m.message_id.to_string())
        .detail(serde_json::json!({ "recipient": m.recipient, "type": m.message_type }));
    app.store.enqueue_outbox(&m, &audit).await?;
    app.outbox_wake.notify_one();
    Ok(m)
}

/// Delay before attempt `attempts + 1`: 2^attempts seconds (at most ten
/// minutes), ±25 % jitter.
pub fn backoff(attempts: u32) -> Duration {
    let base = 2f64.powi(attempts.min(10) as i32).min(600.0);
    let jitter = rand::thread_rng().gen_range(0.75..1.25);
    Duration::from_secs_f64(base * jitter)
}

/// How long a delivery may take before it is given up for this round.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a claim on a peer's messages lasts.
const LEASE: time::Duration = time::Duration::seconds(120);
/// Peers served in one round, and messages claimed per peer.
const PEERS_PER_ROUND: u32 = 32;
const MESSAGES_PER_PEER: u32 = 256;

/// The client a node uses to reach other nodes: no redirects, a timeout,
/// connections kept alive and reused. `extra_root` (PEM) adds a trusted
/// certificate authority (a private one, as in `entraide bench federation`).
pub fn federation_client(extra_root: Option<&[u8]>) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(60));
    if let Some(pem) = extra_root {
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem)?);
    }
    builder.build()
}

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
/// a large one, or any to a peer that does not take batches, alone.
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
            // An older node: one message per request from now on.
            Grouped::Unsupported => batches = false,
        }
    }
    Ok(())
}

/// Sends `body` to a peer with `method`, the request signed (RFC 9421)
/// with this node's current key, the body bound by its `Content-Digest`.
pub(crate) async fn send_signed(
    app: &AppState,
    method: reqwest::Method,
    target: &str,
    content_type: &str,
    body: Vec<u8>,
    now: OffsetDateTime,
) -> Result<reqwest::Response, reqwest::Error> {
    let binding = BodyBinding::ContentDigest;
    let body = Bytes::from(body);
    send_signed_bound(app, binding, method, target, content_type, body, now).await
}

/// Sends `body` to a peer, the request signed with the body bound by
/// `binding`.
pub(crate) async fn send_signed_bound(
    app: &AppState,
    binding: BodyBinding,
    method: reqwest::Method,
    target: &str,
    content_type: &str,
    body: Bytes,
    now: OffsetDateTime,
) -> Result<reqwest::Response, reqwest::Error> {
    let sig = httpsig::sign_bound(
        binding,
        app.identity.federation_key(now),
        app.settings.node_id.as_str(),
        method.as_str(),
        target,
        &body,
        now.unix_timestamp(),
    );
    app.federation_client
        .request(method, target)
        .header("content-type", content_type)
        .header(binding.header(), &sig.body_field)
        .header("signature-input", &sig.signature_input)
        .header("signature", &sig.signature)
        .body(body)
        .send()
        .await
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
        if m.status != "pending"
            || m.message_type == crate::attachments::MESSAGE_TYPE
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
    /// The peer has no batch inbox.
    Unsupported,
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

/// The stable code of a refusal from a peer (its problem+json), or the
/// HTTP status when it gave none.
pub(crate) fn problem_code(text: &str, status: StatusCode) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
        .unwrap_or_else(|| status.to_string())
}

/// A peer's delivery receipt for `message_id`, as stored, if it is signed
/// with the peer's pinned key and says "delivered".
fn delivery_receipt(
    signed: Option<SignedReceipt>,
    key: &PublicKey,
    message_id: Uuid,
) -> AppResult<Option<String>> {
    match signed.and_then(|s| s.verify(key).map(|r| (s, r))) {
        Some((signed, r)) if r.message_id == message_id && r.status == "delivered" => {
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
        return Ok(Grouped::Unsupported);
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
    if status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED {
        return Ok(Grouped::Unsupported);
    }
    let text = res.text().await.unwrap_or_default();
    if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
        // The request itself was refused (its signature, the sender):
        // each message would be, alone.
        let code = problem_code(&text, status);
        for m in group {
            let reason = format!("refused by {}: {code}", peer.node_id);
            tracing::warn!(message = %m.message_id, peer = %m.recipient, %code, "message refused by the peer");
            let audit = not_delivered_audit(m.message_id, &m.recipient, &reason);
            give_up(app, m.message_id, &m.message_type, &reason, &audit).await?;
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
            give_up(app, m.message_id, &m.message_type, &reason, &audit).await?;
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
    message_type: &str,
    reason: &str,
    audit: &entraide_store::NewAuditEntry,
) -> AppResult<()> {
    // The file first: once the message reads "not delivered", nothing of
    // it is left in the spool (and a crash in between finds the file gone,
    // which gives the message up too).
    if message_type == crate::attachments::MESSAGE_TYPE {
        crate::attachments::forget_outgoing(app, id);
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
        .filter(|m| m.status == "pending")
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
        give_up(app, m.message_id, &m.message_type, &reason, &audit).await?;
        return Ok(Outcome::Done);
    }
    let Some(peer) = app.store.peer(&m.recipient).await? else {
        let (reason, audit) = not_delivered("the peer was removed".into());
        give_up(app, m.message_id, &m.message_type, &reason, &audit).await?;
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
                if m.message_type == crate::attachments::MESSAGE_TYPE {
                    use crate::attachments::PushError;
                    // Pushing stops in time for the claim on this peer's
                    // queue to be released before it runs out.
                    let stop_by = lease_until - DELIVERY_TIMEOUT - time::Duration::seconds(5);
                    match crate::attachments::push(app, &peer, m.message_id, stop_by).await {
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
                            give_up(app, m.message_id, &m.message_type, &reason, &audit).await?;
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
        give_up(app, m.message_id, &m.message_type, &reason, &audit).await?;
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

pub(crate) fn refused(code: &'static str, detail: String) -> AppError {
    AppError::BadRequest { code, detail }
}

async fn audit_refusal(app: &AppState, sender: &str, code: &str, detail: &str) -> AppResult<()> {
    let entry = Actor::anonymous(None, None)
        .entry(AuditAction::MessageRefused, AuditOutcome::Denied)
        .target(sender.to_owned())
        .detail(serde_json::json!({ "code": code, "detail": detail }));
    app.store.append_audit(&entry).await?;
    tracing::warn!(%sender, code, "message from another node refused");
    Ok(())
}

/// A message from a peer: an envelope, the request signed (RFC 9421) by a
/// pinned peer. Answers with the signed delivery receipt.
/// Reads a request body up to `limit` bytes: an oversize one is refused
/// (problem+json) and audited.
pub(crate) async fn read_limited(
    app: &AppState,
    body: axum::body::Body,
    limit: usize,
    what: &str,
) -> AppResult<Bytes> {
    match axum::body::to_bytes(body, limit).await {
        Ok(b) => Ok(b),
        Err(_) => Err(too_large(app, what).await),
    }
}

/// Audits a request body larger than accepted; the error to answer.
pub(crate) async fn too_large(app: &AppState, what: &str) -> AppError {
    let detail = format!("{what} is larger than accepted");
    match audit_refusal(app, "unknown", "payload_too_large", &detail).await {
        Ok(()) => AppError::PayloadTooLarge,
        Err(e) => e,
    }
}

/// Audits a refused inbox request under the node its signature names.
pub(crate) async fn audit_if_refused<T>(
    app: &AppState,
    headers: &HeaderMap,
    result: &AppResult<T>,
) -> AppResult<()> {
    if let Err(e) = result {
        let (_, code) = e.status_and_code();
        let sender = headers
            .get("signature-input")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpsig::keyid(v).ok())
            .unwrap_or_else(|| "unknown".into());
        audit_refusal(app, &sender, code, &e.to_string()).await?;
    }
    Ok(())
}

#[utoipa::path(post, path = "/federation/inbox", tag = "federation",
    request_body(content = String, content_type = "application/json", description = "the envelope"),
    responses((status = 200, body = proto::SignedNodeDocumentView, description = "the signed receipt"),
              (status = 400, body = proto::Problem), (status = 403, body = proto::Problem)))]
/// `POST /federation/inbox`: a message from a peer. Authenticated by the
/// HTTP signature of a pinned peer; anything else is refused and audited
/// (a forged "emergency" request from an unknown node shows up there).
pub async fn inbox(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> AppResult<Response> {
    let body = read_limited(&app, body, MAX_ENVELOPE_BYTES, "the envelope").await?;
    let result = receive(&app, &headers, &body).await;
    audit_if_refused(&app, &headers, &result).await?;
    let signed = result?;
    Ok(json_response(StatusCode::OK, &signed))
}

/// A pinned, active peer whose HTTP signature on this request holds.
pub(crate) struct Authenticated {
    pub(crate) peer: entraide_store::Peer,
    /// The peer's keys valid now (two during a rotation's overlap).
    keys: Vec<PublicKey>,
    /// The one that signed the request.
    key: PublicKey,
}

/// Checks the HTTP signature of a `method` request to `path` against the
/// keys of the peer it names, the body bound by its `Content-Digest`.
pub(crate) async fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    method: &str,
    path: &str,
) -> AppResult<Authenticated> {
    let binding = BodyBinding::ContentDigest;
    authenticate_bound(app, binding, headers, body, method, path).await
}

/// The active, pinned peer a request's `Signature-Input` names; anything
/// else is refused. Checked before a large body is read, and again with
/// the signature.
pub(crate) async fn pinned_sender(
    app: &AppState,
    signature_input: &str,
) -> AppResult<entraide_store::Peer> {
    let keyid = httpsig::keyid(signature_input)
        .map_err(|e| refused("request_signature_malformed", e.to_string()))?;
    match app.store.peer(&keyid).await? {
        Some(p) if p.status == "active" => Ok(p),
        Some(_) => Err(refused(
            "sender_disabled",
            format!("{keyid} is disabled here"),
        )),
        None => Err(AppError::ForbiddenSender {
            detail: format!("{keyid} is not a peer of this node"),
        }),
    }
}

/// Checks the HTTP signature of a request, the body bound by `binding`.
pub(crate) async fn authenticate_bound(
    app: &AppState,
    binding: BodyBinding,
    headers: &HeaderMap,
    body: &[u8],
    method: &str,
    path: &str,
) -> AppResult<Authenticated> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (Some(body_field), Some(signature_input), Some(signature)) = (
        header(binding.header()),
        header("signature-input"),
        header("signature"),
    ) else {
        return Err(refused(
            "request_unsigned",
            httpsig::HttpSigError::Missing.to_string(),
        ));
    };
    let peer = pinned_sender(app, &signature_input).await?;
    let now = OffsetDateTime::now_utc();
    let keys = crate::peers::peer_keys(app, &peer, now).await?;
    let target = format!("{}{path}", base_url(app));
    let headers_sig = SignatureHeaders {
        body_field,
        signature_input,
        signature,
    };
    let mut last = httpsig::HttpSigError::BadSignature;
    for k in &keys {
        let at = now.unix_timestamp();
        match httpsig::verify_bound(binding, k, method, &target, &headers_sig, body, at) {
            Ok(()) => {
                let key = *k;
                return Ok(Authenticated { peer, keys, key });
            }
            Err(e) => last = e,
        }
    }
    Err(refused("request_signature_invalid", last.to_string()))
}

/// Checks and decrypts an envelope from an authenticated peer, signed with
/// either of its valid keys (queued before a rotation, delivered after).
pub(crate) fn open_from(
    app: &AppState,
    from: &Authenticated,
    envelope: &Envelope,
    now: OffsetDateTime,
) -> AppResult<(entraide_federation::EnvelopeHeader, Vec<u8>)> {
    let me = app.settings.node_id.as_str();
    let mut opened = app.identity.open(envelope, &from.key, me, now);
    if matches!(
        opened,
        Err(entraide_federation::EnvelopeError::BadSignature)
    ) {
        for k in from.keys.iter().filter(|k| **k != from.key) {
            opened = app.identity.open(envelope, k, me, now);
            if opened.is_ok() {
                break;
            }
        }
    }
    opened.map_err(|e| refused(e.code(), e.to_string()))
}

/// A checked envelope not seen before, with what to store and answer.
struct Checked {
    header: entraide_federation::EnvelopeHeader,
    payload: Vec<u8>,
    receipt: SignedReceipt,
    stored: InboxMessage,
    audit: entraide_store::NewAuditEntry,
}

enum Arrival {
    /// Seen before: its receipt again, and nothing else.
    Seen(SignedReceipt),
    New(Box<Checked>),
}

/// Everything about one envelope from an authenticated peer short of
/// storing it: its form, sender, recipient, expiry, signature (with either
/// of the peer's valid keys), decryption, and who may send requests here.
///
/// `seen_first`: look for the message among those stored before opening
/// it (one query); a batch leaves that to its insert, which keeps the first
/// copy's receipt all the same.
async fn check_envelope(
    app: &AppState,
    from: &Authenticated,
    raw: &[u8],
    now: OffsetDateTime,
    seen_first: bool,
) -> AppResult<Arrival> {
    let peer = &from.peer;
    let envelope: Envelope =
        serde_json::from_slice(raw).map_err(|e| refused("envelope_malformed", e.to_string()))?;
    let peek = envelope
        .peek()
        .map_err(|e| refused(e.code(), e.to_string()))?;
    if peek.sender != peer.node_id {
        return Err(refused(
            "envelope_sender_mismatch",
            format!("the envelope says it comes from {}", peek.sender),
        ));
    }
    if seen_first {
        if let Some(seen) = app.store.inbox_message(peek.message_id).await? {
            return serde_json::from_str(&seen.receipt)
                .map(Arrival::Seen)
                .map_err(|e| AppError::Internal(e.to_string()));
        }
    }
    let (h, payload) = open_from(app, from, &envelope, now)?;
    // A service provider takes requests only from authorities.
    if h.message_type == "request" {
        let own = app.store.own_organisation().await?;
        let sender_is_authority = peer
            .kind
            .parse::<entraide_domain::OrganisationKind>()
            .is_ok_and(|k| k.is_authority());
        if own.kind == entraide_domain::OrganisationKind::ServiceProvider && !sender_is_authority {
            return Err(refused(
                "sender_not_authority",
                format!(
                    "{} ({}) may not send requests to a service provider",
                    peer.node_id, peer.kind
                ),
            ));
        }
    }
    let receipt = Receipt {
        v: 1,
        message_id: h.message_id,
        sender: h.sender.clone(),
        receiver: app.settings.node_id.to_string(),
        status: "delivered".into(),
        at: now_rfc3339(),
        payload_sha256: h.payload_sha256.clone(),
    }
    .sign(app.identity.federation_key(now));
    let stored = InboxMessage {
        message_id: h.message_id,
        sender: h.sender.clone(),
        message_type: h.message_type.clone(),
        envelope: String::from_utf8_lossy(raw).into_owned(),
        receipt: serde_json::to_string(&receipt).map_err(|e| AppError::Internal(e.to_string()))?,
        received_at: now,
        retrieved_at: None,
        retrieved_by: None,
    };
    let audit = Actor::anonymous(None, None)
        .entry(AuditAction::MessageReceived, AuditOutcome::Success)
        .target(h.message_id.to_string())
        .detail(serde_json::json!({ "sender": h.sender, "type": h.message_type }));
    Ok(Arrival::New(Box::new(Checked {
        header: h,
        payload,
        receipt,
        stored,
        audit,
    })))
}

/// What a stored message does here beyond being kept.
async fn apply(app: &AppState, from: &Authenticated, c: &Checked) -> AppResult<()> {
    let (h, payload) = (&c.header, &c.payload);
    // Requests and their updates move the request registers.
    if matches!(
        h.message_type.as_str(),
        "request" | "request-update" | "evidence-package" | "attachment-chunk"
    ) {
        if let Err(e) = crate::federated::on_message(app, h, payload).await {
            tracing::error!(message = %h.message_id, error = %e, "received message not applied");
            // Kept in the inbox, and shown to administrators with the reason.
            let reason = match &e {
                AppError::Internal(m) => m.clone(),
                other => other.to_string(),
            };
            audit_refusal(app, &h.sender, "message_not_applied", &reason).await?;
        }
    }
    // A key rotation the peer announces.
    if h.message_type == "key-rotation" {
        if let Err(e) = crate::peers::on_key_rotation(app, &h.sender, payload).await {
            tracing::error!(message = %h.message_id, error = %e, "key rotation not applied");
        }
    }
    // A retrieval receipt for one of our messages.
    if h.message_type == "receipt" {
        if let (Some(original), Ok(signed)) = (
            h.in_reply_to,
            serde_json::from_slice::<SignedReceipt>(payload),
        ) {
            if signed
                .verify(&from.key)
                .is_some_and(|r| r.message_id == original && r.status == "retrieved")
            {
                let text = serde_json::to_string(&signed)
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                app.store.outbox_retrieved(original, &text).await?;
            }
        }
    }
    Ok(())
}

async fn receive(app: &AppState, headers: &HeaderMap, body: &[u8]) -> AppResult<SignedReceipt> {
    if body.len() > MAX_ENVELOPE_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    let from = authenticate(app, headers, body, "POST", INBOX_PATH).await?;
    let now = OffsetDateTime::now_utc();
    let checked = match check_envelope(app, &from, body, now, true).await? {
        Arrival::Seen(receipt) => return Ok(receipt),
        Arrival::New(c) => c,
    };
    if let Some(existing) = app
        .store
        .insert_inbox(&checked.stored, &checked.audit)
        .await?
    {
        // Two deliveries raced: the first one's receipt stands.
        return serde_json::from_str(&existing.receipt)
            .map_err(|e| AppError::Internal(e.to_string()));
    }
    apply(app, &from, &checked).await?;
    Ok(checked.receipt)
}

#[utoipa::path(post, path = "/federation/inbox/batch", tag = "federation",
    request_body(content = String, content_type = "application/x-ndjson", description = "envelopes, one per line"),
    responses((status = 200, description = "each envelope's signed receipt or problem, in order"),
              (status = 400, body = proto::Problem), (status = 403, body = proto::Problem)))]
/// `POST /federation/inbox/batch`: several envelopes from one peer in one
/// HTTP-signed request, one per line (`application/x-ndjson`), in the
/// peer's order. Each is checked as at `/federation/inbox`; those accepted
/// are stored in one transaction; the answer gives, in the same order,
/// each one's signed receipt or the problem that refused it.
pub async fn inbox_batch(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> AppResult<Response> {
    let body = read_limited(&app, body, MAX_BATCH_BYTES, "the batch").await?;
    let result = receive_batch(&app, &headers, &body).await;
    audit_if_refused(&app, &headers, &result).await?;
    Ok(json_response(StatusCode::OK, &result?))
}

async fn receive_batch(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> AppResult<proto::BatchReceipts> {
    let from = authenticate(app, headers, body, "POST", INBOX_BATCH_PATH).await?;
    let lines = entraide_federation::envelope::batch_lines(body);
    if lines.len() > MAX_BATCH_ENVELOPES {
        return Err(refused(
            "batch_too_large",
            format!(
                "{} envelopes in one batch; at most {MAX_BATCH_ENVELOPES}",
                lines.len()
            ),
        ));
    }
    let now = OffsetDateTime::now_utc();
    let mut results: Vec<Option<proto::BatchResult>> = Vec::with_capacity(lines.len());
    let mut new: Vec<(usize, Box<Checked>)> = Vec::new();
    for (i, raw) in lines.iter().enumerate() {
        match check_envelope(app, &from, raw, now, false).await {
            Ok(Arrival::Seen(receipt)) => results.push(Some(proto::BatchResult::receipt(
                serde_json::to_value(&receipt).map_err(|e| AppError::Internal(e.to_string()))?,
            ))),
            Ok(Arrival::New(c)) => {
                results.push(None);
                new.push((i, c));
            }
            Err(e) => {
                let (_, code) = e.status_and_code();
                audit_refusal(app, &from.peer.node_id, code, &e.to_string()).await?;
                results.push(Some(proto::BatchResult::problem(code, e.to_string())));
            }
        }
    }
    let items: Vec<(InboxMessage, entraide_store::NewAuditEntry)> = new
        .iter()
        .map(|(_, c)| (c.stored.clone(), c.audit.clone()))
        .collect();
    let stored = app.store.insert_inbox_many(&items).await?;
    for ((i, c), existing) in new.iter().zip(stored) {
        let receipt = match existing {
            // The same message twice (in this batch or raced with another
            // delivery): the first one's receipt stands.
            Some(existing) => serde_json::from_str::<serde_json::Value>(&existing.receipt)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            None => {
                apply(app, &from, c).await?;
                serde_json::to_value(&c.receipt).map_err(|e| AppError::Internal(e.to_string()))?
            }
        };
        if let Some(slot) = results.get_mut(*i) {
            *slot = Some(proto::BatchResult::receipt(receipt));
        }
    }
    Ok(proto::BatchReceipts {
        results: results.into_iter().flatten().collect(),
    })
}

fn receipt_value(text: &Option<String>) -> Option<serde_json::Value> {
    text.as_deref().and_then(|t| serde_json::from_str(t).ok())
}

pub fn outbox_view(m: &OutboxMessage) -> proto::OutboxMessageView {
    proto::OutboxMessageView {
        message_id: m.message_id,
        recipient: m.recipient.clone(),
        message_type: m.message_type.clone(),
        status: m.status.clone(),
        attempts: m.attempts,
        last_error: m.last_error.clone(),
        receipt: receipt_value(&m.receipt),
        retrieval_receipt: receipt_value(&m.retrieval_receipt),
        created_at: m.created_at,
        expires_at: m.expires_at,
        delivered_at: m.delivered_at,
    }
}

/// Sends a note to a peer's administrators.
#[utoipa::path(post, path = "/api/v1/peers/{node_id}/messages", tag = "federation", security(("bearer" = [])),
    params(("node_id" = String, Path)), request_body = proto::NewPeerMessage,
    responses((status = 202, body = proto::OutboxMessageView), (status = 404, body = proto::Problem)))]
pub async fn api_send(
    State(app): State<AppState>,
    caller: Caller,
    Path(node_id): Path<String>,
    ApiJson(body): ApiJson<proto::NewPeerMessage>,
) -> AppResult<Response> {
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > 10_000 {
        return Err(AppError::Validation(vec![proto::FieldError {
            field: "text".into(),
            code: "note_length".into(),
            message: "a note has 1 to 10,000 characters".into(),
        }]));
    }
    let hours = body.expires_in_hours.unwrap_or(72).clamp(1, 24 * 30);
    let payload = serde_json::to_vec(&serde_json::json!({ "text": text }))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let m = send(
        &app,
        &caller.actor(),
        &node_id,
        "note",
        &payload,
        None,
        time::Duration::hours(i64::from(hours)),
    )
    .await?;
    Ok(json_response(StatusCode::ACCEPTED, &outbox_view(&m)))
}

/// A sent message with its delivery evidence.
#[utoipa::path(get, path = "/api/v1/outbox/{id}", tag = "federation", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = proto::OutboxMessageView), (status = 404, body = proto::Problem)))]
pub async fn api_outbox(State(app): State<AppState>, Path(id): Path<Uuid>) -> AppResult<Response> {
    let m = app
        .store
        .outbox_message(id)
        .await?
        .ok_or(AppError::NotFound { what: "message" })?;
    Ok(json_response(StatusCode::OK, &outbox_view(&m)))
}

fn inbox_view(m: &InboxMessage, payload: Option<serde_json::Value>) -> proto::InboxMessageView {
    proto::InboxMessageView {
        message_id: m.message_id,
        sender: m.sender.clone(),
        message_type: m.message_type.clone(),
        received_at: m.received_at,
        retrieved_at: m.retrieved_at,
        payload,
    }
}

#[utoipa::path(get, path = "/api/v1/inbox", tag = "federation", security(("bearer" = [])),
    responses((status = 200, body = [proto::InboxMessageView])))]
pub async fn api_inbox(State(app): State<AppState>) -> AppResult<Response> {
    let list: Vec<_> = app
        .store
        .inbox(500)
        .await?
        .iter()
        .map(|m| inbox_view(m, None))
        .collect();
    Ok(json_response(StatusCode::OK, &list))
}

/// Opens a received message: decrypted, recorded as retrieved, and a
/// signed retrieval receipt goes back to the sender.
#[utoipa::path(get, path = "/api/v1/inbox/{id}", tag = "federation", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = proto::InboxMessageView), (status = 404, body = proto::Problem)))]
pub async fn api_inbox_message(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let m = app
        .store
        .inbox_message(id)
        .await?
        .ok_or(AppError::NotFound { what: "message" })?;
    let envelope: Envelope =
        serde_json::from_str(&m.envelope).map_err(|e| AppError::Internal(e.to_string()))?;
    // Checked when it arrived; the sender's key may have rotated since.
    let (header, payload) = app
        .identity
        .decrypt_stored(&envelope)
        .map_err(|e| AppError::Internal(format!("stored message: {e}")))?;
    let now = OffsetDateTime::now_utc();
    let audit = caller
        .actor()
        .entry(AuditAction::MessageRetrieved, AuditOutcome::Success)
        .target(id.to_string());
    let first = app
        .store
        .mark_retrieved(id, &caller.user.email.to_string(), now, &audit)
        .await?;
    if first && m.message_type != "receipt" {
        let receipt = Receipt {
            v: 1,
            message_id: id,
            sender: m.sender.clone(),
            receiver: app.settings.node_id.to_string(),
            status: "retrieved".into(),
            at: now_rfc3339(),
            payload_sha256: header.payload_sha256.clone(),
        }
        .sign(app.identity.federation_key(now));
        let body = serde_json::to_vec(&receipt).map_err(|e| AppError::Internal(e.to_string()))?;
        send(
            &app,
            &caller.actor(),
            &m.sender,
            "receipt",
            &body,
            Some(id),
            time::Duration::days(7),
        )
        .await?;
    }
    let value = serde_json::from_slice(&payload).unwrap_or(serde_json::Value::Null);
    let fresh = app.store.inbox_message(id).await?.unwrap_or(m);
    Ok(json_response(
        StatusCode::OK,
        &inbox_view(&fresh, Some(value)),
    ))
}

/// Shared wake-up for the outbox worker.
pub type OutboxWake = Arc<tokio::sync::Notify>;
