//! The law's clocks on the request page: what started the deadline and
//! under which article, the requests it follows and that follow it, the
//! actions that may be recorded with the time they really happened, and
//! the enforcing authority of a European Production Order (its
//! notification, window to object and answer). The forms that record the
//! latter are in `pages_enforcing`.

use entraide_domain::request::clocks::action_takes_event_time;
use entraide_domain::request::{Action, Direction, ObjectionEffect, RequestKind};
use entraide_store::CooperationRequest;
use uuid::Uuid;

use crate::app::error::{AppError, AppResult};
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::requests;
use crate::requests::clocks::follow_up;
use crate::requests::enforcing;
use crate::web::page::fmt_time;

/// Another request of the case, as the page lists it.
pub struct Related {
    pub id: Uuid,
    pub reference: String,
    pub kind_label: String,
    pub state_label: String,
    /// It awaits its decision and keeps the preservation in force.
    pub pending: bool,
}

/// The enforcing authority's track, as the page shows it.
pub struct EnforcingBox {
    pub notified_at: String,
    pub window_due: String,
    pub window_source: String,
    pub window_past: bool,
    pub suspensive: bool,
    /// Effect, its provision, when, the conditions, late.
    pub objection: Option<(String, String, String, String, bool)>,
}

/// What the request page shows of the clocks.
pub struct ClocksBox {
    /// "Preservation confirmed, 2026-11-24 10:00" — what started the
    /// deadline, when it really happened.
    pub deadline_started: String,
    /// In force past its end, pending the decision on these requests.
    pub pending_on: Vec<String>,
    pub follows: Vec<Related>,
    pub followed_by: Vec<Related>,
    /// The actions open here that may carry the time they happened.
    pub timed_actions: Vec<(String, String)>,
    /// A European Production Order this node issued under the Regulation.
    pub order: bool,
    pub enforcing: Option<EnforcingBox>,
    pub can_notify: bool,
    pub can_object: bool,
    pub effects: Vec<(String, String)>,
}

fn related(tr: &Tr, list: &[CooperationRequest]) -> Vec<Related> {
    list.iter()
        .map(|r| Related {
            id: r.id,
            reference: r.reference.clone(),
            kind_label: tr.t(&format!("rq-kind-{}", r.kind.as_str())),
            state_label: tr.t(&format!("rq-state-{}", r.state.as_str())),
            pending: follow_up(r).keeps_in_force(),
        })
        .collect()
}

/// The clocks of `r` for its page; `offered` are the actions the reader
/// may take on it now.
pub async fn clocks_box(
    app: &AppState,
    tr: &Tr,
    r: &CooperationRequest,
    offered: &[Action],
    handles: bool,
) -> AppResult<ClocksBox> {
    let follows = app.store.requests_followed(r.id).await?;
    let followed_by = app.store.requests_following(r.id).await?;
    let deadline_started = match (r.deadline_trigger, r.deadline_started_at) {
        (Some(t), Some(at)) => tr.t_args(
            "rq-deadline-started",
            &[
                ("event", tr.t(&format!("rq-trigger-{}", t.as_str()))),
                ("at", fmt_time(at)),
            ],
        ),
        (Some(t), None) => tr.t(&format!("rq-trigger-{}", t.as_str())),
        _ => String::new(),
    };
    // A preservation past its end held by a pending request for its data,
    // directly or through an extension of it.
    let mut pending_on: Vec<String> = Vec::new();
    if r.pending_decision {
        let mut around = followed_by.clone();
        for x in followed_by
            .iter()
            .filter(|x| x.kind == entraide_domain::request::RequestKind::PreservationExtension)
        {
            around.extend(app.store.requests_following(x.id).await?);
        }
        pending_on = around
            .iter()
            .filter(|f| follow_up(f).keeps_in_force())
            .map(|f| f.reference.clone())
            .collect();
        pending_on.dedup();
    }
    let timed_actions = offered
        .iter()
        .copied()
        .filter(|a| action_takes_event_time(*a))
        .filter(|a| !matches!(a, Action::Refuse { .. }))
        .map(|a| {
            (
                a.name().to_owned(),
                tr.t(&format!("rq-action-{}", a.name())),
            )
        })
        .collect();
    let enforcing_box = r.enforcing.as_ref().map(|e| EnforcingBox {
        notified_at: fmt_time(e.notified_at),
        window_due: fmt_time(e.window_due),
        window_source: e.window_source.clone(),
        window_past: time::OffsetDateTime::now_utc() >= e.window_due,
        suspensive: entraide_domain::request::clocks::notification_suspends(r.kind),
        objection: e.objection.as_ref().map(|o| {
            (
                tr.t(&format!("rq-objection-{}", o.effect.as_str())),
                o.effect.source().to_owned(),
                fmt_time(o.at),
                o.conditions.clone().unwrap_or_default(),
                o.at > e.window_due,
            )
        }),
    });
    Ok(ClocksBox {
        deadline_started,
        pending_on,
        follows: related(tr, &follows),
        followed_by: related(tr, &followed_by),
        timed_actions,
        order: entraide_domain::request::clocks::is_european_production_order(
            r.kind,
            r.legal_basis,
            r.direction,
        ),
        enforcing: enforcing_box,
        can_notify: handles && enforcing::may_notify(r),
        can_object: handles && enforcing::may_record_objection(r),
        effects: ObjectionEffect::ALL
            .iter()
            .map(|e| {
                (
                    e.as_str().to_owned(),
                    tr.t(&format!("rq-objection-{}", e.as_str())),
                )
            })
            .collect(),
    })
}

/// The requests of the case a new request of `kind` going in `direction`
/// may follow, those in `chosen` ticked.
pub async fn follow_options(
    app: &AppState,
    caller: &Caller,
    tr: &Tr,
    case_id: Uuid,
    kind: RequestKind,
    direction: Direction,
    chosen: &[String],
) -> AppResult<Vec<(String, String, bool)>> {
    let filter = entraide_store::RequestFilter {
        case_id: Some(case_id),
        limit: 200,
        ..entraide_store::RequestFilter::default()
    };
    Ok(app
        .store
        .requests_for_member(caller.user.id, &filter)
        .await?
        .into_iter()
        .filter(|r| r.direction == direction && kind.may_follow(r.kind))
        .map(|r| {
            let id = r.id.to_string();
            let label = format!(
                "{} — {} ({})",
                r.reference,
                tr.t(&format!("rq-kind-{}", r.kind.as_str())),
                tr.t(&format!("rq-state-{}", r.state.as_str()))
            );
            let on = chosen.contains(&id);
            (id, label, on)
        })
        .collect())
}

/// What the form says a new request follows, and when it was received.
pub fn clocks_of_form(
    chosen: &[String],
    received_at: &str,
) -> AppResult<requests::NewRequestClocks> {
    let mut follows = Vec::with_capacity(chosen.len());
    for (i, id) in chosen.iter().enumerate() {
        follows.push(id.trim().parse::<Uuid>().map_err(|_| {
            AppError::Validation(vec![entraide_proto::FieldError {
                field: format!("follows[{i}]"),
                code: "follows_not_in_case".into(),
                message: "no request of this case has this id".into(),
            }])
        })?);
    }
    Ok(requests::NewRequestClocks {
        follows,
        occurred_at: crate::requests::clocks::parse_occurred_at(Some(received_at))?,
    })
}
