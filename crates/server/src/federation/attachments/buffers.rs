//! Chunk buffers kept for the next chunk. A fresh 4 MiB buffer per chunk
//! costs page faults and zeroing (and, on a virtual machine, memory the
//! host must map in again); a few kept ones are reused on both sides.

use entraide_federation::attachment::{CHUNK_BYTES, TAG_BYTES};

use super::wire::IN_FLIGHT;

static BUFFERS: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
/// At most this many are kept (32 MiB with 4 MiB chunks).
const BUFFERS_KEPT: usize = 2 * IN_FLIGHT + 2;

/// An empty buffer for a sealed chunk of up to `chunk_bytes`.
pub(crate) fn chunk_buffer(chunk_bytes: u64) -> Vec<u8> {
    let capacity = usize::try_from(chunk_bytes).unwrap_or(usize::MAX) + TAG_BYTES;
    let kept = BUFFERS.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let mut buf = kept.unwrap_or_default();
    buf.clear();
    buf.reserve_exact(capacity);
    buf
}

/// Keeps `buf` for a later chunk, if it is the size of this node's chunks
/// (not a peer's larger ones) and there is room.
pub(crate) fn give_back(buf: Vec<u8>) {
    let chunk = usize::try_from(CHUNK_BYTES).unwrap_or(usize::MAX);
    if buf.capacity() < chunk || buf.capacity() > chunk + chunk / 2 {
        return;
    }
    let mut kept = BUFFERS.lock().unwrap_or_else(|e| e.into_inner());
    if kept.len() < BUFFERS_KEPT {
        kept.push(buf);
    }
}
