//! The enforcing authority of a European Production Order this node
//! issued (Regulation (EU) 2023/1543): its notification (art. 8), its
//! window to object — 96 hours in an emergency (art. 10(4)), 10 days
//! otherwise (art. 12(1)) — and what it answered, with its effect. Records
//! of the issuing (requesting) side beside the life of the order: they do
//! not change its state.

use entraide_domain::request::clocks::{self, RECORD_OBJECTION};
use entraide_domain::request::ObjectionEffect;
use entraide_domain::{AuditAction, AuditOutcome};
use entraide_proto as proto;
use entraide_store::{CooperationRequest, EnforcingAuthority, Objection};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::audit::AuditEntryExt;
use crate::app::error::{AppError, AppResult};
use crate::app::principal::Principal;
use crate::app::state::AppState;
use crate::requests::clocks::{bounded, window};
use crate::requests::service::{event, member_request};

/// Conditions are kept to this many characters.
pub const CONDITIONS_MAX_CHARS: usize = 2000;

fn refused(r: &CooperationRequest, e: clocks::EnforcingError) -> AppError {
    AppError::Transition {
        code: e.code(),
        detail: e.to_string(),
        current_state: r.state.as_str().to_owned(),
    }
}

/// When the order was approved (issued): a notification cannot precede it.
async fn approved_at(app: &AppState, r: &CooperationRequest) -> AppResult<Option<OffsetDateTime>> {
    Ok(app
        .store
        .request_events(r.id)
        .await?
        .iter()
        .filter(|e| e.action == "approve")
        .map(|e| e.occurred_at.unwrap_or(e.at))
        .max())
}

/// Whether the notification may be recorded on `r` (for the page).
pub fn may_notify(r: &CooperationRequest) -> bool {
    clocks::may_notify(
        r.kind,
        r.legal_basis,
        r.direction,
        r.sent_at.is_some(),
        r.enforcing.is_some(),
    )
    .is_ok()
}

/// Whether the answer may be recorded on `r` (for the page).
pub fn may_record_objection(r: &CooperationRequest) -> bool {
    clocks::may_record_objection(
        r.enforcing.is_some(),
        r.enforcing.as_ref().is_some_and(|e| e.objection.is_some()),
    )
    .is_ok()
}

/// Records that the enforcing authority was notified of the order (art.
/// 8(1): with the order, when it is transmitted), at `occurred_at` if not
/// now, and opens its window to object from then.
pub async fn notify(
    app: &AppState,
    principal: &Principal,
    id: Uuid,
    occurred_at: Option<OffsetDateTime>,
    note: Option<&str>,
) -> AppResult<CooperationRequest> {
    let r = member_request(app, principal, id).await?;
    clocks::may_notify(
        r.kind,
        r.legal_basis,
        r.direction,
        r.sent_at.is_some(),
        r.enforcing.is_some(),
    )
    .map_err(|e| refused(&r, e))?;
    let at = bounded(occurred_at, approved_at(app, &r).await?)?;
    let rules = app.settings.deadlines.for_country(r.requested_country);
    let w = clocks::objection_window(&rules, r.kind, at.at);
    let mut next = r.clone();
    next.enforcing = Some(EnforcingAuthority {
        notified_at: at.at,
        window_due: w.due,
        window_source: w.source.to_owned(),
        objection: None,
    });
    next.updated_at = OffsetDateTime::now_utc();
    let categories: Vec<_> = r.content.data.iter().map(|d| d.category).collect();
    let mut ev = event(
        &next,
        principal,
        clocks::NOTIFY_ENFORCING_AUTHORITY,
        Some(r.state),
        serde_json::json!({
            "note": note.map(|n| n.chars().take(2000).collect::<String>()),
            "window_due": w.due.unix_timestamp(),
            "source": w.source,
            // Art. 8(1): required for traffic (not identification only) or
            // content data; art. 8(2) exceptions are the authority's call.
            "required": clocks::notification_required(&categories),
            "suspensive": clocks::notification_suspends(r.kind),
        }),
    );
    ev.occurred_at = at.occurred_at();
    store(app, principal, &r, &next, ev, "notify_enforcing_authority").await
}

/// Records what the enforcing authority answered, at `occurred_at` if not
/// now: an answer after its window is recorded and marked late
/// (`clocks::objection_is_late` says why it is not refused).
pub async fn record_objection(
    app: &AppState,
    principal: &Principal,
    id: Uuid,
    effect: ObjectionEffect,
    conditions: Option<&str>,
    occurred_at: Option<OffsetDateTime>,
    note: Option<&str>,
) -> AppResult<CooperationRequest> {
    let r = member_request(app, principal, id).await?;
    let Some(notified) = r.enforcing.clone() else {
        return Err(refused(&r, clocks::EnforcingError::NotNotified));
    };
    clocks::may_record_objection(true, notified.objection.is_some()).map_err(|e| refused(&r, e))?;
    let conditions = conditions.map(str::trim).filter(|c| !c.is_empty());
    if effect == ObjectionEffect::Conditions && conditions.is_none() {
        return Err(AppError::Validation(vec![proto::FieldError {
            field: "conditions".into(),
            code: "required".into(),
            message: "give the conditions the enforcing authority set".into(),
        }]));
    }
    if conditions.is_some_and(|c| c.chars().count() > CONDITIONS_MAX_CHARS) {
        return Err(AppError::Validation(vec![proto::FieldError {
            field: "conditions".into(),
            code: "too_long".into(),
            message: format!("at most {CONDITIONS_MAX_CHARS} characters"),
        }]));
    }
    let at = bounded(occurred_at, Some(notified.notified_at))?;
    let late = clocks::objection_is_late(&window(&notified), at.at);
    let mut next = r.clone();
    next.enforcing = Some(EnforcingAuthority {
        objection: Some(Objection {
            effect,
            at: at.at,
            conditions: conditions.map(str::to_owned),
        }),
        ..notified
    });
    next.updated_at = OffsetDateTime::now_utc();
    let mut ev = event(
        &next,
        principal,
        RECORD_OBJECTION,
        Some(r.state),
        serde_json::json!({
            "effect": effect.as_str(),
            "source": effect.source(),
            "late": late,
            "conditions": conditions,
            "note": note.map(|n| n.chars().take(2000).collect::<String>()),
        }),
    );
    ev.occurred_at = at.occurred_at();
    store(app, principal, &r, &next, ev, RECORD_OBJECTION).await
}

async fn store(
    app: &AppState,
    principal: &Principal,
    previous: &CooperationRequest,
    next: &CooperationRequest,
    ev: entraide_store::RequestEvent,
    what: &str,
) -> AppResult<CooperationRequest> {
    let audit = principal
        .actor()
        .entry(AuditAction::RequestTransition, AuditOutcome::Success)
        .on_case(next.case_id)
        .target(next.reference.clone())
        .detail(serde_json::json!({ "action": what, "from": previous.state.as_str(), "to": next.state.as_str() }));
    if !app
        .store
        .update_request(
            previous,
            next,
            &ev,
            &audit,
            &entraide_store::Effects::default(),
        )
        .await?
    {
        return Err(AppError::Transition {
            code: "state_changed",
            detail: "someone else changed this request first; reload it".into(),
            current_state: previous.state.as_str().to_owned(),
        });
    }
    Ok(next.clone())
}
