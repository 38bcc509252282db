//! Cases: opening them, who may see them, their members. A case is the
//! unit of need-to-know: requests and evidence belong to one, and only its
//! members read its content. Nothing here knows HTTP.

use entraide_domain::{
    AuditAction, AuditOutcome, CaseAccess, CaseReference, CaseStatus, CaseSummary, CaseTitle,
    Email, Role,
};
use entraide_proto as proto;
use entraide_store::{Case, CaseMember, NewAuditEntry, Store, StoreError};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::error::{AppError, AppResult, Fields};
use crate::app::principal::Principal;
use crate::app::state::AppState;

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

pub fn member_view(m: &CaseMember) -> proto::CaseMemberView {
    proto::CaseMemberView {
        user_id: m.user_id,
        email: m.email.to_string(),
        display_name: m.display_name.to_string(),
        added_at: m.added_at,
    }
}

/// Cases the user is a member of; administrators also see the reference
/// and title of every other case (not their content).
pub async fn visible_cases(
    app: &AppState,
    principal: &Principal,
) -> AppResult<Vec<proto::CaseListing>> {
    let user = principal.signed_in()?;
    let mine = app.store.cases_for_member(user.id).await?;
    if !principal.roles().contains(Role::Administrator) {
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

pub async fn create_case(
    store: &dyn Store,
    actor: &Actor,
    creator: Uuid,
    reference: CaseReference,
    title: CaseTitle,
    summary: CaseSummary,
) -> AppResult<Case> {
    let (case, audit) = new_case(actor, creator, reference, title, summary);
    store_case(store, &case, &audit).await?;
    Ok(case)
}

/// Stores a case built by `new_case`; a reference already taken is a
/// conflict the caller can show.
pub async fn store_case(store: &dyn Store, case: &Case, audit: &NewAuditEntry) -> AppResult<()> {
    match store.create_case(case, audit).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(_)) => Err(AppError::Conflict {
            code: "case_reference_taken",
            detail: format!("a case with reference {} already exists", case.reference),
        }),
        Err(e) => Err(e.into()),
    }
}

/// A new open case and the audit entry of its creation, not yet stored
/// (a step that opens a case writes both with its own change).
pub fn new_case(
    actor: &Actor,
    creator: Uuid,
    reference: CaseReference,
    title: CaseTitle,
    summary: CaseSummary,
) -> (Case, NewAuditEntry) {
    let now = OffsetDateTime::now_utc();
    let case = Case {
        id: Uuid::now_v7(),
        reference,
        title,
        summary,
        status: CaseStatus::Open,
        created_by: creator,
        created_at: now,
        updated_at: now,
    };
    let audit = actor
        .entry(AuditAction::CaseCreated, AuditOutcome::Success)
        .on_case(case.id)
        .target(case.reference.as_str());
    (case, audit)
}

/// Opens a case from what the user typed; they become its first member.
pub async fn create_case_from(
    app: &AppState,
    principal: &Principal,
    body: &proto::CreateCase,
) -> AppResult<Case> {
    let user = principal.signed_in()?;
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
    create_case(
        app.store.as_ref(),
        &principal.actor(),
        user.id,
        reference,
        title,
        summary,
    )
    .await
}

pub async fn case_detail_view(app: &AppState, case: &Case) -> AppResult<proto::CaseDetail> {
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

/// Looks a case up and decides the principal's access. Non-members who are
/// not administrators are told the case does not exist... except that the
/// refusal is audited.
pub async fn case_access(
    app: &AppState,
    principal: &Principal,
    id: Uuid,
) -> AppResult<(Case, CaseAccess)> {
    let user = principal.signed_in()?;
    let case = app
        .store
        .case_by_id(id)
        .await?
        .ok_or(AppError::NotFound { what: "case" })?;
    let member = app.store.is_case_member(id, user.id).await?;
    let access = CaseAccess::decide(principal.roles(), member);
    if access == CaseAccess::None {
        audit_case_read(app, principal, &case, AuditOutcome::Denied).await?;
    }
    Ok((case, access))
}

/// Reads a case with its content: members only, and the read (or its
/// refusal) is audited.
pub async fn read_case(
    app: &AppState,
    principal: &Principal,
    id: Uuid,
) -> AppResult<proto::CaseDetail> {
    let (case, access) = case_access(app, principal, id).await?;
    if access == CaseAccess::Manager {
        // `case_access` audits outsiders; an administrator who is not a
        // member is refused the content, and that is audited too.
        audit_case_read(app, principal, &case, AuditOutcome::Denied).await?;
    }
    if !access.reads_content() {
        return Err(AppError::NotCaseMember);
    }
    audit_case_read(app, principal, &case, AuditOutcome::Success).await?;
    case_detail_view(app, &case).await
}

/// Records a read of a case's content, or its refusal.
pub async fn audit_case_read(
    app: &AppState,
    principal: &Principal,
    case: &Case,
    outcome: AuditOutcome,
) -> AppResult<()> {
    let entry = principal
        .actor()
        .entry(AuditAction::CaseRead, outcome)
        .on_case(case.id)
        .target(case.reference.as_str());
    app.store.append_audit(&entry).await?;
    Ok(())
}

/// Members of a case, for its members and administrators.
pub async fn members(
    app: &AppState,
    principal: &Principal,
    case_id: Uuid,
) -> AppResult<Vec<proto::CaseMemberView>> {
    let (_, access) = case_access(app, principal, case_id).await?;
    if access == CaseAccess::None {
        return Err(AppError::NotCaseMember);
    }
    member_list(app, case_id).await
}

/// Members of a case, without checking who asks (after a change they made).
pub async fn member_list(app: &AppState, case_id: Uuid) -> AppResult<Vec<proto::CaseMemberView>> {
    Ok(app
        .store
        .case_members(case_id)
        .await?
        .iter()
        .map(member_view)
        .collect())
}

/// Adds a member to a case. An administrator adding themself gains access
/// to the content; that is audited like every membership change.
pub async fn add_member(
    app: &AppState,
    principal: &Principal,
    case_id: Uuid,
    email: &str,
) -> AppResult<()> {
    let me = principal.signed_in()?;
    let (case, access) = case_access(app, principal, case_id).await?;
    if !access.manages_members(principal.roles()) {
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
    let entry = principal
        .actor()
        .entry(AuditAction::CaseMemberAdded, AuditOutcome::Success)
        .on_case(case.id)
        .target(user.email.as_str())
        .detail(
            serde_json::json!({ "self": user.id == me.id, "reference": case.reference.as_str() }),
        );
    match app
        .store
        .add_case_member(case.id, user.id, me.id, OffsetDateTime::now_utc(), &entry)
        .await
    {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(_)) => Err(AppError::Conflict {
            code: "already_member",
            detail: format!("{} is already a member of this case", user.email),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Removes a member from a case.
pub async fn remove_member(
    app: &AppState,
    principal: &Principal,
    case_id: Uuid,
    user_id: Uuid,
) -> AppResult<()> {
    let (case, access) = case_access(app, principal, case_id).await?;
    if !access.manages_members(principal.roles()) {
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
    let entry = principal
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
