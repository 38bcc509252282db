//! The account's pages: sign-in (password, then second factor), sign-out,
//! the language switch, and the account page (password, calendar address,
//! TOTP enrolment).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use entraide_domain::{AuditAction, AuditOutcome, Locale, NewPassword};
use entraide_proto as proto;
use entraide_store::{Session, User};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::account::pages_tokens::{token_rows, TokenRow};
use crate::account::service::{self, PasswordCheck};
use crate::app::audit::AuditEntryExt;
use crate::app::credentials;
use crate::app::error::{AppError, AppResult, Fields};
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::http::caller::{
    cookie, Anonymous, Caller, RequestContext, Via, CSRF_COOKIE, LANG_COOKIE, SESSION_COOKIE,
};
use crate::web::forms::{
    anonymous_csrf, check_anonymous_csrf, check_csrf, safe_next, see_other, urlencode, with_cookie,
    CsrfForm, FormErrors, UiForm,
};
use crate::web::page::{page, render, render_status, Nav};

// ---------------------------------------------------------------- sign-in

#[derive(Template)]
#[template(path = "account/signin.html")]
struct SignInPage {
    tr: Tr,
    nav: Nav,
    email: String,
    next: String,
    notice: Option<String>,
    error: Option<String>,
    /// "Forgot your password?": offered where the node sends mail.
    forgot: bool,
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
        Some("password-reset") => Some(tr.t("signin-notice-password-reset")),
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
        forgot: crate::account::recovery::offered(&app),
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

fn session_cookie(app: &AppState, value: &str, max_age_secs: i64) -> Option<HeaderValue> {
    let secure = if app.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .ok()
}

/// Starts a server-side session; returns the cookie to set.
async fn start_session(
    app: &AppState,
    ctx: &RequestContext,
    user: &User,
    second_factor_pending: bool,
) -> AppResult<Option<HeaderValue>> {
    let raw = service::start_session(app, ctx, user, second_factor_pending).await?;
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
            forgot: crate::account::recovery::offered(&app),
            tr,
        };
        render_status(status, &view)
    };
    let user = match service::check_password(&app, &ctx, &form.email, &form.password).await? {
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
    let actor = service::signed_in_actor(&user, &ctx);
    app.store
        .append_audit(&actor.entry(AuditAction::SignIn, AuditOutcome::Success))
        .await?;
    Ok(with_cookie(see_other(&after_sign_in(&user, &next)), cookie))
}

// ---------------------------------------------------------------- second factor

#[derive(Template)]
#[template(path = "account/second_factor.html")]
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
        enrolment: service::enrolment_for(&app, &user).await?,
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
    if !credentials::constant_time_eq(session.csrf_token.as_bytes(), form.csrf.as_bytes()) {
        return Err(AppError::CsrfRejected);
    }
    let next = safe_next(form.next.as_deref());
    let actor = service::signed_in_actor(&user, &ctx);
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
    if !service::check_totp(&app, &user, &form.code).await? {
        service::record_failure(&app, &actor, &user, "wrong code").await?;
        let tr = Tr::new(app.i18n.clone(), locale.0);
        let fresh = app.store.user_by_id(user.id).await?.unwrap_or(user);
        let view = SecondFactorPage {
            nav: Nav::anonymous(
                cookie(&headers, CSRF_COOKIE).unwrap_or_default().to_owned(),
                "/signin/second-factor",
            ),
            csrf: session.csrf_token.clone(),
            next,
            enrolment: service::enrolment_for(&app, &fresh).await?,
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
    Ok(see_other(&after_sign_in(&user, &next)))
}

/// Where a complete sign-in leads: the page asked for, or first the new
/// password to choose after an administrator reset it.
fn after_sign_in(user: &User, next: &str) -> String {
    if user.must_change_password {
        format!("/signin/password?next={}", urlencode(next))
    } else {
        next.to_owned()
    }
}

// ---------------------------------------------------------------- sign-out, language

pub async fn signout(
    State(app): State<AppState>,
    caller: Caller,
    UiForm(form): UiForm<CsrfForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    let session = match &caller.via {
        Via::Session { id_hash, .. } => Some(id_hash.as_str()),
        Via::Token { .. } => None,
    };
    service::sign_out(&app, &caller.principal(), session).await?;
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
            service::set_locale(&app, &c.0.principal(), locale).await?;
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

// ---------------------------------------------------------------- the account page

#[derive(Template)]
#[template(path = "account/account.html")]
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
    /// The user's API tokens (`pages_tokens.rs`).
    tokens: Vec<TokenRow>,
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
        tokens: token_rows(app, caller).await?,
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
        service::change_password(
            app.store.as_ref(),
            &caller.principal().actor(),
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
    let (key, hash) = crate::requests::calendar::new_key();
    service::set_calendar_key(
        &app,
        &caller.principal(),
        (!remove).then_some(hash.as_str()),
    )
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
    let enrolment = service::start_totp_enrolment(&app, &caller.user).await?;
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
        service::confirm_totp(&app, &user, &caller.principal().actor(), &form.code).await
    };
    match result {
        Ok(()) => {
            // The code just checked is a second factor passed in this session.
            if let Via::Session { id_hash, .. } = &caller.via {
                app.store.complete_second_factor(id_hash).await?;
            }
            Ok(see_other("/account"))
        }
        Err(err @ (AppError::InvalidSecondFactor | AppError::BadRequest { .. })) => {
            let tr = Tr::new(app.i18n.clone(), locale.0);
            let enrolment = service::enrolment_for(&app, &user).await?;
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
