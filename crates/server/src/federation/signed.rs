//! HTTP between nodes, signed (RFC 9421): the requests this node sends,
//! signed with its current key, and the check of those it receives —
//! from pinned, active peers only, with either of a peer's valid keys.
//! Whatever is refused is audited under the node the signature names.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use entraide_domain::{AuditAction, AuditOutcome};
use entraide_evidence::PublicKey;
use entraide_federation::httpsig::{self, BodyBinding, SignatureHeaders};
use entraide_federation::Envelope;
use reqwest::StatusCode;
use time::OffsetDateTime;

use super::peers::{base_url, peer_keys};
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

pub(crate) async fn audit_refusal(
    app: &AppState,
    sender: &str,
    code: &str,
    detail: &str,
) -> AppResult<()> {
    // What a stranger sends is kept bounded: a key id or a detail of any
    // length would otherwise be stored as given.
    let bounded = |s: &str, max: usize| s.chars().take(max).collect::<String>();
    let entry = Actor::anonymous(None, None)
        .entry(AuditAction::MessageRefused, AuditOutcome::Denied)
        .target(bounded(sender, 128))
        .detail(serde_json::json!({ "code": code, "detail": bounded(detail, 2000) }));
    app.store.append_audit(&entry).await?;
    tracing::warn!(sender = %bounded(sender, 128), code, "message from another node refused");
    Ok(())
}

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
        audit_refusal(app, &sender, code, &refusal_text(e)).await?;
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
    let keys = peer_keys(app, &peer, now).await?;
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
