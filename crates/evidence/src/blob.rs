//! The content-addressed blob store on a local directory.
//! Ingest reads a stream once; SHA-256 is computed on one thread while the
//! bytes are written on another, so ingest runs at the speed of the hash and
//! memory stays constant (a few chunks in flight) whatever the size. A blob
//! is visible under its hash only once complete and synced: an interrupted
//! ingest leaves a temporary file that the next `open` removes.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use md5::Md5;
use sha1::Sha1;
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
    #[error("{0}")]
    Move(String),
}

/// What an ingest produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// SHA-256, lower-case hexadecimal.
    pub sha256: String,
    /// MD5 and SHA-1, when asked for (E01-era tooling still quotes them).
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub size: u64,
    /// False when the same content was already stored (nothing written).
    pub new: bool,
}

/// Where evidence content is kept: a local directory ([`LocalBlobStore`])
/// or S3-compatible object storage (in the node). Content is addressed by
/// its SHA-256. The methods block: call them from blocking threads.
pub trait BlobStore: Send + Sync {
    /// Reads `source` to its end, storing it under its SHA-256 (one pass).
    fn store_stream(
        &self,
        source: &mut dyn Read,
        options: &IngestOptions<'_>,
    ) -> Result<Ingested, BlobError>;
    /// Takes a complete local file (a finished resumable upload).
    fn store_file(&self, path: &Path, legacy_hashes: bool) -> Result<Ingested, BlobError>;
    /// Moves a file of the node's file system into the store instead of
    /// copying it (`entraide evidence ingest --move`): the original name
    /// is gone afterwards.
    fn store_moved(&self, path: &Path, options: &IngestOptions<'_>) -> Result<Ingested, BlobError>;
    /// The content, if stored.
    fn open(&self, sha256: &str) -> Result<Option<Box<dyn Read + Send>>, BlobError>;
    fn contains(&self, sha256: &str) -> Result<bool, BlobError>;
    /// Removes content (disposal); false when it was not there.
    fn remove(&self, sha256: &str) -> Result<bool, BlobError>;
    /// Every stored hash.
    fn list(&self) -> Result<Vec<String>, BlobError>;
    /// Where the content lives, for operators.
    fn describe(&self) -> String;
    /// Recomputes a blob's hash: false when the stored bytes no longer
    /// match their name, an error when the blob is missing.
    fn verify(&self, sha256: &str) -> Result<bool, BlobError> {
        let mut reader = self.open(sha256)?.ok_or_else(|| {
            BlobError::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("blob {sha256} is missing"),
            ))
        })?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(hex::encode(h.finalize()) == sha256)
    }
}

impl BlobStore for LocalBlobStore {
    fn store_stream(
        &self,
        source: &mut dyn Read,
        options: &IngestOptions<'_>,
    ) -> Result<Ingested, BlobError> {
        self.ingest_with(source, options)
    }

    fn store_file(&self, path: &Path, legacy_hashes: bool) -> Result<Ingested, BlobError> {
        self.adopt(path, legacy_hashes)
    }

    fn store_moved(&self, path: &Path, options: &IngestOptions<'_>) -> Result<Ingested, BlobError> {
        self.ingest_by_move(path, options)
    }

    fn open(&self, sha256: &str) -> Result<Option<Box<dyn Read + Send>>, BlobError> {
        match File::open(self.path(sha256)?) {
            Ok(f) => Ok(Some(Box::new(f))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn contains(&self, sha256: &str) -> Result<bool, BlobError> {
        LocalBlobStore::contains(self, sha256)
    }

    fn remove(&self, sha256: &str) -> Result<bool, BlobError> {
        LocalBlobStore::remove(self, sha256)
    }

    fn list(&self) -> Result<Vec<String>, BlobError> {
        LocalBlobStore::list(self)
    }

    fn describe(&self) -> String {
        format!("local directory {}", self.root.display())
    }

    fn verify(&self, sha256: &str) -> Result<bool, BlobError> {
        LocalBlobStore::verify(self, sha256)
    }
}

/// How to ingest.
#[derive(Default)]
pub struct IngestOptions<'a> {
    /// Also compute MD5 and SHA-1.
    pub legacy_hashes: bool,
    /// Called with the bytes read so far after every chunk.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
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

/// Reads until `buf` is full or the source ends; how many bytes it holds.
pub fn read_full(source: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = source.read(&mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// What one pass over the content computed.
struct Hashed {
    sha256: String,
    md5: Option<String>,
    sha1: Option<String>,
    size: u64,
}

/// Reads `source` to its end once: SHA-256 (and the legacy hashes if asked)
/// on a second thread while this one reads and, with a sink, writes.
/// Buffers go round: the reader fills one (and writes it), the hasher
/// hashes it and hands it back. No allocation per chunk, at most
/// IN_FLIGHT chunks in memory.
fn hash_pipeline(
    mut source: impl Read,
    mut sink: Option<&mut File>,
    options: &IngestOptions<'_>,
) -> Result<Hashed, BlobError> {
    let (to_hasher, full) = mpsc::sync_channel::<(Vec<u8>, usize)>(IN_FLIGHT);
    let (to_reader, empty) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        to_reader
            .send(vec![0u8; CHUNK])
            .map_err(|_| BlobError::Hasher)?;
    }
    let legacy = options.legacy_hashes;
    let hasher = std::thread::spawn(move || {
        let mut h = Sha256::new();
        let mut old = legacy.then(|| (Md5::new(), Sha1::new()));
        for (buf, len) in full {
            h.update(&buf[..len]);
            if let Some((md5, sha1)) = old.as_mut() {
                md5.update(&buf[..len]);
                sha1.update(&buf[..len]);
            }
            // The reader may be gone (finished or failed): keep hashing
            // what is queued all the same.
            let _ = to_reader.send(buf);
        }
        (
            h.finalize(),
            old.map(|(md5, sha1)| (hex::encode(md5.finalize()), hex::encode(sha1.finalize()))),
        )
    });
    let mut size = 0u64;
    let result = (|| -> Result<(), BlobError> {
        loop {
            let mut buf = empty.recv().map_err(|_| BlobError::Hasher)?;
            let filled = read_full(&mut source, &mut buf)?;
            if filled == 0 {
                return Ok(());
            }
            if let Some(file) = sink.as_mut() {
                file.write_all(&buf[..filled])?;
            }
            size += filled as u64;
            if let Some(progress) = options.progress {
                progress(size);
            }
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
    let (digest, old) = hasher.join().map_err(|_| BlobError::Hasher)?;
    result?;
    let (md5, sha1) = match old {
        Some((m, s)) => (Some(m), Some(s)),
        None => (None, None),
    };
    Ok(Hashed {
        sha256: hex::encode(digest),
        md5,
        sha1,
        size,
    })
}

impl LocalBlobStore {
    /// Opens (creating) the store and removes what interrupted ingests left:
    /// temporary files of processes that no longer run (their name starts
    /// with the process id), or older than a day where that cannot be told.
    pub fn open(root: &Path) -> Result<Self, BlobError> {
        fs::create_dir_all(root.join("sha256"))?;
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp)?;
        let proc_visible = Path::new("/proc/self").exists();
        for entry in fs::read_dir(&tmp)? {
            let entry = entry?;
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
            let orphan = match pid {
                Some(pid) if proc_visible => {
                    pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists()
                }
                _ => entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > std::time::Duration::from_secs(86_400)),
            };
            if orphan {
                fs::remove_file(path)?;
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The directory of the store.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every stored blob's hash (for scrubbing and garbage collection).
    pub fn list(&self) -> Result<Vec<String>, BlobError> {
        let mut out = Vec::new();
        let base = self.root.join("sha256");
        for a in fs::read_dir(&base)? {
            let a = a?.path();
            if !a.is_dir() {
                continue;
            }
            for b in fs::read_dir(&a)? {
                let b = b?.path();
                if !b.is_dir() {
                    continue;
                }
                for f in fs::read_dir(&b)? {
                    let name = f?.file_name().to_string_lossy().into_owned();
                    if valid_hash(&name).is_ok() {
                        out.push(name);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes a blob (disposal); false when it was not there.
    pub fn remove(&self, sha256: &str) -> Result<bool, BlobError> {
        let path = self.path(sha256)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
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
    pub fn ingest(&self, source: impl Read) -> Result<Ingested, BlobError> {
        self.ingest_with(source, &IngestOptions::default())
    }

    /// Reads `source` to its end, storing it under its SHA-256, with the
    /// legacy hashes if asked and progress reported after every chunk.
    pub fn ingest_with(
        &self,
        source: impl Read,
        options: &IngestOptions<'_>,
    ) -> Result<Ingested, BlobError> {
        let tmp_path = self.tmp_path("");
        let mut file = File::create(&tmp_path)?;
        let hashed = match hash_pipeline(source, Some(&mut file), options) {
            Ok(h) => h,
            Err(e) => {
                let _ = fs::remove_file(&tmp_path);
                return Err(e);
            }
        };
        file.sync_all()?;
        drop(file);
        self.place(&tmp_path, hashed)
    }

    /// A new temporary name in `tmp/`, starting with the process id so that
    /// `open` can tell a leftover of a dead process.
    fn tmp_path(&self, tag: &str) -> PathBuf {
        self.root.join("tmp").join(format!(
            "{}-{tag}{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ))
    }

    /// Puts a complete, synced file under its hash (or drops it when the
    /// content is already stored) and makes the rename durable.
    fn place(&self, file_path: &Path, hashed: Hashed) -> Result<Ingested, BlobError> {
        let Hashed {
            sha256,
            md5,
            sha1,
            size,
        } = hashed;
        let target = self.path(&sha256)?;
        let new = !target.is_file();
        if new {
            if let Some(dir) = target.parent() {
                fs::create_dir_all(dir)?;
            }
            fs::rename(file_path, &target)?;
            if let Some(dir) = target.parent() {
                File::open(dir)?.sync_all()?;
            }
        } else {
            fs::remove_file(file_path)?;
        }
        Ok(Ingested {
            sha256,
            md5,
            sha1,
            size,
            new,
        })
    }

    /// Takes a complete file written elsewhere on the same file system (a
    /// finished resumable upload): hashes it in one pass and moves it into
    /// place, or removes it if the content is already stored.
    pub fn adopt(&self, file_path: &Path, legacy_hashes: bool) -> Result<Ingested, BlobError> {
        let file = File::open(file_path)?;
        file.sync_all()?;
        let hashed = hash_pipeline(
            &file,
            None,
            &IngestOptions {
                legacy_hashes,
                progress: None,
            },
        )?;
        drop(file);
        self.place(file_path, hashed)
    }

    /// Moves a file into the store instead of copying it: for disk images
    /// already on the store's file system, ingest then costs one read at
    /// the speed of the hash and no second copy on disk. The file gets a
    /// second name inside the store first (a hard link: nothing is copied,
    /// and a crash at any point leaves the original where it was), is
    /// hashed through it, goes under its hash, and only then loses its old
    /// name. A file written to while it is hashed (size or modification
    /// time changed) is refused and left where it was.
    pub fn ingest_by_move(
        &self,
        source: &Path,
        options: &IngestOptions<'_>,
    ) -> Result<Ingested, BlobError> {
        let before = fs::metadata(source)?;
        if !before.is_file() {
            return Err(BlobError::Move(format!(
                "{} is not a regular file",
                source.display()
            )));
        }
        let link = self.tmp_path("move-");
        if let Err(e) = fs::hard_link(source, &link) {
            return Err(BlobError::Move(
                if e.kind() == io::ErrorKind::CrossesDevices {
                    format!(
                        "{} is on another file system than the evidence store ({}); \
                     moving needs both on the same one (without moving, the file is copied)",
                        source.display(),
                        self.root.display()
                    )
                } else {
                    format!("cannot move {} into the store: {e}", source.display())
                },
            ));
        }
        let hashed = (|| -> Result<Hashed, BlobError> {
            let file = File::open(&link)?;
            file.sync_all()?;
            let hashed = hash_pipeline(&file, None, options)?;
            let after = file.metadata()?;
            if after.len() != before.len()
                || hashed.size != before.len()
                || after.modified().ok() != before.modified().ok()
            {
                return Err(BlobError::Move(format!(
                    "{} was written to while it was being ingested; it is left where it was",
                    source.display()
                )));
            }
            Ok(hashed)
        })();
        let hashed = match hashed {
            Ok(h) => h,
            Err(e) => {
                let _ = fs::remove_file(&link);
                return Err(e);
            }
        };
        let ingested = self.place(&link, hashed)?;
        fs::remove_file(source)?;
        let parent = match source.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)?.sync_all()?;
        Ok(ingested)
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
        // An interrupted ingest's temporary file goes at the next open
        // once its process is gone (no process has id 4194304 + 1).
        fs::write(dir.path().join("tmp").join("4194305-1"), b"partial").unwrap();
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

    #[test]
    fn moving_ingest_links_hashes_and_removes_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(&dir.path().join("store")).unwrap();
        let data: Vec<u8> = (0..(CHUNK * 2 + 77)).map(|i| (i % 253) as u8).collect();
        let image = dir.path().join("image.dd");
        fs::write(&image, &data).unwrap();
        let seen = std::sync::atomic::AtomicU64::new(0);
        let progress = |n: u64| seen.store(n, std::sync::atomic::Ordering::Relaxed);
        let got = store
            .ingest_by_move(
                &image,
                &IngestOptions {
                    legacy_hashes: true,
                    progress: Some(&progress),
                },
            )
            .unwrap();
        assert_eq!(got.sha256, hex::encode(Sha256::digest(&data)));
        assert_eq!(got.md5, Some(hex::encode(Md5::digest(&data))));
        assert_eq!(got.size, data.len() as u64);
        assert!(got.new);
        assert_eq!(seen.into_inner(), data.len() as u64);
        assert!(!image.exists(), "the original name is gone");
        assert_eq!(fs::read(store.path(&got.sha256).unwrap()).unwrap(), data);
        assert_eq!(
            fs::read_dir(dir.path().join("store/tmp")).unwrap().count(),
            0
        );

        // The same content again: already stored, the second file goes too.
        fs::write(&image, &data).unwrap();
        let again = store
            .ingest_by_move(&image, &IngestOptions::default())
            .unwrap();
        assert!(!again.new);
        assert!(!image.exists());
        assert!(store.verify(&got.sha256).unwrap());
    }

    #[test]
    fn a_file_written_while_moved_in_is_refused_and_left_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(&dir.path().join("store")).unwrap();
        let image = dir.path().join("image.dd");
        fs::write(&image, vec![7u8; CHUNK * 2]).unwrap();
        // Another program appends to the image while it is being hashed.
        let writer = |_: u64| {
            let mut f = fs::OpenOptions::new().append(true).open(&image).unwrap();
            f.write_all(b"more").unwrap();
        };
        let err = store
            .ingest_by_move(
                &image,
                &IngestOptions {
                    legacy_hashes: false,
                    progress: Some(&writer),
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("written to while"), "{err}");
        assert!(image.is_file(), "the original stays");
        assert!(store.list().unwrap().is_empty());
        assert_eq!(
            fs::read_dir(dir.path().join("store/tmp")).unwrap().count(),
            0
        );

        let err = store
            .ingest_by_move(dir.path(), &IngestOptions::default())
            .unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(store
            .ingest_by_move(&dir.path().join("missing"), &IngestOptions::default())
            .is_err());
    }

    #[test]
    fn moving_across_file_systems_is_refused_with_the_reason() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let shm = Path::new("/dev/shm");
        if !shm.is_dir()
            || fs::metadata(shm).unwrap().dev() == fs::metadata(dir.path()).unwrap().dev()
        {
            eprintln!("skipped: no second file system (/dev/shm) here");
            return;
        }
        let other = tempfile::tempdir_in(shm).unwrap();
        let image = other.path().join("image.dd");
        fs::write(&image, b"seized").unwrap();
        let store = LocalBlobStore::open(&dir.path().join("store")).unwrap();
        let err = store
            .ingest_by_move(&image, &IngestOptions::default())
            .unwrap_err();
        assert!(err.to_string().contains("another file system"), "{err}");
        assert!(image.is_file());
        assert!(store.list().unwrap().is_empty());
    }
}
