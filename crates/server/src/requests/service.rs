//! Cooperation requests: drafting, checks, approval, tracking — the
//! operations behind the API (`api.rs`), the pages (`pages.rs`), the
//! command line and messages from peers.

use entraide_domain::request::{
    assess, has_errors, next_state, Action, Authorship, DeadlineRules, Direction, Finding, Move,
    RefusalGround, RequestContent, RequestKind, RequestState, Severity, TransitionError, Trigger,
};
use entraide_domain::{AuditAction, AuditOutcome, CaseAccess, Role};
use entraide_proto as proto;
use entraide_store::{
    Case, CooperationRequest, Effects, NewAuditEntry, RequestEvent, RequestFilter, RequestLink,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::audit::AuditEntryExt;
use crate::app::error::{AppError, AppResult};
use crate::app::principal::Principal;
use crate::app::state::AppState;
use crate::cases::service::case_access;

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
    entraide_domain::request::parse_request_content(value).map_err(|e| content_error(&e))
}

/// A refused content field, named from the request (`content.<path>`) with
/// the domain's stable code: the same for the API, the form and a peer.
pub fn content_error(e: &entraide_domain::request::ContentError) -> AppError {
    AppError::Validation(vec![proto::FieldError {
        field: if e.field.is_empty() {
            "content".into()
        } else {
            format!("content.{}", e.field)
        },
        code: e.code.clone(),
        message: e.message.clone(),
    }])
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
async fn member_case(app: &AppState, principal: &Principal, case_id: Uuid) -> AppResult<Case> {
    let (case, access) = case_access(app, principal, case_id).await?;
    if access != CaseAccess::Member {
        return Err(AppError::NotCaseMember);
    }
    Ok(case)
}

/// The request, if the caller is a member of its case (else "not found":
/// a request's existence is itself case content).
pub async fn member_request(
    app: &AppState,
    principal: &Principal,
    id: Uuid,
) -> AppResult<CooperationRequest> {
    let request = app
        .store
        .request_by_id(id)
        .await?
        .ok_or(AppError::NotFound { what: "request" })?;
    if !app
        .store
        .is_case_member(request.case_id, principal.signed_in()?.id)
        .await?
    {
        let entry = principal
            .actor()
            .entry(AuditAction::RequestRead, AuditOutcome::Denied)
            .on_case(request.case_id)
            .target(request.reference.clone());
        app.store.append_audit(&entry).await?;
        return Err(AppError::NotFound { what: "request" });
    }
    Ok(request)
}

pub(crate) fn event(
    r: &CooperationRequest,
    principal: &Principal,
    action: &str,
    from: Option<RequestState>,
    detail: serde_json::Value,
) -> RequestEvent {
    event_by(
        r,
        principal.user_id(),
        &principal.actor().label,
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
    principal: &Principal,
    case_id: Uuid,
    kind: RequestKind,
    direction: Direction,
    mut content: RequestContent,
) -> AppResult<CooperationRequest> {
    let case = member_case(app, principal, case_id).await?;
    if direction == Direction::Outgoing {
        let drafter = principal.signed_in()?;
        let org = app.store.own_organisation().await?;
        if content.requesting.organisation.trim().is_empty() {
            content.requesting.organisation = org.name.to_string();
        }
        if content.requesting.country.is_none() {
            content.requesting.country = Some(org.country);
        }
        if content.requesting.person.trim().is_empty() {
            content.requesting.person = drafter.display_name.to_string();
        }
        if content.requesting.email.trim().is_empty() {
            content.requesting.email = drafter.email.to_string();
        }
        if content.case_number.trim().is_empty() {
            content.case_number = case.reference.to_string();
        }
    }
    let id = Uuid::now_v7();
    insert(
        app,
        principal,
        &case,
        id,
        kind,
        direction,
        content,
        Effects::default(),
    )
    .await
}

/// Registers a request a peer sent, in the case the node opens for it
/// (`principal` is that peer; nobody drafted it here). The case, the
/// request, its link to the peer's request and the mark that the received
/// message is applied are one transaction: a node stopped half-way has
/// registered nothing, and applies the message again when it starts.
pub async fn register_received(
    app: &AppState,
    principal: &Principal,
    intake: Intake,
    kind: RequestKind,
    content: RequestContent,
) -> AppResult<CooperationRequest> {
    let id = Uuid::now_v7();
    let effects = Effects {
        new_case: Some((intake.case.clone(), intake.case_audit)),
        links: vec![RequestLink {
            request_id: id,
            peer_node: intake.peer_node,
            peer_request_id: Some(intake.peer_request_id),
            at: OffsetDateTime::now_utc(),
        }],
        outbox: Vec::new(),
        applies_inbox: Some(intake.message_id),
    };
    insert(
        app,
        principal,
        &intake.case,
        id,
        kind,
        Direction::Incoming,
        content,
        effects,
    )
    .await
}

/// The case opened for a request received from a peer, not yet stored
/// (it is written with the request), and what links the two sides.
pub struct Intake {
    pub case: Case,
    pub case_audit: NewAuditEntry,
    pub peer_node: String,
    pub peer_request_id: Uuid,
    /// The received message that carries the request.
    pub message_id: Uuid,
}

/// Stores a new request with its first event and audit entry.
#[allow(clippy::too_many_arguments)]
async fn insert(
    app: &AppState,
    principal: &Principal,
    case: &Case,
    id: Uuid,
    kind: RequestKind,
    direction: Direction,
    content: RequestContent,
    effects: Effects,
) -> AppResult<CooperationRequest> {
    let case_id = case.id;
    let drafted_by = match direction {
        Direction::Outgoing => Some(principal.signed_in()?.id),
        Direction::Incoming => None,
    };
    let now = OffsetDateTime::now_utc();
    let rules = app
        .settings
        .deadlines
        .for_country(counterpart_country(&content, direction));
    let mut request = CooperationRequest {
        id,
        case_id,
        reference: String::new(),
        kind,
        direction,
        state: RequestState::initial(direction),
        legal_basis: content.legal_basis,
        requested_country: counterpart_country(&content, direction),
        counterpart: counterpart_of(&content, direction),
        content,
        drafted_by,
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
    // References are per case: CASE/R1, CASE/R2... The store allocates the
    // number from the case's sequence in the transaction that inserts the
    // request, and names it as the audit entry's target.
    let ev = event(
        &request,
        principal,
        if direction == Direction::Outgoing {
            "drafted"
        } else {
            "registered"
        },
        None,
        serde_json::json!({}),
    );
    let audit = principal
        .actor()
        .entry(AuditAction::RequestCreated, AuditOutcome::Success)
        .on_case(case_id)
        .detail(serde_json::json!({ "kind": kind.as_str(), "direction": direction.as_str() }));
    request.reference = app
        .store
        .create_request(&request, &ev, &audit, &effects)
        .await?;
    Ok(request)
}

/// Replaces the content of a draft.
pub async fn update_content(
    app: &AppState,
    principal: &Principal,
    id: Uuid,
    content: RequestContent,
) -> AppResult<CooperationRequest> {
    let mut request = member_request(app, principal, id).await?;
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
        principal,
        "edited",
        Some(before),
        serde_json::json!({}),
    );
    let audit = principal
        .actor()
        .entry(AuditAction::RequestUpdated, AuditOutcome::Success)
        .on_case(request.case_id)
        .target(request.reference.clone());
    if !app
        .store
        .update_request(&previous, &request, &ev, &audit, &Effects::default())
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
    principal: &Principal,
    id: Uuid,
    action: Action,
    note: Option<&str>,
) -> AppResult<CooperationRequest> {
    let r = member_request(app, principal, id).await?;
    let mover = Mover::user(principal)?;
    // Four eyes: who drafted it or changed its content since it was last
    // approved, read from its history (every change records its author).
    let authors = if action == Action::Approve {
        let events = app.store.request_events(r.id).await?;
        Authorship::from_history(events.iter().map(|e| (e.action.as_str(), e.actor_id))).authors()
    } else {
        r.drafted_by.into_iter().collect()
    };
    let step = prepare_move_by(app, r, action, note, &mover, authors)?;
    // The peer holding the other side of the request follows: the message
    // telling it is queued with the move, in the same transaction.
    let effects =
        crate::requests::updates::effects_of(app, &principal.actor(), &step.next, action, note)
            .await?;
    commit_move(app, step, effects).await
}

/// Who moves a request: a user (route and case already checked), or a peer
/// node mirroring what happened on its side.
pub struct Mover {
    pub id: Option<Uuid>,
    pub roles: entraide_domain::RoleSet,
    pub label: String,
    pub audit: crate::app::audit::Actor,
}

impl Mover {
    /// A signed-in user moving it, with their roles.
    pub fn user(principal: &Principal) -> AppResult<Self> {
        let audit = principal.actor();
        Ok(Self {
            id: Some(principal.signed_in()?.id),
            roles: principal.roles(),
            label: audit.label.clone(),
            audit,
        })
    }

    /// A peer mirroring what happened on its side: every role, since its
    /// own node checked who acted there.
    pub fn mirroring(peer: &Principal) -> Self {
        let audit = peer.actor();
        Self {
            id: None,
            roles: entraide_domain::RoleSet::of(&Role::ALL),
            label: audit.label.clone(),
            audit,
        }
    }
}

/// Applies an action to a request with the state machine's checks, and
/// stores it with its event and audit entry.
pub async fn move_request(
    app: &AppState,
    r: CooperationRequest,
    action: Action,
    note: Option<&str>,
    mover: &Mover,
) -> AppResult<CooperationRequest> {
    let step = prepare_move(app, r, action, note, mover)?;
    commit_move(app, step, Effects::default()).await
}

/// A move checked and built, not yet stored: what it sends can be
/// prepared from `next` and committed with it (`commit_move`).
pub struct Step {
    pub previous: CooperationRequest,
    pub next: CooperationRequest,
    event: RequestEvent,
    audit: NewAuditEntry,
}

/// Checks an action against the state machine and builds the moved request
/// with its event and audit entry.
pub fn prepare_move(
    app: &AppState,
    r: CooperationRequest,
    action: Action,
    note: Option<&str>,
    mover: &Mover,
) -> AppResult<Step> {
    let authors = r.drafted_by.into_iter().collect();
    prepare_move_by(app, r, action, note, mover, authors)
}

/// `prepare_move`, with who may not approve (`Authorship::authors`).
fn prepare_move_by(
    app: &AppState,
    mut r: CooperationRequest,
    action: Action,
    note: Option<&str>,
    mover: &Mover,
    authors: Vec<Uuid>,
) -> AppResult<Step> {
    let previous = r.clone();
    let findings = assess(r.kind, &r.content);
    let before = r.state;
    let next = next_state(&Move {
        kind: r.kind,
        direction: r.direction,
        state: r.state,
        action,
        actor: Some((mover.id.unwrap_or_else(Uuid::nil), mover.roles)),
        authors,
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
    Ok(Step {
        previous,
        next: r,
        event: ev,
        audit,
    })
}

/// Stores a prepared move with what it sends, in one transaction; a
/// concurrent move that came first wins and nothing of this one is written.
pub async fn commit_move(
    app: &AppState,
    step: Step,
    effects: Effects,
) -> AppResult<CooperationRequest> {
    let queued = !effects.outbox.is_empty();
    if !app
        .store
        .update_request(
            &step.previous,
            &step.next,
            &step.event,
            &step.audit,
            &effects,
        )
        .await?
    {
        return Err(concurrent(app, step.next.id).await);
    }
    if queued {
        app.outbox_wake.notify_one();
    }
    Ok(step.next)
}

/// Drafts the extension of a preservation, prefilled from it (Budapest
/// art. 29(7): the preservation lasts while the MLA request is decided; an
/// extension keeps the data beyond the first period).
pub async fn prepare_extension(
    app: &AppState,
    principal: &Principal,
    id: Uuid,
) -> AppResult<CooperationRequest> {
    let original = member_request(app, principal, id).await?;
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
        .requests_for_member(principal.signed_in()?.id, &drafts)
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
        principal,
        original.case_id,
        RequestKind::PreservationExtension,
        original.direction,
        content,
    )
    .await
}

/// Records as expired every preservation whose period ended before `now`
/// without the MLA request arriving (Budapest art. 29(7)). Run by the node
/// itself every minute; returns how many expired.
pub async fn expire_overdue(app: &AppState, now: OffsetDateTime) -> AppResult<usize> {
    let node = crate::app::audit::Actor {
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
            authors: Vec::new(),
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
        if app
            .store
            .update_request(&previous, &r, &ev, &audit, &Effects::default())
            .await?
        {
            tracing::warn!(reference = %r.reference, "preservation expired without the MLA request");
            expired += 1;
        }
    }
    Ok(expired)
}

pub async fn audit_read(
    app: &AppState,
    principal: &Principal,
    r: &CooperationRequest,
) -> AppResult<()> {
    let entry = principal
        .actor()
        .entry(AuditAction::RequestRead, AuditOutcome::Success)
        .on_case(r.case_id)
        .target(r.reference.clone());
    app.store.append_audit(&entry).await?;
    Ok(())
}

// ------------------------------------------------------------------ API

/// Roles that draft and handle requests.
pub const HANDLES_REQUESTS: [Role; 2] = [Role::Officer, Role::Approver];
