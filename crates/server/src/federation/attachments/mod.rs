//! Large attachments between nodes, streamed outside the envelope format.
//!
//! The sender queues one small `attachment` message — the manifest: size,
//! SHA-256 of the file, chunk size and a random AES-256-GCM content key,
//! all inside the signed, HPKE-encrypted envelope — and keeps the file in
//! its outgoing spool. Once the peer has stored the manifest (its signed
//! receipt), the outbox worker pushes the chunks, each sealed with the
//! content key (the chunk's number as nonce, the attachment's id as
//! associated data) in its own HTTP-signed
//! `PUT /federation/attachments/{id}/{n}`, the signature bound to the
//! chunk's authentication tag. The receiver opens each chunk (anything
//! changed, or sealed for another attachment or place, does not open),
//! appends it in order while hashing what it writes, and accepts the last
//! chunk only if the whole file matches the manifest's SHA-256; it answers
//! how many chunks it holds — where a cut transfer resumes
//! (`GET /federation/attachments/{id}`). The message counts as delivered
//! only when the last chunk is in; until then it keeps its place in the
//! peer's queue, so the message that uses the attachment (an evidence
//! package) arrives after it. Memory stays at a few chunks whatever the
//! size; each byte is read once, written once and hashed once, on the
//! receiving side, as a plain upload that checks its hash would.
//!
//! `outgoing` is the sender's side, `incoming` the receiver's.

pub mod buffers;
pub mod incoming;
pub mod outgoing;
pub mod spool;
pub mod wire;

pub use entraide_federation::attachment::{
    open_chunk, seal_chunk, Manifest, CHUNK_BYTES, CIPHER, MANIFEST_VERSION,
};
pub use incoming::{put_chunk, status, take};
pub use outgoing::{forget_outgoing, push, send, PushError};
pub use wire::{AttachmentRef, Progress};
