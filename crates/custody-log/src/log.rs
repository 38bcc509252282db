//! [`MerkleLog`]: an append-only, in-memory Merkle tree (RFC 6962 section
//! 2.1) that produces roots of any past size, inclusion proofs (section
//! 2.1.1) and consistency proofs (section 2.1.2) in `O(log n)` hashes.
//!
//! # Layout
//!
//! `levels[0]` holds the leaf hashes in order; `levels[h][i]` holds the root
//! of the *perfect* subtree of `2^h` leaves starting at leaf `i * 2^h`. A
//! perfect subtree is stored as soon as its last leaf is appended, and it
//! never changes afterwards: the tree only grows. For `n` leaves that is
//! `n + n/2 + n/4 + ... < 2n` hashes (about 640 MB for 10 million leaves).
//!
//! # Why `O(log n)`
//!
//! In the recursion of RFC 6962 section 2.1 every left child `D[0:k]` has a
//! power-of-two size `k`, and every subtree `D[start:end]` the recursion meets
//! starts at a multiple of its size rounded up to a power of two. So each
//! subtree is either a stored perfect subtree (no hashing) or a stored
//! perfect subtree on its left plus a smaller such subtree on its right: at
//! most `popcount(size) - 1` hashes. A proof walks one root-to-leaf path and
//! needs at most one non-perfect sibling, so it costs `O(log n)` hashes.

use crate::error::ProofError;
use crate::hash::{empty_root, node_hash, Hash};
use crate::tree::{root, split_point};

/// An append-only Merkle tree of leaf hashes, kept in memory.
///
/// ```
/// use entraide_custody_log::{leaf_hash, root, MerkleLog};
///
/// let mut log = MerkleLog::new();
/// let first = log.append(leaf_hash(b"seal bag 1"));
/// let second = log.append(leaf_hash(b"hand bag 1 to the lab"));
/// assert_eq!((first, second, log.size()), (0, 1, 2));
/// assert_eq!(log.root(), root(log.leaves()));
/// assert_eq!(log.root_at(1), Ok(leaf_hash(b"seal bag 1")));
/// ```
#[derive(Clone)]
pub struct MerkleLog {
    /// `levels[h][i]` is the root of the perfect subtree of `2^h` leaves
    /// starting at leaf `i * 2^h`; `levels[0]` are the leaves. Never empty.
    levels: Vec<Vec<Hash>>,
}

impl Default for MerkleLog {
    fn default() -> Self {
        Self::new()
    }
}

/// Two logs are equal when they hold the same leaves (everything else is
/// derived from the leaves).
impl PartialEq for MerkleLog {
    fn eq(&self, other: &Self) -> bool {
        self.leaves() == other.leaves()
    }
}

impl Eq for MerkleLog {}

impl std::fmt::Debug for MerkleLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MerkleLog")
            .field("size", &self.size())
            .field("root", &self.root())
            .finish()
    }
}

impl MerkleLog {
    /// An empty log.
    #[must_use]
    pub fn new() -> Self {
        Self {
            levels: vec![Vec::new()],
        }
    }

    /// An empty log with room for `leaves` leaves (and their perfect
    /// subtrees) before reallocating.
    #[must_use]
    pub fn with_capacity(leaves: usize) -> Self {
        let mut levels = vec![Vec::with_capacity(leaves)];
        let mut width = leaves / 2;
        while width > 0 {
            levels.push(Vec::with_capacity(width));
            width /= 2;
        }
        Self { levels }
    }

    /// Appends a leaf hash (see [`crate::leaf_hash`]) and returns its index.
    ///
    /// Stores every perfect subtree that the new leaf completes: amortised
    /// one node hash per append (`n - popcount(n)` for `n` appends), at most
    /// `log2(n)` for a single one.
    pub fn append(&mut self, leaf: Hash) -> u64 {
        let index = self.size();
        let mut level = 0;
        match self.levels.first_mut() {
            Some(leaves) => leaves.push(leaf),
            None => self.levels.push(vec![leaf]),
        }
        // An even number of nodes on a level means the last two are the
        // children of a perfect subtree completed by this leaf.
        while let Some(row) = self.levels.get(level) {
            if row.len() % 2 == 1 {
                break;
            }
            let [.., left, right] = row.as_slice() else {
                break;
            };
            let parent = node_hash(left, right);
            level += 1;
            match self.levels.get_mut(level) {
                Some(next) => next.push(parent),
                None => self.levels.push(vec![parent]),
            }
        }
        index
    }

    /// The number of leaves.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.leaves().len() as u64
    }

    /// Whether the log has no leaf.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.leaves().is_empty()
    }

    /// All the leaf hashes, in order.
    #[must_use]
    pub fn leaves(&self) -> &[Hash] {
        self.levels.first().map_or(&[], Vec::as_slice)
    }

    /// The leaf hash at `index`, if there is one.
    #[must_use]
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        let index = usize::try_from(index).ok()?;
        self.leaves().get(index).copied()
    }

    /// The current root, `MTH(D[size])` (RFC 6962 section 2.1). The empty
    /// log's root is the SHA-256 of the empty string. `O(log n)` hashes.
    #[must_use]
    pub fn root(&self) -> Hash {
        self.subtree_hash(0, self.size())
    }

    /// The root the log had when it held `tree_size` leaves,
    /// `MTH(D[0:tree_size])`. `O(log n)` hashes.
    ///
    /// # Errors
    /// [`ProofError::TreeSizeOutOfRange`] when `tree_size > self.size()`.
    pub fn root_at(&self, tree_size: u64) -> Result<Hash, ProofError> {
        self.check_size(tree_size)?;
        Ok(self.subtree_hash(0, tree_size))
    }

    /// The inclusion proof (audit path, RFC 6962 section 2.1.1) of leaf
    /// `index` in the tree of the first `tree_size` leaves, deepest sibling
    /// first. Check it with [`crate::verify_inclusion`] against
    /// `root_at(tree_size)`. `O(log n)` hashes.
    ///
    /// # Errors
    /// [`ProofError::TreeSizeOutOfRange`] when `tree_size > self.size()`;
    /// [`ProofError::IndexOutOfRange`] when `index >= tree_size`.
    pub fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(tree_size)?;
        if index >= tree_size {
            return Err(ProofError::IndexOutOfRange { index, tree_size });
        }
        // PATH(m, D[n]) of RFC 6962 section 2.1.1, unrolled from the root
        // down: each step keeps the half holding the leaf and records the
        // root of the other half. The RFC lists the deepest sibling first.
        let mut path = Vec::with_capacity(64 - tree_size.leading_zeros() as usize);
        let (mut start, mut end) = (0, tree_size);
        while end - start > 1 {
            let mid = start + split_point(end - start);
            if index < mid {
                path.push(self.subtree_hash(mid, end));
                end = mid;
            } else {
                path.push(self.subtree_hash(start, mid));
                start = mid;
            }
        }
        path.reverse();
        Ok(path)
    }

    /// The consistency proof (RFC 6962 section 2.1.2) that the tree of the
    /// first `new_size` leaves extends the tree of the first `old_size`
    /// leaves. Empty when `old_size` is 0 or equal to `new_size`. Check it
    /// with [`crate::verify_consistency`]. `O(log n)` hashes.
    ///
    /// # Errors
    /// [`ProofError::TreeSizeOutOfRange`] when `new_size > self.size()`;
    /// [`ProofError::SizesOutOfOrder`] when `old_size > new_size`.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(ProofError::SizesOutOfOrder { old_size, new_size });
        }
        if old_size == 0 || old_size == new_size {
            return Ok(Vec::new());
        }
        // PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 6962 section 2.1.2,
        // unrolled from the root down over the subtree D[start:end], with
        // `complete` the boolean flag of SUBPROOF (true while the old tree
        // is a left part of the current subtree, i.e. we never went right).
        // Invariant: start < old_size <= end.
        let mut proof = Vec::with_capacity(2 * (64 - new_size.leading_zeros() as usize));
        let (mut start, mut end, mut complete) = (0, new_size, true);
        loop {
            if end == old_size {
                // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}.
                if !complete {
                    proof.push(self.subtree_hash(start, end));
                }
                break;
            }
            let mid = start + split_point(end - start);
            if old_size <= mid {
                // m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n]).
                proof.push(self.subtree_hash(mid, end));
                end = mid;
            } else {
                // m > k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]).
                proof.push(self.subtree_hash(start, mid));
                start = mid;
                complete = false;
            }
        }
        proof.reverse();
        Ok(proof)
    }

    fn check_size(&self, tree_size: u64) -> Result<(), ProofError> {
        let log_size = self.size();
        if tree_size > log_size {
            return Err(ProofError::TreeSizeOutOfRange {
                tree_size,
                log_size,
            });
        }
        Ok(())
    }

    /// `MTH(D[start:end])` for a subtree met in the recursion of RFC 6962
    /// section 2.1 (so `start` is a multiple of the largest power of two not
    /// above `end - start`), with `end <= self.size()`.
    fn subtree_hash(&self, start: u64, end: u64) -> Hash {
        let size = end.saturating_sub(start);
        if size == 0 {
            return empty_root();
        }
        if size.is_power_of_two() {
            return self.perfect(start, size.trailing_zeros());
        }
        // MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])), the left
        // part being perfect. Recursion depth is at most popcount(size).
        let mid = start + split_point(size);
        node_hash(
            &self.perfect(start, (mid - start).trailing_zeros()),
            &self.subtree_hash(mid, end),
        )
    }

    /// The root of the perfect subtree of `2^level` leaves starting at leaf
    /// `start` (a multiple of `2^level`).
    fn perfect(&self, start: u64, level: u32) -> Hash {
        let index = start >> level;
        let cached = usize::try_from(level)
            .ok()
            .and_then(|level| self.levels.get(level))
            .zip(usize::try_from(index).ok())
            .and_then(|(row, index)| row.get(index));
        match cached {
            Some(hash) => *hash,
            // Every perfect subtree inside the log is stored, so this is
            // unreachable for the callers above; recompute by the
            // definition rather than panic.
            None => {
                let width = 1u64.checked_shl(level).unwrap_or(0);
                let range = usize::try_from(start)
                    .ok()
                    .zip(usize::try_from(start.saturating_add(width)).ok());
                let leaves = range
                    .and_then(|(from, to)| self.leaves().get(from..to))
                    .unwrap_or(&[]);
                root(leaves)
            }
        }
    }
}

impl Extend<Hash> for MerkleLog {
    fn extend<I: IntoIterator<Item = Hash>>(&mut self, leaves: I) {
        for leaf in leaves {
            self.append(leaf);
        }
    }
}

impl FromIterator<Hash> for MerkleLog {
    fn from_iter<I: IntoIterator<Item = Hash>>(leaves: I) -> Self {
        let mut log = Self::new();
        log.extend(leaves);
        log
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::counter::count;
    use crate::hash::leaf_hash;
    use crate::verify::{verify_consistency, verify_inclusion};

    fn log_of(n: u64) -> MerkleLog {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn log2_ceil(n: u64) -> u64 {
        u64::from(64 - n.saturating_sub(1).leading_zeros())
    }

    #[test]
    fn empty_log() {
        let log = MerkleLog::new();
        assert!(log.is_empty());
        assert_eq!(log.size(), 0);
        assert_eq!(log.root(), empty_root());
        assert_eq!(log.root_at(0), Ok(empty_root()));
        assert_eq!(
            log.root_at(1),
            Err(ProofError::TreeSizeOutOfRange {
                tree_size: 1,
                log_size: 0
            })
        );
        assert_eq!(
            log.inclusion_proof(0, 0),
            Err(ProofError::IndexOutOfRange {
                index: 0,
                tree_size: 0
            })
        );
        assert_eq!(log.consistency_proof(0, 0), Ok(vec![]));
        assert_eq!(log.leaf(0), None);
        assert_eq!(log, MerkleLog::default());
    }

    #[test]
    fn stores_every_completed_perfect_subtree() {
        let log = log_of(13);
        let widths: Vec<usize> = log.levels.iter().map(Vec::len).collect();
        assert_eq!(widths, vec![13, 6, 3, 1]);
        for (level, row) in log.levels.iter().enumerate() {
            let width = 1usize << level;
            for (i, hash) in row.iter().enumerate() {
                assert_eq!(*hash, root(&log.leaves()[i * width..(i + 1) * width]));
            }
        }
    }

    #[test]
    fn with_capacity_changes_nothing_but_capacity() {
        let mut reserved = MerkleLog::with_capacity(100);
        reserved.extend((0..37u64).map(|i| leaf_hash(&i.to_be_bytes())));
        let plain = log_of(37);
        assert_eq!(reserved, plain);
        assert_eq!(reserved.root(), plain.root());
        assert_eq!(
            reserved.inclusion_proof(5, 30),
            plain.inclusion_proof(5, 30)
        );
    }

    #[test]
    fn errors_on_bad_arguments() {
        let log = log_of(10);
        assert_eq!(
            log.inclusion_proof(10, 10),
            Err(ProofError::IndexOutOfRange {
                index: 10,
                tree_size: 10
            })
        );
        assert_eq!(
            log.inclusion_proof(0, 11),
            Err(ProofError::TreeSizeOutOfRange {
                tree_size: 11,
                log_size: 10
            })
        );
        assert_eq!(
            log.consistency_proof(5, 4),
            Err(ProofError::SizesOutOfOrder {
                old_size: 5,
                new_size: 4
            })
        );
        assert_eq!(
            log.consistency_proof(5, u64::MAX),
            Err(ProofError::TreeSizeOutOfRange {
                tree_size: u64::MAX,
                log_size: 10
            })
        );
        assert!(log.inclusion_proof(u64::MAX, u64::MAX).is_err());
        assert!(log.root_at(u64::MAX).is_err());
        assert_eq!(log.leaf(u64::MAX), None);
    }

    /// Appending costs amortised one node hash: `n - popcount(n)` in all.
    #[test]
    fn append_is_amortised_constant() {
        let n = 100_000u64;
        let (log, hashes) = count(|| log_of(n));
        assert_eq!(hashes, n - u64::from(n.count_ones()));
        assert_eq!(log.size(), n);
    }

    /// Roots, proofs and verification cost `O(log n)` node hashes, whatever
    /// the position in a 100 000-leaf tree.
    #[test]
    fn proofs_and_verification_are_logarithmic() {
        let n = 100_000u64;
        let log = log_of(n);
        let depth = log2_ceil(n); // 17
        let sizes = [1, 2, 3, 1000, 65_535, 65_536, 65_537, 99_999, n];
        for &size in &sizes {
            let (root, cost) = count(|| log.root_at(size));
            assert!(cost <= depth, "root_at({size}) cost {cost}");
            let root = root.unwrap();
            for index in [0, size / 3, size / 2, size - 1] {
                let (proof, cost) = count(|| log.inclusion_proof(index, size));
                let proof = proof.unwrap();
                assert!(cost <= 2 * depth, "inclusion({index}, {size}) cost {cost}");
                assert!(proof.len() as u64 <= depth);
                let leaf = log.leaf(index).unwrap();
                let (verdict, cost) = count(|| verify_inclusion(&leaf, index, size, &proof, &root));
                assert_eq!(verdict, Ok(()));
                assert_eq!(cost, proof.len() as u64, "one hash per proof element");
            }
            for old in [1, size / 3, size / 2, size - 1] {
                let (proof, cost) = count(|| log.consistency_proof(old, size));
                let proof = proof.unwrap();
                assert!(cost <= 2 * depth, "consistency({old}, {size}) cost {cost}");
                assert!(proof.len() as u64 <= 2 * depth);
                let old_root = log.root_at(old).unwrap();
                let (verdict, cost) =
                    count(|| verify_consistency(old, size, &old_root, &root, &proof));
                assert_eq!(verdict, Ok(()), "consistency({old}, {size})");
                assert!(cost <= 2 * proof.len() as u64);
            }
        }
    }
}
