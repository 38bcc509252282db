//! Evidence storage: a content-addressed blob store on a local directory.
//! Ingest reads a stream once; SHA-256 is computed on one thread while the
//! bytes are written on another, so ingest runs at the speed of the hash and
//! memory stays constant (a few chunks in flight) whatever the size. A blob
//! is visible under its hash only once complete and synced: an interrupted
//! ingest leaves a temporary file that the next `open` removes.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use sha2::{Digest, Sha256};

/// Chunk size read from the source.
pub const CHUNK: usize = 1 << 20;
/// Chunks in flight between the reader, the hasher and the writer.
pub const IN_FLIGHT: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("evidence storage I/O: {0}")]
    Io(#[from] io::Error),
    #[error("'{0}' is not a SHA-256 in hexadecimal")]
    BadHash(String),
    #[error("the hashing thread stopped")]
    Hasher,
}

/// What an ingest produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// SHA-256, lower-case hexadecimal.
    pub sha256: String,
    pub size: u64,
    /// False when the same content was already stored (nothing written).
    pub new: bool,
}

pub struct LocalBlobStore {
    root: PathBuf,
}

fn valid_hash(hex: &str) -> Result<(), BlobError> {
    if hex.len() == 64
        && hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    {
        Ok(())
    } else {
        Err(BlobError::BadHash(hex.chars().take(80).collect()))
    }
}

impl LocalBlobStore {
    /// Opens (creating) the store and removes what interrupted ingests left.
    pub fn open(root: &Path) -> Result<Self, BlobError> {
        fs::create_dir_all(root.join("sha256"))?;
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp)?;
        for entry in fs::read_dir(&tmp)? {
            let path = entry?.path();
            if path.is_file() {
                fs::remove_file(path)?;
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// Where the blob with this hash lives (`sha256/ab/cd/abcd…`).
    pub fn path(&self, sha256: &str) -> Result<PathBuf, BlobError> {
        valid_hash(sha256)?;
        Ok(self
            .root
            .join("sha256")
            .join(&sha256[..2])
            .join(&sha256[2..4])
            .join(sha256))
    }

    pub fn contains(&self, sha256: &str) -> Result<bool, BlobError> {
        Ok(self.path(sha256)?.is_file())
    }

    /// Reads `source` to its end, storing it under its SHA-256.
    pub fn ingest(&self, mut source: impl Read) -> Result<Ingested, BlobError> {
        let tmp_path = self.root.join("tmp").join(format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let mut file = File::create(&tmp_path)?;
        // Buffers go round: the reader fills one and writes it to the file,
        // the hasher hashes it and hands it back. No allocation per chunk,
        // at most IN_FLIGHT chunks in memory.
        let (to_hasher, full) = mpsc::sync_channel::<(Vec<u8>, usize)>(IN_FLIGHT);
        let (to_reader, empty) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
        for _ in 0..IN_FLIGHT {
            to_reader
                .send(vec![0u8; CHUNK])
                .map_err(|_| BlobError::Hasher)?;
        }
        let hasher = std::thread::spawn(move || {
            let mut h = Sha256::new();
            for (buf, len) in full {
                h.update(&buf[..len]);
                // The reader may be gone (finished or failed): keep hashing
                // what is queued all the same.
                let _ = to_reader.send(buf);
            }
            h.finalize()
        });
        let mut size = 0u64;
        let result = (|| -> Result<(), BlobError> {
            loop {
                let mut buf = empty.recv().map_err(|_| BlobError::Hasher)?;
                let mut filled = 0;
                while filled < CHUNK {
                    let n = source.read(&mut buf[filled..])?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                if filled == 0 {
                    return Ok(());
                }
                file.write_all(&buf[..filled])?;
                size += filled as u64;
                to_hasher
                    .send((buf, filled))
                    .map_err(|_| BlobError::Hasher)?;
                if filled < CHUNK {
                    return Ok(());
                }
            }
        })();
        drop(to_hasher);
        drop(empty);
        let digest = hasher.join().map_err(|_| BlobError::Hasher)?;
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp_path);
            return Err(e);
        }
        file.sync_all()?;
        drop(file);
        let sha256 = hex::encode(digest);
        let target = self.path(&sha256)?;
        if target.is_file() {
            fs::remove_file(&tmp_path)?;
            return Ok(Ingested {
                sha256,
                size,
                new: false,
            });
        }
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::rename(&tmp_path, &target)?;
        if let Some(dir) = target.parent() {
            // Make the rename itself durable.
            File::open(dir)?.sync_all()?;
        }
        Ok(Ingested {
            sha256,
            size,
            new: true,
        })
    }

    /// Recomputes a blob's hash: false when the bytes on disk no longer
    /// match their name (corruption), error when it is missing.
    pub fn verify(&self, sha256: &str) -> Result<bool, BlobError> {
        let mut file = File::open(self.path(sha256)?)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(hex::encode(h.finalize()) == sha256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_hashes_stores_and_deduplicates() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        // More than one chunk, not a multiple of it.
        let data: Vec<u8> = (0..(CHUNK * 3 + 12345)).map(|i| (i % 251) as u8).collect();
        let got = store.ingest(data.as_slice()).unwrap();
        assert_eq!(got.sha256, hex::encode(Sha256::digest(&data)));
        assert_eq!(got.size, data.len() as u64);
        assert!(got.new);
        assert_eq!(fs::read(store.path(&got.sha256).unwrap()).unwrap(), data);
        assert!(store.verify(&got.sha256).unwrap());
        let again = store.ingest(data.as_slice()).unwrap();
        assert!(!again.new);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn empty_input_is_the_empty_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        let got = store.ingest(&[][..]).unwrap();
        assert_eq!(
            got.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(got.size, 0);
    }

    #[test]
    fn corruption_is_detected_and_leftovers_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        let got = store.ingest(&b"seized disk image"[..]).unwrap();
        fs::write(store.path(&got.sha256).unwrap(), b"tampered").unwrap();
        assert!(!store.verify(&got.sha256).unwrap());
        // An interrupted ingest's temporary file goes at the next open.
        fs::write(dir.path().join("tmp").join("left-over"), b"partial").unwrap();
        let _ = LocalBlobStore::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert!(store.path("not-a-hash").is_err());
    }

    struct Failing(usize);

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("cable pulled"));
            }
            self.0 -= 1;
            buf[0] = 1;
            Ok(1)
        }
    }

    #[test]
    fn a_failed_read_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        assert!(store.ingest(Failing(10)).is_err());
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(fs::read_dir(dir.path().join("sha256")).unwrap().count(), 0);
    }
}
