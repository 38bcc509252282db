//! The node document: what a node says about itself, signed with its
//! Ed25519 key. It travels as `{"document": "<JSON text>", "signature":
//! "<hex>"}` so that the signed bytes are exactly the bytes received; the
//! signature is checked with the signing key listed inside the document,
//! and that key's fingerprint against the one given out of band.

use entraide_evidence::signing::normalise_fingerprint;
use entraide_evidence::{NodeKey, PublicKey};
use serde::{Deserialize, Serialize};

use crate::identity::{fingerprint_of_hex, NodeIdentity};

/// Where a node serves its document.
pub const WELL_KNOWN_PATH: &str = "/.well-known/entraide/node";

/// The largest document accepted from a peer.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyUse {
    Signing,
    Encryption,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    #[serde(rename = "use")]
    pub key_use: KeyUse,
    /// `Ed25519` or `X25519-HKDF-SHA256` (HPKE, RFC 9180).
    pub algorithm: String,
    /// Hexadecimal.
    pub public_key: String,
    pub fingerprint: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339; absent while the key has no planned end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDocument {
    /// Format version (1).
    pub v: u8,
    pub node_id: String,
    pub organisation: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// The organisation kind (`point-of-contact-24-7`, `service-provider`...).
    pub kind: String,
    /// Where the node is reached (its inbox and documents live below).
    pub base_url: String,
    pub keys: Vec<KeyEntry>,
    /// Languages requests may be written in (ISO 639-1).
    pub languages: Vec<String>,
    /// Request kinds the node accepts.
    pub request_types: Vec<String>,
    pub office_hours: String,
    /// IANA time zone.
    pub time_zone: String,
    /// RFC 3339.
    pub issued_at: String,
}

/// A document with its signature, as served and as stored by peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedNodeDocument {
    /// The document's JSON text, exactly as signed.
    pub document: String,
    /// Ed25519 signature of `document`, hexadecimal.
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the node document is not valid: {0}")]
    Malformed(String),
    #[error("the node document lists no Ed25519 signing key")]
    NoSigningKey,
    #[error("the node document's signature does not match its signing key")]
    BadSignature,
    #[error("the node's signing key has fingerprint {actual}, not the {expected} given: refused")]
    FingerprintMismatch { actual: String, expected: String },
}

impl DocumentError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "node_document_malformed",
            Self::NoSigningKey => "node_document_no_key",
            Self::BadSignature => "node_document_bad_signature",
            Self::FingerprintMismatch { .. } => "fingerprint_mismatch",
        }
    }
}

impl NodeDocument {
    /// The document's key entries for this node's identity at `now`. During
    /// a rotation the previous signing key comes first (it signs until the
    /// end of the overlap), then the new one, valid from that end.
    pub fn keys_of(
        identity: &NodeIdentity,
        since: &str,
        now: time::OffsetDateTime,
    ) -> Vec<KeyEntry> {
        let signing = identity.signing_public();
        let encryption = identity.encryption_public_hex();
        let fmt = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        let mut keys = Vec::new();
        let mut current_from = since.to_owned();
        if let Some((previous, until)) = identity.rotation(now) {
            keys.push(KeyEntry {
                key_use: KeyUse::Signing,
                algorithm: "Ed25519".into(),
                public_key: previous.to_hex(),
                fingerprint: previous.fingerprint(),
                not_before: since.to_owned(),
                not_after: Some(fmt(until)),
            });
            current_from = fmt(until);
        }
        keys.extend([
            KeyEntry {
                key_use: KeyUse::Signing,
                algorithm: "Ed25519".into(),
                public_key: signing.to_hex(),
                fingerprint: signing.fingerprint(),
                not_before: current_from,
                not_after: None,
            },
            KeyEntry {
                key_use: KeyUse::Encryption,
                algorithm: "X25519-HKDF-SHA256".into(),
                fingerprint: fingerprint_of_hex(&encryption),
                public_key: encryption,
                not_before: since.to_owned(),
                not_after: None,
            },
        ]);
        keys
    }

    /// The key the node announced it moves to, and from when (a second
    /// Ed25519 signing key, during a rotation).
    pub fn next_signing_key(&self) -> Option<&KeyEntry> {
        self.keys
            .iter()
            .filter(|k| k.key_use == KeyUse::Signing && k.algorithm == "Ed25519")
            .nth(1)
    }

    pub fn signing_key(&self) -> Option<&KeyEntry> {
        self.keys
            .iter()
            .find(|k| k.key_use == KeyUse::Signing && k.algorithm == "Ed25519")
    }

    pub fn encryption_key(&self) -> Option<&KeyEntry> {
        self.keys.iter().find(|k| k.key_use == KeyUse::Encryption)
    }

    /// Serialises and signs.
    pub fn sign(&self, key: &NodeKey) -> SignedNodeDocument {
        let document = serde_json::to_string(self).unwrap_or_default();
        let signature = key.sign(document.as_bytes());
        SignedNodeDocument {
            document,
            signature,
        }
    }
}

impl SignedNodeDocument {
    /// Parses the document, checks its signature with the signing key it
    /// lists, and that key's fingerprint against `expected_fingerprint`
    /// (given by the other node's operator by another channel).
    pub fn verify(&self, expected_fingerprint: &str) -> Result<NodeDocument, DocumentError> {
        if self.document.len() > MAX_DOCUMENT_BYTES {
            return Err(DocumentError::Malformed("larger than 64 KiB".into()));
        }
        let doc: NodeDocument = serde_json::from_str(&self.document)
            .map_err(|e| DocumentError::Malformed(e.to_string()))?;
        if doc.v != 1 {
            return Err(DocumentError::Malformed(format!(
                "unknown version {}",
                doc.v
            )));
        }
        let entry = doc.signing_key().ok_or(DocumentError::NoSigningKey)?;
        let key = PublicKey::parse(&entry.public_key).ok_or(DocumentError::NoSigningKey)?;
        if !key.verify(self.document.as_bytes(), &self.signature) {
            return Err(DocumentError::BadSignature);
        }
        let actual = key.fingerprint();
        if normalise_fingerprint(&actual) != normalise_fingerprint(expected_fingerprint) {
            return Err(DocumentError::FingerprintMismatch {
                actual,
                expected: expected_fingerprint.to_owned(),
            });
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(identity: &NodeIdentity) -> NodeDocument {
        NodeDocument {
            v: 1,
            node_id: "fr-pc247".into(),
            organisation: "Point de contact 24/7".into(),
            country: "FR".into(),
            kind: "point-of-contact-24-7".into(),
            base_url: "https://pc247.example".into(),
            keys: NodeDocument::keys_of(
                identity,
                "2026-11-25T00:00:00Z",
                time::OffsetDateTime::now_utc(),
            ),
            languages: vec!["fr".into(), "en".into()],
            request_types: vec!["expedited_preservation".into()],
            office_hours: "24/7".into(),
            time_zone: "Europe/Paris".into(),
            issued_at: "2026-11-25T10:00:00Z".into(),
        }
    }

    #[test]
    fn a_signed_document_verifies_with_the_right_fingerprint_only() {
        let dir = tempfile::tempdir().unwrap();
        let identity =
            NodeIdentity::load_or_create(dir.path(), NodeKey::from_seed([5; 32])).unwrap();
        let fp = identity.signing_public().fingerprint();
        let signed = document(&identity).sign(&identity.signing);
        let doc = signed.verify(&fp.to_uppercase().replace(':', " ")).unwrap();
        assert_eq!(doc.node_id, "fr-pc247");
        assert_eq!(
            doc.encryption_key().unwrap().public_key,
            identity.encryption_public_hex()
        );

        let other = NodeKey::from_seed([6; 32]).fingerprint();
        assert!(matches!(
            signed.verify(&other),
            Err(DocumentError::FingerprintMismatch { .. })
        ));
        // An altered document (another address) no longer matches.
        let mut tampered = signed.clone();
        tampered.document = tampered
            .document
            .replace("https://pc247.example", "https://attacker.example");
        assert_eq!(tampered.verify(&fp), Err(DocumentError::BadSignature));
        // Signed by another key that it lists itself: fingerprint refused.
        let impostor = NodeIdentity::load_or_create(
            tempfile::tempdir().unwrap().path(),
            NodeKey::from_seed([7; 32]),
        )
        .unwrap();
        let forged = document(&impostor).sign(&impostor.signing);
        assert!(matches!(
            forged.verify(&fp),
            Err(DocumentError::FingerprintMismatch { .. })
        ));
        let junk = SignedNodeDocument {
            document: "{".into(),
            signature: "00".into(),
        };
        assert!(matches!(junk.verify(&fp), Err(DocumentError::Malformed(_))));
    }
}
