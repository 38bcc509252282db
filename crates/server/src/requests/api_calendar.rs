//! `GET /calendar/{key}`: the iCalendar feed, for calendar applications.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::calendar::feed_for_key;
use crate::app::error::AppResult;
use crate::app::state::AppState;
use crate::http::ApiPath;

pub async fn ics(
    State(app): State<AppState>,
    ApiPath(key): ApiPath<String>,
) -> AppResult<Response> {
    let body = feed_for_key(&app, &key).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
        .into_response())
}
