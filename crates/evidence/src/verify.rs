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

/// An explanation: a stable message id (see [`MESSAGES`]) with its
/// arguments, translated by the web UI; [`Msg::english`] renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Msg {
    pub id: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Msg {
    pub fn new(id: &'static str) -> Self {
        Self {
            id,
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, value.to_string()));
        self
    }

    /// The English text, `{name}` replaced by the arguments.
    pub fn english(&self) -> String {
        let template = MESSAGES
            .iter()
            .find(|(id, _)| *id == self.id)
            .map(|(_, t)| *t)
            .unwrap_or(self.id);
        let mut text = template.to_owned();
        for (name, value) in &self.args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

/// Every explanation the verifier gives, in English; the web UI holds the
/// same ids (prefixed `ev-msg-`) in every language.
pub const MESSAGES: &[(&str, &str)] = &[
    ("package-opens", "the package opens"),
    ("package-unreadable", "cannot be opened as an evidence package: {error}"),
    ("member-missing", "missing from the package"),
    ("member-unreadable", "unreadable: {error}"),
    ("manifest-invalid", "not a valid manifest: {error}"),
    ("manifest-unknown-format", "format {format} version {version} is not a known package format"),
    ("manifest-format-known", "{format} version {version}"),
    ("key-not-ed25519", "the manifest's public key is not an Ed25519 key"),
    ("key-fingerprint-mismatch", "the stated fingerprint {stated} is not the key's fingerprint {fingerprint}"),
    ("key-expected", "fingerprint {fingerprint} is the one expected"),
    ("key-not-expected", "fingerprint {fingerprint} is not the expected {expected}"),
    ("key-to-confirm", "signed with the key of fingerprint {fingerprint}; confirm it with the sending authority by another channel"),
    ("manifest-signature-valid", "valid Ed25519 signature of manifest.json"),
    ("manifest-signature-invalid", "the signature does not match manifest.json and the key: the manifest was altered or signed by another key"),
    ("member-unlisted", "this file is in the package but not in the signed manifest"),
    ("document-matches", "SHA-256 {sha256} as in the manifest"),
    ("document-altered", "SHA-256 {sha256} ({size} bytes), the manifest says {expected} ({expected_size} bytes): the file was altered"),
    ("document-not-listed", "not listed in the manifest"),
    ("path-outside", "the path leaves the files/ folder"),
    ("file-matches", "SHA-256 {sha256}, {size} bytes, as recorded"),
    ("file-differs", "SHA-256 {sha256} ({size} bytes), recorded {expected} ({expected_size} bytes): the file is not the one recorded"),
    ("custody-invalid", "not valid: {error}"),
    ("head-other-key", "signed with another key than the manifest"),
    ("head-valid", "root {root} validly signed by the node"),
    ("head-altered", "the signature does not match the tree head: it was altered"),
    ("event-included", "{kind} at {at} by {actor}: in the signed custody log"),
    ("event-not-included", "{kind} at {at} by {actor}: the inclusion proof does not lead to the signed root: the event or its proof was altered"),
    ("item-custody-proven", "{count} proven custody events record this file's SHA-256"),
    ("item-custody-missing", "no proven custody event records the ingest of this file with this SHA-256"),
    ("consistent", "the log exported earlier (root {root}) is a prefix of this one: nothing was rewritten"),
    ("not-consistent", "the log does not extend the one exported earlier: {error}"),
    ("seen-heads-consistent", "consistent with what this node saw before from the same key"),
    ("seen-heads-rewritten", "the sender's custody log does not extend what it showed before: its history was rewritten"),
    ("subject-public-key", "public key"),
    ("subject-event", "custody event {index}"),
    ("subject-head", "tree head of size {size}"),
    ("subject-seen-head", "tree head of size {size} seen before"),
];

/// One thing that was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable name of the check (translated by the web UI).
    pub code: &'static str,
    /// What it was about: a file, an event, a tree head.
    pub subject: String,
    /// The subject as a message, when it is not a file name.
    pub subject_msg: Option<Msg>,
    pub outcome: Outcome,
    /// What was compared, in English.
    pub detail: String,
    /// The same, as a message to translate.
    pub msg: Msg,
}

impl Check {
    pub fn new(code: &'static str, subject: Subject, outcome: Outcome, msg: Msg) -> Self {
        let (subject, subject_msg) = match subject {
            Subject::Name(name) => (name, None),
            Subject::Msg(m) => (m.english(), Some(m)),
        };
        Self {
            code,
            subject,
            subject_msg,
            outcome,
            detail: msg.english(),
            msg,
        }
    }
}

/// What a check is about: a member of the package, or something named by
/// a message.
pub enum Subject {
    Name(String),
    Msg(Msg),
}

impl From<&str> for Subject {
    fn from(s: &str) -> Self {
        Subject::Name(s.to_owned())
    }
}

impl From<&String> for Subject {
    fn from(s: &String) -> Self {
        Subject::Name(s.clone())
    }
}

impl From<Msg> for Subject {
    fn from(m: Msg) -> Self {
        Subject::Msg(m)
    }
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

    fn pass(&mut self, code: &'static str, subject: impl Into<Subject>, msg: Msg) {
        self.push(code, subject, Outcome::Passed, msg);
    }

    fn fail(&mut self, code: &'static str, subject: impl Into<Subject>, msg: Msg) {
        self.push(code, subject, Outcome::Failed, msg);
    }

    pub fn push(
        &mut self,
        code: &'static str,
        subject: impl Into<Subject>,
        outcome: Outcome,
        msg: Msg,
    ) {
        self.checks
            .push(Check::new(code, subject.into(), outcome, msg));
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
            if c.outcome == Outcome::Notice && c.code == "signing_key" {
                out.push_str("      (give the fingerprint with --expect-key to have it checked)\n");
            }
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
            report.pass("package_readable", &shown, Msg::new("package-opens"));
            s
        }
        Err(e) => {
            report.fail(
                "package_readable",
                &shown,
                Msg::new("package-unreadable").arg("error", e),
            );
            return report;
        }
    };
    let manifest_bytes = match source.read_document(MANIFEST) {
        Ok(Some(b)) => b,
        Ok(None) => {
            report.fail("manifest_present", MANIFEST, Msg::new("member-missing"));
            return report;
        }
        Err(e) => {
            report.fail(
                "manifest_present",
                MANIFEST,
                Msg::new("member-unreadable").arg("error", e),
            );
            return report;
        }
    };
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(m) => m,
        Err(e) => {
            report.fail(
                "manifest_format",
                MANIFEST,
                Msg::new("manifest-invalid").arg("error", e),
            );
            return report;
        }
    };
    if manifest.format != FORMAT || manifest.version != VERSION {
        report.fail(
            "manifest_format",
            MANIFEST,
            Msg::new("manifest-unknown-format")
                .arg("format", &manifest.format)
                .arg("version", manifest.version),
        );
        return report;
    }
    report.pass(
        "manifest_format",
        MANIFEST,
        Msg::new("manifest-format-known")
            .arg("format", FORMAT)
            .arg("version", VERSION),
    );
    report.manifest = Some(manifest.clone());

    // The key: it must parse, match its stated fingerprint, and match what
    // the reader was told by another channel.
    let Some(key) = PublicKey::parse(&manifest.node.public_key) else {
        report.fail(
            "signing_key",
            Msg::new("subject-public-key"),
            Msg::new("key-not-ed25519"),
        );
        return report;
    };
    let fingerprint = key.fingerprint();
    if normalise_fingerprint(&manifest.node.fingerprint) != normalise_fingerprint(&fingerprint) {
        report.fail(
            "signing_key",
            Msg::new("subject-public-key"),
            Msg::new("key-fingerprint-mismatch")
                .arg("stated", &manifest.node.fingerprint)
                .arg("fingerprint", &fingerprint),
        );
    }
    match expected_fingerprint {
        Some(expected)
            if normalise_fingerprint(expected) == normalise_fingerprint(&fingerprint) =>
        {
            report.pass(
                "signing_key",
                Msg::new("subject-public-key"),
                Msg::new("key-expected").arg("fingerprint", &fingerprint),
            );
        }
        Some(expected) => report.fail(
            "signing_key",
            Msg::new("subject-public-key"),
            Msg::new("key-not-expected")
                .arg("fingerprint", &fingerprint)
                .arg("expected", expected),
        ),
        None => report.push(
            "signing_key",
            Msg::new("subject-public-key"),
            Outcome::Notice,
            Msg::new("key-to-confirm").arg("fingerprint", &fingerprint),
        ),
    }

    match source.read_document(MANIFEST_SIGNATURE) {
        Ok(Some(sig)) if key.verify(&manifest_bytes, &String::from_utf8_lossy(&sig)) => report
            .pass(
                "manifest_signature",
                MANIFEST_SIGNATURE,
                Msg::new("manifest-signature-valid"),
            ),
        Ok(Some(_)) => report.fail(
            "manifest_signature",
            MANIFEST_SIGNATURE,
            Msg::new("manifest-signature-invalid"),
        ),
        Ok(None) => report.fail(
            "manifest_signature",
            MANIFEST_SIGNATURE,
            Msg::new("member-missing"),
        ),
        Err(e) => report.fail(
            "manifest_signature",
            MANIFEST_SIGNATURE,
            Msg::new("member-unreadable").arg("error", e),
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
                    report.fail("unlisted_member", &name, Msg::new("member-unlisted"));
                }
            }
        }
        Err(e) => report.fail(
            "package_readable",
            &shown,
            Msg::new("package-unreadable").arg("error", e),
        ),
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
                        Msg::new("document-matches").arg("sha256", &sha),
                    );
                    if doc.path == CUSTODY {
                        custody_bytes = Some(bytes);
                    }
                } else {
                    report.fail(
                        "document_hash",
                        &doc.path,
                        Msg::new("document-altered")
                            .arg("sha256", &sha)
                            .arg("size", bytes.len())
                            .arg("expected", &doc.sha256)
                            .arg("expected_size", doc.size),
                    );
                }
            }
            Ok(None) => report.fail("document_hash", &doc.path, Msg::new("member-missing")),
            Err(e) => report.fail(
                "document_hash",
                &doc.path,
                Msg::new("member-unreadable").arg("error", e),
            ),
        }
    }
    for required in [CUSTODY, CASE_JSONLD] {
        if !manifest.documents.iter().any(|d| d.path == required) {
            report.fail("document_hash", required, Msg::new("document-not-listed"));
        }
    }

    // Evidence files, streamed.
    for item in &manifest.items {
        if !item.path.starts_with("files/") || !safe_member(&item.path) {
            report.fail("file_hash", &item.path, Msg::new("path-outside"));
            continue;
        }
        match source.with_member(&item.path, hash_stream) {
            Ok(Some((sha, size))) if sha == item.sha256 && size == item.size => report.pass(
                "file_hash",
                &item.path,
                Msg::new("file-matches")
                    .arg("sha256", &sha)
                    .arg("size", size),
            ),
            Ok(Some((sha, size))) => report.fail(
                "file_hash",
                &item.path,
                Msg::new("file-differs")
                    .arg("sha256", &sha)
                    .arg("size", size)
                    .arg("expected", &item.sha256)
                    .arg("expected_size", item.size),
            ),
            Ok(None) => report.fail("file_hash", &item.path, Msg::new("member-missing")),
            Err(e) => report.fail(
                "file_hash",
                &item.path,
                Msg::new("member-unreadable").arg("error", e),
            ),
        }
    }

    // Custody: the signed tree head, then every event's inclusion.
    let Some(custody_bytes) = custody_bytes else {
        return report;
    };
    let custody: CustodyProofs = match serde_json::from_slice(&custody_bytes) {
        Ok(c) => c,
        Err(e) => {
            report.fail(
                "custody_format",
                CUSTODY,
                Msg::new("custody-invalid").arg("error", e),
            );
            return report;
        }
    };
    let head = &custody.tree_head;
    let head_subject = || Msg::new("subject-head").arg("size", head.tree_size);
    if head.public_key != manifest.node.public_key {
        report.fail(
            "tree_head_signature",
            head_subject(),
            Msg::new("head-other-key"),
        );
    } else if head.verify() {
        report.pass(
            "tree_head_signature",
            head_subject(),
            Msg::new("head-valid").arg("root", head.root_hash),
        );
    } else {
        report.fail(
            "tree_head_signature",
            head_subject(),
            Msg::new("head-altered"),
        );
    }
    let mut proven: HashMap<(uuid::Uuid, String), Vec<String>> = HashMap::new();
    for e in &custody.events {
        let subject = || Msg::new("subject-event").arg("index", e.index);
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
        let what = |id: &'static str| match &record {
            Some(r) => Msg::new(id)
                .arg("kind", &r.kind)
                .arg("at", &r.at)
                .arg("actor", &r.actor),
            None => Msg::new(id)
                .arg("kind", "?")
                .arg("at", "?")
                .arg("actor", "?"),
        };
        if included {
            report.pass("event_inclusion", subject(), what("event-included"));
            if let Some(r) = &record {
                if let (Some(item), Some(sha)) = (r.item, &r.sha256) {
                    proven
                        .entry((item, sha.clone()))
                        .or_default()
                        .push(r.kind.clone());
                }
            }
        } else {
            report.fail("event_inclusion", subject(), what("event-not-included"));
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
                    Msg::new("item-custody-proven").arg("count", kinds.len()),
                );
            }
            _ => report.fail("item_custody", &item.path, Msg::new("item-custody-missing")),
        }
    }
    for c in &custody.consistency {
        let subject = || Msg::new("subject-head").arg("size", c.tree_size);
        match verify_consistency(
            c.tree_size,
            head.tree_size,
            &c.root_hash,
            &head.root_hash,
            &c.proof,
        ) {
            Ok(()) => report.pass(
                "consistency",
                subject(),
                Msg::new("consistent").arg("root", c.root_hash),
            ),
            Err(e) => report.fail(
                "consistency",
                subject(),
                Msg::new("not-consistent").arg("error", e),
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
