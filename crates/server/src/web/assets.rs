//! The stylesheet, script and htmx, compiled into the binary.

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub async fn static_css() -> Response {
    static_file(
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    )
}

pub async fn static_js() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    )
}

pub async fn static_htmx() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../static/vendor/htmx.min.js"),
    )
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
