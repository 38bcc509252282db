//! The `request-update` messages that keep both sides of an exchanged
//! request together: after a user's action here, the peer holding the
//! other side is told, and mirrors it (`exchange::mirror` is the
//! receiving end). Apart from `exchange` so that the request service can
//! call it without the two files depending on each other.

use entraide_domain::request::{Action, Direction};
use entraide_federation::MessageKind;
use entraide_store::{CooperationRequest, Effects};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::audit::Actor;
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;
use crate::federation::outbox;

/// An action on one side, for the other side to mirror.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RequestUpdate {
    /// The sender's own id for the request.
    pub(crate) sender_request_id: Uuid,
    /// The receiver's id for it, when the sender knows it.
    #[serde(default)]
    pub(crate) receiver_request_id: Option<Uuid>,
    pub(crate) action: String,
    #[serde(default)]
    pub(crate) ground: Option<String>,
    #[serde(default)]
    pub(crate) note: Option<String>,
    /// When it really happened on the sender's side, when a time was given
    /// (older nodes send none: now).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub(crate) occurred_at: Option<time::OffsetDateTime>,
}

/// Actions the requested (incoming) side takes that the requesting side
/// mirrors, and the other way round.
fn mirrored(direction: Direction, action: Action) -> bool {
    match direction {
        Direction::Incoming => matches!(
            action,
            Action::Acknowledge
                | Action::StartExecution
                | Action::ConfirmPreservation
                | Action::RequestMoreInformation
                | Action::AnswerPartially
                | Action::AnswerCompletely
                | Action::Refuse { .. }
        ),
        Direction::Outgoing => matches!(action, Action::ProvideInformation | Action::Withdraw),
    }
}

/// The message telling the peer holding the other side of `r` about a
/// user's action, to queue with the move itself (`Effects`): nothing when
/// the action is not mirrored or the request was not exchanged. A peer
/// disabled or removed since is not told (the move still happens, and the
/// log says so); any other failure fails the move.
pub async fn effects_of(
    app: &AppState,
    actor: &Actor,
    r: &CooperationRequest,
    action: Action,
    note: Option<&str>,
    occurred_at: Option<time::OffsetDateTime>,
) -> AppResult<Effects> {
    if !mirrored(r.direction, action) {
        return Ok(Effects::default());
    }
    let Some((peer, peer_request_id)) = app.store.request_link(r.id).await? else {
        return Ok(Effects::default());
    };
    let ground = match action {
        Action::Refuse { ground } => Some(ground.as_str().to_owned()),
        _ => None,
    };
    let payload = serde_json::to_vec(&RequestUpdate {
        sender_request_id: r.id,
        receiver_request_id: peer_request_id,
        action: action.name().to_owned(),
        ground,
        note: note.map(|n| n.chars().take(2000).collect()),
        occurred_at,
    })
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let m = match outbox::seal_for(
        app,
        &peer,
        MessageKind::RequestUpdate,
        &payload,
        None,
        time::Duration::days(7),
    )
    .await
    {
        Ok(m) => m,
        Err(AppError::NotFound { .. } | AppError::Conflict { .. }) => {
            tracing::warn!(request = %r.id, %peer, "the peer is disabled or removed: not told of the change");
            return Ok(Effects::default());
        }
        Err(e) => return Err(e),
    };
    let audit = outbox::sending_audit(actor, &m);
    Ok(Effects {
        outbox: vec![(m, audit)],
        ..Effects::default()
    })
}
