//! The JSON API for evidence that travels: sending a case's evidence to a
//! peer as a package.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use entraide_proto as proto;
use uuid::Uuid;

use crate::app::error::AppResult;
use crate::app::state::AppState;
use crate::evidence::exchange::send_package;
use crate::http::caller::Caller;
use crate::http::ApiPath;
use crate::http::{json_response, ApiJson};

/// Sends evidence of a case to a peer as a verified-on-arrival package.
#[utoipa::path(post, path = "/api/v1/cases/{id}/evidence/packages/send", tag = "evidence", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::SendPackage,
    responses((status = 202, body = proto::PackageSent, description = "accepted: the package is sent in the background"),
              (status = 403, body = proto::Problem, description = "`not_case_member`: only members of the case"),
              (status = 404, body = proto::Problem, description = "no such case, peer, item or request"),
              (status = 409, body = proto::Problem, description = "`request_not_with_peer`, `nothing_to_export`, `evidence_corrupted`, `peer_disabled`, or an item that cannot be exported (sealed, disposed)")))]
pub async fn api_send_package(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(case_id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<proto::SendPackage>,
) -> AppResult<Response> {
    let package_id = send_package(
        &app,
        &caller.principal(),
        case_id,
        &body.peer,
        &body.items,
        body.request_id,
    )
    .await?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &proto::PackageSent { package_id },
    ))
}
