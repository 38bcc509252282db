//! Error pages: errors of page routes become pages in the reader's
//! language, and unknown addresses a "not found" page.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use entraide_domain::Locale;

use crate::app::error::{AppError, ErrorInfo};
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::http::caller::{pick_locale, resolve, Caller, RequestContext, Resolved};
use crate::web::forms::{anonymous_csrf, see_other, urlencode, with_cookie};
use crate::web::page::{org_name, render_status, Nav};

/// Turns error responses of UI routes into pages in the reader's language:
/// 401 sends to the sign-in page, other errors show an explanation.
pub async fn render_errors(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| path.clone());
    let headers = req.headers().clone();
    let is_get = req.method() == axum::http::Method::GET;
    let res = next.run(req).await;
    let Some(info) = res.extensions().get::<ErrorInfo>().cloned() else {
        return res;
    };
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !is_problem {
        return res;
    }
    let locale = res
        .extensions()
        .get::<Locale>()
        .copied()
        .unwrap_or_else(|| pick_locale(&headers, None));
    // An administrator reset the password: choose a new one first.
    if info.code == "password_change_required" {
        let next = if is_get { path_and_query } else { "/".into() };
        return see_other(&format!("/signin/password?next={}", urlencode(&next)));
    }
    if info.status == StatusCode::UNAUTHORIZED {
        let reason = if info.code == "session_expired" {
            "expired"
        } else {
            "required"
        };
        let next = if is_get { path_and_query } else { "/".into() };
        let to = format!("/signin?reason={reason}&next={}", urlencode(&next));
        return see_other(&to);
    }
    let tr = Tr::new(app.i18n.clone(), locale);
    let (nav, set_cookie) = match res.extensions().get::<Caller>() {
        Some(caller) => {
            let org = org_name(&app).await.unwrap_or_default();
            (Nav::for_caller(caller, &path, org), None)
        }
        None => {
            let (csrf, set_cookie) = anonymous_csrf(&app, &headers);
            (Nav::anonymous(csrf, &path), set_cookie)
        }
    };
    let view = ErrorPage {
        message: tr.error(info.code, &info.detail),
        status: info.status.as_u16(),
        code: info.code.to_owned(),
        nav,
        tr,
    };
    with_cookie(render_status(info.status, &view), set_cookie)
}

pub async fn not_found(
    State(app): State<AppState>,
    headers: HeaderMap,
    req_path: axum::http::Uri,
) -> Response {
    if req_path.path().starts_with("/api/") || req_path.path() == "/api" {
        return AppError::NotFound { what: "route" }.into_response();
    }
    let ctx = RequestContext::default();
    let caller = match resolve(&app, &headers, &ctx, false).await {
        Ok(Resolved::SignedIn(c)) => Some(*c),
        _ => None,
    };
    let tr = Tr::new(
        app.i18n.clone(),
        pick_locale(&headers, caller.as_ref().map(|c| &c.user)),
    );
    let (nav, set_cookie) = match &caller {
        Some(c) => (
            Nav::for_caller(c, req_path.path(), org_name(&app).await.unwrap_or_default()),
            None,
        ),
        None => {
            let (csrf, set_cookie) = anonymous_csrf(&app, &headers);
            (Nav::anonymous(csrf, req_path.path()), set_cookie)
        }
    };
    let view = ErrorPage {
        message: tr.t("error-page-not-found"),
        status: 404,
        code: "not_found".into(),
        nav,
        tr,
    };
    with_cookie(render_status(StatusCode::NOT_FOUND, &view), set_cookie)
}

#[derive(Template)]
#[template(path = "web/error.html")]
struct ErrorPage {
    tr: Tr,
    nav: Nav,
    message: String,
    status: u16,
    code: String,
}
