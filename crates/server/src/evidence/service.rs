//! Evidence and chain of custody: the operations shared by the API, the web
//! UI and the command line. Every operation that touches evidence appends
//! custody events (leaves of the node's Merkle custody log) in the same
//! transaction as the change itself and its audit entry.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use entraide_custody_log::{Hash, MerkleLog};
use entraide_domain::evidence::{
    self as rules, CustodyEventKind, EvidenceSource, EvidenceState, Integrity,
};
use entraide_domain::{AuditAction, AuditOutcome, CaseAccess, ParseError};
use entraide_evidence::package::{
    self, ConsistencyFrom, CustodyProofs, Manifest, PackageCase, PackageItem, PackageNode,
    ProvenEvent,
};
use entraide_evidence::{
    BlobStore, CustodyRecord, IngestOptions, Ingested, LocalBlobStore, NodeKey, Report,
    SignedTreeHead,
};
use entraide_proto as proto;
use entraide_store::{
    Case, CustodyEvent, CustodyJob, EvidenceItem, ForeignTreeHead, NewAuditEntry, NewCustodyEvent,
    StoredTreeHead,
};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::app::principal::Principal;
use crate::app::error::{AppError, AppResult, Fields};
use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::state::AppState;
pub use crate::app::custody::{now_millis, rfc3339, Custody, CustodyStartError, LogCheck, NODE_KEY_FILE};
use crate::app::custody::now;

/// Who acts on evidence: for the custody record and the audit log.
#[derive(Debug, Clone)]
pub struct CustodyActor {
    pub audit: Actor,
    pub email: String,
    pub name: String,
}

impl CustodyActor {
    /// The custody record names a user by e-mail and name; the node, a peer
    /// or the command line by the audit label.
    pub fn of(principal: &Principal) -> Self {
        match principal {
            Principal::User { user, .. } => Self {
                audit: principal.actor(),
                email: user.email.to_string(),
                name: user.display_name.as_str().to_owned(),
            },
            Principal::CommandLine { .. } => Self::operator(),
            Principal::Node => Self::node(),
            Principal::Peer { .. } => {
                let audit = principal.actor();
                Self {
                    email: audit.label.clone(),
                    name: audit.label.clone(),
                    audit,
                }
            }
        }
    }

    /// The node operator at the command line.
    pub fn operator() -> Self {
        let audit = Actor::command_line();
        Self {
            email: "node-operator".into(),
            name: audit.label.clone(),
            audit,
        }
    }

    /// The node itself (scheduled checks).
    pub fn node() -> Self {
        Self {
            audit: Actor {
                id: None,
                label: "node".into(),
                client_ip: None,
                request_id: None,
            },
            email: "node".into(),
            name: "node".into(),
        }
    }

    fn entry(&self, action: AuditAction, outcome: AuditOutcome) -> NewAuditEntry {
        self.audit.entry(action, outcome)
    }
}

/// Builds a custody event: the record, its leaf bytes and leaf hash.
pub fn custody_event(
    node_id: &str,
    case: &Case,
    item: Option<&EvidenceItem>,
    kind: CustodyEventKind,
    actor: &CustodyActor,
    details: BTreeMap<String, String>,
) -> NewCustodyEvent {
    let at = now();
    let record = CustodyRecord {
        v: 1,
        event: Uuid::now_v7(),
        node: node_id.to_owned(),
        case: case.reference.as_str().to_owned(),
        item: item.map(|i| i.id),
        sha256: item.map(|i| i.sha256.clone()),
        kind: kind.as_str().to_owned(),
        at: rfc3339(at),
        actor: actor.email.clone(),
        actor_name: actor.name.clone(),
        details,
    };
    let leaf = record.to_leaf();
    NewCustodyEvent {
        id: record.event,
        case_id: case.id,
        item_id: item.map(|i| i.id),
        kind,
        at,
        actor_id: actor.audit.id,
        actor: actor.email.clone(),
        leaf_hash: record.leaf_hash().to_hex(),
        record: leaf,
    }
}

fn detail_map<const N: usize>(pairs: [(&str, Option<String>); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect()
}

/// What is known of an item before its bytes arrive (validated).
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceDetails {
    pub file_name: String,
    pub description: String,
    pub source: EvidenceSource,
    pub acquired_at: Option<OffsetDateTime>,
    pub acquired_place: Option<String>,
    pub performer: Option<String>,
    pub authorisation: Option<String>,
    pub exhibit_number: Option<String>,
    pub legacy_hashes: bool,
}

/// The raw fields, as typed in a form, the API or the command line.
#[derive(Debug, Clone, Default)]
pub struct EvidenceInput {
    pub file_name: String,
    pub description: String,
    pub source: String,
    pub acquired_at: Option<OffsetDateTime>,
    pub acquired_place: String,
    pub performer: String,
    pub authorisation: String,
    pub exhibit_number: String,
    pub legacy_hashes: bool,
}

impl EvidenceInput {
    pub fn from_upload(u: &proto::NewEvidenceUpload) -> Self {
        Self {
            file_name: u.file_name.clone(),
            description: u.description.clone(),
            source: u.source.clone(),
            acquired_at: u.acquired_at,
            acquired_place: u.acquired_place.clone().unwrap_or_default(),
            performer: u.performer.clone().unwrap_or_default(),
            authorisation: u.authorisation.clone().unwrap_or_default(),
            exhibit_number: u.exhibit_number.clone().unwrap_or_default(),
            legacy_hashes: u.legacy_hashes,
        }
    }

    /// Every field checked; all errors reported at once.
    pub fn parse(&self) -> AppResult<EvidenceDetails> {
        let mut f = Fields::default();
        let file_name = f.check("file_name", rules::parse_file_name(&self.file_name));
        let description = f.check("description", rules::parse_description(&self.description));
        let source = f.check(
            "source",
            self.source.parse::<EvidenceSource>().and_then(|s| match s {
                EvidenceSource::ReceivedPackage => Err(ParseError::new(
                    "evidence_source_reserved",
                    "received_package is set by the node when a package arrives",
                )),
                s => Ok(s),
            }),
        );
        if let Some(at) = self.acquired_at {
            f.check(
                "acquired_at",
                rules::check_acquired_at(at, OffsetDateTime::now_utc()),
            );
        }
        let place = f.check(
            "acquired_place",
            rules::parse_optional(&self.acquired_place, "acquisition place"),
        );
        let performer = f.check(
            "performer",
            rules::parse_optional(&self.performer, "performer"),
        );
        let authorisation = f.check(
            "authorisation",
            rules::parse_optional(&self.authorisation, "authorisation"),
        );
        let exhibit = if self.exhibit_number.trim().is_empty() {
            Some(None)
        } else {
            f.check(
                "exhibit_number",
                rules::parse_exhibit_number(&self.exhibit_number).map(Some),
            )
        };
        let value = match (
            file_name,
            description,
            source,
            place,
            performer,
            authorisation,
            exhibit,
        ) {
            (
                Some(file_name),
                Some(description),
                Some(source),
                Some(acquired_place),
                Some(performer),
                Some(authorisation),
                Some(exhibit_number),
            ) => Some(EvidenceDetails {
                file_name,
                description,
                source,
                acquired_at: self.acquired_at,
                acquired_place,
                performer,
                authorisation,
                exhibit_number,
                legacy_hashes: self.legacy_hashes,
            }),
            _ => None,
        };
        f.finish(value)
    }
}

/// The case, if the caller is a member holding a role that handles
/// evidence; refusals are audited.
pub async fn evidence_case(app: &AppState, principal: &Principal, case_id: Uuid) -> AppResult<Case> {
    let (case, access) = crate::cases::service::case_access(app, principal, case_id).await?;
    if access != CaseAccess::Member {
        return Err(AppError::NotCaseMember);
    }
    Ok(case)
}

/// The item and its case, if the caller is a member of the case (else
/// "not found", audited: an item's existence is case content).
pub async fn member_item(
    app: &AppState,
    principal: &Principal,
    id: Uuid,
) -> AppResult<(EvidenceItem, Case)> {
    let item = app
        .store
        .evidence_item(id)
        .await?
        .ok_or(AppError::NotFound {
            what: "evidence item",
        })?;
    let case = app
        .store
        .case_by_id(item.case_id)
        .await?
        .ok_or(AppError::NotFound {
            what: "evidence item",
        })?;
    if !app
        .store
        .is_case_member(item.case_id, principal.signed_in()?.id)
        .await?
    {
        let entry = principal
            .actor()
            .entry(AuditAction::EvidenceRead, AuditOutcome::Denied)
            .on_case(item.case_id)
            .target(item.id.to_string());
        app.store.append_audit(&entry).await?;
        return Err(AppError::NotFound {
            what: "evidence item",
        });
    }
    Ok((item, case))
}

/// Refuses (and audits) callers whose roles may not touch evidence content.
pub async fn require_content_role(
    app: &AppState,
    principal: &Principal,
    case: &Case,
    target: &str,
) -> AppResult<()> {
    if rules::may_read_content(principal.roles()) {
        return Ok(());
    }
    let entry = principal
        .actor()
        .entry(AuditAction::EvidenceDownloaded, AuditOutcome::Denied)
        .on_case(case.id)
        .target(target.to_owned());
    app.store.append_audit(&entry).await?;
    Err(AppError::ForbiddenRole)
}

/// Stores a new item whose bytes are in the blob store, with its custody
/// events (acquired, when the acquisition is described; ingested).
pub async fn record_new_item(
    app: &AppState,
    case: &Case,
    actor: &CustodyActor,
    details: EvidenceDetails,
    ingested: &Ingested,
) -> AppResult<EvidenceItem> {
    let at = now();
    let item = EvidenceItem {
        id: Uuid::now_v7(),
        case_id: case.id,
        sha256: ingested.sha256.clone(),
        md5: ingested.md5.clone(),
        sha1: ingested.sha1.clone(),
        size: ingested.size,
        file_name: details.file_name,
        description: details.description,
        source: details.source,
        acquired_at: details.acquired_at,
        acquired_place: details.acquired_place,
        performer: details.performer,
        authorisation: details.authorisation,
        exhibit_number: details.exhibit_number,
        origin: None,
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
    let events = vec![
        custody_event(
            node,
            case,
            Some(&item),
            CustodyEventKind::Acquired,
            actor,
            details_of_acquisition(&item),
        ),
        custody_event(
            node,
            case,
            Some(&item),
            CustodyEventKind::Ingested,
            actor,
            detail_map([
                ("size", Some(item.size.to_string())),
                ("file_name", Some(item.file_name.clone())),
                ("md5", item.md5.clone()),
                ("sha1", item.sha1.clone()),
            ]),
        ),
    ];
    let audit = actor
        .entry(AuditAction::EvidenceAdded, AuditOutcome::Success)
        .on_case(case.id)
        .target(item.id.to_string())
        .detail(serde_json::json!({
            "sha256": item.sha256, "size": item.size, "exhibit_number": item.exhibit_number,
        }));
    app.custody
        .write(
            &app.store,
            CustodyJob::CreateItem {
                item: Box::new(item.clone()),
                events,
                audit: Box::new(audit),
            },
        )
        .await
        .map_err(|e| match e {
            entraide_store::StoreError::Conflict(_) => {
                AppError::Validation(vec![proto::FieldError {
                    field: "exhibit_number".into(),
                    code: "exhibit_number_taken".into(),
                    message: "another item of this case has this exhibit number".into(),
                }])
            }
            e => e.into(),
        })?;
    Ok(item)
}

fn details_of_acquisition(item: &EvidenceItem) -> BTreeMap<String, String> {
    detail_map([
        ("source", Some(item.source.as_str().to_owned())),
        ("acquired_at", item.acquired_at.map(rfc3339)),
        ("acquired_place", item.acquired_place.clone()),
        ("performer", item.performer.clone()),
        ("authorisation", item.authorisation.clone()),
        ("exhibit_number", item.exhibit_number.clone()),
        ("description", Some(item.description.clone())),
    ])
}

/// Ingests a readable source into the blob store off the async workers.
pub async fn ingest_blocking<R: Read + Send + 'static>(
    app: &AppState,
    mut source: R,
    legacy_hashes: bool,
) -> AppResult<Ingested> {
    let custody = app.custody.clone();
    tokio::task::spawn_blocking(move || {
        custody.blobs().store_stream(
            &mut source,
            &IngestOptions {
                legacy_hashes,
                progress: None,
            },
        )
    })
    .await
    .map_err(|e| AppError::Internal(format!("ingest task failed: {e}")))?
    .map_err(|e| AppError::Internal(format!("ingest failed: {e}")))
}

/// A reader fed by an async producer through a bounded channel, so that an
/// HTTP body can be ingested on a blocking thread in one pass.
pub struct ChannelReader {
    rx: std::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
    current: bytes::Bytes,
}

impl ChannelReader {
    pub fn new(
        capacity: usize,
    ) -> (
        std::sync::mpsc::SyncSender<Result<bytes::Bytes, std::io::Error>>,
        Self,
    ) {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
        (
            tx,
            Self {
                rx,
                current: bytes::Bytes::new(),
            },
        )
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => self.current = chunk,
                Ok(Err(e)) => return Err(e),
                // The producer finished.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Custody changes a custodian can make.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Seal,
    Release,
    PlaceHold,
    LiftHold,
    Retention(Option<Date>),
    Dispose { reason: String },
}

impl Change {
    pub fn parse(c: &proto::CustodyChange) -> AppResult<Self> {
        let mut f = Fields::default();
        let value = match c.action.as_str() {
            "seal" => Some(Self::Seal),
            "release" => Some(Self::Release),
            "hold" => Some(Self::PlaceHold),
            "lift_hold" => Some(Self::LiftHold),
            "retention" => match c.retention_until.as_deref().map(str::trim) {
                None | Some("") => Some(Self::Retention(None)),
                Some(d) => f
                    .check(
                        "retention_until",
                        Date::parse(d, DATE_FORMAT).map_err(|_| {
                            ParseError::new("invalid_date", "expected a date as YYYY-MM-DD")
                        }),
                    )
                    .map(|d| Self::Retention(Some(d))),
            },
            "dispose" => f
                .check(
                    "reason",
                    entraide_domain::evidence::parse_optional(
                        c.reason.as_deref().unwrap_or(""),
                        "disposal reason",
                    )
                    .and_then(|r| {
                        r.ok_or_else(|| {
                            ParseError::new(
                                "disposal_reason_required",
                                "say why the evidence is destroyed",
                            )
                        })
                    }),
                )
                .map(|reason| Self::Dispose { reason }),
            _ => {
                f.push(
                    "action",
                    "unknown_custody_action",
                    "expected seal, release, hold, lift_hold, retention or dispose",
                );
                None
            }
        };
        f.finish(value)
    }
}

pub const DATE_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// Applies a custody change (custodians only), with its custody event and
/// audit entry; disposal destroys the content once no other item holds it.
pub async fn change_custody(
    app: &AppState,
    principal: &Principal,
    item_id: Uuid,
    change: Change,
) -> AppResult<EvidenceItem> {
    let (mut item, case) = member_item(app, principal, item_id).await?;
    if !rules::may_keep(principal.roles()) {
        let entry = principal
            .actor()
            .entry(AuditAction::EvidenceCustodyChanged, AuditOutcome::Denied)
            .on_case(case.id)
            .target(item.id.to_string());
        app.store.append_audit(&entry).await?;
        return Err(AppError::ForbiddenRole);
    }
    let actor = CustodyActor::of(principal);
    let conflict = |code: &'static str, detail: String| AppError::Conflict { code, detail };
    let (kind, extra, action) = match &change {
        Change::Seal => {
            item.state =
                rules::seal(item.state).map_err(|e| conflict("evidence_state", e.to_string()))?;
            (
                CustodyEventKind::Sealed,
                None,
                AuditAction::EvidenceCustodyChanged,
            )
        }
        Change::Release => {
            item.state = rules::release(item.state)
                .map_err(|e| conflict("evidence_state", e.to_string()))?;
            (
                CustodyEventKind::Released,
                None,
                AuditAction::EvidenceCustodyChanged,
            )
        }
        Change::PlaceHold | Change::LiftHold => {
            if item.state == EvidenceState::Disposed {
                return Err(conflict(
                    "evidence_disposed",
                    "the item was disposed of".into(),
                ));
            }
            let place = change == Change::PlaceHold;
            if item.legal_hold == place {
                return Err(conflict(
                    "evidence_hold_unchanged",
                    if place {
                        "the item is already under legal hold".into()
                    } else {
                        "the item is not under legal hold".into()
                    },
                ));
            }
            item.legal_hold = place;
            let kind = if place {
                CustodyEventKind::LegalHoldPlaced
            } else {
                CustodyEventKind::LegalHoldLifted
            };
            (kind, None, AuditAction::EvidenceCustodyChanged)
        }
        Change::Retention(until) => {
            if item.state == EvidenceState::Disposed {
                return Err(conflict(
                    "evidence_disposed",
                    "the item was disposed of".into(),
                ));
            }
            item.retention_until = *until;
            let shown = until.and_then(|d| d.format(DATE_FORMAT).ok());
            (
                CustodyEventKind::RetentionSet,
                Some(("retention_until", shown.unwrap_or_else(|| "none".into()))),
                AuditAction::EvidenceCustodyChanged,
            )
        }
        Change::Dispose { reason } => {
            rules::may_dispose(
                item.state,
                item.legal_hold,
                item.retention_until,
                OffsetDateTime::now_utc().date(),
            )
            .map_err(|e| conflict(e.code(), e.to_string()))?;
            item.state = EvidenceState::Disposed;
            item.disposed_at = Some(now());
            item.disposal_reason = Some(reason.clone());
            (
                CustodyEventKind::Disposed,
                Some(("reason", reason.clone())),
                AuditAction::EvidenceDisposed,
            )
        }
    };
    item.updated_at = now();
    let mut d = BTreeMap::new();
    if let Some((k, v)) = extra {
        d.insert(k.to_owned(), v);
    }
    let event = custody_event(app.custody.node_id(), &case, Some(&item), kind, &actor, d);
    let audit = actor
        .entry(action, AuditOutcome::Success)
        .on_case(case.id)
        .target(item.id.to_string())
        .detail(serde_json::json!({ "custody": kind.as_str() }));
    app.custody
        .write(
            &app.store,
            CustodyJob::UpdateItem {
                item: Box::new(item.clone()),
                events: vec![event],
                audit: Some(Box::new(audit)),
            },
        )
        .await?;
    if item.state == EvidenceState::Disposed {
        destroy_content_if_unused(app, &item.sha256).await?;
    }
    Ok(item)
}

/// Removes a blob once no item still holds its content.
pub async fn destroy_content_if_unused(app: &AppState, sha256: &str) -> AppResult<bool> {
    if app.store.count_live_evidence_with_hash(sha256).await? > 0 {
        return Ok(false);
    }
    let custody = app.custody.clone();
    let sha = sha256.to_owned();
    tokio::task::spawn_blocking(move || custody.blobs().remove(&sha))
        .await
        .map_err(|e| AppError::Internal(format!("disposal task: {e}")))?
        .map_err(|e| AppError::Internal(format!("disposal: {e}")))
}

/// Records a content read (download or view) as custody event and audit
/// entry, after checking the item may be served. Returns a reader of the
/// content (blocking: read it on a blocking thread).
pub async fn open_content(
    app: &AppState,
    principal: &Principal,
    item_id: Uuid,
    kind: CustodyEventKind,
) -> AppResult<(EvidenceItem, Box<dyn Read + Send>)> {
    let (item, case) = member_item(app, principal, item_id).await?;
    require_content_role(app, principal, &case, &item.id.to_string()).await?;
    rules::content_available(item.state, item.integrity).map_err(|e| AppError::Conflict {
        code: e.code(),
        detail: e.to_string(),
    })?;
    let custody = app.custody.clone();
    let sha = item.sha256.clone();
    let reader = tokio::task::spawn_blocking(move || custody.blobs().open(&sha))
        .await
        .map_err(|e| AppError::Internal(format!("evidence read task: {e}")))?
        .map_err(|e| AppError::Internal(format!("evidence read: {e}")))?;
    let Some(reader) = reader else {
        mark_corrupted(app, &case, &item, "the stored content is missing").await?;
        return Err(AppError::Conflict {
            code: "evidence_corrupted",
            detail: "the stored content is missing; the item is marked corrupted".into(),
        });
    };
    let actor = CustodyActor::of(principal);
    let event = custody_event(
        app.custody.node_id(),
        &case,
        Some(&item),
        kind,
        &actor,
        BTreeMap::new(),
    );
    let audit = actor
        .entry(AuditAction::EvidenceDownloaded, AuditOutcome::Success)
        .on_case(case.id)
        .target(item.id.to_string())
        .detail(serde_json::json!({ "custody": kind.as_str() }));
    app.custody
        .write(
            &app.store,
            CustodyJob::Append {
                events: vec![event],
                audit: Some(Box::new(audit)),
            },
        )
        .await?;
    Ok((item, reader))
}

/// Marks an item's stored content as corrupted, with a custody event.
pub async fn mark_corrupted(
    app: &AppState,
    case: &Case,
    item: &EvidenceItem,
    why: &str,
) -> AppResult<()> {
    let mut item = item.clone();
    item.integrity = Integrity::Corrupted;
    item.verified_at = Some(now());
    item.updated_at = now();
    let event = custody_event(
        app.custody.node_id(),
        case,
        Some(&item),
        CustodyEventKind::VerificationFailed,
        &CustodyActor::node(),
        detail_map([("reason", Some(why.to_owned()))]),
    );
    app.custody
        .write(
            &app.store,
            CustodyJob::UpdateItem {
                item: Box::new(item.clone()),
                events: vec![event],
                audit: None,
            },
        )
        .await?;
    tracing::error!(item = %item.id, "evidence content failed its integrity check");
    Ok(())
}

/// Re-hashes every held item's content (the `scrub`): corrupted or missing
/// content is marked and never served again until restored.
pub async fn scrub(app: &AppState, actor: &CustodyActor) -> AppResult<proto::ScrubView> {
    let mut view = proto::ScrubView {
        checked: 0,
        intact: 0,
        corrupted: Vec::new(),
    };
    for item in app.store.all_evidence().await? {
        if item.state == EvidenceState::Disposed {
            continue;
        }
        let Some(case) = app.store.case_by_id(item.case_id).await? else {
            continue;
        };
        view.checked += 1;
        let custody = app.custody.clone();
        let sha = item.sha256.clone();
        let result = tokio::task::spawn_blocking(move || custody.blobs().verify(&sha))
            .await
            .map_err(|e| AppError::Internal(format!("scrub task failed: {e}")))?;
        let good = matches!(result, Ok(true));
        if good {
            view.intact += 1;
            let mut updated = item.clone();
            updated.integrity = Integrity::Intact;
            updated.verified_at = Some(now());
            updated.updated_at = now();
            let event = custody_event(
                app.custody.node_id(),
                &case,
                Some(&updated),
                CustodyEventKind::Verified,
                actor,
                detail_map([("check", Some("scrub".into()))]),
            );
            app.custody
                .write(
                    &app.store,
                    CustodyJob::UpdateItem {
                        item: Box::new(updated),
                        events: vec![event],
                        audit: None,
                    },
                )
                .await?;
        } else {
            view.corrupted.push(item.id);
            let why = match result {
                Ok(_) => "the stored content no longer matches its SHA-256".to_owned(),
                Err(_) => "the stored content is missing or unreadable".to_owned(),
            };
            if item.integrity != Integrity::Corrupted {
                mark_corrupted(app, &case, &item, &why).await?;
            }
        }
    }
    let audit = actor
        .entry(AuditAction::EvidenceScrubbed, AuditOutcome::Success)
        .detail(serde_json::json!({
            "checked": view.checked, "intact": view.intact, "corrupted": view.corrupted.len(),
        }));
    app.store.append_audit(&audit).await?;
    Ok(view)
}

pub fn item_view(i: &EvidenceItem) -> proto::EvidenceItemView {
    proto::EvidenceItemView {
        id: i.id,
        case_id: i.case_id,
        sha256: i.sha256.clone(),
        md5: i.md5.clone(),
        sha1: i.sha1.clone(),
        size: i.size,
        file_name: i.file_name.clone(),
        description: i.description.clone(),
        source: i.source.as_str().to_owned(),
        acquired_at: i.acquired_at,
        acquired_place: i.acquired_place.clone(),
        performer: i.performer.clone(),
        authorisation: i.authorisation.clone(),
        exhibit_number: i.exhibit_number.clone(),
        origin: i.origin.clone(),
        state: i.state.as_str().to_owned(),
        legal_hold: i.legal_hold,
        retention_until: i.retention_until.and_then(|d| d.format(DATE_FORMAT).ok()),
        integrity: i.integrity.as_str().to_owned(),
        verified_at: i.verified_at,
        disposed_at: i.disposed_at,
        disposal_reason: i.disposal_reason.clone(),
        created_at: i.created_at,
    }
}

pub fn event_view(e: &CustodyEvent) -> proto::CustodyEventView {
    proto::CustodyEventView {
        leaf_index: e.leaf_index,
        id: e.event.id,
        item_id: e.event.item_id,
        kind: e.event.kind.as_str().to_owned(),
        at: e.event.at,
        actor: e.event.actor.clone(),
        record: e.event.record.clone(),
        leaf_hash: e.event.leaf_hash.clone(),
    }
}

pub fn tree_head_view(h: &SignedTreeHead) -> proto::TreeHeadView {
    proto::TreeHeadView {
        node: h.node.clone(),
        tree_size: h.tree_size,
        root_hash: h.root_hash.to_hex(),
        timestamp_ms: h.timestamp_ms,
        public_key: h.public_key.clone(),
        fingerprint: entraide_evidence::PublicKey::parse(&h.public_key)
            .map(|k| k.fingerprint())
            .unwrap_or_default(),
        signature: h.signature.clone(),
    }
}

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

/// Shared by handlers: the custody machinery.
pub type SharedCustody = Arc<Custody>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandoned_attachment_files_are_swept_and_recent_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("fr-pc247-old.part");
        let recent = dir.path().join("fr-pc247-recent.part");
        std::fs::write(&old, b"x").unwrap();
        std::fs::write(&recent, b"y").unwrap();
        let nine_days_ago =
            std::time::SystemTime::now() - std::time::Duration::from_secs(9 * 86_400);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(nine_days_ago)
            .unwrap();
        crate::app::custody::remove_older_than(dir.path(), std::time::Duration::from_secs(8 * 86_400));
        assert!(!old.exists());
        assert!(recent.exists());
    }
}
