//! Preservations and their ends: drafting the extension of one, and the
//! node's sweep that records as expired those whose period ended with no
//! request for their data pending (Budapest art. 29(7)).

use entraide_domain::request::{next_state, Action, Channel, Move, RequestKind, RequestState};
use entraide_domain::{AuditAction, AuditOutcome};
use entraide_store::{CooperationRequest, Effects, RequestEvent, RequestFilter};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::audit::AuditEntryExt;
use crate::app::error::{AppError, AppResult};
use crate::app::principal::Principal;
use crate::app::state::AppState;
use crate::requests::service::{create_with, member_request, NewRequestClocks};

/// Drafts the extension of a preservation, prefilled from it (Budapest
/// art. 29(7): the preservation lasts while the MLA request is decided; an
/// extension keeps the data beyond the first period).
pub async fn prepare_extension(
    app: &AppState,
    principal: &Principal,
    id: Uuid,
) -> AppResult<CooperationRequest> {
    let mut original = member_request(app, principal, id).await?;
    if !original.state.allows_extension(original.kind) {
        return Err(AppError::Transition {
            code: "extension_not_possible",
            detail: "only a preservation that is sent, acknowledged or in place can be extended"
                .into(),
            current_state: original.state.as_str().to_owned(),
        });
    }
    // Extending an extension extends the preservation it extends: that one
    // holds the clock.
    if original.kind == RequestKind::PreservationExtension {
        if let Some(p) = app
            .store
            .requests_followed(original.id)
            .await?
            .into_iter()
            .find(|p| p.kind == RequestKind::ExpeditedPreservation)
        {
            original = p;
        }
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
    // It follows the preservation it extends, whose end it moves once in
    // effect (`clocks::extension_step`).
    let follows = if original.kind == RequestKind::ExpeditedPreservation {
        vec![original.id]
    } else {
        Vec::new()
    };
    create_with(
        app,
        principal,
        original.case_id,
        RequestKind::PreservationExtension,
        original.direction,
        content,
        NewRequestClocks {
            follows,
            occurred_at: None,
        },
    )
    .await
}

/// Records as expired every preservation whose period ended before `now`
/// with no request for its data pending (Budapest art. 29(7): one pending
/// keeps it in force; the store's `overdue_preservations` leaves those
/// out), and the open extensions of each with it. Run by the node itself
/// every minute; returns how many preservations expired.
pub async fn expire_overdue(app: &AppState, now: OffsetDateTime) -> AppResult<usize> {
    let node = crate::app::audit::Actor {
        id: None,
        label: "node".into(),
        client_ip: None,
        request_id: None,
    };
    let mut expired = 0;
    for r in app.store.overdue_preservations(now).await? {
        let detail = serde_json::json!({ "deadline": r.deadline_source, "due": r.deadline_due.map(|d| d.unix_timestamp()) });
        let reference = r.reference.clone();
        let lapsed = r.clone();
        if expire_one(app, &node, r, now, detail).await? {
            tracing::warn!(reference = %reference, "preservation expired without the MLA request");
            expired += 1;
            for x in crate::requests::clocks::open_extensions(app, &lapsed).await? {
                let with = serde_json::json!({ "with": lapsed.reference });
                expire_one(app, &node, x, now, with).await?;
            }
        }
    }
    Ok(expired)
}

/// Records one request as expired by the node; false when another replica
/// did it first (nothing written) or it can no longer expire.
async fn expire_one(
    app: &AppState,
    node: &crate::app::audit::Actor,
    mut r: CooperationRequest,
    now: OffsetDateTime,
    detail: serde_json::Value,
) -> AppResult<bool> {
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
        channel: Channel::Outside,
    }) else {
        return Ok(false);
    };
    r.state = next;
    r.closed_at = Some(now);
    r.updated_at = now;
    let ev = RequestEvent {
        id: 0,
        request_id: r.id,
        at: now,
        occurred_at: None,
        actor_id: None,
        actor: node.label.clone(),
        action: Action::Expire.name().to_owned(),
        from_state: Some(before.as_str().to_owned()),
        to_state: next.as_str().to_owned(),
        detail: detail.to_string(),
    };
    let audit = node
        .entry(AuditAction::RequestTransition, AuditOutcome::Success)
        .on_case(r.case_id)
        .target(r.reference.clone())
        .detail(
            serde_json::json!({ "action": "expire", "from": before.as_str(), "to": next.as_str() }),
        );
    Ok(app
        .store
        .update_request(&previous, &r, &ev, &audit, &Effects::default())
        .await?)
}
