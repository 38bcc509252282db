//! Resetting a user's password or second factor from the users page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use entraide_domain::{Locale, NewPassword};
use serde::Deserialize;
use uuid::Uuid;

use crate::admin::resets;
use crate::app::error::{AppError, AppResult, Fields};
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::web::forms::{check_csrf, see_other, CsrfForm, FormErrors, UiForm};
use crate::web::page::{page, render, render_status, Nav};

#[derive(Template)]
#[template(path = "admin/password_reset.html")]
struct PasswordResetPage {
    tr: Tr,
    nav: Nav,
    email: String,
    /// Generated: shown this once.
    temporary: Option<String>,
    errors: FormErrors,
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    /// Empty: a temporary password is generated.
    #[serde(default)]
    password: String,
}

pub async fn password_reset(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
    UiForm(form): UiForm<ResetForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    let user = app
        .store
        .user_by_id(id)
        .await?
        .ok_or(AppError::NotFound { what: "user" })?;
    let result = async {
        let chosen = if form.password.is_empty() {
            None
        } else {
            let mut f = Fields::default();
            let p = f.check("password", NewPassword::parse(&form.password));
            Some(f.finish(p)?)
        };
        resets::reset_password(app.store.as_ref(), &caller.principal().actor(), id, chosen).await
    }
    .await;
    let p = page(&app, &caller, locale.0, "/admin/users").await?;
    let (status, temporary, errors) = match result {
        Ok(temporary) => (StatusCode::OK, temporary, FormErrors::default()),
        Err(err) => match FormErrors::from_error(&p.tr, &err, "password") {
            Some(errors) => (StatusCode::UNPROCESSABLE_ENTITY, None, errors),
            None => return Err(err),
        },
    };
    let view = PasswordResetPage {
        email: user.email.to_string(),
        temporary,
        errors,
        tr: p.tr,
        nav: p.nav,
    };
    Ok(if status == StatusCode::OK {
        render(&view)
    } else {
        render_status(status, &view)
    })
}

pub async fn second_factor_reset(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    UiForm(form): UiForm<CsrfForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    resets::reset_second_factor(app.store.as_ref(), &caller.principal().actor(), id).await?;
    Ok(see_other("/admin/users"))
}
