//! Users of a node, their roles and credentials policy.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{clean_text, ParseError};

/// An e-mail address used as a sign-in name. Normalised to lower case; only
/// the shape is checked (one `@`, a dotted domain, sane lengths).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let s = input.trim().to_lowercase();
        let invalid =
            || ParseError::new("invalid_email", format!("'{s}' is not an e-mail address"));
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = s.split_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && label.len() <= 63 && !label.starts_with('-'))
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        if local.is_empty()
            || local.len() > 64
            || !domain_ok
            || local.contains(['<', '>', '"', ','])
        {
            return Err(invalid());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

/// The name shown for a user, 1 to 120 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        clean_text(
            input,
            120,
            false,
            "display_name_required",
            "display_name_too_long",
            "display name",
        )
        .map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DisplayName {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DisplayName> for String {
    fn from(value: DisplayName) -> Self {
        value.0
    }
}

/// A password chosen by a person: at least 12 and at most 256 characters.
/// Never displayed, logged or serialised.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 256;

    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let n = input.chars().count();
        if n < Self::MIN_CHARS {
            return Err(ParseError::new(
                "password_too_short",
                format!(
                    "the password must have at least {} characters",
                    Self::MIN_CHARS
                ),
            ));
        }
        if n > Self::MAX_CHARS {
            return Err(ParseError::new(
                "password_too_long",
                format!(
                    "the password must have at most {} characters",
                    Self::MAX_CHARS
                ),
            ));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

/// What a user may do on a node. A user may hold several roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages users, the organisation and case membership.
    Administrator,
    /// Drafts and handles cooperation requests.
    Officer,
    /// Prosecutor or judge who validates and signs requests.
    Approver,
    /// Keeps electronic evidence and its chain of custody.
    Custodian,
    /// Works on statistics and the knowledge repository.
    Analyst,
    /// Reads the audit log, nothing else.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Self::Administrator,
        Self::Officer,
        Self::Approver,
        Self::Custodian,
        Self::Analyst,
        Self::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Administrator => "administrator",
            Self::Officer => "officer",
            Self::Approver => "approver",
            Self::Custodian => "custodian",
            Self::Analyst => "analyst",
            Self::Auditor => "auditor",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|r| r.as_str() == wanted).ok_or_else(|| {
            ParseError::new(
                "invalid_role",
                format!(
                    "'{}' is not a role (expected administrator, officer, approver, custodian, analyst or auditor)",
                    s.trim()
                ),
            )
        })
    }
}

/// A set of roles. Stored as a comma-separated list of role names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "Vec<Role>", into = "Vec<Role>")]
pub struct RoleSet(u8);

impl RoleSet {
    pub const EMPTY: RoleSet = RoleSet(0);

    pub(crate) const fn from_bits(bits: u8) -> RoleSet {
        RoleSet(bits & 0b0011_1111)
    }

    pub fn of(roles: &[Role]) -> Self {
        roles.iter().fold(Self::EMPTY, |set, r| set.with(*r))
    }

    pub fn with(self, role: Role) -> Self {
        Self(self.0 | role.bit())
    }

    pub fn without(self, role: Role) -> Self {
        Self(self.0 & !role.bit())
    }

    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    pub fn intersects(self, other: RoleSet) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// Parses "officer,approver" (spaces tolerated, duplicates merged).
    pub fn parse_list(input: &str) -> Result<Self, ParseError> {
        input
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .try_fold(Self::EMPTY, |set, name| Ok(set.with(name.parse()?)))
    }

    pub fn to_list(self) -> String {
        self.iter().map(Role::as_str).collect::<Vec<_>>().join(",")
    }
}

impl fmt::Debug for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl TryFrom<Vec<Role>> for RoleSet {
    type Error = ParseError;
    fn try_from(value: Vec<Role>) -> Result<Self, Self::Error> {
        Ok(Self::of(&value))
    }
}

impl From<RoleSet> for Vec<Role> {
    fn from(value: RoleSet) -> Self {
        value.iter().collect()
    }
}

/// The interface languages of Entraide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    En,
    Fr,
    Es,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::En, Locale::Fr, Locale::Es];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
            Self::Es => "es",
        }
    }

    /// Accepts "fr", "FR", "fr-BE", "es_AR"...
    pub fn parse(input: &str) -> Option<Self> {
        let primary = input
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        Self::ALL.into_iter().find(|l| l.as_str() == primary)
    }

    /// Picks the best supported language from an `Accept-Language` header,
    /// honouring quality values; `None` when nothing matches.
    pub fn negotiate(accept_language: &str) -> Option<Self> {
        let mut best: Option<(f32, usize, Locale)> = None;
        for (position, item) in accept_language.split(',').enumerate() {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if quality <= 0.0 {
                continue;
            }
            if let Some(locale) = Self::parse(tag) {
                let better = match best {
                    None => true,
                    Some((q, p, _)) => quality > q || (quality == q && position < p),
                };
                if better {
                    best = Some((quality, position, locale));
                }
            }
        }
        best.map(|(_, _, l)| l)
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse(" Officer@Police.Example.FR ").map(|e| e.to_string()),
            Ok("officer@police.example.fr".into())
        );
    }

    #[test]
    fn bad_emails_are_refused() {
        for bad in [
            "", "plain", "a@b", "a@@b.fr", "a b@c.fr", "@c.fr", "a@.fr", "a@-x.fr", "<a>@b.fr",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_have_bounds_and_never_print() {
        assert!(NewPassword::parse("short").is_err());
        let p = NewPassword::parse("correct horse battery").map(|p| format!("{p:?}"));
        assert_eq!(p, Ok("NewPassword(<redacted>)".into()));
    }

    #[test]
    fn role_lists_parse() {
        let set = RoleSet::parse_list("officer, approver,officer");
        assert_eq!(set, Ok(RoleSet::of(&[Role::Officer, Role::Approver])));
        assert_eq!(set.map(|s| s.to_list()), Ok("officer,approver".into()));
        assert!(RoleSet::parse_list("officer,king").is_err());
    }

    #[test]
    fn accept_language_negotiation() {
        assert_eq!(
            Locale::negotiate("fr-FR,fr;q=0.9,en;q=0.8"),
            Some(Locale::Fr)
        );
        assert_eq!(
            Locale::negotiate("de-DE,es;q=0.5,en;q=0.7"),
            Some(Locale::En)
        );
        assert_eq!(Locale::negotiate("es-AR"), Some(Locale::Es));
        assert_eq!(Locale::negotiate("de, it"), None);
        assert_eq!(Locale::negotiate("fr;q=0, es"), Some(Locale::Es));
    }

    proptest! {
        #[test]
        fn role_sets_round_trip(bits in 0u8..64) {
            let set = RoleSet(bits);
            prop_assert_eq!(RoleSet::parse_list(&set.to_list()), Ok(set));
        }

        #[test]
        fn email_parse_never_panics(s in ".{0,300}") {
            let _ = Email::parse(&s);
        }
    }
}
