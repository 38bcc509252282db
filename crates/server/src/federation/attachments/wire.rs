//! What both sides of an attachment agree on: how a message names an
//! attachment, the receiver's answer (how far a transfer has come), and
//! the limits of a transfer.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Chunks on the wire at once; the receiver takes a chunk at most this
/// far ahead of those it holds and writes them in order.
pub(crate) const IN_FLIGHT: usize = 3;
/// How long an attachment may take to arrive.
pub(crate) const LIFETIME: time::Duration = time::Duration::days(7);

/// A file too large for one message: streamed after its manifest message
/// (`outgoing`), then named with its SHA-256 in the message that uses it,
/// which travels after it in the peer's queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// The manifest message the attachment was streamed after.
    pub id: Uuid,
    pub chunks: u32,
    pub size: u64,
    pub sha256: String,
    /// The size of the chunks it was streamed in.
    pub chunk_bytes: u64,
}

/// How far a transfer has come (the receiver's answer).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    pub received_chunks: u32,
    pub chunks: u32,
}
