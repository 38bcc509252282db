//! Evidence packages end to end without a node: build one, check it holds,
//! then tamper with every part and check the verifier names what failed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use entraide_custody_log::{leaf_hash, Hash, MerkleLog};
use entraide_evidence::package::{
    self, ConsistencyFrom, CustodyProofs, Manifest, PackageCase, PackageItem, PackageNode,
    ProvenEvent,
};
use entraide_evidence::{verify_package, CustodyRecord, NodeKey, Outcome, SignedTreeHead};
use sha2::{Digest, Sha256};
use uuid::Uuid;

struct Built {
    dir: tempfile::TempDir,
    path: PathBuf,
    key: NodeKey,
}

fn record(item: Uuid, sha: &str, kind: &str, n: u32) -> CustodyRecord {
    CustodyRecord {
        v: 1,
        event: Uuid::new_v4(),
        node: "fr-pharos".into(),
        case: "FR-2026-0042".into(),
        item: Some(item),
        sha256: Some(sha.to_owned()),
        kind: kind.into(),
        at: format!("2026-11-2{n}T10:00:00Z"),
        actor: "custodian@pharos.example".into(),
        actor_name: "Claire Custodian".into(),
        details: BTreeMap::from([("exhibit_number".into(), "PH-7".into())]),
    }
}

/// A package of two files whose events sit among unrelated leaves, with a
/// consistency proof from an earlier exported head.
fn build() -> Built {
    let dir = tempfile::tempdir().unwrap();
    let key = NodeKey::from_seed([42u8; 32]);
    let files: Vec<(Uuid, &str, Vec<u8>)> = vec![
        (
            Uuid::new_v4(),
            "phone.img",
            b"seized phone image bytes".repeat(1000),
        ),
        (Uuid::new_v4(), "mails.mbox", b"From: someone\n".repeat(50)),
    ];
    let mut log = MerkleLog::new();
    for i in 0..37u32 {
        log.append(leaf_hash(format!("unrelated event {i}").as_bytes()));
    }
    let earlier_size = log.size();
    let earlier_root = log.root();
    let mut events = Vec::new();
    let mut items = Vec::new();
    for (n, (id, name, bytes)) in files.iter().enumerate() {
        let sha = hex::encode(Sha256::digest(bytes));
        for kind in ["acquired", "ingested", "exported"] {
            let r = record(*id, &sha, kind, n as u32);
            let index = log.append(r.leaf_hash());
            events.push((index, r));
            log.append(leaf_hash(b"someone else's event"));
        }
        items.push(PackageItem {
            id: *id,
            path: package::item_path(*id, name),
            file_name: (*name).into(),
            size: bytes.len() as u64,
            sha256: sha,
            md5: None,
            sha1: None,
            description: format!("exhibit {n}"),
            source: "seized_device".into(),
            acquired_at: Some("2026-11-20T08:00:00Z".into()),
            acquired_place: Some("Lyon".into()),
            performer: Some("OPJ Martin".into()),
            authorisation: Some("JLD 2026/113".into()),
            exhibit_number: Some(format!("PH-{n}")),
        });
    }
    let head = SignedTreeHead::sign(&key, "fr-pharos", log.size(), log.root(), 1_764_000_000_000);
    let proven = events
        .iter()
        .map(|(index, r)| ProvenEvent {
            index: *index,
            leaf: r.to_leaf(),
            inclusion_proof: log.inclusion_proof(*index, log.size()).unwrap(),
        })
        .collect();
    let custody = CustodyProofs {
        tree_head: head,
        events: proven,
        consistency: vec![ConsistencyFrom {
            tree_size: earlier_size,
            root_hash: earlier_root,
            proof: log.consistency_proof(earlier_size, log.size()).unwrap(),
        }],
    };
    let public = key.public_key();
    let manifest = Manifest {
        format: package::FORMAT.into(),
        version: package::VERSION,
        package_id: Uuid::new_v4(),
        created_at: "2026-11-25T10:00:00Z".into(),
        node: PackageNode {
            id: "fr-pharos".into(),
            organisation: "Plateforme Pharos".into(),
            country: "FR".into(),
            public_key: public.to_hex(),
            fingerprint: public.fingerprint(),
        },
        case: PackageCase {
            reference: "FR-2026-0042".into(),
            title: "Extortion".into(),
        },
        exported_by: "custodian@pharos.example".into(),
        items,
        documents: Vec::new(),
    };
    let records: Vec<CustodyRecord> = events.iter().map(|(_, r)| r.clone()).collect();
    let jsonld = entraide_evidence::case_uco::chain_of_custody(&manifest, &records);
    let path = dir.path().join("package.zip");
    let contents: BTreeMap<Uuid, Vec<u8>> =
        files.iter().map(|(id, _, b)| (*id, b.clone())).collect();
    let (_, sha256, size) = package::write_package(
        std::fs::File::create(&path).unwrap(),
        manifest,
        &custody,
        &jsonld,
        &key,
        |item| {
            Ok(Some(
                Box::new(std::io::Cursor::new(contents[&item.id].clone())) as Box<dyn Read>,
            ))
        },
    )
    .unwrap();
    // Hashed as written: the same as reading the file back.
    let written = std::fs::read(&path).unwrap();
    assert_eq!(size, written.len() as u64);
    assert_eq!(sha256, hex::encode(Sha256::digest(&written)));
    Built { dir, path, key }
}

fn members(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).unwrap();
        out.insert(f.name().unwrap().into_owned(), buf);
    }
    out
}

fn rewrite(path: &Path, members: &BTreeMap<String, Vec<u8>>) -> PathBuf {
    let out = path.with_file_name(format!("tampered-{}.zip", Uuid::new_v4()));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&out).unwrap());
    for (name, bytes) in members {
        zip.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    out
}

/// The failed checks as (code, subject).
fn failures(path: &Path, expect: Option<&str>) -> Vec<(String, String)> {
    verify_package(path, expect)
        .failures()
        .map(|c| (c.code.to_owned(), c.subject.clone()))
        .collect()
}

fn file_member(m: &BTreeMap<String, Vec<u8>>) -> String {
    m.keys().find(|k| k.ends_with("phone.img")).unwrap().clone()
}

fn resign(m: &mut BTreeMap<String, Vec<u8>>, key: &NodeKey) {
    let sig = key.sign(&m["manifest.json"]);
    m.insert("manifest.sig".into(), sig.into_bytes());
}

fn rehash_document(m: &mut BTreeMap<String, Vec<u8>>, doc: &str) {
    let mut manifest: Manifest = serde_json::from_slice(&m["manifest.json"]).unwrap();
    for d in &mut manifest.documents {
        if d.path == doc {
            d.sha256 = hex::encode(Sha256::digest(&m[doc]));
            d.size = m[doc].len() as u64;
        }
    }
    m.insert(
        "manifest.json".into(),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    );
}

#[test]
fn an_untouched_package_holds_zipped_and_unzipped() {
    let b = build();
    let fp = b.key.fingerprint();
    let report = verify_package(&b.path, Some(&fp));
    assert!(report.holds(), "{}", report.to_text());
    assert!(report.to_text().contains("RESULT: the package holds"));
    assert_eq!(report.events.len(), 6);
    assert!(report
        .checks
        .iter()
        .any(|c| c.code == "consistency" && c.outcome == Outcome::Passed));
    // Without the expected fingerprint: a notice, not a failure.
    let report = verify_package(&b.path, None);
    assert!(report.holds());
    assert!(report.checks.iter().any(|c| c.outcome == Outcome::Notice));
    // The same package unpacked into a directory.
    let dir = b.dir.path().join("unpacked");
    for (name, bytes) in members(&b.path) {
        let p = dir.join(&name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    assert!(verify_package(&dir, Some(&fp)).holds());
}

#[test]
fn a_changed_evidence_file_is_named() {
    let b = build();
    let mut m = members(&b.path);
    let name = file_member(&m);
    m.get_mut(&name).unwrap()[10] ^= 1;
    let f = failures(&rewrite(&b.path, &m), None);
    assert_eq!(f, vec![("file_hash".to_owned(), name)]);
}

#[test]
fn a_missing_or_extra_file_fails() {
    let b = build();
    let mut m = members(&b.path);
    let name = file_member(&m);
    m.remove(&name);
    assert!(failures(&rewrite(&b.path, &m), None).contains(&("file_hash".to_owned(), name)));
    let mut m = members(&b.path);
    m.insert("files/extra/planted.exe".into(), b"MZ".to_vec());
    assert_eq!(
        failures(&rewrite(&b.path, &m), None),
        vec![(
            "unlisted_member".to_owned(),
            "files/extra/planted.exe".to_owned()
        )]
    );
}

#[test]
fn a_changed_manifest_breaks_its_signature() {
    let b = build();
    let mut m = members(&b.path);
    let text = String::from_utf8(m["manifest.json"].clone()).unwrap();
    m.insert(
        "manifest.json".into(),
        text.replace("OPJ Martin", "OPJ Dupont").into_bytes(),
    );
    assert_eq!(
        failures(&rewrite(&b.path, &m), None),
        vec![("manifest_signature".to_owned(), "manifest.sig".to_owned())]
    );
    let mut m = members(&b.path);
    m.insert("manifest.sig".into(), b"00".to_vec());
    assert!(failures(&rewrite(&b.path, &m), None)
        .contains(&("manifest_signature".to_owned(), "manifest.sig".to_owned())));
    let mut m = members(&b.path);
    m.remove("manifest.json");
    assert_eq!(
        failures(&rewrite(&b.path, &m), None),
        vec![("manifest_present".to_owned(), "manifest.json".to_owned())]
    );
}

#[test]
fn changed_documents_are_caught_by_their_hash() {
    let b = build();
    for doc in ["custody.json", "case.jsonld", "README.txt"] {
        let mut m = members(&b.path);
        m.get_mut(doc).unwrap().extend_from_slice(b" ");
        let f = failures(&rewrite(&b.path, &m), None);
        assert!(
            f.contains(&("document_hash".to_owned(), doc.to_owned())),
            "{doc}: {f:?}"
        );
    }
}

#[test]
fn a_forged_event_or_proof_fails_inclusion_even_when_re_signed() {
    // The node itself (holding the key) rewrites an event after the fact:
    // manifest hashes and signature are redone, but the event no longer
    // leads to the signed root.
    let b = build();
    let mut m = members(&b.path);
    let mut custody: CustodyProofs = serde_json::from_slice(&m["custody.json"]).unwrap();
    custody.events[1].leaf = custody.events[1]
        .leaf
        .replace("Claire Custodian", "Someone Else");
    custody.events[4].inclusion_proof[0] = Hash::from_bytes([7u8; 32]);
    m.insert(
        "custody.json".into(),
        serde_json::to_vec_pretty(&custody).unwrap(),
    );
    rehash_document(&mut m, "custody.json");
    resign(&mut m, &b.key);
    let f = failures(&rewrite(&b.path, &m), None);
    let inclusion: Vec<&str> = f
        .iter()
        .filter(|(code, _)| code == "event_inclusion")
        .map(|(_, s)| s.as_str())
        .collect();
    // Events 1 and 4 are the two "ingested" events (leaves 39 and 45):
    // both files then lack a proven ingest.
    assert_eq!(
        inclusion,
        vec!["custody event 39", "custody event 45"],
        "{f:?}"
    );
    assert_eq!(
        f.iter().filter(|(c, _)| c == "item_custody").count(),
        2,
        "{f:?}"
    );
    assert_eq!(f.len(), 4, "{f:?}");
}

#[test]
fn a_forged_tree_head_or_history_fails() {
    let b = build();
    // A larger size with the same signature.
    let mut m = members(&b.path);
    let mut custody: CustodyProofs = serde_json::from_slice(&m["custody.json"]).unwrap();
    custody.tree_head.tree_size += 1;
    m.insert(
        "custody.json".into(),
        serde_json::to_vec_pretty(&custody).unwrap(),
    );
    rehash_document(&mut m, "custody.json");
    resign(&mut m, &b.key);
    let f = failures(&rewrite(&b.path, &m), None);
    assert!(f.iter().any(|(c, _)| c == "tree_head_signature"), "{f:?}");
    // A consistency proof that does not hold (a rewritten history).
    let mut m = members(&b.path);
    let mut custody: CustodyProofs = serde_json::from_slice(&m["custody.json"]).unwrap();
    custody.consistency[0].root_hash = Hash::from_bytes([9u8; 32]);
    m.insert(
        "custody.json".into(),
        serde_json::to_vec_pretty(&custody).unwrap(),
    );
    rehash_document(&mut m, "custody.json");
    resign(&mut m, &b.key);
    let f = failures(&rewrite(&b.path, &m), None);
    assert_eq!(
        f,
        vec![("consistency".to_owned(), "tree head of size 37".to_owned())]
    );
}

#[test]
fn another_key_is_refused_when_the_fingerprint_is_known() {
    let b = build();
    let expected = b.key.fingerprint();
    // An impostor re-signs everything with their own key.
    let impostor = NodeKey::from_seed([1u8; 32]);
    let mut m = members(&b.path);
    let mut manifest: Manifest = serde_json::from_slice(&m["manifest.json"]).unwrap();
    manifest.node.public_key = impostor.public_key().to_hex();
    manifest.node.fingerprint = impostor.fingerprint();
    let mut custody: CustodyProofs = serde_json::from_slice(&m["custody.json"]).unwrap();
    custody.tree_head = SignedTreeHead::sign(
        &impostor,
        "fr-pharos",
        custody.tree_head.tree_size,
        custody.tree_head.root_hash,
        custody.tree_head.timestamp_ms,
    );
    m.insert(
        "custody.json".into(),
        serde_json::to_vec_pretty(&custody).unwrap(),
    );
    m.insert(
        "manifest.json".into(),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    );
    rehash_document(&mut m, "custody.json");
    resign(&mut m, &impostor);
    let path = rewrite(&b.path, &m);
    assert!(verify_package(&path, None).holds());
    assert_eq!(
        failures(&path, Some(&expected)),
        vec![("signing_key".to_owned(), "public key".to_owned())]
    );
}

#[test]
fn what_is_not_a_package_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.zip");
    std::fs::write(&path, b"this is not a zip file").unwrap();
    let report = verify_package(&path, None);
    assert!(!report.holds());
    assert_eq!(report.checks[0].code, "package_readable");
    assert!(!verify_package(&dir.path().join("absent.zip"), None).holds());
}

#[test]
fn export_refuses_content_that_no_longer_matches() {
    let b = build();
    let m = members(&b.path);
    let manifest: Manifest = serde_json::from_slice(&m["manifest.json"]).unwrap();
    let custody: CustodyProofs = serde_json::from_slice(&m["custody.json"]).unwrap();
    let out = b.dir.path().join("again.zip");
    let err = package::write_package(
        std::fs::File::create(&out).unwrap(),
        manifest,
        &custody,
        "{}",
        &b.key,
        |_| {
            Ok(Some(
                Box::new(std::io::Cursor::new(b"bit rot".to_vec())) as Box<dyn Read>
            ))
        },
    )
    .err()
    .unwrap();
    assert!(matches!(err, package::PackageError::ContentMismatch { .. }));
}

#[test]
fn the_case_uco_document_names_every_file_and_event() {
    let b = build();
    let m = members(&b.path);
    let doc: serde_json::Value = serde_json::from_slice(&m["case.jsonld"]).unwrap();
    let graph = doc["@graph"].as_array().unwrap();
    let count = |t: &str| graph.iter().filter(|n| n["@type"] == t).count();
    assert_eq!(count("uco-observable:File"), 2);
    assert_eq!(count("case-investigation:ProvenanceRecord"), 2);
    assert_eq!(count("case-investigation:InvestigativeAction"), 6);
    assert_eq!(count("uco-identity:Person"), 1);
    // Identifiers end in a UUID of version 0 to 5, as UCO expects.
    for node in graph {
        let id = node["@id"].as_str().unwrap();
        let uuid = Uuid::parse_str(&id[id.len() - 36..]).unwrap();
        assert!(uuid.get_version_num() <= 5, "{id}");
    }
}
