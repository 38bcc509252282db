//! The spools beside the blob store: `attachments/outgoing` (a file
//! waiting for its peer, with its content key) and `attachments/incoming`
//! (a file arriving, then complete), written for this process's user only.

use std::io::Write;
use std::path::{Path, PathBuf};

use entraide_domain::NodeId;
use uuid::Uuid;

use crate::app::error::AppError;
use crate::app::state::AppState;

pub(crate) fn io_err(e: std::io::Error) -> AppError {
    AppError::Internal(format!("attachment: {e}"))
}

pub(crate) fn joined(e: tokio::task::JoinError) -> AppError {
    AppError::Internal(format!("attachment: {e}"))
}

/// Where a file waits for its peer, and what the sender keeps beside it.
pub(crate) fn outgoing(app: &AppState, id: Uuid) -> (PathBuf, PathBuf) {
    let dir = app.custody.attachment_dir("outgoing");
    (dir.join(id.to_string()), dir.join(format!("{id}.json")))
}

/// A peer's id as a part of a file name: only a valid node id (letters,
/// digits and hyphens) is, whatever was stored.
pub(crate) fn sender_id(node_id: &str) -> Result<NodeId, AppError> {
    NodeId::parse(node_id)
        .ok()
        .filter(|id| id.as_str() == node_id)
        .ok_or_else(|| AppError::Internal(format!("peer id {node_id:?} is not a node id")))
}

/// Where an attachment from `sender` is written while it arrives, and
/// where it is once complete: named with the SHA-256 it was checked
/// against, so that only a message naming that hash can take it.
pub(crate) fn incoming(
    app: &AppState,
    sender: &NodeId,
    id: Uuid,
    sha256: &str,
) -> (PathBuf, PathBuf) {
    let dir = app.custody.attachment_dir("incoming");
    (
        dir.join(format!("{sender}-{id}.part")),
        dir.join(format!("{sender}-{id}.{sha256}")),
    )
}

/// Writes a small file only this process's user can read.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = private_options().truncate(true).write(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

pub(crate) fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}
