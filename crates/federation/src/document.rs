//! The node document: what a node says about itself, signed with its
//! Ed25519 key. It travels as `{"document": "<JSON text>", "signature":
//! "<hex>"}` so that the signed bytes are exactly the bytes received; the
//! signature is checked with the signing key listed inside the document,
//! and that key's fingerprint against the one given out of band. What a
//! peer's document says is then read with the types that check this
//! node's own configuration (`NodeDocument::details`), before anything of
//! it is kept.

use entraide_domain::{
    CountryCode, NodeId, NodeUrl, OrganisationKind, OrganisationName, ParseError,
};
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

/// A field of a peer's document that does not hold what it must.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field as the document names it (`node_id`, `country`...).
    pub field: &'static str,
    /// The stable code of the check that refused it (`invalid_node_id`...).
    pub code: &'static str,
    pub message: String,
}

/// What a peer's document says about the peer, each field parsed with the
/// type that checks the same setting in this node's configuration: a node
/// id that can only be a node id (it ends up in file names and URLs), an
/// assigned country code, a known kind of organisation, an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerDetails {
    pub node_id: NodeId,
    pub organisation: OrganisationName,
    pub country: CountryCode,
    pub kind: OrganisationKind,
    pub base_url: NodeUrl,
}

fn problems_text(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the node document is not valid: {0}")]
    Malformed(String),
    #[error("the node document was refused: {}", problems_text(.0))]
    Invalid(Vec<FieldProblem>),
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
            Self::Invalid(_) => "peer_document_invalid",
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

    /// What the document says about its node, every field checked as this
    /// node's own configuration is (and the lists and free texts bounded):
    /// all the fields refused, or the details. A node id must be given
    /// exactly as it is used (no spaces around it).
    pub fn details(&self) -> Result<PeerDetails, DocumentError> {
        let mut problems = Vec::new();
        let mut check = |field: &'static str, result: Result<(), ParseError>| {
            if let Err(e) = result {
                problems.push(FieldProblem {
                    field,
                    code: e.code,
                    message: e.message,
                });
            }
        };
        let node_id = NodeId::parse(&self.node_id).and_then(|id| {
            if id.as_str() == self.node_id {
                Ok(id)
            } else {
                Err(ParseError::new(
                    "invalid_node_id",
                    "a node id is given without spaces around it",
                ))
            }
        });
        let organisation = OrganisationName::parse(&self.organisation);
        let country = CountryCode::parse(&self.country);
        let kind = self.kind.parse::<OrganisationKind>();
        let base_url = NodeUrl::parse(&self.base_url);
        check(
            "node_id",
            node_id.as_ref().map(|_| ()).map_err(Clone::clone),
        );
        check(
            "organisation",
            organisation.as_ref().map(|_| ()).map_err(Clone::clone),
        );
        check(
            "country",
            country.as_ref().map(|_| ()).map_err(Clone::clone),
        );
        check("kind", kind.as_ref().map(|_| ()).map_err(Clone::clone));
        check(
            "base_url",
            base_url.as_ref().map(|_| ()).map_err(Clone::clone),
        );
        check("keys", self.check_encryption_key());
        check(
            "languages",
            check_list(&self.languages, "invalid_language", |l| {
                l.len() == 2 && l.chars().all(|c| c.is_ascii_lowercase())
            }),
        );
        check(
            "request_types",
            check_list(&self.request_types, "invalid_request_type", |k| {
                (1..=64).contains(&k.len())
                    && k.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            }),
        );
        check("office_hours", short_text(&self.office_hours));
        check("time_zone", short_text(&self.time_zone));
        match (node_id, organisation, country, kind, base_url) {
            (Ok(node_id), Ok(organisation), Ok(country), Ok(kind), Ok(base_url))
                if problems.is_empty() =>
            {
                Ok(PeerDetails {
                    node_id,
                    organisation,
                    country,
                    kind,
                    base_url,
                })
            }
            _ => Err(DocumentError::Invalid(problems)),
        }
    }

    /// The encryption key must be one (32 bytes, hexadecimal): messages are
    /// sealed to it.
    fn check_encryption_key(&self) -> Result<(), ParseError> {
        let usable = self.encryption_key().is_some_and(|k| {
            k.algorithm == "X25519-HKDF-SHA256"
                && hex::decode(&k.public_key).is_ok_and(|b| b.len() == 32)
        });
        if usable {
            Ok(())
        } else {
            Err(ParseError::new(
                "invalid_key",
                "no X25519 encryption key of 32 bytes in hexadecimal",
            ))
        }
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

/// At most 50 entries, each one accepted by `valid`.
fn check_list(
    list: &[String],
    code: &'static str,
    valid: impl Fn(&str) -> bool,
) -> Result<(), ParseError> {
    if list.len() > 50 {
        return Err(ParseError::new(code, "more than 50 entries"));
    }
    match list.iter().find(|v| !valid(v)) {
        Some(bad) => Err(ParseError::new(
            code,
            format!(
                "'{}' is not accepted here",
                bad.chars().take(40).collect::<String>()
            ),
        )),
        None => Ok(()),
    }
}

/// A short line of free text: at most 200 characters, no control characters.
fn short_text(text: &str) -> Result<(), ParseError> {
    if text.chars().count() > 200 || text.chars().any(char::is_control) {
        Err(ParseError::new(
            "invalid_text",
            "at most 200 characters, without control characters",
        ))
    } else {
        Ok(())
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

    #[test]
    fn a_document_is_read_with_the_types_of_local_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let identity =
            NodeIdentity::load_or_create(dir.path(), NodeKey::from_seed([8; 32])).unwrap();
        let good = document(&identity).details().unwrap();
        assert_eq!(good.node_id.as_str(), "fr-pc247");
        assert_eq!(good.kind, OrganisationKind::PointOfContact247);
        assert_eq!(good.base_url.as_str(), "https://pc247.example");

        let mut forged = document(&identity);
        forged.node_id = "../../../../tmp/x".into();
        forged.country = "ZZ".into();
        forged.kind = "whatever".into();
        forged.base_url = "file:///etc".into();
        forged.languages = vec!["french".into()];
        let Err(DocumentError::Invalid(problems)) = forged.details() else {
            panic!("a forged document was accepted");
        };
        let fields: Vec<(&str, &str)> = problems.iter().map(|p| (p.field, p.code)).collect();
        assert_eq!(
            fields,
            [
                ("node_id", "invalid_node_id"),
                ("country", "invalid_country"),
                ("kind", "invalid_organisation_kind"),
                ("base_url", "invalid_url"),
                ("languages", "invalid_language"),
            ]
        );
        let e = DocumentError::Invalid(problems);
        assert_eq!(e.code(), "peer_document_invalid");
        assert!(e.to_string().contains("node_id: "), "{e}");

        let mut spaced = document(&identity);
        spaced.node_id = " fr-pc247".into();
        assert!(spaced.details().is_err());
        let mut keyless = document(&identity);
        keyless.keys.retain(|k| k.key_use == KeyUse::Signing);
        assert!(
            matches!(keyless.details(), Err(DocumentError::Invalid(p)) if p[0].field == "keys")
        );
    }
}
