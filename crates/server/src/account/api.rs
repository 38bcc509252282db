//! The account in the JSON API: who am I, second factor enrolment, API
//! tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use entraide_proto as proto;
use uuid::Uuid;

use crate::account::service;
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;
use crate::http::caller::Caller;
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
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Your API tokens.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = [proto::TokenView])))]
pub async fn list_tokens(State(app): State<AppState>, caller: Caller) -> AppResult<Response> {
    let tokens = service::tokens(&app, &caller.principal()).await?;
    Ok(json_response(StatusCode::OK, &tokens))
}

/// Creates an API token for yourself; the secret is returned only here.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "identity", security(("bearer" = [])),
    request_body = proto::CreateToken,
    responses((status = 201, body = proto::CreatedToken), (status = 409, body = proto::Problem, description = "`user_disabled`"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: the name is empty or too long")))]
pub async fn create_token(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<proto::CreateToken>,
) -> AppResult<Response> {
    let (token, secret) = service::create_token(
        app.store.as_ref(),
        &caller.principal().actor(),
        caller.user.id,
        &body.name,
    )
    .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &proto::CreatedToken {
            token: service::token_view(&token),
            secret,
        },
    ))
}

/// Revokes one of your tokens (administrators may revoke anyone's).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "identity", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "revoked"), (status = 404, body = proto::Problem, description = "no such token of yours (administrators: of anyone)"),
              (status = 409, body = proto::Problem, description = "`token_already_revoked`")))]
pub async fn revoke_token(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<Response> {
    service::revoke_token_by_id(&app, &caller.principal(), id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
