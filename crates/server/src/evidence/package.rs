//! Evidence packages: exporting items of a case (custody events, signed
//! tree head, proofs, CASE/UCO) and receiving one (offline verification,
//! the tree head checked against those seen before, then ingest).

use std::io::Read;
use std::path::{Path, PathBuf};

use entraide_custody_log::Hash;
use entraide_domain::evidence::{
    self as rules, CustodyEventKind, EvidenceSource, EvidenceState, Integrity,
};
use entraide_domain::{AuditAction, AuditOutcome};
use entraide_evidence::package::{
    self, ConsistencyFrom, CustodyProofs, Manifest, PackageCase, PackageItem, PackageNode,
    ProvenEvent,
};
use entraide_evidence::{CustodyRecord, IngestOptions, Ingested, Report};
use entraide_proto as proto;
use entraide_store::{Case, CustodyJob, EvidenceItem, ForeignTreeHead, NewCustodyEvent};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use super::service::*;
use crate::app::audit::AuditEntryExt;
use crate::app::custody::now;
pub use crate::app::custody::{
    now_millis, rfc3339, Custody, CustodyStartError, LogCheck, NODE_KEY_FILE,
};
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

/// A package written to a file in the work directory.
pub struct BuiltPackage {
    pub path: PathBuf,
    /// The package file's SHA-256, computed as it was written.
    pub sha256: String,
    pub package_id: Uuid,
    pub file_name: String,
    /// The items written into it.
    pub items: Vec<EvidenceItem>,
}

/// Exports items of a case as an evidence package: records an `exported`
/// custody event per item, signs a tree head (marked exported), and writes
/// files, manifest, proofs and CASE/UCO JSON-LD into a ZIP file.
pub async fn export_package(
    app: &AppState,
    case: &Case,
    actor: &CustodyActor,
    selected: &[Uuid],
) -> AppResult<BuiltPackage> {
    let all = app.store.evidence_in_case(case.id).await?;
    let mut items = Vec::new();
    for item in all {
        if !selected.is_empty() && !selected.contains(&item.id) {
            continue;
        }
        if let Err(e) = rules::content_available(item.state, item.integrity) {
            if selected.contains(&item.id) {
                return Err(AppError::Conflict {
                    code: e.code(),
                    detail: format!("{}: {e}", item.file_name),
                });
            }
            continue;
        }
        items.push(item);
    }
    if let Some(missing) = selected
        .iter()
        .find(|id| !items.iter().any(|i| i.id == **id))
    {
        return Err(AppError::Validation(vec![proto::FieldError {
            field: "items".into(),
            code: "unknown_item".into(),
            message: format!("{missing} is not an item of this case"),
        }]));
    }
    if items.is_empty() {
        return Err(AppError::Conflict {
            code: "nothing_to_export",
            detail: "the case holds no evidence that can be exported".into(),
        });
    }
    let package_id = Uuid::now_v7();
    let node = app.custody.node_id().to_owned();
    let events: Vec<NewCustodyEvent> = items
        .iter()
        .map(|item| {
            custody_event(
                &node,
                case,
                Some(item),
                CustodyEventKind::Exported,
                actor,
                detail_map([("package", Some(package_id.to_string()))]),
            )
        })
        .collect();
    let audit = actor
        .entry(AuditAction::EvidenceExported, AuditOutcome::Success)
        .on_case(case.id)
        .target(package_id.to_string())
        .detail(serde_json::json!({ "items": items.iter().map(|i| i.id).collect::<Vec<_>>() }));
    app.custody
        .write(
            &app.store,
            CustodyJob::Append {
                events,
                audit: Some(Box::new(audit)),
            },
        )
        .await?;
    let head = app.custody.sign_tree_head(&app.store, true).await?;

    let mut proven = Vec::new();
    let mut records = Vec::new();
    for item in &items {
        for e in app.store.custody_events_for_item(item.id).await? {
            if e.leaf_index >= head.tree_size {
                continue;
            }
            let proof = app
                .custody
                .inclusion_proof(&app.store, e.leaf_index, head.tree_size)
                .await?;
            if let Ok(r) = CustodyRecord::from_leaf(&e.event.record) {
                records.push(r);
            }
            proven.push(ProvenEvent {
                index: e.leaf_index,
                leaf: e.event.record.clone(),
                inclusion_proof: proof,
            });
        }
    }
    let mut consistency = Vec::new();
    for earlier in app.store.exported_tree_heads().await? {
        if earlier.tree_size == 0 || earlier.tree_size >= head.tree_size {
            continue;
        }
        let proof = app
            .custody
            .consistency_proof(&app.store, earlier.tree_size, head.tree_size)
            .await?;
        consistency.push(ConsistencyFrom {
            tree_size: earlier.tree_size,
            root_hash: Hash::from_hex(&earlier.root_hash)
                .map_err(|e| AppError::Internal(format!("stored root: {e}")))?,
            proof,
        });
    }
    let org = app.store.own_organisation().await?;
    let key = app.custody.key().public_key();
    let manifest = Manifest {
        format: package::FORMAT.into(),
        version: package::VERSION,
        package_id,
        created_at: rfc3339(now()),
        node: PackageNode {
            id: node.clone(),
            organisation: org.name.as_str().to_owned(),
            country: org.country.to_string(),
            public_key: key.to_hex(),
            fingerprint: key.fingerprint(),
        },
        case: PackageCase {
            reference: case.reference.as_str().to_owned(),
            title: case.title.as_str().to_owned(),
        },
        exported_by: actor.email.clone(),
        items: items
            .iter()
            .map(|i| PackageItem {
                id: i.id,
                path: package::item_path(i.id, &i.file_name),
                file_name: i.file_name.clone(),
                size: i.size,
                sha256: i.sha256.clone(),
                md5: i.md5.clone(),
                sha1: i.sha1.clone(),
                description: i.description.clone(),
                source: i.source.as_str().to_owned(),
                acquired_at: i.acquired_at.map(rfc3339),
                acquired_place: i.acquired_place.clone(),
                performer: i.performer.clone(),
                authorisation: i.authorisation.clone(),
                exhibit_number: i.exhibit_number.clone(),
            })
            .collect(),
        documents: Vec::new(),
    };
    let case_jsonld = entraide_evidence::case_uco::chain_of_custody(&manifest, &records);
    let custody_proofs = CustodyProofs {
        tree_head: head,
        events: proven,
        consistency,
    };
    let path = app.custody.work_path("package.zip");
    let custody = app.custody.clone();
    let out_path = path.clone();
    let written = tokio::task::spawn_blocking(move || -> AppResult<String> {
        let file = std::fs::File::create(&out_path)
            .map_err(|e| AppError::Internal(format!("package file: {e}")))?;
        let blobs = custody.blobs();
        // Hashed as it is written: sending it to a peer needs no second read.
        let (file, sha256, _) = package::write_package(
            std::io::BufWriter::with_capacity(1 << 20, file),
            manifest,
            &custody_proofs,
            &case_jsonld,
            custody.key(),
            |item| match blobs.open(&item.sha256) {
                Ok(Some(reader)) => Ok(Some(reader as Box<dyn Read>)),
                Ok(None) => Ok(None),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            },
        )
        .map_err(|e| match e {
            package::PackageError::ContentMismatch { .. }
            | package::PackageError::ContentMissing { .. } => AppError::Conflict {
                code: "evidence_corrupted",
                detail: e.to_string(),
            },
            e => AppError::Internal(e.to_string()),
        })?;
        let file = file
            .into_inner()
            .map_err(|e| AppError::Internal(format!("package file: {e}")))?;
        file.sync_all()
            .map_err(|e| AppError::Internal(format!("package file: {e}")))?;
        Ok(sha256)
    })
    .await
    .map_err(|e| AppError::Internal(format!("export task failed: {e}")))?;
    let sha256 = match written {
        Ok(sha256) => sha256,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            if let AppError::Conflict { .. } = e {
                // A blob no longer matched: find and mark it.
                let _ = scrub_items(app, case, &items).await;
            }
            return Err(e);
        }
    };
    Ok(BuiltPackage {
        items,
        path,
        sha256,
        package_id,
        file_name: format!(
            "{}-evidence-{}.zip",
            case.reference.as_str().replace(['/', '\\', ' '], "-"),
            &package_id.simple().to_string()[..12]
        ),
    })
}

async fn scrub_items(app: &AppState, case: &Case, items: &[EvidenceItem]) -> AppResult<()> {
    for item in items {
        let custody = app.custody.clone();
        let sha = item.sha256.clone();
        let good = tokio::task::spawn_blocking(move || custody.blobs().verify(&sha))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        if !matches!(good, Ok(true)) {
            mark_corrupted(
                app,
                case,
                item,
                "the stored content no longer matches its SHA-256",
            )
            .await?;
        }
    }
    Ok(())
}

/// Receives a package (already on disk): verifies it offline, checks its
/// tree head against those seen before from the same key, and only then
/// ingests its files as items of `case`. A package that fails is recorded
/// as a `verification_failed` custody event and refused.
pub async fn import_package(
    app: &AppState,
    case: &Case,
    actor: &CustodyActor,
    path: &Path,
    shown_name: &str,
) -> AppResult<(Report, Vec<EvidenceItem>)> {
    let mut report = verify_received(path, shown_name).await?;
    let mut seen_heads = Vec::new();
    if let (Some(manifest), Some(custody)) = (report.manifest.clone(), report.custody.clone()) {
        seen_heads = check_against_seen_heads(app, &manifest, &custody, &mut report).await?;
    }
    let package_id = report.manifest.as_ref().map(|m| m.package_id);
    if !report.holds() {
        let failed: Vec<String> = report
            .failures()
            .map(|c| format!("{}: {}", c.subject, c.detail))
            .collect();
        let event = custody_event(
            app.custody.node_id(),
            case,
            None,
            CustodyEventKind::VerificationFailed,
            actor,
            detail_map([
                ("package", package_id.map(|p| p.to_string())),
                (
                    "failures",
                    Some(failed.join(" | ").chars().take(4000).collect()),
                ),
            ]),
        );
        let audit = actor
            .entry(AuditAction::EvidencePackageRefused, AuditOutcome::Failure)
            .on_case(case.id)
            .target(package_id.map(|p| p.to_string()).unwrap_or_default())
            .detail(serde_json::json!({ "failed_checks": failed.len() }));
        app.custody
            .write(
                &app.store,
                CustodyJob::Append {
                    events: vec![event],
                    audit: Some(Box::new(audit)),
                },
            )
            .await?;
        return Ok((report, Vec::new()));
    }
    let Some(manifest) = report.manifest.clone() else {
        return Ok((report, Vec::new()));
    };
    // Keep the package itself (content-addressed) so it can be verified
    // again years later.
    let kept = ingest_blocking(app, std::fs::File::open(path).map_err(io_internal)?, false).await?;
    let mut items = Vec::new();
    let origin = format!(
        "{} ({}, {}), package {}",
        manifest.node.id, manifest.node.organisation, manifest.node.country, manifest.package_id
    );
    for entry in &manifest.items {
        let member = entry.path.clone();
        let zip_path = path.to_path_buf();
        let custody = app.custody.clone();
        let ingested = tokio::task::spawn_blocking(move || -> AppResult<Ingested> {
            let file = std::fs::File::open(&zip_path).map_err(io_internal)?;
            let mut archive = zip::ZipArchive::new(file)
                .map_err(|e| AppError::Internal(format!("package: {e}")))?;
            let mut reader = archive
                .by_name(&member)
                .map_err(|e| AppError::Internal(format!("package member: {e}")))?;
            custody
                .blobs()
                .store_stream(&mut reader, &IngestOptions::default())
                .map_err(|e| AppError::Internal(format!("ingest failed: {e}")))
        })
        .await
        .map_err(|e| AppError::Internal(format!("ingest task failed: {e}")))??;
        if ingested.sha256 != entry.sha256 {
            return Err(AppError::Internal(
                "a package file changed while it was received".into(),
            ));
        }
        let at = now();
        let item = EvidenceItem {
            id: Uuid::now_v7(),
            case_id: case.id,
            sha256: entry.sha256.clone(),
            md5: entry.md5.clone(),
            sha1: entry.sha1.clone(),
            size: entry.size,
            file_name: entry.file_name.clone(),
            description: entry.description.clone(),
            source: EvidenceSource::ReceivedPackage,
            acquired_at: entry
                .acquired_at
                .as_deref()
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()),
            acquired_place: entry.acquired_place.clone(),
            performer: entry.performer.clone(),
            authorisation: entry.authorisation.clone(),
            exhibit_number: None,
            origin: Some(match &entry.exhibit_number {
                Some(exhibit) => format!("{origin}, exhibit {exhibit}"),
                None => origin.clone(),
            }),
            state: EvidenceState::Held,
            legal_hold: false,
            retention_until: None,
            integrity: Integrity::Intact,
            verified_at: Some(at),
            disposed_at: None,
            disposal_reason: None,
            created_by: actor.audit.id,
            created_at: at,
            updated_at: at,
        };
        let node = app.custody.node_id();
        let received = custody_event(
            node,
            case,
            Some(&item),
            CustodyEventKind::Received,
            actor,
            detail_map([
                ("package", Some(manifest.package_id.to_string())),
                ("package_sha256", Some(kept.sha256.clone())),
                ("from_node", Some(manifest.node.id.clone())),
                ("sender_key", Some(manifest.node.fingerprint.clone())),
                ("sender_item", Some(entry.id.to_string())),
                ("sender_exhibit_number", entry.exhibit_number.clone()),
                (
                    "sender_tree_size",
                    report
                        .custody
                        .as_ref()
                        .map(|c| c.tree_head.tree_size.to_string()),
                ),
            ]),
        );
        let verified = custody_event(
            node,
            case,
            Some(&item),
            CustodyEventKind::Verified,
            actor,
            detail_map([
                ("check", Some("package".into())),
                (
                    "checks_passed",
                    Some(
                        report
                            .checks
                            .iter()
                            .filter(|c| c.outcome == entraide_evidence::Outcome::Passed)
                            .count()
                            .to_string(),
                    ),
                ),
            ]),
        );
        let audit = actor
            .entry(AuditAction::EvidencePackageReceived, AuditOutcome::Success)
            .on_case(case.id)
            .target(item.id.to_string())
            .detail(serde_json::json!({ "package": manifest.package_id, "sha256": item.sha256 }));
        app.custody
            .write(
                &app.store,
                CustodyJob::CreateItem {
                    item: Box::new(item.clone()),
                    events: vec![received, verified],
                    audit: Box::new(audit),
                },
            )
            .await?;
        items.push(item);
    }
    for head in seen_heads {
        app.store.store_foreign_tree_head(&head).await?;
    }
    Ok((report, items))
}

/// Verifies a package received into a work file, naming it in the report
/// as the sender named it (never by the node's own path).
pub async fn verify_received(path: &Path, shown_name: &str) -> AppResult<Report> {
    let p = path.to_path_buf();
    let mut report =
        tokio::task::spawn_blocking(move || entraide_evidence::verify_package(&p, None))
            .await
            .map_err(|e| AppError::Internal(format!("verification task failed: {e}")))?;
    let own = path.display().to_string();
    for c in &mut report.checks {
        if c.subject == own {
            c.subject = shown_name.to_owned();
        }
        c.detail = c.detail.replace(&own, shown_name);
    }
    Ok(report)
}

fn io_internal(e: std::io::Error) -> AppError {
    AppError::Internal(format!("package file: {e}"))
}

/// A node that rewrote its custody log is caught here: the package's tree
/// head must extend every head seen before from the same key (by the
/// package's consistency proofs), and a head of a size already seen must
/// have the same root. Returns the heads to remember if the package holds.
async fn check_against_seen_heads(
    app: &AppState,
    manifest: &Manifest,
    custody: &CustodyProofs,
    report: &mut Report,
) -> AppResult<Vec<ForeignTreeHead>> {
    let head = &custody.tree_head;
    let seen = app
        .store
        .foreign_tree_heads(&manifest.node.public_key)
        .await?;
    let now = now();
    for old in &seen {
        let old_root = Hash::from_hex(&old.root_hash).ok();
        let ok = if old.tree_size == head.tree_size {
            old_root == Some(head.root_hash)
        } else if old.tree_size < head.tree_size {
            custody.consistency.iter().any(|c| {
                c.tree_size == old.tree_size
                    && Some(c.root_hash) == old_root
                    && entraide_evidence::verify::consistent(
                        c.tree_size,
                        &c.root_hash,
                        head.tree_size,
                        &head.root_hash,
                        &c.proof,
                    )
            })
        } else {
            // An older package arriving late: its head must be one the
            // newer package proved consistent, if we learnt that size.
            true
        };
        report.push(
            "seen_heads",
            entraide_evidence::Msg::new("subject-seen-head").arg("size", old.tree_size),
            if ok {
                entraide_evidence::Outcome::Passed
            } else {
                entraide_evidence::Outcome::Failed
            },
            entraide_evidence::Msg::new(if ok {
                "seen-heads-consistent"
            } else {
                "seen-heads-rewritten"
            }),
        );
    }
    let mut remember = vec![ForeignTreeHead {
        public_key: manifest.node.public_key.clone(),
        tree_size: head.tree_size,
        root_hash: head.root_hash.to_hex(),
        node_id: manifest.node.id.clone(),
        signed_at: entraide_store::from_millis(head.timestamp_ms).ok(),
        signature: Some(head.signature.clone()),
        received_at: now,
    }];
    for c in &custody.consistency {
        remember.push(ForeignTreeHead {
            public_key: manifest.node.public_key.clone(),
            tree_size: c.tree_size,
            root_hash: c.root_hash.to_hex(),
            node_id: manifest.node.id.clone(),
            signed_at: None,
            signature: None,
            received_at: now,
        });
    }
    Ok(remember)
}

pub fn check_view(c: &entraide_evidence::Check) -> proto::VerificationCheckView {
    proto::VerificationCheckView {
        code: c.code.to_owned(),
        subject: c.subject.clone(),
        outcome: match c.outcome {
            entraide_evidence::Outcome::Passed => "passed",
            entraide_evidence::Outcome::Failed => "failed",
            entraide_evidence::Outcome::Notice => "notice",
        }
        .to_owned(),
        detail: c.detail.clone(),
    }
}
