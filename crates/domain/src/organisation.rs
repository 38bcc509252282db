//! Organisations: one Entraide node is deployed per organisation.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{clean_text, ParseError};

/// The kinds of organisation that cooperate against cybercrime (BRIEF §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrganisationKind {
    /// Central authority for mutual legal assistance (Budapest art. 27(2)).
    CentralAuthority,
    /// 24/7 point of contact (Budapest art. 35).
    PointOfContact247,
    ProsecutionService,
    PoliceCyberUnit,
    Court,
    ForensicLaboratory,
    ServiceProvider,
    Cert,
    InternationalOrganisation,
    ReportingHotline,
}

impl OrganisationKind {
    pub const ALL: [OrganisationKind; 10] = [
        Self::CentralAuthority,
        Self::PointOfContact247,
        Self::ProsecutionService,
        Self::PoliceCyberUnit,
        Self::Court,
        Self::ForensicLaboratory,
        Self::ServiceProvider,
        Self::Cert,
        Self::InternationalOrganisation,
        Self::ReportingHotline,
    ];

    /// Whether the organisation may issue orders and requests for data:
    /// judicial, prosecution, police and central authorities (a service
    /// provider accepts requests only from these).
    pub fn is_authority(self) -> bool {
        matches!(
            self,
            Self::CentralAuthority
                | Self::PointOfContact247
                | Self::ProsecutionService
                | Self::PoliceCyberUnit
                | Self::Court
        )
    }

    /// The stable identifier used in configuration, the API and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CentralAuthority => "central-authority",
            Self::PointOfContact247 => "point-of-contact-24-7",
            Self::ProsecutionService => "prosecution-service",
            Self::PoliceCyberUnit => "police-cyber-unit",
            Self::Court => "court",
            Self::ForensicLaboratory => "forensic-laboratory",
            Self::ServiceProvider => "service-provider",
            Self::Cert => "cert",
            Self::InternationalOrganisation => "international-organisation",
            Self::ReportingHotline => "reporting-hotline",
        }
    }
}

impl fmt::Display for OrganisationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrganisationKind {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == wanted)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                ParseError::new(
                    "invalid_organisation_kind",
                    format!(
                        "'{}' is not an organisation kind (expected one of: {})",
                        s.trim(),
                        known.join(", ")
                    ),
                )
            })
    }
}

/// A node identifier: lower-case letters, digits and hyphens, 3 to 63
/// characters, starting with a letter (it appears in URLs and message ids).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeId(String);

impl NodeId {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let s = input.trim();
        let ok_len = (3..=63).contains(&s.len());
        let ok_start = s.starts_with(|c: char| c.is_ascii_lowercase());
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok_len && ok_start && ok_chars && !s.ends_with('-') {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new(
                "invalid_node_id",
                format!(
                    "'{s}' is not a node id: use 3 to 63 lower-case letters, digits and hyphens, starting with a letter"
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for NodeId {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<NodeId> for String {
    fn from(value: NodeId) -> Self {
        value.0
    }
}

/// The address a node is reached at by people and by other nodes: an
/// `http://` or `https://` URL with a host, and neither user name,
/// password, query nor fragment (its inbox and documents live below it, so
/// anything after the path would be lost or, worse, reinterpreted). At most
/// 2,000 characters; kept without a trailing slash. The same type checks
/// this node's `public_url` and the address a peer's document announces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeUrl(String);

impl NodeUrl {
    pub const MAX_LEN: usize = 2000;

    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let s = input.trim();
        let refuse = |why: &str| {
            let shown: String = s.chars().take(80).collect();
            ParseError::new(
                "invalid_url",
                format!("'{shown}' is not a node address: {why}"),
            )
        };
        if s.len() > Self::MAX_LEN {
            return Err(refuse("longer than 2,000 characters"));
        }
        let url = url::Url::parse(s).map_err(|e| refuse(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refuse("it must start with https:// (or http://)"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(refuse("it names no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse("it must not carry a user name or password"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(refuse("it must not carry a query or fragment"));
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for NodeUrl {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<NodeUrl> for String {
    fn from(value: NodeUrl) -> Self {
        value.0
    }
}

/// The official name of an organisation, 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrganisationName(String);

impl OrganisationName {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        clean_text(
            input,
            200,
            false,
            "organisation_name_required",
            "organisation_name_too_long",
            "organisation name",
        )
        .map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrganisationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for OrganisationName {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<OrganisationName> for String {
    fn from(value: OrganisationName) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_identifiers() {
        for kind in OrganisationKind::ALL {
            assert_eq!(kind.as_str().parse::<OrganisationKind>(), Ok(kind));
        }
        assert!("police".parse::<OrganisationKind>().is_err());
    }

    #[test]
    fn node_ids() {
        assert!(NodeId::parse("fr-ocs-247").is_ok());
        for bad in ["FR", "ab", "-abc", "abc-", "a b c", "1abc", "été-node"] {
            assert!(NodeId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn node_urls() {
        let ok = |s: &str| NodeUrl::parse(s).map(|u| u.to_string());
        assert_eq!(
            ok("https://pc247.example/"),
            Ok("https://pc247.example".into())
        );
        assert_eq!(
            ok(" http://127.0.0.1:8080 "),
            Ok("http://127.0.0.1:8080".into())
        );
        assert_eq!(
            ok("https://x.example/entraide/"),
            Ok("https://x.example/entraide".into())
        );
        for bad in [
            "",
            "pc247.example",
            "ftp://x.example",
            "file:///etc/passwd",
            "https://user:pw@x.example",
            "https://x.example/?a=1",
            "https://x.example/#top",
            "https://",
            "javascript:alert(1)",
        ] {
            assert_eq!(
                NodeUrl::parse(bad).map_err(|e| e.code),
                Err("invalid_url"),
                "{bad}"
            );
        }
        assert!(NodeUrl::parse(&format!("https://x.example/{}", "a".repeat(2000))).is_err());
    }

    #[test]
    fn organisation_names_are_trimmed_and_bounded() {
        assert_eq!(
            OrganisationName::parse("  OFAC  ").map(|n| n.to_string()),
            Ok("OFAC".into())
        );
        assert!(OrganisationName::parse("   ").is_err());
        assert!(OrganisationName::parse(&"x".repeat(201)).is_err());
    }
}
