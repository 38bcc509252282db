//! Evidence packages: one ZIP file (stored, not compressed) that carries
//! evidence files with everything needed to check them offline. The format
//! is documented in `docs/evidence-package.md`:
//!
//! - `files/<item id>/<file name>`: the evidence files;
//! - `custody.json`: the custody events of those items, each with the exact
//!   leaf bytes and an inclusion proof against a signed tree head, plus
//!   consistency proofs from the tree heads the node exported before;
//! - `case.jsonld`: the chain of custody in CASE/UCO 1.5 JSON-LD;
//! - `README.txt`: how to check the package by hand;
//! - `manifest.json`: the node, its public key, the case, every item with
//!   its hashes and metadata, and the SHA-256 of every other member;
//! - `manifest.sig`: the node's Ed25519 signature of `manifest.json`.

use std::io::{self, Read, Seek, Write};

use entraide_custody_log::Hash;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

use crate::record::SignedTreeHead;
use crate::signing::NodeKey;

pub const FORMAT: &str = "entraide-evidence-package";
pub const VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
pub const MANIFEST_SIGNATURE: &str = "manifest.sig";
pub const CUSTODY: &str = "custody.json";
pub const CASE_JSONLD: &str = "case.jsonld";
pub const README: &str = "README.txt";

/// The node that made the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageNode {
    pub id: String,
    pub organisation: String,
    pub country: String,
    /// Ed25519 public key, hexadecimal.
    pub public_key: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageCase {
    pub reference: String,
    pub title: String,
}

/// One evidence file and what is known of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageItem {
    pub id: Uuid,
    /// Path of the file inside the package.
    pub path: String,
    pub file_name: String,
    pub size: u64,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    pub description: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquired_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquired_place: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorisation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exhibit_number: Option<String>,
}

/// Another member of the package, by hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageDocument {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub package_id: Uuid,
    /// RFC 3339.
    pub created_at: String,
    pub node: PackageNode,
    pub case: PackageCase,
    pub exported_by: String,
    pub items: Vec<PackageItem>,
    pub documents: Vec<PackageDocument>,
}

/// A custody event with its proof of inclusion in the signed tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenEvent {
    pub index: u64,
    /// The exact leaf bytes (a `CustodyRecord` in JSON).
    pub leaf: String,
    pub inclusion_proof: Vec<Hash>,
}

/// Proof that the log at an earlier exported tree head is a prefix of the
/// log at this package's tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyFrom {
    pub tree_size: u64,
    pub root_hash: Hash,
    pub proof: Vec<Hash>,
}

/// `custody.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodyProofs {
    pub tree_head: SignedTreeHead,
    pub events: Vec<ProvenEvent>,
    pub consistency: Vec<ConsistencyFrom>,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("writing the package: {0}")]
    Io(#[from] io::Error),
    #[error("writing the package: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("the stored content of item {item} does not match its SHA-256: export refused")]
    ContentMismatch { item: Uuid },
    #[error("the stored content of item {item} is missing")]
    ContentMissing { item: Uuid },
}

fn options() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(true)
}

/// Copies `reader` into `out`, returning the SHA-256 and size of what was
/// copied.
fn copy_hashing(reader: &mut dyn Read, out: &mut impl Write) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// The path of an item's file inside a package.
pub fn item_path(id: Uuid, file_name: &str) -> String {
    format!("files/{id}/{file_name}")
}

/// Writes a package. `open_item` gives the stored content of an item; each
/// is hashed while copied and the export fails if it no longer matches.
/// `manifest.documents` is filled in here. One forward pass (each entry's
/// sizes in a data descriptor after it, as ZIP allows), the bytes hashed as
/// they are written: returns the writer and the package's SHA-256 and
/// size, with no second read of the file.
pub fn write_package<W: Write>(
    out: W,
    manifest: Manifest,
    custody: &CustodyProofs,
    case_jsonld: &str,
    key: &NodeKey,
    open_item: impl FnMut(&PackageItem) -> io::Result<Option<Box<dyn Read>>>,
) -> Result<(W, String, u64), PackageError> {
    let mut zip = zip::ZipWriter::new_stream(Hashing {
        inner: out,
        hasher: Sha256::new(),
        size: 0,
    });
    fill(&mut zip, manifest, custody, case_jsonld, key, open_item)?;
    let hashing = zip.finish()?.into_inner();
    let sha256 = hex::encode(hashing.hasher.finalize());
    Ok((hashing.inner, sha256, hashing.size))
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The entries of a package: each item's file, the custody proofs, the
/// CASE/UCO document, the README, the manifest and its signature.
fn fill<X: Write + Seek>(
    zip: &mut zip::ZipWriter<X>,
    mut manifest: Manifest,
    custody: &CustodyProofs,
    case_jsonld: &str,
    key: &NodeKey,
    mut open_item: impl FnMut(&PackageItem) -> io::Result<Option<Box<dyn Read>>>,
) -> Result<(), PackageError> {
    for item in &manifest.items {
        let Some(mut reader) = open_item(item)? else {
            return Err(PackageError::ContentMissing { item: item.id });
        };
        zip.start_file(item.path.as_str(), options())?;
        let (sha256, size) = copy_hashing(&mut reader, &mut *zip)?;
        if sha256 != item.sha256 || size != item.size {
            return Err(PackageError::ContentMismatch { item: item.id });
        }
    }
    let custody_json = serde_json::to_vec_pretty(custody).map_err(io::Error::other)?;
    let readme = readme(&manifest);
    manifest.documents.clear();
    for (path, bytes) in [
        (CUSTODY, custody_json.as_slice()),
        (CASE_JSONLD, case_jsonld.as_bytes()),
        (README, readme.as_bytes()),
    ] {
        zip.start_file(path, options())?;
        zip.write_all(bytes)?;
        manifest.documents.push(PackageDocument {
            path: path.to_owned(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        });
    }
    let manifest_json = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
    zip.start_file(MANIFEST, options())?;
    zip.write_all(&manifest_json)?;
    zip.start_file(MANIFEST_SIGNATURE, options())?;
    zip.write_all(key.sign(&manifest_json).as_bytes())?;
    Ok(())
}

fn readme(manifest: &Manifest) -> String {
    format!(
        "Evidence package {id}\n\
         Case {case} ({title}), exported by {by} at {at}\n\
         from node {node} ({org}, {country}).\n\n\
         Signing key fingerprint (SHA-256 of the Ed25519 public key):\n  {fp}\n\
         Ask the sending authority to confirm this fingerprint by another channel.\n\n\
         To check this package offline:\n  entraide evidence verify THIS-FILE.zip --expect-key {fp}\n\n\
         What the check does, and how to do it by hand:\n\
         1. manifest.sig is the Ed25519 signature of manifest.json by the key above.\n\
         2. manifest.json lists the SHA-256 of every file under files/ and of\n   custody.json, case.jsonld and this README (e.g. openssl dgst -sha256 FILE).\n\
         3. custody.json holds each custody event as the exact bytes of a leaf of the\n   node's custody log (RFC 6962 Merkle tree: leaf hash SHA-256(0x00 || bytes),\n   node hash SHA-256(0x01 || left || right)), with an inclusion proof against\n   a tree head signed by the same key, and consistency proofs from the tree\n   heads the node exported earlier.\n\
         4. case.jsonld is the chain of custody in CASE/UCO 1.5 JSON-LD\n   (check it with case_validate from the case-utils package).\n",
        id = manifest.package_id,
        case = manifest.case.reference,
        title = manifest.case.title,
        by = manifest.exported_by,
        at = manifest.created_at,
        node = manifest.node.id,
        org = manifest.node.organisation,
        country = manifest.node.country,
        fp = manifest.node.fingerprint,
    )
}
