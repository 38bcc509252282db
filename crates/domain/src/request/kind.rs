//! The kinds of cooperation request, with the treaty article each comes from.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ParseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// Expedited preservation of stored computer data — Budapest art. 29.
    ExpeditedPreservation,
    /// Extension of a preservation already in place — art. 29(7), art. 16(2).
    PreservationExtension,
    /// Expedited disclosure of preserved traffic data — art. 30.
    TrafficDataDisclosure,
    /// Subscriber information — art. 18(3); CETS 224 art. 7 for orders sent
    /// directly to a provider in another Party.
    SubscriberInformation,
    /// Production of traffic or content data — art. 18(1); EU 2023/1543 (EPOC).
    ProductionOrder,
    /// Emergency disclosure — CETS 224 arts. 9-10; EU 2023/1543 art. 10(4).
    EmergencyDisclosure,
    /// Mutual assistance regarding accessing of stored data — art. 31.
    MlaStoredData,
    /// Mutual assistance in the real-time collection of traffic data — art. 33.
    MlaRealTimeTraffic,
    /// Mutual assistance regarding the interception of content data — art. 34.
    MlaInterception,
    /// Police-to-police information request (no coercive measure).
    PoliceInformation,
}

impl RequestKind {
    pub const ALL: [RequestKind; 10] = [
        Self::ExpeditedPreservation,
        Self::PreservationExtension,
        Self::TrafficDataDisclosure,
        Self::SubscriberInformation,
        Self::ProductionOrder,
        Self::EmergencyDisclosure,
        Self::MlaStoredData,
        Self::MlaRealTimeTraffic,
        Self::MlaInterception,
        Self::PoliceInformation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExpeditedPreservation => "expedited_preservation",
            Self::PreservationExtension => "preservation_extension",
            Self::TrafficDataDisclosure => "traffic_data_disclosure",
            Self::SubscriberInformation => "subscriber_information",
            Self::ProductionOrder => "production_order",
            Self::EmergencyDisclosure => "emergency_disclosure",
            Self::MlaStoredData => "mla_stored_data",
            Self::MlaRealTimeTraffic => "mla_real_time_traffic",
            Self::MlaInterception => "mla_interception",
            Self::PoliceInformation => "police_information",
        }
    }

    /// The provision the request type rests on, for documents and checks.
    pub fn article(self) -> &'static str {
        match self {
            Self::ExpeditedPreservation => "Budapest Convention art. 29",
            Self::PreservationExtension => "Budapest Convention art. 29(7)",
            Self::TrafficDataDisclosure => "Budapest Convention art. 30",
            Self::SubscriberInformation => "Budapest Convention art. 18(3); CETS 224 art. 7",
            Self::ProductionOrder => "Budapest Convention art. 18(1); Regulation (EU) 2023/1543",
            Self::EmergencyDisclosure => {
                "CETS 224 arts. 9-10; Regulation (EU) 2023/1543 art. 10(4)"
            }
            Self::MlaStoredData => "Budapest Convention art. 31",
            Self::MlaRealTimeTraffic => "Budapest Convention art. 33",
            Self::MlaInterception => "Budapest Convention art. 34",
            Self::PoliceInformation => "police cooperation",
        }
    }

    pub fn is_preservation(self) -> bool {
        matches!(
            self,
            Self::ExpeditedPreservation | Self::PreservationExtension
        )
    }

    /// Dual criminality may not be required for preservation (art. 29(3)).
    pub fn dual_criminality_may_be_required(self) -> bool {
        !self.is_preservation() && self != Self::PoliceInformation
    }

    /// A request for the preserved data themselves: what Budapest art.
    /// 29(7) calls "a request for the search or similar access, seizure or
    /// similar securing, or disclosure of the data" (an MLA request, art.
    /// 31), and what Regulation (EU) 2023/1543 art. 11(1)-(2) calls "a
    /// subsequent request for production". While one that follows a
    /// preservation awaits its decision, the preservation stays in force.
    /// Expedited disclosure of traffic data (art. 30) is part of executing
    /// the preservation, not such a request.
    pub fn requests_production(self) -> bool {
        matches!(
            self,
            Self::MlaStoredData
                | Self::ProductionOrder
                | Self::SubscriberInformation
                | Self::EmergencyDisclosure
        )
    }

    /// Whether a request of this kind may follow an earlier one of kind
    /// `earlier` in the same case: an extension follows the preservation
    /// it extends (art. 29(7); EU 2023/1543 art. 11(1)); the disclosure of
    /// traffic data (art. 30) and the requests for the data follow the
    /// preservations that keep those data.
    pub fn may_follow(self, earlier: RequestKind) -> bool {
        match self {
            Self::PreservationExtension => earlier == Self::ExpeditedPreservation,
            Self::TrafficDataDisclosure => earlier.is_preservation(),
            k if k.requests_production() => earlier.is_preservation(),
            _ => false,
        }
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RequestKind {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                ParseError::new(
                    "invalid_request_kind",
                    format!("'{}' is not a request type", s.trim()),
                )
            })
    }
}

/// The instrument a request relies on; decides deadlines and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    /// Convention on Cybercrime (ETS 185).
    BudapestConvention,
    /// Second Additional Protocol (CETS 224).
    SecondAdditionalProtocol,
    /// Regulation (EU) 2023/1543 (European production and preservation orders).
    #[serde(rename = "eu_regulation_2023_1543")]
    EuRegulation2023_1543,
    /// United Nations Convention against Cybercrime.
    UnConvention,
    BilateralTreaty,
    /// Reciprocity or domestic law of the requested State.
    Reciprocity,
}

impl LegalBasis {
    pub const ALL: [LegalBasis; 6] = [
        Self::BudapestConvention,
        Self::SecondAdditionalProtocol,
        Self::EuRegulation2023_1543,
        Self::UnConvention,
        Self::BilateralTreaty,
        Self::Reciprocity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BudapestConvention => "budapest_convention",
            Self::SecondAdditionalProtocol => "second_additional_protocol",
            Self::EuRegulation2023_1543 => "eu_regulation_2023_1543",
            Self::UnConvention => "un_convention",
            Self::BilateralTreaty => "bilateral_treaty",
            Self::Reciprocity => "reciprocity",
        }
    }
}

impl FromStr for LegalBasis {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                ParseError::new(
                    "invalid_legal_basis",
                    format!("'{}' is not a legal basis", s.trim()),
                )
            })
    }
}

/// Categories of data (Budapest art. 1(d), 18(3); EU 2023/1543 art. 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataCategory {
    Subscriber,
    /// Requested only to identify the user: IP address, source port, time.
    IdentificationOnly,
    Traffic,
    Content,
}

impl DataCategory {
    pub const ALL: [DataCategory; 4] = [
        Self::Subscriber,
        Self::IdentificationOnly,
        Self::Traffic,
        Self::Content,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscriber => "subscriber",
            Self::IdentificationOnly => "identification_only",
            Self::Traffic => "traffic",
            Self::Content => "content",
        }
    }
}

impl FromStr for DataCategory {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                ParseError::new(
                    "invalid_data_category",
                    format!(
                        "'{}' is not a category of data (subscriber, identification_only, traffic, content)",
                        s.trim()
                    ),
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Drafted here and sent to another authority or a provider.
    Outgoing,
    /// Received from another authority.
    Incoming,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outgoing => "outgoing",
            Self::Incoming => "incoming",
        }
    }
}

impl FromStr for Direction {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "outgoing" => Ok(Self::Outgoing),
            "incoming" => Ok(Self::Incoming),
            o => Err(ParseError::new(
                "invalid_direction",
                format!("'{o}' is not outgoing or incoming"),
            )),
        }
    }
}
