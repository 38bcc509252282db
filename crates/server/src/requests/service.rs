//! Cooperation requests: drafting, checks, approval, tracking. The JSON API
//! lives here; the web pages in `ui_requests.rs` call the same operations.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use entraide_domain::request::{
    assess, has_errors, next_state, Action, DeadlineRules, Direction, Finding, Move, RefusalGround,
    RequestContent, RequestKind, RequestState, Severity, TransitionError, Trigger,
};
use entraide_domain::{AuditAction, AuditOutcome, CaseAccess, Role};
use entraide_proto as proto;
use entraide_store::{Case, CooperationRequest, RequestEvent, RequestFilter};
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::case_access;
use crate::caller::Caller;
use crate::error::{AppError, AppResult};
use crate::http::{json_response, ApiJson};
use crate::ops::AuditEntryExt;
use crate::state::AppState;

fn finding_view(f: &Finding) -> proto::FindingView {
    proto::FindingView {
        field: f.field.clone(),
        severity: match f.severity {
            Severity::Error => "error".into(),
            Severity::Warning => "warning".into(),
        },
        code: f.code.to_owned(),
        message: f.message.clone(),
        source: f.source.to_owned(),
    }
}

fn field_errors(findings: &[Finding]) -> Vec<proto::FieldError> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| proto::FieldError {
            field: format!("content.{}", f.field),
            code: f.code.to_owned(),
            message: f.message.clone(),
        })
        .collect()
}

pub fn request_view(
    r: &CooperationRequest,
    events: &[RequestEvent],
    now: OffsetDateTime,
) -> proto::RequestView {
    let rules = DeadlineRules::default();
    let deadline = r.deadline_due.map(|due| proto::DeadlineView {
        due,
        source: r.deadline_source.clone().unwrap_or_default(),
        due_soon: rules.is_due_soon(due, now),
        past: now >= due,
    });
    proto::RequestView {
        id: r.id,
        case_id: r.case_id,
        reference: r.reference.clone(),
        kind: r.kind.as_str().to_owned(),
        article: r.kind.article().to_owned(),
        direction: r.direction.as_str().to_owned(),
        state: r.state.as_str().to_owned(),
        legal_basis: r.legal_basis.map(|b| b.as_str().to_owned()),
        requested_country: r.requested_country.map(|c| c.to_string()),
        counterpart: r.counterpart.clone(),
        content: serde_json::to_value(&r.content).unwrap_or_default(),
        drafted_by: r.drafted_by,
        approved_by: r.approved_by,
        approved_digest: r.approved_digest.clone(),
        refusal_ground: r.refusal_ground.map(|g| g.as_str().to_owned()),
        deadline,
        created_at: r.created_at,
        updated_at: r.updated_at,
        findings: assess(r.kind, &r.content)
            .iter()
            .map(finding_view)
            .collect(),
        available_actions: entraide_domain::request::available_actions(
            r.kind,
            r.direction,
            r.state,
        )
        .iter()
        .map(|a| a.name().to_owned())
        .collect(),
        events: events
            .iter()
            .map(|e| proto::RequestEventView {
                at: e.at,
                actor: e.actor.clone(),
                action: e.action.clone(),
                from_state: e.from_state.clone(),
                to_state: e.to_state.clone(),
            })
            .collect(),
    }
}

/// Parses the content with the path of the first bad field.
pub fn parse_content(value: serde_json::Value) -> AppResult<RequestContent> {
    if value.is_null() {
        return Ok(RequestContent::default());
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        AppError::Validation(vec![proto::FieldError {
            field: format!("content.{path}"),
            code: "invalid_content".into(),
            message: e.inner().to_string(),
        }])
    })
}

/// The other side's country: the requested one for what we send, the
/// requesting one for what we receive (statistics count by it).
fn counterpart_country(
    content: &RequestContent,
    direction: Direction,
) -> Option<entraide_domain::CountryCode> {
    match direction {
        Direction::Outgoing => content.requested.country,
        Direction::Incoming => content.requesting.country,
    }
}

fn counterpart_of(content: &RequestContent, direction: Direction) -> String {
    match direction {
        Direction::Outgoing => content.requested.organisation.clone(),
        Direction::Incoming => content.requesting.organisation.clone(),
    }
}

/// The case must exist and the caller must be one of its members.
async fn member_case(app: &AppState, caller: &Caller, case_id: Uuid) -> AppResult<Case> {
    let (case, access) = case_access(app, caller, case_id).await?;
    if access != CaseAccess::Member {
        return Err(AppError::NotCaseMember);
    }
    Ok(case)
}

/// The request, if the caller is a member of its case (else "not found":
/// a request's existence is itself case content).
pub async fn member_request(
    app: &AppState,
    caller: &Caller,
    id: Uuid,
) -> AppResult<CooperationRequest> {
    let request = app
        .store
        .request_by_id(id)
        .await?
        .ok_or(AppError::NotFound { what: "request" })?;
    if !app
        .store
        .is_case_member(request.case_id, caller.user.id)
        .await?
    {
        let entry = caller
            .actor()
            .entry(AuditAction::RequestRead, AuditOutcome::Denied)
            .on_case(request.case_id)
            .target(request.reference.clone());
        app.store.append_audit(&entry).await?;
        return Err(AppError::NotFound { what: "request" });
    }
    Ok(request)
}

fn event(
    r: &CooperationRequest,
    caller: &Caller,
    action: &str,
    from: Option<RequestState>,
    detail: serde_json::Value,
) -> RequestEvent {
    event_by(
        r,
        Some(caller.user.id),
        &caller.user.email.to_string(),
        action,
        from,
        detail,
    )
}

fn event_by(
    r: &CooperationRequest,
    actor_id: Option<Uuid>,
    actor: &str,
    action: &str,
    from: Option<RequestState>,
    detail: serde_json::Value,
) -> RequestEvent {
    RequestEvent {
        id: 0,
        request_id: r.id,
        at: OffsetDateTime::now_utc(),
        actor_id,
        actor: actor.to_owned(),
        action: action.to_owned(),
        from_state: from.map(|s| s.as_str().to_owned()),
        to_state: r.state.as_str().to_owned(),
        detail: detail.to_string(),
    }
}

/// Drafts an outgoing request (prefilled with our organisation and the
/// drafter) or registers an incoming one.
pub async fn create(
    app: &AppState,
    caller: &Caller,
    case_id: Uuid,
    kind: RequestKind,
    direction: Direction,
    mut content: RequestContent,
) -> AppResult<CooperationRequest> {
    let case = member_case(app, caller, case_id).await?;
    if direction == Direction::Outgoing {
        let org = app.store.own_organisation().await?;
        if content.requesting.organisation.trim().is_empty() {
            content.requesting.organisation = org.name.to_string();
        }
        if content.requesting.country.is_none() {
            content.requesting.country = Some(org.country);
        }
        if content.requesting.person.trim().is_empty() {
            content.requesting.person = caller.user.display_name.to_string();
        }
        if content.requesting.email.trim().is_empty() {
            content.requesting.email = caller.user.email.to_string();
        }
        if content.case_number.trim().is_empty() {
            content.case_number = case.reference.to_string();
        }
    }
    let now = OffsetDateTime::now_utc();
    let n = app.store.count_requests_in_case(case_id).await?;
    let rules = app
        .settings
        .deadlines
        .for_country(counterpart_country(&content, direction));
    let mut request = CooperationRequest {
        id: Uuid::now_v7(),
        case_id,
        reference: String::new(),
        kind,
        direction,
        state: RequestState::initial(direction),
        legal_basis: content.legal_basis,
        requested_country: counterpart_country(&content, direction),
        counterpart: counterpart_of(&content, direction),
        content,
        drafted_by: (direction == Direction::Outgoing).then_some(caller.user.id),
        approved_by: None,
        approved_digest: None,
        refusal_ground: None,
        deadline_due: None,
        deadline_source: None,
        created_at: now,
        updated_at: now,
        sent_at: None,
        acknowledged_at: None,
        first_data_at: None,
        closed_at: None,
    };
    if direction == Direction::Incoming {
        if let Some(d) = rules.deadline(kind, request.legal_basis, Trigger::Received, now) {
            request.deadline_due = Some(d.due);
            request.deadline_source = Some(d.source.to_owned());
        }
    }
    // References are per case: CASE/R1, CASE/R2... A race between two
    // drafters is settled by the unique index and a retry.
    for attempt in 1..=5 {
        request.reference = format!("{}/R{}", case.reference, n + attempt);
        let ev = event(
            &request,
            caller,
            if direction == Direction::Outgoing {
                "drafted"
            } else {
                "registered"
            },
            None,
            serde_json::json!({}),
        );
        let audit = caller
            .actor()
            .entry(AuditAction::RequestCreated, AuditOutcome::Success)
            .on_case(case_id)
            .target(request.reference.clone())
            .detail(serde_json::json!({ "kind": kind.as_str(), "direction": direction.as_str() }));
        match app.store.create_request(&request, &ev, &audit).await {
            Ok(()) => return Ok(request),
            Err(entraide_store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict {
        code: "reference_taken",
        detail: "could not allocate a request reference; try again".into(),
    })
}

/// Replaces the content of a draft.
pub async fn update_content(
    app: &AppState,
    caller: &Caller,
    id: Uuid,
    content: RequestContent,
) -> AppResult<CooperationRequest> {
    let mut request = member_request(app, caller, id).await?;
    let previous = request.clone();
    if !request.state.is_editable() {
        return Err(AppError::Transition {
            code: "not_editable",
            detail: format!(
                "a request that is {} can no longer be changed",
                request.state
            ),
            current_state: request.state.as_str().to_owned(),
        });
    }
    let before = request.state;
    request.legal_basis = content.legal_basis;
    request.requested_country = counterpart_country(&content, request.direction);
    request.counterpart = counterpart_of(&content, request.direction);
    request.content = content;
    request.updated_at = OffsetDateTime::now_utc();
    let ev = event(
        &request,
        caller,
        "edited",
        Some(before),
        serde_json::json!({}),
    );
    let audit = caller
        .actor()
        .entry(AuditAction::RequestUpdated, AuditOutcome::Success)
        .on_case(request.case_id)
        .target(request.reference.clone());
    if !app
        .store
        .update_request(&previous, &request, &ev, &audit)
        .await?
    {
        return Err(concurrent(app, id).await);
    }
    Ok(request)
}

async fn concurrent(app: &AppState, id: Uuid) -> AppError {
    let state = app
        .store
        .request_by_id(id)
        .await
        .ok()
        .flatten()
        .map(|r| r.state.as_str().to_owned())
        .unwrap_or_default();
    AppError::Transition {
        code: "state_changed",
        detail: "someone else changed this request first; reload it".into(),
        current_state: state,
    }
}

pub fn parse_action(name: &str, ground: Option<&str>) -> AppResult<Action> {
    let bad = |field: &str, code: &str, message: String| {
        AppError::Validation(vec![proto::FieldError {
            field: field.into(),
            code: code.into(),
            message,
        }])
    };
    Ok(match name {
        "submit_for_approval" => Action::SubmitForApproval,
        "return_to_draft" => Action::ReturnToDraft,
        "approve" => Action::Approve,
        "mark_sent" => Action::MarkSent,
        "acknowledge" => Action::Acknowledge,
        "start_execution" => Action::StartExecution,
        "confirm_preservation" => Action::ConfirmPreservation,
        "request_more_information" => Action::RequestMoreInformation,
        "provide_information" => Action::ProvideInformation,
        "answer_partially" => Action::AnswerPartially,
        "answer_completely" => Action::AnswerCompletely,
        "withdraw" => Action::Withdraw,
        "refuse" => {
            let g = ground
                .ok_or_else(|| bad("ground", "required", "give the ground of refusal".into()))?;
            let ground: RefusalGround = g
                .parse()
                .map_err(|e: entraide_domain::ParseError| bad("ground", e.code, e.message))?;
            Action::Refuse { ground }
        }
        other => {
            return Err(bad(
                "action",
                "invalid_action",
                format!("'{other}' is not an action"),
            ))
        }
    })
}

/// Moves a request through its life cycle.
pub async fn transition(
    app: &AppState,
    caller: &Caller,
    id: Uuid,
    action: Action,
    note: Option<&str>,
) -> AppResult<CooperationRequest> {
    let r = member_request(app, caller, id).await?;
    let mover = Mover {
        id: Some(caller.user.id),
        roles: caller.roles(),
        label: caller.user.email.to_string(),
        audit: caller.actor(),
    };
    let r = move_request(app, r, action, note, &mover).await?;
    // The peer holding the other side of the request follows.
    crate::federated::after_transition(app, &caller.actor(), &r, action, note).await;
    Ok(r)
}

/// Who moves a request: a user (route and case already checked), or a peer
/// node mirroring what happened on its side.
pub struct Mover {
    pub id: Option<Uuid>,
    pub roles: entraide_domain::RoleSet,
    pub label: String,
    pub audit: crate::ops::Actor,
}

/// Applies an action to a request with the state machine's checks, and
/// stores it with its event and audit entry.
pub async fn move_request(
    app: &AppState,
    mut r: CooperationRequest,
    action: Action,
    note: Option<&str>,
    mover: &Mover,
) -> AppResult<CooperationRequest> {
    let id = r.id;
    let previous = r.clone();
    let findings = assess(r.kind, &r.content);
    let before = r.state;
    let next = next_state(&Move {
        kind: r.kind,
        direction: r.direction,
        state: r.state,
        action,
        actor: Some((mover.id.unwrap_or_else(Uuid::nil), mover.roles)),
        drafted_by: r.drafted_by,
        complete: !has_errors(&findings),
    })
    .map_err(|e| match e {
        TransitionError::Incomplete => AppError::Incomplete(field_errors(&findings)),
        TransitionError::RoleMissing => AppError::ForbiddenRole,
        other => AppError::Transition {
            code: other.code(),
            detail: other.to_string(),
            current_state: before.as_str().to_owned(),
        },
    })?;
    let now = OffsetDateTime::now_utc();
    let rules = app.settings.deadlines.for_country(r.requested_country);
    let set_deadline = |r: &mut CooperationRequest, trigger| {
        if let Some(d) = rules.deadline(r.kind, r.legal_basis, trigger, now) {
            r.deadline_due = Some(d.due);
            r.deadline_source = Some(d.source.to_owned());
        }
    };
    match action {
        Action::Approve => {
            r.approved_by = mover.id;
            r.approved_digest = Some(r.content.digest());
        }
        Action::ReturnToDraft => {
            r.approved_by = None;
            r.approved_digest = None;
        }
        Action::MarkSent => {
            // The approval covers this exact content (it cannot change after
            // approval; checked again here all the same).
            if r.approved_digest.as_deref() != Some(r.content.digest().as_str()) {
                return Err(AppError::Transition {
                    code: "content_changed_since_approval",
                    detail: "the content differs from what was approved".into(),
                    current_state: before.as_str().to_owned(),
                });
            }
            r.sent_at = Some(now);
            set_deadline(&mut r, Trigger::Received);
        }
        Action::Acknowledge => r.acknowledged_at = Some(now),
        Action::ConfirmPreservation => set_deadline(&mut r, Trigger::PreservationConfirmed),
        Action::AnswerPartially | Action::AnswerCompletely => {
            r.first_data_at.get_or_insert(now);
        }
        Action::Refuse { ground } => r.refusal_ground = Some(ground),
        _ => {}
    }
    r.state = next;
    if next.is_final() {
        r.closed_at = Some(now);
    }
    r.updated_at = now;
    let detail = serde_json::json!({
        "note": note.map(|n| n.chars().take(2000).collect::<String>()),
        "ground": r.refusal_ground.map(|g| g.as_str()),
        "digest": (action == Action::Approve).then(|| r.approved_digest.clone()),
    });
    let ev = event_by(
        &r,
        mover.id,
        &mover.label,
        action.name(),
        Some(before),
        detail,
    );
    let audit = mover
        .audit
        .entry(AuditAction::RequestTransition, AuditOutcome::Success)
        .on_case(r.case_id)
        .target(r.reference.clone())
        .detail(serde_json::json!({ "action": action.name(), "from": before.as_str(), "to": next.as_str() }));
    if !app.store.update_request(&previous, &r, &ev, &audit).await? {
        return Err(concurrent(app, id).await);
    }
    Ok(r)
}

/// Drafts the extension of a preservation, prefilled from it (Budapest
/// art. 29(7): the preservation lasts while the MLA request is decided; an
/// extension keeps the data beyond the first period).
pub async fn prepare_extension(
    app: &AppState,
    caller: &Caller,
    id: Uuid,
) -> AppResult<CooperationRequest> {
    let original = member_request(app, caller, id).await?;
    if !original.state.allows_extension(original.kind) {
        return Err(AppError::Transition {
            code: "extension_not_possible",
            detail: "only a preservation that is sent, acknowledged or in place can be extended"
                .into(),
            current_state: original.state.as_str().to_owned(),
        });
    }
    // One draft extension at a time: a second click opens the same draft.
    let drafts = RequestFilter {
        case_id: Some(original.case_id),
        kind: Some(RequestKind::PreservationExtension),
        state: Some(RequestState::Draft),
        limit: 100,
        ..RequestFilter::default()
    };
    if let Some(existing) = app
        .store
        .requests_for_member(caller.user.id, &drafts)
        .await?
        .into_iter()
        .find(|r| r.content.previous_reference == original.reference)
    {
        return Ok(existing);
    }
    let mut content = original.content.clone();
    content.marking = entraide_domain::request::Marking::Extension;
    content.previous_reference = original.reference.clone();
    create(
        app,
        caller,
        original.case_id,
        RequestKind::PreservationExtension,
        original.direction,
        content,
    )
    .await
}

/// Drafts the extension of a preservation, prefilled from it.
#[utoipa::path(post, path = "/api/v1/requests/{id}/extension", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 201, body = proto::RequestView), (status = 409, body = proto::Problem)))]
pub async fn api_extension(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let r = prepare_extension(&app, &caller, id).await?;
    let events = app.store.request_events(r.id).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &request_view(&r, &events, OffsetDateTime::now_utc()),
    ))
}

/// Records as expired every preservation whose period ended before `now`
/// without the MLA request arriving (Budapest art. 29(7)). Run by the node
/// itself every minute; returns how many expired.
pub async fn expire_overdue(app: &AppState, now: OffsetDateTime) -> AppResult<usize> {
    let node = crate::ops::Actor {
        id: None,
        label: "node".into(),
        client_ip: None,
        request_id: None,
    };
    let mut expired = 0;
    for mut r in app.store.overdue_preservations(now).await? {
        let previous = r.clone();
        let before = r.state;
        let Ok(next) = next_state(&Move {
            kind: r.kind,
            direction: r.direction,
            state: before,
            action: Action::Expire,
            actor: None,
            drafted_by: r.drafted_by,
            complete: true,
        }) else {
            continue;
        };
        r.state = next;
        r.closed_at = Some(now);
        r.updated_at = now;
        let ev = RequestEvent {
            id: 0,
            request_id: r.id,
            at: now,
            actor_id: None,
            actor: node.label.clone(),
            action: Action::Expire.name().to_owned(),
            from_state: Some(before.as_str().to_owned()),
            to_state: next.as_str().to_owned(),
            detail: serde_json::json!({ "deadline": r.deadline_source }).to_string(),
        };
        let audit = node
            .entry(AuditAction::RequestTransition, AuditOutcome::Success)
            .on_case(r.case_id)
            .target(r.reference.clone())
            .detail(serde_json::json!({ "action": "expire", "from": before.as_str(), "to": next.as_str() }));
        // Another replica may have done it first: then nothing is written.
        if app.store.update_request(&previous, &r, &ev, &audit).await? {
            tracing::warn!(reference = %r.reference, "preservation expired without the MLA request");
            expired += 1;
        }
    }
    Ok(expired)
}

pub async fn audit_read(app: &AppState, caller: &Caller, r: &CooperationRequest) -> AppResult<()> {
    let entry = caller
        .actor()
        .entry(AuditAction::RequestRead, AuditOutcome::Success)
        .on_case(r.case_id)
        .target(r.reference.clone());
    app.store.append_audit(&entry).await?;
    Ok(())
}

// ------------------------------------------------------------------ API

/// Drafts an outgoing request in a case, or registers an incoming one.
#[utoipa::path(post, path = "/api/v1/cases/{id}/requests", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::NewRequest,
    responses((status = 201, body = proto::RequestView), (status = 403, body = proto::Problem),
              (status = 422, body = proto::Problem)))]
pub async fn api_create(
    State(app): State<AppState>,
    caller: Caller,
    Path(case_id): Path<Uuid>,
    ApiJson(body): ApiJson<proto::NewRequest>,
) -> AppResult<Response> {
    let kind: RequestKind = body
        .kind
        .parse()
        .map_err(|e: entraide_domain::ParseError| {
            AppError::Validation(vec![AppError::field("kind", e)])
        })?;
    let direction = match body.direction.as_deref() {
        None => Direction::Outgoing,
        Some(d) => d.parse().map_err(|e: entraide_domain::ParseError| {
            AppError::Validation(vec![AppError::field("direction", e)])
        })?,
    };
    let content = parse_content(body.content)?;
    let r = create(&app, &caller, case_id, kind, direction, content).await?;
    let events = app.store.request_events(r.id).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &request_view(&r, &events, OffsetDateTime::now_utc()),
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RequestQuery {
    pub case_id: Option<Uuid>,
    pub state: Option<String>,
    pub kind: Option<String>,
    pub direction: Option<String>,
    /// Only requests whose deadline falls within this many days (the
    /// "expiring soon" view), soonest first.
    pub due_within_days: Option<u32>,
    pub limit: Option<u32>,
}

impl RequestQuery {
    pub fn filter(&self) -> AppResult<RequestFilter> {
        let mut f = crate::error::Fields::default();
        let state = self
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| f.check("state", s.parse()));
        let kind = self
            .kind
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| f.check("kind", s.parse()));
        let direction = self
            .direction
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| f.check("direction", s.parse()));
        let filter = RequestFilter {
            case_id: self.case_id,
            state,
            kind,
            direction,
            due_before: self
                .due_within_days
                .map(|d| OffsetDateTime::now_utc() + time::Duration::days(i64::from(d.min(3650)))),
            limit: self.limit.unwrap_or(200).clamp(1, 1000),
        };
        f.finish(Some(filter))
    }
}

/// Requests in your cases, with filters.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests", security(("bearer" = [])),
    params(RequestQuery), responses((status = 200, body = [proto::RequestView])))]
pub async fn api_list(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<RequestQuery>,
) -> AppResult<Response> {
    let filter = q.filter()?;
    let now = OffsetDateTime::now_utc();
    let list: Vec<_> = app
        .store
        .requests_for_member(caller.user.id, &filter)
        .await?
        .iter()
        .map(|r| request_view(r, &[], now))
        .collect();
    Ok(json_response(StatusCode::OK, &list))
}

/// A request with its checks, available actions and history.
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = proto::RequestView), (status = 404, body = proto::Problem)))]
pub async fn api_get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let r = member_request(&app, &caller, id).await?;
    audit_read(&app, &caller, &r).await?;
    let events = app.store.request_events(id).await?;
    Ok(json_response(
        StatusCode::OK,
        &request_view(&r, &events, OffsetDateTime::now_utc()),
    ))
}

/// Replaces the content of a draft (incomplete drafts are fine; checks
/// apply at approval).
#[utoipa::path(put, path = "/api/v1/requests/{id}/content", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body(content = Object, description = "request content"),
    responses((status = 200, body = proto::RequestView), (status = 409, body = proto::Problem),
              (status = 422, body = proto::Problem)))]
pub async fn api_update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> AppResult<Response> {
    let content = parse_content(body)?;
    let r = update_content(&app, &caller, id, content).await?;
    let events = app.store.request_events(id).await?;
    Ok(json_response(
        StatusCode::OK,
        &request_view(&r, &events, OffsetDateTime::now_utc()),
    ))
}

/// Moves the request: submit, approve (not by its drafter), send,
/// acknowledge, answer, refuse, withdraw... A move not open from the
/// current state is a 409 carrying `current_state`.
#[utoipa::path(post, path = "/api/v1/requests/{id}/transitions", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::RequestTransition,
    responses((status = 200, body = proto::RequestView), (status = 409, body = proto::Problem),
              (status = 422, body = proto::Problem)))]
pub async fn api_transition(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<proto::RequestTransition>,
) -> AppResult<Response> {
    let action = parse_action(&body.action, body.ground.as_deref())?;
    let r = transition(&app, &caller, id, action, body.note.as_deref()).await?;
    let events = app.store.request_events(id).await?;
    Ok(json_response(
        StatusCode::OK,
        &request_view(&r, &events, OffsetDateTime::now_utc()),
    ))
}

/// Roles that draft and handle requests.
pub const HANDLES_REQUESTS: [Role; 2] = [Role::Officer, Role::Approver];

// ------------------------------------------------------------------ formal document

/// The language a requested authority accepts by default (one table, in
/// the domain, serves drafting help and documents).
pub use entraide_domain::request::document_language;

/// The request as a formal document, in `tr`'s language.
pub async fn formal_document(
    app: &AppState,
    tr: &crate::i18n::Tr,
    r: &CooperationRequest,
) -> AppResult<crate::document::FormalDocument> {
    use crate::document::Block;
    let c = &r.content;
    let f = |k: &str| tr.t(&format!("rq-field-{k}"));
    let date = |t: OffsetDateTime| {
        let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
        t.to_offset(time::UtcOffset::UTC)
            .format(&fmt)
            .unwrap_or_default()
    };
    let contact = |x: &entraide_domain::request::Contact| {
        let mut lines = vec![x.organisation.clone()];
        if let Some(cc) = x.country {
            lines.push(cc.to_string());
        }
        for (k, v) in [
            ("person", &x.person),
            ("address", &x.address),
            ("office-hours", &x.office_hours),
            ("time-zone", &x.time_zone),
            ("reply-channel", &x.reply_channel),
        ] {
            if !v.is_empty() {
                lines.push(format!("{}: {v}", f(k)));
            }
        }
        if !x.phones.is_empty() {
            lines.push(format!("{}: {}", f("phones"), x.phones.join(", ")));
        }
        if !x.email.is_empty() {
            lines.push(x.email.clone());
        }
        lines.retain(|l| !l.is_empty());
        lines.join("\n")
    };
    let mut blocks = vec![
        Block::Title(tr.t(&format!("rq-kind-{}", r.kind.as_str()))),
        Block::Subtitle(format!(
            "{} — {} {}",
            r.kind.article(),
            tr.t("rq-reference"),
            r.reference
        )),
        Block::Heading(tr.t("rq-section-header")),
        Block::Field(tr.t("doc-date"), date(r.sent_at.unwrap_or(r.updated_at))),
        Block::Field(f("case-number"), c.case_number.clone()),
        Block::Field(
            f("marking"),
            tr.t(match c.marking {
                entraide_domain::request::Marking::New => "rq-marking-new",
                entraide_domain::request::Marking::Extension => "rq-marking-extension",
                entraide_domain::request::Marking::FollowUp => "rq-marking-follow-up",
            }),
        ),
    ];
    let optional = |blocks: &mut Vec<Block>, label: String, value: &str| {
        if !value.trim().is_empty() {
            blocks.push(Block::Field(label, value.to_owned()));
        }
    };
    optional(&mut blocks, f("previous-reference"), &c.previous_reference);
    blocks.push(Block::Field(f("requesting"), contact(&c.requesting)));
    blocks.push(Block::Field(f("requested"), contact(&c.requested)));
    optional(
        &mut blocks,
        f("confirmation-contact"),
        &c.confirmation_contact,
    );
    optional(
        &mut blocks,
        f("investigative-authority"),
        &c.investigative_authority,
    );
    optional(&mut blocks, f("prosecution-office"), &c.prosecution_office);
    if let Some(b) = c.legal_basis {
        blocks.push(Block::Field(
            f("legal-basis"),
            tr.t(&format!("rq-basis-{}", b.as_str())),
        ));
    }
    optional(
        &mut blocks,
        f("domestic-legal-basis"),
        &c.domestic_legal_basis,
    );
    blocks.push(Block::Heading(tr.t("rq-section-offence")));
    let offences = c
        .offences
        .iter()
        .map(|o| {
            let mut s = o.description.clone();
            if !o.provision.is_empty() {
                s.push_str(&format!(" ({})", o.provision));
            }
            if !o.penalty.is_empty() {
                s.push_str(&format!(" — {}: {}", f("offence-penalty"), o.penalty));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("\n");
    blocks.push(Block::Field(f("offences"), offences));
    blocks.push(Block::Field(f("facts"), c.facts.clone()));
    blocks.push(Block::Heading(tr.t("rq-section-data")));
    let data = c
        .data
        .iter()
        .map(|d| {
            format!(
                "[{}] {}\n{}: {}",
                tr.t(&format!("rq-category-{}", d.category.as_str())),
                d.description,
                f("data-relationship-to-offence"),
                d.relationship_to_offence
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    blocks.push(Block::Field(f("data"), data));
    let ids = c
        .identifiers
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    optional(&mut blocks, f("identifiers"), &ids);
    if c.period_from.is_some() || c.period_to.is_some() {
        let p = format!(
            "{} - {}",
            c.period_from.map(date).unwrap_or_default(),
            c.period_to.map(date).unwrap_or_default()
        );
        blocks.push(Block::Field(f("period-from"), p));
    }
    optional(&mut blocks, f("custodian"), &c.custodian);
    optional(&mut blocks, f("necessity"), &c.necessity);
    if let Some(m) = c.mla_to_follow {
        blocks.push(Block::Field(
            f("mla-to-follow"),
            tr.t(if m { "yes" } else { "no" }),
        ));
    }
    optional(&mut blocks, f("emergency-facts"), &c.emergency_facts);
    optional(&mut blocks, f("emergency-link"), &c.emergency_link);
    if let Some(d) = c.collection_days {
        blocks.push(Block::Field(f("collection-days"), d.to_string()));
    }
    optional(
        &mut blocks,
        f("special-instructions"),
        &c.special_instructions,
    );
    if c.confidential {
        blocks.push(Block::Paragraph(f("confidential")));
    }
    blocks.push(Block::Heading(tr.t("doc-attachments")));
    blocks.push(Block::Paragraph(tr.t("doc-no-attachments")));
    blocks.push(Block::Heading(tr.t("doc-approval")));
    match (r.approved_by, &r.approved_digest) {
        (Some(approver), Some(digest)) => {
            let name = app
                .store
                .user_by_id(approver)
                .await?
                .map(|u| format!("{} <{}>", u.display_name, u.email))
                .unwrap_or_default();
            let events = app.store.request_events(r.id).await?;
            let when = events
                .iter()
                .rev()
                .find(|e| e.action == "approve")
                .map(|e| date(e.at))
                .unwrap_or_default();
            blocks.push(Block::Field(
                tr.t("doc-approved-by"),
                format!("{name}\n{when}"),
            ));
            blocks.push(Block::Field(tr.t("rq-approved-digest"), digest.clone()));
        }
        _ if r.direction == entraide_domain::request::Direction::Incoming => {
            blocks.push(Block::Paragraph(tr.t("doc-received")))
        }
        _ => blocks.push(Block::Paragraph(tr.t("doc-not-approved"))),
    }
    Ok(crate::document::FormalDocument {
        title: format!(
            "{} {}",
            tr.t(&format!("rq-kind-{}", r.kind.as_str())),
            r.reference
        ),
        blocks,
        page_label: tr.t("doc-page"),
        footer: format!("Entraide — {}", r.reference),
    })
}

/// Renders the PDF and records its SHA-256 with the request (once per
/// distinct document).
pub async fn render_document(
    app: &AppState,
    caller: &Caller,
    id: Uuid,
    lang: Option<&str>,
) -> AppResult<(Vec<u8>, String, entraide_domain::Locale)> {
    let r = member_request(app, caller, id).await?;
    let locale = match lang {
        Some(l) if !l.is_empty() => {
            entraide_domain::Locale::parse(l).ok_or(AppError::BadRequest {
                code: "unsupported_language",
                detail: "choose en, fr or es".into(),
            })?
        }
        _ => document_language(r.requested_country),
    };
    let tr = crate::i18n::Tr::new(app.i18n.clone(), locale);
    let doc = formal_document(app, &tr, &r).await?;
    let pdf = crate::document::render_pdf(&doc);
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&pdf));
    let events = app.store.request_events(id).await?;
    let seen = events
        .iter()
        .any(|e| e.action == "document_rendered" && e.detail.contains(&digest));
    if !seen {
        let ev = event(
            &r,
            caller,
            "document_rendered",
            Some(r.state),
            serde_json::json!({ "sha256": digest, "language": locale.as_str(), "bytes": pdf.len() }),
        );
        let audit = caller
            .actor()
            .entry(AuditAction::RequestRead, AuditOutcome::Success)
            .on_case(r.case_id)
            .target(r.reference.clone())
            .detail(serde_json::json!({ "document": digest }));
        app.store.update_request(&r, &r, &ev, &audit).await?;
    }
    Ok((pdf, digest, locale))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DocumentQuery {
    /// en, fr or es; default: the language of the requested country.
    pub lang: Option<String>,
}

pub fn pdf_response(pdf: Vec<u8>, digest: &str, reference: &str) -> Response {
    use axum::response::IntoResponse;
    let name: String = reference
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!("inline; filename=\"{name}.pdf\"");
    let mut res = (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/pdf".to_owned(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        pdf,
    )
        .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(digest) {
        res.headers_mut().insert("x-content-sha256", v);
    }
    res
}

/// The request as a formal PDF document; its SHA-256 (also in the
/// `X-Content-SHA256` header) is recorded in the request's history.
#[utoipa::path(get, path = "/api/v1/requests/{id}/document.pdf", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path), DocumentQuery),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = proto::Problem)))]
pub async fn api_document(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(q): Query<DocumentQuery>,
) -> AppResult<Response> {
    let (pdf, digest, _) = render_document(&app, &caller, id, q.lang.as_deref()).await?;
    let reference = app
        .store
        .request_by_id(id)
        .await?
        .map(|r| r.reference)
        .unwrap_or_default();
    Ok(pdf_response(pdf, &digest, &reference))
}

/// What drafting needs to know about a requested country, from our own
/// (languages, channels, instruments both are bound by).
#[utoipa::path(get, path = "/api/v1/counterparts/{country}", tag = "requests", security(("bearer" = [])),
    params(("country" = String, Path, description = "ISO 3166-1 alpha-2")),
    responses((status = 200, description = "languages, channels and shared legal bases"), (status = 422, body = proto::Problem)))]
pub async fn api_counterpart(
    State(app): State<AppState>,
    _caller: Caller,
    Path(country): Path<String>,
) -> AppResult<Response> {
    let requested = entraide_domain::CountryCode::parse(&country)
        .map_err(|e| AppError::Validation(vec![AppError::field("country", e)]))?;
    let org = app.store.own_organisation().await?;
    Ok(json_response(
        StatusCode::OK,
        &entraide_domain::request::counterpart(org.country, requested),
    ))
}
