//! The JSON API of the enforcing authority of a European Production Order
//! (Regulation (EU) 2023/1543 arts. 8, 10(4), 12): its notification and
//! its answer. Thin handlers over `enforcing`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use entraide_domain::request::ObjectionEffect;
use entraide_proto as proto;
use uuid::Uuid;

use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::http::ApiPath;
use crate::http::{json_response, ApiJson};
use crate::requests::clocks::parse_occurred_at;
use crate::requests::enforcing;
use crate::requests::service::full_view;

/// Records that the enforcing authority was notified of a European
/// Production Order this node issued (art. 8(1)), which opens its window to
/// object: 96 hours in an emergency (art. 10(4)), 10 days otherwise (art.
/// 12(1)), from the notification.
#[utoipa::path(post, path = "/api/v1/requests/{id}/enforcing-authority", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::NotifyEnforcingAuthority,
    responses((status = 200, body = proto::RequestView, description = "the order, with `enforcing_authority` and its `objection_window`"),
              (status = 404, body = proto::Problem, description = "no such request, or not in one of your cases"),
              (status = 409, body = proto::Problem, description = "`not_a_european_production_order` (not an order this node issued under Regulation (EU) 2023/1543), `order_not_sent`, `already_notified`"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: `occurred_at` refused (`invalid_datetime`, `event_time_in_future`, `event_time_before_previous`: before the order was approved)")))]
pub async fn api_notify(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<proto::NotifyEnforcingAuthority>,
) -> AppResult<Response> {
    let occurred_at = parse_occurred_at(body.occurred_at.as_deref())?;
    let r = enforcing::notify(
        &app,
        &caller.principal(),
        id,
        occurred_at,
        body.note.as_deref(),
    )
    .await?;
    Ok(json_response(StatusCode::OK, &full_view(&app, &r).await?))
}

/// Records what the enforcing authority answered, and its effect: none,
/// the data deleted or their use restricted, or conditions (arts. 10(2),
/// 10(4), 12(2), 12(4)). An answer after the window is recorded, marked
/// `late`.
#[utoipa::path(post, path = "/api/v1/requests/{id}/objection", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::RecordObjection,
    responses((status = 200, body = proto::RequestView, description = "the order, with the answer in `enforcing_authority.objection`"),
              (status = 404, body = proto::Problem, description = "no such request, or not in one of your cases"),
              (status = 409, body = proto::Problem, description = "`not_notified` (record the notification first), `objection_already_recorded`"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: `effect` unknown (`invalid_objection_effect`), `conditions` missing for `conditions` (`required`) or too long, `occurred_at` refused (`invalid_datetime`, `event_time_in_future`, `event_time_before_previous`: before the notification)")))]
pub async fn api_objection(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<proto::RecordObjection>,
) -> AppResult<Response> {
    let effect: ObjectionEffect = body
        .effect
        .parse()
        .map_err(|e| AppError::Validation(vec![AppError::field("effect", e)]))?;
    let occurred_at = parse_occurred_at(body.occurred_at.as_deref())?;
    let r = enforcing::record_objection(
        &app,
        &caller.principal(),
        id,
        effect,
        body.conditions.as_deref(),
        occurred_at,
        body.note.as_deref(),
    )
    .await?;
    Ok(json_response(StatusCode::OK, &full_view(&app, &r).await?))
}
