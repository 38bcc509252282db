//! Requests that travel between nodes. Sending an approved request to a
//! peer marks it sent and delivers it (encrypted, signed, receipted) as a
//! `request` message; the peer registers it as an incoming request in a new
//! case opened by its intake officer. From then on, what either side does
//! is mirrored on the other by `request-update` messages: the requested
//! side's acknowledgement, execution, preservation, requests for more
//! information, answers and refusals; the requesting side's additional
//! information and withdrawal. Both state machines, and so both sides'
//! statistics, move together.
//!
//! The transport hands received messages over through `crate::inbound`.

use entraide_domain::request::{Action, Direction, RequestContent, RequestKind};
use entraide_domain::{CaseReference, CaseSummary, CaseTitle, Role};
use entraide_federation::{EnvelopeHeader, MessageKind, PeerStatus};
use entraide_store::{Case, CooperationRequest, Effects, NewAuditEntry, Peer, RequestLink, User};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::error::{AppError, AppResult};
use crate::app::principal::Principal;
use crate::app::state::AppState;
use crate::federation::outbox;
use crate::requests::service::{self as requests, Mover};
use crate::requests::updates::RequestUpdate;

/// A request as sent to the requested node. Received, its content is read
/// as JSON first (`C = serde_json::Value`) and then by the domain's parser,
/// so that a refusal names the field and its code as the API's does.
#[derive(Debug, Serialize, Deserialize)]
struct RequestMessage<C = RequestContent> {
    request_id: Uuid,
    reference: String,
    kind: String,
    content: C,
    /// The sender's ids of the earlier requests this one follows (older
    /// nodes send none); the receiver maps them to its own through the
    /// links of requests exchanged before.
    #[serde(default)]
    follows: Vec<Uuid>,
}

/// Sends an approved outgoing request to a peer.
pub async fn send_request(
    app: &AppState,
    principal: &Principal,
    id: Uuid,
    peer_node: &str,
) -> AppResult<CooperationRequest> {
    let r = requests::member_request(app, principal, id).await?;
    if r.direction != Direction::Outgoing {
        return Err(AppError::Conflict {
            code: "not_outgoing",
            detail: "only requests this node makes can be sent".into(),
        });
    }
    if app.store.request_link(id).await?.is_some() {
        return Err(AppError::Conflict {
            code: "already_sent",
            detail: "this request was already sent to a peer".into(),
        });
    }
    let peer = app
        .store
        .peer(peer_node)
        .await?
        .filter(|p| p.status == PeerStatus::Active)
        .ok_or(AppError::NotFound { what: "peer" })?;
    let accepts = serde_json::from_str::<entraide_federation::NodeDocument>(&peer.document)
        .map(|d| d.request_types.iter().any(|t| t == r.kind.as_str()))
        .unwrap_or(false);
    if !accepts {
        return Err(AppError::Conflict {
            code: "peer_does_not_accept",
            detail: format!("{peer_node} does not accept {} requests", r.kind.as_str()),
        });
    }
    // Marked sent (approved, content unchanged since approval), linked to
    // the peer and queued for it in one transaction: a failure anywhere
    // leaves the request approved with nothing queued.
    let mover = Mover::user(principal)?;
    let follows: Vec<Uuid> = app
        .store
        .requests_followed(r.id)
        .await?
        .iter()
        .map(|f| f.id)
        .collect();
    let mut step = requests::prepare_move(app, r, Action::MarkSent, None, &mover)?;
    // Linked to the peer by this very move: from now on each side records
    // only its own actions.
    step.next.exchanged_with = Some(peer_node.to_owned());
    // An EU extension sent is received: it moves the preservation's end.
    let sent = crate::requests::clocks::EventTime {
        at: step.next.sent_at.unwrap_or_else(OffsetDateTime::now_utc),
        given: false,
    };
    let extends = requests::clock_effects(app, &mut step, Action::MarkSent, sent, &mover).await?;
    let payload = serde_json::to_vec(&RequestMessage {
        request_id: step.next.id,
        reference: step.next.reference.clone(),
        kind: step.next.kind.as_str().to_owned(),
        content: step.next.content.clone(),
        follows,
    })
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let message = outbox::seal_for(
        app,
        peer_node,
        MessageKind::Request,
        &payload,
        None,
        time::Duration::days(7),
    )
    .await?;
    let audit = outbox::sending_audit(&principal.actor(), &message);
    let effects = Effects {
        links: vec![RequestLink {
            request_id: step.next.id,
            peer_node: peer_node.to_owned(),
            peer_request_id: None,
            at: OffsetDateTime::now_utc(),
        }],
        outbox: vec![(message, audit)],
        extends,
        ..Effects::default()
    };
    requests::commit_move(app, step, effects).await
}

/// Before a request from `sender` is stored: a service provider takes
/// requests only from authorities.
pub async fn admit_request(app: &AppState, sender: &Peer, payload: &[u8]) -> AppResult<()> {
    let own = app.store.own_organisation().await?;
    let sender_is_authority = sender
        .kind
        .parse::<entraide_domain::OrganisationKind>()
        .is_ok_and(|k| k.is_authority());
    if own.kind == entraide_domain::OrganisationKind::ServiceProvider && !sender_is_authority {
        return Err(AppError::BadRequest {
            code: "sender_not_authority",
            detail: format!(
                "{} ({}) may not send requests to a service provider",
                sender.node_id, sender.kind
            ),
        });
    }
    decode_request(payload).map(|_| ())
}

/// A request message read and its content parsed as the API parses it:
/// a refusal names `content.<path>` with the domain's code.
fn decode_request(
    payload: &[u8],
) -> AppResult<(
    RequestMessage<serde_json::Value>,
    RequestKind,
    RequestContent,
)> {
    let mut m: RequestMessage<serde_json::Value> =
        serde_json::from_slice(payload).map_err(|e| AppError::BadRequest {
            code: "request_message_malformed",
            detail: format!("the request message cannot be read: {e}"),
        })?;
    let kind: RequestKind = m.kind.parse().map_err(|e: entraide_domain::ParseError| {
        AppError::Validation(vec![AppError::field("kind", e)])
    })?;
    let content = requests::parse_content(std::mem::take(&mut m.content))?;
    Ok((m, kind, content))
}

/// The user who takes in requests from other nodes: the first active
/// officer, else the first administrator.
async fn intake_user(app: &AppState) -> AppResult<User> {
    let users = app.store.list_users().await?;
    users
        .iter()
        .find(|u| !u.disabled && u.roles.contains(Role::Officer))
        .or_else(|| {
            users
                .iter()
                .find(|u| !u.disabled && u.roles.contains(Role::Administrator))
        })
        .cloned()
        .ok_or_else(|| AppError::Internal("no officer or administrator to take in requests".into()))
}

/// A new case for something received from a peer: opened on the peer's
/// behalf (audited as `node:{sender}`), owned by the duty officer, who is
/// returned with it.
pub async fn intake_case(
    app: &AppState,
    sender: &str,
    their_reference: &str,
) -> AppResult<(User, Case)> {
    let (user, case, audit) = plan_intake_case(app, sender, their_reference).await?;
    crate::cases::service::store_case(app.store.as_ref(), &case, &audit).await?;
    Ok((user, case))
}

/// The case to open for something received from a peer, and its audit
/// entry, not yet stored: the duty officer owns it, the peer opens it.
async fn plan_intake_case(
    app: &AppState,
    sender: &str,
    their_reference: &str,
) -> AppResult<(User, Case, NewAuditEntry)> {
    let user = intake_user(app).await?;
    let peer = app.store.peer(sender).await?;
    let organisation = peer
        .map(|p| p.organisation)
        .unwrap_or_else(|| sender.to_owned());
    let reference: String = format!("{sender}-{their_reference}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '.' | '_') {
                c
            } else {
                '-'
            }
        })
        .take(56)
        .collect();
    // A reference already used (the same case sends twice): a suffix.
    let mut candidate = reference.clone();
    let existing = app.store.all_cases().await?;
    let mut n = 2;
    while existing.iter().any(|c| c.reference.as_str() == candidate) {
        candidate = format!("{reference}-{n}");
        n += 1;
    }
    let (case, audit) = crate::cases::service::new_case(
        &Principal::peer(sender).actor(),
        user.id,
        CaseReference::parse(&candidate).map_err(|e| AppError::Internal(e.message))?,
        CaseTitle::parse(&format!("{organisation} — {their_reference}"))
            .map_err(|e| AppError::Internal(e.message))?,
        CaseSummary::parse("").map_err(|e| AppError::Internal(e.message))?,
    );
    Ok((user, case, audit))
}

/// A request from a peer (already checked and stored): registered as an
/// incoming request in a new case, once.
pub async fn register(app: &AppState, header: &EnvelopeHeader, payload: &[u8]) -> AppResult<()> {
    let (m, kind, content) = decode_request(payload)?;
    if app
        .store
        .request_by_link(&header.sender, m.request_id)
        .await?
        .is_some()
    {
        return Ok(());
    }
    // Follow-ups of requests exchanged before (an MLA request after the
    // preservation) are registered in the case of what they follow.
    let follows = own_followed(app, &header.sender, kind, &m.follows).await?;
    let (case, case_audit) = match follows.first() {
        Some(earlier) => (
            app.store
                .case_by_id(earlier.case_id)
                .await?
                .ok_or(AppError::NotFound { what: "case" })?,
            None,
        ),
        None => {
            let (_, case, audit) = plan_intake_case(app, &header.sender, &m.reference).await?;
            (case, Some(audit))
        }
    };
    let intake = requests::Intake {
        case,
        case_audit,
        peer_node: header.sender.clone(),
        peer_request_id: m.request_id,
        message_id: header.message_id,
        follows,
    };
    let peer = Principal::peer(&header.sender);
    let r = requests::register_received(app, &peer, intake, kind, content).await?;
    tracing::info!(request = %r.id, from = %header.sender, "request received from a peer");
    Ok(())
}

/// Our requests that a request from `sender` follows: the sender's ids
/// mapped through the links of requests exchanged before, kept when they
/// are ours, of one case, and of kinds it may follow. A link the peer
/// names that does not hold here is left out (logged): what it sent is
/// registered all the same.
async fn own_followed(
    app: &AppState,
    sender: &str,
    kind: RequestKind,
    theirs: &[Uuid],
) -> AppResult<Vec<CooperationRequest>> {
    let mut ours: Vec<CooperationRequest> = Vec::new();
    for id in theirs
        .iter()
        .take(entraide_domain::request::clocks::FOLLOWS_MAX)
    {
        let Some(own) = app.store.request_by_link(sender, *id).await? else {
            tracing::warn!(from = %sender, "follows a request not exchanged with this peer");
            continue;
        };
        if let Some(r) = app.store.request_by_id(own).await? {
            let same_case = ours.first().is_none_or(|f| f.case_id == r.case_id);
            let fits = r.direction == Direction::Incoming && kind.may_follow(r.kind);
            if same_case && fits && !ours.iter().any(|o| o.id == r.id) {
                ours.push(r);
            }
        }
    }
    if kind == RequestKind::PreservationExtension {
        ours.truncate(1);
    }
    Ok(ours)
}

/// An action the peer took on a request exchanged with it, mirrored here.
pub async fn mirror(app: &AppState, header: &EnvelopeHeader, payload: &[u8]) -> AppResult<()> {
    let u: RequestUpdate = serde_json::from_slice(payload)
        .map_err(|e| AppError::Internal(format!("request update: {e}")))?;
    // Our request: named by the sender when it knows our id (then checked
    // to be linked to the sender, and the sender's id learnt), else found
    // by the sender's id for it.
    let own = match u.receiver_request_id {
        Some(id) => match app.store.request_link(id).await? {
            Some((peer, _)) if peer == header.sender => {
                app.store
                    .link_request(
                        id,
                        &header.sender,
                        Some(u.sender_request_id),
                        OffsetDateTime::now_utc(),
                    )
                    .await?;
                Some(id)
            }
            _ => None,
        },
        None => {
            app.store
                .request_by_link(&header.sender, u.sender_request_id)
                .await?
        }
    };
    let Some(own) = own else {
        tracing::warn!(from = %header.sender, "update about a request not exchanged with this peer");
        return Ok(());
    };
    let r = app
        .store
        .request_by_id(own)
        .await?
        .ok_or(AppError::NotFound { what: "request" })?;
    let action = requests::parse_action(&u.action, u.ground.as_deref())?;
    let mover = Mover::mirroring(&Principal::peer(&header.sender));
    requests::move_request(app, r, action, u.note.as_deref(), &mover, u.occurred_at).await?;
    Ok(())
}
