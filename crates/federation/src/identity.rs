//! The node's keys: Ed25519 for signatures (tree heads, packages, node
//! document, messages) and X25519 for HPKE encryption to the node. Both are
//! created once, kept in the data directory readable by the node only.

use std::path::Path;

use entraide_evidence::signing::load_or_create_secret;
use entraide_evidence::{KeyError, NodeKey, PublicKey};
use sha2::{Digest, Sha256};

/// The X25519 secret, relative to the data directory.
pub const ENCRYPTION_KEY_FILE: &str = "keys/node-x25519.key";
/// After a rotation: the previous signing key, still used towards peers
/// until the time in [`PREVIOUS_UNTIL_FILE`] (the overlap window).
pub const PREVIOUS_KEY_FILE: &str = "keys/node-ed25519.previous.key";
pub const PREVIOUS_UNTIL_FILE: &str = "keys/node-ed25519.previous-until";

pub struct NodeIdentity {
    /// The current signing key (custody log, packages; towards peers once
    /// the overlap window of a rotation has passed).
    pub signing: NodeKey,
    encryption: x25519_dalek::StaticSecret,
    /// The previous signing key and the end of its overlap window.
    previous: Option<(NodeKey, time::OffsetDateTime)>,
}

impl std::fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("signing", &self.signing.fingerprint())
            .field("encryption", &self.encryption_fingerprint())
            .finish()
    }
}

impl NodeIdentity {
    /// Loads both keys, creating the encryption key when absent; `signing`
    /// is the node's existing signing key.
    pub fn load_or_create(data_dir: &Path, signing: NodeKey) -> Result<Self, KeyError> {
        let secret = load_or_create_secret(&data_dir.join(ENCRYPTION_KEY_FILE))?;
        let previous = match std::fs::read_to_string(data_dir.join(PREVIOUS_UNTIL_FILE)) {
            Ok(text) => {
                let until = time::OffsetDateTime::parse(
                    text.trim(),
                    &time::format_description::well_known::Rfc3339,
                )
                .map_err(|_| KeyError::Malformed(PREVIOUS_UNTIL_FILE.into()))?;
                let key = NodeKey::load(&data_dir.join(PREVIOUS_KEY_FILE))?;
                Some((key, until))
            }
            Err(_) => None,
        };
        Ok(Self {
            signing,
            encryption: x25519_dalek::StaticSecret::from(secret),
            previous,
        })
    }

    /// The key that signs towards peers now: the previous one during the
    /// overlap window of a rotation (peers know it), the current one after.
    pub fn federation_key(&self, now: time::OffsetDateTime) -> &NodeKey {
        match &self.previous {
            Some((key, until)) if now < *until => key,
            _ => &self.signing,
        }
    }

    /// The previous key and the end of its window, during a rotation.
    pub fn rotation(&self, now: time::OffsetDateTime) -> Option<(PublicKey, time::OffsetDateTime)> {
        self.previous
            .as_ref()
            .filter(|(_, until)| now < *until)
            .map(|(k, until)| (k.public_key(), *until))
    }

    /// Rotates the signing key in `data_dir`: the current key becomes the
    /// previous one, used towards peers for `overlap` more (while they learn
    /// the new one), and a new key is created. Returns the new key.
    pub fn rotate(data_dir: &Path, overlap: time::Duration) -> Result<NodeKey, KeyError> {
        let current = data_dir.join(entraide_evidence::signing::NODE_KEY_PATH);
        let previous = data_dir.join(PREVIOUS_KEY_FILE);
        let until_path = data_dir.join(PREVIOUS_UNTIL_FILE);
        let io = |e: std::io::Error| KeyError::Io {
            path: current.display().to_string(),
            source: e,
        };
        let _ = std::fs::remove_file(&previous);
        std::fs::rename(&current, &previous).map_err(io)?;
        let until = time::OffsetDateTime::now_utc() + overlap;
        std::fs::write(
            &until_path,
            until
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        )
        .map_err(io)?;
        NodeKey::load_or_create(&current)
    }

    pub fn signing_public(&self) -> PublicKey {
        self.signing.public_key()
    }

    /// The X25519 public key in hexadecimal.
    pub fn encryption_public_hex(&self) -> String {
        hex::encode(x25519_dalek::PublicKey::from(&self.encryption).as_bytes())
    }

    pub fn encryption_fingerprint(&self) -> String {
        fingerprint_of_hex(&self.encryption_public_hex())
    }

    /// Decrypts an envelope kept as received (its signature was checked on
    /// arrival; the sender's key may have been rotated since).
    pub fn decrypt_stored(
        &self,
        envelope: &crate::Envelope,
    ) -> Result<(crate::EnvelopeHeader, Vec<u8>), crate::EnvelopeError> {
        let header = envelope.peek()?;
        let payload = envelope.decrypt(&header, &self.encryption.to_bytes())?;
        Ok((header, payload))
    }

    /// Checks an envelope from a pinned sender and decrypts it.
    pub fn open(
        &self,
        envelope: &crate::Envelope,
        sender_key: &PublicKey,
        me: &str,
        now: time::OffsetDateTime,
    ) -> Result<(crate::EnvelopeHeader, Vec<u8>), crate::EnvelopeError> {
        let header = envelope.check(sender_key, me, now)?;
        let payload = envelope.decrypt(&header, &self.encryption.to_bytes())?;
        Ok((header, payload))
    }
}

/// SHA-256 of a hexadecimal public key's bytes, grouped by four digits (as
/// for signing keys).
pub fn fingerprint_of_hex(public_hex: &str) -> String {
    let bytes = hex::decode(public_hex).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_reach_only_their_recipient_and_detect_changes() {
        use crate::envelope::{seal, EnvelopeError, Outgoing};
        let dir = tempfile::tempdir().unwrap();
        let sender = NodeKey::from_seed([1; 32]);
        let sender_pub = sender.public_key();
        let recipient =
            NodeIdentity::load_or_create(dir.path(), NodeKey::from_seed([2; 32])).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let out = Outgoing {
            sender: "fr-pc247",
            recipient: "ar-ufeci",
            message_type: crate::MessageKind::Request,
            in_reply_to: None,
            lifetime: time::Duration::hours(1),
            payload: b"preserve the logs of 203.0.113.5",
        };
        let (_, env) = seal(&sender, &recipient.encryption_public_hex(), &out, now).unwrap();
        let (h, payload) = recipient.open(&env, &sender_pub, "ar-ufeci", now).unwrap();
        assert_eq!(payload, out.payload);
        assert_eq!(h.sender, "fr-pc247");
        assert!(!env.ciphertext.contains("203.0.113.5"));
        // Wrong recipient, expired, another sender key, altered ciphertext.
        assert!(matches!(
            recipient.open(&env, &sender_pub, "br-pf", now),
            Err(EnvelopeError::WrongRecipient(_))
        ));
        assert!(matches!(
            recipient.open(
                &env,
                &sender_pub,
                "ar-ufeci",
                now + time::Duration::hours(2)
            ),
            Err(EnvelopeError::Expired(_))
        ));
        let impostor = NodeKey::from_seed([3; 32]).public_key();
        assert_eq!(
            recipient.open(&env, &impostor, "ar-ufeci", now),
            Err(EnvelopeError::BadSignature)
        );
        let mut altered = env.clone();
        let mut bytes = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            &altered.ciphertext,
        )
        .unwrap();
        bytes[0] ^= 1;
        altered.ciphertext =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
        assert_eq!(
            recipient.open(&altered, &sender_pub, "ar-ufeci", now),
            Err(EnvelopeError::Tampered)
        );
        // A header changed (and re-signed by the sender) no longer matches
        // the ciphertext's associated data.
        let mut resigned = env.clone();
        resigned.header = resigned.header.replace("\"request\"", "\"note\"");
        resigned.signature = sender.sign(resigned.header.as_bytes());
        assert_eq!(
            recipient.open(&resigned, &sender_pub, "ar-ufeci", now),
            Err(EnvelopeError::Tampered)
        );
        // A kind of message this node does not know is refused as such.
        let mut unknown = env.clone();
        unknown.header = unknown
            .header
            .replace("\"request\"", "\"attachment-chunk\"");
        unknown.signature = sender.sign(unknown.header.as_bytes());
        let refused = recipient.open(&unknown, &sender_pub, "ar-ufeci", now);
        assert_eq!(
            refused,
            Err(EnvelopeError::UnknownKind("attachment-chunk".into()))
        );
        assert_eq!(refused.unwrap_err().code(), "message_kind_unknown");
        // Someone else cannot read it.
        let other = NodeIdentity::load_or_create(
            tempfile::tempdir().unwrap().path(),
            NodeKey::from_seed([4; 32]),
        )
        .unwrap();
        assert_eq!(
            other.open(&env, &sender_pub, "ar-ufeci", now),
            Err(EnvelopeError::Tampered)
        );
    }

    #[test]
    fn keys_are_created_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = NodeIdentity::load_or_create(dir.path(), NodeKey::from_seed([3; 32])).unwrap();
        let b = NodeIdentity::load_or_create(dir.path(), NodeKey::from_seed([3; 32])).unwrap();
        assert_eq!(a.encryption_public_hex(), b.encryption_public_hex());
        assert_eq!(a.encryption_public_hex().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(ENCRYPTION_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            a.signing_public().fingerprint(),
            fingerprint_of_hex(&a.signing_public().to_hex())
        );
    }
}
