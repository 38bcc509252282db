//! The web interface: server-rendered pages (askama), progressive
//! enhancement with htmx, English/French/Spanish. Every state-changing form
//! carries a CSRF token: the session's own once signed in, a double-submit
//! cookie before (sign-in, language).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use entraide_domain::{
    AuditAction, AuditOutcome, CaseAccess, DisplayName, Email, Locale, NewPassword, Role, RoleSet,
};
use entraide_proto as proto;
use entraide_store::{Session, User};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api;
use crate::auth;
use crate::caller::{
    cookie, Anonymous, Caller, RequestContext, Via, CSRF_COOKIE, LANG_COOKIE, SESSION_COOKIE,
};
use crate::error::{AppError, AppResult, ErrorInfo, Fields};
use crate::i18n::Tr;
use crate::ops::{self, AuditEntryExt};
use crate::state::AppState;

// ---------------------------------------------------------------- plumbing

/// What the layout needs on every page.
pub struct Nav {
    pub signed_in: bool,
    /// Where the language switcher brings the reader back.
    pub here: String,
    pub display_name: String,
    pub email: String,
    pub csrf: String,
    pub path: String,
    pub is_admin: bool,
    pub is_auditor: bool,
    pub opens_cases: bool,
    pub sees_statistics: bool,
    pub org_name: String,
}

impl Nav {
    fn for_caller(caller: &Caller, path: &str, org_name: String) -> Self {
        let roles = caller.roles();
        Self {
            signed_in: true,
            here: caller.ctx.here.clone().unwrap_or_else(|| path.to_owned()),
            display_name: caller.user.display_name.to_string(),
            email: caller.user.email.to_string(),
            csrf: caller.csrf_token().to_owned(),
            path: path.to_owned(),
            is_admin: roles.contains(Role::Administrator),
            is_auditor: roles.contains(Role::Auditor),
            opens_cases: roles.intersects(opens_cases_roles()),
            sees_statistics: roles.intersects(RoleSet::of(&[
                Role::Analyst,
                Role::Officer,
                Role::Approver,
            ])),
            org_name,
        }
    }

    fn anonymous(csrf: String, path: &str) -> Self {
        Self {
            signed_in: false,
            here: path.to_owned(),
            display_name: String::new(),
            email: String::new(),
            csrf,
            path: path.to_owned(),
            is_admin: false,
            is_auditor: false,
            opens_cases: false,
            sees_statistics: false,
            org_name: String::new(),
        }
    }
}

fn opens_cases_roles() -> RoleSet {
    RoleSet::of(&[Role::Officer, Role::Approver, Role::Custodian])
}

/// Per-field messages for a form shown again.
#[derive(Debug, Default)]
pub struct FormErrors {
    pub(crate) by_field: HashMap<String, String>,
    pub general: Option<String>,
}

impl FormErrors {
    pub fn get(&self, field: &str) -> Option<&String> {
        self.by_field.get(field)
    }

    pub fn has(&self, field: &str) -> bool {
        self.by_field.contains_key(field)
    }

    pub fn any(&self) -> bool {
        self.general.is_some() || !self.by_field.is_empty()
    }

    pub(crate) fn from_error(tr: &Tr, err: &AppError, field_for_conflict: &str) -> Option<Self> {
        let mut errors = FormErrors::default();
        match err {
            AppError::Validation(list) => {
                for e in list {
                    errors
                        .by_field
                        .entry(e.field.clone())
                        .or_insert_with(|| tr.error(&e.code, &e.message));
                }
            }
            AppError::Conflict { code, detail } => {
                errors
                    .by_field
                    .insert(field_for_conflict.to_owned(), tr.error(code, detail));
            }
            _ => return None,
        }
        Some(errors)
    }
}

pub(crate) fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => AppError::Internal(format!("template failed: {e}")).into_response(),
    }
}

pub(crate) fn render_status<T: Template>(status: StatusCode, t: &T) -> Response {
    let mut res = render(t);
    *res.status_mut() = status;
    res
}

/// A form body; a malformed one is a plain 400 with a stable code.
pub struct UiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for UiForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(v)| UiForm(v))
            .map_err(|r| match r.status() {
                StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
                _ => AppError::BadRequest {
                    code: "malformed_form",
                    detail: r.body_text(),
                },
            })
    }
}

pub(crate) fn check_csrf(caller: &Caller, submitted: &str) -> AppResult<()> {
    match &caller.via {
        Via::Session { csrf_token, .. }
            if auth::constant_time_eq(csrf_token.as_bytes(), submitted.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(AppError::CsrfRejected),
    }
}

/// Double-submit check for forms shown before sign-in.
fn check_anonymous_csrf(headers: &HeaderMap, submitted: &str) -> AppResult<()> {
    match cookie(headers, CSRF_COOKIE) {
        Some(c) if !c.is_empty() && auth::constant_time_eq(c.as_bytes(), submitted.as_bytes()) => {
            Ok(())
        }
        _ => Err(AppError::CsrfRejected),
    }
}

/// The double-submit token for an anonymous page, and the cookie to set
/// when the browser does not have one yet.
fn anonymous_csrf(app: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, CSRF_COOKIE) {
        Some(c) if c.len() >= 32 && c.len() <= 64 => (c.to_owned(), None),
        _ => {
            let token = auth::random_token(32);
            let secure = if app.secure_cookies { "; Secure" } else { "" };
            let value = format!("{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}");
            (token, HeaderValue::from_str(&value).ok())
        }
    }
}

fn with_cookie(mut res: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// Only local paths, never `//host` or a scheme: no open redirects.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() < 512 =>
        {
            n.to_owned()
        }
        _ => "/".into(),
    }
}

pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

async fn org_name(app: &AppState) -> AppResult<String> {
    Ok(app.store.own_organisation().await?.name.to_string())
}

pub(crate) struct Page {
    pub(crate) tr: Tr,
    pub(crate) nav: Nav,
}

pub(crate) async fn page(
    app: &AppState,
    caller: &Caller,
    locale: Locale,
    path: &str,
) -> AppResult<Page> {
    Ok(Page {
        tr: Tr::new(app.i18n.clone(), locale),
        nav: Nav::for_caller(caller, path, org_name(app).await?),
    })
}

/// "case.member_added" → the translated "audit-action-case-member-added".
fn action_label(tr: &Tr, action: &str) -> String {
    let id = format!("audit-action-{}", action.replace(['.', '_'], "-"));
    let label = tr.t(&id);
    if label == id {
        action.to_owned()
    } else {
        label
    }
}

fn fmt_time_short(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

pub(crate) fn fmt_time(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

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
        .unwrap_or_else(|| crate::caller::pick_locale(&headers, None));
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

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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
    let caller = match crate::caller::resolve(&app, &headers, &ctx).await {
        Ok(crate::caller::Resolved::SignedIn(c)) => Some(*c),
        _ => None,
    };
    let tr = Tr::new(
        app.i18n.clone(),
        crate::caller::pick_locale(&headers, caller.as_ref().map(|c| &c.user)),
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
#[template(path = "error.html")]
struct ErrorPage {
    tr: Tr,
    nav: Nav,
    message: String,
    status: u16,
    code: String,
}

// ---------------------------------------------------------------- static

pub async fn static_css() -> Response {
    static_file("text/css; charset=utf-8", include_str!("../../static/app.css"))
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

// ---------------------------------------------------------------- sign-in

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    tr: Tr,
    nav: Nav,
    email: String,
    next: String,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct SignInQuery {
    next: Option<String>,
    reason: Option<String>,
}

pub async fn signin_form(
    State(app): State<AppState>,
    headers: HeaderMap,
    locale: axum::Extension<Locale>,
    Query(q): Query<SignInQuery>,
) -> Response {
    let tr = Tr::new(app.i18n.clone(), locale.0);
    let notice = match q.reason.as_deref() {
        Some("expired") => Some(tr.t("signin-notice-expired")),
        Some("required") => Some(tr.t("signin-notice-required")),
        Some("signed-out") => Some(tr.t("signin-notice-signed-out")),
        _ => None,
    };
    let (csrf, set_cookie) = anonymous_csrf(&app, &headers);
    let view = SignInPage {
        nav: Nav::anonymous(csrf, "/signin"),
        tr,
        email: String::new(),
        next: safe_next(q.next.as_deref()),
        notice,
        error: None,
    };
    with_cookie(render(&view), set_cookie)
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

/// Outcome of checking a password: shared by the UI and the tests.
pub enum PasswordCheck {
    Accepted(Box<User>),
    Refused(AppError),
}

/// Checks e-mail and password with throttling per address and lockout per
/// account; every outcome is audited.
pub async fn check_password(
    app: &AppState,
    ctx: &RequestContext,
    email: &str,
    password: &str,
) -> AppResult<PasswordCheck> {
    let throttle_key = ctx.client_ip.clone().unwrap_or_default();
    if let Err(retry_after) = app.sign_in_throttle.hit(&throttle_key) {
        let entry = ctx
            .anonymous_actor()
            .entry(AuditAction::SignInFailed, AuditOutcome::Denied)
            .target(email.chars().take(254).collect::<String>())
            .detail(serde_json::json!({ "reason": "throttled" }));
        app.store.append_audit(&entry).await?;
        return Ok(PasswordCheck::Refused(AppError::TooManyAttempts {
            retry_after,
        }));
    }
    let user = match Email::parse(email) {
        Ok(e) => app.store.user_by_email(&e).await?,
        Err(_) => None,
    };
    let Some(user) = user else {
        // Same work as a real check, so timing does not reveal accounts.
        ops::verify_password((*app.decoy_hash).clone(), password.to_owned()).await?;
        let entry = ctx
            .anonymous_actor()
            .entry(AuditAction::SignInFailed, AuditOutcome::Failure)
            .target(email.chars().take(254).collect::<String>())
            .detail(serde_json::json!({ "reason": "unknown account" }));
        app.store.append_audit(&entry).await?;
        return Ok(PasswordCheck::Refused(AppError::InvalidCredentials));
    };
    let now = OffsetDateTime::now_utc();
    let actor = ops::Actor {
        id: Some(user.id),
        label: user.email.to_string(),
        client_ip: ctx.client_ip.clone(),
        request_id: ctx.request_id.clone(),
    };
    if app.settings.lockout.is_locked(user.locked_until, now) {
        let entry = actor
            .entry(AuditAction::SignInFailed, AuditOutcome::Denied)
            .detail(serde_json::json!({ "reason": "locked" }));
        app.store.append_audit(&entry).await?;
        return Ok(PasswordCheck::Refused(AppError::AccountLocked));
    }
    let ok = ops::verify_password(user.password_hash.clone(), password.to_owned()).await?;
    if !ok || user.disabled {
        record_failure(
            app,
            &actor,
            &user,
            if user.disabled {
                "disabled"
            } else {
                "wrong password"
            },
        )
        .await?;
        return Ok(PasswordCheck::Refused(AppError::InvalidCredentials));
    }
    Ok(PasswordCheck::Accepted(Box::new(user)))
}

/// Counts a failed attempt (password or second factor) towards lockout.
async fn record_failure(
    app: &AppState,
    actor: &ops::Actor,
    user: &User,
    reason: &str,
) -> AppResult<()> {
    let now = OffsetDateTime::now_utc();
    // A lock that has run out starts a fresh count.
    let previous = if user.locked_until.is_some_and(|t| t <= now) {
        0
    } else {
        user.failed_sign_ins
    };
    let outcome = app.settings.lockout.after_failure(previous, now);
    let action = if reason == "wrong code" {
        AuditAction::SecondFactorFailed
    } else {
        AuditAction::SignInFailed
    };
    let entry = actor
        .entry(action, AuditOutcome::Failure)
        .detail(serde_json::json!({ "reason": reason, "failures": previous + 1 }));
    app.store
        .record_sign_in_failure(
            user.id,
            outcome.failures,
            outcome
                .locked_until
                .or(user.locked_until.filter(|t| *t > now)),
            &entry,
        )
        .await?;
    if outcome.locked_until.is_some() {
        let entry = actor.entry(AuditAction::LockedOut, AuditOutcome::Denied);
        app.store.append_audit(&entry).await?;
    }
    Ok(())
}

fn session_cookie(app: &AppState, value: &str, max_age_secs: i64) -> Option<HeaderValue> {
    let secure = if app.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .ok()
}

/// Starts a server-side session; returns the cookie to set.
pub async fn start_session(
    app: &AppState,
    ctx: &RequestContext,
    user: &User,
    second_factor_pending: bool,
) -> AppResult<Option<HeaderValue>> {
    let raw = auth::random_token(32);
    let now = OffsetDateTime::now_utc();
    let session = Session {
        id_hash: auth::sha256_hex(&raw),
        user_id: user.id,
        csrf_token: auth::random_token(32),
        second_factor_pending,
        created_at: now,
        last_seen_at: now,
        client_ip: ctx.client_ip.clone(),
    };
    app.store.create_session(&session).await?;
    Ok(session_cookie(
        app,
        &raw,
        app.settings.sessions.absolute.whole_seconds(),
    ))
}

pub async fn signin(
    State(app): State<AppState>,
    headers: HeaderMap,
    ctx: RequestContext,
    locale: axum::Extension<Locale>,
    UiForm(form): UiForm<SignInForm>,
) -> AppResult<Response> {
    check_anonymous_csrf(&headers, &form.csrf)?;
    let next = safe_next(form.next.as_deref());
    let tr = Tr::new(app.i18n.clone(), locale.0);
    let refused = |err: AppError, tr: Tr| {
        let (status, code) = err.status_and_code();
        let view = SignInPage {
            nav: Nav::anonymous(form.csrf.clone(), "/signin"),
            email: form.email.clone(),
            next: next.clone(),
            notice: None,
            error: Some(tr.error(code, &err.to_string())),
            tr,
        };
        render_status(status, &view)
    };
    let user = match check_password(&app, &ctx, &form.email, &form.password).await? {
        PasswordCheck::Accepted(user) => user,
        PasswordCheck::Refused(err) => return Ok(refused(err, tr)),
    };
    let org = app.store.own_organisation().await?;
    let needs_second_factor = user.totp_enabled || org.require_totp;
    let cookie = start_session(&app, &ctx, &user, needs_second_factor).await?;
    if needs_second_factor {
        let to = format!("/signin/second-factor?next={}", urlencode(&next));
        return Ok(with_cookie(see_other(&to), cookie));
    }
    app.store.record_sign_in_success(user.id).await?;
    let actor = signed_in_actor(&user, &ctx);
    app.store
        .append_audit(&actor.entry(AuditAction::SignIn, AuditOutcome::Success))
        .await?;
    Ok(with_cookie(see_other(&next), cookie))
}

fn signed_in_actor(user: &User, ctx: &RequestContext) -> ops::Actor {
    ops::Actor {
        id: Some(user.id),
        label: user.email.to_string(),
        client_ip: ctx.client_ip.clone(),
        request_id: ctx.request_id.clone(),
    }
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage {
    tr: Tr,
    nav: Nav,
    /// The pending session's CSRF token (the language form uses the cookie).
    csrf: String,
    next: String,
    /// Enrolment: the secret and URI to load in an authenticator.
    enrolment: Option<proto::TotpEnrolment>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

fn pending(anon: Option<axum::Extension<Anonymous>>) -> Option<(Session, User)> {
    match anon.map(|a| a.0) {
        Some(Anonymous::SecondFactorPending { session, user }) => Some((session, *user)),
        _ => None,
    }
}

async fn enrolment_for(app: &AppState, user: &User) -> AppResult<Option<proto::TotpEnrolment>> {
    if user.totp_enabled {
        return Ok(None);
    }
    // Keep a secret already shown, so a reload does not invalidate it.
    if let Some(secret) = user.totp_secret.clone() {
        let org = app.store.own_organisation().await?;
        let uri = auth::totp_uri(
            &secret,
            user.email.as_str(),
            &format!("Entraide {}", org.node_id),
        )?;
        return Ok(Some(proto::TotpEnrolment {
            secret,
            otpauth_uri: uri,
        }));
    }
    Ok(Some(api::start_totp_enrolment(app, user).await?))
}

pub async fn second_factor_form(
    State(app): State<AppState>,
    headers: HeaderMap,
    locale: axum::Extension<Locale>,
    anon: Option<axum::Extension<Anonymous>>,
    Query(q): Query<NextQuery>,
) -> AppResult<Response> {
    let Some((session, user)) = pending(anon) else {
        return Ok(see_other("/signin?reason=required"));
    };
    let (cookie_csrf, set_cookie) = anonymous_csrf(&app, &headers);
    let view = SecondFactorPage {
        tr: Tr::new(app.i18n.clone(), locale.0),
        nav: Nav::anonymous(cookie_csrf, "/signin/second-factor"),
        csrf: session.csrf_token.clone(),
        next: safe_next(q.next.as_deref()),
        enrolment: enrolment_for(&app, &user).await?,
        error: None,
    };
    Ok(with_cookie(render(&view), set_cookie))
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

pub async fn second_factor(
    State(app): State<AppState>,
    headers: HeaderMap,
    ctx: RequestContext,
    locale: axum::Extension<Locale>,
    anon: Option<axum::Extension<Anonymous>>,
    UiForm(form): UiForm<CodeForm>,
) -> AppResult<Response> {
    let Some((session, user)) = pending(anon) else {
        return Ok(see_other("/signin?reason=required"));
    };
    if !auth::constant_time_eq(session.csrf_token.as_bytes(), form.csrf.as_bytes()) {
        return Err(AppError::CsrfRejected);
    }
    let next = safe_next(form.next.as_deref());
    let actor = signed_in_actor(&user, &ctx);
    let now = OffsetDateTime::now_utc();
    if app.settings.lockout.is_locked(user.locked_until, now) {
        app.store
            .append_audit(
                &actor
                    .entry(AuditAction::SecondFactorFailed, AuditOutcome::Denied)
                    .detail(serde_json::json!({ "reason": "locked" })),
            )
            .await?;
        return Err(AppError::AccountLocked);
    }
    if !api::check_totp(&app, &user, &form.code).await? {
        record_failure(&app, &actor, &user, "wrong code").await?;
        let tr = Tr::new(app.i18n.clone(), locale.0);
        let fresh = app.store.user_by_id(user.id).await?.unwrap_or(user);
        let view = SecondFactorPage {
            nav: Nav::anonymous(
                cookie(&headers, CSRF_COOKIE).unwrap_or_default().to_owned(),
                "/signin/second-factor",
            ),
            csrf: session.csrf_token.clone(),
            next,
            enrolment: enrolment_for(&app, &fresh).await?,
            error: Some(tr.error("invalid_second_factor", "wrong code")),
            tr,
        };
        return Ok(render_status(StatusCode::UNAUTHORIZED, &view));
    }
    if !user.totp_enabled {
        app.store
            .enable_totp(
                user.id,
                &actor.entry(AuditAction::TotpEnrolled, AuditOutcome::Success),
            )
            .await?;
    }
    app.store.complete_second_factor(&session.id_hash).await?;
    app.store.record_sign_in_success(user.id).await?;
    app.store
        .append_audit(
            &actor
                .entry(AuditAction::SignIn, AuditOutcome::Success)
                .detail(serde_json::json!({ "second_factor": "totp" })),
        )
        .await?;
    Ok(see_other(&next))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn signout(
    State(app): State<AppState>,
    caller: Caller,
    UiForm(form): UiForm<CsrfForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    if let Via::Session { id_hash, .. } = &caller.via {
        app.store.delete_session(id_hash).await?;
    }
    app.store
        .append_audit(
            &caller
                .actor()
                .entry(AuditAction::SignOut, AuditOutcome::Success),
        )
        .await?;
    Ok(with_cookie(
        see_other("/signin?reason=signed-out"),
        session_cookie(&app, "", 0),
    ))
}

#[derive(Deserialize)]
pub struct LanguageForm {
    #[serde(default)]
    lang: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

pub async fn set_language(
    State(app): State<AppState>,
    headers: HeaderMap,
    caller: Option<axum::Extension<Caller>>,
    UiForm(form): UiForm<LanguageForm>,
) -> AppResult<Response> {
    let Some(locale) = Locale::parse(&form.lang).filter(|_| form.lang.len() <= 5) else {
        return Err(AppError::BadRequest {
            code: "unsupported_language",
            detail: "choose en, fr or es".into(),
        });
    };
    match &caller {
        Some(c) => {
            check_csrf(&c.0, &form.csrf)?;
            app.store.set_locale(c.0.user.id, locale.as_str()).await?;
            app.store
                .append_audit(
                    &c.0.actor()
                        .entry(AuditAction::UserPreferencesChanged, AuditOutcome::Success)
                        .detail(serde_json::json!({ "locale": locale.as_str() })),
                )
                .await?;
        }
        None => check_anonymous_csrf(&headers, &form.csrf)?,
    }
    let secure = if app.secure_cookies { "; Secure" } else { "" };
    let cookie = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Strict{secure}",
        locale.as_str()
    ))
    .ok();
    Ok(with_cookie(
        see_other(&safe_next(form.next.as_deref())),
        cookie,
    ))
}

// ---------------------------------------------------------------- dashboard

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    tr: Tr,
    nav: Nav,
    organisation: proto::OrganisationView,
    cases: Vec<CaseRow>,
    my_cases_heading: String,
    roles: Vec<String>,
    totp_enabled: bool,
    /// Open requests in my cases falling due within a week, soonest first.
    rows: Vec<crate::ui_requests::RequestRow>,
}

pub struct CaseRow {
    id: Uuid,
    reference: String,
    title: String,
    status_label: String,
    member: bool,
    updated: String,
}

fn case_row(tr: &Tr, c: &proto::CaseListing) -> CaseRow {
    CaseRow {
        id: c.id,
        reference: c.reference.clone(),
        title: c.title.clone(),
        status_label: tr.t(&format!("case-status-{}", c.status)),
        member: c.member,
        updated: fmt_time(c.updated_at),
    }
}

pub async fn dashboard(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/").await?;
    let org = app.store.own_organisation().await?;
    let cases = api::visible_cases(&app, &caller).await?;
    let due = entraide_store::RequestFilter {
        due_before: Some(time::OffsetDateTime::now_utc() + time::Duration::days(7)),
        limit: 20,
        ..Default::default()
    };
    let rows = app
        .store
        .requests_for_member(caller.user.id, &due)
        .await?
        .iter()
        .filter(|r| !r.state.is_final())
        .map(|r| crate::ui_requests::request_row(&p.tr, r))
        .collect();
    let view = DashboardPage {
        rows,
        my_cases_heading: p.tr.tn(
            "dashboard-my-cases",
            "count",
            cases.iter().filter(|c| c.member).count() as i64,
        ),
        cases: cases
            .iter()
            .filter(|c| c.member)
            .take(5)
            .map(|c| case_row(&p.tr, c))
            .collect(),
        organisation: api::organisation_view(&org),
        roles: caller
            .roles()
            .iter()
            .map(|r| p.tr.t(&format!("role-{}", r.as_str())))
            .collect(),
        totp_enabled: caller.user.totp_enabled,
        tr: p.tr,
        nav: p.nav,
    };
    Ok(render(&view))
}

// ---------------------------------------------------------------- cases

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage {
    tr: Tr,
    nav: Nav,
    cases: Vec<CaseRow>,
}

pub async fn cases(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/cases").await?;
    let cases = api::visible_cases(&app, &caller).await?;
    let view = CasesPage {
        cases: cases.iter().map(|c| case_row(&p.tr, c)).collect(),
        tr: p.tr,
        nav: p.nav,
    };
    Ok(render(&view))
}

#[derive(Template)]
#[template(path = "case_new.html")]
struct CaseNewPage {
    tr: Tr,
    nav: Nav,
    reference: String,
    title: String,
    summary: String,
    errors: FormErrors,
}

pub async fn case_new_form(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/cases").await?;
    let view = CaseNewPage {
        tr: p.tr,
        nav: p.nav,
        reference: String::new(),
        title: String::new(),
        summary: String::new(),
        errors: FormErrors::default(),
    };
    Ok(render(&view))
}

#[derive(Deserialize)]
pub struct CaseForm {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    csrf: String,
}

pub async fn case_create(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    UiForm(form): UiForm<CaseForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    let body = proto::CreateCase {
        reference: form.reference.clone(),
        title: form.title.clone(),
        summary: form.summary.clone(),
    };
    match api::create_case_from(&app, &caller, &body).await {
        Ok(case) => Ok(see_other(&format!("/cases/{}", case.id))),
        Err(err) => {
            let p = page(&app, &caller, locale.0, "/cases").await?;
            let Some(errors) = FormErrors::from_error(&p.tr, &err, "reference") else {
                return Err(err);
            };
            let view = CaseNewPage {
                tr: p.tr,
                nav: p.nav,
                reference: form.reference,
                title: form.title,
                summary: form.summary,
                errors,
            };
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
    }
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    tr: Tr,
    nav: Nav,
    id: Uuid,
    reference: String,
    title: String,
    status_label: String,
    /// `None` for an administrator who is not a member.
    summary: Option<String>,
    created: String,
    members: Vec<MemberRow>,
    manages_members: bool,
    member_email: String,
    errors: FormErrors,
    requests: Vec<crate::ui_requests::RequestRow>,
    handles_requests: bool,
    kinds: Vec<(String, String)>,
}

pub struct MemberRow {
    user_id: Uuid,
    display_name: String,
    email: String,
    added: String,
    is_self: bool,
}

async fn case_page(
    app: &AppState,
    caller: &Caller,
    locale: Locale,
    id: Uuid,
    member_email: String,
    errors: FormErrors,
) -> AppResult<CasePage> {
    let (case, access) = api::case_access(app, caller, id).await?;
    if access == CaseAccess::None {
        return Err(AppError::NotCaseMember);
    }
    if access.reads_content() {
        api::audit_case_read(app, caller, &case, AuditOutcome::Success).await?;
    }
    let p = page(app, caller, locale, "/cases").await?;
    let members = app.store.case_members(id).await?;
    let requests = if access.reads_content() {
        let filter = entraide_store::RequestFilter {
            case_id: Some(id),
            limit: 500,
            ..Default::default()
        };
        app.store
            .requests_for_member(caller.user.id, &filter)
            .await?
            .iter()
            .map(|r| crate::ui_requests::request_row(&p.tr, r))
            .collect()
    } else {
        Vec::new()
    };
    Ok(CasePage {
        requests,
        handles_requests: access.reads_content()
            && caller
                .roles()
                .intersects(RoleSet::of(&crate::requests::HANDLES_REQUESTS)),
        kinds: crate::ui_requests::kind_options(&p.tr),
        status_label: p.tr.t(&format!("case-status-{}", case.status.as_str())),
        id: case.id,
        reference: case.reference.to_string(),
        title: case.title.as_str().to_owned(),
        summary: access
            .reads_content()
            .then(|| case.summary.as_str().to_owned()),
        created: fmt_time(case.created_at),
        members: members
            .iter()
            .map(|m| MemberRow {
                user_id: m.user_id,
                display_name: m.display_name.to_string(),
                email: m.email.to_string(),
                added: fmt_time(m.added_at),
                is_self: m.user_id == caller.user.id,
            })
            .collect(),
        manages_members: access.manages_members(caller.roles()),
        member_email,
        errors,
        tr: p.tr,
        nav: p.nav,
    })
}

pub async fn case_detail(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let view = case_page(
        &app,
        &caller,
        locale.0,
        id,
        String::new(),
        FormErrors::default(),
    )
    .await?;
    Ok(render(&view))
}

#[derive(Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    csrf: String,
}

pub async fn case_add_member(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
    UiForm(form): UiForm<MemberForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    match api::add_member(&app, &caller, id, &form.email).await {
        Ok(()) => Ok(see_other(&format!("/cases/{id}"))),
        Err(err) => {
            let tr = Tr::new(app.i18n.clone(), locale.0);
            let Some(errors) = FormErrors::from_error(&tr, &err, "email") else {
                return Err(err);
            };
            let view = case_page(&app, &caller, locale.0, id, form.email, errors).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
    }
}

pub async fn case_remove_member(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
    UiForm(form): UiForm<CsrfForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    api::remove_member(&app, &caller, id, user_id).await?;
    if user_id == caller.user.id && !caller.roles().contains(Role::Administrator) {
        return Ok(see_other("/cases"));
    }
    Ok(see_other(&format!("/cases/{id}")))
}

// ---------------------------------------------------------------- administration

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    tr: Tr,
    nav: Nav,
    users: Vec<UserRow>,
    all_roles: Vec<(String, String)>,
}

pub struct UserRow {
    id: Uuid,
    email: String,
    display_name: String,
    roles: Vec<String>,
    disabled: bool,
    locked: bool,
    totp_enabled: bool,
    is_self: bool,
}

impl UserRow {
    fn has(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

fn all_roles(tr: &Tr) -> Vec<(String, String)> {
    Role::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), tr.t(&format!("role-{}", r.as_str()))))
        .collect()
}

pub async fn users(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/admin/users").await?;
    let now = OffsetDateTime::now_utc();
    let users = app.store.list_users().await?;
    let view = UsersPage {
        users: users
            .iter()
            .map(|u| UserRow {
                id: u.id,
                email: u.email.to_string(),
                display_name: u.display_name.to_string(),
                roles: u.roles.iter().map(|r| r.as_str().to_owned()).collect(),
                disabled: u.disabled,
                locked: u.locked_until.is_some_and(|t| t > now),
                totp_enabled: u.totp_enabled,
                is_self: u.id == caller.user.id,
            })
            .collect(),
        all_roles: all_roles(&p.tr),
        tr: p.tr,
        nav: p.nav,
    };
    Ok(render(&view))
}

#[derive(Template)]
#[template(path = "user_new.html")]
struct UserNewPage {
    tr: Tr,
    nav: Nav,
    email: String,
    display_name: String,
    chosen: Vec<String>,
    all_roles: Vec<(String, String)>,
    errors: FormErrors,
}

impl UserNewPage {
    fn chose(&self, role: &str) -> bool {
        self.chosen.iter().any(|r| r == role)
    }
}

pub async fn user_new_form(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/admin/users").await?;
    let view = UserNewPage {
        email: String::new(),
        display_name: String::new(),
        chosen: vec![],
        all_roles: all_roles(&p.tr),
        errors: FormErrors::default(),
        tr: p.tr,
        nav: p.nav,
    };
    Ok(render(&view))
}

/// Forms with one checkbox per role (`role=officer&role=approver`) arrive as
/// repeated keys, so these forms are read as a list of pairs.
pub struct PairsForm(pub Vec<(String, String)>);

impl PairsForm {
    pub(crate) fn one(&self, key: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for PairsForm {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let UiForm(pairs) = UiForm::<Vec<(String, String)>>::from_request(req, state).await?;
        Ok(PairsForm(pairs))
    }
}

pub async fn user_create(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let roles = form.all("role");
    let result = async {
        let mut f = Fields::default();
        let email = f.check("email", Email::parse(&form.one("email")));
        let name = f.check(
            "display_name",
            DisplayName::parse(&form.one("display_name")),
        );
        let password = f.check("password", NewPassword::parse(&form.one("password")));
        let role_set = api::parse_roles(&mut f, &roles);
        if role_set.is_some_and(|r| r.is_empty()) {
            f.push("roles", "roles_required", "choose at least one role");
        }
        let (email, name, password, role_set) = f.finish(
            email
                .zip(name)
                .zip(password)
                .zip(role_set)
                .map(|(((a, b), c), d)| (a, b, c, d)),
        )?;
        ops::create_user(
            app.store.as_ref(),
            &caller.actor(),
            email,
            name,
            password,
            role_set,
        )
        .await
    }
    .await;
    match result {
        Ok(_) => Ok(see_other("/admin/users")),
        Err(err) => {
            let p = page(&app, &caller, locale.0, "/admin/users").await?;
            let Some(errors) = FormErrors::from_error(&p.tr, &err, "email") else {
                return Err(err);
            };
            let view = UserNewPage {
                email: form.one("email"),
                display_name: form.one("display_name"),
                chosen: roles,
                all_roles: all_roles(&p.tr),
                errors,
                tr: p.tr,
                nav: p.nav,
            };
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
    }
}

pub async fn user_update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    match form.one("action").as_str() {
        "disable" => ops::set_disabled(app.store.as_ref(), &caller.actor(), id, true).await?,
        "enable" => ops::set_disabled(app.store.as_ref(), &caller.actor(), id, false).await?,
        "roles" => {
            let mut f = Fields::default();
            let roles = api::parse_roles(&mut f, &form.all("role"));
            let roles = f.finish(roles)?;
            ops::set_roles(app.store.as_ref(), &caller.actor(), id, roles).await?;
        }
        _ => {
            return Err(AppError::BadRequest {
                code: "unknown_action",
                detail: "unknown action".into(),
            })
        }
    }
    Ok(see_other("/admin/users"))
}

#[derive(Template)]
#[template(path = "organisation.html")]
struct OrganisationPage {
    tr: Tr,
    nav: Nav,
    organisation: proto::OrganisationView,
    kind_label: String,
    saved: bool,
    base_url: String,
    signing_fingerprint: String,
    encryption_fingerprint: String,
    peers: Vec<proto::PeerView>,
    peer_url: String,
    peer_fingerprint: String,
    errors: FormErrors,
    refusals: Vec<RefusalRow>,
    sent: Vec<SentRow>,
}

/// A message sent to a peer, with its delivery evidence.
pub struct SentRow {
    pub created: String,
    pub recipient: String,
    pub message_type: String,
    pub type_label: String,
    pub status: String,
    pub status_label: String,
    pub detail: String,
}

/// A message from another node that was refused (a possible forgery).
pub struct RefusalRow {
    pub at: String,
    pub sender: String,
    pub reason: String,
}

async fn organisation_page(
    app: &AppState,
    caller: &Caller,
    locale: Locale,
    saved: bool,
    peer_url: String,
    peer_fingerprint: String,
    errors: FormErrors,
) -> AppResult<OrganisationPage> {
    let p = page(app, caller, locale, "/admin/organisation").await?;
    let org = app.store.own_organisation().await?;
    Ok(OrganisationPage {
        kind_label: p.tr.t(&format!("kind-{}", org.kind.as_str())),
        organisation: api::organisation_view(&org),
        saved,
        base_url: crate::peers::base_url(app),
        signing_fingerprint: app
            .identity
            .federation_key(OffsetDateTime::now_utc())
            .fingerprint(),
        encryption_fingerprint: app.identity.encryption_fingerprint(),
        peers: app
            .store
            .peers()
            .await?
            .iter()
            .map(crate::peers::peer_view)
            .collect(),
        peer_url,
        peer_fingerprint,
        errors,
        refusals: app
            .store
            .audit_entries(&entraide_store::AuditFilter {
                action: Some("federation.refused".into()),
                limit: 20,
                ..Default::default()
            })
            .await?
            .iter()
            .map(|e| RefusalRow {
                at: fmt_time(e.at),
                sender: e.target.clone().unwrap_or_default(),
                reason: serde_json::from_str::<serde_json::Value>(&e.detail)
                    .ok()
                    .and_then(|d| d.get("code").and_then(|c| c.as_str()).map(str::to_owned))
                    .unwrap_or_default(),
            })
            .collect(),
        sent: app
            .store
            .outbox(40)
            .await?
            .iter()
            // Receipts sent back are bookkeeping, not messages people sent.
            .filter(|m| m.message_type != "receipt" && m.message_type != "attachment-chunk")
            .take(20)
            .map(|m| {
                let status = if m.retrieval_receipt.is_some() {
                    "retrieved"
                } else {
                    m.status.as_str()
                };
                SentRow {
                    created: fmt_time(m.created_at),
                    recipient: m.recipient.clone(),
                    message_type: m.message_type.clone(),
                    type_label: p.tr.t(&format!("org-message-type-{}", m.message_type)),
                    status: status.to_owned(),
                    status_label: p.tr.t(&format!("org-message-{status}")),
                    detail: match status {
                        "delivered" | "retrieved" => {
                            m.delivered_at.map(fmt_time).unwrap_or_default()
                        }
                        _ => m.last_error.clone().unwrap_or_default(),
                    },
                }
            })
            .collect(),
        tr: p.tr,
        nav: p.nav,
    })
}

#[derive(Deserialize)]
pub struct PeerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    fingerprint: String,
}

/// `/admin/peers` is where the add-peer form posts; reloading it brings
/// the organisation page back.
pub async fn peers_page() -> Response {
    see_other("/admin/organisation")
}

/// Adds a peer from the organisation page.
pub async fn peer_add(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    UiForm(form): UiForm<PeerForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    match crate::peers::add_peer(&app, &caller.actor(), &form.url, &form.fingerprint).await {
        Ok(_) => Ok(see_other("/admin/organisation?saved=1")),
        Err(err) => {
            let tr = Tr::new(app.i18n.clone(), locale.0);
            let errors = match &err {
                AppError::BadRequest { code, detail } => {
                    let mut e = FormErrors::default();
                    e.by_field
                        .insert("fingerprint".into(), tr.error(code, detail));
                    e
                }
                AppError::Upstream { code, detail } => {
                    let mut e = FormErrors::default();
                    e.by_field.insert("url".into(), tr.error(code, detail));
                    e
                }
                other => match FormErrors::from_error(&tr, other, "url") {
                    Some(e) => e,
                    None => return Err(err),
                },
            };
            let view = organisation_page(
                &app,
                &caller,
                locale.0,
                false,
                form.url,
                form.fingerprint,
                errors,
            )
            .await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
    }
}

#[derive(Deserialize, Default)]
pub struct SavedQuery {
    saved: Option<String>,
}

pub async fn organisation(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Query(q): Query<SavedQuery>,
) -> AppResult<Response> {
    let view = organisation_page(
        &app,
        &caller,
        locale.0,
        q.saved.is_some(),
        String::new(),
        String::new(),
        FormErrors::default(),
    )
    .await?;
    Ok(render(&view))
}

pub async fn organisation_update(
    State(app): State<AppState>,
    caller: Caller,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let require = form.one("require_totp") == "on";
    api::set_require_totp(&app, &caller, require).await?;
    Ok(see_other("/admin/organisation?saved=1"))
}

// ---------------------------------------------------------------- audit

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    tr: Tr,
    nav: Nav,
    q: AuditQueryView,
    rows: Vec<AuditRow>,
    next_before: Option<i64>,
    actions: Vec<(String, String)>,
    errors: FormErrors,
}

#[derive(Default)]
pub struct AuditQueryView {
    actor: String,
    action: String,
    outcome: String,
    from: String,
    to: String,
    query_string: String,
}

pub struct AuditRow {
    at: String,
    actor: String,
    action: String,
    action_label: String,
    outcome: String,
    outcome_label: String,
    target: String,
    case_id: String,
    client_ip: String,
}

pub async fn audit(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Query(q): Query<api::AuditQuery>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/audit").await?;
    let mut qs: Vec<String> = Vec::new();
    for (k, v) in [
        ("actor", &q.actor),
        ("action", &q.action),
        ("outcome", &q.outcome),
        ("from", &q.from),
        ("to", &q.to),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            qs.push(format!("{k}={}", urlencode(v)));
        }
    }
    let view_q = AuditQueryView {
        actor: q.actor.clone().unwrap_or_default(),
        action: q.action.clone().unwrap_or_default(),
        outcome: q.outcome.clone().unwrap_or_default(),
        from: q.from.clone().unwrap_or_default(),
        to: q.to.clone().unwrap_or_default(),
        query_string: qs.join("&"),
    };
    let (rows, next_before, errors) = match q.filter(50) {
        Ok(filter) => {
            let entries = api::read_audit(&app, &caller, &filter, AuditAction::AuditRead).await?;
            let next = (entries.len() == filter.limit as usize)
                .then(|| entries.last().map(|e| e.id))
                .flatten();
            let rows = entries
                .iter()
                .map(|e| AuditRow {
                    at: fmt_time_short(e.at),
                    actor: e.actor.clone(),
                    action: e.action.clone(),
                    action_label: action_label(&p.tr, &e.action),
                    outcome: e.outcome.clone(),
                    outcome_label: p.tr.t(&format!("outcome-{}", e.outcome)),
                    target: e.target.clone().unwrap_or_default(),
                    case_id: e.case_id.map(|c| c.to_string()).unwrap_or_default(),
                    client_ip: e.client_ip.clone().unwrap_or_default(),
                })
                .collect();
            (rows, next, FormErrors::default())
        }
        Err(err) => (
            vec![],
            None,
            FormErrors::from_error(&p.tr, &err, "actor").unwrap_or_default(),
        ),
    };
    let view = AuditPage {
        q: view_q,
        rows,
        next_before,
        actions: AuditAction::ALL
            .iter()
            .map(|a| (a.as_str().to_owned(), action_label(&p.tr, a.as_str())))
            .collect(),
        errors,
        tr: p.tr,
        nav: p.nav,
    };
    Ok(render(&view))
}

pub async fn audit_csv(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<api::AuditQuery>,
) -> AppResult<Response> {
    let filter = q.filter(10_000)?;
    let entries = api::read_audit(&app, &caller, &filter, AuditAction::AuditExported).await?;
    Ok(api::csv_response(&entries))
}

// ---------------------------------------------------------------- account

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    tr: Tr,
    nav: Nav,
    roles: Vec<String>,
    totp_enabled: bool,
    enrolment: Option<proto::TotpEnrolment>,
    error: Option<String>,
    language: String,
    password_errors: FormErrors,
    password_changed: bool,
    has_calendar: bool,
    /// Shown once, just after it is created.
    calendar_url: Option<String>,
}

async fn account_page(
    app: &AppState,
    caller: &Caller,
    locale: Locale,
    enrolment: Option<proto::TotpEnrolment>,
    error: Option<String>,
) -> AppResult<AccountPage> {
    let p = page(app, caller, locale, "/account").await?;
    let user = app
        .store
        .user_by_id(caller.user.id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    Ok(AccountPage {
        roles: user
            .roles
            .iter()
            .map(|r| p.tr.t(&format!("role-{}", r.as_str())))
            .collect(),
        totp_enabled: user.totp_enabled,
        enrolment,
        error,
        language: p.tr.t(&format!("language-{}", locale.as_str())),
        password_errors: FormErrors::default(),
        password_changed: false,
        has_calendar: user.calendar_key_hash.is_some(),
        calendar_url: None,
        tr: p.tr,
        nav: p.nav,
    })
}

pub async fn account(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
) -> AppResult<Response> {
    Ok(render(
        &account_page(&app, &caller, locale.0, None, None).await?,
    ))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    csrf: String,
}

pub async fn account_password(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    UiForm(form): UiForm<PasswordForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    let tr = Tr::new(app.i18n.clone(), locale.0);
    let result = async {
        let mut f = Fields::default();
        let new = f.check("new", NewPassword::parse(&form.new));
        if form.new != form.confirm {
            f.push(
                "confirm",
                "passwords_differ",
                "the two new passwords differ",
            );
        }
        let new = f.finish(new)?;
        let keep = match &caller.via {
            Via::Session { id_hash, .. } => Some(id_hash.as_str()),
            Via::Token { .. } => None,
        };
        ops::change_password(
            app.store.as_ref(),
            &caller.actor(),
            &caller.user,
            &form.current,
            new,
            keep,
        )
        .await
    }
    .await;
    match result {
        Ok(()) => {
            let mut view = account_page(&app, &caller, locale.0, None, None).await?;
            view.password_changed = true;
            Ok(render(&view))
        }
        Err(err) => {
            let Some(errors) = FormErrors::from_error(&tr, &err, "current") else {
                return Err(err);
            };
            let mut view = account_page(&app, &caller, locale.0, None, None).await?;
            view.password_errors = errors;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
    }
}

#[derive(Deserialize)]
pub struct CalendarForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    csrf: String,
}

/// Creates (or replaces) the user's calendar address, shown once; or
/// removes it.
pub async fn account_calendar(
    State(app): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    locale: axum::Extension<Locale>,
    UiForm(form): UiForm<CalendarForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    let remove = form.action == "remove";
    let (key, hash) = crate::calendar::new_key();
    let entry = caller
        .actor()
        .entry(AuditAction::UserPreferencesChanged, AuditOutcome::Success)
        .detail(serde_json::json!({ "calendar": if remove { "removed" } else { "created" } }));
    app.store
        .set_calendar_key(caller.user.id, (!remove).then_some(hash.as_str()), &entry)
        .await?;
    let mut view = account_page(&app, &caller, locale.0, None, None).await?;
    if !remove {
        // The public address if configured, else the one the browser used.
        let base = app.settings.public_url.clone().unwrap_or_else(|| {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| {
                    h.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']')
                    })
                })
                .unwrap_or("localhost");
            let scheme = if app.settings.tls.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}")
        });
        view.calendar_url = Some(format!("{}/calendar/{key}.ics", base.trim_end_matches('/')));
    }
    Ok(render(&view))
}

pub async fn account_totp_start(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    UiForm(form): UiForm<CsrfForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    let enrolment = api::start_totp_enrolment(&app, &caller.user).await?;
    Ok(render(
        &account_page(&app, &caller, locale.0, Some(enrolment), None).await?,
    ))
}

pub async fn account_totp_confirm(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    UiForm(form): UiForm<CodeForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    let user = app
        .store
        .user_by_id(caller.user.id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let result = if form.code.trim().is_empty() {
        Err(AppError::BadRequest {
            code: "totp_code_required",
            detail: "enter the six-digit code".into(),
        })
    } else {
        api::confirm_totp(&app, &user, &caller.actor(), &form.code).await
    };
    match result {
        Ok(()) => Ok(see_other("/account")),
        Err(err @ (AppError::InvalidSecondFactor | AppError::BadRequest { .. })) => {
            let tr = Tr::new(app.i18n.clone(), locale.0);
            let enrolment = enrolment_for(&app, &user).await?;
            let (_, code) = err.status_and_code();
            let msg = tr.error(code, "wrong code");
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &account_page(&app, &caller, locale.0, enrolment, Some(msg)).await?,
            ))
        }
        Err(e) => Err(e),
    }
}
