//! Refused requests from other nodes, summarised for the audit log. A
//! stranger can send thousands of refusals a second; one audit row each
//! would let anyone fill the disk. So the first refusal of a client
//! address for a reason is written at once (a single forged request shows
//! up immediately), the rest of the interval only counted, and written as
//! one row with the count, the first and last times and a sample of what
//! was sent. The number of (address, reason) pairs kept is bounded: past
//! it, refusals fold into one "other" address per reason.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use entraide_domain::{AuditAction, AuditOutcome};
use entraide_store::{NewAuditEntry, Store, StoreResult};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::app::audit::{Actor, AuditEntryExt};

/// Distinct (address, reason) pairs counted in one interval; past this,
/// refusals count under the address "other".
pub const MAX_PAIRS: usize = 1024;
/// What a stranger sent is kept bounded: a key id or a detail of any
/// length would otherwise be stored as given.
const KEYID_CHARS: usize = 128;
const DETAIL_CHARS: usize = 2000;

/// One refused request, as the transport (or the token check) saw it.
pub struct Refusal<'a> {
    /// What is refused: a message from another node, or a bearer token.
    pub action: AuditAction,
    /// The client address (none when the node serves without one).
    pub address: Option<IpAddr>,
    /// The refusal's stable code (`unknown_sender`, `request_replayed`...).
    pub code: &'static str,
    /// The key id the request named, as sent ("unknown" when none).
    pub keyid: &'a str,
    pub detail: &'a str,
}

struct Tally {
    /// Refusals counted since the last row written for the pair.
    pending: u64,
    first: Option<OffsetDateTime>,
    last: OffsetDateTime,
    keyid: String,
    detail: String,
}

struct Window {
    started: Instant,
    pairs: HashMap<(String, AuditAction, &'static str), Tally>,
}

/// The refusals of the current interval.
pub struct Refusals {
    window: Mutex<Window>,
}

impl Default for Refusals {
    fn default() -> Self {
        Self {
            window: Mutex::new(Window {
                started: Instant::now(),
                pairs: HashMap::new(),
            }),
        }
    }
}

fn bounded(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The address refusals are counted under: an IPv6 client by its /64 (one
/// host holds a whole /64), an IPv4 one as itself.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(s.into())
            }
        },
    }
}

impl Refusals {
    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a refusal. Returns the audit entries to write now: this
    /// refusal itself when it is the first of its address and reason in
    /// the interval, and — when the interval is over — the summaries of
    /// everything counted in it, the interval starting again.
    pub fn note(&self, r: &Refusal<'_>, interval: Duration) -> Vec<NewAuditEntry> {
        let now = OffsetDateTime::now_utc();
        let mut w = self.lock();
        let mut out = if w.started.elapsed() >= interval {
            close(&mut w)
        } else {
            Vec::new()
        };
        let address = r
            .address
            .map(|a| address_key(a).to_string())
            .unwrap_or_else(|| "unknown".into());
        let mut key = (address, r.action, r.code);
        if !w.pairs.contains_key(&key) && w.pairs.len() >= MAX_PAIRS {
            key.0 = "other".into();
        }
        match w.pairs.get_mut(&key) {
            Some(t) => {
                t.pending += 1;
                t.first.get_or_insert(now);
                t.last = now;
            }
            None => {
                let t = Tally {
                    pending: 0,
                    first: None,
                    last: now,
                    keyid: bounded(r.keyid, KEYID_CHARS),
                    detail: bounded(r.detail, DETAIL_CHARS),
                };
                out.push(entry(&key.0, key.1, key.2, &t, 1, now, false));
                w.pairs.insert(key, t);
            }
        }
        out
    }

    /// The summaries to write: when the interval is over (or at once with
    /// `force`), one per address and reason counted since its first row,
    /// the interval starting again.
    pub fn due(&self, interval: Duration, force: bool) -> Vec<NewAuditEntry> {
        let mut w = self.lock();
        if force || w.started.elapsed() >= interval {
            close(&mut w)
        } else {
            Vec::new()
        }
    }

    /// Writes the summaries due (see `due`); how many.
    pub async fn flush(
        &self,
        store: &dyn Store,
        interval: Duration,
        force: bool,
    ) -> StoreResult<usize> {
        let entries = self.due(interval, force);
        for e in &entries {
            store.append_audit(e).await?;
        }
        Ok(entries.len())
    }
}

/// Ends the interval: the summaries of what was counted in it.
fn close(w: &mut Window) -> Vec<NewAuditEntry> {
    w.started = Instant::now();
    let pairs = std::mem::take(&mut w.pairs);
    pairs
        .into_iter()
        .filter_map(|((address, action, code), t)| {
            let first = t.first?;
            (t.pending > 0).then(|| entry(&address, action, code, &t, t.pending, first, true))
        })
        .collect()
}

/// The audit row of `count` refusals of `code` from `address`, from
/// `first` to the tally's last.
fn entry(
    address: &str,
    action: AuditAction,
    code: &str,
    t: &Tally,
    count: u64,
    first: OffsetDateTime,
    summary: bool,
) -> NewAuditEntry {
    let when = |at: OffsetDateTime| at.format(&Rfc3339).unwrap_or_default();
    let last = if summary { t.last } else { first };
    let client_ip = address.parse::<IpAddr>().ok().map(|a| a.to_string());
    Actor::anonymous(client_ip, None)
        .entry(action, AuditOutcome::Denied)
        .target(t.keyid.clone())
        .detail(serde_json::json!({
            "code": code,
            "detail": t.detail,
            "address": address,
            "count": count,
            "first": when(first),
            "last": when(last),
            "summary": summary,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(address: &str, code: &'static str) -> Refusal<'static> {
        Refusal {
            action: AuditAction::MessageRefused,
            address: address.parse().ok(),
            code,
            keyid: "xx-unknown",
            detail: "not a peer",
        }
    }

    fn count(e: &NewAuditEntry) -> u64 {
        let d: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
        d["count"].as_u64().unwrap_or(0)
    }

    #[test]
    fn the_first_refusal_is_written_at_once_and_the_rest_summed() {
        let r = Refusals::default();
        let hour = Duration::from_secs(3600);
        let first = r.note(&refusal("192.0.2.1", "unknown_sender"), hour);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].client_ip.as_deref(), Some("192.0.2.1"));
        assert_eq!(first[0].target.as_deref(), Some("xx-unknown"));
        for _ in 0..49 {
            assert!(r
                .note(&refusal("192.0.2.1", "unknown_sender"), hour)
                .is_empty());
        }
        // Another reason or address is another pair, written at once.
        assert_eq!(
            r.note(&refusal("192.0.2.1", "request_unsigned"), hour)
                .len(),
            1
        );
        assert_eq!(
            r.note(&refusal("192.0.2.2", "unknown_sender"), hour).len(),
            1
        );
        assert!(r.due(hour, false).is_empty(), "the interval is not over");
        let summaries = r.due(hour, true);
        assert_eq!(
            summaries.len(),
            1,
            "only the pair counted since its first row"
        );
        assert_eq!(count(&summaries[0]), 49);
        // A new interval: the next refusal is written at once again.
        assert_eq!(
            r.note(&refusal("192.0.2.1", "unknown_sender"), hour).len(),
            1
        );
    }

    #[test]
    fn past_the_bound_addresses_fold_into_other() {
        let r = Refusals::default();
        let hour = Duration::from_secs(3600);
        for i in 0..MAX_PAIRS {
            let a = format!("10.0.{}.{}", i / 256, i % 256);
            assert_eq!(r.note(&refusal(&a, "unknown_sender"), hour).len(), 1);
        }
        let folded = r.note(&refusal("10.9.9.9", "unknown_sender"), hour);
        assert_eq!(folded.len(), 1);
        assert_eq!(folded[0].client_ip, None);
        assert!(folded[0].detail.contains("\"address\":\"other\""));
        for n in 0..100 {
            let a = format!("10.8.0.{n}");
            assert!(r.note(&refusal(&a, "unknown_sender"), hour).is_empty());
        }
        assert_eq!(r.lock().pairs.len(), MAX_PAIRS + 1);
        let summaries = r.due(hour, true);
        assert_eq!(summaries.iter().map(count).sum::<u64>(), 100);
    }

    #[test]
    fn an_ipv6_client_counts_by_its_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped).to_string(), "192.0.2.7");
    }
}
