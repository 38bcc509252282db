//! The JSON API under `/api/v1`, described by the OpenAPI document served
//! at `/api/openapi.json` (generated from these annotations).

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use entraide_domain::{
    AuditAction, AuditOutcome, CaseAccess, CaseReference, CaseSummary, CaseTitle, DisplayName,
    Email, NewPassword, Role, RoleSet,
};
use entraide_proto as proto;
use entraide_store::{ApiToken, AuditEntry, AuditFilter, Case, CaseMember, Organisation, User};
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::caller::Caller;
use crate::error::{AppError, AppResult, Fields};
use crate::http::{json_response, ApiJson};
use crate::ops::{self, AuditEntryExt};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Entraide node API",
        description = "International cooperation against cybercrime: one node per organisation. \
                       Authenticate with `Authorization: Bearer ent_...` (see `entraide token create`). \
                       Errors are RFC 9457 problem details with a stable `code`."
    ),
    paths(
        healthz, readyz, me, totp_start, totp_confirm, organisation, update_organisation,
        list_users, create_user, update_user, list_tokens, create_token, revoke_token,
        list_cases, create_case, case_detail, case_members, add_case_member, remove_case_member,
        crate::requests::api_create, crate::requests::api_list, crate::requests::api_get,
        crate::requests::api_update, crate::requests::api_transition,
        crate::statistics::api, crate::statistics::api_csv,
        crate::statistics::api_xlsx,
        crate::requests::api_document,
        crate::requests::api_extension,
        crate::requests::api_counterpart,
        crate::federated::api_send, crate::federated::api_send_package,
        crate::evidence_api::list, crate::evidence_api::create_upload,
        crate::evidence_api::upload_status, crate::evidence_api::upload_append,
        crate::evidence_api::delete_upload, crate::evidence_api::detail,
        crate::evidence_api::content, crate::evidence_api::change,
        crate::evidence_api::inclusion_proof, crate::evidence_api::export,
        crate::evidence_api::receive, crate::evidence_api::tree_head,
        crate::evidence_api::consistency,
        crate::knowledge_web::api_search, crate::knowledge_web::api_document,
        crate::knowledge_web::api_compare, crate::knowledge_web::api_helper,
        crate::peers::well_known, crate::peers::identity, crate::directory::api, crate::peers::list, crate::peers::create,
        crate::peers::update, crate::peers::delete,
        crate::messaging::inbox, crate::messaging::inbox_batch, crate::attachments::status, crate::attachments::put_chunk, crate::messaging::api_send, crate::messaging::api_outbox,
        crate::messaging::api_inbox, crate::messaging::api_inbox_message,
        audit_entries, audit_export
    ),
    components(schemas(proto::Problem, proto::FieldError)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn openapi_json() -> Response {
    json_response(StatusCode::OK, &ApiDoc::openapi())
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = proto::Health)))]
pub async fn healthz() -> Response {
    json_response(
        StatusCode::OK,
        &proto::Health {
            status: "alive".into(),
        },
    )
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = proto::Health), (status = 503, body = proto::Problem)))]
pub async fn readyz(State(app): State<AppState>) -> Response {
    match app.store.ping().await {
        Ok(()) => json_response(
            StatusCode::OK,
            &proto::Health {
                status: "ready".into(),
            },
        ),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            let p = crate::error::problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database does not answer".into(),
                vec![],
            );
            crate::error::problem_response(StatusCode::SERVICE_UNAVAILABLE, &p)
        }
    }
}

pub async fn metrics(State(app): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

pub fn organisation_view(o: &Organisation) -> proto::OrganisationView {
    proto::OrganisationView {
        id: o.id,
        node_id: o.node_id.to_string(),
        name: o.name.to_string(),
        kind: o.kind.to_string(),
        country: o.country.to_string(),
        require_totp: o.require_totp,
    }
}

fn roles_list(roles: RoleSet) -> Vec<String> {
    roles.iter().map(|r| r.as_str().to_owned()).collect()
}

pub fn user_view(u: &User) -> proto::UserView {
    proto::UserView {
        id: u.id,
        email: u.email.to_string(),
        display_name: u.display_name.to_string(),
        roles: roles_list(u.roles),
        disabled: u.disabled,
        totp_enabled: u.totp_enabled,
        locked_until: u.locked_until.filter(|t| *t > OffsetDateTime::now_utc()),
        created_at: u.created_at,
    }
}

fn token_view(t: &ApiToken) -> proto::TokenView {
    proto::TokenView {
        id: t.id,
        name: t.name.clone(),
        created_at: t.created_at,
        last_used_at: t.last_used_at,
        revoked_at: t.revoked_at,
    }
}

pub fn case_listing(c: &Case, member: bool) -> proto::CaseListing {
    proto::CaseListing {
        id: c.id,
        reference: c.reference.to_string(),
        title: c.title.as_str().to_owned(),
        status: c.status.as_str().to_owned(),
        member,
        updated_at: c.updated_at,
    }
}

fn member_view(m: &CaseMember) -> proto::CaseMemberView {
    proto::CaseMemberView {
        user_id: m.user_id,
        email: m.email.to_string(),
        display_name: m.display_name.to_string(),
        added_at: m.added_at,
    }
}

pub fn audit_view(e: &AuditEntry) -> proto::AuditEntryView {
    proto::AuditEntryView {
        id: e.id,
        at: e.at,
        actor: e.actor.clone(),
        actor_id: e.actor_id,
        action: e.action.clone(),
        outcome: e.outcome.clone(),
        case_id: e.case_id,
        target: e.target.clone(),
        client_ip: e.client_ip.clone(),
        request_id: e.request_id.clone(),
        detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
    }
}

/// The signed-in user and their organisation.
#[utoipa::path(get, path = "/api/v1/me", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = proto::Me), (status = 401, body = proto::Problem)))]
pub async fn me(State(app): State<AppState>, caller: Caller) -> AppResult<Response> {
    let org = app.store.own_organisation().await?;
    let u = &caller.user;
    Ok(json_response(
        StatusCode::OK,
        &proto::Me {
            id: u.id,
            email: u.email.to_string(),
            display_name: u.display_name.to_string(),
            roles: roles_list(u.roles),
            totp_enabled: u.totp_enabled,
            locale: u.locale.clone(),
            organisation: organisation_view(&org),
        },
    ))
}

/// Starts TOTP enrolment: returns a new secret to load in an authenticator.
#[utoipa::path(post, path = "/api/v1/me/totp", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = proto::TotpEnrolment), (status = 409, body = proto::Problem)))]
pub async fn totp_start(State(app): State<AppState>, caller: Caller) -> AppResult<Response> {
    let enrolment = start_totp_enrolment(&app, &caller.user).await?;
    Ok(json_response(StatusCode::OK, &enrolment))
}

pub async fn start_totp_enrolment(app: &AppState, user: &User) -> AppResult<proto::TotpEnrolment> {
    if user.totp_enabled {
        return Err(AppError::Conflict {
            code: "totp_already_enabled",
            detail: "a second factor is already enabled for this account".into(),
        });
    }
    let secret = crate::auth::new_totp_secret();
    app.store.set_pending_totp_secret(user.id, &secret).await?;
    let org = app.store.own_organisation().await?;
    let issuer = format!("Entraide {}", org.node_id);
    let otpauth_uri = crate::auth::totp_uri(&secret, user.email.as_str(), &issuer)?;
    Ok(proto::TotpEnrolment {
        secret,
        otpauth_uri,
    })
}

/// Checks a code against `user`'s TOTP secret and consumes its time step.
pub async fn check_totp(app: &AppState, user: &User, code: &str) -> AppResult<bool> {
    let Some(secret) = user.totp_secret.as_deref() else {
        return Ok(false);
    };
    let now = u64::try_from(OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0);
    match crate::auth::verify_totp(secret, code, now)? {
        Some(step) => Ok(app
            .store
            .consume_totp_step(user.id, i64::try_from(step).unwrap_or(i64::MAX))
            .await?),
        None => Ok(false),
    }
}

/// Confirms TOTP enrolment with a current code; from then on the code is
/// required at every sign-in.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", tag = "identity", security(("bearer" = [])),
    request_body = proto::TotpCode,
    responses((status = 204), (status = 401, body = proto::Problem)))]
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
    confirm_totp(&app, &user, &caller.actor(), &body.code).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn confirm_totp(
    app: &AppState,
    user: &User,
    actor: &ops::Actor,
    code: &str,
) -> AppResult<()> {
    if user.totp_enabled {
        return Err(AppError::Conflict {
            code: "totp_already_enabled",
            detail: "a second factor is already enabled for this account".into(),
        });
    }
    if user.totp_secret.is_none() {
        return Err(AppError::Conflict {
            code: "totp_not_started",
            detail: "start the enrolment first".into(),
        });
    }
    if !check_totp(app, user, code).await? {
        let entry = actor.entry(AuditAction::SecondFactorFailed, AuditOutcome::Failure);
        app.store.append_audit(&entry).await?;
        return Err(AppError::InvalidSecondFactor);
    }
    let entry = actor.entry(AuditAction::TotpEnrolled, AuditOutcome::Success);
    app.store.enable_totp(user.id, &entry).await?;
    Ok(())
}

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
    responses((status = 200, body = proto::OrganisationView), (status = 403, body = proto::Problem)))]
pub async fn update_organisation(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<proto::UpdateOrganisation>,
) -> AppResult<Response> {
    set_require_totp(&app, &caller, body.require_totp).await?;
    let org = app.store.own_organisation().await?;
    Ok(json_response(StatusCode::OK, &organisation_view(&org)))
}

pub async fn set_require_totp(app: &AppState, caller: &Caller, require: bool) -> AppResult<()> {
    let org = app.store.own_organisation().await?;
    if org.require_totp != require {
        let entry = caller
            .actor()
            .entry(
                AuditAction::OrganisationSettingsChanged,
                AuditOutcome::Success,
            )
            .detail(serde_json::json!({ "require_totp": require }));
        app.store.set_require_totp(require, &entry).await?;
    }
    Ok(())
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

pub fn parse_roles(fields: &mut Fields, names: &[String]) -> Option<RoleSet> {
    let mut set = RoleSet::EMPTY;
    for name in names {
        set = set.with(fields.check("roles", name.parse::<Role>())?);
    }
    Some(set)
}

/// Creates a user (administrators).
#[utoipa::path(post, path = "/api/v1/users", tag = "identity", security(("bearer" = [])),
    request_body = proto::CreateUser,
    responses((status = 201, body = proto::UserView), (status = 409, body = proto::Problem),
              (status = 422, body = proto::Problem)))]
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
    let id = ops::create_user(
        app.store.as_ref(),
        &caller.actor(),
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
    responses((status = 200, body = proto::UserView), (status = 404, body = proto::Problem)))]
pub async fn update_user(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<proto::UpdateUser>,
) -> AppResult<Response> {
    let mut f = Fields::default();
    let roles = body.roles.as_ref().map(|names| parse_roles(&mut f, names));
    let roles = f.finish(Some(roles))?;
    if app.store.user_by_id(id).await?.is_none() {
        return Err(AppError::NotFound { what: "user" });
    }
    if let Some(Some(roles)) = roles {
        ops::set_roles(app.store.as_ref(), &caller.actor(), id, roles).await?;
    }
    if let Some(disabled) = body.disabled {
        ops::set_disabled(app.store.as_ref(), &caller.actor(), id, disabled).await?;
    }
    user_response(&app, id, StatusCode::OK).await
}

/// Your API tokens.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = [proto::TokenView])))]
pub async fn list_tokens(State(app): State<AppState>, caller: Caller) -> AppResult<Response> {
    let tokens: Vec<_> = app
        .store
        .tokens_for_user(caller.user.id)
        .await?
        .iter()
        .map(token_view)
        .collect();
    Ok(json_response(StatusCode::OK, &tokens))
}

/// Creates an API token for yourself; the secret is returned only here.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "identity", security(("bearer" = [])),
    request_body = proto::CreateToken,
    responses((status = 201, body = proto::CreatedToken), (status = 422, body = proto::Problem)))]
pub async fn create_token(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<proto::CreateToken>,
) -> AppResult<Response> {
    let (token, secret) = ops::create_token(
        app.store.as_ref(),
        &caller.actor(),
        caller.user.id,
        &body.name,
    )
    .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &proto::CreatedToken {
            token: token_view(&token),
            secret,
        },
    ))
}

/// Revokes one of your tokens (administrators may revoke anyone's).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "identity", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = proto::Problem), (status = 409, body = proto::Problem)))]
pub async fn revoke_token(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let token = app.store.token_by_id(id).await?;
    let token = token
        .filter(|t| t.user_id == caller.user.id || caller.roles().contains(Role::Administrator))
        .ok_or(AppError::NotFound { what: "token" })?;
    ops::revoke_token(app.store.as_ref(), &caller.actor(), &token).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Cases you are a member of; administrators also see the reference and
/// title of every other case (not their content).
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])),
    responses((status = 200, body = [proto::CaseListing])))]
pub async fn list_cases(State(app): State<AppState>, caller: Caller) -> AppResult<Response> {
    Ok(json_response(
        StatusCode::OK,
        &visible_cases(&app, &caller).await?,
    ))
}

pub async fn visible_cases(app: &AppState, caller: &Caller) -> AppResult<Vec<proto::CaseListing>> {
    let mine = app.store.cases_for_member(caller.user.id).await?;
    if !caller.roles().contains(Role::Administrator) {
        return Ok(mine.iter().map(|c| case_listing(c, true)).collect());
    }
    let member_of: std::collections::HashSet<Uuid> = mine.iter().map(|c| c.id).collect();
    Ok(app
        .store
        .all_cases()
        .await?
        .iter()
        .map(|c| case_listing(c, member_of.contains(&c.id)))
        .collect())
}

/// Opens a case; you become its first member.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])),
    request_body = proto::CreateCase,
    responses((status = 201, body = proto::CaseDetail), (status = 409, body = proto::Problem),
              (status = 422, body = proto::Problem)))]
pub async fn create_case(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<proto::CreateCase>,
) -> AppResult<Response> {
    let case = create_case_from(&app, &caller, &body).await?;
    let detail = case_detail_view(&app, &case).await?;
    Ok(json_response(StatusCode::CREATED, &detail))
}

pub async fn create_case_from(
    app: &AppState,
    caller: &Caller,
    body: &proto::CreateCase,
) -> AppResult<Case> {
    let mut f = Fields::default();
    let reference = f.check("reference", CaseReference::parse(&body.reference));
    let title = f.check("title", CaseTitle::parse(&body.title));
    let summary = f.check("summary", CaseSummary::parse(&body.summary));
    let (reference, title, summary) = f.finish(
        reference
            .zip(title)
            .zip(summary)
            .map(|((a, b), c)| (a, b, c)),
    )?;
    ops::create_case(
        app.store.as_ref(),
        &caller.actor(),
        caller.user.id,
        reference,
        title,
        summary,
    )
    .await
}

async fn case_detail_view(app: &AppState, case: &Case) -> AppResult<proto::CaseDetail> {
    let members = app.store.case_members(case.id).await?;
    Ok(proto::CaseDetail {
        id: case.id,
        reference: case.reference.to_string(),
        title: case.title.as_str().to_owned(),
        summary: case.summary.as_str().to_owned(),
        status: case.status.as_str().to_owned(),
        created_by: case.created_by,
        created_at: case.created_at,
        updated_at: case.updated_at,
        members: members.iter().map(member_view).collect(),
    })
}

/// Looks a case up and decides the caller's access. Non-members who are
/// not administrators are told the case does not exist... except that the
/// refusal is audited.
pub async fn case_access(
    app: &AppState,
    caller: &Caller,
    id: Uuid,
) -> AppResult<(Case, CaseAccess)> {
    let case = app
        .store
        .case_by_id(id)
        .await?
        .ok_or(AppError::NotFound { what: "case" })?;
    let member = app.store.is_case_member(id, caller.user.id).await?;
    let access = CaseAccess::decide(caller.roles(), member);
    if access == CaseAccess::None {
        audit_case_read(app, caller, &case, AuditOutcome::Denied).await?;
    }
    Ok((case, access))
}

/// Reads a case with its content (members only; the read is audited).
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = proto::CaseDetail), (status = 403, body = proto::Problem),
              (status = 404, body = proto::Problem)))]
pub async fn case_detail(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let (case, access) = case_access(&app, &caller, id).await?;
    if access == CaseAccess::Manager {
        // `case_access` audits outsiders; an administrator who is not a
        // member is refused the content, and that is audited too.
        audit_case_read(&app, &caller, &case, AuditOutcome::Denied).await?;
    }
    if !access.reads_content() {
        return Err(AppError::NotCaseMember);
    }
    audit_case_read(&app, &caller, &case, AuditOutcome::Success).await?;
    Ok(json_response(
        StatusCode::OK,
        &case_detail_view(&app, &case).await?,
    ))
}

/// Records a read of a case's content, or its refusal.
pub async fn audit_case_read(
    app: &AppState,
    caller: &Caller,
    case: &Case,
    outcome: AuditOutcome,
) -> AppResult<()> {
    let entry = caller
        .actor()
        .entry(AuditAction::CaseRead, outcome)
        .on_case(case.id)
        .target(case.reference.as_str());
    app.store.append_audit(&entry).await?;
    Ok(())
}

/// Members of a case (members and administrators).
#[utoipa::path(get, path = "/api/v1/cases/{id}/members", tag = "cases", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [proto::CaseMemberView]), (status = 403, body = proto::Problem)))]
pub async fn case_members(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let (_, access) = case_access(&app, &caller, id).await?;
    if access == CaseAccess::None {
        return Err(AppError::NotCaseMember);
    }
    let members: Vec<_> = app
        .store
        .case_members(id)
        .await?
        .iter()
        .map(member_view)
        .collect();
    Ok(json_response(StatusCode::OK, &members))
}

/// Adds a member to a case. An administrator adding themself gains access
/// to the content; that is audited like every membership change.
#[utoipa::path(post, path = "/api/v1/cases/{id}/members", tag = "cases", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::AddCaseMember,
    responses((status = 201, body = [proto::CaseMemberView]), (status = 403, body = proto::Problem),
              (status = 409, body = proto::Problem), (status = 422, body = proto::Problem)))]
pub async fn add_case_member(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<proto::AddCaseMember>,
) -> AppResult<Response> {
    add_member(&app, &caller, id, &body.email).await?;
    let members: Vec<_> = app
        .store
        .case_members(id)
        .await?
        .iter()
        .map(member_view)
        .collect();
    Ok(json_response(StatusCode::CREATED, &members))
}

pub async fn add_member(
    app: &AppState,
    caller: &Caller,
    case_id: Uuid,
    email: &str,
) -> AppResult<()> {
    let (case, access) = case_access(app, caller, case_id).await?;
    if !access.manages_members(caller.roles()) {
        return Err(if access == CaseAccess::None {
            AppError::NotCaseMember
        } else {
            AppError::CannotManageMembers
        });
    }
    let mut f = Fields::default();
    let email = f.check("email", Email::parse(email));
    let email = f.finish(email)?;
    let Some(user) = app
        .store
        .user_by_email(&email)
        .await?
        .filter(|u| !u.disabled)
    else {
        return Err(AppError::Validation(vec![entraide_proto::FieldError {
            field: "email".into(),
            code: "unknown_user".into(),
            message: format!("no active user has the e-mail {email}"),
        }]));
    };
    let entry = caller
        .actor()
        .entry(AuditAction::CaseMemberAdded, AuditOutcome::Success)
        .on_case(case.id)
        .target(user.email.as_str())
        .detail(serde_json::json!({ "self": user.id == caller.user.id, "reference": case.reference.as_str() }));
    match app
        .store
        .add_case_member(
            case.id,
            user.id,
            caller.user.id,
            OffsetDateTime::now_utc(),
            &entry,
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(entraide_store::StoreError::Conflict(_)) => Err(AppError::Conflict {
            code: "already_member",
            detail: format!("{} is already a member of this case", user.email),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Removes a member from a case.
#[utoipa::path(delete, path = "/api/v1/cases/{id}/members/{user_id}", tag = "cases", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = proto::Problem), (status = 404, body = proto::Problem)))]
pub async fn remove_case_member(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
) -> AppResult<Response> {
    remove_member(&app, &caller, id, user_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn remove_member(
    app: &AppState,
    caller: &Caller,
    case_id: Uuid,
    user_id: Uuid,
) -> AppResult<()> {
    let (case, access) = case_access(app, caller, case_id).await?;
    if !access.manages_members(caller.roles()) {
        return Err(if access == CaseAccess::None {
            AppError::NotCaseMember
        } else {
            AppError::CannotManageMembers
        });
    }
    let user = app
        .store
        .user_by_id(user_id)
        .await?
        .ok_or(AppError::NotFound { what: "member" })?;
    let entry = caller
        .actor()
        .entry(AuditAction::CaseMemberRemoved, AuditOutcome::Success)
        .on_case(case.id)
        .target(user.email.as_str());
    if app
        .store
        .remove_case_member(case_id, user_id, &entry)
        .await?
    {
        Ok(())
    } else {
        Err(AppError::NotFound { what: "member" })
    }
}

/// Filters for the audit log. Times are RFC 3339.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub actor: Option<String>,
    /// An action (`case.read`) or a family (`case.`).
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub case_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

impl AuditQuery {
    pub fn filter(&self, default_limit: u32) -> AppResult<AuditFilter> {
        let mut f = Fields::default();
        let time = |f: &mut Fields, field: &str, v: &Option<String>| -> Option<OffsetDateTime> {
            let v = v.as_deref().filter(|s| !s.trim().is_empty())?;
            match parse_time(v) {
                Some(t) => Some(t),
                None => {
                    f.push(
                        field,
                        "invalid_time",
                        "use a date (2026-11-25) or an RFC 3339 time",
                    );
                    None
                }
            }
        };
        let from = time(&mut f, "from", &self.from);
        // A date alone as the end of the period includes that whole day.
        let to = time(&mut f, "to", &self.to).map(|t| match &self.to {
            Some(v) if v.trim().len() == 10 => t + time::Duration::days(1),
            _ => t,
        });
        let outcome = match self.outcome.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(o) => {
                let parsed = AuditOutcome::parse(o);
                if parsed.is_none() {
                    f.push(
                        "outcome",
                        "invalid_outcome",
                        "use success, denied or failure",
                    );
                }
                parsed
            }
        };
        let case_id = match self.case_id.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => {
                let parsed = Uuid::parse_str(s).ok();
                if parsed.is_none() {
                    f.push("case_id", "invalid_id", "not a case identifier");
                }
                parsed
            }
        };
        if let (Some(a), Some(b)) = (from, to) {
            if a > b {
                f.push(
                    "to",
                    "invalid_range",
                    "the end of the period is before its start",
                );
            }
        }
        let limit = self.limit.unwrap_or(default_limit);
        if limit == 0 || limit > 10_000 {
            f.push("limit", "invalid_limit", "use a limit between 1 and 10000");
        }
        f.finish(Some(AuditFilter {
            actor: self.actor.clone().filter(|s| !s.trim().is_empty()),
            action: self.action.clone().filter(|s| !s.trim().is_empty()),
            outcome,
            case_id,
            from,
            to,
            before_id: self.before,
            limit,
        }))
    }
}

/// "2026-11-25" (midnight UTC) or a full RFC 3339 time.
fn parse_time(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    OffsetDateTime::parse(s, &Rfc3339).ok().or_else(|| {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(s, &fmt)
            .ok()
            .map(|d| d.midnight().assume_utc())
    })
}

/// The audit log, newest first (auditors). Reading it is itself audited.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = proto::AuditPage), (status = 422, body = proto::Problem)))]
pub async fn audit_entries(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let filter = q.filter(100)?;
    let entries = read_audit(&app, &caller, &filter, AuditAction::AuditRead).await?;
    let next_before = if entries.len() == filter.limit as usize {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(json_response(
        StatusCode::OK,
        &proto::AuditPage {
            entries: entries.iter().map(audit_view).collect(),
            next_before,
        },
    ))
}

pub async fn read_audit(
    app: &AppState,
    caller: &Caller,
    filter: &AuditFilter,
    action: AuditAction,
) -> AppResult<Vec<AuditEntry>> {
    let entries = app.store.audit_entries(filter).await?;
    let entry = caller
        .actor()
        .entry(action, AuditOutcome::Success)
        .detail(serde_json::json!({ "rows": entries.len() }));
    app.store.append_audit(&entry).await?;
    Ok(entries)
}

/// The audit log as CSV (auditors), up to 10,000 rows per export.
#[utoipa::path(get, path = "/api/v1/audit/export.csv", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn audit_export(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let filter = q.filter(10_000)?;
    let entries = read_audit(&app, &caller, &filter, AuditAction::AuditExported).await?;
    Ok(csv_response(&entries))
}

pub fn csv_response(entries: &[AuditEntry]) -> Response {
    let mut out = String::from(
        "id,at,actor,actor_id,action,outcome,case_id,target,client_ip,request_id,detail\r\n",
    );
    for e in entries {
        let at =
            e.at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
        let cols = [
            e.id.to_string(),
            at,
            e.actor.clone(),
            e.actor_id.map(|u| u.to_string()).unwrap_or_default(),
            e.action.clone(),
            e.outcome.clone(),
            e.case_id.map(|u| u.to_string()).unwrap_or_default(),
            e.target.clone().unwrap_or_default(),
            e.client_ip.clone().unwrap_or_default(),
            e.request_id.clone().unwrap_or_default(),
            e.detail.clone(),
        ];
        out.push_str(
            &cols
                .iter()
                .map(|c| crate::http::csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"entraide-audit.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}
