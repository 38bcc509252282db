//! The node's keys: Ed25519 for signatures (tree heads, packages, node
//! document, messages) and X25519 for HPKE encryption to the node. Both are
//! created once, kept in the data directory readable by the node only.

use std::path::Path;

use entraide_evidence::signing::load_or_create_secret;
use entraide_evidence::{KeyError, NodeKey, PublicKey};
use sha2::{Digest, Sha256};

/// The X25519 secret, relative to the data directory.
pub const ENCRYPTION_KEY_FILE: &str = "keys/node-x25519.key";

pub struct NodeIdentity {
    pub signing: NodeKey,
    encryption: x25519_dalek::StaticSecret,
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
        Ok(Self {
            signing,
            encryption: x25519_dalek::StaticSecret::from(secret),
        })
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
