//! Is the node alive, can it reach its database, and its metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use entraide_proto as proto;

use crate::app::state::AppState;
use crate::http::middleware::json_response;
use crate::http::problem::{problem, problem_response};

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = proto::Health)))]
pub async fn healthz() -> Response {
    json_response(
        StatusCode::OK,
        &proto::Health {
            status: "alive".into(),
        },
    )
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = proto::Health), (status = 503, body = proto::Problem)))]
pub async fn readyz(State(app): State<AppState>) -> Response {
    match app.store.ping().await {
        Ok(()) => json_response(
            StatusCode::OK,
            &proto::Health {
                status: "ready".into(),
            },
        ),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            let p = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database does not answer".into(),
                vec![],
            );
            problem_response(StatusCode::SERVICE_UNAVAILABLE, &p)
        }
    }
}

pub async fn metrics(State(app): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}
