//! The account in the JSON API: who am I, second factor enrolment, API
//! tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use entraide_proto as proto;
use uuid::Uuid;

use crate::account::service;
use crate::account::tokens::{self, Credential};
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;
use crate::http::caller::{Caller, Via};
use crate::http::middleware::{json_response, ApiJson};
use crate::http::ApiPath;

/// The signed-in user and their organisation.
#[utoipa::path(get, path = "/api/v1/me", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = proto::Me), (status = 401, body = proto::Problem)))]
pub async fn me(State(app): State<AppState>, caller: Caller) -> AppResult<Response> {
    let me = service::me(&app, &caller.principal()).await?;
    Ok(json_response(StatusCode::OK, &me))
}

/// Starts TOTP enrolment: returns a new secret to load in an authenticator.
#[utoipa::path(post, path = "/api/v1/me/totp", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = proto::TotpEnrolment),
              (status = 409, body = proto::Problem, description = "`totp_already_enabled`")))]
pub async fn totp_start(State(app): State<AppState>, caller: Caller) -> AppResult<Response> {
    let enrolment = service::start_totp_enrolment(&app, &caller.user).await?;
    Ok(json_response(StatusCode::OK, &enrolment))
}

/// Confirms TOTP enrolment with a current code; from then on the code is
/// required at every sign-in.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", tag = "identity", security(("bearer" = [])),
    request_body = proto::TotpCode,
    responses((status = 204, description = "the second factor is on"),
              (status = 401, body = proto::Problem, description = "`invalid_second_factor`: wrong or reused code; or no valid credentials"),
              (status = 409, body = proto::Problem, description = "`totp_not_started` or `totp_already_enabled`")))]
pub async fn totp_confirm(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<proto::TotpCode>,
) -> AppResult<Response> {
    let user = app
        .store
        .user_by_id(caller.user.id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    service::confirm_totp(&app, &user, &caller.principal().actor(), &body.code).await?;
    // The code just checked is a second factor passed in this session.
    if let Via::Session { id_hash, .. } = &caller.via {
        app.store.complete_second_factor(id_hash).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Your API tokens.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = [proto::TokenView])))]
pub async fn list_tokens(State(app): State<AppState>, caller: Caller) -> AppResult<Response> {
    let list = tokens::tokens(&app, &caller.principal()).await?;
    Ok(json_response(StatusCode::OK, &list))
}

/// Creates an API token; the secret is returned only here. Tokens are
/// created in a signed-in session (with its second factor wherever one
/// applies); with an API token, only by an administrator, and the new token
/// then dies with the one used: revoking that one revokes it.
/// Administrators may create tokens for other users (`user_id`).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "identity", security(("bearer" = [])),
    request_body = proto::CreateToken,
    responses((status = 201, body = proto::CreatedToken),
              (status = 403, body = proto::Problem, description = "`interactive_session_required`: a token that is not an administrator's cannot create tokens; `second_factor_required`: the session did not pass the second factor; `token_lineage_closed`: the token used is revoked or descends from too many tokens; `forbidden_role`: a token for another user, by a non-administrator"),
              (status = 404, body = proto::Problem, description = "no such user"),
              (status = 409, body = proto::Problem, description = "`user_disabled`"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: the name is empty or too long")))]
pub async fn create_token(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<proto::CreateToken>,
) -> AppResult<Response> {
    let (token, secret) = tokens::create_token_as(
        &app,
        &caller.principal(),
        credential(&caller),
        body.user_id,
        &body.name,
    )
    .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &proto::CreatedToken {
            token: tokens::token_view(&token),
            secret,
        },
    ))
}

/// How the caller signed in, as token creation asks it.
pub(crate) fn credential(caller: &Caller) -> Credential {
    match &caller.via {
        Via::Session {
            second_factor_done, ..
        } => Credential::Session {
            second_factor_done: *second_factor_done,
        },
        Via::Token { id } => Credential::Token { id: *id },
    }
}

/// Revokes one of your tokens (administrators may revoke anyone's), and
/// every token created with it, directly or not.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "identity", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "revoked"), (status = 404, body = proto::Problem, description = "no such token of yours (administrators: of anyone)"),
              (status = 409, body = proto::Problem, description = "`token_already_revoked`")))]
pub async fn revoke_token(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<Response> {
    tokens::revoke_token_by_id(&app, &caller.principal(), id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
