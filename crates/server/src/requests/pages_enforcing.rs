//! The forms of the enforcing authority of a European Production Order on
//! the request page: its notification (Regulation (EU) 2023/1543 art. 8)
//! and its answer (arts. 10(4), 12). Thin: the operations are in
//! `enforcing`; a refusal shows the request page again with its reason.

use axum::extract::{Path, State};
use axum::response::Response;
use entraide_domain::request::ObjectionEffect;
use entraide_domain::Locale;
use entraide_store::CooperationRequest;
use uuid::Uuid;

use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::requests::clocks::parse_occurred_at;
use crate::requests::enforcing;
use crate::web::forms::{check_csrf, see_other, PairsForm};

/// The form's optional time, note and conditions.
fn optional(form: &PairsForm, key: &str) -> Option<String> {
    Some(form.one(key)).filter(|v| !v.trim().is_empty())
}

/// Records the notification of the enforcing authority from the page.
pub async fn notify(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let result = match parse_occurred_at(optional(&form, "occurred_at").as_deref()) {
        Ok(at) => {
            enforcing::notify(
                &app,
                &caller.principal(),
                id,
                at,
                optional(&form, "note").as_deref(),
            )
            .await
        }
        Err(e) => Err(e),
    };
    answer(&app, &caller, locale.0, id, result).await
}

/// Records the enforcing authority's answer from the page.
pub async fn objection(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let parsed = form
        .one("effect")
        .parse::<ObjectionEffect>()
        .map_err(|e| AppError::Validation(vec![AppError::field("effect", e)]))
        .and_then(|effect| {
            parse_occurred_at(optional(&form, "occurred_at").as_deref()).map(|at| (effect, at))
        });
    let result = match parsed {
        Ok((effect, at)) => {
            enforcing::record_objection(
                &app,
                &caller.principal(),
                id,
                effect,
                optional(&form, "conditions").as_deref(),
                at,
                optional(&form, "note").as_deref(),
            )
            .await
        }
        Err(e) => Err(e),
    };
    answer(&app, &caller, locale.0, id, result).await
}

/// Back to the request page, or the page again with the reason.
async fn answer(
    app: &AppState,
    caller: &Caller,
    locale: Locale,
    id: Uuid,
    result: AppResult<CooperationRequest>,
) -> AppResult<Response> {
    match result {
        Ok(_) => Ok(see_other(&format!("/requests/{id}"))),
        Err(err @ (AppError::Transition { .. } | AppError::Validation(_))) => {
            crate::requests::pages::request_page_with_error(app, caller, locale, id, err).await
        }
        Err(e) => Err(e),
    }
}
