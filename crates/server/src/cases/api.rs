//! Cases in the JSON API: listing, opening, reading, members.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use entraide_proto as proto;
use uuid::Uuid;

use crate::app::error::AppResult;
use crate::app::state::AppState;
use crate::cases::service;
use crate::http::caller::Caller;
use crate::http::middleware::{json_response, ApiJson};
use crate::http::ApiPath;

/// Cases you are a member of; administrators also see the reference and
/// title of every other case (not their content).
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])),
    responses((status = 200, body = [proto::CaseListing])))]
pub async fn list_cases(State(app): State<AppState>, caller: Caller) -> AppResult<Response> {
    Ok(json_response(
        StatusCode::OK,
        &service::visible_cases(&app, &caller.principal()).await?,
    ))
}

/// Opens a case; you become its first member.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])),
    request_body = proto::CreateCase,
    responses((status = 201, body = proto::CaseDetail), (status = 409, body = proto::Problem, description = "`case_reference_taken`"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: reference, title or summary refused")))]
pub async fn create_case(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<proto::CreateCase>,
) -> AppResult<Response> {
    let case = service::create_case_from(&app, &caller.principal(), &body).await?;
    let detail = service::case_detail_view(&app, &case).await?;
    Ok(json_response(StatusCode::CREATED, &detail))
}

/// Reads a case with its content (members only; the read is audited).
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = proto::CaseDetail), (status = 403, body = proto::Problem, description = "`not_case_member`: only members read a case's content (the refusal is audited)"),
              (status = 404, body = proto::Problem, description = "no such case")))]
pub async fn case_detail(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<Response> {
    let detail = service::read_case(&app, &caller.principal(), id).await?;
    Ok(json_response(StatusCode::OK, &detail))
}

/// Members of a case (members and administrators).
#[utoipa::path(get, path = "/api/v1/cases/{id}/members", tag = "cases", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [proto::CaseMemberView]), (status = 403, body = proto::Problem, description = "`not_case_member`"),
              (status = 404, body = proto::Problem, description = "no such case")))]
pub async fn case_members(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<Response> {
    let members = service::members(&app, &caller.principal(), id).await?;
    Ok(json_response(StatusCode::OK, &members))
}

/// Adds a member to a case. An administrator adding themself gains access
/// to the content; that is audited like every membership change.
#[utoipa::path(post, path = "/api/v1/cases/{id}/members", tag = "cases", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::AddCaseMember,
    responses((status = 201, body = [proto::CaseMemberView], description = "the members, the new one included"),
              (status = 403, body = proto::Problem, description = "`cannot_manage_members` or `not_case_member`"),
              (status = 404, body = proto::Problem, description = "no such case"), (status = 409, body = proto::Problem, description = "`already_member`"),
              (status = 422, body = proto::Problem, description = "`validation_failed` (`unknown_user`): no active user has that e-mail")))]
pub async fn add_case_member(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<proto::AddCaseMember>,
) -> AppResult<Response> {
    service::add_member(&app, &caller.principal(), id, &body.email).await?;
    let members = service::member_list(&app, id).await?;
    Ok(json_response(StatusCode::CREATED, &members))
}

/// Removes a member from a case.
#[utoipa::path(delete, path = "/api/v1/cases/{id}/members/{user_id}", tag = "cases", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204, description = "removed"), (status = 403, body = proto::Problem, description = "`cannot_manage_members` or `not_case_member`"),
              (status = 404, body = proto::Problem, description = "no such case or member")))]
pub async fn remove_case_member(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, user_id)): ApiPath<(Uuid, Uuid)>,
) -> AppResult<Response> {
    service::remove_member(&app, &caller.principal(), id, user_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
