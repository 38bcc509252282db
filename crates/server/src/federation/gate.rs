//! The gate every request from another node passes before its body is
//! read. The signature (RFC 9421) covers the method, the target and the
//! header field that binds the body, so it can be checked from the headers
//! alone: who signed, with a pinned, active peer's key, freshly, and never
//! before. Only then is a place taken among the bodies its client address
//! may have read at once, and the body read — within a deadline, up to the
//! route's limit — and checked against the field the signature covers.
//! A stranger's body is never read into memory nor anything of it stored:
//! its refusal is audited in summary (`refusals`).
//!
//! A refusal must reach the caller. A client still sending the body when
//! the answer is written would otherwise find the connection reset under
//! it: the node closes a connection whose body it did not read, the
//! unread bytes make the kernel send a reset, and the reset discards the
//! answer on the client's side before it is read. So the answer goes out
//! at once, with `Connection: close`, and the body is drained in the
//! background — up to the largest body a node sends, for a few seconds,
//! as many at once per address as bodies are read — before the connection
//! closes.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use entraide_domain::NodeId;
use entraide_federation::attachment::{CHUNK_BYTES_MAX, TAG_BYTES};
use entraide_federation::httpsig::{self, BodyBinding, HttpSigError, SignatureHeaders};
use time::OffsetDateTime;

use super::peers::{base_url, peer_keys};
use super::refusals::note;
use super::signed::{pinned_sender, refused, Authenticated};
use crate::app::body_reads::{BodyRead, Purpose};
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

/// Header fields longer than any a node sends are refused unread.
const MAX_SIGNATURE_INPUT: usize = 512;
const MAX_SIGNATURE: usize = 128;
const MAX_BODY_FIELD: usize = 128;
/// A refused body is drained up to the largest body a node sends (a
/// chunk of the largest size, with its tag, and a little room)...
const DRAIN_BYTES: u64 = CHUNK_BYTES_MAX + TAG_BYTES as u64 + 64 * 1024;
/// ...for at most this long.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The client's address, when the node serves with one.
#[derive(Debug, Clone, Copy)]
pub struct Client(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let connect = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(Self(connect.map(|c| c.0.ip())))
    }
}

/// What a route takes: the request's method and path as signed, the field
/// that binds its body, and the largest body it reads.
pub(crate) struct Route<'a> {
    pub binding: BodyBinding,
    pub method: &'static str,
    pub path: &'a str,
    pub limit: usize,
    /// What the body is, for messages (`the envelope`).
    pub what: &'static str,
}

/// A request signed by a pinned, active peer, seen for the first time;
/// its body not read yet. It holds one of its address's places.
pub(crate) struct Admitted {
    pub from: Authenticated,
    binding: BodyBinding,
    signed: SignatureHeaders,
    limit: usize,
    what: &'static str,
    deadline: Duration,
    _place: BodyRead,
}

/// The request's signature headers, each present and of a sensible size.
fn signature_headers(headers: &HeaderMap, binding: BodyBinding) -> AppResult<SignatureHeaders> {
    let field = |name: &str, max: usize| -> AppResult<Option<String>> {
        let Some(v) = headers.get(name) else {
            return Ok(None);
        };
        let v = v.to_str().ok().filter(|v| v.len() <= max).ok_or_else(|| {
            refused(
                "request_signature_malformed",
                format!("the {name} field is not a signature field of a node"),
            )
        })?;
        Ok(Some(v.to_owned()))
    };
    let (Some(body_field), Some(signature_input), Some(signature)) = (
        field(binding.header(), MAX_BODY_FIELD)?,
        field("signature-input", MAX_SIGNATURE_INPUT)?,
        field("signature", MAX_SIGNATURE)?,
    ) else {
        return Err(refused(
            "request_unsigned",
            HttpSigError::Missing.to_string(),
        ));
    };
    Ok(SignatureHeaders {
        body_field,
        signature_input,
        signature,
    })
}

fn invalid(e: &HttpSigError) -> AppError {
    let code = match e {
        HttpSigError::Malformed(_) => "request_signature_malformed",
        _ => "request_signature_invalid",
    };
    refused(code, e.to_string())
}

/// Lets a request through to its body, or refuses it; nothing of the body
/// is read here. In order (cheapest first, the database last): the
/// signature fields, the key id's form, the validity window, the sender (a
/// pinned, active peer), the signature with the sender's keys, the
/// declared size, a place for the client's address, and — the one write —
/// the signature recorded as seen (a replay is refused).
pub(crate) async fn admit(
    app: &AppState,
    client: Client,
    headers: &HeaderMap,
    route: &Route<'_>,
) -> AppResult<Admitted> {
    let signed = signature_headers(headers, route.binding)?;
    let params = httpsig::signature_params(route.binding, &signed.signature_input)
        .map_err(|e| invalid(&e))?;
    if NodeId::parse(&params.keyid).map(|id| id.as_str() == params.keyid) != Ok(true) {
        return Err(refused(
            "request_signature_malformed",
            "the key id is not a node id".into(),
        ));
    }
    let now = OffsetDateTime::now_utc();
    httpsig::check_time(&params, now.unix_timestamp()).map_err(|e| invalid(&e))?;
    let peer = pinned_sender(app, &signed.signature_input).await?;
    let keys = peer_keys(app, &peer, now).await?;
    let target = format!("{}{}", base_url(app), route.path);
    let mut last = HttpSigError::BadSignature;
    let mut key = None;
    for k in &keys {
        let at = now.unix_timestamp();
        match httpsig::verify_signature(route.binding, k, route.method, &target, &signed, at) {
            Ok(_) => {
                key = Some(*k);
                break;
            }
            Err(e) => last = e,
        }
    }
    let Some(key) = key else {
        return Err(invalid(&last));
    };
    if declared_length(headers).is_some_and(|n| n > route.limit as u64) {
        return Err(AppError::PayloadTooLarge);
    }
    let limit = app.settings.federation.body_reads_per_address;
    let place = app
        .body_reads
        .try_start(Purpose::Read, client.0, limit)
        .ok_or_else(|| AppError::TooManyConnections {
            detail: format!(
                "{limit} requests from this address are being read already; try again shortly"
            ),
        })?;
    // Recorded before the body is read: a replay is refused unread. A
    // sender that retries signs again (with a new nonce), so its retry is
    // never taken for a replay.
    let seen = httpsig::signature_id(&signed.signature).map_err(|e| invalid(&e))?;
    let expires = OffsetDateTime::from_unix_timestamp(params.expires)
        .map_err(|_| invalid(&HttpSigError::OutOfTime))?;
    if !app
        .store
        .record_signature(&seen, &peer.node_id, expires)
        .await?
    {
        return Err(AppError::Conflict {
            code: "request_replayed",
            detail: "this signed request was received before; a request is signed afresh each time it is sent".into(),
        });
    }
    Ok(Admitted {
        from: Authenticated { peer, keys, key },
        binding: route.binding,
        signed,
        limit: route.limit,
        what: route.what,
        deadline: app.settings.federation.body_read_timeout,
        _place: place,
    })
}

/// The body's length as the request declares it.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

impl Admitted {
    /// Reads the body into `buf` (emptied first), within the deadline and
    /// the route's limit, and checks it against the field the signature
    /// covers. On a refusal the buffer comes back with the error.
    pub(crate) async fn read(
        &self,
        body: axum::body::Body,
        mut buf: Vec<u8>,
    ) -> Result<Vec<u8>, (AppError, Vec<u8>)> {
        use futures_util::StreamExt;
        buf.clear();
        let mut frames = body.into_data_stream();
        let reading = async {
            while let Some(frame) = frames.next().await {
                let frame = frame.map_err(|e| {
                    refused("request_body_unreadable", format!("{}: {e}", self.what))
                })?;
                if buf.len() + frame.len() > self.limit {
                    return Err(AppError::PayloadTooLarge);
                }
                buf.extend_from_slice(&frame);
            }
            Ok(())
        };
        let read = match tokio::time::timeout(self.deadline, reading).await {
            Ok(read) => read,
            Err(_) => Err(AppError::BodyReadTimeout),
        };
        if let Err(e) = read {
            return Err((e, buf));
        }
        match httpsig::check_body(self.binding, &self.signed, &buf) {
            Ok(()) => Ok(buf),
            Err(e) => Err((invalid(&e), buf)),
        }
    }
}

/// Admits a request (`admit`) and reads its body into `buf` (`read`); or
/// the answer that refuses it, audited in summary.
pub(crate) async fn pass(
    app: &AppState,
    client: Client,
    headers: &HeaderMap,
    body: Body,
    route: &Route<'_>,
    buf: Vec<u8>,
) -> Result<(Admitted, Vec<u8>), Response> {
    let admitted = match admit(app, client, headers, route).await {
        Ok(a) => a,
        Err(e) => return Err(refuse(app, client, headers, e, Some(body)).await),
    };
    match admitted.read(body, buf).await {
        Ok(body) => Ok((admitted, body)),
        Err((e, _)) => Err(refuse(app, client, headers, e, None).await),
    }
}

/// Audits the refusal of a request from `client` (in summary) and answers
/// it; `body`, when the refusal comes before it was read, is drained after
/// the answer.
pub(crate) async fn refuse(
    app: &AppState,
    client: Client,
    headers: &HeaderMap,
    error: AppError,
    body: Option<Body>,
) -> Response {
    note(app, client.0, headers, &error).await;
    let mut res = error.into_response();
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    if let Some(body) = body {
        drain_later(app, client, headers, body);
    }
    res
}

/// Reads and discards what the client still sends, so that the answer is
/// not reset under it; bounded in bytes, time and places per address.
fn drain_later(app: &AppState, client: Client, headers: &HeaderMap, body: Body) {
    if declared_length(headers).is_some_and(|n| n > DRAIN_BYTES) {
        // More than any node sends: not worth reading.
        return;
    }
    let limit = app.settings.federation.body_reads_per_address;
    let Some(place) = app.body_reads.try_start(Purpose::Drain, client.0, limit) else {
        return;
    };
    tokio::spawn(async move {
        use futures_util::StreamExt;
        let _place = place;
        let mut frames = body.into_data_stream();
        let mut drained: u64 = 0;
        let _ = tokio::time::timeout(DRAIN_TIME, async {
            while let Some(Ok(frame)) = frames.next().await {
                drained += frame.len() as u64;
                if drained > DRAIN_BYTES {
                    break;
                }
            }
        })
        .await;
    });
}
