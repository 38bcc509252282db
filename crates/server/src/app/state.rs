//! What every handler can reach.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use entraide_store::Store;

use crate::app::config::Settings;
use crate::app::i18n::I18n;
use crate::app::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub i18n: Arc<I18n>,
    pub metrics: Arc<Metrics>,
    pub sign_in_throttle: Arc<Throttle>,
    /// Coalesces `token.used` audit entries: one per token per window.
    pub token_use: Arc<Coalescer>,
    /// Coalesces session `last_seen` writes.
    pub session_touch: Arc<Coalescer>,
    /// Checked against when a sign-in names an unknown e-mail.
    pub decoy_hash: Arc<String>,
    pub secure_cookies: bool,
    /// The node's keys (signing and encryption), for federation.
    pub identity: Arc<entraide_federation::NodeIdentity>,
    /// Wakes the outbox worker when a message is queued.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Wakes the mail worker when a mail is queued (`app::mail`).
    pub mail_wake: Arc<tokio::sync::Notify>,
    /// Password reset requests accepted per client address and hour.
    pub reset_throttle: Arc<Throttle>,
    /// Attachments being received: each one's opened manifest and the
    /// running SHA-256 of the bytes written so far.
    pub incoming_attachments: Arc<crate::app::transfers::Incoming>,
    /// Refused requests from other nodes, summarised for the audit log.
    pub refusals: Arc<crate::app::refusals::Refusals>,
    /// Requests from other nodes whose bodies are being read, per address.
    pub body_reads: Arc<crate::app::body_reads::BodyReads>,
    /// What the features do with the messages peers send (the transport
    /// knows no feature): `crate::inbound::Features`.
    pub inbound: Arc<dyn crate::app::inbound::InboundMessages<AppState>>,
    /// The HTTP client for other nodes (node documents, deliveries): one
    /// per node, so connections to a peer are kept alive and reused.
    pub federation_client: reqwest::Client,
    /// The address the node listens on, once bound (`http://127.0.0.1:8080`).
    pub bound: Arc<std::sync::OnceLock<String>>,
    /// Signing key, evidence blobs and the custody log.
    pub custody: Arc<crate::app::custody::Custody>,
    /// The knowledge repository's search index and reference tables.
    pub knowledge: Arc<crate::app::knowledge_index::Knowledge>,
}

/// A fixed-window counter per client address.
pub struct Throttle {
    limit: u32,
    window: Duration,
    hits: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Throttle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt; `Err(seconds to wait)` when over the limit.
    pub fn hit(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(mut hits) = self.hits.lock() else {
            return Ok(());
        };
        if hits.len() > 100_000 {
            hits.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = hits.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > self.limit {
            let wait = self.window.saturating_sub(now.duration_since(entry.0));
            Err(wait.as_secs().max(1))
        } else {
            Ok(())
        }
    }
}

/// Says "yes" at most once per window for a given key.
pub struct Coalescer {
    window: Duration,
    last: Mutex<HashMap<String, Instant>>,
}

impl Coalescer {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            last: Mutex::new(HashMap::new()),
        }
    }

    pub fn due(&self, key: &str) -> bool {
        let now = Instant::now();
        let Ok(mut last) = self.last.lock() else {
            return true;
        };
        match last.get(key) {
            Some(t) if now.duration_since(*t) < self.window => false,
            _ => {
                if last.len() > 100_000 {
                    last.clear();
                }
                last.insert(key.to_owned(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_counts_per_key() {
        let t = Throttle::new(2, Duration::from_secs(60));
        assert!(t.hit("a").is_ok());
        assert!(t.hit("a").is_ok());
        assert!(t.hit("a").is_err());
        assert!(t.hit("b").is_ok());
    }

    #[test]
    fn coalescer_says_yes_once_per_window() {
        let c = Coalescer::new(Duration::from_secs(60));
        assert!(c.due("a"));
        assert!(!c.due("a"));
        assert!(c.due("b"));
    }
}
