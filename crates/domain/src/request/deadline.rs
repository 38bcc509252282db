//! Deadlines, per kind of request and legal basis. Each rule names its
//! source; every figure is configurable per counterpart or arrangement
//! through `DeadlineRules`.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::kind::{LegalBasis, RequestKind};

/// What starts the clock: the event a deadline runs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The requested side confirmed the data are preserved.
    PreservationConfirmed,
    /// The request (or order) was received by the other side.
    Received,
    /// An extension of the preservation took effect (see
    /// `clocks::extend`): the end moved from the end it had.
    Extended,
    /// The issuing authority notified the enforcing authority of a
    /// European Production Order (Regulation (EU) 2023/1543 art. 8): the
    /// window in which that authority may object (arts. 10(4), 12(1)).
    EnforcingAuthorityNotified,
}

impl Trigger {
    pub const ALL: [Trigger; 4] = [
        Self::PreservationConfirmed,
        Self::Received,
        Self::Extended,
        Self::EnforcingAuthorityNotified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreservationConfirmed => "preservation_confirmed",
            Self::Received => "received",
            Self::Extended => "extended",
            Self::EnforcingAuthorityNotified => "enforcing_authority_notified",
        }
    }
}

impl std::str::FromStr for Trigger {
    type Err = crate::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                crate::ParseError::new(
                    "invalid_trigger",
                    format!("'{s}' is not an event that starts a deadline"),
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlineRules {
    /// Budapest art. 29(7): preservation lasts at least 60 days.
    pub preservation_days: i64,
    /// Domestic preservation orders (art. 16(2)): up to 90 days, renewable.
    pub domestic_preservation_days: i64,
    /// Regulation (EU) 2023/1543 art. 11(1): 60 days, extendable by 30.
    pub eu_preservation_days: i64,
    pub eu_preservation_extension_days: i64,
    /// Regulation (EU) 2023/1543 art. 10(2): 10 days for a production order.
    pub eu_production_days: i64,
    /// Regulation (EU) 2023/1543 art. 10(4): 8 hours in an emergency.
    pub emergency_hours: i64,
    /// CETS 224 art. 7(6): a provider answers an order within 30 days (to be
    /// verified against the treaty text, which is not in our corpus).
    pub cets224_provider_days: i64,
    /// Reminder lead: a deadline is "due soon" this long before it falls.
    pub due_soon_hours: i64,
    /// Regulation (EU) 2023/1543 art. 10(4), art. 12(1): in an emergency,
    /// the enforcing authority may object within 96 hours following receipt
    /// of the notification.
    pub enforcing_objection_hours: i64,
    /// Regulation (EU) 2023/1543 art. 12(1) (and art. 10(2)): otherwise it
    /// may raise grounds for refusal within 10 days following receipt of the
    /// notification.
    pub enforcing_refusal_days: i64,
}

impl Default for DeadlineRules {
    fn default() -> Self {
        Self {
            preservation_days: 60,
            domestic_preservation_days: 90,
            eu_preservation_days: 60,
            eu_preservation_extension_days: 30,
            eu_production_days: 10,
            emergency_hours: 8,
            cets224_provider_days: 30,
            due_soon_hours: 7 * 24,
            enforcing_objection_hours: 96,
            enforcing_refusal_days: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    #[serde(with = "time::serde::rfc3339")]
    pub due: OffsetDateTime,
    /// The event that started it...
    pub trigger: Trigger,
    /// ...and when that event really happened (not when it was recorded).
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// The provision the duration comes from.
    pub source: &'static str,
}

impl Deadline {
    pub fn is_due_soon(&self, now: OffsetDateTime, rules: &DeadlineRules) -> bool {
        rules.is_due_soon(self.due, now)
    }

    pub fn is_past(&self, now: OffsetDateTime) -> bool {
        now >= self.due
    }
}

impl DeadlineRules {
    /// Whether a deadline `due` falls within the reminder lead from `now`.
    pub fn is_due_soon(&self, due: OffsetDateTime, now: OffsetDateTime) -> bool {
        now < due && due - now <= Duration::hours(self.due_soon_hours)
    }

    /// Which event starts the clock for this kind, if any deadline applies.
    /// A preservation under Regulation (EU) 2023/1543 runs from receipt of
    /// the EPOC-PR (art. 11(1): "Upon receipt ... The obligation to preserve
    /// the data shall cease after 60 days"); under the Budapest Convention,
    /// from when the preservation is effected (art. 29(7): "Any preservation
    /// effected ... shall be for a period not less than sixty days"). An
    /// extension linked to the preservation it extends moves that one's end
    /// instead (`clocks::extend`); this is the clock of one that is not.
    pub fn trigger(&self, kind: RequestKind, basis: Option<LegalBasis>) -> Option<Trigger> {
        match kind {
            RequestKind::ExpeditedPreservation | RequestKind::PreservationExtension
                if basis == Some(LegalBasis::EuRegulation2023_1543) =>
            {
                Some(Trigger::Received)
            }
            RequestKind::ExpeditedPreservation | RequestKind::PreservationExtension => {
                Some(Trigger::PreservationConfirmed)
            }
            RequestKind::EmergencyDisclosure => Some(Trigger::Received),
            RequestKind::ProductionOrder if basis == Some(LegalBasis::EuRegulation2023_1543) => {
                Some(Trigger::Received)
            }
            RequestKind::SubscriberInformation
                if matches!(
                    basis,
                    Some(LegalBasis::SecondAdditionalProtocol | LegalBasis::EuRegulation2023_1543)
                ) =>
            {
                Some(Trigger::Received)
            }
            _ => None,
        }
    }

    /// The deadline once `trigger` happened at `at`. Never before `at`.
    pub fn deadline(
        &self,
        kind: RequestKind,
        basis: Option<LegalBasis>,
        trigger: Trigger,
        at: OffsetDateTime,
    ) -> Option<Deadline> {
        if self.trigger(kind, basis) != Some(trigger) {
            return None;
        }
        let (length, source) = match (kind, basis) {
            (
                RequestKind::ExpeditedPreservation | RequestKind::PreservationExtension,
                Some(LegalBasis::EuRegulation2023_1543),
            ) => {
                let days = if kind == RequestKind::PreservationExtension {
                    self.eu_preservation_extension_days
                } else {
                    self.eu_preservation_days
                };
                (Duration::days(days), "Regulation (EU) 2023/1543 art. 11(1)")
            }
            (
                RequestKind::ExpeditedPreservation | RequestKind::PreservationExtension,
                Some(LegalBasis::Reciprocity),
            ) => (
                Duration::days(self.domestic_preservation_days),
                "Budapest art. 16(2) (domestic order)",
            ),
            (RequestKind::ExpeditedPreservation | RequestKind::PreservationExtension, _) => (
                Duration::days(self.preservation_days),
                "Budapest art. 29(7)",
            ),
            (RequestKind::EmergencyDisclosure, _) => (
                Duration::hours(self.emergency_hours),
                "Regulation (EU) 2023/1543 art. 10(4)",
            ),
            (RequestKind::ProductionOrder, _) => (
                Duration::days(self.eu_production_days),
                "Regulation (EU) 2023/1543 art. 10(2)",
            ),
            (RequestKind::SubscriberInformation, Some(LegalBasis::EuRegulation2023_1543)) => (
                Duration::days(self.eu_production_days),
                "Regulation (EU) 2023/1543 art. 10(2)",
            ),
            (RequestKind::SubscriberInformation, _) => (
                Duration::days(self.cets224_provider_days),
                "CETS 224 art. 7(6)",
            ),
            _ => return None,
        };
        let length = if length.is_negative() {
            Duration::ZERO
        } else {
            length
        };
        Some(Deadline {
            due: at + length,
            trigger,
            started_at: at,
            source,
        })
    }
}
