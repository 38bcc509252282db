//! Electronic evidence and its chain of custody: what an evidence item is,
//! the custody events that can happen to it, who may touch its content, and
//! when it may be disposed of. No I/O: the blob store, the Merkle log and
//! the package format live in `entraide-evidence` and `entraide-custody-log`.

use time::{Date, OffsetDateTime};

use crate::user::{Role, RoleSet};
use crate::{clean_text, ParseError};

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, $code:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(ParseError::new(
                        $code,
                        format!("'{}' is not a known {}", other.chars().take(40).collect::<String>(), $what),
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum! {
    /// Where an evidence item comes from.
    EvidenceSource, "evidence source", "evidence_source_unknown" {
        /// Imaged or copied from a seized device.
        SeizedDevice = "seized_device",
        /// Produced by a service provider in answer to an order or request.
        ProviderProduction = "provider_production",
        /// Collected from open sources (public web pages, public ledgers).
        OpenSource = "open_source",
        /// Received from another node in an evidence package.
        ReceivedPackage = "received_package",
    }
}

named_enum! {
    /// What can happen to evidence; each occurrence is a custody event and a
    /// leaf of the node's custody log.
    CustodyEventKind, "custody event", "custody_event_unknown" {
        /// The evidence was acquired (seized, produced, collected), as the
        /// acquisition metadata says.
        Acquired = "acquired",
        /// The file entered the node's evidence store and was hashed.
        Ingested = "ingested",
        /// The content was opened for viewing.
        Accessed = "accessed",
        /// The content was downloaded.
        Downloaded = "downloaded",
        /// The item was written into an evidence package.
        Exported = "exported",
        /// The item was sent to another node.
        Sent = "sent",
        /// The item arrived in a package from another node.
        Received = "received",
        /// Its content was hashed again and matched.
        Verified = "verified",
        /// Its content or a package failed verification.
        VerificationFailed = "verification_failed",
        /// Sealed: nobody may read the content until it is released.
        Sealed = "sealed",
        /// Released from seal.
        Released = "released",
        /// Placed under legal hold: it may not be disposed of.
        LegalHoldPlaced = "legal_hold_placed",
        /// Legal hold lifted.
        LegalHoldLifted = "legal_hold_lifted",
        /// The retention period was set or changed.
        RetentionSet = "retention_set",
        /// The content was destroyed; its hash and metadata are kept.
        Disposed = "disposed",
    }
}

named_enum! {
    /// Where an item stands.
    EvidenceState, "evidence state", "evidence_state_unknown" {
        /// Held: case members with the right role may read it.
        Held = "held",
        /// Sealed: metadata visible, content refused until released.
        Sealed = "sealed",
        /// Destroyed: only its metadata, hashes and custody remain.
        Disposed = "disposed",
    }
}

named_enum! {
    /// The outcome of the last integrity check of the stored content.
    Integrity, "integrity status", "integrity_unknown" {
        /// The stored content hashes to the recorded SHA-256.
        Intact = "intact",
        /// The stored content is missing or no longer matches: never served.
        Corrupted = "corrupted",
    }
}

/// Roles that may add evidence and read its content (besides being a
/// member of the case).
pub const HANDLES_EVIDENCE: [Role; 2] = [Role::Custodian, Role::Officer];

/// Roles that manage custody: seal, release, legal hold, retention, disposal.
pub const KEEPS_EVIDENCE: [Role; 1] = [Role::Custodian];

/// Whether these roles may read evidence content (for a case member).
pub fn may_read_content(roles: RoleSet) -> bool {
    roles.intersects(RoleSet::of(&HANDLES_EVIDENCE))
}

/// Whether these roles may seal, release, hold or dispose of evidence.
pub fn may_keep(roles: RoleSet) -> bool {
    roles.intersects(RoleSet::of(&KEEPS_EVIDENCE))
}

/// Why the content of an item cannot be served now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContentRefusal {
    #[error("the item is sealed: release it before reading its content")]
    Sealed,
    #[error("the item was disposed of: only its hash and custody remain")]
    Disposed,
    #[error("the stored content failed its integrity check and is not served")]
    Corrupted,
}

impl ContentRefusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::Sealed => "evidence_sealed",
            Self::Disposed => "evidence_disposed",
            Self::Corrupted => "evidence_corrupted",
        }
    }
}

/// Whether the content of an item in this state may be served.
pub fn content_available(state: EvidenceState, integrity: Integrity) -> Result<(), ContentRefusal> {
    match (state, integrity) {
        (EvidenceState::Disposed, _) => Err(ContentRefusal::Disposed),
        (EvidenceState::Sealed, _) => Err(ContentRefusal::Sealed),
        (_, Integrity::Corrupted) => Err(ContentRefusal::Corrupted),
        (EvidenceState::Held, Integrity::Intact) => Ok(()),
    }
}

/// Why an item cannot be disposed of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DisposalRefusal {
    #[error("the item is under legal hold")]
    LegalHold,
    #[error("the retention period runs until {0}")]
    RetentionRunning(Date),
    #[error("the item was already disposed of")]
    AlreadyDisposed,
}

impl DisposalRefusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::LegalHold => "evidence_legal_hold",
            Self::RetentionRunning(_) => "evidence_retention_running",
            Self::AlreadyDisposed => "evidence_disposed",
        }
    }
}

/// Disposal is allowed once the retention date has passed (or when none is
/// set) and never under legal hold.
pub fn may_dispose(
    state: EvidenceState,
    legal_hold: bool,
    retention_until: Option<Date>,
    today: Date,
) -> Result<(), DisposalRefusal> {
    if state == EvidenceState::Disposed {
        return Err(DisposalRefusal::AlreadyDisposed);
    }
    if legal_hold {
        return Err(DisposalRefusal::LegalHold);
    }
    match retention_until {
        Some(until) if today <= until => Err(DisposalRefusal::RetentionRunning(until)),
        _ => Ok(()),
    }
}

/// Why a state change (seal, release) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {state} item cannot be {verb}")]
pub struct StateRefusal {
    pub state: EvidenceState,
    pub verb: &'static str,
}

/// Sealing needs a held item; releasing needs a sealed one.
pub fn seal(state: EvidenceState) -> Result<EvidenceState, StateRefusal> {
    match state {
        EvidenceState::Held => Ok(EvidenceState::Sealed),
        s => Err(StateRefusal {
            state: s,
            verb: "sealed",
        }),
    }
}

pub fn release(state: EvidenceState) -> Result<EvidenceState, StateRefusal> {
    match state {
        EvidenceState::Sealed => Ok(EvidenceState::Held),
        s => Err(StateRefusal {
            state: s,
            verb: "released",
        }),
    }
}

/// A description of an evidence item, 1 to 2,000 characters.
pub fn parse_description(input: &str) -> Result<String, ParseError> {
    clean_text(
        input,
        2000,
        true,
        "evidence_description_required",
        "evidence_description_too_long",
        "evidence description",
    )
}

/// An exhibit number (the label on the bag or in the seizure record),
/// 1 to 64 characters.
pub fn parse_exhibit_number(input: &str) -> Result<String, ParseError> {
    clean_text(
        input,
        64,
        false,
        "exhibit_number_required",
        "exhibit_number_too_long",
        "exhibit number",
    )
}

/// A short optional field (place, performer, authorisation): empty means
/// absent; at most 300 characters.
pub fn parse_optional(input: &str, what: &str) -> Result<Option<String>, ParseError> {
    if input.trim().is_empty() {
        return Ok(None);
    }
    clean_text(input, 300, false, "text_required", "text_too_long", what).map(Some)
}

/// The name of an evidence file as shown and exported: no directories, no
/// control characters, 1 to 255 characters.
pub fn parse_file_name(input: &str) -> Result<String, ParseError> {
    let name = clean_text(
        input,
        255,
        false,
        "file_name_required",
        "file_name_too_long",
        "file name",
    )?;
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(ParseError::new(
            "file_name_invalid",
            "a file name may not contain / or \\ nor be . or ..",
        ));
    }
    Ok(name)
}

/// An acquisition time may not lie in the future (a minute of clock skew
/// aside).
pub fn check_acquired_at(at: OffsetDateTime, now: OffsetDateTime) -> Result<(), ParseError> {
    if at > now + time::Duration::minutes(1) {
        return Err(ParseError::new(
            "acquired_in_future",
            "the acquisition time lies in the future",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn names_round_trip() {
        for k in CustodyEventKind::ALL {
            assert_eq!(k.as_str().parse::<CustodyEventKind>(), Ok(*k));
        }
        for s in EvidenceSource::ALL {
            assert_eq!(s.as_str().parse::<EvidenceSource>(), Ok(*s));
        }
        assert_eq!(
            "shredded".parse::<CustodyEventKind>().map_err(|e| e.code),
            Err("custody_event_unknown")
        );
    }

    #[test]
    fn content_needs_a_held_intact_item() {
        assert_eq!(
            content_available(EvidenceState::Held, Integrity::Intact),
            Ok(())
        );
        assert_eq!(
            content_available(EvidenceState::Sealed, Integrity::Intact),
            Err(ContentRefusal::Sealed)
        );
        assert_eq!(
            content_available(EvidenceState::Held, Integrity::Corrupted),
            Err(ContentRefusal::Corrupted)
        );
        assert_eq!(
            content_available(EvidenceState::Disposed, Integrity::Intact),
            Err(ContentRefusal::Disposed)
        );
    }

    #[test]
    fn disposal_waits_for_retention_and_hold() {
        let today = date!(2026 - 11 - 25);
        let held = EvidenceState::Held;
        assert_eq!(may_dispose(held, false, None, today), Ok(()));
        assert_eq!(
            may_dispose(held, true, None, today),
            Err(DisposalRefusal::LegalHold)
        );
        assert_eq!(
            may_dispose(held, false, Some(today), today),
            Err(DisposalRefusal::RetentionRunning(today))
        );
        assert_eq!(
            may_dispose(held, false, Some(date!(2026 - 11 - 24)), today),
            Ok(())
        );
        assert_eq!(
            may_dispose(EvidenceState::Disposed, false, None, today),
            Err(DisposalRefusal::AlreadyDisposed)
        );
    }

    #[test]
    fn seal_and_release_alternate() {
        assert_eq!(seal(EvidenceState::Held), Ok(EvidenceState::Sealed));
        assert!(seal(EvidenceState::Sealed).is_err());
        assert_eq!(release(EvidenceState::Sealed), Ok(EvidenceState::Held));
        assert!(release(EvidenceState::Held).is_err());
        assert!(seal(EvidenceState::Disposed).is_err());
    }

    #[test]
    fn roles_for_content() {
        assert!(may_read_content(RoleSet::of(&[Role::Custodian])));
        assert!(may_read_content(RoleSet::of(&[Role::Officer])));
        assert!(!may_read_content(RoleSet::of(&[
            Role::Approver,
            Role::Analyst,
            Role::Administrator
        ])));
        assert!(may_keep(RoleSet::of(&[Role::Custodian])));
        assert!(!may_keep(RoleSet::of(&[Role::Officer])));
    }

    #[test]
    fn text_fields() {
        assert_eq!(parse_file_name(" image.E01 "), Ok("image.E01".into()));
        assert!(parse_file_name("../etc/passwd").is_err());
        assert!(parse_file_name("a\\b").is_err());
        assert!(parse_file_name("").is_err());
        assert_eq!(parse_optional("  ", "place"), Ok(None));
        assert!(parse_exhibit_number(&"x".repeat(65)).is_err());
        assert!(parse_description("line one\nline two").is_ok());
        let now = datetime!(2026-11-25 12:00 UTC);
        assert!(check_acquired_at(datetime!(2026-11-25 12:00:30 UTC), now).is_ok());
        assert!(check_acquired_at(datetime!(2026-11-26 12:00 UTC), now).is_err());
    }
}
