//! The inbox: envelopes from peers (`/federation/inbox`, and
//! `/federation/inbox/batch` for several in one request), in HTTP-signed
//! requests from pinned peers only, each envelope checked and stored
//! before the signed receipt is returned; a duplicate gets the same
//! receipt; an envelope whose kind of message this node does not know is
//! refused (`message_kind_unknown`) before anything is stored. What a
//! stored message then does: the transport's own kinds (key rotations,
//! receipts, attachment manifests) are handled here, every other kind is
//! handed to the features (`AppState::inbound`).
//! Opening a stored message sends the sender a retrieval receipt.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use entraide_domain::{AuditAction, AuditOutcome};
use entraide_federation::envelope::{now_rfc3339, MAX_ENVELOPE_BYTES};
use entraide_federation::{
    Envelope, EnvelopeHeader, MessageKind, Receipt, ReceiptStatus, SignedReceipt,
};
use entraide_proto as proto;
use entraide_store::InboxMessage;
use time::OffsetDateTime;
use uuid::Uuid;

use super::gate::{pass, Client, Route};
use super::outbox::send;
use super::peers::on_key_rotation;
use super::signed::{
    audit_if_refused, audit_refusal, open_from, refusal_text, refused, Authenticated,
};
use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::error::{AppError, AppResult};
use crate::app::principal::Principal;
use crate::app::state::AppState;
use crate::http::json_response;

pub const INBOX_PATH: &str = "/federation/inbox";
/// Several small envelopes in one request (see `inbox_batch`).
pub const INBOX_BATCH_PATH: &str = "/federation/inbox/batch";
/// At most this many envelopes, and bytes, in one batch.
pub const MAX_BATCH_ENVELOPES: usize = 256;
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

#[utoipa::path(post, path = "/federation/inbox", tag = "federation",
    request_body(content = String, content_type = "application/json", description = "the envelope"),
    responses((status = 200, body = proto::SignedNodeDocumentView, description = "the signed receipt"),
              (status = 400, body = proto::Problem), (status = 403, body = proto::Problem),
              (status = 408, body = proto::Problem, description = "`body_read_timeout`: the body did not arrive in time"),
              (status = 409, body = proto::Problem, description = "`request_replayed`: this signed request was received before"),
              (status = 413, body = proto::Problem), (status = 429, body = proto::Problem, description = "`too_many_connections`: too many requests from this address are being read")))]
/// `POST /federation/inbox`: a message from a peer. Authenticated by the
/// HTTP signature of a pinned peer before the body is read; anything else
/// is refused and audited (a forged "emergency" request from an unknown
/// node shows up there at once).
pub async fn inbox(
    State(app): State<AppState>,
    client: Client,
    headers: HeaderMap,
    body: axum::body::Body,
) -> AppResult<Response> {
    let route = Route {
        binding: entraide_federation::httpsig::BodyBinding::ContentDigest,
        method: "POST",
        path: INBOX_PATH,
        limit: MAX_ENVELOPE_BYTES,
        what: "the envelope",
    };
    let (admitted, body) = match pass(&app, client, &headers, body, &route, Vec::new()).await {
        Ok(passed) => passed,
        Err(refusal) => return Ok(refusal),
    };
    let from = &admitted.from;
    let result = receive(&app, from, &body).await;
    audit_if_refused(&app, client.0, from, &result).await?;
    let signed = result?;
    Ok(json_response(StatusCode::OK, &signed))
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
/// storing it: its form and kind of message (parsed here, once: an unknown
/// kind is refused with `message_kind_unknown`), sender, recipient,
/// expiry, signature (with either of the peer's valid keys), decryption,
/// and who may send requests here.
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
    // What the features refuse to take from this peer (answered with the
    // problem, audited, not stored).
    app.inbound.admit(app, peer, &h, &payload).await?;
    let receipt = Receipt {
        v: 1,
        message_id: h.message_id,
        sender: h.sender.clone(),
        receiver: app.settings.node_id.to_string(),
        status: ReceiptStatus::Delivered,
        at: now_rfc3339(),
        payload_sha256: h.payload_sha256.clone(),
    }
    .sign(app.identity.federation_key(now));
    let stored = InboxMessage {
        message_id: h.message_id,
        sender: h.sender.clone(),
        message_type: h.message_type,
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

/// What a stored message does here beyond being kept: the transport's
/// own kinds here, every other kind in the features.
async fn apply(app: &AppState, from: &Authenticated, c: &Checked) -> AppResult<()> {
    apply_opened(app, &from.keys, &c.header, &c.payload).await
}

/// Applies a received message, then records it applied. A message the node
/// could not apply for want of its database stays unapplied and is applied
/// again by `apply_pending` (at start and every minute); one refused for
/// what it says is audited and counts as applied (nothing will change it).
async fn apply_opened(
    app: &AppState,
    keys: &[entraide_evidence::PublicKey],
    h: &EnvelopeHeader,
    payload: &[u8],
) -> AppResult<()> {
    let outcome = match h.message_type {
        // A key rotation the peer announces.
        MessageKind::KeyRotation => on_key_rotation(app, &h.sender, payload).await,
        // A retrieval receipt for one of our messages.
        MessageKind::Receipt => {
            if let (Some(original), Ok(signed)) = (
                h.in_reply_to,
                serde_json::from_slice::<SignedReceipt>(payload),
            ) {
                let genuine = keys.iter().any(|k| {
                    signed.verify(k).is_some_and(|r| {
                        r.message_id == original && r.status == ReceiptStatus::Retrieved
                    })
                });
                if genuine {
                    let text = serde_json::to_string(&signed)
                        .map_err(|e| AppError::Internal(e.to_string()))?;
                    app.store.outbox_retrieved(original, &text).await?;
                }
            }
            Ok(())
        }
        // An attachment's manifest: its chunks follow, streamed
        // (`attachments::incoming`).
        MessageKind::Attachment => Ok(()),
        // Requests and their updates move the request registers; evidence
        // packages add to a case; notes are only kept.
        MessageKind::Request
        | MessageKind::RequestUpdate
        | MessageKind::EvidencePackage
        | MessageKind::Note => app.inbound.deliver(app, h, payload).await,
    };
    match outcome {
        Err(AppError::Store(e)) => {
            tracing::error!(message = %h.message_id, error = %e, "received message not applied yet: will be tried again");
            return Ok(());
        }
        Err(e) if h.message_type == MessageKind::KeyRotation => {
            tracing::error!(message = %h.message_id, error = %e, "key rotation not applied");
        }
        other => audit_not_applied(app, h, other).await?,
    }
    app.store
        .mark_inbox_applied(h.message_id, OffsetDateTime::now_utc())
        .await?;
    Ok(())
}

/// Applies the received messages stored but not applied: the node stopped
/// between storing one and applying it, or its database failed then.
/// Returns how many were applied.
pub async fn apply_pending(app: &AppState) -> AppResult<usize> {
    let pending = app.store.unapplied_inbox(100).await?;
    let mut applied = 0;
    let now = OffsetDateTime::now_utc();
    for m in pending {
        let envelope: Envelope =
            serde_json::from_str(&m.envelope).map_err(|e| AppError::Internal(e.to_string()))?;
        // Checked when it arrived; the sender's key may have rotated since.
        let (header, payload) = app
            .identity
            .decrypt_stored(&envelope)
            .map_err(|e| AppError::Internal(format!("stored message: {e}")))?;
        let keys = match app.store.peer(&m.sender).await? {
            Some(peer) => crate::federation::peers::peer_keys(app, &peer, now).await?,
            None => Vec::new(),
        };
        apply_opened(app, &keys, &header, &payload).await?;
        if app.store.inbox_applied(m.message_id).await? {
            applied += 1;
        }
    }
    Ok(applied)
}

/// A message that could not be applied stays in the inbox, and is shown to
/// administrators with the reason.
async fn audit_not_applied(
    app: &AppState,
    h: &EnvelopeHeader,
    result: AppResult<()>,
) -> AppResult<()> {
    if let Err(e) = result {
        tracing::error!(message = %h.message_id, error = %e, "received message not applied");
        let reason = match &e {
            AppError::Internal(m) => m.clone(),
            other => refusal_text(other),
        };
        audit_refusal(app, None, &h.sender, "message_not_applied", &reason).await?;
    }
    Ok(())
}

async fn receive(app: &AppState, from: &Authenticated, body: &[u8]) -> AppResult<SignedReceipt> {
    let now = OffsetDateTime::now_utc();
    let checked = match check_envelope(app, from, body, now, true).await? {
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
    apply(app, from, &checked).await?;
    Ok(checked.receipt)
}

#[utoipa::path(post, path = "/federation/inbox/batch", tag = "federation",
    request_body(content = String, content_type = "application/x-ndjson", description = "envelopes, one per line"),
    responses((status = 200, description = "each envelope's signed receipt or problem, in order"),
              (status = 400, body = proto::Problem), (status = 403, body = proto::Problem),
              (status = 408, body = proto::Problem, description = "`body_read_timeout`: the body did not arrive in time"),
              (status = 409, body = proto::Problem, description = "`request_replayed`: this signed request was received before"),
              (status = 413, body = proto::Problem), (status = 429, body = proto::Problem, description = "`too_many_connections`: too many requests from this address are being read")))]
/// `POST /federation/inbox/batch`: several envelopes from one peer in one
/// HTTP-signed request, one per line (`application/x-ndjson`), in the
/// peer's order. Each is checked as at `/federation/inbox`; those accepted
/// are stored in one transaction; the answer gives, in the same order,
/// each one's signed receipt or the problem that refused it.
pub async fn inbox_batch(
    State(app): State<AppState>,
    client: Client,
    headers: HeaderMap,
    body: axum::body::Body,
) -> AppResult<Response> {
    let route = Route {
        binding: entraide_federation::httpsig::BodyBinding::ContentDigest,
        method: "POST",
        path: INBOX_BATCH_PATH,
        limit: MAX_BATCH_BYTES,
        what: "the batch",
    };
    let (admitted, body) = match pass(&app, client, &headers, body, &route, Vec::new()).await {
        Ok(passed) => passed,
        Err(refusal) => return Ok(refusal),
    };
    let from = &admitted.from;
    let result = receive_batch(&app, client.0, from, &body).await;
    audit_if_refused(&app, client.0, from, &result).await?;
    Ok(json_response(StatusCode::OK, &result?))
}

async fn receive_batch(
    app: &AppState,
    client: Option<IpAddr>,
    from: &Authenticated,
    body: &[u8],
) -> AppResult<proto::BatchReceipts> {
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
        match check_envelope(app, from, raw, now, false).await {
            Ok(Arrival::Seen(receipt)) => results.push(Some(proto::BatchResult::receipt(
                serde_json::to_value(&receipt).map_err(|e| AppError::Internal(e.to_string()))?,
            ))),
            Ok(Arrival::New(c)) => {
                results.push(None);
                new.push((i, c));
            }
            Err(e) => {
                let (_, code) = e.status_and_code();
                audit_refusal(app, client, &from.peer.node_id, code, &refusal_text(&e)).await?;
                results.push(Some(proto::BatchResult::problem(code, refusal_text(&e))));
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
                apply(app, from, c).await?;
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

/// Opens a received message for `principal`: decrypted, recorded as
/// retrieved, and the first time a signed retrieval receipt goes back to
/// the sender. The message as stored now, and its payload.
pub async fn retrieve(
    app: &AppState,
    principal: &Principal,
    id: Uuid,
) -> AppResult<(InboxMessage, serde_json::Value)> {
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
    let audit = principal
        .entry(AuditAction::MessageRetrieved, AuditOutcome::Success)
        .target(id.to_string());
    let retrieved_by = principal.signed_in()?.email.to_string();
    let first = app
        .store
        .mark_retrieved(id, &retrieved_by, now, &audit)
        .await?;
    if first && m.message_type != MessageKind::Receipt {
        let receipt = Receipt {
            v: 1,
            message_id: id,
            sender: m.sender.clone(),
            receiver: app.settings.node_id.to_string(),
            status: ReceiptStatus::Retrieved,
            at: now_rfc3339(),
            payload_sha256: header.payload_sha256.clone(),
        }
        .sign(app.identity.federation_key(now));
        let body = serde_json::to_vec(&receipt).map_err(|e| AppError::Internal(e.to_string()))?;
        send(
            app,
            &principal.actor(),
            &m.sender,
            MessageKind::Receipt,
            &body,
            Some(id),
            time::Duration::days(7),
        )
        .await?;
    }
    let value = serde_json::from_slice(&payload).unwrap_or(serde_json::Value::Null);
    let fresh = app.store.inbox_message(id).await?.unwrap_or(m);
    Ok((fresh, value))
}
