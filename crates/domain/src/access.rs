//! Who may do what. Every route of the node names exactly one [`Rule`];
//! case content is further guarded by [`CaseAccess`] (need to know).

use crate::user::{Role, RoleSet};

/// The authorisation rule attached to a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Anyone, signed in or not (sign-in page, health checks, static files).
    Public,
    /// Any signed-in user, whatever their roles.
    SignedIn,
    /// A signed-in user holding at least one of these roles.
    AnyRole(RoleSet),
}

impl Rule {
    pub const fn any_of(roles: &[Role]) -> Rule {
        let mut bits = 0u8;
        let mut i = 0;
        while i < roles.len() {
            bits |= 1 << (roles[i] as u8);
            i += 1;
        }
        Rule::AnyRole(RoleSet::from_bits(bits))
    }

    /// Whether a caller passes this rule. `roles` is `None` for an
    /// anonymous caller.
    pub fn admits(self, roles: Option<RoleSet>) -> bool {
        match (self, roles) {
            (Rule::Public, _) => true,
            (_, None) => false,
            (Rule::SignedIn, Some(_)) => true,
            (Rule::AnyRole(needed), Some(held)) => held.intersects(needed),
        }
    }
}

/// What a user may do with one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseAccess {
    /// A member: reads and works on the case content.
    Member,
    /// An administrator who is not a member: sees the case's reference and
    /// title and manages membership, but not the content. Adding themself
    /// as a member is possible and audited.
    Manager,
    /// Neither: the case does not exist for this user.
    None,
}

impl CaseAccess {
    pub fn decide(roles: RoleSet, is_member: bool) -> CaseAccess {
        if is_member {
            CaseAccess::Member
        } else if roles.contains(Role::Administrator) {
            CaseAccess::Manager
        } else {
            CaseAccess::None
        }
    }

    pub fn reads_content(self) -> bool {
        self == CaseAccess::Member
    }

    /// Members holding an operational role, and administrators, may add or
    /// remove members.
    pub fn manages_members(self, roles: RoleSet) -> bool {
        match self {
            CaseAccess::Manager => true,
            CaseAccess::Member => roles.intersects(RoleSet::of(&[
                Role::Administrator,
                Role::Officer,
                Role::Approver,
            ])),
            CaseAccess::None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_admit_the_right_callers() {
        let officer = Some(RoleSet::of(&[Role::Officer]));
        let auditor = Some(RoleSet::of(&[Role::Auditor]));
        assert!(Rule::Public.admits(None));
        assert!(!Rule::SignedIn.admits(None));
        assert!(Rule::SignedIn.admits(auditor));
        let rule = Rule::any_of(&[Role::Officer, Role::Approver]);
        assert!(rule.admits(officer));
        assert!(!rule.admits(auditor));
        assert!(!rule.admits(Some(RoleSet::EMPTY)));
    }

    #[test]
    fn need_to_know() {
        let admin = RoleSet::of(&[Role::Administrator]);
        let officer = RoleSet::of(&[Role::Officer]);
        let auditor = RoleSet::of(&[Role::Auditor]);
        assert_eq!(CaseAccess::decide(admin, false), CaseAccess::Manager);
        assert!(!CaseAccess::decide(admin, false).reads_content());
        assert!(CaseAccess::decide(admin, true).reads_content());
        assert_eq!(CaseAccess::decide(officer, false), CaseAccess::None);
        assert!(CaseAccess::decide(officer, true).manages_members(officer));
        assert!(!CaseAccess::decide(auditor, true).manages_members(auditor));
    }
}
