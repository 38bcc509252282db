//! Time-based security policies: session lifetimes and the lockout that
//! follows repeated failed sign-ins. Pure functions of the clock value
//! they are given.

use time::{Duration, OffsetDateTime};

/// Server-side sessions expire after a period of inactivity and, in any
/// case, after an absolute lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        }
    }
}

impl SessionPolicy {
    pub fn is_alive(
        &self,
        created: OffsetDateTime,
        last_seen: OffsetDateTime,
        now: OffsetDateTime,
    ) -> bool {
        now < created + self.absolute
            && now < last_seen + self.idle
            && now >= created - Duration::minutes(5)
    }
}

/// After `max_failures` consecutive failed sign-ins, the account is locked
/// for `lock_for`; a successful sign-in resets the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub lock_for: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            lock_for: Duration::minutes(15),
        }
    }
}

/// What to record after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureOutcome {
    pub failures: u32,
    pub locked_until: Option<OffsetDateTime>,
}

impl LockoutPolicy {
    pub fn is_locked(&self, locked_until: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
        locked_until.is_some_and(|until| now < until)
    }

    /// `previous_failures` counts failures since the last success (or since
    /// the last lock expired).
    pub fn after_failure(&self, previous_failures: u32, now: OffsetDateTime) -> FailureOutcome {
        let failures = previous_failures.saturating_add(1);
        if failures >= self.max_failures {
            FailureOutcome {
                failures: 0,
                locked_until: Some(now + self.lock_for),
            }
        } else {
            FailureOutcome {
                failures,
                locked_until: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    #[test]
    fn sessions_expire_when_idle_or_old() {
        let p = SessionPolicy::default();
        let t0 = datetime!(2026-11-25 10:00 UTC);
        assert!(p.is_alive(t0, t0, t0 + Duration::minutes(29)));
        assert!(!p.is_alive(t0, t0, t0 + Duration::minutes(31)));
        let later = t0 + Duration::hours(11);
        assert!(p.is_alive(t0, later, later + Duration::minutes(10)));
        assert!(!p.is_alive(t0, t0 + Duration::hours(12), t0 + Duration::hours(12)));
    }

    #[test]
    fn the_fifth_failure_locks() {
        let p = LockoutPolicy::default();
        let now = datetime!(2026-11-25 10:00 UTC);
        let mut failures = 0;
        for _ in 0..4 {
            let o = p.after_failure(failures, now);
            assert_eq!(o.locked_until, None);
            failures = o.failures;
        }
        let o = p.after_failure(failures, now);
        assert_eq!(o.locked_until, Some(now + Duration::minutes(15)));
        assert!(p.is_locked(o.locked_until, now + Duration::minutes(14)));
        assert!(!p.is_locked(o.locked_until, now + Duration::minutes(15)));
    }

    proptest! {
        #[test]
        fn a_lock_never_ends_before_it_starts(prev in 0u32..100, secs in 0i64..4_000_000_000) {
            let now = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let o = LockoutPolicy::default().after_failure(prev, now);
            if let Some(until) = o.locked_until { prop_assert!(until > now); }
        }
    }
}
