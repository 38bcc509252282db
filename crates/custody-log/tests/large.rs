//! Large logs: building is linear, proofs stay logarithmic.

// Test helpers outside `#[test]` functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use entraide_custody_log::{
    leaf_hash, root, verify_consistency, verify_inclusion, Hash, MerkleLog,
};

fn entry(i: u64) -> Hash {
    leaf_hash(&i.to_be_bytes())
}

/// Builds a log of `n` leaves and checks proofs at sampled positions,
/// including the edges of the largest complete subtrees.
fn check_large_log(n: u64) {
    let mut log = MerkleLog::with_capacity(usize::try_from(n).unwrap());
    for i in 0..n {
        assert_eq!(log.append(entry(i)), i);
    }
    assert_eq!(log.size(), n);
    let depth = u64::from(64 - (n - 1).leading_zeros());
    let mut samples = vec![0, 1, 2, 3, n / 3, n / 2, n - 2, n - 1];
    let top = 1u64 << (63 - n.leading_zeros());
    samples.extend([top - 1, top, top + 1].into_iter().filter(|&s| s < n));
    // A simple deterministic spread of other positions.
    samples.extend((1..50u64).map(|k| k.wrapping_mul(0x9e37_79b9_7f4a_7c15) % n));

    let sizes = [n, n - 1, top.min(n), n / 2 + 1, 12_345.min(n)];
    for &size in &sizes {
        let root = log.root_at(size).unwrap();
        for &index in samples.iter().filter(|&&i| i < size) {
            let proof = log.inclusion_proof(index, size).unwrap();
            assert!(proof.len() as u64 <= depth);
            verify_inclusion(&entry(index), index, size, &proof, &root).unwrap();
        }
        for &old in samples.iter().filter(|&&o| o <= size) {
            let proof = log.consistency_proof(old, size).unwrap();
            assert!(proof.len() as u64 <= 2 * depth);
            let old_root = log.root_at(old).unwrap();
            verify_consistency(old, size, &old_root, &root, &proof).unwrap();
        }
    }
    // The cached root equals the recursive definition on a (smaller) prefix.
    let prefix = 12_345.min(n);
    let leaves: Vec<Hash> = (0..prefix).map(entry).collect();
    assert_eq!(log.root_at(prefix).unwrap(), root(&leaves));
}

#[test]
fn one_million_leaves() {
    check_large_log(1_000_000);
}

#[test]
fn one_hundred_thousand_and_one_leaves() {
    check_large_log(100_001);
}

/// About 630 MB and ~40 s in a debug build (measured): run with `--ignored`.
#[test]
#[ignore = "10 million leaves: about 640 MB of memory; run with --ignored"]
fn ten_million_leaves() {
    check_large_log(10_000_000);
}
