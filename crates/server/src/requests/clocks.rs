//! The law's clocks in the request operations: when an event really
//! happened (checked against the request's history), the earlier requests a
//! new one follows (checked and linked), and what an extension does to the
//! preservation it extends. The rules are the domain's
//! (`entraide_domain::request::clocks`); this file reads what they need.

use entraide_domain::request::clocks::{self, ExtensionError};
use entraide_domain::request::DeadlineRules;
use entraide_domain::request::{Action, Direction, FollowUp, RequestKind, Trigger};
use entraide_proto as proto;
use entraide_store::{CooperationRequest, EnforcingAuthority, Extended, RequestEvent};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

/// When a move's event happened: now, or the time given for it (checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTime {
    pub at: OffsetDateTime,
    /// A time was given (kept beside the recorded time in the history).
    pub given: bool,
}

impl EventTime {
    pub fn now() -> Self {
        Self {
            at: OffsetDateTime::now_utc(),
            given: false,
        }
    }

    /// What the history keeps beside the recorded time.
    pub fn occurred_at(&self) -> Option<OffsetDateTime> {
        self.given.then_some(self.at)
    }
}

fn field_error(field: &str, code: &str, message: String) -> AppError {
    AppError::Validation(vec![proto::FieldError {
        field: field.into(),
        code: code.into(),
        message,
    }])
}

/// A time given for an event, read by the one parser the API and the form
/// share (field `occurred_at`, code `invalid_datetime`). Blank is none.
pub fn parse_occurred_at(input: Option<&str>) -> AppResult<Option<OffsetDateTime>> {
    match input.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => clocks::parse_event_time(s)
            .map(Some)
            .map_err(|e| AppError::Validation(vec![AppError::field("occurred_at", e)])),
    }
}

/// The history as the bound on new events needs it.
pub fn previous_event(events: &[RequestEvent]) -> Option<OffsetDateTime> {
    clocks::previous_event_time(
        events
            .iter()
            .map(|e| (e.action.as_str(), e.at, e.occurred_at)),
    )
}

/// A user's time for an event of a request whose history is `events`:
/// refused in the future or before the previous event (field
/// `occurred_at`), and for an action that happens when recorded.
pub fn user_event_time(
    action: Option<Action>,
    given: Option<OffsetDateTime>,
    events: &[RequestEvent],
) -> AppResult<EventTime> {
    if given.is_some() && action.is_some_and(|a| !clocks::action_takes_event_time(a)) {
        let e = clocks::EventTimeError::NotApplicable;
        return Err(field_error("occurred_at", e.code(), e.to_string()));
    }
    bounded(given, previous_event(events))
}

/// `given` checked against now and `previous`.
pub fn bounded(
    given: Option<OffsetDateTime>,
    previous: Option<OffsetDateTime>,
) -> AppResult<EventTime> {
    let now = OffsetDateTime::now_utc();
    clocks::event_time(given, now, previous)
        .map(|at| EventTime {
            at,
            given: given.is_some(),
        })
        .map_err(|e| field_error("occurred_at", e.code(), e.to_string()))
}

/// A peer's time for an event on its side, brought within this register's
/// bounds (`clocks::event_time_from_peer`).
pub fn peer_event_time(given: Option<OffsetDateTime>, events: &[RequestEvent]) -> EventTime {
    let now = OffsetDateTime::now_utc();
    let at = clocks::event_time_from_peer(given, now, previous_event(events));
    EventTime {
        at,
        given: given.is_some() || at != now,
    }
}

/// The earlier requests a new request of `kind` going in `direction` in
/// case `case_id` follows: each must be a request of that case (else
/// `follows_not_in_case`: other cases are not shown to the caller) of a kind
/// it may follow (`follows_kind_mismatch`), going the same way.
pub async fn check_follows(
    app: &AppState,
    case_id: Uuid,
    kind: RequestKind,
    direction: Direction,
    follows: &[Uuid],
) -> AppResult<Vec<CooperationRequest>> {
    let mut earlier = Vec::with_capacity(follows.len());
    for (i, id) in follows.iter().take(clocks::FOLLOWS_MAX + 1).enumerate() {
        match app.store.request_by_id(*id).await? {
            Some(r) if r.case_id == case_id => earlier.push(r),
            _ => {
                return Err(field_error(
                    &format!("follows[{i}]"),
                    "follows_not_in_case",
                    "no request of this case has this id".into(),
                ))
            }
        }
    }
    let facts: Vec<_> = earlier
        .iter()
        .map(|r| (r.id, r.kind, r.direction))
        .collect();
    if follows.len() > clocks::FOLLOWS_MAX {
        let e = clocks::FollowError::TooMany;
        return Err(field_error("follows", e.code(), e.to_string()));
    }
    clocks::check_follows(kind, direction, &facts).map_err(|(i, e)| {
        let field = match i {
            Some(i) => format!("follows[{i}]"),
            None => "follows".into(),
        };
        field_error(&field, e.code(), e.to_string())
    })?;
    Ok(earlier)
}

/// The event a move is, for the clocks it starts.
pub fn trigger_of(action: Action) -> Option<Trigger> {
    match action {
        Action::MarkSent => Some(Trigger::Received),
        Action::ConfirmPreservation => Some(Trigger::PreservationConfirmed),
        _ => None,
    }
}

/// What an extension's step does to the preservation it extends.
pub enum ExtensionStep {
    /// Not an extension linked to a preservation, or not the event it
    /// takes effect on.
    Nothing,
    /// The preservation's end moves, with the same step.
    Extends(Box<Extended>),
    /// Recorded without effect: the preservation had ended (a receipt or
    /// a peer's update is recorded, not refused).
    WithoutEffect(ExtensionError),
}

/// The preservation a request of kind extension extends, if linked.
async fn extended_preservation(
    app: &AppState,
    extension: &CooperationRequest,
) -> AppResult<Option<CooperationRequest>> {
    if extension.kind != RequestKind::PreservationExtension {
        return Ok(None);
    }
    Ok(app
        .store
        .requests_followed(extension.id)
        .await?
        .into_iter()
        .find(|p| p.kind == RequestKind::ExpeditedPreservation))
}

/// The effect of `extension` reaching the event `trigger` at `at` on the
/// preservation it extends (`clocks::extend`). A linked extension has no
/// clock of its own (its deadline is the preservation's, which it moves).
/// `refuse`: whether a preservation that ended refuses the step (a user's
/// act: sending an EU extension, confirming one) or lets it be recorded
/// without effect (a receipt, a peer's update: facts that happened).
pub async fn extension_step(
    app: &AppState,
    extension: &mut CooperationRequest,
    trigger: Option<Trigger>,
    at: EventTime,
    mover: &str,
    refuse: bool,
    preserved_for: Option<&CooperationRequest>,
) -> AppResult<ExtensionStep> {
    let original = match preserved_for {
        Some(p) => Some(p.clone()),
        None => extended_preservation(app, extension).await?,
    };
    let Some(original) = original else {
        return Ok(ExtensionStep::Nothing);
    };
    extension.deadline_due = None;
    extension.deadline_source = None;
    extension.deadline_trigger = None;
    extension.deadline_started_at = None;
    let basis = original.legal_basis;
    if trigger.is_none() || trigger != Some(clocks::extension_takes_effect_on(basis)) {
        return Ok(ExtensionStep::Nothing);
    }
    let rules = app
        .settings
        .deadlines
        .for_country(original.requested_country);
    let moved = clocks::extend(
        &rules,
        basis,
        original.state,
        original.deadline_due,
        original.pending_decision,
        at.at,
    );
    let deadline = match moved {
        Ok(d) => d,
        Err(e) if refuse => {
            return Err(AppError::Transition {
                code: e.code(),
                detail: format!("{}: {e}", original.reference),
                current_state: extension.state.as_str().to_owned(),
            })
        }
        Err(e) => return Ok(ExtensionStep::WithoutEffect(e)),
    };
    let mut next = original.clone();
    next.deadline_due = Some(deadline.due);
    next.deadline_source = Some(deadline.source.to_owned());
    next.deadline_trigger = Some(deadline.trigger);
    next.deadline_started_at = Some(deadline.started_at);
    next.updated_at = OffsetDateTime::now_utc();
    let event = RequestEvent {
        id: 0,
        request_id: original.id,
        at: next.updated_at,
        occurred_at: Some(at.at),
        actor_id: None,
        actor: mover.to_owned(),
        action: "extended".into(),
        from_state: Some(original.state.as_str().to_owned()),
        to_state: original.state.as_str().to_owned(),
        detail: serde_json::json!({
            "by": extension.id,
            "from": original.deadline_due.map(rfc3339),
            "to": rfc3339(deadline.due),
            "source": deadline.source,
        })
        .to_string(),
    };
    Ok(ExtensionStep::Extends(Box::new(Extended {
        previous: original,
        next,
        event,
    })))
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Adds `key: value` to an event's JSON detail.
pub fn note_in_detail(event: &mut RequestEvent, key: &str, value: serde_json::Value) {
    let mut detail: serde_json::Value =
        serde_json::from_str(&event.detail).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(o) = detail.as_object_mut() {
        o.insert(key.to_owned(), value);
    }
    event.detail = detail.to_string();
}

/// A request following a preservation, as its clock sees it.
pub fn follow_up(r: &CooperationRequest) -> FollowUp {
    FollowUp {
        kind: r.kind,
        state: r.state,
        sent_or_received: match r.direction {
            Direction::Outgoing => r.sent_at,
            Direction::Incoming => Some(r.sent_at.unwrap_or(r.created_at)),
        },
    }
}

/// The extensions still open that followed a preservation that lapsed:
/// they lapse with it (each preservation is counted once, with the
/// preservation it extends).
pub async fn open_extensions(
    app: &AppState,
    preservation: &CooperationRequest,
) -> AppResult<Vec<CooperationRequest>> {
    Ok(app
        .store
        .requests_following(preservation.id)
        .await?
        .into_iter()
        .filter(|r| r.kind == RequestKind::PreservationExtension && !r.state.is_final())
        .collect())
}

// ------------------------------------------------- the enforcing authority

/// The window as a deadline of the domain, for its checks.
pub fn window(e: &EnforcingAuthority) -> entraide_domain::request::Deadline {
    entraide_domain::request::Deadline {
        due: e.window_due,
        trigger: entraide_domain::request::Trigger::EnforcingAuthorityNotified,
        started_at: e.notified_at,
        source: "",
    }
}

/// The API's view of the enforcing authority's track, once notified.
pub fn enforcing_view(
    r: &CooperationRequest,
    now: OffsetDateTime,
) -> Option<proto::EnforcingAuthorityView> {
    let e = r.enforcing.as_ref()?;
    let rules = DeadlineRules::default();
    Some(proto::EnforcingAuthorityView {
        notified_at: e.notified_at,
        objection_window: proto::DeadlineView {
            due: e.window_due,
            source: e.window_source.clone(),
            trigger: Some(
                entraide_domain::request::Trigger::EnforcingAuthorityNotified
                    .as_str()
                    .to_owned(),
            ),
            started_at: Some(e.notified_at),
            due_soon: e.objection.is_none() && rules.is_due_soon(e.window_due, now),
            past: now >= e.window_due,
            pending_decision: false,
        },
        suspensive: clocks::notification_suspends(r.kind),
        objection: e.objection.as_ref().map(|o| proto::ObjectionView {
            effect: o.effect.as_str().to_owned(),
            source: o.effect.source().to_owned(),
            occurred_at: o.at,
            conditions: o.conditions.clone(),
            late: clocks::objection_is_late(&window(e), o.at),
        }),
    })
}
