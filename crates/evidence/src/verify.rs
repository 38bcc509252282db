//! Offline verification of an evidence package: no server, no database,
//! only the package (a ZIP file, or the directory it was unpacked into)
//! and, optionally, the fingerprint of the key the sender announced.
//!
//! Every check is recorded, passed or failed, with what was compared, so
//! the report reads as a list a court clerk can follow; the package holds
//! only if no check failed.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use entraide_custody_log::{leaf_hash, verify_consistency, verify_inclusion, Hash};
use serde::Serialize;
use sha2::{Digest, Sha256};
use zip::ZipArchive;

use crate::package::{
    CustodyProofs, Manifest, CASE_JSONLD, CUSTODY, FORMAT, MANIFEST, MANIFEST_SIGNATURE, VERSION,
};
use crate::record::CustodyRecord;
use crate::signing::{normalise_fingerprint, PublicKey};

/// The largest manifest, custody file or JSON-LD document read (they are
/// read into memory; evidence files are streamed).
pub const MAX_DOCUMENT: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    /// Not a failure, but something the reader must do (compare a
    /// fingerprint given by another channel).
    Notice,
}

/// One thing that was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable name of the check (translated by the web UI).
    pub code: &'static str,
    /// What it was about: a file, an event, a tree head.
    pub subject: String,
    pub outcome: Outcome,
    /// What was compared, in English.
    pub detail: String,
}

/// A custody event read from the package, for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportEvent {
    pub index: u64,
    pub record: Option<CustodyRecord>,
    pub included: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
    pub manifest: Option<Manifest>,
    pub custody: Option<CustodyProofs>,
    pub events: Vec<ReportEvent>,
}

impl Report {
    /// True when nothing failed (and something was checked).
    pub fn holds(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.outcome != Outcome::Failed)
    }

    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome == Outcome::Failed)
    }

    fn pass(&mut self, code: &'static str, subject: impl Into<String>, detail: impl Into<String>) {
        self.push(code, subject, Outcome::Passed, detail);
    }

    fn fail(&mut self, code: &'static str, subject: impl Into<String>, detail: impl Into<String>) {
        self.push(code, subject, Outcome::Failed, detail);
    }

    fn push(
        &mut self,
        code: &'static str,
        subject: impl Into<String>,
        outcome: Outcome,
        detail: impl Into<String>,
    ) {
        self.checks.push(Check {
            code,
            subject: subject.into(),
            outcome,
            detail: detail.into(),
        });
    }

    /// The report as plain text, one line per check, then the verdict.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(m) = &self.manifest {
            out.push_str(&format!(
                "Evidence package {}\nCase {} ({}), exported by {} at {}\nNode {} — {} ({})\nKey fingerprint {}\n\n",
                m.package_id,
                m.case.reference,
                m.case.title,
                m.exported_by,
                m.created_at,
                m.node.id,
                m.node.organisation,
                m.node.country,
                m.node.fingerprint
            ));
        }
        for c in &self.checks {
            let mark = match c.outcome {
                Outcome::Passed => "PASS  ",
                Outcome::Failed => "FAIL  ",
                Outcome::Notice => "NOTE  ",
            };
            out.push_str(&format!("{mark}{}: {}\n", c.subject, c.detail));
        }
        let failed = self.failures().count();
        if self.holds() {
            out.push_str(&format!(
                "\nRESULT: the package holds. {} checks passed; every file matches its recorded SHA-256 and every custody event is in the signed custody log.\n",
                self.checks.iter().filter(|c| c.outcome == Outcome::Passed).count()
            ));
        } else {
            out.push_str(&format!(
                "\nRESULT: the package does NOT hold: {failed} check(s) failed (marked FAIL above).\n"
            ));
        }
        out
    }
}

/// Where the members of a package are read from.
enum Source {
    Zip(Box<ZipArchive<File>>),
    Dir(PathBuf),
}

/// A member name that stays inside the package.
fn safe_member(name: &str) -> bool {
    let p = Path::new(name);
    !name.is_empty()
        && p.components().all(|c| matches!(c, Component::Normal(_)))
        && !name.contains('\\')
}

impl Source {
    fn open(path: &Path) -> io::Result<Self> {
        if path.is_dir() {
            return Ok(Self::Dir(path.to_path_buf()));
        }
        let file = File::open(path)?;
        let archive = ZipArchive::new(file).map_err(io::Error::other)?;
        Ok(Self::Zip(Box::new(archive)))
    }

    /// Every member that is a file.
    fn names(&mut self) -> io::Result<Vec<String>> {
        match self {
            Self::Zip(z) => {
                let mut names = Vec::new();
                for i in 0..z.len() {
                    let f = z.by_index(i).map_err(io::Error::other)?;
                    if !f.is_dir() {
                        names.push(f.name().map_err(io::Error::other)?.into_owned());
                    }
                }
                Ok(names)
            }
            Self::Dir(root) => {
                let mut names = Vec::new();
                let mut stack = vec![root.clone()];
                while let Some(dir) = stack.pop() {
                    for entry in std::fs::read_dir(&dir)? {
                        let path = entry?.path();
                        if path.is_dir() {
                            stack.push(path);
                        } else if let Ok(rel) = path.strip_prefix(root.as_path()) {
                            names.push(
                                rel.components()
                                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                                    .collect::<Vec<_>>()
                                    .join("/"),
                            );
                        }
                    }
                }
                Ok(names)
            }
        }
    }

    /// Runs `f` on the member's content; `None` when it is absent.
    fn with_member<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut dyn Read) -> io::Result<T>,
    ) -> io::Result<Option<T>> {
        if !safe_member(name) {
            return Ok(None);
        }
        match self {
            Self::Zip(z) => match z.by_name(name) {
                Ok(mut member) => f(&mut member).map(Some),
                Err(zip::result::ZipError::FileNotFound) => Ok(None),
                Err(e) => Err(io::Error::other(e)),
            },
            Self::Dir(root) => match File::open(root.join(name)) {
                Ok(mut file) => f(&mut file).map(Some),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    fn read_document(&mut self, name: &str) -> io::Result<Option<Vec<u8>>> {
        self.with_member(name, |r| {
            let mut buf = Vec::new();
            r.take(MAX_DOCUMENT + 1).read_to_end(&mut buf)?;
            if buf.len() as u64 > MAX_DOCUMENT {
                return Err(io::Error::other(format!("{name} is larger than allowed")));
            }
            Ok(buf)
        })
    }
}

/// SHA-256 and size of a stream, read in chunks (constant memory).
pub fn hash_stream(r: &mut dyn Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// Verifies the package at `path`. `expected_fingerprint`: the signing
/// key's fingerprint as the sender announced it by another channel.
pub fn verify_package(path: &Path, expected_fingerprint: Option<&str>) -> Report {
    let mut report = Report::default();
    let shown = path.display().to_string();
    let mut source = match Source::open(path) {
        Ok(s) => {
            report.pass("package_readable", &shown, "the package opens");
            s
        }
        Err(e) => {
            report.fail(
                "package_readable",
                &shown,
                format!("cannot be opened as a package: {e}"),
            );
            return report;
        }
    };
    let manifest_bytes = match source.read_document(MANIFEST) {
        Ok(Some(b)) => b,
        Ok(None) => {
            report.fail("manifest_present", MANIFEST, "missing from the package");
            return report;
        }
        Err(e) => {
            report.fail("manifest_present", MANIFEST, format!("unreadable: {e}"));
            return report;
        }
    };
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(m) => m,
        Err(e) => {
            report.fail(
                "manifest_format",
                MANIFEST,
                format!("not a valid manifest: {e}"),
            );
            return report;
        }
    };
    if manifest.format != FORMAT || manifest.version != VERSION {
        report.fail(
            "manifest_format",
            MANIFEST,
            format!(
                "format {} version {} is not {FORMAT} version {VERSION}",
                manifest.format, manifest.version
            ),
        );
        return report;
    }
    report.pass(
        "manifest_format",
        MANIFEST,
        format!("{FORMAT} version {VERSION}"),
    );
    report.manifest = Some(manifest.clone());

    // The key: it must parse, match its stated fingerprint, and match what
    // the reader was told by another channel.
    let Some(key) = PublicKey::parse(&manifest.node.public_key) else {
        report.fail(
            "signing_key",
            "public key",
            "the manifest's public key is not an Ed25519 key",
        );
        return report;
    };
    let fingerprint = key.fingerprint();
    if normalise_fingerprint(&manifest.node.fingerprint) != normalise_fingerprint(&fingerprint) {
        report.fail(
            "signing_key",
            "public key",
            format!(
                "the stated fingerprint {} is not the key's fingerprint {fingerprint}",
                manifest.node.fingerprint
            ),
        );
    }
    match expected_fingerprint {
        Some(expected) if normalise_fingerprint(expected) == normalise_fingerprint(&fingerprint) => {
            report.pass(
                "signing_key",
                "public key",
                format!("fingerprint {fingerprint} is the one expected"),
            );
        }
        Some(expected) => report.fail(
            "signing_key",
            "public key",
            format!("fingerprint {fingerprint} is not the expected {expected}"),
        ),
        None => report.push(
            "signing_key",
            "public key",
            Outcome::Notice,
            format!(
                "signed with the key of fingerprint {fingerprint}; confirm it with the sending authority (--expect-key)"
            ),
        ),
    }

    match source.read_document(MANIFEST_SIGNATURE) {
        Ok(Some(sig)) if key.verify(&manifest_bytes, &String::from_utf8_lossy(&sig)) => report
            .pass(
                "manifest_signature",
                MANIFEST_SIGNATURE,
                "valid Ed25519 signature of manifest.json",
            ),
        Ok(Some(_)) => report.fail(
            "manifest_signature",
            MANIFEST_SIGNATURE,
            "the signature does not match manifest.json and the key: the manifest was altered or signed by another key",
        ),
        Ok(None) => report.fail("manifest_signature", MANIFEST_SIGNATURE, "missing"),
        Err(e) => report.fail(
            "manifest_signature",
            MANIFEST_SIGNATURE,
            format!("unreadable: {e}"),
        ),
    }

    // Every member must be covered by the manifest.
    let mut expected: BTreeSet<String> = manifest
        .items
        .iter()
        .map(|i| i.path.clone())
        .chain(manifest.documents.iter().map(|d| d.path.clone()))
        .collect();
    expected.insert(MANIFEST.to_owned());
    expected.insert(MANIFEST_SIGNATURE.to_owned());
    match source.names() {
        Ok(names) => {
            for name in names {
                if !expected.contains(&name) {
                    report.fail(
                        "unlisted_member",
                        &name,
                        "this file is in the package but not in the signed manifest",
                    );
                }
            }
        }
        Err(e) => report.fail("package_readable", &shown, format!("cannot list: {e}")),
    }

    // Documents (custody.json, case.jsonld, README.txt).
    let mut custody_bytes = None;
    for doc in &manifest.documents {
        match source.read_document(&doc.path) {
            Ok(Some(bytes)) => {
                let sha = hex::encode(Sha256::digest(&bytes));
                if sha == doc.sha256 && bytes.len() as u64 == doc.size {
                    report.pass(
                        "document_hash",
                        &doc.path,
                        format!("SHA-256 {sha} as in the manifest"),
                    );
                    if doc.path == CUSTODY {
                        custody_bytes = Some(bytes);
                    }
                } else {
                    report.fail(
                        "document_hash",
                        &doc.path,
                        format!(
                            "SHA-256 {sha} ({} bytes), the manifest says {} ({} bytes): the file was altered",
                            bytes.len(),
                            doc.sha256,
                            doc.size
                        ),
                    );
                }
            }
            Ok(None) => report.fail("document_hash", &doc.path, "missing from the package"),
            Err(e) => report.fail("document_hash", &doc.path, format!("unreadable: {e}")),
        }
    }
    for required in [CUSTODY, CASE_JSONLD] {
        if !manifest.documents.iter().any(|d| d.path == required) {
            report.fail("document_hash", required, "not listed in the manifest");
        }
    }

    // Evidence files, streamed.
    for item in &manifest.items {
        if !item.path.starts_with("files/") || !safe_member(&item.path) {
            report.fail("file_hash", &item.path, "the path leaves the files/ folder");
            continue;
        }
        match source.with_member(&item.path, hash_stream) {
            Ok(Some((sha, size))) if sha == item.sha256 && size == item.size => report.pass(
                "file_hash",
                &item.path,
                format!("SHA-256 {sha}, {size} bytes, as recorded"),
            ),
            Ok(Some((sha, size))) => report.fail(
                "file_hash",
                &item.path,
                format!(
                    "SHA-256 {sha} ({size} bytes), recorded {} ({} bytes): the file is not the one recorded",
                    item.sha256, item.size
                ),
            ),
            Ok(None) => report.fail("file_hash", &item.path, "missing from the package"),
            Err(e) => report.fail("file_hash", &item.path, format!("unreadable: {e}")),
        }
    }

    // Custody: the signed tree head, then every event's inclusion.
    let Some(custody_bytes) = custody_bytes else {
        return report;
    };
    let custody: CustodyProofs = match serde_json::from_slice(&custody_bytes) {
        Ok(c) => c,
        Err(e) => {
            report.fail("custody_format", CUSTODY, format!("not valid: {e}"));
            return report;
        }
    };
    let head = &custody.tree_head;
    let head_subject = format!("tree head of size {}", head.tree_size);
    if head.public_key != manifest.node.public_key {
        report.fail(
            "tree_head_signature",
            &head_subject,
            "signed with another key than the manifest",
        );
    } else if head.verify() {
        report.pass(
            "tree_head_signature",
            &head_subject,
            format!("root {} validly signed by the node", head.root_hash),
        );
    } else {
        report.fail(
            "tree_head_signature",
            &head_subject,
            "the signature does not match the tree head: it was altered",
        );
    }
    let mut proven: HashMap<(uuid::Uuid, String), Vec<String>> = HashMap::new();
    for e in &custody.events {
        let subject = format!("custody event {}", e.index);
        let record = CustodyRecord::from_leaf(&e.leaf).ok();
        let leaf = leaf_hash(e.leaf.as_bytes());
        let included = verify_inclusion(
            &leaf,
            e.index,
            head.tree_size,
            &e.inclusion_proof,
            &head.root_hash,
        )
        .is_ok();
        let what = record
            .as_ref()
            .map(|r| format!("{} at {} by {}", r.kind, r.at, r.actor))
            .unwrap_or_else(|| "unreadable record".into());
        if included {
            report.pass(
                "event_inclusion",
                &subject,
                format!("{what}: in the signed custody log"),
            );
            if let Some(r) = &record {
                if let (Some(item), Some(sha)) = (r.item, &r.sha256) {
                    proven
                        .entry((item, sha.clone()))
                        .or_default()
                        .push(r.kind.clone());
                }
            }
        } else {
            report.fail(
                "event_inclusion",
                &subject,
                format!("{what}: the inclusion proof does not lead to the signed root: the event or its proof was altered"),
            );
        }
        report.events.push(ReportEvent {
            index: e.index,
            record,
            included,
        });
    }
    for item in &manifest.items {
        match proven.get(&(item.id, item.sha256.clone())) {
            Some(kinds) if kinds.iter().any(|k| k == "ingested" || k == "received") => {
                report.pass(
                    "item_custody",
                    &item.path,
                    format!(
                        "{} proven custody events record this file's SHA-256",
                        kinds.len()
                    ),
                );
            }
            _ => report.fail(
                "item_custody",
                &item.path,
                "no proven custody event records the ingest of this file with this SHA-256",
            ),
        }
    }
    for c in &custody.consistency {
        let subject = format!("tree head of size {}", c.tree_size);
        match verify_consistency(
            c.tree_size,
            head.tree_size,
            &c.root_hash,
            &head.root_hash,
            &c.proof,
        ) {
            Ok(()) => report.pass(
                "consistency",
                &subject,
                format!(
                    "the log exported earlier (root {}) is a prefix of this one: nothing was rewritten",
                    c.root_hash
                ),
            ),
            Err(e) => report.fail(
                "consistency",
                &subject,
                format!("the log does not extend the one exported earlier: {e}"),
            ),
        }
    }
    report.custody = Some(custody);
    report
}

/// Checks a consistency proof between a tree head seen before and the one
/// in a package (used by a receiving node holding earlier heads).
pub fn consistent(
    old_size: u64,
    old_root: &Hash,
    new_size: u64,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    verify_consistency(old_size, new_size, old_root, new_root, proof).is_ok()
}
