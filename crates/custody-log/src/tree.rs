//! The Merkle Tree Hash of a list of leaves, by the recursive definition of
//! RFC 6962 section 2.1 (RFC 9162 section 2.1.1).
//!
//! This is the reference definition: it costs `n - 1` node hashes for `n`
//! leaves. [`crate::MerkleLog`] computes the same value in `O(log n)` from its
//! cached subtrees.

use crate::hash::{empty_root, node_hash, Hash};

/// The largest power of two strictly smaller than `n`, the `k` of
/// RFC 6962 section 2.1 (`k < n <= 2k`). Only meaningful for `n >= 2`; returns
/// 0 for smaller `n`.
#[must_use]
pub(crate) fn split_point(n: u64) -> u64 {
    if n < 2 {
        return 0;
    }
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The Merkle Tree Hash `MTH(D[n])` of a list of leaf hashes
/// (RFC 6962 section 2.1):
///
/// - `MTH({}) = SHA-256()`, the hash of the empty string;
/// - `MTH({d(0)})` is the leaf hash itself (here the caller passes leaf hashes,
///   already `SHA-256(0x00 || d(0))`, see [`crate::leaf_hash`]);
/// - for `n > 1`, with `k` the largest power of two smaller than `n`,
///   `MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`.
///
/// # Example
/// ```
/// use entraide_custody_log::{leaf_hash, node_hash, root};
/// let a = leaf_hash(b"a");
/// let b = leaf_hash(b"b");
/// let c = leaf_hash(b"c");
/// assert_eq!(root(&[a, b, c]), node_hash(&node_hash(&a, &b), &c));
/// ```
#[must_use]
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [only] => *only,
        _ => {
            // `split_point` of a length >= 2 is in 1..len, so the split is in bounds.
            let k = usize::try_from(split_point(leaves.len() as u64)).unwrap_or(1);
            let (left, right) = leaves.split_at(k.min(leaves.len()));
            node_hash(&root(left), &root(right))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_the_largest_power_of_two_below() {
        let cases = [
            (0, 0),
            (1, 0),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (1 << 40, 1 << 39),
            ((1 << 40) + 1, 1 << 40),
            (u64::MAX, 1 << 63),
        ];
        for (n, k) in cases {
            assert_eq!(split_point(n), k, "n = {n}");
        }
    }
}
