//! Cases: the unit of need-to-know. Everything a case holds (requests,
//! evidence, notes) is readable only by its members.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{clean_text, ParseError};

/// The national case or file number, as the investigating authority writes
/// it (e.g. "PNC-2026-0042", "2026/113/CYB"): 1 to 64 letters, digits and
/// `- / . _`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CaseReference(String);

impl CaseReference {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(ParseError::new(
                "case_reference_required",
                "the case reference is required",
            ));
        }
        let ok = s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '.' | '_'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new(
                "invalid_case_reference",
                format!("'{s}' is not a case reference: use up to 64 letters, digits and - / . _"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CaseReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CaseReference {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CaseReference> for String {
    fn from(value: CaseReference) -> Self {
        value.0
    }
}

/// A short title for a case, 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CaseTitle(String);

impl CaseTitle {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        clean_text(
            input,
            200,
            false,
            "case_title_required",
            "case_title_too_long",
            "case title",
        )
        .map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CaseTitle {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CaseTitle> for String {
    fn from(value: CaseTitle) -> Self {
        value.0
    }
}

/// The summary of facts of a case (case content), up to 10,000 characters.
/// May be empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(try_from = "String", into = "String")]
pub struct CaseSummary(String);

impl CaseSummary {
    pub const MAX_CHARS: usize = 10_000;

    pub fn parse(input: &str) -> Result<Self, ParseError> {
        if input.trim().is_empty() {
            return Ok(Self::default());
        }
        clean_text(
            input,
            Self::MAX_CHARS,
            true,
            "case_summary_required",
            "case_summary_too_long",
            "case summary",
        )
        .map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CaseSummary {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CaseSummary> for String {
    fn from(value: CaseSummary) -> Self {
        value.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Open,
    Closed,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

impl FromStr for CaseStatus {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(Self::Open),
            "closed" => Ok(Self::Closed),
            other => Err(ParseError::new(
                "invalid_case_status",
                format!("'{other}' is not a case status"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert!(CaseReference::parse("2026/113/CYB").is_ok());
        assert!(CaseReference::parse("PNC-2026-0042").is_ok());
        for bad in ["", "a b", "x;drop", &"1".repeat(65)] {
            assert!(CaseReference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn summaries_keep_lines_and_refuse_other_control_characters() {
        assert!(CaseSummary::parse("line one\nline two").is_ok());
        assert!(CaseSummary::parse("bell\u{7}").is_err());
        assert_eq!(
            CaseSummary::parse("   ").map(|s| s.as_str().to_owned()),
            Ok(String::new())
        );
    }
}
