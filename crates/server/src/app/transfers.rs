//! Attachments being received from peers, kept in the state between the
//! requests that carry their chunks: each one's manifest, opened once, and
//! the running SHA-256 of the bytes written so far. The receiving itself
//! is the transport's (`federation::attachments::incoming`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use entraide_federation::attachment::{ContentKey, Manifest};
use sha2::Sha256;
use uuid::Uuid;

/// Attachments being received, by sender and manifest id.
#[derive(Default)]
pub struct Incoming {
    transfers: Mutex<HashMap<(String, Uuid), Arc<Transfer>>>,
}

impl Incoming {
    fn map(&self) -> MutexGuard<'_, HashMap<(String, Uuid), Arc<Transfer>>> {
        self.transfers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The transfer of attachment `id` from `sender`, if one is under way.
    pub fn find(&self, sender: &str, id: Uuid) -> Option<Arc<Transfer>> {
        self.map().get(&(sender.to_owned(), id)).cloned()
    }

    /// Keeps `t` as the transfer of attachment `id` from `sender`, unless
    /// another request kept one first (then that one); transfers abandoned
    /// for longer than `lifetime` are dropped on the way.
    pub fn keep(
        &self,
        sender: String,
        id: Uuid,
        t: Arc<Transfer>,
        lifetime: std::time::Duration,
    ) -> Arc<Transfer> {
        let mut map = self.map();
        map.retain(|_, t| t.opened.elapsed() < lifetime);
        map.entry((sender, id)).or_insert(t).clone()
    }

    /// Drops a transfer that is complete or discarded.
    pub fn forget(&self, sender: &str, id: Uuid) {
        self.map().remove(&(sender.to_owned(), id));
    }
}

/// One attachment on its way in: its manifest, opened once, and what has
/// been written.
pub struct Transfer {
    pub manifest: Manifest,
    pub key: ContentKey,
    pub chunks: u32,
    pub part: PathBuf,
    pub done: PathBuf,
    pub opened: std::time::Instant,
    /// Woken when a chunk has been written (one that came ahead waits).
    pub written: tokio::sync::Notify,
    /// Set while a flush of written chunks to disk runs in the background.
    pub flushing: Arc<AtomicBool>,
    pub state: tokio::sync::Mutex<Written>,
}

/// The bytes in the `.part` file this process has hashed.
pub struct Written {
    pub len: u64,
    /// `None` until caught up with the file (after a restart, a failed
    /// write, or chunks written by another replica).
    pub hasher: Option<Sha256>,
}

impl Transfer {
    /// Chunks held: every chunk when complete, else the whole chunks in
    /// the `.part` file (a chunk is written whole, the last one only once
    /// the file matches its hash).
    pub fn held(&self) -> u32 {
        if self.done.is_file() {
            return self.chunks;
        }
        let len = std::fs::metadata(&self.part)
            .map(|md| md.len())
            .unwrap_or(0);
        u32::try_from(len / self.manifest.chunk_bytes).unwrap_or(u32::MAX)
    }
}
