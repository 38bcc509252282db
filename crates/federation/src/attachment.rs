//! Large attachments: the manifest that announces one (inside a signed,
//! encrypted envelope of kind `MessageKind::Attachment`) and the sealing
//! of its chunks. No I/O here; the server streams the chunks
//! (`entraide_server::attachments`).
//!
//! Each chunk is sealed with AES-256-GCM under a random key that only the
//! manifest carries, the chunk's number as nonce and the attachment's id as
//! associated data: a chunk changed, moved to another place or taken from
//! another attachment does not open. The file's SHA-256 in the manifest is
//! checked by the receiver over the bytes it writes.

/// An attachment's content key, ready to seal and open chunks.
pub use ring::aead::LessSafeKey as ContentKey;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The manifest format this node writes and reads.
pub const MANIFEST_VERSION: u32 = 2;
/// The cipher chunks are sealed with.
pub const CIPHER: &str = "AES-256-GCM";
/// Bytes per chunk this node sends (the last one may be shorter).
pub const CHUNK_BYTES: u64 = 4 * 1024 * 1024;
/// The largest chunks this node takes (a peer may choose smaller ones).
pub const CHUNK_BYTES_MAX: u64 = CHUNK_BYTES * 4;
/// A sealed chunk is its plaintext and a 16-byte tag.
pub const TAG_BYTES: usize = 16;

/// What the receiver needs to decrypt and check the chunks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub v: u32,
    pub size: u64,
    /// SHA-256 of the whole file, checked by the receiver over the bytes
    /// it writes before it takes the last chunk.
    pub sha256: String,
    pub chunk_bytes: u64,
    /// `AES-256-GCM`.
    pub cipher: String,
    /// The content key, 32 bytes in hexadecimal.
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("the manifest is not readable: {0}")]
    Malformed(String),
    #[error("the manifest's version or cipher is not one this node reads")]
    Unsupported,
    #[error("the manifest's sizes, hash or key do not hold together")]
    Inconsistent,
}

/// A manifest that holds together, with its key ready to open chunks.
pub struct Opened {
    pub manifest: Manifest,
    pub key: LessSafeKey,
    pub chunks: u32,
}

impl Manifest {
    /// A new manifest for `size` bytes with SHA-256 `sha256`, sealed with
    /// `key` (32 bytes in hexadecimal).
    pub fn new(size: u64, sha256: String, key: String) -> Manifest {
        Manifest {
            v: MANIFEST_VERSION,
            size,
            sha256,
            chunk_bytes: CHUNK_BYTES,
            cipher: CIPHER.to_owned(),
            key,
        }
    }

    /// Reads and checks a manifest (a decrypted payload from a peer).
    pub fn parse(payload: &[u8]) -> Result<Opened, ManifestError> {
        let m: Manifest =
            serde_json::from_slice(payload).map_err(|e| ManifestError::Malformed(e.to_string()))?;
        if m.v != MANIFEST_VERSION || m.cipher != CIPHER {
            return Err(ManifestError::Unsupported);
        }
        let sha_ok = is_sha256_hex(&m.sha256);
        let size_ok = (1..=CHUNK_BYTES_MAX).contains(&m.chunk_bytes);
        let chunks = size_ok.then(|| u32::try_from(m.chunks()).ok()).flatten();
        match (chunks, content_key(&m.key), sha_ok) {
            (Some(chunks), Some(key), true) => Ok(Opened {
                manifest: Manifest {
                    sha256: m.sha256.to_ascii_lowercase(),
                    ..m
                },
                key,
                chunks,
            }),
            _ => Err(ManifestError::Inconsistent),
        }
    }

    /// Chunks in all: at least one (an empty file is one empty chunk).
    pub fn chunks(&self) -> u64 {
        self.size.div_ceil(self.chunk_bytes.max(1)).max(1)
    }

    /// The plaintext length of chunk `index`.
    pub fn chunk_len(&self, index: u32) -> u64 {
        let start = u64::from(index).saturating_mul(self.chunk_bytes);
        self.size.saturating_sub(start).min(self.chunk_bytes)
    }
}

/// Whether `s` has the form of a SHA-256 in hexadecimal (either case):
/// what a manifest or a message may name an attachment by, and so part of
/// a file name at the receiver.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The content key; `None` unless it is 32 bytes in hexadecimal.
pub fn content_key(key_hex: &str) -> Option<LessSafeKey> {
    let key = hex::decode(key_hex).ok()?;
    UnboundKey::new(&AES_256_GCM, &key)
        .ok()
        .map(LessSafeKey::new)
}

fn nonce(index: u32) -> Nonce {
    let mut n = [0u8; 12];
    n[8..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

/// Seals chunk `index` of attachment `id` in place (the tag is appended).
pub fn seal_in_place(key: &LessSafeKey, id: Uuid, index: u32, chunk: &mut Vec<u8>) -> Option<()> {
    key.seal_in_place_append_tag(nonce(index), Aad::from(id.as_bytes()), chunk)
        .ok()
}

/// Chunk `index` of attachment `id`, sealed with the content key.
pub fn seal_chunk(key_hex: &str, id: Uuid, index: u32, plain: &[u8]) -> Option<Vec<u8>> {
    let mut chunk = Vec::with_capacity(plain.len() + TAG_BYTES);
    chunk.extend_from_slice(plain);
    seal_in_place(&content_key(key_hex)?, id, index, &mut chunk)?;
    Some(chunk)
}

/// Opens chunk `index` of attachment `id` in place; `None` when it was not
/// sealed with this key for this place (changed, or another chunk or
/// attachment).
pub fn open_chunk(key: &LessSafeKey, id: Uuid, index: u32, mut sealed: Vec<u8>) -> Option<Vec<u8>> {
    let len = key
        .open_in_place(nonce(index), Aad::from(id.as_bytes()), &mut sealed)
        .ok()?
        .len();
    sealed.truncate(len);
    Some(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_hex() -> String {
        hex::encode([7u8; 32])
    }

    #[test]
    fn a_chunk_opens_only_where_it_was_sealed() {
        let id = Uuid::now_v7();
        let key = content_key(&key_hex()).unwrap();
        let sealed = seal_chunk(&key_hex(), id, 3, b"evidence bytes").unwrap();
        assert_eq!(sealed.len(), 14 + TAG_BYTES);
        assert_eq!(
            open_chunk(&key, id, 3, sealed.clone()).as_deref(),
            Some(&b"evidence bytes"[..])
        );
        assert_eq!(open_chunk(&key, id, 4, sealed.clone()), None);
        assert_eq!(open_chunk(&key, Uuid::now_v7(), 3, sealed.clone()), None);
        let other = content_key(&hex::encode([8u8; 32])).unwrap();
        assert_eq!(open_chunk(&other, id, 3, sealed.clone()), None);
        for at in [0, 13, 14, sealed.len() - 1] {
            let mut flipped = sealed.clone();
            flipped[at] ^= 0x20;
            assert_eq!(open_chunk(&key, id, 3, flipped), None, "byte {at}");
        }
        assert_eq!(open_chunk(&key, id, 3, sealed[..10].to_vec()), None);
    }

    #[test]
    fn manifests_are_checked_before_use() {
        let good = Manifest::new(CHUNK_BYTES * 2 + 5, "AB".repeat(32), key_hex());
        let opened = Manifest::parse(&serde_json::to_vec(&good).unwrap()).unwrap();
        assert_eq!(opened.chunks, 3);
        assert_eq!(opened.manifest.sha256, "ab".repeat(32));
        assert_eq!(opened.manifest.chunk_len(0), CHUNK_BYTES);
        assert_eq!(opened.manifest.chunk_len(2), 5);
        assert_eq!(opened.manifest.chunk_len(3), 0);
        let empty = Manifest::new(0, "ab".repeat(32), key_hex());
        assert_eq!(empty.chunks(), 1);
        assert_eq!(empty.chunk_len(0), 0);
        let bad = |change: &dyn Fn(&mut Manifest)| {
            let mut m = good.clone();
            change(&mut m);
            Manifest::parse(&serde_json::to_vec(&m).unwrap()).err()
        };
        assert_eq!(bad(&|m| m.v = 1), Some(ManifestError::Unsupported));
        assert_eq!(
            bad(&|m| m.cipher = "ChaCha20-Poly1305".into()),
            Some(ManifestError::Unsupported)
        );
        let inconsistent: [&dyn Fn(&mut Manifest); 6] = [
            &|m| m.sha256 = "../..".into(),
            &|m| m.sha256 = "zz".repeat(32),
            &|m| m.key = "00".into(),
            &|m| m.chunk_bytes = 0,
            &|m| m.chunk_bytes = CHUNK_BYTES_MAX + 1,
            &|m| {
                m.chunk_bytes = 1;
                m.size = u64::MAX;
            },
        ];
        for change in inconsistent {
            assert_eq!(bad(change), Some(ManifestError::Inconsistent));
        }
        assert!(matches!(
            Manifest::parse(b"{}"),
            Err(ManifestError::Malformed(_))
        ));
    }
}
