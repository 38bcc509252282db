//! The audit trail: who did what, when, from where. Actions have stable
//! identifiers: auditors filter on them and exports keep them.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    #[serde(rename = "auth.sign_in")]
    SignIn,
    #[serde(rename = "auth.sign_in_failed")]
    SignInFailed,
    #[serde(rename = "auth.locked_out")]
    LockedOut,
    #[serde(rename = "auth.second_factor_failed")]
    SecondFactorFailed,
    #[serde(rename = "auth.sign_out")]
    SignOut,
    #[serde(rename = "auth.totp_enrolled")]
    TotpEnrolled,
    #[serde(rename = "auth.denied")]
    AccessDenied,
    #[serde(rename = "token.created")]
    TokenCreated,
    #[serde(rename = "token.revoked")]
    TokenRevoked,
    #[serde(rename = "token.used")]
    TokenUsed,
    #[serde(rename = "token.refused")]
    TokenRefused,
    #[serde(rename = "user.created")]
    UserCreated,
    #[serde(rename = "user.roles_changed")]
    UserRolesChanged,
    #[serde(rename = "user.disabled")]
    UserDisabled,
    #[serde(rename = "user.enabled")]
    UserEnabled,
    #[serde(rename = "user.preferences_changed")]
    UserPreferencesChanged,
    #[serde(rename = "user.password_changed")]
    PasswordChanged,
    /// An administrator reset a user's password (a change is then required).
    #[serde(rename = "user.password_reset")]
    PasswordReset,
    /// An administrator removed a user's second factor (to enrol again).
    #[serde(rename = "user.second_factor_reset")]
    SecondFactorReset,
    /// Someone asked for a password reset link by e-mail.
    #[serde(rename = "auth.password_reset_requested")]
    PasswordResetRequested,
    /// A password was set with a reset link sent by e-mail.
    #[serde(rename = "auth.password_reset_by_link")]
    PasswordResetByLink,
    #[serde(rename = "organisation.settings_changed")]
    OrganisationSettingsChanged,
    #[serde(rename = "case.created")]
    CaseCreated,
    #[serde(rename = "case.read")]
    CaseRead,
    #[serde(rename = "case.member_added")]
    CaseMemberAdded,
    #[serde(rename = "case.member_removed")]
    CaseMemberRemoved,
    #[serde(rename = "request.created")]
    RequestCreated,
    #[serde(rename = "request.updated")]
    RequestUpdated,
    #[serde(rename = "request.transition")]
    RequestTransition,
    #[serde(rename = "request.read")]
    RequestRead,
    #[serde(rename = "evidence.added")]
    EvidenceAdded,
    #[serde(rename = "evidence.read")]
    EvidenceRead,
    #[serde(rename = "evidence.downloaded")]
    EvidenceDownloaded,
    #[serde(rename = "evidence.custody_changed")]
    EvidenceCustodyChanged,
    #[serde(rename = "evidence.disposed")]
    EvidenceDisposed,
    #[serde(rename = "evidence.exported")]
    EvidenceExported,
    #[serde(rename = "evidence.package_received")]
    EvidencePackageReceived,
    #[serde(rename = "evidence.package_refused")]
    EvidencePackageRefused,
    #[serde(rename = "evidence.scrubbed")]
    EvidenceScrubbed,
    #[serde(rename = "knowledge.imported")]
    KnowledgeImported,
    #[serde(rename = "peer.added")]
    PeerAdded,
    #[serde(rename = "peer.status_changed")]
    PeerStatusChanged,
    #[serde(rename = "peer.removed")]
    PeerRemoved,
    #[serde(rename = "federation.sent")]
    MessageSent,
    #[serde(rename = "federation.received")]
    MessageReceived,
    #[serde(rename = "federation.refused")]
    MessageRefused,
    #[serde(rename = "federation.not_delivered")]
    MessageNotDelivered,
    #[serde(rename = "federation.retrieved")]
    MessageRetrieved,
    #[serde(rename = "peer.key_changed")]
    PeerKeyChanged,
    /// A peer's document read again (`entraide peer refresh`): its address
    /// or keys may have changed.
    #[serde(rename = "peer.refreshed")]
    PeerRefreshed,
    #[serde(rename = "audit.read")]
    AuditRead,
    #[serde(rename = "audit.exported")]
    AuditExported,
}

impl AuditAction {
    pub const ALL: [AuditAction; 52] = [
        Self::SignIn,
        Self::SignInFailed,
        Self::LockedOut,
        Self::SecondFactorFailed,
        Self::SignOut,
        Self::TotpEnrolled,
        Self::AccessDenied,
        Self::TokenCreated,
        Self::TokenRevoked,
        Self::TokenUsed,
        Self::TokenRefused,
        Self::UserCreated,
        Self::UserRolesChanged,
        Self::UserDisabled,
        Self::UserEnabled,
        Self::UserPreferencesChanged,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::SecondFactorReset,
        Self::PasswordResetRequested,
        Self::PasswordResetByLink,
        Self::OrganisationSettingsChanged,
        Self::CaseCreated,
        Self::CaseRead,
        Self::CaseMemberAdded,
        Self::CaseMemberRemoved,
        Self::RequestCreated,
        Self::RequestUpdated,
        Self::RequestTransition,
        Self::RequestRead,
        Self::EvidenceAdded,
        Self::EvidenceRead,
        Self::EvidenceDownloaded,
        Self::EvidenceCustodyChanged,
        Self::EvidenceDisposed,
        Self::EvidenceExported,
        Self::EvidencePackageReceived,
        Self::EvidencePackageRefused,
        Self::EvidenceScrubbed,
        Self::KnowledgeImported,
        Self::PeerAdded,
        Self::PeerStatusChanged,
        Self::PeerRemoved,
        Self::MessageSent,
        Self::MessageReceived,
        Self::MessageRefused,
        Self::MessageNotDelivered,
        Self::MessageRetrieved,
        Self::PeerKeyChanged,
        Self::PeerRefreshed,
        Self::AuditRead,
        Self::AuditExported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "auth.sign_in",
            Self::SignInFailed => "auth.sign_in_failed",
            Self::LockedOut => "auth.locked_out",
            Self::SecondFactorFailed => "auth.second_factor_failed",
            Self::SignOut => "auth.sign_out",
            Self::TotpEnrolled => "auth.totp_enrolled",
            Self::AccessDenied => "auth.denied",
            Self::TokenCreated => "token.created",
            Self::TokenRevoked => "token.revoked",
            Self::TokenUsed => "token.used",
            Self::TokenRefused => "token.refused",
            Self::UserCreated => "user.created",
            Self::UserRolesChanged => "user.roles_changed",
            Self::UserDisabled => "user.disabled",
            Self::UserEnabled => "user.enabled",
            Self::UserPreferencesChanged => "user.preferences_changed",
            Self::PasswordChanged => "user.password_changed",
            Self::PasswordReset => "user.password_reset",
            Self::SecondFactorReset => "user.second_factor_reset",
            Self::PasswordResetRequested => "auth.password_reset_requested",
            Self::PasswordResetByLink => "auth.password_reset_by_link",
            Self::OrganisationSettingsChanged => "organisation.settings_changed",
            Self::CaseCreated => "case.created",
            Self::CaseRead => "case.read",
            Self::CaseMemberAdded => "case.member_added",
            Self::CaseMemberRemoved => "case.member_removed",
            Self::RequestCreated => "request.created",
            Self::RequestUpdated => "request.updated",
            Self::RequestTransition => "request.transition",
            Self::RequestRead => "request.read",
            Self::EvidenceAdded => "evidence.added",
            Self::EvidenceRead => "evidence.read",
            Self::EvidenceDownloaded => "evidence.downloaded",
            Self::EvidenceCustodyChanged => "evidence.custody_changed",
            Self::EvidenceDisposed => "evidence.disposed",
            Self::EvidenceExported => "evidence.exported",
            Self::EvidencePackageReceived => "evidence.package_received",
            Self::EvidencePackageRefused => "evidence.package_refused",
            Self::EvidenceScrubbed => "evidence.scrubbed",
            Self::KnowledgeImported => "knowledge.imported",
            Self::PeerAdded => "peer.added",
            Self::PeerStatusChanged => "peer.status_changed",
            Self::PeerRemoved => "peer.removed",
            Self::MessageSent => "federation.sent",
            Self::MessageReceived => "federation.received",
            Self::MessageRefused => "federation.refused",
            Self::MessageNotDelivered => "federation.not_delivered",
            Self::MessageRetrieved => "federation.retrieved",
            Self::PeerKeyChanged => "peer.key_changed",
            Self::PeerRefreshed => "peer.refreshed",
            Self::AuditRead => "audit.read",
            Self::AuditExported => "audit.exported",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Success,
    Denied,
    Failure,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Success, Self::Denied, Self::Failure]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_unique_and_round_trip() {
        let mut names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AuditAction::ALL.len());
    }
}
