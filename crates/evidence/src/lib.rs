//! Evidence: everything about evidence that is not the database or HTTP.
//!
//! - [`blob`]: the content-addressed blob store, ingesting at the speed of
//!   the hash in one pass with constant memory;
//! - [`signing`]: the node's Ed25519 key and fingerprints;
//! - [`record`]: custody records (the bytes of each custody-log leaf) and
//!   signed tree heads;
//! - [`package`]: writing evidence packages;
//! - [`verify`]: checking a package offline, with a readable report;
//! - [`case_uco`]: the chain of custody in CASE/UCO 1.5 JSON-LD.

pub mod blob;
pub mod case_uco;
pub mod package;
pub mod record;
pub mod signing;
pub mod verify;

pub use blob::{BlobError, BlobStore, IngestOptions, Ingested, LocalBlobStore, CHUNK, IN_FLIGHT};
pub use record::{CustodyRecord, SignedTreeHead};
pub use signing::{KeyError, NodeKey, PublicKey};
pub use verify::{verify_package, Check, Msg, Outcome, Report, Subject, MESSAGES};
