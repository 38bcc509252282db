//! Statistics over JSON, CSV and XLSX.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use entraide_proto as proto;

use super::statistics::{compute, csv, xlsx, PeriodQuery};
use crate::app::error::AppResult;
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::http::json_response;
use crate::http::ApiQuery;

/// Statistics of requests created in the period (analysts, officers,
/// approvers): counts, times to acknowledgement, first data and completion.
#[utoipa::path(get, path = "/api/v1/statistics", tag = "requests", security(("bearer" = [])),
    params(PeriodQuery), responses((status = 200, description = "statistics", content_type = "application/json"), (status = 422, body = proto::Problem, description = "`validation_failed`: `from` or `to` is not a date or RFC 3339 time, or the period ends before it starts")))]
pub async fn api(
    State(app): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> AppResult<Response> {
    Ok(json_response(StatusCode::OK, &compute(&app, &q).await?))
}

/// The same figures as CSV (one line per measure).
#[utoipa::path(get, path = "/api/v1/statistics/export.csv", tag = "requests", security(("bearer" = [])),
    params(PeriodQuery), responses((status = 200, content_type = "text/csv", body = String, description = "one line per measure"), (status = 422, body = proto::Problem, description = "`validation_failed`: `from` or `to` is not a date or RFC 3339 time, or the period ends before it starts")))]
pub async fn api_csv(
    State(app): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> AppResult<Response> {
    Ok(csv_response(csv(&compute(&app, &q).await?)))
}

/// The same figures as an Excel workbook.
#[utoipa::path(get, path = "/api/v1/statistics/export.xlsx", tag = "requests", security(("bearer" = [])),
    params(PeriodQuery),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>, description = "the workbook"), (status = 422, body = proto::Problem, description = "`validation_failed`: `from` or `to` is not a date or RFC 3339 time, or the period ends before it starts")))]
pub async fn api_xlsx(
    State(app): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> AppResult<Response> {
    Ok(xlsx_response(xlsx(&compute(&app, &q).await?)?))
}

pub fn xlsx_response(bytes: Vec<u8>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"entraide-statistics.xlsx\"",
            ),
        ],
        bytes,
    )
        .into_response()
}

pub fn csv_response(out: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"entraide-statistics.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}
