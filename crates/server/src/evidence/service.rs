//! Evidence and chain of custody: the operations shared by the API, the web
//! UI and the command line. Every operation that touches evidence appends
//! custody events (leaves of the node's Merkle custody log) in the same
//! transaction as the change itself and its audit entry.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use entraide_domain::evidence::{
    self as rules, CustodyEventKind, EvidenceSource, EvidenceState, Integrity,
};
use entraide_domain::{AuditAction, AuditOutcome, CaseAccess, ParseError};
use entraide_evidence::{CustodyRecord, IngestOptions, Ingested, SignedTreeHead};
use entraide_proto as proto;
use entraide_store::{
    Case, CustodyEvent, CustodyJob, EvidenceItem, NewAuditEntry, NewCustodyEvent,
};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::custody::now;
pub use crate::app::custody::{
    now_millis, rfc3339, Custody, CustodyStartError, LogCheck, NODE_KEY_FILE,
};
use crate::app::error::{AppError, AppResult, Fields};
use crate::app::principal::Principal;
use crate::app::state::AppState;

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
            audit: Principal::Node.actor(),
            email: "node".into(),
            name: "node".into(),
        }
    }

    pub(crate) fn entry(&self, action: AuditAction, outcome: AuditOutcome) -> NewAuditEntry {
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

pub(crate) fn detail_map<const N: usize>(
    pairs: [(&str, Option<String>); N],
) -> BTreeMap<String, String> {
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
pub async fn evidence_case(
    app: &AppState,
    principal: &Principal,
    case_id: Uuid,
) -> AppResult<Case> {
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

/// Shared by handlers: the custody machinery.
pub type SharedCustody = Arc<Custody>;
