//! The node's custody machinery: signing key, blob store (local or S3) and
//! the custody log kept in memory, with the group-commit writer. A runtime
//! handle held in the state; the evidence operations use it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use entraide_custody_log::{Hash, MerkleLog};
use entraide_evidence::{BlobStore, LocalBlobStore, NodeKey, SignedTreeHead};
use entraide_store::{CustodyJob, Store, StoredTreeHead};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::error::{AppError, AppResult};

/// Where the node keeps its signing key, relative to the data directory.
pub const NODE_KEY_FILE: &str = entraide_evidence::signing::NODE_KEY_PATH;

#[derive(Debug, thiserror::Error)]
pub enum CustodyStartError {
    #[error(transparent)]
    Key(#[from] entraide_evidence::KeyError),
    #[error("cannot open the evidence store at {path}: {source}")]
    Blobs {
        path: String,
        source: entraide_evidence::BlobError,
    },
}

/// The node's custody machinery: signing key, blob store and the custody
/// log kept in memory (rebuilt from the database, and caught up before
/// every proof, so several replicas agree).
pub struct Custody {
    key: NodeKey,
    blobs: Box<dyn BlobStore>,
    uploads: PathBuf,
    work: PathBuf,
    /// Attachments streamed to and from peers (`outgoing/`, `incoming/`).
    attachments: PathBuf,
    node_id: String,
    log: tokio::sync::Mutex<MerkleLog>,
    writer: tokio::sync::OnceCell<CustodyWriter>,
}

type Reply = tokio::sync::oneshot::Sender<entraide_store::StoreResult<Vec<u64>>>;

/// Group commit for the custody log. Requests queue their change (an item
/// with its events, or events alone); one task writes whatever is queued in
/// a single transaction, each change in its own savepoint, and answers each
/// request once its events are durable. Concurrent requests thus share one
/// commit instead of waiting for each other's.
struct CustodyWriter {
    queue: tokio::sync::mpsc::Sender<(CustodyJob, Reply)>,
}

/// At most this many changes per transaction.
const WRITE_BATCH: usize = 512;

impl CustodyWriter {
    fn start(store: std::sync::Arc<dyn entraide_store::Store>) -> Self {
        let (queue, mut rx) = tokio::sync::mpsc::channel::<(CustodyJob, Reply)>(4 * WRITE_BATCH);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first.0];
                let mut replies = vec![first.1];
                while jobs.len() < WRITE_BATCH {
                    match rx.try_recv() {
                        Ok((job, reply)) => {
                            jobs.push(job);
                            replies.push(reply);
                        }
                        Err(_) => break,
                    }
                }
                match store.apply_custody_jobs(&jobs).await {
                    Ok(results) => {
                        for (result, reply) in results.into_iter().zip(replies) {
                            let _ = reply.send(result);
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        for reply in replies {
                            let _ = reply
                                .send(Err(entraide_store::StoreError::Database(message.clone())));
                        }
                    }
                }
            }
        });
        Self { queue }
    }
}

/// Removes the files of `dir` last modified longer ago than `age`
/// (best effort: what cannot be read or removed stays).
fn remove_older_than(dir: &Path, age: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|elapsed| elapsed > age);
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Custody {
    /// `s3`: keep content in object storage (`blob_dir` then only stages
    /// ingests and uploads).
    pub fn open(
        data_dir: &Path,
        blob_dir: &Path,
        node_id: &str,
        s3: Option<&crate::app::config::S3Settings>,
    ) -> Result<Self, CustodyStartError> {
        let key = NodeKey::load_or_create(&data_dir.join(NODE_KEY_FILE))?;
        let blob_err = |source| CustodyStartError::Blobs {
            path: blob_dir.display().to_string(),
            source,
        };
        let blobs: Box<dyn BlobStore> = match s3 {
            None => Box::new(LocalBlobStore::open(blob_dir).map_err(blob_err)?),
            Some(settings) => Box::new(
                crate::app::blob_s3::S3BlobStore::new(settings, &blob_dir.join("staging"))
                    .map_err(blob_err)?,
            ),
        };
        // Uploads and packages being built live beside the blobs (same
        // file system: a finished upload is renamed into place).
        let uploads = blob_dir.join("uploads");
        let work = blob_dir.join("work");
        let attachments = blob_dir.join("attachments");
        for dir in [
            &uploads,
            &work,
            &attachments.join("outgoing"),
            &attachments.join("incoming"),
        ] {
            std::fs::create_dir_all(dir)
                .map_err(|e| blob_err(entraide_evidence::BlobError::Io(e)))?;
        }
        // Attachments outlive their manifest message (seven days) only if
        // a transfer was abandoned: neither side can finish them any more.
        for dir in [attachments.join("outgoing"), attachments.join("incoming")] {
            remove_older_than(&dir, std::time::Duration::from_secs(8 * 86_400));
        }
        Ok(Self {
            key,
            blobs,
            uploads,
            work,
            attachments,
            node_id: node_id.to_owned(),
            log: tokio::sync::Mutex::new(MerkleLog::new()),
            writer: tokio::sync::OnceCell::new(),
        })
    }

    pub fn key(&self) -> &NodeKey {
        &self.key
    }

    pub fn blobs(&self) -> &dyn BlobStore {
        self.blobs.as_ref()
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn upload_path(&self, id: Uuid) -> PathBuf {
        self.uploads.join(id.to_string())
    }

    /// Where attachments to peers wait (`outgoing`) and attachments from
    /// peers arrive (`incoming`).
    pub fn attachment_dir(&self, direction: &str) -> PathBuf {
        self.attachments.join(direction)
    }

    /// A fresh path for a package being built or received.
    pub fn work_path(&self, what: &str) -> PathBuf {
        self.work
            .join(format!("{}-{what}-{}", std::process::id(), Uuid::new_v4()))
    }

    /// Writes a custody change through the group-commit writer; returns the
    /// leaf indices of its events once they are committed.
    pub async fn write(
        &self,
        store: &Arc<dyn Store>,
        job: CustodyJob,
    ) -> Result<Vec<u64>, entraide_store::StoreError> {
        let writer = self
            .writer
            .get_or_init(|| async { CustodyWriter::start(store.clone()) })
            .await;
        let (reply, answer) = tokio::sync::oneshot::channel();
        writer.queue.send((job, reply)).await.map_err(|_| {
            entraide_store::StoreError::Database("the custody writer stopped".into())
        })?;
        answer.await.map_err(|_| {
            entraide_store::StoreError::Database("the custody writer stopped".into())
        })?
    }

    /// The in-memory log, caught up with the database.
    async fn synced(
        &self,
        store: &Arc<dyn Store>,
    ) -> AppResult<tokio::sync::MutexGuard<'_, MerkleLog>> {
        let mut log = self.log.lock().await;
        loop {
            let batch = store.custody_leaf_hashes(log.size(), 100_000).await?;
            if batch.is_empty() {
                break;
            }
            for h in batch {
                let hash = Hash::from_hex(&h)
                    .map_err(|e| AppError::Internal(format!("stored leaf hash: {e}")))?;
                log.append(hash);
            }
        }
        Ok(log)
    }

    /// Signs the current tree head (or returns the one already signed at
    /// this size); `exported` marks it as having left the node.
    pub async fn sign_tree_head(
        &self,
        store: &Arc<dyn Store>,
        exported: bool,
    ) -> AppResult<SignedTreeHead> {
        let log = self.synced(store).await?;
        let size = log.size();
        let root = log.root();
        drop(log);
        if let Some(existing) = store.tree_head(size).await? {
            if exported && !existing.exported {
                store.mark_tree_head_exported(size).await?;
            }
            return stored_to_signed(&self.node_id, &existing);
        }
        let now = now_millis();
        let head = SignedTreeHead::sign(&self.key, &self.node_id, size, root, now);
        store
            .store_tree_head(&StoredTreeHead {
                tree_size: size,
                root_hash: root.to_hex(),
                signed_at: entraide_store::from_millis(now)?,
                signature: head.signature.clone(),
                public_key: head.public_key.clone(),
                exported,
            })
            .await?;
        // Another replica may have signed this size first: use its head.
        match store.tree_head(size).await? {
            Some(stored) => {
                if exported && !stored.exported {
                    store.mark_tree_head_exported(size).await?;
                }
                stored_to_signed(&self.node_id, &stored)
            }
            None => Ok(head),
        }
    }

    /// Signs a new tree head if the log grew since the last one (called
    /// every minute by the node).
    pub async fn sign_if_grown(&self, store: &Arc<dyn Store>) -> AppResult<()> {
        let size = store.custody_log_size().await?;
        let latest = store.latest_tree_head().await?.map(|h| h.tree_size);
        if latest != Some(size) {
            self.sign_tree_head(store, false).await?;
        }
        Ok(())
    }

    pub async fn inclusion_proof(
        &self,
        store: &Arc<dyn Store>,
        index: u64,
        tree_size: u64,
    ) -> AppResult<Vec<Hash>> {
        let log = self.synced(store).await?;
        log.inclusion_proof(index, tree_size)
            .map_err(|e| AppError::BadRequest {
                code: "invalid_proof_request",
                detail: e.to_string(),
            })
    }

    pub async fn consistency_proof(
        &self,
        store: &Arc<dyn Store>,
        from: u64,
        to: u64,
    ) -> AppResult<Vec<Hash>> {
        let log = self.synced(store).await?;
        log.consistency_proof(from, to)
            .map_err(|e| AppError::BadRequest {
                code: "invalid_proof_request",
                detail: e.to_string(),
            })
    }

    /// Recomputes the log from the database and checks it against every
    /// tree head the node signed: a rewritten history shows here.
    pub async fn check_log(&self, store: &Arc<dyn Store>) -> AppResult<LogCheck> {
        let log = self.synced(store).await?;
        let mut check = LogCheck {
            size: log.size(),
            heads_checked: 0,
            mismatches: Vec::new(),
        };
        let mut heads = store.exported_tree_heads().await?;
        if let Some(latest) = store.latest_tree_head().await? {
            heads.push(latest);
        }
        for head in heads {
            check.heads_checked += 1;
            let signed = stored_to_signed(&self.node_id, &head)?;
            let ok = signed.verify()
                && log
                    .root_at(head.tree_size)
                    .is_ok_and(|root| root == signed.root_hash);
            if !ok {
                check.mismatches.push(head.tree_size);
            }
        }
        Ok(check)
    }
}

/// The custody log against the node's own signed tree heads.
#[derive(Debug, Clone)]
pub struct LogCheck {
    pub size: u64,
    pub heads_checked: u64,
    /// Sizes whose signed root the stored log no longer reproduces.
    pub mismatches: Vec<u64>,
}

fn stored_to_signed(node: &str, h: &StoredTreeHead) -> AppResult<SignedTreeHead> {
    Ok(SignedTreeHead {
        node: node.to_owned(),
        tree_size: h.tree_size,
        root_hash: Hash::from_hex(&h.root_hash)
            .map_err(|e| AppError::Internal(format!("stored root: {e}")))?,
        timestamp_ms: entraide_store::to_millis(h.signed_at),
        public_key: h.public_key.clone(),
        signature: h.signature.clone(),
    })
}

pub fn now_millis() -> i64 {
    entraide_store::to_millis(OffsetDateTime::now_utc())
}

/// The current instant, to the millisecond (as stored).
pub fn now() -> OffsetDateTime {
    entraide_store::from_millis(now_millis()).unwrap_or_else(|_| OffsetDateTime::now_utc())
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandoned_attachment_files_are_swept_and_recent_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("fr-pc247-old.part");
        let recent = dir.path().join("fr-pc247-recent.part");
        std::fs::write(&old, b"x").unwrap();
        std::fs::write(&recent, b"y").unwrap();
        let nine_days_ago =
            std::time::SystemTime::now() - std::time::Duration::from_secs(9 * 86_400);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(nine_days_ago)
            .unwrap();
        remove_older_than(dir.path(), std::time::Duration::from_secs(8 * 86_400));
        assert!(!old.exists());
        assert!(recent.exists());
    }
}
