//! Is the node alive, can it reach its database, and its metrics.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use entraide_domain::Role;
use entraide_proto as proto;

use crate::app::error::AppError;
use crate::app::state::AppState;
use crate::http::caller::{bearer, Caller};
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

/// The node's metrics (Prometheus text format).
///
/// Who may read them is configured: with `metrics_token`, a scraper
/// presenting it as `Authorization: Bearer <metrics_token>`; with
/// `metrics_listen`, only on that separate address (here: 404); with
/// neither, administrators only.
#[utoipa::path(get, path = "/metrics", tag = "operations", security(("bearer" = [])),
    responses((status = 200, description = "the metrics, in the OpenMetrics text format", content_type = "application/openmetrics-text"),
              (status = 401, body = proto::Problem, description = "`unauthenticated`: present the metrics token (or, when none is configured, an administrator's token)"),
              (status = 403, body = proto::Problem, description = "`metrics_forbidden`: neither the metrics token nor an administrator"),
              (status = 404, body = proto::Problem, description = "`not_found`: the metrics are served on their own address (`metrics_listen`)")))]
pub async fn metrics(
    State(app): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
) -> Response {
    let edge = &app.settings.edge;
    if edge.metrics_listen.is_some() {
        return AppError::NotFound { what: "route" }.into_response();
    }
    let admitted = if edge.metrics_token.is_some() {
        bearer(&headers).is_some_and(|t| edge.is_metrics_token(t))
    } else {
        caller
            .as_ref()
            .is_some_and(|c| c.roles().contains(Role::Administrator))
    };
    if admitted {
        return render_metrics(&app);
    }
    if caller.is_none() && bearer(&headers).is_none() {
        return AppError::Unauthenticated.into_response();
    }
    AppError::Forbidden {
        code: "metrics_forbidden",
        detail: if edge.metrics_token.is_some() {
            "present the metrics token: Authorization: Bearer <metrics_token>".into()
        } else {
            "only administrators may read the metrics (or configure metrics_token)".into()
        },
    }
    .into_response()
}

/// `/metrics` on its own address (`metrics_listen`): the metrics token
/// when one is configured, otherwise anyone who can reach that address.
pub async fn metrics_on_own_address(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let edge = &app.settings.edge;
    if edge.metrics_token.is_none() || bearer(&headers).is_some_and(|t| edge.is_metrics_token(t)) {
        return render_metrics(&app);
    }
    AppError::Unauthenticated.into_response()
}

fn render_metrics(app: &AppState) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}
