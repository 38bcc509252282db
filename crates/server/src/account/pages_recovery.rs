//! Getting back into an account, as pages: "forgot your password?" (a link
//! by e-mail, where SMTP is configured), the page the link opens, and the
//! new password a user must choose after an administrator reset theirs.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use entraide_domain::{Locale, NewPassword};
use entraide_store::{Session, User};
use serde::Deserialize;

use crate::account::recovery;
use crate::app::credentials;
use crate::app::error::{AppError, AppResult, Fields};
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::http::caller::{Anonymous, RequestContext};
use crate::web::forms::{
    anonymous_csrf, check_anonymous_csrf, safe_next, see_other, with_cookie, FormErrors, UiForm,
};
use crate::web::page::{render, render_status, Nav};

// ---------------------------------------------------------------- forgot

#[derive(Template)]
#[template(path = "account/forgot.html")]
struct ForgotPage {
    tr: Tr,
    nav: Nav,
    /// The node sends mail.
    offered: bool,
    /// The request was taken (whatever the address).
    sent: bool,
    error: Option<String>,
}

fn forgot_page(
    app: &AppState,
    headers: &HeaderMap,
    locale: Locale,
) -> (ForgotPage, Option<axum::http::HeaderValue>) {
    let (csrf, set_cookie) = anonymous_csrf(app, headers);
    let view = ForgotPage {
        tr: Tr::new(app.i18n.clone(), locale),
        nav: Nav::anonymous(csrf, "/signin/forgot"),
        offered: recovery::offered(app),
        sent: false,
        error: None,
    };
    (view, set_cookie)
}

pub async fn forgot_form(
    State(app): State<AppState>,
    headers: HeaderMap,
    locale: axum::Extension<Locale>,
) -> Response {
    let (view, set_cookie) = forgot_page(&app, &headers, locale.0);
    with_cookie(render(&view), set_cookie)
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    csrf: String,
}

/// Takes a request for a link. The answer is the same whether or not the
/// address is an account's, and comes before the work is done.
pub async fn forgot(
    State(app): State<AppState>,
    headers: HeaderMap,
    ctx: RequestContext,
    locale: axum::Extension<Locale>,
    UiForm(form): UiForm<ForgotForm>,
) -> AppResult<Response> {
    check_anonymous_csrf(&headers, &form.csrf)?;
    let (mut view, set_cookie) = forgot_page(&app, &headers, locale.0);
    if !view.offered {
        return Ok(with_cookie(
            render_status(StatusCode::NOT_FOUND, &view),
            set_cookie,
        ));
    }
    if let Err(retry_after) = recovery::admit(&app, &ctx) {
        let err = AppError::TooManyAttempts { retry_after };
        view.error = Some(view.tr.error(err.status_and_code().1, &err.to_string()));
        return Ok(with_cookie(
            render_status(StatusCode::TOO_MANY_REQUESTS, &view),
            set_cookie,
        ));
    }
    let task_app = app.clone();
    let email = form.email;
    let lang = locale.0;
    tokio::spawn(async move {
        if let Err(e) = recovery::request_link(&task_app, &ctx, &email, lang).await {
            tracing::warn!(error = %e, "password reset request failed");
        }
    });
    view.sent = true;
    Ok(with_cookie(render(&view), set_cookie))
}

// ---------------------------------------------------------------- the link

#[derive(Template)]
#[template(path = "account/reset.html")]
struct ResetPage {
    tr: Tr,
    nav: Nav,
    token: String,
    /// The link works (else: say so and offer a new one).
    works: bool,
    errors: FormErrors,
}

#[derive(Deserialize, Default)]
pub struct TokenQuery {
    token: Option<String>,
}

/// The page a link opens. Opening it changes nothing (mail scanners open
/// links): only submitting the form uses the link.
pub async fn reset_form(
    State(app): State<AppState>,
    headers: HeaderMap,
    locale: axum::Extension<Locale>,
    Query(q): Query<TokenQuery>,
) -> AppResult<Response> {
    let token = q.token.unwrap_or_default();
    let works = recovery::link_works(app.store.as_ref(), &token).await?;
    let (csrf, set_cookie) = anonymous_csrf(&app, &headers);
    let view = ResetPage {
        tr: Tr::new(app.i18n.clone(), locale.0),
        nav: Nav::anonymous(csrf, "/signin/reset"),
        token: if works { token } else { String::new() },
        works,
        errors: FormErrors::default(),
    };
    let status = if works {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    Ok(with_cookie(render_status(status, &view), set_cookie))
}

#[derive(Deserialize)]
pub struct NewPasswordForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

/// The new password, checked against the node's policy, and the two
/// copies against each other.
fn new_password(form: &NewPasswordForm) -> AppResult<NewPassword> {
    let mut f = Fields::default();
    let new = f.check("new", NewPassword::parse(&form.new));
    if form.new != form.confirm {
        f.push(
            "confirm",
            "passwords_differ",
            "the two new passwords differ",
        );
    }
    f.finish(new)
}

pub async fn reset(
    State(app): State<AppState>,
    headers: HeaderMap,
    ctx: RequestContext,
    locale: axum::Extension<Locale>,
    UiForm(form): UiForm<NewPasswordForm>,
) -> AppResult<Response> {
    check_anonymous_csrf(&headers, &form.csrf)?;
    let tr = Tr::new(app.i18n.clone(), locale.0);
    let result = match new_password(&form) {
        Ok(new) => recovery::reset_with_link(app.store.as_ref(), &ctx, &form.token, new).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(see_other("/signin?reason=password-reset")),
        Err(err) => {
            let works =
                !matches!(&err, AppError::BadRequest { code, .. } if *code == "reset_link_invalid");
            let errors = if works {
                FormErrors::from_error(&tr, &err, "new").ok_or(err)?
            } else {
                FormErrors::default()
            };
            let view = ResetPage {
                nav: Nav::anonymous(form.csrf.clone(), "/signin/reset"),
                token: if works { form.token } else { String::new() },
                works,
                errors,
                tr,
            };
            let status = if works {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::GONE
            };
            Ok(render_status(status, &view))
        }
    }
}

// ---------------------------------------------------------------- required change

#[derive(Template)]
#[template(path = "account/password_required.html")]
struct PasswordRequiredPage {
    tr: Tr,
    nav: Nav,
    /// The session's CSRF token (the language form uses the cookie).
    csrf: String,
    next: String,
    errors: FormErrors,
}

fn required(anon: Option<axum::Extension<Anonymous>>) -> Option<(Session, User)> {
    match anon.map(|a| a.0) {
        Some(Anonymous::PasswordChangeRequired { session, user }) => Some((session, *user)),
        _ => None,
    }
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn password_required_form(
    State(app): State<AppState>,
    headers: HeaderMap,
    locale: axum::Extension<Locale>,
    anon: Option<axum::Extension<Anonymous>>,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    let Some((session, _)) = required(anon) else {
        return see_other(&next);
    };
    let (cookie_csrf, set_cookie) = anonymous_csrf(&app, &headers);
    let view = PasswordRequiredPage {
        tr: Tr::new(app.i18n.clone(), locale.0),
        nav: Nav::anonymous(cookie_csrf, "/signin/password"),
        csrf: session.csrf_token,
        next,
        errors: FormErrors::default(),
    };
    with_cookie(render(&view), set_cookie)
}

pub async fn password_required(
    State(app): State<AppState>,
    headers: HeaderMap,
    ctx: RequestContext,
    locale: axum::Extension<Locale>,
    anon: Option<axum::Extension<Anonymous>>,
    UiForm(form): UiForm<NewPasswordForm>,
) -> AppResult<Response> {
    let next = safe_next(form.next.as_deref());
    let Some((session, user)) = required(anon) else {
        return Ok(see_other(&next));
    };
    if !credentials::constant_time_eq(session.csrf_token.as_bytes(), form.csrf.as_bytes()) {
        return Err(AppError::CsrfRejected);
    }
    let result = match new_password(&form) {
        Ok(new) => {
            recovery::choose_required_password(
                app.store.as_ref(),
                &ctx,
                &user,
                new,
                &session.id_hash,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(see_other(&next)),
        Err(err) => {
            let tr = Tr::new(app.i18n.clone(), locale.0);
            let errors = FormErrors::from_error(&tr, &err, "new").ok_or(err)?;
            let (cookie_csrf, set_cookie) = anonymous_csrf(&app, &headers);
            let view = PasswordRequiredPage {
                nav: Nav::anonymous(cookie_csrf, "/signin/password"),
                csrf: session.csrf_token,
                next,
                errors,
                tr,
            };
            Ok(with_cookie(
                render_status(StatusCode::UNPROCESSABLE_ENTITY, &view),
                set_cookie,
            ))
        }
    }
}
