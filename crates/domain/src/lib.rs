//! The pure domain core of Entraide: the vocabulary of international
//! cooperation against cybercrime (organisations, users and their roles,
//! cases, the audit trail) as types that can only hold valid values, and the
//! rules that decide who may do what. Nothing here performs I/O: storage,
//! HTTP and the command line are layers on top.

pub mod access;
pub mod audit;
pub mod case;
pub mod country;
pub mod evidence;
pub mod organisation;
pub mod request;
pub mod security;
pub mod user;

pub use access::{CaseAccess, Rule};
pub use audit::{AuditAction, AuditOutcome};
pub use case::{CaseReference, CaseStatus, CaseSummary, CaseTitle};
pub use country::CountryCode;
pub use organisation::{NodeId, NodeUrl, OrganisationKind, OrganisationName};
pub use security::{LockoutPolicy, SessionPolicy};
pub use user::{DisplayName, Email, Locale, NewPassword, Role, RoleSet};

/// Why a value given at the edge (form, JSON, command line, configuration)
/// was refused. `code` is stable and machine-readable (it is what the UI
/// translates); `message` is an English explanation for logs and the CLI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub code: &'static str,
    pub message: String,
}

impl ParseError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Trims and checks a free-text field: required, at most `max` characters,
/// no control characters except new lines and tabs when `multiline`.
pub(crate) fn clean_text(
    input: &str,
    max: usize,
    multiline: bool,
    code_empty: &'static str,
    code_long: &'static str,
    what: &str,
) -> Result<String, ParseError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(ParseError::new(code_empty, format!("{what} is required")));
    }
    if trimmed.chars().count() > max {
        return Err(ParseError::new(
            code_long,
            format!("{what} is longer than {max} characters"),
        ));
    }
    let bad = trimmed
        .chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r' || c == '\t')));
    if bad {
        return Err(ParseError::new(
            "control_characters",
            format!("{what} contains control characters"),
        ));
    }
    Ok(trimmed.to_owned())
}
