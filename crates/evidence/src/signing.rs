//! The node's Ed25519 signing key: created once, kept in the data
//! directory readable by the node's user only, and used to sign custody
//! tree heads and package manifests. Keys are shown by fingerprint: the
//! SHA-256 of the raw public key in hexadecimal, grouped by four, which is
//! what operators read to each other over the telephone.

use std::fs;
use std::io::Write;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write the node key {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the key file {0} is not a 64-digit hexadecimal 32-byte secret")]
    Malformed(String),
    #[error("the node key file {0} can be read by other users; run chmod 600 on it")]
    Permissions(String),
}

/// The node's signing key.
pub struct NodeKey {
    signing: SigningKey,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKey")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl NodeKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        Self {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// Loads the key at `path`, creating it (mode 0600) when absent.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        load_or_create_secret(path).map(Self::from_seed)
    }

    /// Loads an existing key, refusing one that others can read.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        load_secret(path).map(Self::from_seed)
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    pub fn fingerprint(&self) -> String {
        self.public_key().fingerprint()
    }

    /// Signs `message`; the signature in hexadecimal.
    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.signing.sign(message).to_bytes())
    }
}

/// Loads a 32-byte secret kept in hexadecimal at `path`, creating it from
/// the operating system's random source (mode 0600) when absent.
pub fn load_or_create_secret(path: &Path) -> Result<[u8; 32], KeyError> {
    if path.exists() {
        return load_secret(path);
    }
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io_err(path))?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_err(path))?;
    file.write_all(hex::encode(secret).as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(io_err(path))?;
    Ok(secret)
}

/// Loads a 32-byte secret, refusing a file that others can read.
pub fn load_secret(path: &Path) -> Result<[u8; 32], KeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(io_err(path))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions(path.display().to_string()));
        }
    }
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    let bytes =
        hex::decode(text.trim()).map_err(|_| KeyError::Malformed(path.display().to_string()))?;
    bytes
        .try_into()
        .map_err(|_| KeyError::Malformed(path.display().to_string()))
}

/// Where a node keeps its signing key, relative to its data directory.
pub const NODE_KEY_PATH: &str = "keys/node-ed25519.key";

/// A node's public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses 64 hexadecimal digits.
    pub fn parse(hex_text: &str) -> Option<Self> {
        let bytes: [u8; 32] = hex::decode(hex_text.trim()).ok()?.try_into().ok()?;
        VerifyingKey::from_bytes(&bytes).ok().map(Self)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    /// SHA-256 of the raw key, hexadecimal in groups of four.
    pub fn fingerprint(&self) -> String {
        let digest = hex::encode(Sha256::digest(self.0.to_bytes()));
        digest
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Whether `signature_hex` is this key's signature of `message`.
    pub fn verify(&self, message: &[u8], signature_hex: &str) -> bool {
        let Ok(bytes) = hex::decode(signature_hex.trim()) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
            return false;
        };
        self.0
            .verify_strict(message, &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

/// Normalises a fingerprint typed by a person: hexadecimal digits only,
/// lower case.
pub fn normalise_fingerprint(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let key = NodeKey::from_seed([7u8; 32]);
        let public = key.public_key();
        let sig = key.sign(b"tree head");
        assert!(public.verify(b"tree head", &sig));
        assert!(!public.verify(b"tree heat", &sig));
        assert!(!public.verify(b"tree head", "00"));
        assert!(!NodeKey::from_seed([8u8; 32])
            .public_key()
            .verify(b"tree head", &sig));
        assert_eq!(PublicKey::parse(&public.to_hex()), Some(public));
        assert_eq!(key.fingerprint().len(), 64 + 15);
    }

    #[test]
    fn key_file_is_private_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("node.key");
        let key = NodeKey::load_or_create(&path).unwrap();
        let again = NodeKey::load_or_create(&path).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                NodeKey::load(&path),
                Err(KeyError::Permissions(_))
            ));
        }
        fs::write(dir.path().join("bad"), "zz").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir.path().join("bad"), fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(matches!(
            NodeKey::load(&dir.path().join("bad")),
            Err(KeyError::Malformed(_))
        ));
    }
}
