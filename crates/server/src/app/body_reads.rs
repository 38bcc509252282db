//! Requests from other nodes whose bodies are being read, per client
//! address. A body is up to megabytes in memory until it is checked;
//! bounding how many one address has at once bounds what a single client
//! can make the node hold. The bodies of refused requests drained (read
//! and discarded, so that the refusal reaches the client) are counted
//! apart, with the same bound: they hold no memory, but a connection and
//! a task each.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::app::refusals::address_key;

/// Whether a body is read (kept in memory) or drained (discarded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    Read,
    Drain,
}

type Key = (Purpose, Option<IpAddr>);

/// Bodies read at once, per client address (`None`: served without one).
#[derive(Default)]
pub struct BodyReads {
    held: Mutex<HashMap<Key, u32>>,
}

/// One body being read; the place is given back when it is dropped.
pub struct BodyRead {
    reads: Arc<BodyReads>,
    key: Key,
}

impl BodyReads {
    fn map(&self) -> MutexGuard<'_, HashMap<Key, u32>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for one more body from `address`, unless it already has
    /// `limit` for this purpose.
    pub fn try_start(
        self: &Arc<Self>,
        purpose: Purpose,
        address: Option<IpAddr>,
        limit: u32,
    ) -> Option<BodyRead> {
        let key = (purpose, address.map(address_key));
        let mut held = self.map();
        let n = held.entry(key).or_insert(0);
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(BodyRead {
            reads: self.clone(),
            key,
        })
    }

    /// How many bodies from `address` are held now for this purpose.
    pub fn held(&self, purpose: Purpose, address: Option<IpAddr>) -> u32 {
        let key = (purpose, address.map(address_key));
        self.map().get(&key).copied().unwrap_or(0)
    }
}

impl Drop for BodyRead {
    fn drop(&mut self) {
        let mut held = self.reads.map();
        if let Some(n) = held.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            // Addresses with nothing in flight are not kept: the map holds
            // no more entries than there are bodies being read.
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_places() {
        use Purpose::{Drain, Read};
        let reads = Arc::new(BodyReads::default());
        let a = Some("192.0.2.1".parse().unwrap());
        let b = Some("192.0.2.2".parse().unwrap());
        let first = reads.try_start(Read, a, 2);
        let second = reads.try_start(Read, a, 2);
        assert!(first.is_some() && second.is_some());
        assert!(reads.try_start(Read, a, 2).is_none());
        assert!(reads.try_start(Read, b, 2).is_some());
        // Drains are counted apart.
        assert!(reads.try_start(Drain, a, 2).is_some());
        assert_eq!(reads.held(Read, a), 2);
        drop(first);
        assert_eq!(reads.held(Read, a), 1);
        assert!(reads.try_start(Read, a, 2).is_some());
        drop(second);
        assert_eq!(reads.held(Read, a), 0);
        assert!(reads.map().is_empty());
    }
}
