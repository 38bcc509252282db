//! Cooperation requests: drafting, checks, approval, tracking — the
//! operations behind the API (`api.rs`), the pages (`pages.rs`), the
//! command line and messages from peers.

use entraide_domain::request::{
    assess, has_errors, next_state, Action, Authorship, Channel, DeadlineRules, Direction, Finding,
    Move, RefusalGround, RequestContent, RequestKind, RequestState, Severity, TransitionError,
    Trigger,
};
use entraide_domain::{AuditAction, AuditOutcome, CaseAccess, Role};
use entraide_proto as proto;
use entraide_store::{Case, CooperationRequest, Effects, NewAuditEntry, RequestEvent, RequestLink};
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

/// Whether an event is the other side's action recorded here by hand.
pub fn recorded_from_other_channel(e: &RequestEvent) -> bool {
    serde_json::from_str::<serde_json::Value>(&e.detail)
        .is_ok_and(|d| d["other_channel"] == serde_json::Value::Bool(true))
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
        trigger: r.deadline_trigger.map(|t| t.as_str().to_owned()),
        started_at: r.deadline_started_at,
        due_soon: rules.is_due_soon(due, now),
        past: now >= due,
        pending_decision: r.pending_decision,
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
            r.channel(),
        )
        .iter()
        .map(|a| a.name().to_owned())
        .collect(),
        events: events
            .iter()
            .map(|e| proto::RequestEventView {
                at: e.at,
                occurred_at: e.occurred_at,
                actor: e.actor.clone(),
                action: e.action.clone(),
                from_state: e.from_state.clone(),
                to_state: e.to_state.clone(),
                other_channel: recorded_from_other_channel(e),
            })
            .collect(),
        follows: Vec::new(),
        followed_by: Vec::new(),
        enforcing_authority: crate::requests::clocks::enforcing_view(r, now),
    }
}

/// A request's whole view: its history, the requests it follows and those
/// that follow it.
pub async fn full_view(app: &AppState, r: &CooperationRequest) -> AppResult<proto::RequestView> {
    let events = app.store.request_events(r.id).await?;
    let related = |list: Vec<CooperationRequest>| -> Vec<proto::RelatedRequestView> {
        list.iter()
            .map(|o| proto::RelatedRequestView {
                id: o.id,
                reference: o.reference.clone(),
                kind: o.kind.as_str().to_owned(),
                state: o.state.as_str().to_owned(),
                pending_decision: crate::requests::clocks::follow_up(o).keeps_in_force(),
            })
            .collect()
    };
    let mut view = request_view(r, &events, OffsetDateTime::now_utc());
    view.follows = related(app.store.requests_followed(r.id).await?);
    view.followed_by = related(app.store.requests_following(r.id).await?);
    Ok(view)
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

pub(crate) fn event_by(
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
        occurred_at: None,
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
    content: RequestContent,
) -> AppResult<CooperationRequest> {
    create_with(
        app,
        principal,
        case_id,
        kind,
        direction,
        content,
        NewRequestClocks::default(),
    )
    .await
}

/// What a new request carries besides its content: the earlier requests of
/// its case it follows, and for one received, when it was received.
#[derive(Debug, Clone, Default)]
pub struct NewRequestClocks {
    pub follows: Vec<Uuid>,
    pub occurred_at: Option<OffsetDateTime>,
}

/// `create`, following earlier requests and, for a request received, from
/// the time it was received (its deadlines run from then).
pub async fn create_with(
    app: &AppState,
    principal: &Principal,
    case_id: Uuid,
    kind: RequestKind,
    direction: Direction,
    mut content: RequestContent,
    clocks: NewRequestClocks,
) -> AppResult<CooperationRequest> {
    let case = member_case(app, principal, case_id).await?;
    // A draft is drafted when it is recorded; only a receipt happened
    // elsewhere, earlier.
    if direction == Direction::Outgoing && clocks.occurred_at.is_some() {
        let e = entraide_domain::request::EventTimeError::NotApplicable;
        return Err(AppError::Validation(vec![proto::FieldError {
            field: "occurred_at".into(),
            code: e.code().into(),
            message: e.to_string(),
        }]));
    }
    let earlier =
        crate::requests::clocks::check_follows(app, case.id, kind, direction, &clocks.follows)
            .await?;
    let at = crate::requests::clocks::bounded(clocks.occurred_at, None)?;
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
    let effects = Effects {
        follows: earlier.iter().map(|r| r.id).collect(),
        ..Effects::default()
    };
    insert(
        app, principal, &case, id, kind, direction, content, effects, at, &earlier,
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
        new_case: intake.case_audit.map(|audit| (intake.case.clone(), audit)),
        links: vec![RequestLink {
            request_id: id,
            peer_node: intake.peer_node,
            peer_request_id: Some(intake.peer_request_id),
            at: OffsetDateTime::now_utc(),
        }],
        applies_inbox: Some(intake.message_id),
        follows: intake.follows.iter().map(|r| r.id).collect(),
        ..Effects::default()
    };
    let at = crate::requests::clocks::EventTime::now();
    insert(
        app,
        principal,
        &intake.case,
        id,
        kind,
        Direction::Incoming,
        content,
        effects,
        at,
        &intake.follows,
    )
    .await
}

/// The case a request received from a peer is registered in — opened for
/// it (not yet stored: it is written with the request, with its audit
/// entry), or the case of the requests it follows — and what links the two
/// sides.
pub struct Intake {
    pub case: Case,
    /// The case's opening, when it is opened for this request.
    pub case_audit: Option<NewAuditEntry>,
    pub peer_node: String,
    pub peer_request_id: Uuid,
    /// The received message that carries the request.
    pub message_id: Uuid,
    /// Our requests (of `case`) that the peer's request follows, already
    /// checked (`clocks::check_follows`).
    pub follows: Vec<CooperationRequest>,
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
    mut effects: Effects,
    at: crate::requests::clocks::EventTime,
    earlier: &[CooperationRequest],
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
        exchanged_with: None,
        deadline_trigger: None,
        deadline_started_at: None,
        enforcing: None,
        pending_decision: false,
    };
    let mut extension = crate::requests::clocks::ExtensionStep::Nothing;
    if direction == Direction::Incoming {
        // Received at `at` (now, or when it really was): its clock runs
        // from then, and statistics count from then.
        request.sent_at = Some(at.at);
        if let Some(d) = rules.deadline(kind, request.legal_basis, Trigger::Received, at.at) {
            set_deadline(&mut request, &d);
        }
        // An EU extension runs once received (art. 11(1)): the
        // preservation it extends moves with this registration, or the
        // registration notes that it came too late.
        let preservation = earlier
            .iter()
            .find(|p| p.kind == RequestKind::ExpeditedPreservation);
        if kind == RequestKind::PreservationExtension && preservation.is_some() {
            extension = crate::requests::clocks::extension_step(
                app,
                &mut request,
                Some(Trigger::Received),
                at,
                &principal.actor().label,
                false,
                preservation,
            )
            .await?;
        }
    }
    // References are per case: CASE/R1, CASE/R2... The store allocates the
    // number from the case's sequence in the transaction that inserts the
    // request, and names it as the audit entry's target.
    let mut ev = event(
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
    ev.occurred_at = at.occurred_at();
    match extension {
        crate::requests::clocks::ExtensionStep::Extends(x) => effects.extends = Some(x),
        crate::requests::clocks::ExtensionStep::WithoutEffect(e) => {
            crate::requests::clocks::note_in_detail(
                &mut ev,
                "extension_without_effect",
                serde_json::json!(e.code()),
            )
        }
        crate::requests::clocks::ExtensionStep::Nothing => {}
    }
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

/// Sets the deadline of a request, with what started it.
pub(crate) fn set_deadline(r: &mut CooperationRequest, d: &entraide_domain::request::Deadline) {
    r.deadline_due = Some(d.due);
    r.deadline_source = Some(d.source.to_owned());
    r.deadline_trigger = Some(d.trigger);
    r.deadline_started_at = Some(d.started_at);
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
    transition_at(app, principal, id, action, note, None).await
}

/// `transition`, with the time the event really happened when it is not
/// now (a reply received yesterday by telephone): checked against the
/// history, and the deadlines it starts run from it.
pub async fn transition_at(
    app: &AppState,
    principal: &Principal,
    id: Uuid,
    action: Action,
    note: Option<&str>,
    occurred_at: Option<OffsetDateTime>,
) -> AppResult<CooperationRequest> {
    let r = member_request(app, principal, id).await?;
    let mover = Mover::user(principal)?;
    let events = app.store.request_events(r.id).await?;
    let at = crate::requests::clocks::user_event_time(Some(action), occurred_at, &events)?;
    // Four eyes: who drafted it or changed its content since it was last
    // approved, read from its history (every change records its author).
    let authors = if action == Action::Approve {
        Authorship::from_history(events.iter().map(|e| (e.action.as_str(), e.actor_id))).authors()
    } else {
        r.drafted_by.into_iter().collect()
    };
    let mut step = prepare_move_by(app, r, action, note, &mover, authors, at)?;
    let extends = clock_effects(app, &mut step, action, at, &mover).await?;
    // The peer holding the other side of the request follows: the message
    // telling it is queued with the move, in the same transaction.
    let mut effects = crate::requests::updates::effects_of(
        app,
        &principal.actor(),
        &step.next,
        action,
        note,
        at.occurred_at(),
    )
    .await?;
    effects.extends = extends;
    commit_move(app, step, effects).await
}

/// What a prepared move does to another request's clock, in the same
/// transaction: an extension reaching the event it takes effect on moves
/// the end of the preservation it extends (`clocks::extension_step`). A
/// user's act on a preservation that ended is refused; a peer's update is
/// recorded without effect, noted in its event.
pub(crate) async fn clock_effects(
    app: &AppState,
    step: &mut Step,
    action: Action,
    at: crate::requests::clocks::EventTime,
    mover: &Mover,
) -> AppResult<Option<Box<entraide_store::Extended>>> {
    use crate::requests::clocks::{extension_step, note_in_detail, trigger_of, ExtensionStep};
    if step.next.kind != RequestKind::PreservationExtension {
        return Ok(None);
    }
    let refuse = !mover.mirroring;
    match extension_step(
        app,
        &mut step.next,
        trigger_of(action),
        at,
        &mover.label,
        refuse,
        None,
    )
    .await?
    {
        ExtensionStep::Extends(x) => Ok(Some(x)),
        ExtensionStep::WithoutEffect(e) => {
            note_in_detail(
                &mut step.event,
                "extension_without_effect",
                serde_json::json!(e.code()),
            );
            Ok(None)
        }
        ExtensionStep::Nothing => Ok(None),
    }
}

/// Who moves a request: a user (route and case already checked), or a peer
/// node mirroring what happened on its side.
pub struct Mover {
    /// Whether this is the peer's node telling of its own side's action.
    pub mirroring: bool,
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
            mirroring: false,
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
            mirroring: true,
            id: None,
            roles: entraide_domain::RoleSet::of(&Role::ALL),
            label: audit.label.clone(),
            audit,
        }
    }
}

impl Mover {
    /// How this mover's action reaches the register of `r` (whose side's
    /// actions it may record).
    pub fn channel_for(&self, r: &CooperationRequest) -> Channel {
        if self.mirroring {
            Channel::Mirrored
        } else {
            r.channel()
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
    occurred_at: Option<OffsetDateTime>,
) -> AppResult<CooperationRequest> {
    let events = app.store.request_events(r.id).await?;
    let at = if mover.mirroring {
        crate::requests::clocks::peer_event_time(occurred_at, &events)
    } else {
        crate::requests::clocks::user_event_time(Some(action), occurred_at, &events)?
    };
    let authors = r.drafted_by.into_iter().collect();
    let mut step = prepare_move_by(app, r, action, note, mover, authors, at)?;
    let extends = clock_effects(app, &mut step, action, at, mover).await?;
    let effects = Effects {
        extends,
        ..Effects::default()
    };
    commit_move(app, step, effects).await
}

/// A move checked and built, not yet stored: what it sends can be
/// prepared from `next` and committed with it (`commit_move`).
pub struct Step {
    pub previous: CooperationRequest,
    pub next: CooperationRequest,
    pub(crate) event: RequestEvent,
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
    let at = crate::requests::clocks::EventTime::now();
    prepare_move_by(app, r, action, note, mover, authors, at)
}

/// `prepare_move`, with who may not approve (`Authorship::authors`) and
/// when the event happened (`at`, already checked): the deadlines it
/// starts and the times statistics read run from it.
fn prepare_move_by(
    app: &AppState,
    mut r: CooperationRequest,
    action: Action,
    note: Option<&str>,
    mover: &Mover,
    authors: Vec<Uuid>,
    at: crate::requests::clocks::EventTime,
) -> AppResult<Step> {
    let previous = r.clone();
    let findings = assess(r.kind, &r.content);
    let before = r.state;
    let channel = mover.channel_for(&r);
    // The other side's action recorded by hand (its reply came by e-mail,
    // telephone or post): kept, and marked as such in the history.
    let other_channel = channel == Channel::Outside
        && action.side() == Some(entraide_domain::request::Side::of(r.direction).other());
    let next = next_state(&Move {
        kind: r.kind,
        direction: r.direction,
        state: r.state,
        action,
        actor: Some((mover.id.unwrap_or_else(Uuid::nil), mover.roles)),
        authors,
        complete: !has_errors(&findings),
        channel,
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
    // When the event happened (now, or the time given for it): deadlines
    // run from it, and the times statistics read are it.
    let happened = at.at;
    let rules = app.settings.deadlines.for_country(r.requested_country);
    let set_deadline = |r: &mut CooperationRequest, trigger| {
        if let Some(d) = rules.deadline(r.kind, r.legal_basis, trigger, happened) {
            set_deadline(r, &d);
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
            r.sent_at = Some(happened);
            set_deadline(&mut r, Trigger::Received);
        }
        Action::Acknowledge => r.acknowledged_at = Some(happened),
        Action::ConfirmPreservation => set_deadline(&mut r, Trigger::PreservationConfirmed),
        Action::AnswerPartially | Action::AnswerCompletely => {
            r.first_data_at.get_or_insert(happened);
        }
        Action::Refuse { ground } => r.refusal_ground = Some(ground),
        _ => {}
    }
    r.state = next;
    if next.is_final() {
        r.closed_at = Some(happened);
    }
    r.updated_at = now;
    let detail = serde_json::json!({
        "note": note.map(|n| n.chars().take(2000).collect::<String>()),
        "ground": r.refusal_ground.map(|g| g.as_str()),
        "digest": (action == Action::Approve).then(|| r.approved_digest.clone()),
        "other_channel": other_channel.then_some(true),
    });
    let mut ev = event_by(
        &r,
        mover.id,
        &mover.label,
        action.name(),
        Some(before),
        detail,
    );
    ev.occurred_at = at.occurred_at();
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
