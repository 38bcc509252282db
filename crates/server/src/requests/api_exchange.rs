//! The JSON API for requests that travel: sending an approved request to
//! a peer.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use entraide_proto as proto;
use uuid::Uuid;

use crate::app::error::AppResult;
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::http::ApiPath;
use crate::http::{json_response, ApiJson};
use crate::requests::exchange::send_request;
use crate::requests::service::full_view;

/// Sends an approved request to a peer (marking it sent).
#[utoipa::path(post, path = "/api/v1/requests/{id}/send", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::SendToPeer,
    responses((status = 200, body = proto::RequestView, description = "the request, marked sent (delivery goes on in the background)"),
              (status = 404, body = proto::Problem, description = "no such request in your cases, or no such peer"),
              (status = 409, body = proto::Problem, description = "`not_outgoing`, `already_sent`, `peer_does_not_accept` (the peer does not take this kind), `peer_disabled`, or the request is not approved")))]
pub async fn api_send(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<proto::SendToPeer>,
) -> AppResult<Response> {
    let r = send_request(&app, &caller.principal(), id, &body.peer).await?;
    Ok(json_response(StatusCode::OK, &full_view(&app, &r).await?))
}
