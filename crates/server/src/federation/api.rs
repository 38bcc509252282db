//! The federation's JSON API: this node's signed document and identity,
//! its peers (administrators add, disable and remove them), notes to a
//! peer's administrators, and the outbox and inbox with their delivery
//! evidence.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use entraide_federation::MessageKind;
use entraide_proto as proto;
use entraide_store::{InboxMessage, OutboxMessage};
use uuid::Uuid;

use super::answer::waiting_for_peer;
use super::inbox::retrieve;
use super::outbox::{deliver_now, send};
use super::peers::{
    add_peer, node_document, node_identity, parse_status, peer_view, remove, set_status,
};
use super::refresh::refresh_peer;
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::http::ApiPath;
use crate::http::{json_response, ApiJson};

/// This node's signed document: identity, address, keys, languages and
/// request types accepted. Public; peers check its signature and the
/// signing key's fingerprint.
#[utoipa::path(get, path = "/.well-known/entraide/node", tag = "federation",
    responses((status = 200, body = proto::SignedNodeDocumentView)))]
pub async fn well_known(State(app): State<AppState>) -> AppResult<Response> {
    let signed = node_document(&app).await?;
    let mut res = json_response(StatusCode::OK, &signed);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(res)
}

/// This node's identity (fingerprints to give to peers).
#[utoipa::path(get, path = "/api/v1/node", tag = "federation", security(("bearer" = [])),
    responses((status = 200, body = proto::NodeIdentityView)))]
pub async fn identity(State(app): State<AppState>) -> AppResult<Response> {
    Ok(json_response(StatusCode::OK, &node_identity(&app)))
}

#[utoipa::path(get, path = "/api/v1/peers", tag = "federation", security(("bearer" = [])),
    responses((status = 200, body = [proto::PeerView]), (status = 403, body = proto::Problem)))]
pub async fn list(State(app): State<AppState>) -> AppResult<Response> {
    let peers = app.store.peers().await?;
    let views: Vec<_> = peers.iter().map(peer_view).collect();
    Ok(json_response(StatusCode::OK, &views))
}

/// Adds a peer: its document is fetched from `url` and its signing key must
/// have the `fingerprint` its operator gave you by another channel.
#[utoipa::path(post, path = "/api/v1/peers", tag = "federation", security(("bearer" = [])),
    request_body = proto::NewPeer,
    responses((status = 201, body = proto::PeerView),
              (status = 400, body = proto::Problem, description = "`peer_is_self`, `peer_id_conflict` or `node_document_no_key`: the peer's document cannot be pinned"),
              (status = 409, body = proto::Problem, description = "`peer_exists`"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: a bad URL, or a fingerprint that does not match the peer's signing key"),
              (status = 502, body = proto::Problem, description = "`peer_unreachable`: the peer's document could not be fetched")))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<proto::NewPeer>,
) -> AppResult<Response> {
    let peer = add_peer(&app, &caller.actor(), &body.url, &body.fingerprint).await?;
    Ok(json_response(StatusCode::CREATED, &peer_view(&peer)))
}

/// Disables or enables a peer (`{"status": "disabled"}`).
#[utoipa::path(patch, path = "/api/v1/peers/{node_id}", tag = "federation", security(("bearer" = [])),
    params(("node_id" = String, Path)), request_body = proto::PeerStatus,
    responses((status = 200, body = proto::PeerView), (status = 404, body = proto::Problem, description = "no such peer"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: not `active` or `disabled`")))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(node_id): ApiPath<String>,
    ApiJson(body): ApiJson<proto::PeerStatus>,
) -> AppResult<Response> {
    set_status(&app, &caller.actor(), &node_id, parse_status(&body.status)?).await?;
    let peer = app
        .store
        .peer(&node_id)
        .await?
        .ok_or(AppError::NotFound { what: "peer" })?;
    Ok(json_response(StatusCode::OK, &peer_view(&peer)))
}

/// Forgets a peer and its pinned keys.
#[utoipa::path(delete, path = "/api/v1/peers/{node_id}", tag = "federation", security(("bearer" = [])),
    params(("node_id" = String, Path)),
    responses((status = 204, description = "forgotten"), (status = 404, body = proto::Problem, description = "no such peer")))]
pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(node_id): ApiPath<String>,
) -> AppResult<Response> {
    remove(&app, &caller.actor(), &node_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Reads a peer's document again — from `url` if given, when the peer has
/// moved — and updates its address, organisation and keys. The document
/// must be signed by the key pinned for the peer, or by the key it
/// announced it moves to (signed by the pinned one), and describe the same
/// node. Audited; what waited for the peer is tried again at once.
#[utoipa::path(post, path = "/api/v1/peers/{node_id}/refresh", tag = "federation", security(("bearer" = [])),
    params(("node_id" = String, Path)), request_body = proto::PeerRefresh,
    responses((status = 200, body = proto::PeerView, description = "the peer as its document now describes it"),
              (status = 400, body = proto::Problem, description = "`node_document_malformed`, `node_document_bad_signature` or `node_document_no_key`"),
              (status = 404, body = proto::Problem, description = "no such peer"),
              (status = 409, body = proto::Problem, description = "`peer_fingerprint_mismatch`: not signed by the pinned key; `peer_id_mismatch`: another node's document; `peer_document_outdated`: older than the one kept"),
              (status = 422, body = proto::Problem, description = "`validation_failed` (`invalid_url`)"),
              (status = 502, body = proto::Problem, description = "`peer_unreachable`, or `peer_document_invalid` with each field refused")))]
pub async fn refresh(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(node_id): ApiPath<String>,
    ApiJson(body): ApiJson<proto::PeerRefresh>,
) -> AppResult<Response> {
    let done = refresh_peer(&app, &caller.actor(), &node_id, body.url.as_deref()).await?;
    Ok(json_response(StatusCode::OK, &peer_view(&done.peer)))
}

/// Tries at once the messages waiting for a peer (its operator says it has
/// added this node now).
#[utoipa::path(post, path = "/api/v1/peers/{node_id}/deliver", tag = "federation", security(("bearer" = [])),
    params(("node_id" = String, Path)),
    responses((status = 202, body = proto::DeliverNow, description = "how many messages were waiting; they are being delivered"),
              (status = 404, body = proto::Problem, description = "no such peer")))]
pub async fn deliver(
    State(app): State<AppState>,
    ApiPath(node_id): ApiPath<String>,
) -> AppResult<Response> {
    let messages = deliver_now(&app, &node_id).await?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &proto::DeliverNow { messages },
    ))
}

fn receipt_value(text: &Option<String>) -> Option<serde_json::Value> {
    text.as_deref().and_then(|t| serde_json::from_str(t).ok())
}

pub fn outbox_view(m: &OutboxMessage) -> proto::OutboxMessageView {
    proto::OutboxMessageView {
        message_id: m.message_id,
        recipient: m.recipient.clone(),
        message_type: m.message_type.to_string(),
        status: m.status.to_string(),
        attempts: m.attempts,
        last_error: m.last_error.clone(),
        waiting_for_peer: waiting_for_peer(m),
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
    responses((status = 202, body = proto::OutboxMessageView, description = "accepted for sending"),
              (status = 404, body = proto::Problem, description = "no such peer"),
              (status = 409, body = proto::Problem, description = "`peer_disabled`"),
              (status = 422, body = proto::Problem, description = "`validation_failed` (`note_length`): a note has 1 to 10,000 characters")))]
pub async fn api_send(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(node_id): ApiPath<String>,
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
        MessageKind::Note,
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
    responses((status = 200, body = proto::OutboxMessageView), (status = 404, body = proto::Problem, description = "no such message")))]
pub async fn api_outbox(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<Response> {
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
        message_type: m.message_type.to_string(),
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
    responses((status = 200, body = proto::InboxMessageView, description = "with its decrypted `payload`"), (status = 404, body = proto::Problem, description = "no such message")))]
pub async fn api_inbox_message(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<Response> {
    let (fresh, value) = retrieve(&app, &caller.principal(), id).await?;
    Ok(json_response(
        StatusCode::OK,
        &inbox_view(&fresh, Some(value)),
    ))
}
