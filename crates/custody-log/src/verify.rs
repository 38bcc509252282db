//! Offline verification of inclusion and consistency proofs: pure functions
//! of the proof and the published tree heads, needing no access to the log.
//!
//! They follow the algorithms of RFC 9162 section 2.1.3.2 (inclusion) and
//! section 2.1.4.2 (consistency), which check RFC 6962 proofs as well (the
//! proof formats of RFC 6962 sections 2.1.1 and 2.1.2 are the same).
//!
//! Cost: one node hash per proof element, and a proof has at most
//! `ceil(log2(tree_size))` elements (inclusion) or `2 * ceil(log2(new_size))`
//! (consistency); see [`inclusion_proof_len`] and [`consistency_proof_len`].
//! The length of a proof is checked before any hashing, so an oversized proof
//! costs nothing.
//!
//! A proof binds a leaf (or an old root) to a *root*; the tree size is an
//! input beside it. Two sizes whose paths have the same shape (leaf 0 in
//! trees of 5 and 6 leaves, say) accept the same proof for the same root, so
//! take the size and the root from the same signed tree head.

use crate::error::ProofError;
use crate::hash::{empty_root, node_hash, Hash};

/// Shifts `first` and `second` right together until `first` is odd or zero
/// (the inner step of RFC 9162 sections 2.1.3.2 and 2.1.4.2).
fn shift_until_odd_or_zero(first: &mut u64, second: &mut u64) {
    while *first & 1 == 0 && *first != 0 {
        *first >>= 1;
        *second >>= 1;
    }
}

/// The number of hashes in the inclusion proof of leaf `index` in a tree of
/// `tree_size` leaves (the audit path of RFC 6962 section 2.1.1), or `None`
/// when `index >= tree_size`.
///
/// Never more than `ceil(log2(tree_size))`.
///
/// ```
/// use entraide_custody_log::inclusion_proof_len;
/// assert_eq!(inclusion_proof_len(0, 1), Some(0));
/// assert_eq!(inclusion_proof_len(5, 8), Some(3));
/// assert_eq!(inclusion_proof_len(6, 7), Some(2));
/// assert_eq!(inclusion_proof_len(0, 1_000_000), Some(20));
/// // The last leaf sits in a subtree of 64 leaves, next to 6 other subtrees.
/// assert_eq!(inclusion_proof_len(999_999, 1_000_000), Some(12));
/// assert_eq!(inclusion_proof_len(7, 7), None);
/// ```
#[must_use]
pub fn inclusion_proof_len(index: u64, tree_size: u64) -> Option<usize> {
    if index >= tree_size {
        return None;
    }
    // The iteration of RFC 9162 section 2.1.3.2, without the hashing: one
    // proof element is consumed per pass, until `sn` reaches 0.
    let (mut fn_, mut sn) = (index, tree_size - 1);
    let mut len = 0;
    while sn != 0 {
        // The hashing branch shifts further only when `fn` is even and
        // equal to `sn`.
        if fn_ & 1 == 0 && fn_ == sn {
            shift_until_odd_or_zero(&mut fn_, &mut sn);
        }
        fn_ >>= 1;
        sn >>= 1;
        len += 1;
    }
    Some(len)
}

/// The number of hashes in the consistency proof from a tree of `old_size`
/// leaves to one of `new_size` leaves (RFC 6962 section 2.1.2), or `None`
/// when `old_size > new_size`. The proof is empty when `old_size` is 0 or
/// equal to `new_size`.
///
/// Never more than `2 * ceil(log2(new_size))`.
///
/// ```
/// use entraide_custody_log::consistency_proof_len;
/// assert_eq!(consistency_proof_len(3, 3), Some(0));
/// assert_eq!(consistency_proof_len(0, 5), Some(0));
/// assert_eq!(consistency_proof_len(4, 8), Some(1));
/// assert_eq!(consistency_proof_len(6, 8), Some(3));
/// assert_eq!(consistency_proof_len(9, 8), None);
/// ```
#[must_use]
pub fn consistency_proof_len(old_size: u64, new_size: u64) -> Option<usize> {
    if old_size > new_size {
        return None;
    }
    if old_size == 0 || old_size == new_size {
        return Some(0);
    }
    // The iteration of RFC 9162 section 2.1.4.2, without the hashing.
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // The seed (the first element of the path) plus one element per pass.
    let mut path_len = 1;
    while sn != 0 {
        // The hashing branch shifts further only when `fn` is even and
        // equal to `sn`.
        if fn_ & 1 == 0 && fn_ == sn {
            shift_until_odd_or_zero(&mut fn_, &mut sn);
        }
        fn_ >>= 1;
        sn >>= 1;
        path_len += 1;
    }
    // When the old size is a power of two, the old root is the seed and is
    // not sent in the proof (RFC 9162 section 2.1.4.2, step 2).
    Some(if old_size.is_power_of_two() {
        path_len - 1
    } else {
        path_len
    })
}

/// The root that an inclusion proof leads to: the root of a tree of
/// `tree_size` leaves whose leaf `index` is `leaf_hash`, if `proof` is its
/// audit path (RFC 9162 section 2.1.3.2, steps 1 to 4).
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] when `index >= tree_size`;
/// [`ProofError::WrongProofLength`] when the proof does not have the number
/// of hashes that `index` and `tree_size` determine.
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    // Step 1: the index must be in the tree.
    let expected = inclusion_proof_len(index, tree_size)
        .ok_or(ProofError::IndexOutOfRange { index, tree_size })?;
    let wrong_length = ProofError::WrongProofLength {
        expected,
        actual: proof.len(),
    };
    if proof.len() != expected {
        return Err(wrong_length);
    }
    // Steps 2 and 3.
    let (mut fn_, mut sn) = (index, tree_size - 1);
    let mut r = *leaf_hash;
    // Step 4.
    for p in proof {
        if sn == 0 {
            return Err(wrong_length);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            // `p` is a left sibling (or `r` is the last, unpaired node).
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                shift_until_odd_or_zero(&mut fn_, &mut sn);
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5, first half: the whole path must have been used.
    if sn != 0 {
        return Err(wrong_length);
    }
    Ok(r)
}

/// Verifies that `proof` proves leaf `index` of the tree of `tree_size`
/// leaves with root `root` to be `leaf_hash` (RFC 9162 section 2.1.3.2).
///
/// Needs only the proof and the published root, not the log. Costs one node
/// hash per proof element, at most `ceil(log2(tree_size))`.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`], [`ProofError::WrongProofLength`], or
/// [`ProofError::RootMismatch`] when the proof leads to another root.
///
/// # Example
/// ```
/// use entraide_custody_log::{leaf_hash, verify_inclusion, MerkleLog, ProofError};
///
/// let mut log = MerkleLog::new();
/// for i in 0..1000u32 {
///     log.append(leaf_hash(&i.to_be_bytes()));
/// }
/// let root = log.root();
/// let proof = log.inclusion_proof(123, 1000).unwrap();
/// // O(log n): 10 hashes for 1000 leaves.
/// assert_eq!(proof.len(), 10);
/// let leaf = leaf_hash(&123u32.to_be_bytes());
/// assert_eq!(verify_inclusion(&leaf, 123, 1000, &proof, &root), Ok(()));
/// assert!(matches!(
///     verify_inclusion(&leaf, 124, 1000, &proof, &root),
///     Err(ProofError::RootMismatch { .. })
/// ));
/// ```
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(leaf_hash, index, tree_size, proof)?;
    // Step 5, second half.
    if computed == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch {
            computed,
            expected: *root,
        })
    }
}

/// Verifies that the tree of `new_size` leaves with root `new_root` extends
/// the tree of `old_size` leaves with root `old_root`, i.e. that the log only
/// appended entries in between (RFC 9162 section 2.1.4.2).
///
/// Edge cases: equal sizes need an empty proof and equal roots; an old size
/// of 0 needs an empty proof and `old_root` equal to the empty tree's root
/// ([`crate::empty_root`]), and is consistent with any new tree.
///
/// Costs at most two node hashes per proof element, at most
/// `2 * ceil(log2(new_size))` elements.
///
/// # Errors
/// [`ProofError::SizesOutOfOrder`], [`ProofError::WrongProofLength`],
/// [`ProofError::OldRootMismatch`] or [`ProofError::NewRootMismatch`].
///
/// # Example
/// ```
/// use entraide_custody_log::{leaf_hash, verify_consistency, MerkleLog};
///
/// let mut log = MerkleLog::new();
/// for i in 0..1000u32 {
///     log.append(leaf_hash(&i.to_be_bytes()));
/// }
/// let old_root = log.root_at(600).unwrap();
/// let proof = log.consistency_proof(600, 1000).unwrap();
/// assert!(proof.len() <= 2 * 10);
/// assert_eq!(verify_consistency(600, 1000, &old_root, &log.root(), &proof), Ok(()));
/// assert!(verify_consistency(600, 1000, &log.root(), &old_root, &proof).is_err());
/// ```
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    let expected = consistency_proof_len(old_size, new_size)
        .ok_or(ProofError::SizesOutOfOrder { old_size, new_size })?;
    let wrong_length = ProofError::WrongProofLength {
        expected,
        actual: proof.len(),
    };
    if proof.len() != expected {
        return Err(wrong_length);
    }
    if old_size == 0 {
        // Every tree extends the empty tree, whose root is fixed.
        let empty = empty_root();
        if *old_root != empty {
            return Err(ProofError::OldRootMismatch {
                computed: empty,
                expected: *old_root,
            });
        }
        return Ok(());
    }
    if old_size == new_size {
        // Same tree: same root, nothing to prove.
        if old_root != new_root {
            return Err(ProofError::NewRootMismatch {
                computed: *old_root,
                expected: *new_root,
            });
        }
        return Ok(());
    }

    // Step 1 (an empty path fails) is covered by the length check: for
    // 0 < old_size < new_size the path (with the seed) has at least 1 hash.
    // Step 2: when the old size is a power of two, the old tree is a complete
    // subtree of the new one and the old root is the seed of the path.
    let (seed, rest) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        proof.split_first().ok_or(wrong_length.clone())?
    };
    // Step 3.
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    // Step 4.
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    let (mut fr, mut sr) = (*seed, *seed);
    // Step 6.
    for c in rest {
        if sn == 0 {
            return Err(wrong_length);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            // `c` is a left sibling: part of both the old and the new tree.
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                shift_until_odd_or_zero(&mut fn_, &mut sn);
            }
        } else {
            // `c` is a right sibling: appended after the old tree.
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if sn != 0 {
        return Err(wrong_length);
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch {
            computed: fr,
            expected: *old_root,
        });
    }
    if sr != *new_root {
        return Err(ProofError::NewRootMismatch {
            computed: sr,
            expected: *new_root,
        });
    }
    Ok(())
}
