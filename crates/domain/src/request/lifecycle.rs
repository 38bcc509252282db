//! The life of a request, from either side. Outgoing: draft → awaiting
//! approval → approved → sent → acknowledged → in execution / preserved /
//! more information requested → answered (partially or completely) /
//! refused / withdrawn / expired. Incoming requests start as registered.
//! Every other move is refused with the current state.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::kind::{Direction, RequestKind};
use crate::user::{Role, RoleSet};
use crate::ParseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Draft,
    AwaitingApproval,
    Approved,
    Sent,
    /// An incoming request entered in the register.
    Registered,
    Acknowledged,
    InExecution,
    /// The data are preserved (preservation requests).
    Preserved,
    MoreInformationRequested,
    AnsweredPartially,
    Answered,
    Refused,
    Withdrawn,
    Expired,
}

impl RequestState {
    pub const ALL: [RequestState; 14] = [
        Self::Draft,
        Self::AwaitingApproval,
        Self::Approved,
        Self::Sent,
        Self::Registered,
        Self::Acknowledged,
        Self::InExecution,
        Self::Preserved,
        Self::MoreInformationRequested,
        Self::AnsweredPartially,
        Self::Answered,
        Self::Refused,
        Self::Withdrawn,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Approved => "approved",
            Self::Sent => "sent",
            Self::Registered => "registered",
            Self::Acknowledged => "acknowledged",
            Self::InExecution => "in_execution",
            Self::Preserved => "preserved",
            Self::MoreInformationRequested => "more_information_requested",
            Self::AnsweredPartially => "answered_partially",
            Self::Answered => "answered",
            Self::Refused => "refused",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }

    /// No further move: the request is closed.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Answered | Self::Refused | Self::Withdrawn | Self::Expired
        )
    }

    /// Content may change only while drafting.
    pub fn is_editable(self) -> bool {
        self == Self::Draft
    }

    /// Whether a request of `kind` in this state can have its extension
    /// prepared: a preservation that is sent, acknowledged or in place.
    pub fn allows_extension(self, kind: RequestKind) -> bool {
        kind.is_preservation()
            && matches!(
                self,
                Self::Sent | Self::Acknowledged | Self::InExecution | Self::Preserved
            )
    }

    pub fn initial(direction: Direction) -> Self {
        match direction {
            Direction::Outgoing => Self::Draft,
            Direction::Incoming => Self::Registered,
        }
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RequestState {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                ParseError::new("invalid_state", format!("'{s}' is not a request state"))
            })
    }
}

/// Grounds for refusal. For preservation, only the narrow grounds of
/// Budapest art. 29(5) are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalGround {
    PoliticalOffence,
    /// Sovereignty, security, ordre public or other essential interests.
    EssentialInterests,
    DualCriminality,
    InsufficientInformation,
    DataNotAvailable,
    Other,
}

impl RefusalGround {
    pub const ALL: [RefusalGround; 6] = [
        Self::PoliticalOffence,
        Self::EssentialInterests,
        Self::DualCriminality,
        Self::InsufficientInformation,
        Self::DataNotAvailable,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PoliticalOffence => "political_offence",
            Self::EssentialInterests => "essential_interests",
            Self::DualCriminality => "dual_criminality",
            Self::InsufficientInformation => "insufficient_information",
            Self::DataNotAvailable => "data_not_available",
            Self::Other => "other",
        }
    }

    /// Art. 29(5): preservation may be refused only for a political offence
    /// or for sovereignty, security, ordre public or other essential
    /// interests; art. 29(3): not for lack of dual criminality (save the
    /// reservation of art. 29(4)). Data that do not exist cannot be preserved.
    pub fn open_to(self, kind: RequestKind) -> bool {
        !kind.is_preservation()
            || matches!(
                self,
                Self::PoliticalOffence | Self::EssentialInterests | Self::DataNotAvailable
            )
    }
}

impl FromStr for RefusalGround {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                ParseError::new(
                    "invalid_refusal_ground",
                    format!("'{s}' is not a refusal ground"),
                )
            })
    }
}

/// What someone does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    SubmitForApproval,
    /// The approver sends the draft back for changes.
    ReturnToDraft,
    Approve,
    MarkSent,
    Acknowledge,
    StartExecution,
    ConfirmPreservation,
    RequestMoreInformation,
    ProvideInformation,
    AnswerPartially,
    AnswerCompletely,
    Refuse {
        ground: RefusalGround,
    },
    Withdraw,
    Expire,
}

impl Action {
    /// Every action (refusal with one representative ground).
    pub const ALL: [Action; 14] = [
        Self::SubmitForApproval,
        Self::ReturnToDraft,
        Self::Approve,
        Self::MarkSent,
        Self::Acknowledge,
        Self::StartExecution,
        Self::ConfirmPreservation,
        Self::RequestMoreInformation,
        Self::ProvideInformation,
        Self::AnswerPartially,
        Self::AnswerCompletely,
        Self::Refuse {
            ground: RefusalGround::EssentialInterests,
        },
        Self::Withdraw,
        Self::Expire,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::SubmitForApproval => "submit_for_approval",
            Self::ReturnToDraft => "return_to_draft",
            Self::Approve => "approve",
            Self::MarkSent => "mark_sent",
            Self::Acknowledge => "acknowledge",
            Self::StartExecution => "start_execution",
            Self::ConfirmPreservation => "confirm_preservation",
            Self::RequestMoreInformation => "request_more_information",
            Self::ProvideInformation => "provide_information",
            Self::AnswerPartially => "answer_partially",
            Self::AnswerCompletely => "answer_completely",
            Self::Refuse { .. } => "refuse",
            Self::Withdraw => "withdraw",
            Self::Expire => "expire",
        }
    }

    /// The side whose action this is: the requesting side drafts, approves,
    /// sends, provides information and withdraws; the requested side
    /// acknowledges, executes, preserves, asks for more, answers and
    /// refuses. `None` for what the node itself records (expiry).
    pub fn side(self) -> Option<Side> {
        match self {
            Self::SubmitForApproval
            | Self::ReturnToDraft
            | Self::Approve
            | Self::MarkSent
            | Self::ProvideInformation
            | Self::Withdraw => Some(Side::Requesting),
            Self::Acknowledge
            | Self::StartExecution
            | Self::ConfirmPreservation
            | Self::RequestMoreInformation
            | Self::AnswerPartially
            | Self::AnswerCompletely
            | Self::Refuse { .. } => Some(Side::Requested),
            Self::Expire => None,
        }
    }

    /// Roles that may take this action (on top of case membership).
    pub fn roles(self) -> RoleSet {
        match self {
            Self::Approve | Self::ReturnToDraft => RoleSet::of(&[Role::Approver]),
            Self::Expire => RoleSet::EMPTY, // the node itself, when a deadline passes
            _ => RoleSet::of(&[Role::Officer, Role::Approver]),
        }
    }
}

/// The two sides of a request: who asks, and who is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Requesting,
    Requested,
}

impl Side {
    pub fn other(self) -> Self {
        match self {
            Self::Requesting => Self::Requested,
            Self::Requested => Self::Requesting,
        }
    }

    /// The side a node holds of a request going in `direction`.
    pub fn of(direction: Direction) -> Self {
        match direction {
            Direction::Outgoing => Self::Requesting,
            Direction::Incoming => Self::Requested,
        }
    }
}

/// How a move reaches this node's register, which decides whose actions
/// it may record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A user here, on a request not exchanged through Entraide (sent by
    /// e-mail or post, or registered from paper): the other side's replies
    /// come by other channels and are recorded here by hand, marked so.
    Outside,
    /// A user here, on a request exchanged with the peer holding the other
    /// side: each node records only its own side's actions, and the other
    /// side's reach it from that node — so both registers always agree.
    Exchanged,
    /// The peer's node telling what happened on its side: only the other
    /// side's actions (a peer cannot approve, send or withdraw our request).
    Mirrored,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("cannot {action} a request that is {state}")]
    NotAllowed {
        action: &'static str,
        state: RequestState,
    },
    #[error("the approver cannot be the person who drafted the request or changed its content since it was last approved (four eyes)")]
    FourEyes,
    #[error("the request is incomplete and cannot be approved")]
    Incomplete,
    #[error("this refusal ground is not open to preservation requests (Budapest art. 29(5))")]
    GroundNotOpen,
    #[error("your roles do not allow this action")]
    RoleMissing,
    #[error("{action} is recorded by the other side's node and reaches this register from it: the request was exchanged with a peer")]
    OtherSide { action: &'static str },
    #[error("a peer's update cannot record {action}, which is this side's own action")]
    NotThePeers { action: &'static str },
}

impl TransitionError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAllowed { .. } => "transition_not_allowed",
            Self::FourEyes => "four_eyes",
            Self::Incomplete => "request_incomplete",
            Self::GroundNotOpen => "refusal_ground_not_open",
            Self::RoleMissing => "forbidden_role",
            Self::OtherSide { .. } => "other_sides_action",
            Self::NotThePeers { .. } => "not_the_peers_action",
        }
    }
}

/// Who wrote a request's content, for four eyes: its drafter, and who
/// changed it since it was last approved. Built from the request's history
/// in order (`drafted`, `edited`, `approve` events).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorship {
    drafter: Option<uuid::Uuid>,
    since_approval: Vec<uuid::Uuid>,
}

impl Authorship {
    pub fn drafted(drafter: Option<uuid::Uuid>) -> Self {
        Self {
            drafter,
            since_approval: Vec::new(),
        }
    }

    /// The content was changed by `who`.
    pub fn changed(&mut self, who: uuid::Uuid) {
        if !self.since_approval.contains(&who) {
            self.since_approval.push(who);
        }
    }

    /// The content was approved as it stands: later changes count anew.
    pub fn approved(&mut self) {
        self.since_approval.clear();
    }

    /// From a history of (event action, actor) in order: `drafted` names the
    /// drafter, `edited` a change, `approve` an approval.
    pub fn from_history<'a>(
        events: impl IntoIterator<Item = (&'a str, Option<uuid::Uuid>)>,
    ) -> Self {
        let mut a = Self::default();
        for (action, actor) in events {
            match (action, actor) {
                ("drafted", Some(who)) => a.drafter = Some(who),
                ("edited", Some(who)) => a.changed(who),
                ("approve", _) => a.approved(),
                _ => {}
            }
        }
        a
    }

    /// Who may not approve: the drafter and every author of a change since
    /// the last approval.
    pub fn authors(&self) -> Vec<uuid::Uuid> {
        let mut all: Vec<uuid::Uuid> = self.drafter.into_iter().collect();
        for who in &self.since_approval {
            if !all.contains(who) {
                all.push(*who);
            }
        }
        all
    }
}

/// Facts the state machine needs besides the state.
pub struct Move {
    pub kind: RequestKind,
    pub direction: Direction,
    pub state: RequestState,
    pub action: Action,
    /// Who acts, and with which roles (`None` = the node itself).
    pub actor: Option<(uuid::Uuid, RoleSet)>,
    /// Who may not approve it: the drafter and everyone who changed its
    /// content since it was last approved (`Authorship::authors`).
    pub authors: Vec<uuid::Uuid>,
    /// Whether the content passes every mandatory check.
    pub complete: bool,
    /// How the move reaches the register (whose actions it may record).
    pub channel: Channel,
}

/// The next state, or why not.
pub fn next_state(m: &Move) -> Result<RequestState, TransitionError> {
    use Action as A;
    use RequestState as S;
    let not_allowed = || TransitionError::NotAllowed {
        action: m.action.name(),
        state: m.state,
    };
    match m.actor {
        Some((_, roles)) if !roles.intersects(m.action.roles()) => {
            return Err(TransitionError::RoleMissing)
        }
        None if m.action != A::Expire => return Err(TransitionError::RoleMissing),
        _ => {}
    }
    // Sides: once exchanged, each node records its own side's actions and
    // mirrors the other's; a peer may only tell of its own side's actions.
    let ours = Side::of(m.direction);
    match (m.channel, m.action.side()) {
        (Channel::Exchanged, Some(side)) if side != ours => {
            return Err(TransitionError::OtherSide {
                action: m.action.name(),
            })
        }
        (Channel::Mirrored, side) if side != Some(ours.other()) => {
            return Err(TransitionError::NotThePeers {
                action: m.action.name(),
            })
        }
        _ => {}
    }
    let outgoing = m.direction == Direction::Outgoing;
    let next = match (m.state, m.action) {
        (S::Draft, A::SubmitForApproval) if outgoing => {
            if !m.complete {
                return Err(TransitionError::Incomplete);
            }
            S::AwaitingApproval
        }
        (S::AwaitingApproval, A::ReturnToDraft) => S::Draft,
        (S::AwaitingApproval, A::Approve) => {
            if !m.complete {
                return Err(TransitionError::Incomplete);
            }
            match m.actor {
                Some((actor, _)) if m.authors.contains(&actor) => {
                    return Err(TransitionError::FourEyes)
                }
                _ => S::Approved,
            }
        }
        (S::Approved, A::MarkSent) => S::Sent,
        (S::Sent | S::Registered, A::Acknowledge) => S::Acknowledged,
        (S::Acknowledged | S::MoreInformationRequested, A::StartExecution) => S::InExecution,
        (S::Acknowledged | S::InExecution, A::ConfirmPreservation) if m.kind.is_preservation() => {
            S::Preserved
        }
        (S::Acknowledged | S::InExecution | S::Preserved, A::RequestMoreInformation) => {
            S::MoreInformationRequested
        }
        (S::MoreInformationRequested, A::ProvideInformation) => S::InExecution,
        (S::Acknowledged | S::InExecution | S::Preserved, A::AnswerPartially) => {
            S::AnsweredPartially
        }
        (
            S::Acknowledged | S::InExecution | S::Preserved | S::AnsweredPartially,
            A::AnswerCompletely,
        ) => S::Answered,
        (
            S::Sent
            | S::Registered
            | S::Acknowledged
            | S::InExecution
            | S::MoreInformationRequested,
            A::Refuse { ground },
        ) => {
            if !ground.open_to(m.kind) {
                return Err(TransitionError::GroundNotOpen);
            }
            S::Refused
        }
        // The requesting side withdraws; an incoming request follows it.
        (s, A::Withdraw) if !s.is_final() => S::Withdrawn,
        // A preservation lapses whatever its recorded state: an EU EPOC-PR's
        // 60 days run from its receipt (Regulation (EU) 2023/1543 art.
        // 11(1)), even before the register shows it acknowledged.
        (S::Preserved | S::Sent | S::Registered | S::Acknowledged | S::InExecution, A::Expire) => {
            S::Expired
        }
        _ => return Err(not_allowed()),
    };
    Ok(next)
}

/// The actions a user here may take from a state, for the interface.
pub fn available_actions(
    kind: RequestKind,
    direction: Direction,
    state: RequestState,
    channel: Channel,
) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|a| *a != Action::Expire)
        .filter(|a| {
            next_state(&Move {
                kind,
                direction,
                state,
                action: *a,
                actor: Some((uuid::Uuid::nil(), RoleSet::of(&Role::ALL))),
                authors: Vec::new(),
                complete: true,
                channel,
            })
            .is_ok()
        })
        .collect()
}
