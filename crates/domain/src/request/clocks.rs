//! The law's clocks: when an event really happened, what keeps a
//! preservation in force, what an extension does to it, and the enforcing
//! authority's window to object to a European Production Order. Each rule
//! names the provision it comes from; the figures are in `DeadlineRules`.
//! Pure: every function is given the clock value it needs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime, UtcOffset};

use super::deadline::{Deadline, DeadlineRules, Trigger};
use super::kind::{DataCategory, Direction, LegalBasis, RequestKind};
use super::lifecycle::{Action, RequestState};
use crate::ParseError;

// ------------------------------------------------------------ event times

/// How far ahead of the node's clock a time given for an event may be: the
/// clocks of the officer's computer and of the node differ a little.
pub const EVENT_TIME_SKEW: Duration = Duration::minutes(5);

/// The one reading of a time given for an event (API and form alike): an
/// RFC 3339 date and time with its offset, kept in UTC. Code
/// `invalid_datetime`.
pub fn parse_event_time(input: &str) -> Result<OffsetDateTime, ParseError> {
    super::parse::parse_date_time(input).map(|t| t.to_offset(UtcOffset::UTC))
}

/// Why a time given for an event is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EventTimeError {
    #[error("{at} is in the future: give the time the event really happened")]
    InFuture { at: OffsetDateTime },
    #[error("{at} is before the previous event of this request ({previous}): events are recorded in the order they happened")]
    BeforePrevious {
        at: OffsetDateTime,
        previous: OffsetDateTime,
    },
    #[error("this action happens when it is recorded here and takes no other time")]
    NotApplicable,
}

impl EventTimeError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InFuture { .. } => "event_time_in_future",
            Self::BeforePrevious { .. } => "event_time_before_previous",
            Self::NotApplicable => "event_time_not_applicable",
        }
    }
}

/// Whether an action may carry the time it really happened. What happens
/// outside the node — sending by other means, the other side's replies,
/// information given, a withdrawal communicated — may be recorded later
/// than it happened. Submitting, returning and approving happen here, when
/// they are recorded: four eyes rests on that moment.
pub fn action_takes_event_time(action: Action) -> bool {
    !matches!(
        action,
        Action::SubmitForApproval | Action::ReturnToDraft | Action::Approve | Action::Expire
    )
}

/// Whether an event of a request's history bounds the time of the events
/// recorded after it. A document printed, the enforcing authority's
/// notification and objection run beside the life of the request (an
/// answer that came before the objection may be recorded after it), so
/// they do not.
pub fn bounds_later_events(action: &str) -> bool {
    !matches!(
        action,
        "document_rendered" | NOTIFY_ENFORCING_AUTHORITY | RECORD_OBJECTION
    )
}

/// The latest real time among a request's history, as (action, recorded
/// at, occurred at) in any order: no new event may precede it.
pub fn previous_event_time<'a>(
    events: impl IntoIterator<Item = (&'a str, OffsetDateTime, Option<OffsetDateTime>)>,
) -> Option<OffsetDateTime> {
    events
        .into_iter()
        .filter(|(action, _, _)| bounds_later_events(action))
        .map(|(_, recorded, occurred)| occurred.unwrap_or(recorded))
        .max()
}

/// When an event happened: `now` if no time is given; else the time given,
/// if it is not in the future (beyond `EVENT_TIME_SKEW`) nor before the
/// previous event. Never later than `now`: a deadline never starts in the
/// future.
pub fn event_time(
    given: Option<OffsetDateTime>,
    now: OffsetDateTime,
    previous: Option<OffsetDateTime>,
) -> Result<OffsetDateTime, EventTimeError> {
    let Some(at) = given else {
        return Ok(now);
    };
    if at > now + EVENT_TIME_SKEW {
        return Err(EventTimeError::InFuture { at });
    }
    if let Some(previous) = previous.filter(|p| at < *p) {
        return Err(EventTimeError::BeforePrevious { at, previous });
    }
    Ok(at.min(now))
}

/// The time a peer's node gives for an event on its side, brought within
/// this register's bounds rather than refused: the peer checked it against
/// its own history, and refusing would leave the two registers apart.
pub fn event_time_from_peer(
    given: Option<OffsetDateTime>,
    now: OffsetDateTime,
    previous: Option<OffsetDateTime>,
) -> OffsetDateTime {
    let at = given.unwrap_or(now).min(now);
    match previous {
        Some(p) if at < p => p.min(now),
        _ => at,
    }
}

// ------------------------------------------------------- requests following

/// At most this many earlier requests named as followed.
pub const FOLLOWS_MAX: usize = 20;

/// Why a request may not follow those it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FollowError {
    #[error("a {follower} request cannot follow a {earlier} request")]
    KindMismatch {
        follower: RequestKind,
        earlier: RequestKind,
    },
    #[error(
        "a request follows requests going the same way (sent with sent, received with received)"
    )]
    DirectionMismatch,
    #[error("an extension follows exactly one preservation: the one it extends")]
    ExtensionNeedsOnePreservation,
    #[error("a request follows at most {FOLLOWS_MAX} earlier requests")]
    TooMany,
    #[error("a request is named twice")]
    Duplicate,
}

impl FollowError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::KindMismatch { .. } => "follows_kind_mismatch",
            Self::DirectionMismatch => "follows_direction_mismatch",
            Self::ExtensionNeedsOnePreservation => "extension_follows_one_preservation",
            Self::TooMany => "too_many",
            Self::Duplicate => "duplicate",
        }
    }
}

/// Checks the earlier requests (of the same case: the caller makes sure)
/// that a new request of `kind` going in `direction` follows. On error,
/// the position of the earlier request at fault, when one is.
pub fn check_follows<T: PartialEq>(
    kind: RequestKind,
    direction: Direction,
    earlier: &[(T, RequestKind, Direction)],
) -> Result<(), (Option<usize>, FollowError)> {
    if earlier.len() > FOLLOWS_MAX {
        return Err((None, FollowError::TooMany));
    }
    for (i, (id, k, d)) in earlier.iter().enumerate() {
        if earlier[..i].iter().any(|(other, _, _)| other == id) {
            return Err((Some(i), FollowError::Duplicate));
        }
        if !kind.may_follow(*k) {
            return Err((
                Some(i),
                FollowError::KindMismatch {
                    follower: kind,
                    earlier: *k,
                },
            ));
        }
        if *d != direction {
            return Err((Some(i), FollowError::DirectionMismatch));
        }
    }
    if kind == RequestKind::PreservationExtension && earlier.len() > 1 {
        return Err((None, FollowError::ExtensionNeedsOnePreservation));
    }
    Ok(())
}

// ------------------------------------------------- preservation in force

/// A request that follows a preservation, as the preservation's clock sees
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUp {
    pub kind: RequestKind,
    pub state: RequestState,
    /// When it was sent (ours) or received (theirs); `None` while ours is
    /// not sent.
    pub sent_or_received: Option<OffsetDateTime>,
}

impl FollowUp {
    /// Budapest art. 29(7): "Following the receipt of such a request, the
    /// data shall continue to be preserved pending a decision on that
    /// request"; Regulation (EU) 2023/1543 art. 11(1)-(2): once the issuing
    /// authority confirms a subsequent request for production was issued,
    /// the data are preserved "as long as necessary to produce the data".
    /// So: a request for the data, sent or received, not yet decided
    /// (answered, refused, withdrawn or lapsed). The store's sweep
    /// (`overdue_preservations`) applies the same rule in SQL.
    pub fn keeps_in_force(&self) -> bool {
        self.kind.requests_production() && self.sent_or_received.is_some() && !self.state.is_final()
    }

    /// Whether it was sent or received by `at`: a preservation that lapsed
    /// after one came did not lapse "before the MLA request".
    pub fn came_by(&self, at: OffsetDateTime) -> bool {
        self.kind.requests_production() && self.sent_or_received.is_some_and(|t| t <= at)
    }
}

/// Whether a preservation whose period ends at `due` lapses at `now`: its
/// period is over and no request for the data following it is pending.
pub fn preservation_lapses(
    due: Option<OffsetDateTime>,
    now: OffsetDateTime,
    follow_ups: &[FollowUp],
) -> bool {
    due.is_some_and(|d| now >= d) && !follow_ups.iter().any(FollowUp::keeps_in_force)
}

// -------------------------------------------------------------- extension

/// Why an extension cannot take effect on the preservation it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionError {
    #[error("the preservation it extends ended on {ended}: it can no longer be extended, only requested anew")]
    Ended { ended: OffsetDateTime },
    #[error("the preservation it extends is not in force (not yet preserved, or closed)")]
    NotInForce,
}

impl ExtensionError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Ended { .. } => "preservation_already_ended",
            Self::NotInForce => "preservation_not_in_force",
        }
    }
}

/// The event at which an extension takes effect on the preservation it
/// extends. Under Regulation (EU) 2023/1543 art. 11(1) the issuing
/// authority itself "may ... extend the duration of the obligation to
/// preserve the data" with the Annex VI form: the addressee has nothing to
/// decide, so the extension runs once received (for ours, when sent). Under
/// the Budapest Convention (art. 29(7), and art. 16(2) for a domestic
/// order) a longer preservation is the requested Party's act: it runs once
/// that Party confirms it keeps the data.
pub fn extension_takes_effect_on(basis: Option<LegalBasis>) -> Trigger {
    if basis == Some(LegalBasis::EuRegulation2023_1543) {
        Trigger::Received
    } else {
        Trigger::PreservationConfirmed
    }
}

/// The preservation's new end once an extension takes effect at `at`: its
/// *current* end plus the period of its basis — Regulation (EU) 2023/1543
/// art. 11(1): "by an additional 30-day period", "during that 60-day
/// period"; Budapest art. 29(7) (a further period of at least sixty days);
/// art. 16(2) for a domestic order (90 days, renewable). Counting from the
/// current end, an early extension lengthens the preservation and never
/// shortens it. Refused once the preservation ended (its end passed with no
/// request for the data pending, or it lapsed) or when it is not in force.
pub fn extend(
    rules: &DeadlineRules,
    basis: Option<LegalBasis>,
    state: RequestState,
    current_end: Option<OffsetDateTime>,
    pending_decision: bool,
    at: OffsetDateTime,
) -> Result<Deadline, ExtensionError> {
    if state == RequestState::Expired {
        return Err(ExtensionError::Ended {
            ended: current_end.unwrap_or(at),
        });
    }
    if state.is_final() {
        return Err(ExtensionError::NotInForce);
    }
    let end = current_end.ok_or(ExtensionError::NotInForce)?;
    if end < at && !pending_decision {
        return Err(ExtensionError::Ended { ended: end });
    }
    let (days, source) = match basis {
        Some(LegalBasis::EuRegulation2023_1543) => (
            rules.eu_preservation_extension_days,
            "Regulation (EU) 2023/1543 art. 11(1)",
        ),
        Some(LegalBasis::Reciprocity) => (
            rules.domestic_preservation_days,
            "Budapest art. 16(2) (domestic order)",
        ),
        _ => (rules.preservation_days, "Budapest art. 29(7)"),
    };
    Ok(Deadline {
        due: end + Duration::days(days.max(0)),
        trigger: Trigger::Extended,
        started_at: at,
        source,
    })
}

// ------------------------------------------------- the enforcing authority

/// History names of the enforcing authority's records.
pub const NOTIFY_ENFORCING_AUTHORITY: &str = "notify_enforcing_authority";
pub const RECORD_OBJECTION: &str = "record_objection";

/// A European Production Order (EPOC) this node issues: the orders the
/// enforcing authority's notification (Regulation (EU) 2023/1543 art. 8)
/// and its objection (arts. 10(4), 12) concern.
pub fn is_european_production_order(
    kind: RequestKind,
    basis: Option<LegalBasis>,
    direction: Direction,
) -> bool {
    direction == Direction::Outgoing
        && basis == Some(LegalBasis::EuRegulation2023_1543)
        && matches!(
            kind,
            RequestKind::ProductionOrder
                | RequestKind::EmergencyDisclosure
                | RequestKind::SubscriberInformation
        )
}

/// An emergency case (art. 3, point (18)): the emergency disclosure.
pub fn is_emergency(kind: RequestKind) -> bool {
    kind == RequestKind::EmergencyDisclosure
}

/// Art. 8(1): the enforcing authority is notified of an order for traffic
/// data, "except for data requested for the sole purpose of identifying
/// the user", or for content data (unless art. 8(2): offence and person in
/// the issuing State, which the issuing authority judges).
pub fn notification_required(categories: &[DataCategory]) -> bool {
    categories
        .iter()
        .any(|c| matches!(c, DataCategory::Traffic | DataCategory::Content))
}

/// Art. 8(4): the notification suspends the addressee's obligations of
/// art. 10(2), "except in emergency cases".
pub fn notification_suspends(kind: RequestKind) -> bool {
    !is_emergency(kind)
}

/// The enforcing authority's window to object, from the notification's
/// receipt: in an emergency, "at the latest within 96 hours following
/// receipt of the notification" (art. 10(4), art. 12(1)); otherwise
/// "at the latest within 10 days following receipt of the notification"
/// (art. 12(1); the addressee waits as long, art. 10(2)). The notification
/// is taken as received when sent: it travels with the order (art. 8(1)).
pub fn objection_window(
    rules: &DeadlineRules,
    kind: RequestKind,
    notified_at: OffsetDateTime,
) -> Deadline {
    let (length, source) = if is_emergency(kind) {
        (
            Duration::hours(rules.enforcing_objection_hours.max(0)),
            "Regulation (EU) 2023/1543 art. 10(4)",
        )
    } else {
        (
            Duration::days(rules.enforcing_refusal_days.max(0)),
            "Regulation (EU) 2023/1543 art. 12(1)",
        )
    };
    Deadline {
        due: notified_at + length,
        trigger: Trigger::EnforcingAuthorityNotified,
        started_at: notified_at,
        source,
    }
}

/// An objection made after the window is recorded and marked late rather
/// than refused: the register keeps what the enforcing authority said and
/// when, and whether it binds is for the authorities to settle (art. 12(3)
/// has them talk first) — refusing it would leave the register silent
/// about a communication that happened.
pub fn objection_is_late(window: &Deadline, at: OffsetDateTime) -> bool {
    at > window.due
}

/// What the enforcing authority said, and what it means for the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectionEffect {
    /// It raises no ground for refusal (art. 10(2): it may confirm so before
    /// the end of the period, and the addressee then acts at once).
    None,
    /// It objects to the use of the data: the issuing authority deletes or
    /// otherwise restricts the use of data already transmitted (art. 10(4));
    /// for an order not yet executed, the addressee stops and the issuing
    /// authority withdraws it (art. 12(2)).
    DeleteOrRestrict,
    /// The data may only be used under the conditions it specifies, which
    /// the issuing authority complies with (art. 10(4), art. 12(4)).
    Conditions,
}

impl ObjectionEffect {
    pub const ALL: [ObjectionEffect; 3] = [Self::None, Self::DeleteOrRestrict, Self::Conditions];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::DeleteOrRestrict => "delete_or_restrict",
            Self::Conditions => "conditions",
        }
    }

    /// The provision that says what follows.
    pub fn source(self) -> &'static str {
        match self {
            Self::None => "Regulation (EU) 2023/1543 art. 10(2)",
            Self::DeleteOrRestrict => "Regulation (EU) 2023/1543 arts. 10(4), 12(2)",
            Self::Conditions => "Regulation (EU) 2023/1543 arts. 10(4), 12(4)",
        }
    }
}

impl fmt::Display for ObjectionEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ObjectionEffect {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str() == s.trim())
            .ok_or_else(|| {
                ParseError::new(
                    "invalid_objection_effect",
                    format!(
                        "'{}' is not an effect of an objection (none, delete_or_restrict, conditions)",
                        s.trim()
                    ),
                )
            })
    }
}

/// Why the enforcing authority's notification or objection cannot be
/// recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnforcingError {
    #[error("only a European Production Order this node issued under Regulation (EU) 2023/1543 is notified to the enforcing authority (art. 8)")]
    NotAnOrder,
    #[error("the order is notified to the enforcing authority when it is transmitted (art. 8(1)): mark it sent first")]
    NotSent,
    #[error("the enforcing authority was already notified")]
    AlreadyNotified,
    #[error("record the notification to the enforcing authority first: its objection answers it")]
    NotNotified,
    #[error("the enforcing authority's answer is already recorded")]
    AlreadyAnswered,
}

impl EnforcingError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAnOrder => "not_a_european_production_order",
            Self::NotSent => "order_not_sent",
            Self::AlreadyNotified => "already_notified",
            Self::NotNotified => "not_notified",
            Self::AlreadyAnswered => "objection_already_recorded",
        }
    }
}

/// Whether the notification may be recorded now.
pub fn may_notify(
    kind: RequestKind,
    basis: Option<LegalBasis>,
    direction: Direction,
    sent: bool,
    notified: bool,
) -> Result<(), EnforcingError> {
    if !is_european_production_order(kind, basis, direction) {
        return Err(EnforcingError::NotAnOrder);
    }
    if !sent {
        return Err(EnforcingError::NotSent);
    }
    if notified {
        return Err(EnforcingError::AlreadyNotified);
    }
    Ok(())
}

/// Whether the enforcing authority's answer may be recorded now.
pub fn may_record_objection(notified: bool, answered: bool) -> Result<(), EnforcingError> {
    if !notified {
        return Err(EnforcingError::NotNotified);
    }
    if answered {
        return Err(EnforcingError::AlreadyAnswered);
    }
    Ok(())
}

#[cfg(test)]
#[path = "clocks_tests.rs"]
mod tests;
