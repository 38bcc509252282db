//! The case page and the member forms on it. The page shows the case
//! (cases), its cooperation requests (requests) and the way to its
//! evidence; the requests feature already depends on cases, so the page
//! that joins them is assembled here, above both.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use entraide_domain::{AuditOutcome, CaseAccess, Locale, Role, RoleSet};
use serde::Deserialize;
use uuid::Uuid;

use crate::app::error::{AppError, AppResult};
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::cases::service;
use crate::http::caller::Caller;
use crate::requests::pages::{kind_options, request_row, RequestRow};
use crate::web::forms::{check_csrf, see_other, CsrfForm, FormErrors, UiForm};
use crate::web::page::{fmt_time, page, render, render_status, Nav};

#[derive(Template)]
#[template(path = "cases/case.html")]
struct CasePage {
    tr: Tr,
    nav: Nav,
    id: Uuid,
    reference: String,
    title: String,
    status_label: String,
    /// `None` for an administrator who is not a member.
    summary: Option<String>,
    created: String,
    members: Vec<MemberRow>,
    manages_members: bool,
    member_email: String,
    errors: FormErrors,
    requests: Vec<RequestRow>,
    handles_requests: bool,
    kinds: Vec<(String, String)>,
}

pub struct MemberRow {
    user_id: Uuid,
    display_name: String,
    email: String,
    added: String,
    is_self: bool,
}

async fn case_page(
    app: &AppState,
    caller: &Caller,
    locale: Locale,
    id: Uuid,
    member_email: String,
    errors: FormErrors,
) -> AppResult<CasePage> {
    let principal = caller.principal();
    let (case, access) = service::case_access(app, &principal, id).await?;
    if access == CaseAccess::None {
        return Err(AppError::NotCaseMember);
    }
    if access.reads_content() {
        service::audit_case_read(app, &principal, &case, AuditOutcome::Success).await?;
    }
    let p = page(app, caller, locale, "/cases").await?;
    let members = app.store.case_members(id).await?;
    let requests = if access.reads_content() {
        let filter = entraide_store::RequestFilter {
            case_id: Some(id),
            limit: 500,
            ..Default::default()
        };
        app.store
            .requests_for_member(caller.user.id, &filter)
            .await?
            .iter()
            .map(|r| request_row(&p.tr, r))
            .collect()
    } else {
        Vec::new()
    };
    Ok(CasePage {
        requests,
        handles_requests: access.reads_content()
            && caller
                .roles()
                .intersects(RoleSet::of(&crate::requests::service::HANDLES_REQUESTS)),
        kinds: kind_options(&p.tr),
        status_label: p.tr.t(&format!("case-status-{}", case.status.as_str())),
        id: case.id,
        reference: case.reference.to_string(),
        title: case.title.as_str().to_owned(),
        summary: access
            .reads_content()
            .then(|| case.summary.as_str().to_owned()),
        created: fmt_time(case.created_at),
        members: members
            .iter()
            .map(|m| MemberRow {
                user_id: m.user_id,
                display_name: m.display_name.to_string(),
                email: m.email.to_string(),
                added: fmt_time(m.added_at),
                is_self: m.user_id == caller.user.id,
            })
            .collect(),
        manages_members: access.manages_members(caller.roles()),
        member_email,
        errors,
        tr: p.tr,
        nav: p.nav,
    })
}

pub async fn case_detail(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let view = case_page(
        &app,
        &caller,
        locale.0,
        id,
        String::new(),
        FormErrors::default(),
    )
    .await?;
    Ok(render(&view))
}

#[derive(Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    csrf: String,
}

pub async fn case_add_member(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
    UiForm(form): UiForm<MemberForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    match service::add_member(&app, &caller.principal(), id, &form.email).await {
        Ok(()) => Ok(see_other(&format!("/cases/{id}"))),
        Err(err) => {
            let tr = Tr::new(app.i18n.clone(), locale.0);
            let Some(errors) = FormErrors::from_error(&tr, &err, "email") else {
                return Err(err);
            };
            let view = case_page(&app, &caller, locale.0, id, form.email, errors).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
    }
}

pub async fn case_remove_member(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
    UiForm(form): UiForm<CsrfForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    service::remove_member(&app, &caller.principal(), id, user_id).await?;
    if user_id == caller.user.id && !caller.roles().contains(Role::Administrator) {
        return Ok(see_other("/cases"));
    }
    Ok(see_other(&format!("/cases/{id}")))
}
