//! The directory over JSON.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use entraide_proto as proto;

use super::service::{search, DirectoryQuery};
use crate::app::error::AppResult;
use crate::app::state::AppState;
use crate::http::json_response;
use crate::http::ApiQuery;

/// The directory of organisations this node knows.
#[utoipa::path(get, path = "/api/v1/directory", tag = "federation", security(("bearer" = [])),
    params(DirectoryQuery),
    responses((status = 200, body = [proto::DirectoryEntry])))]
pub async fn api(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<DirectoryQuery>,
) -> AppResult<Response> {
    let entries = search(&app, &q).await?;
    Ok(json_response(StatusCode::OK, &entries))
}
