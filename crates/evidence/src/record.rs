//! What goes into the custody log and what the node signs about it.
//!
//! A custody event is recorded as a [`CustodyRecord`] serialised to JSON
//! once, at the moment it happens; those exact bytes are the Merkle leaf
//! (`SHA-256(0x00 || bytes)`), are stored, and travel in packages, so a
//! verifier never has to re-serialise anything. A [`SignedTreeHead`] binds
//! the log's size and root to a time with the node's Ed25519 signature over
//! [`SignedTreeHead::message`].

use std::collections::BTreeMap;

use entraide_custody_log::{leaf_hash, Hash};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::signing::{NodeKey, PublicKey};

/// The content of one custody-log leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodyRecord {
    /// Format version of the record (1).
    pub v: u8,
    /// The event's identifier.
    pub event: Uuid,
    /// The node that recorded it.
    pub node: String,
    /// The case reference.
    pub case: String,
    /// The evidence item, if the event concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Uuid>,
    /// The item's SHA-256, if the event concerns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// What happened (`ingested`, `downloaded`...).
    pub kind: String,
    /// When, RFC 3339 in UTC.
    pub at: String,
    /// Who: an e-mail address, or `node-operator` for the command line.
    pub actor: String,
    /// Their name as the node knows it.
    pub actor_name: String,
    /// Anything else worth keeping (exhibit number, package id, reason).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

impl CustodyRecord {
    /// The leaf bytes: compact JSON in field order, maps sorted by key.
    pub fn to_leaf(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(self.to_leaf().as_bytes())
    }

    /// Parses leaf bytes back (for display; verification hashes the bytes).
    pub fn from_leaf(leaf: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(leaf)
    }
}

/// A signed statement: "my custody log had `tree_size` leaves and this
/// root at this time".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTreeHead {
    /// The node whose log it is.
    pub node: String,
    pub tree_size: u64,
    pub root_hash: Hash,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The node's Ed25519 public key (hexadecimal).
    pub public_key: String,
    /// Ed25519 signature of [`SignedTreeHead::message`] (hexadecimal).
    pub signature: String,
}

impl SignedTreeHead {
    /// The signed bytes: a fixed text, one field per line.
    pub fn message(node: &str, tree_size: u64, root_hash: &Hash, timestamp_ms: i64) -> Vec<u8> {
        format!("entraide-custody-tree-head-v1\n{node}\n{tree_size}\n{root_hash}\n{timestamp_ms}\n")
            .into_bytes()
    }

    pub fn sign(
        key: &NodeKey,
        node: &str,
        tree_size: u64,
        root_hash: Hash,
        timestamp_ms: i64,
    ) -> Self {
        let signature = key.sign(&Self::message(node, tree_size, &root_hash, timestamp_ms));
        Self {
            node: node.to_owned(),
            tree_size,
            root_hash,
            timestamp_ms,
            public_key: key.public_key().to_hex(),
            signature,
        }
    }

    /// Whether the signature holds for the key the head names.
    pub fn verify(&self) -> bool {
        PublicKey::parse(&self.public_key).is_some_and(|k| {
            k.verify(
                &Self::message(
                    &self.node,
                    self.tree_size,
                    &self.root_hash,
                    self.timestamp_ms,
                ),
                &self.signature,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> CustodyRecord {
        CustodyRecord {
            v: 1,
            event: Uuid::nil(),
            node: "fr-pharos".into(),
            case: "FR-2026-0001".into(),
            item: None,
            sha256: None,
            kind: "ingested".into(),
            at: "2026-11-25T10:00:00.000Z".into(),
            actor: "a@example.org".into(),
            actor_name: "A".into(),
            details: BTreeMap::from([("z".into(), "1".into()), ("a".into(), "2".into())]),
        }
    }

    #[test]
    fn leaf_bytes_are_stable_and_parse_back() {
        let r = record();
        let leaf = r.to_leaf();
        assert!(leaf.starts_with("{\"v\":1,\"event\":"));
        assert!(leaf.contains("\"details\":{\"a\":\"2\",\"z\":\"1\"}"));
        assert_eq!(CustodyRecord::from_leaf(&leaf).unwrap(), r);
        assert_eq!(r.leaf_hash(), leaf_hash(leaf.as_bytes()));
    }

    #[test]
    fn tree_heads_verify_and_detect_changes() {
        let key = NodeKey::from_seed([1u8; 32]);
        let root = leaf_hash(b"x");
        let head = SignedTreeHead::sign(&key, "fr-pharos", 10, root, 1_700_000_000_000);
        assert!(head.verify());
        let mut bigger = head.clone();
        bigger.tree_size = 11;
        assert!(!bigger.verify());
        let mut other_key = head.clone();
        other_key.public_key = NodeKey::from_seed([2u8; 32]).public_key().to_hex();
        assert!(!other_key.verify());
    }
}
