//! Envelopes: how one node sends anything (a request, a response, a
//! receipt, an evidence manifest) to another. The payload is encrypted with
//! HPKE (RFC 9180, X25519-HKDF-SHA256, HKDF-SHA256, ChaCha20-Poly1305) to
//! the recipient's X25519 key, with the header as associated data; the
//! header carries the payload's SHA-256 and is signed with the sender's
//! Ed25519 key. Both sides keep the envelope as it travelled, so its
//! signature can be checked again years later.

use base64::Engine;
use entraide_evidence::{NodeKey, PublicKey};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as KemTrait, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::kinds::{MessageKind, ReceiptStatus};

pub const SUITE: &str = "HPKE-X25519-HKDF-SHA256/HKDF-SHA256/ChaCha20Poly1305";
const INFO: &[u8] = b"entraide-envelope-v1";
/// Clock difference tolerated between nodes.
pub const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);
/// The largest envelope a node accepts in one piece.
pub const MAX_ENVELOPE_BYTES: usize = 8 * 1024 * 1024;

type Kem = X25519HkdfSha256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeHeader {
    pub v: u8,
    /// UUIDv7.
    pub message_id: Uuid,
    pub sender: String,
    pub recipient: String,
    /// What the envelope carries. Serialized as its wire string (the
    /// header's text is what is signed); a header naming a kind this node
    /// does not know is refused (`EnvelopeError::UnknownKind`).
    pub message_type: MessageKind,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339: not delivered after this.
    pub expires: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<Uuid>,
    /// SHA-256 of the plaintext payload.
    pub payload_sha256: String,
    pub payload_size: u64,
    pub suite: String,
    /// HPKE encapsulated key, hexadecimal.
    pub encapsulated_key: String,
}

/// An envelope as it travels and is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The header's JSON text, exactly as signed and used as AAD.
    pub header: String,
    /// The encrypted payload, base64.
    pub ciphertext: String,
    /// Ed25519 signature of `header` by the sender, hexadecimal.
    pub signature: String,
}

/// What is being sent.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub sender: &'a str,
    pub recipient: &'a str,
    pub message_type: MessageKind,
    pub in_reply_to: Option<Uuid>,
    pub lifetime: time::Duration,
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the envelope is malformed: {0}")]
    Malformed(String),
    #[error("the envelope carries a kind of message this node does not know: {0}")]
    UnknownKind(String),
    #[error("the envelope's signature does not match the sender's pinned key")]
    BadSignature,
    #[error("the envelope is addressed to {0}, not to this node")]
    WrongRecipient(String),
    #[error("the envelope expired at {0}")]
    Expired(String),
    #[error("the envelope claims to be created in the future ({0})")]
    FromTheFuture(String),
    #[error("the payload does not decrypt or does not match its hash: it was altered")]
    Tampered,
    #[error("the recipient's encryption key is not valid")]
    BadRecipientKey,
    #[error("encryption failed")]
    Encryption,
}

impl EnvelopeError {
    /// Stable code, returned to the sender in the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "envelope_malformed",
            Self::UnknownKind(_) => "message_kind_unknown",
            Self::BadSignature => "envelope_bad_signature",
            Self::WrongRecipient(_) => "envelope_wrong_recipient",
            Self::Expired(_) => "envelope_expired",
            Self::FromTheFuture(_) => "envelope_not_yet_valid",
            Self::Tampered => "envelope_tampered",
            Self::BadRecipientKey => "envelope_bad_recipient_key",
            Self::Encryption => "envelope_encryption_failed",
        }
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Encrypts `out.payload` to `recipient_encryption_key` (hex X25519) and
/// signs the header with `sender_key`.
pub fn seal(
    sender_key: &NodeKey,
    recipient_encryption_key: &str,
    out: &Outgoing<'_>,
    now: OffsetDateTime,
) -> Result<(EnvelopeHeader, Envelope), EnvelopeError> {
    let pk_bytes =
        hex::decode(recipient_encryption_key).map_err(|_| EnvelopeError::BadRecipientKey)?;
    let pk = <Kem as KemTrait>::PublicKey::from_bytes(&pk_bytes)
        .map_err(|_| EnvelopeError::BadRecipientKey)?;
    let mut rng = rand::rngs::OsRng;
    let (encapped, mut ctx) = hpke::setup_sender::<ChaCha20Poly1305, HkdfSha256, Kem, _>(
        &OpModeS::Base,
        &pk,
        INFO,
        &mut rng,
    )
    .map_err(|_| EnvelopeError::Encryption)?;
    let header = EnvelopeHeader {
        v: 1,
        message_id: Uuid::now_v7(),
        sender: out.sender.to_owned(),
        recipient: out.recipient.to_owned(),
        message_type: out.message_type,
        created: rfc3339(now),
        expires: rfc3339(now + out.lifetime),
        in_reply_to: out.in_reply_to,
        payload_sha256: hex::encode(Sha256::digest(out.payload)),
        payload_size: out.payload.len() as u64,
        suite: SUITE.to_owned(),
        encapsulated_key: hex::encode(encapped.to_bytes()),
    };
    let header_text =
        serde_json::to_string(&header).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
    let ciphertext = ctx
        .seal(out.payload, header_text.as_bytes())
        .map_err(|_| EnvelopeError::Encryption)?;
    let envelope = Envelope {
        signature: sender_key.sign(header_text.as_bytes()),
        header: header_text,
        ciphertext: base64::engine::general_purpose::STANDARD.encode(ciphertext),
    };
    Ok((header, envelope))
}

impl Envelope {
    /// Reads the header without checking anything (to find the sender).
    /// Its kind of message is parsed here, once: an unknown one is
    /// refused as such rather than as a malformed header.
    pub fn peek(&self) -> Result<EnvelopeHeader, EnvelopeError> {
        let h: EnvelopeHeader = serde_json::from_str(&self.header).map_err(|e| {
            unknown_kind(&self.header).unwrap_or_else(|| EnvelopeError::Malformed(e.to_string()))
        })?;
        if h.v != 1 || h.suite != SUITE {
            return Err(EnvelopeError::Malformed(format!(
                "version {} suite {} unknown",
                h.v, h.suite
            )));
        }
        Ok(h)
    }

    /// Checks the signature with the sender's pinned key, the recipient and
    /// the validity period (what can be checked without the private key).
    pub fn check(
        &self,
        sender_key: &PublicKey,
        me: &str,
        now: OffsetDateTime,
    ) -> Result<EnvelopeHeader, EnvelopeError> {
        let h = self.peek()?;
        if !sender_key.verify(self.header.as_bytes(), &self.signature) {
            return Err(EnvelopeError::BadSignature);
        }
        if h.recipient != me {
            return Err(EnvelopeError::WrongRecipient(h.recipient));
        }
        let parse = |t: &str| {
            OffsetDateTime::parse(t, &Rfc3339).map_err(|e| EnvelopeError::Malformed(e.to_string()))
        };
        if parse(&h.expires)? <= now {
            return Err(EnvelopeError::Expired(h.expires));
        }
        if parse(&h.created)? > now + CLOCK_SKEW {
            return Err(EnvelopeError::FromTheFuture(h.created));
        }
        Ok(h)
    }

    /// Decrypts with the recipient's X25519 secret and checks the hash.
    pub(crate) fn decrypt(
        &self,
        h: &EnvelopeHeader,
        secret: &[u8; 32],
    ) -> Result<Vec<u8>, EnvelopeError> {
        let sk = <Kem as KemTrait>::PrivateKey::from_bytes(secret)
            .map_err(|_| EnvelopeError::BadRecipientKey)?;
        let enc_bytes = hex::decode(&h.encapsulated_key).map_err(|_| EnvelopeError::Tampered)?;
        let encapped = <Kem as KemTrait>::EncappedKey::from_bytes(&enc_bytes)
            .map_err(|_| EnvelopeError::Tampered)?;
        let mut ctx = hpke::setup_receiver::<ChaCha20Poly1305, HkdfSha256, Kem>(
            &OpModeR::Base,
            &sk,
            &encapped,
            INFO,
        )
        .map_err(|_| EnvelopeError::Tampered)?;
        let ciphertext = base64::engine::general_purpose::STANDARD
            .decode(&self.ciphertext)
            .map_err(|_| EnvelopeError::Tampered)?;
        let plain = ctx
            .open(&ciphertext, self.header.as_bytes())
            .map_err(|_| EnvelopeError::Tampered)?;
        if hex::encode(Sha256::digest(&plain)) != h.payload_sha256
            || plain.len() as u64 != h.payload_size
        {
            return Err(EnvelopeError::Tampered);
        }
        Ok(plain)
    }
}

/// Why a header did not read, if it is its kind of message: a kind this
/// node does not know.
fn unknown_kind(header: &str) -> Option<EnvelopeError> {
    #[derive(Deserialize)]
    struct KindOnly {
        message_type: String,
    }
    let k: KindOnly = serde_json::from_str(header).ok()?;
    MessageKind::parse(&k.message_type)
        .err()
        .map(|e| EnvelopeError::UnknownKind(e.value().to_owned()))
}

/// A signed acknowledgement: the message arrived (`delivered`) or a person
/// opened it (`retrieved`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub v: u8,
    pub message_id: Uuid,
    pub sender: String,
    pub receiver: String,
    /// `delivered` or `retrieved` (serialized as those strings: the
    /// receipt's text is what is signed).
    pub status: ReceiptStatus,
    pub at: String,
    pub payload_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReceipt {
    /// The receipt's JSON text, as signed.
    pub receipt: String,
    pub signature: String,
}

impl Receipt {
    pub fn sign(&self, key: &NodeKey) -> SignedReceipt {
        let receipt = serde_json::to_string(self).unwrap_or_default();
        SignedReceipt {
            signature: key.sign(receipt.as_bytes()),
            receipt,
        }
    }
}

impl SignedReceipt {
    /// The receipt, if signed by `receiver_key`.
    pub fn verify(&self, receiver_key: &PublicKey) -> Option<Receipt> {
        if !receiver_key.verify(self.receipt.as_bytes(), &self.signature) {
            return None;
        }
        serde_json::from_str(&self.receipt).ok()
    }
}

pub fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

/// The envelopes of a batch (`POST /federation/inbox/batch`): one JSON
/// envelope per line; blank lines are skipped.
pub fn batch_lines(body: &[u8]) -> Vec<&[u8]> {
    body.split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header as nodes wrote it when `message_type` was a string.
    const HEADER_TEXT: &str = concat!(
        r#"{"v":1,"message_id":"01890a5d-ac96-774b-bcce-b302099a8057","sender":"fr-pc247","#,
        r#""recipient":"ar-ufeci","message_type":"evidence-package","#,
        r#""created":"2026-03-01T10:00:00Z","expires":"2026-03-08T10:00:00Z","#,
        r#""payload_sha256":"ab","payload_size":2,"#,
        r#""suite":"HPKE-X25519-HKDF-SHA256/HKDF-SHA256/ChaCha20Poly1305","encapsulated_key":"cd"}"#
    );

    #[test]
    fn a_header_reads_and_writes_the_same_bytes_with_its_kind_parsed() {
        let h: EnvelopeHeader = serde_json::from_str(HEADER_TEXT).unwrap();
        assert_eq!(h.message_type, MessageKind::EvidencePackage);
        assert_eq!(serde_json::to_string(&h).unwrap(), HEADER_TEXT);
        let envelope = |header: String| Envelope {
            header,
            ciphertext: String::new(),
            signature: String::new(),
        };
        assert_eq!(envelope(HEADER_TEXT.into()).peek(), Ok(h));
        let unknown = HEADER_TEXT.replace("evidence-package", "attachment-chunk");
        assert_eq!(
            envelope(unknown).peek(),
            Err(EnvelopeError::UnknownKind("attachment-chunk".into()))
        );
        // Any other fault is still a malformed header.
        let broken = HEADER_TEXT.replace("\"v\":1", "\"v\":\"one\"");
        assert!(matches!(
            envelope(broken).peek(),
            Err(EnvelopeError::Malformed(_))
        ));
    }

    #[test]
    fn a_receipt_signs_the_same_bytes_and_its_status_is_checked() {
        let key = NodeKey::from_seed([5; 32]);
        let text = concat!(
            r#"{"v":1,"message_id":"01890a5d-ac96-774b-bcce-b302099a8057","sender":"fr-pc247","#,
            r#""receiver":"ar-ufeci","status":"retrieved","at":"2026-03-01T10:00:00Z","#,
            r#""payload_sha256":"ab"}"#
        );
        let receipt: Receipt = serde_json::from_str(text).unwrap();
        assert_eq!(receipt.status, ReceiptStatus::Retrieved);
        let signed = receipt.sign(&key);
        assert_eq!(signed.receipt, text);
        assert_eq!(signed.signature, key.sign(text.as_bytes()));
        assert_eq!(signed.verify(&key.public_key()), Some(receipt));
        // A receipt signed with a status this node does not know is no
        // receipt.
        let odd = text.replace("retrieved", "read");
        let odd = SignedReceipt {
            signature: key.sign(odd.as_bytes()),
            receipt: odd,
        };
        assert_eq!(odd.verify(&key.public_key()), None);
    }
}
