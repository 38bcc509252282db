//! Known-answer tests with the RFC 6962 reference data that Certificate
//! Transparency implementations share: eight leaves, the roots of the trees
//! of sizes 0 to 8, the hashes of every complete subtree, and some inclusion
//! and consistency proofs.
//!
//! The values (facts, not code) are those of transparency-dev/merkle,
//! `testonly/constants.go` (leaves, subtree hashes, roots) and
//! `proof/verify_test.go` (proofs; its leaf numbers are 1-based, converted
//! to 0-based indices here).

// Test helpers outside `#[test]` functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use entraide_custody_log::{
    empty_root, leaf_hash, root, verify_consistency, verify_inclusion, Hash, MerkleLog, ProofError,
};

/// The eight leaf inputs, in hexadecimal.
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// `ROOTS[n]` is the root of the tree of the first `n` leaves.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// `SUBTREES[h][i]` is the hash of the complete subtree of `2^h` leaves
/// starting at leaf `i * 2^h`.
const SUBTREES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/// (leaf index, tree size, audit path).
const INCLUSION_PROOFS: [(u64, u64, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (old size, new size, consistency proof).
const CONSISTENCY_PROOFS: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn h(text: &str) -> Hash {
    text.parse().unwrap()
}

fn hashes(texts: &[&str]) -> Vec<Hash> {
    texts.iter().map(|text| h(text)).collect()
}

fn leaf_hashes() -> Vec<Hash> {
    LEAVES
        .iter()
        .map(|input| leaf_hash(&hex::decode(input).unwrap()))
        .collect()
}

fn reference_log() -> MerkleLog {
    leaf_hashes().into_iter().collect()
}

fn root_of(size: u64) -> Hash {
    h(ROOTS[usize::try_from(size).unwrap()])
}

fn leaf_at(index: u64) -> Hash {
    leaf_hashes()[usize::try_from(index).unwrap()]
}

#[test]
fn roots_of_all_sizes() {
    let leaves = leaf_hashes();
    let mut log = MerkleLog::new();
    assert_eq!(log.root(), h(ROOTS[0]));
    assert_eq!(empty_root(), h(ROOTS[0]));
    for (n, leaf) in leaves.iter().enumerate() {
        log.append(*leaf);
        let expected = h(ROOTS[n + 1]);
        assert_eq!(log.root(), expected, "log root of size {}", n + 1);
        assert_eq!(root(&leaves[..=n]), expected, "MTH of size {}", n + 1);
    }
    for (size, expected) in ROOTS.iter().enumerate() {
        assert_eq!(log.root_at(size as u64), Ok(h(expected)), "root_at({size})");
    }
}

#[test]
fn hashes_of_all_complete_subtrees() {
    let leaves = leaf_hashes();
    for (level, row) in SUBTREES.iter().enumerate() {
        let width = 1 << level;
        for (i, expected) in row.iter().enumerate() {
            let subtree = &leaves[i * width..(i + 1) * width];
            assert_eq!(root(subtree), h(expected), "level {level}, subtree {i}");
        }
    }
}

#[test]
fn known_inclusion_proofs_are_produced_and_verify() {
    let log = reference_log();
    for (index, size, expected) in INCLUSION_PROOFS {
        let expected = hashes(expected);
        assert_eq!(
            log.inclusion_proof(index, size).as_ref(),
            Ok(&expected),
            "inclusion proof of leaf {index} in tree {size}"
        );
        assert_eq!(
            verify_inclusion(&leaf_at(index), index, size, &expected, &root_of(size)),
            Ok(()),
            "verifying leaf {index} in tree {size}"
        );
    }
}

#[test]
fn known_consistency_proofs_are_produced_and_verify() {
    let log = reference_log();
    for (old, new, expected) in CONSISTENCY_PROOFS {
        let expected = hashes(expected);
        assert_eq!(
            log.consistency_proof(old, new).as_ref(),
            Ok(&expected),
            "consistency proof {old} -> {new}"
        );
        assert_eq!(
            verify_consistency(old, new, &root_of(old), &root_of(new), &expected),
            Ok(()),
            "verifying {old} -> {new}"
        );
    }
}

/// Every (index, size) and (old, new) pair of the reference tree: proofs
/// made by the log verify against the reference roots.
#[test]
fn every_proof_of_the_reference_tree_verifies() {
    let log = reference_log();
    for size in 1..=8 {
        for index in 0..size {
            let proof = log.inclusion_proof(index, size).unwrap();
            verify_inclusion(&leaf_at(index), index, size, &proof, &root_of(size)).unwrap();
        }
    }
    for new in 0..=8 {
        for old in 0..=new {
            let proof = log.consistency_proof(old, new).unwrap();
            verify_consistency(old, new, &root_of(old), &root_of(new), &proof).unwrap();
        }
    }
}

fn some_hash() -> Hash {
    h("abacaba000000000000000000000000000000000000000000060061e00123456")
}

/// Mutations of a good inclusion proof that must all be rejected.
fn corrupted_inclusions(
    index: u64,
    size: u64,
    proof: &[Hash],
    root: Hash,
    leaf: Hash,
) -> Vec<(String, u64, u64, Vec<Hash>, Hash, Hash)> {
    let p = proof.to_vec();
    let mut probes = vec![
        (
            "index - 1",
            index.wrapping_sub(1),
            size,
            p.clone(),
            root,
            leaf,
        ),
        ("index + 1", index + 1, size, p.clone(), root, leaf),
        ("index ^ 2", index ^ 2, size, p.clone(), root, leaf),
        ("size * 2", index, size * 2, p.clone(), root, leaf),
        ("size / 2", index, size / 2, p.clone(), root, leaf),
        (
            "wrong leaf",
            index,
            size,
            p.clone(),
            root,
            leaf_hash(b"WrongLeaf"),
        ),
        ("empty root", index, size, p.clone(), empty_root(), leaf),
        ("random root", index, size, p.clone(), some_hash(), leaf),
        (
            "trailing root",
            index,
            size,
            [p.clone(), vec![root]].concat(),
            root,
            leaf,
        ),
        (
            "preceding root",
            index,
            size,
            [vec![root], p.clone()].concat(),
            root,
            leaf,
        ),
    ]
    .into_iter()
    .map(|(name, i, s, p, r, l)| (name.to_owned(), i, s, p, r, l))
    .collect::<Vec<_>>();
    for i in 0..p.len() {
        let mut bytes = p[i].to_bytes();
        bytes[0] ^= 8;
        let mut flipped = p.clone();
        flipped[i] = Hash::from_bytes(bytes);
        probes.push((
            format!("flipped proof[{i}]"),
            index,
            size,
            flipped,
            root,
            leaf,
        ));
    }
    if !p.is_empty() {
        let removed = p[..p.len() - 1].to_vec();
        probes.push(("removed element".into(), index, size, removed, root, leaf));
    }
    if p.len() > 1 {
        let inserted = [&p[..1], &[some_hash()], &p[1..]].concat();
        probes.push(("inserted element".into(), index, size, inserted, root, leaf));
    }
    probes
}

#[test]
fn corrupted_inclusion_proofs_are_rejected() {
    for (index, size, proof) in INCLUSION_PROOFS {
        let proof = hashes(proof);
        let (root, leaf) = (root_of(size), leaf_at(index));
        for (name, i, s, p, r, l) in corrupted_inclusions(index, size, &proof, root, leaf) {
            assert!(
                verify_inclusion(&l, i, s, &p, &r).is_err(),
                "{name} accepted for leaf {index} in tree {size}"
            );
        }
    }
}

#[test]
fn corrupted_consistency_proofs_are_rejected() {
    for (old, new, proof) in CONSISTENCY_PROOFS {
        let p = hashes(proof);
        if p.is_empty() {
            continue;
        }
        let (r1, r2) = (root_of(old), root_of(new));
        let wrong = leaf_hash(b"WrongRoot");
        let mut probes: Vec<(String, u64, u64, Hash, Hash, Vec<Hash>)> = [
            ("old - 1", old - 1, new, r1, r2, p.clone()),
            ("old + 1", old + 1, new, r1, r2, p.clone()),
            ("old ^ 2", old ^ 2, new, r1, r2, p.clone()),
            ("new * 2", old, new * 2, r1, r2, p.clone()),
            ("new / 2", old, new / 2, r1, r2, p.clone()),
            ("wrong old root", old, new, wrong, r2, p.clone()),
            ("wrong new root", old, new, r1, wrong, p.clone()),
            ("swapped roots", old, new, r2, r1, p.clone()),
            ("empty proof", old, new, r1, r2, vec![]),
            (
                "trailing old root",
                old,
                new,
                r1,
                r2,
                [p.clone(), vec![r1]].concat(),
            ),
            (
                "trailing new root",
                old,
                new,
                r1,
                r2,
                [p.clone(), vec![r2]].concat(),
            ),
            (
                "preceding old root",
                old,
                new,
                r1,
                r2,
                [vec![r1], p.clone()].concat(),
            ),
            (
                "preceding new root",
                old,
                new,
                r1,
                r2,
                [vec![r2], p.clone()].concat(),
            ),
            (
                "preceding proof[0]",
                old,
                new,
                r1,
                r2,
                [vec![p[0]], p.clone()].concat(),
            ),
            ("truncated", old, new, r1, r2, p[..p.len() - 1].to_vec()),
        ]
        .into_iter()
        .map(|(name, a, b, x, y, q)| (name.to_owned(), a, b, x, y, q))
        .collect();
        for i in 0..p.len() {
            let mut bytes = p[i].to_bytes();
            bytes[0] ^= 16;
            let mut flipped = p.clone();
            flipped[i] = Hash::from_bytes(bytes);
            probes.push((format!("flipped proof[{i}]"), old, new, r1, r2, flipped));
        }
        for (name, a, b, x, y, q) in probes {
            assert!(
                verify_consistency(a, b, &x, &y, &q).is_err(),
                "{name} accepted for {old} -> {new}"
            );
        }
    }
}

#[test]
fn inclusion_edge_cases() {
    let leaf = leaf_hash(b"data");
    // A one-leaf tree: the root is the leaf hash, the proof is empty.
    assert_eq!(verify_inclusion(&leaf, 0, 1, &[], &leaf), Ok(()));
    assert!(matches!(
        verify_inclusion(&leaf, 0, 1, &[], &empty_root()),
        Err(ProofError::RootMismatch { .. })
    ));
    for (index, size) in [(0, 0), (1, 0), (1, 1), (2, 1), (u64::MAX, u64::MAX)] {
        assert_eq!(
            verify_inclusion(&leaf, index, size, &[], &leaf),
            Err(ProofError::IndexOutOfRange {
                index,
                tree_size: size
            })
        );
    }
    // The largest possible tree: still no panic, just a length error. Its
    // size has 64 bits set, so its last leaf has the 63 other complete
    // subtrees as siblings.
    assert_eq!(
        verify_inclusion(&leaf, u64::MAX - 1, u64::MAX, &[], &leaf),
        Err(ProofError::WrongProofLength {
            expected: 63,
            actual: 0
        })
    );
    let long = vec![leaf; 1000];
    assert!(matches!(
        verify_inclusion(&leaf, 3, 8, &long, &leaf),
        Err(ProofError::WrongProofLength {
            expected: 3,
            actual: 1000
        })
    ));
}

#[test]
fn consistency_edge_cases() {
    let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
    let empty = empty_root();
    // Same size: equal roots and an empty proof.
    assert_eq!(verify_consistency(1, 1, &a, &a, &[]), Ok(()));
    assert!(matches!(
        verify_consistency(1, 1, &a, &b, &[]),
        Err(ProofError::NewRootMismatch { .. })
    ));
    assert!(matches!(
        verify_consistency(1, 1, &a, &a, &[empty]),
        Err(ProofError::WrongProofLength {
            expected: 0,
            actual: 1
        })
    ));
    // From the empty tree: any new tree, but the old root must be the empty one.
    assert_eq!(verify_consistency(0, 0, &empty, &empty, &[]), Ok(()));
    assert_eq!(verify_consistency(0, 5, &empty, &a, &[]), Ok(()));
    assert!(matches!(
        verify_consistency(0, 5, &a, &b, &[]),
        Err(ProofError::OldRootMismatch { .. })
    ));
    assert!(verify_consistency(0, 1, &empty, &empty, &[empty]).is_err());
    // Time travel.
    assert_eq!(
        verify_consistency(2, 1, &a, &b, &[]),
        Err(ProofError::SizesOutOfOrder {
            old_size: 2,
            new_size: 1
        })
    );
    // A proof is needed between different non-zero sizes.
    assert!(matches!(
        verify_consistency(1, 2, &a, &b, &[]),
        Err(ProofError::WrongProofLength {
            expected: 1,
            actual: 0
        })
    ));
    // Huge sizes: no panic.
    assert!(verify_consistency(u64::MAX - 1, u64::MAX, &a, &b, &[a; 3]).is_err());
    assert!(verify_consistency(1, u64::MAX, &a, &b, &[]).is_err());
}

#[test]
fn error_messages_are_clear() {
    let err = verify_inclusion(&empty_root(), 9, 8, &[], &empty_root()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "leaf index 9 is out of range for a tree of size 8"
    );
    let err = verify_consistency(1, 2, &empty_root(), &empty_root(), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "proof has 0 hashes, expected 1 for these sizes"
    );
    let err = verify_inclusion(&root_of(1), 0, 1, &[], &root_of(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "inclusion proof leads to root {}, expected {}",
            ROOTS[1], ROOTS[2]
        )
    );
}

/// What the hashes do not prove: a proof binds a leaf (or an old root) to a
/// *root*; the tree size travels beside it. Trees whose paths have the same
/// shape accept each other's proofs when given the same root, so a verifier
/// must take the size and the root from the same signed tree head. (The
/// same holds for every RFC 9162 implementation.)
#[test]
fn a_root_is_bound_to_its_size_only_by_the_tree_head() {
    let log = reference_log();
    // Leaf 0 has siblings b, h, then one more on the right, in trees 5 and 6.
    let proof = log.inclusion_proof(0, 5).unwrap();
    assert_eq!(
        verify_inclusion(&leaf_at(0), 0, 6, &proof, &root_of(5)),
        Ok(())
    );
    assert!(verify_inclusion(&leaf_at(0), 0, 6, &proof, &root_of(6)).is_err());
    // Likewise 1 -> 3 and 1 -> 4: two right siblings.
    let proof = log.consistency_proof(1, 3).unwrap();
    assert_eq!(
        verify_consistency(1, 4, &root_of(1), &root_of(3), &proof),
        Ok(())
    );
    assert!(verify_consistency(1, 4, &root_of(1), &root_of(4), &proof).is_err());
}
