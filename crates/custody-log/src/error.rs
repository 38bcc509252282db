//! Why a proof cannot be produced or does not verify.

use crate::hash::Hash;

/// Why a proof cannot be produced by a [`crate::MerkleLog`], or why a proof
/// is rejected by [`crate::verify_inclusion`] / [`crate::verify_consistency`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not smaller than the tree size.
    #[error("leaf index {index} is out of range for a tree of size {tree_size}")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The size of the tree the proof is for.
        tree_size: u64,
    },
    /// A tree size larger than the log itself was asked for.
    #[error("tree size {tree_size} exceeds the size of the log ({log_size} leaves)")]
    TreeSizeOutOfRange {
        /// The tree size asked for.
        tree_size: u64,
        /// The number of leaves in the log.
        log_size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizesOutOfOrder {
        /// The size of the older tree.
        old_size: u64,
        /// The size of the newer tree.
        new_size: u64,
    },
    /// The proof does not have the number of hashes that the sizes and
    /// index determine.
    #[error("proof has {actual} hashes, expected {expected} for these sizes")]
    WrongProofLength {
        /// The number of hashes the proof must have.
        expected: usize,
        /// The number of hashes the proof has.
        actual: usize,
    },
    /// The root recomputed from an inclusion proof is not the expected root.
    #[error("inclusion proof leads to root {computed}, expected {expected}")]
    RootMismatch {
        /// The root recomputed from the leaf and the proof.
        computed: Hash,
        /// The root the proof was checked against.
        expected: Hash,
    },
    /// The old root recomputed from a consistency proof is not the expected
    /// old root.
    #[error("consistency proof leads to old root {computed}, expected {expected}")]
    OldRootMismatch {
        /// The old root recomputed from the proof.
        computed: Hash,
        /// The old root the proof was checked against.
        expected: Hash,
    },
    /// The new root recomputed from a consistency proof is not the expected
    /// new root.
    #[error("consistency proof leads to new root {computed}, expected {expected}")]
    NewRootMismatch {
        /// The new root recomputed from the proof.
        computed: Hash,
        /// The new root the proof was checked against.
        expected: Hash,
    },
}
