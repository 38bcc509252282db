//! HTTP between nodes, signed (RFC 9421): the requests this node sends,
//! signed with its current key, and what the checks of those it receives
//! share — the pinned, active sender, opening envelopes with either of a
//! peer's valid keys, and the audit of refusals under the node the
//! signature names. The checks themselves, before any body is read, are
//! the gate's (`gate`).

use std::net::IpAddr;
use std::time::Duration;

use axum::body::Bytes;
use entraide_domain::{AuditAction, AuditOutcome};
use entraide_evidence::PublicKey;
use entraide_federation::httpsig::{self, BodyBinding};
use entraide_federation::Envelope;
use reqwest::StatusCode;
use time::OffsetDateTime;

use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

/// How long a delivery may take before it is given up for this round.
pub(crate) const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

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

/// The stable code of a refusal from a peer (its problem+json), or the
/// HTTP status when it gave none.
pub(crate) fn problem_code(text: &str, status: StatusCode) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
        .unwrap_or_else(|| status.to_string())
}

pub(crate) fn refused(code: &'static str, detail: String) -> AppError {
    AppError::BadRequest { code, detail }
}

/// Audits one refusal of what an authenticated peer sent (an envelope, a
/// chunk), or of a stored message that could not be applied: one row each,
/// with what was refused — a pinned peer answers for what it signs.
/// Refusals at the gate, before a sender is authenticated, are summarised
/// instead (`refusals`).
pub(crate) async fn audit_refusal(
    app: &AppState,
    client: Option<IpAddr>,
    sender: &str,
    code: &str,
    detail: &str,
) -> AppResult<()> {
    // Bounded all the same: a detail can quote what was sent.
    let bounded = |s: &str, max: usize| s.chars().take(max).collect::<String>();
    let entry = Actor::anonymous(client.map(|c| c.to_string()), None)
        .entry(AuditAction::MessageRefused, AuditOutcome::Denied)
        .target(bounded(sender, 128))
        .detail(serde_json::json!({ "code": code, "detail": bounded(detail, 2000) }));
    app.store.append_audit(&entry).await?;
    tracing::warn!(sender = %bounded(sender, 128), code, "message from another node refused");
    Ok(())
}

/// Audits the refusal of what `from` sent, if `result` is one.
pub(crate) async fn audit_if_refused<T>(
    app: &AppState,
    client: Option<IpAddr>,
    from: &Authenticated,
    result: &AppResult<T>,
) -> AppResult<()> {
    if let Err(e) = result {
        let (_, code) = e.status_and_code();
        audit_refusal(app, client, &from.peer.node_id, code, &refusal_text(e)).await?;
    }
    Ok(())
}

/// A refusal as audited: each refused field as `path: message (code)`, the
/// path and code those of the API's problem (`content.identifiers[0].at`).
pub(crate) fn refusal_text(e: &AppError) -> String {
    match e {
        AppError::Validation(fields) if !fields.is_empty() => {
            let fields: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {} ({})", f.field, f.message, f.code))
                .collect();
            format!("{e}: {}", fields.join("; "))
        }
        other => other.to_string(),
    }
}

/// A pinned, active peer whose HTTP signature on this request holds.
pub(crate) struct Authenticated {
    pub(crate) peer: entraide_store::Peer,
    /// The peer's keys valid now (two during a rotation's overlap).
    pub(crate) keys: Vec<PublicKey>,
    /// The one that signed the request.
    pub(crate) key: PublicKey,
}

/// The active, pinned peer a request's `Signature-Input` names; anything
/// else is refused.
pub(crate) async fn pinned_sender(
    app: &AppState,
    signature_input: &str,
) -> AppResult<entraide_store::Peer> {
    let keyid = httpsig::keyid(signature_input)
        .map_err(|e| refused("request_signature_malformed", e.to_string()))?;
    match app.store.peer(&keyid).await? {
        Some(p) if p.status == entraide_federation::PeerStatus::Active => Ok(p),
        Some(_) => Err(refused(
            "sender_disabled",
            format!("{keyid} is disabled here"),
        )),
        None => Err(AppError::ForbiddenSender {
            detail: format!("{keyid} is not a peer of this node"),
        }),
    }
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
