//! The hash type and the two domain-separated hash functions of the Merkle
//! tree (RFC 6962 section 2.1, RFC 9162 section 2.1.1).
//!
//! Leaves and interior nodes are hashed with different one-byte prefixes
//! (`0x00` and `0x01`) so that a leaf can never be passed off as an interior
//! node or the other way round (second pre-image resistance of the tree).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Size in bytes of a SHA-256 digest, the only hash this crate uses.
pub const HASH_LEN: usize = 32;

/// Prefix of a leaf hash input (RFC 6962 section 2.1: `MTH({d(0)}) = SHA-256(0x00 || d(0))`).
const LEAF_PREFIX: u8 = 0x00;
/// Prefix of an interior node hash input (RFC 6962 section 2.1: `SHA-256(0x01 || left || right)`).
const NODE_PREFIX: u8 = 0x01;

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
///
/// Displayed, parsed and (de)serialised as 64 lower-case hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Hash([u8; HASH_LEN]);

impl Hash {
    /// Wraps 32 raw bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; HASH_LEN]) -> Self {
        Self(bytes)
    }

    /// The 32 raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// The 32 raw bytes, by value.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; HASH_LEN] {
        self.0
    }

    /// 64 lower-case hexadecimal digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hexadecimal digits (either case).
    ///
    /// # Errors
    /// [`HashParseError`] when the text is not hexadecimal or does not
    /// encode exactly 32 bytes.
    pub fn from_hex(text: &str) -> Result<Self, HashParseError> {
        if text.len() != 2 * HASH_LEN {
            return Err(HashParseError::WrongLength { digits: text.len() });
        }
        let mut bytes = [0u8; HASH_LEN];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| HashParseError::NotHex)?;
        Ok(Self(bytes))
    }
}

/// Why a text is not a [`Hash`](struct@Hash).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    /// The text has the wrong number of characters.
    #[error("a hash is 64 hexadecimal digits, got {digits} characters")]
    WrongLength {
        /// Number of characters (bytes of UTF-8) received.
        digits: usize,
    },
    /// The text contains a character that is not a hexadecimal digit.
    #[error("a hash is 64 hexadecimal digits, got a non-hexadecimal character")]
    NotHex,
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl FromStr for Hash {
    type Err = HashParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_hex(text)
    }
}

impl TryFrom<String> for Hash {
    type Error = HashParseError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::from_hex(&text)
    }
}

impl From<Hash> for String {
    fn from(hash: Hash) -> Self {
        hash.to_hex()
    }
}

impl From<[u8; HASH_LEN]> for Hash {
    fn from(bytes: [u8; HASH_LEN]) -> Self {
        Self(bytes)
    }
}

impl From<Hash> for [u8; HASH_LEN] {
    fn from(hash: Hash) -> Self {
        hash.0
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

fn finish(hasher: Sha256) -> Hash {
    Hash(hasher.finalize().into())
}

/// The hash of a leaf: `SHA-256(0x00 || data)` (RFC 6962 section 2.1,
/// RFC 9162 section 2.1.1).
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(data);
    finish(hasher)
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`
/// (RFC 6962 section 2.1, RFC 9162 section 2.1.1).
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    #[cfg(test)]
    counter::bump();
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left.0);
    hasher.update(right.0);
    finish(hasher)
}

/// The root of the empty tree: the SHA-256 of the empty string
/// (RFC 6962 section 2.1: `MTH({}) = SHA-256()`).
#[must_use]
pub fn empty_root() -> Hash {
    finish(Sha256::new())
}

/// Counts the calls to [`node_hash`] made by the current thread, so that the
/// unit tests can check the cost of appends, proofs and verifications.
#[cfg(test)]
pub(crate) mod counter {
    use std::cell::Cell;

    thread_local! {
        static NODE_HASHES: Cell<u64> = const { Cell::new(0) };
    }

    pub(crate) fn bump() {
        NODE_HASHES.with(|count| count.set(count.get() + 1));
    }

    /// Runs `work` and returns its result with the number of node hashes it
    /// computed on this thread.
    pub(crate) fn count<T>(work: impl FnOnce() -> T) -> (T, u64) {
        let before = NODE_HASHES.with(Cell::get);
        let result = work();
        let after = NODE_HASHES.with(Cell::get);
        (result, after - before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn leaf_and_node_hashes_are_domain_separated() {
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let mut concatenated = Vec::new();
        concatenated.extend_from_slice(a.as_bytes());
        concatenated.extend_from_slice(b.as_bytes());
        assert_ne!(node_hash(&a, &b), leaf_hash(&concatenated));
        assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let hash = leaf_hash(b"custody");
        let text = hash.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<Hash>(), Ok(hash));
        assert_eq!(Hash::from_hex(&text.to_uppercase()), Ok(hash));
        assert_eq!(
            Hash::from_hex("abc"),
            Err(HashParseError::WrongLength { digits: 3 })
        );
        assert_eq!(
            Hash::from_hex(&"zz".repeat(32)),
            Err(HashParseError::NotHex)
        );
        // Multi-byte characters must not cause a panic on a char boundary.
        assert!(Hash::from_hex(&"é".repeat(32)).is_err());
        assert_eq!(format!("{hash:?}"), format!("Hash({text})"));
    }

    #[test]
    fn serde_uses_the_hex_string() {
        use serde::de::value::{Error as ValueError, StrDeserializer};
        use serde::de::IntoDeserializer;

        let hash = leaf_hash(b"custody");
        let text = hash.to_hex();
        let parsed =
            Hash::deserialize::<StrDeserializer<'_, ValueError>>(text.as_str().into_deserializer());
        assert_eq!(parsed, Ok(hash));
        let refused =
            Hash::deserialize::<StrDeserializer<'_, ValueError>>("not a hash".into_deserializer());
        assert!(refused.is_err());
        assert_eq!(String::from(hash), text);
    }
}
