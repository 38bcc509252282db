//! API tokens in the pages: the list on the account page (when each was
//! last used, from which address and client), creating one in the signed-in
//! session (its secret shown once, on a page of its own) and revoking one.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use entraide_domain::Locale;
use serde::Deserialize;
use uuid::Uuid;

use crate::account::api::credential;
use crate::account::tokens;
use crate::app::error::AppResult;
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::web::forms::{check_csrf, see_other, CsrfForm, FormErrors, UiForm};
use crate::web::page::{fmt_time, page, render, render_status, Nav};

/// One token of the list, ready to show.
pub(crate) struct TokenRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: String,
    /// `None` when never used.
    pub last_used_at: Option<String>,
    pub last_used_from: String,
    pub last_used_agent: String,
    /// Created with another token, and revoked with it.
    pub derived: bool,
    pub revoked: bool,
}

/// The signed-in user's tokens, oldest first, revoked ones included.
pub(crate) async fn token_rows(app: &AppState, caller: &Caller) -> AppResult<Vec<TokenRow>> {
    Ok(tokens::tokens(app, &caller.principal())
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            created_at: fmt_time(t.created_at),
            last_used_at: t.last_used_at.map(fmt_time),
            last_used_from: t.last_used_from.unwrap_or_default(),
            last_used_agent: t.last_used_agent.unwrap_or_default(),
            derived: t.parent_token_id.is_some(),
            revoked: t.revoked_at.is_some(),
        })
        .collect())
}

#[derive(Template)]
#[template(path = "account/token.html")]
struct TokenPage {
    tr: Tr,
    nav: Nav,
    name: String,
    errors: FormErrors,
    /// The new token's secret, shown only on this page.
    secret: Option<String>,
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    csrf: String,
}

/// Creates a token for the signed-in user. Refusals (a session without
/// the second factor where one applies) are error pages; a bad name comes
/// back beside its field.
pub async fn account_token_create(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    UiForm(form): UiForm<TokenForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    let result = tokens::create_token_as(
        &app,
        &caller.principal(),
        credential(&caller),
        None,
        &form.name,
    )
    .await;
    let p = page(&app, &caller, locale.0, "/account").await?;
    match result {
        Ok((token, secret)) => Ok(render(&TokenPage {
            name: token.name,
            errors: FormErrors::default(),
            secret: Some(secret),
            tr: p.tr,
            nav: p.nav,
        })),
        Err(err) => {
            let Some(errors) = FormErrors::from_error(&p.tr, &err, "name") else {
                return Err(err);
            };
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &TokenPage {
                    name: form.name,
                    errors,
                    secret: None,
                    tr: p.tr,
                    nav: p.nav,
                },
            ))
        }
    }
}

/// Revokes one of the user's tokens, and the tokens created with it.
pub async fn account_token_revoke(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    UiForm(form): UiForm<CsrfForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    tokens::revoke_token_by_id(&app, &caller.principal(), id).await?;
    Ok(see_other("/account#tokens"))
}
