//! Property tests: on random logs of up to 300 leaves, every proof the log
//! produces verifies, the log's roots equal the recursive definition, and
//! tampering with a proof, the index or a size is detected.

// Test helpers outside `#[test]` functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use entraide_custody_log::{
    consistency_proof_len, inclusion_proof_len, leaf_hash, root, verify_consistency,
    verify_inclusion, Hash, MerkleLog, ProofError,
};
use proptest::prelude::*;

/// Distinct leaves: the hash of a per-case salt and the leaf number.
fn leaves(salt: u64, n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| {
            let mut data = salt.to_be_bytes().to_vec();
            data.extend_from_slice(&i.to_be_bytes());
            leaf_hash(&data)
        })
        .collect()
}

fn flip(proof: &[Hash], element: usize, byte: usize, mask: u8) -> Vec<Hash> {
    let mut tampered = proof.to_vec();
    let mut bytes = tampered[element].to_bytes();
    bytes[byte] ^= mask;
    tampered[element] = Hash::from_bytes(bytes);
    tampered
}

/// A log of `n` leaves, a tree size `size <= n`, and a salt.
fn log_and_size() -> impl Strategy<Value = (u64, u64, u64)> {
    (1u64..=300, any::<u64>()).prop_flat_map(|(n, salt)| (Just(n), 1..=n, Just(salt)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The log's root of every past size equals the recursive MTH.
    #[test]
    fn roots_match_the_recursive_definition(n in 0u64..=300, salt in any::<u64>()) {
        let leaves = leaves(salt, n);
        let mut log = MerkleLog::new();
        prop_assert_eq!(log.root(), root(&[]));
        for (i, leaf) in leaves.iter().enumerate() {
            prop_assert_eq!(log.append(*leaf), i as u64);
            prop_assert_eq!(log.root(), root(&leaves[..=i]));
        }
        for size in 0..=n {
            prop_assert_eq!(log.root_at(size), Ok(root(&leaves[..size as usize])));
        }
    }

    /// Every inclusion proof of a tree of `size` leaves verifies, has the
    /// advertised length, and fails for any other index.
    #[test]
    fn every_inclusion_proof_verifies((n, size, salt) in log_and_size()) {
        let leaves = leaves(salt, n);
        let log: MerkleLog = leaves.iter().copied().collect();
        let root = log.root_at(size).unwrap();
        for index in 0..size {
            let leaf = leaves[index as usize];
            let proof = log.inclusion_proof(index, size).unwrap();
            prop_assert_eq!(Some(proof.len()), inclusion_proof_len(index, size));
            prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));
            // Another leaf's hash in the same place.
            let other = leaves[((index + 1) % n) as usize];
            if other != leaf {
                prop_assert!(verify_inclusion(&other, index, size, &proof, &root).is_err());
            }
        }
        // A proof checked with the wrong index fails (sampled: all pairs would be quadratic).
        for index in (0..size).step_by(7) {
            let proof = log.inclusion_proof(index, size).unwrap();
            let leaf = leaves[index as usize];
            for wrong in (0..size + 2).filter(|&w| w != index) {
                prop_assert!(
                    verify_inclusion(&leaf, wrong, size, &proof, &root).is_err(),
                    "leaf {} of {} verified at index {}", index, size, wrong
                );
            }
        }
    }

    /// Every consistency proof from a smaller tree verifies and has the
    /// advertised length.
    #[test]
    fn every_consistency_proof_verifies((n, new, salt) in log_and_size()) {
        let log: MerkleLog = leaves(salt, n).into_iter().collect();
        let new_root = log.root_at(new).unwrap();
        for old in 0..=new {
            let old_root = log.root_at(old).unwrap();
            let proof = log.consistency_proof(old, new).unwrap();
            prop_assert_eq!(Some(proof.len()), consistency_proof_len(old, new));
            prop_assert_eq!(verify_consistency(old, new, &old_root, &new_root, &proof), Ok(()));
        }
    }

    /// One flipped bit anywhere in an inclusion proof is detected.
    #[test]
    fn tampered_inclusion_proof_fails(
        (n, size, salt) in log_and_size(),
        index_seed in any::<u64>(),
        element_seed in any::<usize>(),
        byte in 0usize..32,
        bit in 0u32..8,
    ) {
        let leaves = leaves(salt, n);
        let log: MerkleLog = leaves.iter().copied().collect();
        let index = index_seed % size;
        let proof = log.inclusion_proof(index, size).unwrap();
        prop_assume!(!proof.is_empty());
        let tampered = flip(&proof, element_seed % proof.len(), byte, 1 << bit);
        let root = log.root_at(size).unwrap();
        let verdict = verify_inclusion(&leaves[index as usize], index, size, &tampered, &root);
        let mismatch = matches!(verdict, Err(ProofError::RootMismatch { .. }));
        prop_assert!(mismatch, "tampered proof gave {:?}", verdict);
    }

    /// An inclusion proof does not verify for another tree size, checked
    /// against that tree's root.
    #[test]
    fn inclusion_proof_for_wrong_size_fails(
        (n, size, salt) in log_and_size(),
        index_seed in any::<u64>(),
        other_seed in any::<u64>(),
    ) {
        prop_assume!(n > 1);
        let leaves = leaves(salt, n);
        let log: MerkleLog = leaves.iter().copied().collect();
        let index = index_seed % size;
        // Another size that still contains the leaf.
        let other = index + 1 + other_seed % (n - index);
        prop_assume!(other != size);
        let proof = log.inclusion_proof(index, size).unwrap();
        let leaf = leaves[index as usize];
        let other_root = log.root_at(other).unwrap();
        prop_assert!(verify_inclusion(&leaf, index, other, &proof, &other_root).is_err());
        // Not checked: the wrong size with the *original* root. Sizes that
        // share the leaf's path reproduce that root (see the test
        // `a_root_is_bound_to_its_size_only_by_the_tree_head`).
    }

    /// One flipped bit anywhere in a consistency proof is detected.
    #[test]
    fn tampered_consistency_proof_fails(
        (n, new, salt) in log_and_size(),
        old_seed in any::<u64>(),
        element_seed in any::<usize>(),
        byte in 0usize..32,
        bit in 0u32..8,
    ) {
        let log: MerkleLog = leaves(salt, n).into_iter().collect();
        let old = old_seed % new;
        let proof = log.consistency_proof(old, new).unwrap();
        prop_assume!(!proof.is_empty());
        let tampered = flip(&proof, element_seed % proof.len(), byte, 1 << bit);
        let (old_root, new_root) = (log.root_at(old).unwrap(), log.root_at(new).unwrap());
        prop_assert!(verify_consistency(old, new, &old_root, &new_root, &tampered).is_err());
    }

    /// A consistency proof does not verify for another old or new size
    /// (with that size's root), nor with a root of another size.
    #[test]
    fn consistency_proof_for_wrong_sizes_fails(
        (n, new, salt) in log_and_size(),
        old_seed in any::<u64>(),
        other_seed in any::<u64>(),
    ) {
        let log: MerkleLog = leaves(salt, n).into_iter().collect();
        let old = 1 + old_seed % new;
        prop_assume!(old < new);
        let proof = log.consistency_proof(old, new).unwrap();
        let (old_root, new_root) = (log.root_at(old).unwrap(), log.root_at(new).unwrap());
        // Another size with the root of that size; as for inclusion, another
        // size with the original roots can be reproduced and is not checked.
        let other_old = other_seed % (new + 1);
        if other_old != old {
            let other_root = log.root_at(other_old).unwrap();
            prop_assert!(verify_consistency(other_old, new, &other_root, &new_root, &proof).is_err());
            prop_assert!(verify_consistency(old, new, &other_root, &new_root, &proof).is_err());
        }
        let other_new = old + other_seed % (n - old + 1);
        if other_new != new {
            let other_root = log.root_at(other_new).unwrap();
            prop_assert!(verify_consistency(old, other_new, &old_root, &other_root, &proof).is_err());
            prop_assert!(verify_consistency(old, new, &old_root, &other_root, &proof).is_err());
        }
    }

    /// Verification never panics, whatever the input.
    #[test]
    fn verification_never_panics(
        index in any::<u64>(),
        size in any::<u64>(),
        old in any::<u64>(),
        proof in proptest::collection::vec(any::<[u8; 32]>().prop_map(Hash::from_bytes), 0..80),
        a in any::<[u8; 32]>().prop_map(Hash::from_bytes),
        b in any::<[u8; 32]>().prop_map(Hash::from_bytes),
    ) {
        let _ = verify_inclusion(&a, index, size, &proof, &b);
        let _ = verify_inclusion(&a, index % size.max(1), size, &proof, &b);
        let _ = verify_consistency(old, size, &a, &b, &proof);
        let _ = verify_consistency(old % size.max(1), size, &a, &b, &proof);
        let _ = inclusion_proof_len(index, size);
        let _ = consistency_proof_len(old, size);
    }

    /// Asking a log for anything never panics either.
    #[test]
    fn log_queries_never_panic(n in 0u64..40, x in any::<u64>(), y in any::<u64>()) {
        let log: MerkleLog = leaves(0, n).into_iter().collect();
        for (a, b) in [(x, y), (x % (n + 2), y % (n + 2)), (y % (n + 2), x % (n + 2))] {
            let _ = log.inclusion_proof(a, b);
            let _ = log.consistency_proof(a, b);
            let _ = log.root_at(a);
            let _ = log.leaf(a);
        }
    }
}
