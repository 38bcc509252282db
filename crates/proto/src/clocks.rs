//! The wire types of the law's clocks: requests following others, and the
//! enforcing authority of a European Production Order (Regulation (EU)
//! 2023/1543 arts. 8, 10(4), 12).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DeadlineView;

/// Another request of the case this one follows, or that follows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RelatedRequestView {
    pub id: Uuid,
    pub reference: String,
    #[schema(value_type = crate::schema::RequestKindName)]
    pub kind: String,
    #[schema(value_type = crate::schema::RequestStateName)]
    pub state: String,
    /// For a request following a preservation: it was sent or received and
    /// awaits its decision, which keeps the preservation in force (Budapest
    /// art. 29(7)).
    pub pending_decision: bool,
}

/// The notification of a European Production Order to the enforcing
/// authority (art. 8), once recorded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyEnforcingAuthority {
    /// When it was notified, if not now: RFC 3339 with its offset. Not in
    /// the future, not before the order was approved.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurred_at: Option<String>,
    /// A note kept in the request's history.
    #[serde(default)]
    pub note: Option<String>,
}

/// What the enforcing authority answered (arts. 10(2), 10(4), 12).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordObjection {
    /// `none`: it raises no ground (art. 10(2)); `delete_or_restrict`: it
    /// objects to the use of the data, which are deleted or their use
    /// restricted (art. 10(4); art. 12(2)); `conditions`: the data may be
    /// used only under the conditions it set (art. 10(4), art. 12(4)).
    #[schema(value_type = crate::schema::ObjectionEffectName)]
    pub effect: String,
    /// The conditions, required for `conditions` (at most 2,000 characters).
    #[serde(default)]
    pub conditions: Option<String>,
    /// When it answered, if not now: RFC 3339 with its offset. Not in the
    /// future, not before the notification. An answer after the window is
    /// recorded and marked `late`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurred_at: Option<String>,
    /// A note kept in the request's history.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ObjectionView {
    #[schema(value_type = crate::schema::ObjectionEffectName)]
    pub effect: String,
    /// The provision that says what follows.
    pub source: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: OffsetDateTime,
    pub conditions: Option<String>,
    /// Made after the window closed.
    pub late: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnforcingAuthorityView {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub notified_at: OffsetDateTime,
    /// Its window to object: 96 hours in an emergency (art. 10(4)), 10 days
    /// otherwise (art. 12(1)), from the notification.
    pub objection_window: DeadlineView,
    /// Whether the notification suspends the addressee's obligations (art.
    /// 8(4): not in an emergency).
    pub suspensive: bool,
    pub objection: Option<ObjectionView>,
}
