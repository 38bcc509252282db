//! The pure core of Entraide's tamper-evident chain-of-custody log: a Merkle
//! tree exactly as in RFC 6962 section 2.1 (restated in RFC 9162 section
//! 2.1), with no I/O.
//!
//! - [`leaf_hash`] and [`node_hash`]: `SHA-256(0x00 || data)` and
//!   `SHA-256(0x01 || left || right)` (RFC 6962 section 2.1).
//! - [`root`]: the Merkle Tree Hash of a list of leaf hashes, by the
//!   recursive definition (RFC 6962 section 2.1).
//! - [`MerkleLog`]: an append-only in-memory tree that keeps every leaf hash
//!   and every complete (perfect) subtree hash, so that appending costs
//!   amortised one hash, and a root of any past size, an inclusion proof
//!   (RFC 6962 section 2.1.1) or a consistency proof (section 2.1.2) costs
//!   `O(log n)` hashes.
//! - [`verify_inclusion`] and [`verify_consistency`]: offline verification
//!   of those proofs against published roots, by the algorithms of RFC 9162
//!   sections 2.1.3.2 and 2.1.4.2. They never panic; every rejection is a
//!   [`ProofError`].
//!
//! Sizes and indices are `u64`, as in the RFCs. Hashes are [`Hash`](struct@Hash), shown
//! and (de)serialised as 64 hexadecimal digits.
//!
//! ```
//! use entraide_custody_log::{leaf_hash, verify_consistency, verify_inclusion, MerkleLog};
//!
//! let mut log = MerkleLog::new();
//! for event in ["sealed", "transferred", "received", "analysed"] {
//!     log.append(leaf_hash(event.as_bytes()));
//! }
//! let head_then = (log.size(), log.root());
//! let index = log.append(leaf_hash(b"returned"));
//! let head_now = (log.size(), log.root());
//!
//! // A client holding only the published heads checks the new entry...
//! let proof = log.inclusion_proof(index, head_now.0)?;
//! verify_inclusion(&leaf_hash(b"returned"), index, head_now.0, &proof, &head_now.1)?;
//! // ...and that the log only grew since the head it saw before.
//! let proof = log.consistency_proof(head_then.0, head_now.0)?;
//! verify_consistency(head_then.0, head_now.0, &head_then.1, &head_now.1, &proof)?;
//! # Ok::<(), entraide_custody_log::ProofError>(())
//! ```

mod error;
mod hash;
mod log;
mod tree;
mod verify;

pub use error::ProofError;
pub use hash::{empty_root, leaf_hash, node_hash, Hash, HashParseError, HASH_LEN};
pub use log::MerkleLog;
pub use tree::root;
pub use verify::{
    consistency_proof_len, inclusion_proof_len, root_from_inclusion_proof, verify_consistency,
    verify_inclusion,
};
