//! Administration in the JSON API: the organisation, users, the audit log.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use entraide_domain::{AuditAction, DisplayName, Email, NewPassword};
use entraide_proto as proto;
use uuid::Uuid;

use crate::admin::service::{self, organisation_view, parse_roles, user_view, AuditQuery};
use crate::app::error::{AppError, AppResult, Fields};
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::http::middleware::{json_response, ApiJson};
use crate::http::{ApiPath, ApiQuery};

/// The organisation running this node.
#[utoipa::path(get, path = "/api/v1/organisation", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = proto::OrganisationView)))]
pub async fn organisation(State(app): State<AppState>, _caller: Caller) -> AppResult<Response> {
    let org = app.store.own_organisation().await?;
    Ok(json_response(StatusCode::OK, &organisation_view(&org)))
}

/// Changes organisation settings (administrators).
#[utoipa::path(patch, path = "/api/v1/organisation", tag = "identity", security(("bearer" = [])),
    request_body = proto::UpdateOrganisation,
    responses((status = 200, body = proto::OrganisationView)))]
pub async fn update_organisation(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<proto::UpdateOrganisation>,
) -> AppResult<Response> {
    service::set_require_totp(&app, &caller.principal(), body.require_totp).await?;
    let org = app.store.own_organisation().await?;
    Ok(json_response(StatusCode::OK, &organisation_view(&org)))
}

/// Users of this node (administrators).
#[utoipa::path(get, path = "/api/v1/users", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = [proto::UserView])))]
pub async fn list_users(State(app): State<AppState>, _caller: Caller) -> AppResult<Response> {
    let users: Vec<_> = app
        .store
        .list_users()
        .await?
        .iter()
        .map(user_view)
        .collect();
    Ok(json_response(StatusCode::OK, &users))
}

/// Creates a user (administrators).
#[utoipa::path(post, path = "/api/v1/users", tag = "identity", security(("bearer" = [])),
    request_body = proto::CreateUser,
    responses((status = 201, body = proto::UserView), (status = 409, body = proto::Problem, description = "`email_taken`"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: every refused field (e-mail, display name, password strength, roles)")))]
pub async fn create_user(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<proto::CreateUser>,
) -> AppResult<Response> {
    let mut f = Fields::default();
    let email = f.check("email", Email::parse(&body.email));
    let name = f.check("display_name", DisplayName::parse(&body.display_name));
    let password = f.check("password", NewPassword::parse(&body.password));
    let roles = parse_roles(&mut f, &body.roles);
    let (email, name, password, roles) = f.finish(
        email
            .zip(name)
            .zip(password)
            .zip(roles)
            .map(|(((a, b), c), d)| (a, b, c, d)),
    )?;
    let id = service::create_user(
        app.store.as_ref(),
        &caller.principal().actor(),
        email,
        name,
        password,
        roles,
    )
    .await?;
    user_response(&app, id, StatusCode::CREATED).await
}

async fn user_response(app: &AppState, id: Uuid, status: StatusCode) -> AppResult<Response> {
    let user = app
        .store
        .user_by_id(id)
        .await?
        .ok_or(AppError::NotFound { what: "user" })?;
    Ok(json_response(status, &user_view(&user)))
}

/// Changes a user's roles or disables/enables them (administrators).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "identity", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::UpdateUser,
    responses((status = 200, body = proto::UserView), (status = 404, body = proto::Problem, description = "no such user"),
              (status = 409, body = proto::Problem, description = "`cannot_demote_self` or `cannot_disable_self`"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: an unknown role")))]
pub async fn update_user(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<proto::UpdateUser>,
) -> AppResult<Response> {
    let mut f = Fields::default();
    let roles = body.roles.as_ref().map(|names| parse_roles(&mut f, names));
    let roles = f.finish(Some(roles))?;
    if app.store.user_by_id(id).await?.is_none() {
        return Err(AppError::NotFound { what: "user" });
    }
    let actor = caller.principal().actor();
    if let Some(Some(roles)) = roles {
        service::set_roles(app.store.as_ref(), &actor, id, roles).await?;
    }
    if let Some(disabled) = body.disabled {
        service::set_disabled(app.store.as_ref(), &actor, id, disabled).await?;
    }
    user_response(&app, id, StatusCode::OK).await
}

/// Resets a user's password (administrators): to the one given, or to a
/// generated temporary one returned only here. The user must choose a new
/// password at next sign-in; their sessions end (their API tokens, separate
/// credentials, keep working). Audited.
#[utoipa::path(post, path = "/api/v1/users/{id}/password-reset", tag = "identity", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::ResetPassword,
    responses((status = 200, body = proto::PasswordResetDone),
              (status = 404, body = proto::Problem, description = "no such user"),
              (status = 409, body = proto::Problem, description = "`cannot_reset_self`: use your account page"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: the password given does not meet the policy")))]
pub async fn reset_password(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<proto::ResetPassword>,
) -> AppResult<Response> {
    let mut f = Fields::default();
    let chosen = body
        .password
        .as_ref()
        .map(|p| f.check("password", NewPassword::parse(p)));
    let chosen = f.finish(Some(chosen))?.flatten();
    let temporary = crate::admin::resets::reset_password(
        app.store.as_ref(),
        &caller.principal().actor(),
        id,
        chosen,
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &proto::PasswordResetDone {
            temporary_password: temporary,
            must_change_password: true,
        },
    ))
}

/// Removes a user's second factor (administrators): they enrol again at
/// next sign-in where the organisation requires one. Their sessions end.
/// Audited.
#[utoipa::path(post, path = "/api/v1/users/{id}/second-factor-reset", tag = "identity", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "the second factor is removed"),
              (status = 404, body = proto::Problem, description = "no such user"),
              (status = 409, body = proto::Problem, description = "`no_second_factor`: nothing to reset; `cannot_reset_self`")))]
pub async fn reset_second_factor(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<Response> {
    crate::admin::resets::reset_second_factor(app.store.as_ref(), &caller.principal().actor(), id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The audit log, newest first (auditors). Reading it is itself audited.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = proto::AuditPage),
              (status = 422, body = proto::Problem, description = "`validation_failed`: a time, outcome or case id that does not parse, or a period that ends before it starts")))]
pub async fn audit_entries(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> AppResult<Response> {
    let filter = q.filter(100)?;
    let entries =
        service::read_audit(&app, &caller.principal(), &filter, AuditAction::AuditRead).await?;
    let next_before = if entries.len() == filter.limit as usize {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(json_response(
        StatusCode::OK,
        &proto::AuditPage {
            entries: entries.iter().map(service::audit_view).collect(),
            next_before,
        },
    ))
}

/// The audit log as CSV (auditors), up to 10,000 rows per export.
#[utoipa::path(get, path = "/api/v1/audit/export.csv", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, content_type = "text/csv", body = String, description = "one line per entry, with a header line"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: a filter that does not parse")))]
pub async fn audit_export(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> AppResult<Response> {
    audit_csv_download(&app, &caller, &q).await
}

/// The audit export as a CSV download; the `/audit/export.csv` page link
/// answers the same.
pub async fn audit_csv_download(
    app: &AppState,
    caller: &Caller,
    q: &AuditQuery,
) -> AppResult<Response> {
    let filter = q.filter(10_000)?;
    let entries = service::read_audit(
        app,
        &caller.principal(),
        &filter,
        AuditAction::AuditExported,
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"entraide-audit.csv\"",
            ),
        ],
        service::audit_csv(&entries),
    )
        .into_response())
}
