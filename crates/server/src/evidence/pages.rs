//! Evidence pages: the evidence of a case (with upload, export and
//! receiving a package), one item with its custody timeline and custody
//! actions, and the page that explains a package verification.

use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use entraide_domain::evidence::{self as rules, CustodyEventKind, EvidenceSource};
use entraide_domain::Locale;
use entraide_evidence::{CustodyRecord, Outcome, Report};
use entraide_proto as proto;
use entraide_store::{Case, EvidenceItem};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::error::{AppError, AppResult};
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::evidence::limits::Allowance;
use crate::evidence::{
    self, evidence_case, member_item, Change, ChannelReader, CustodyActor, EvidenceInput,
    DATE_FORMAT,
};
use crate::http::caller::Caller;
use crate::web::forms::{check_csrf, see_other, FormErrors, UiForm};
use crate::web::page::{fmt_time, page, render, render_status, Nav};

/// Sizes as people read them.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

pub struct ItemRow {
    pub id: Uuid,
    pub exhibit_number: String,
    pub file_name: String,
    pub description: String,
    pub size: String,
    pub sha256: String,
    pub state: String,
    pub state_label: String,
    pub integrity: String,
    pub integrity_label: String,
    pub source_label: String,
    pub added: String,
    pub legal_hold: bool,
}

fn item_row(tr: &Tr, i: &EvidenceItem) -> ItemRow {
    ItemRow {
        id: i.id,
        exhibit_number: i.exhibit_number.clone().unwrap_or_default(),
        file_name: i.file_name.clone(),
        description: i.description.clone(),
        size: human_size(i.size),
        sha256: i.sha256.clone(),
        state: i.state.as_str().to_owned(),
        state_label: tr.t(&format!("ev-state-{}", i.state.as_str())),
        integrity: i.integrity.as_str().to_owned(),
        integrity_label: tr.t(&format!("ev-integrity-{}", i.integrity.as_str())),
        source_label: tr.t(&format!(
            "ev-source-{}",
            i.source.as_str().replace('_', "-")
        )),
        added: fmt_time(i.created_at),
        legal_hold: i.legal_hold,
    }
}

/// The upload form's values, shown again with errors.
#[derive(Default)]
pub struct UploadValues {
    pub description: String,
    pub source: String,
    pub acquired_at: String,
    pub acquired_place: String,
    pub performer: String,
    pub authorisation: String,
    pub exhibit_number: String,
    pub legacy_hashes: bool,
}

#[derive(Template)]
#[template(path = "evidence/evidence_list.html")]
struct EvidenceListPage {
    tr: Tr,
    nav: Nav,
    case_id: Uuid,
    reference: String,
    title: String,
    items: Vec<ItemRow>,
    handles_evidence: bool,
    sources: Vec<(String, String)>,
    values: UploadValues,
    errors: FormErrors,
    package_errors: FormErrors,
    fingerprint: String,
    peers: Vec<(String, String)>,
}

async fn list_page(
    app: &AppState,
    caller: &Caller,
    locale: Locale,
    case: &Case,
    values: UploadValues,
    errors: FormErrors,
    package_errors: FormErrors,
) -> AppResult<EvidenceListPage> {
    let p = page(app, caller, locale, "/cases").await?;
    let items = app.store.evidence_in_case(case.id).await?;
    Ok(EvidenceListPage {
        items: items.iter().map(|i| item_row(&p.tr, i)).collect(),
        handles_evidence: rules::may_read_content(caller.roles()),
        sources: EvidenceSource::ALL
            .iter()
            .filter(|s| **s != EvidenceSource::ReceivedPackage)
            .map(|s| {
                (
                    s.as_str().to_owned(),
                    p.tr.t(&format!("ev-source-{}", s.as_str().replace('_', "-"))),
                )
            })
            .collect(),
        case_id: case.id,
        reference: case.reference.to_string(),
        title: case.title.as_str().to_owned(),
        values,
        errors,
        package_errors,
        fingerprint: app.custody.key().fingerprint(),
        peers: app
            .store
            .peers()
            .await?
            .into_iter()
            .filter(|p| p.status == entraide_federation::PeerStatus::Active)
            .map(|p| {
                (
                    p.node_id.clone(),
                    format!("{} ({}, {})", p.organisation, p.country, p.node_id),
                )
            })
            .collect(),
        tr: p.tr,
        nav: p.nav,
    })
}

#[derive(serde::Deserialize)]
pub struct SendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    peer: String,
}

/// Sends every exportable item of the case to a peer.
pub async fn send(
    State(app): State<AppState>,
    caller: Caller,
    Path(case_id): Path<Uuid>,
    UiForm(form): UiForm<SendForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    crate::evidence::exchange::send_package(
        &app,
        &caller.principal(),
        case_id,
        &form.peer,
        &[],
        None,
    )
    .await?;
    Ok(see_other(&format!("/cases/{case_id}/evidence")))
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(case_id): Path<Uuid>,
) -> AppResult<Response> {
    let case = evidence_case(&app, &caller.principal(), case_id).await?;
    let view = list_page(
        &app,
        &caller,
        locale.0,
        &case,
        UploadValues {
            source: "seized_device".into(),
            ..Default::default()
        },
        FormErrors::default(),
        FormErrors::default(),
    )
    .await?;
    Ok(render(&view))
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> AppError {
    AppError::BadRequest {
        code: "malformed_form",
        detail: e.body_text(),
    }
}

/// Parses `2026-11-25T10:30` (a datetime-local field, read as UTC).
fn parse_local_time(s: &str) -> Result<Option<OffsetDateTime>, ()> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let with_seconds = if s.len() == 16 {
        format!("{s}:00")
    } else {
        s.to_owned()
    };
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(&with_seconds, fmt)
        .map(|t| Some(t.assume_utc()))
        .map_err(|_| ())
}

/// Room for the form's other fields beside the file.
const FORM_FIELDS_BYTES: u64 = 64 * 1024;

/// A refusal by a limit, as the message shown beside the form's field.
fn limit_message(tr: &Tr, err: &AppError) -> Option<String> {
    let AppError::LimitExceeded { code, limit, .. } = err else {
        return None;
    };
    let id = match *code {
        "upload_too_large" => "ev-error-upload-too-large",
        _ => "ev-error-quota-exceeded",
    };
    Some(tr.t1(id, "limit", &human_size(*limit)))
}

/// The announced length of a request body.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The upload form (multipart): fields first, the file last, streamed into
/// the blob store in one pass. A file over the limits is refused before
/// reading when the request announces its length, otherwise as soon as it
/// passes them (nothing is kept); the form comes back with the message.
pub async fn upload(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(case_id): Path<Uuid>,
    headers: HeaderMap,
    mut form: Multipart,
) -> AppResult<Response> {
    let case = evidence_case(&app, &caller.principal(), case_id).await?;
    evidence::require_content_role(&app, &caller.principal(), &case, "upload").await?;
    let allowance = Allowance::of_case(&app, case.id).await?;
    let mut over_limit = content_length(&headers)
        .filter(|n| *n > allowance.bytes().saturating_add(FORM_FIELDS_BYTES))
        .and_then(|n| {
            allowance
                .admit(n.saturating_sub(FORM_FIELDS_BYTES), "file")
                .err()
        });
    if let Some(err) = over_limit {
        let tr = Tr::new(app.i18n.clone(), locale.0);
        let mut errors = FormErrors::default();
        errors.by_field.insert(
            "file".into(),
            limit_message(&tr, &err).unwrap_or_else(|| err.to_string()),
        );
        let values = UploadValues {
            source: "seized_device".into(),
            ..Default::default()
        };
        let view = list_page(
            &app,
            &caller,
            locale.0,
            &case,
            values,
            errors,
            FormErrors::default(),
        )
        .await?;
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view));
    }
    let mut values = UploadValues::default();
    let mut csrf_checked = false;
    let mut ingested = None;
    let mut file_name = String::new();
    let mut input = EvidenceInput::default();
    let mut time_error = false;
    let mut parsed = None;
    while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_owned();
        if name == "file" {
            if !csrf_checked {
                return Err(AppError::CsrfRejected);
            }
            file_name = field.file_name().unwrap_or("").to_owned();
            input.file_name = file_name.clone();
            input.acquired_at = parse_local_time(&values.acquired_at).unwrap_or(None);
            time_error = parse_local_time(&values.acquired_at).is_err();
            input.description = values.description.clone();
            input.source = values.source.clone();
            input.acquired_place = values.acquired_place.clone();
            input.performer = values.performer.clone();
            input.authorisation = values.authorisation.clone();
            input.exhibit_number = values.exhibit_number.clone();
            input.legacy_hashes = values.legacy_hashes;
            parsed = Some(input.parse());
            let wanted = matches!(parsed, Some(Ok(_))) && !time_error && !file_name.is_empty();
            if !wanted {
                // Drain the file: nothing is stored.
                while field.chunk().await.map_err(multipart_error)?.is_some() {}
                continue;
            }
            let (tx, mut reader) = ChannelReader::new(8);
            let legacy = values.legacy_hashes;
            let custody = app.custody.clone();
            let task = tokio::task::spawn_blocking(move || {
                custody.blobs().store_stream(
                    &mut reader,
                    &entraide_evidence::IngestOptions {
                        legacy_hashes: legacy,
                        progress: None,
                    },
                )
            });
            let mut failed = None;
            let mut size = 0u64;
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        size = size.saturating_add(chunk.len() as u64);
                        if size > allowance.bytes() {
                            // The ingest fails and keeps nothing.
                            over_limit = allowance.admit(size, "file").err();
                            let _ = tx.send(Err(std::io::Error::other("over the limits")));
                            break;
                        }
                        let tx = tx.clone();
                        let sent = tokio::task::spawn_blocking(move || tx.send(Ok(chunk)))
                            .await
                            .map_err(|e| AppError::Internal(e.to_string()))?;
                        if sent.is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        failed = Some(multipart_error(e));
                        let _ = tx.send(Err(std::io::Error::other("upload interrupted")));
                        break;
                    }
                }
            }
            drop(tx);
            let result = task
                .await
                .map_err(|e| AppError::Internal(format!("ingest task: {e}")))?;
            if let Some(e) = failed {
                return Err(e);
            }
            if over_limit.is_some() {
                // The rest of the body is not read: the answer closes the
                // connection.
                break;
            }
            ingested = Some(result.map_err(|e| AppError::Internal(format!("ingest: {e}")))?);
            continue;
        }
        let text = field.text().await.map_err(multipart_error)?;
        match name.as_str() {
            "csrf" => {
                check_csrf(&caller, &text)?;
                csrf_checked = true;
            }
            "description" => values.description = text,
            "source" => values.source = text,
            "acquired_at" => values.acquired_at = text,
            "acquired_place" => values.acquired_place = text,
            "performer" => values.performer = text,
            "authorisation" => values.authorisation = text,
            "exhibit_number" => values.exhibit_number = text,
            "legacy_hashes" => values.legacy_hashes = !text.is_empty(),
            _ => {}
        }
    }
    if !csrf_checked {
        return Err(AppError::CsrfRejected);
    }
    let tr = Tr::new(app.i18n.clone(), locale.0);
    let mut errors = FormErrors::default();
    match &parsed {
        Some(Err(e)) => {
            if let Some(e) = FormErrors::from_error(&tr, e, "file") {
                errors = e;
            }
        }
        None => {
            errors
                .by_field
                .insert("file".into(), tr.t("ev-error-file-required"));
        }
        Some(Ok(_)) => {}
    }
    if file_name.is_empty() && !errors.has("file") && parsed.is_some() {
        errors
            .by_field
            .insert("file".into(), tr.t("ev-error-file-required"));
    }
    if time_error {
        errors
            .by_field
            .insert("acquired_at".into(), tr.t("ev-error-time"));
    }
    if let Some(err) = &over_limit {
        errors.by_field.insert(
            "file".into(),
            limit_message(&tr, err).unwrap_or_else(|| err.to_string()),
        );
    }
    let (Some(Ok(details)), Some(ingested), false) = (parsed, ingested, errors.any()) else {
        // Any error: the form again, with the messages beside the fields.
        let errors = if errors.any() {
            errors
        } else {
            let mut e = FormErrors::default();
            e.by_field
                .insert("file".into(), tr.t("ev-error-file-required"));
            e
        };
        let view = list_page(
            &app,
            &caller,
            locale.0,
            &case,
            values,
            errors,
            FormErrors::default(),
        )
        .await?;
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view));
    };
    match evidence::record_new_item(
        &app,
        &case,
        &CustodyActor::of(&caller.principal()),
        details,
        &ingested,
    )
    .await
    {
        Ok(item) => Ok(see_other(&format!("/evidence/{}", item.id))),
        Err(err) => {
            // The blob stays if another item holds it; otherwise it is an
            // orphan that `evidence scrub` removes.
            let Some(errors) = FormErrors::from_error(&tr, &err, "exhibit_number") else {
                return Err(err);
            };
            let view = list_page(
                &app,
                &caller,
                locale.0,
                &case,
                values,
                errors,
                FormErrors::default(),
            )
            .await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
    }
}

#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// Exports every held item of the case as a package (a download).
pub async fn export(
    State(app): State<AppState>,
    caller: Caller,
    Path(case_id): Path<Uuid>,
    UiForm(form): UiForm<CsrfOnly>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    let case = evidence_case(&app, &caller.principal(), case_id).await?;
    evidence::require_content_role(&app, &caller.principal(), &case, "export").await?;
    let built =
        evidence::export_package(&app, &case, &CustodyActor::of(&caller.principal()), &[]).await?;
    crate::evidence::api::stream_and_remove(&built.path, &built.file_name, "application/zip").await
}

pub struct CheckRow {
    pub outcome: String,
    pub outcome_label: String,
    pub title: String,
    pub subject: String,
    pub detail: String,
}

pub struct ReportEventRow {
    pub index: u64,
    pub file: String,
    pub kind: String,
    pub at: String,
    pub actor: String,
    pub included: bool,
}

#[derive(Template)]
#[template(path = "evidence/evidence_verification.html")]
struct VerificationPage {
    tr: Tr,
    nav: Nav,
    case_id: Uuid,
    reference: String,
    holds: bool,
    imported: bool,
    verify_only: bool,
    package_id: String,
    sender: String,
    fingerprint: String,
    passed: usize,
    failed: usize,
    checks: Vec<CheckRow>,
    events: Vec<ReportEventRow>,
    items: Vec<ItemRow>,
}

fn check_rows(tr: &Tr, report: &Report) -> Vec<CheckRow> {
    report
        .checks
        .iter()
        .map(|c| {
            let outcome = match c.outcome {
                Outcome::Passed => "passed",
                Outcome::Failed => "failed",
                Outcome::Notice => "notice",
            };
            let translate = |m: &entraide_evidence::Msg| {
                let id = format!("ev-msg-{}", m.id);
                if tr.has(&id) {
                    tr.t_args(&id, &m.args)
                } else {
                    m.english()
                }
            };
            CheckRow {
                outcome: outcome.to_owned(),
                outcome_label: tr.t(&format!("ev-check-{outcome}")),
                title: tr.t(&format!("ev-check-{}", c.code.replace('_', "-"))),
                subject: c
                    .subject_msg
                    .as_ref()
                    .map(translate)
                    .unwrap_or_else(|| c.subject.clone()),
                detail: translate(&c.msg),
            }
        })
        .collect()
}

/// Receives a package from the form: verifies it and, unless only a check
/// was asked for, adds its files to the case when it holds.
pub async fn receive(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(case_id): Path<Uuid>,
    mut form: Multipart,
) -> AppResult<Response> {
    let case = evidence_case(&app, &caller.principal(), case_id).await?;
    evidence::require_content_role(&app, &caller.principal(), &case, "receive package").await?;
    let mut csrf_checked = false;
    let mut verify_only = false;
    let mut path = None;
    let mut uploaded_name = String::new();
    let allowance = Allowance::of_case(&app, case.id).await?;
    let mut over_limit = None;
    while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "csrf" => {
                check_csrf(&caller, &field.text().await.map_err(multipart_error)?)?;
                csrf_checked = true;
            }
            "verify_only" => {
                verify_only = !field.text().await.map_err(multipart_error)?.is_empty();
            }
            "package" if csrf_checked => {
                if field.file_name().unwrap_or("").is_empty() {
                    while field.chunk().await.map_err(multipart_error)?.is_some() {}
                    continue;
                }
                uploaded_name = field.file_name().unwrap_or("").to_owned();
                let p = app.custody.work_path("received.zip");
                let mut file = tokio::fs::File::create(&p)
                    .await
                    .map_err(|e| AppError::Internal(format!("work file: {e}")))?;
                let mut size = 0u64;
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    size = size.saturating_add(chunk.len() as u64);
                    if size > allowance.bytes() {
                        over_limit = allowance.admit(size, "package").err();
                        break;
                    }
                    tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                        .await
                        .map_err(|e| AppError::Internal(format!("work file: {e}")))?;
                }
                tokio::io::AsyncWriteExt::flush(&mut file)
                    .await
                    .map_err(|e| AppError::Internal(format!("work file: {e}")))?;
                if over_limit.is_some() {
                    drop(file);
                    let _ = tokio::fs::remove_file(&p).await;
                    break;
                }
                path = Some(p);
            }
            _ => while field.chunk().await.map_err(multipart_error)?.is_some() {},
        }
    }
    if !csrf_checked {
        return Err(AppError::CsrfRejected);
    }
    let (Some(path), None) = (path, &over_limit) else {
        let tr = Tr::new(app.i18n.clone(), locale.0);
        let mut errors = FormErrors::default();
        let message = match &over_limit {
            Some(err) => limit_message(&tr, err).unwrap_or_else(|| err.to_string()),
            None => tr.t("ev-error-package-required"),
        };
        errors.by_field.insert("package".into(), message);
        let view = list_page(
            &app,
            &caller,
            locale.0,
            &case,
            UploadValues {
                source: "seized_device".into(),
                ..Default::default()
            },
            FormErrors::default(),
            errors,
        )
        .await?;
        return Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view));
    };
    let result = if verify_only {
        evidence::verify_received(&path, &uploaded_name)
            .await
            .map(|r| (r, Vec::new()))
    } else {
        evidence::import_package(
            &app,
            &case,
            &CustodyActor::of(&caller.principal()),
            &path,
            &uploaded_name,
        )
        .await
    };
    let _ = tokio::fs::remove_file(&path).await;
    let (report, items) = result?;
    let p = page(&app, &caller, locale.0, "/cases").await?;
    let holds = report.holds();
    let file_of = |item: Option<Uuid>| -> String {
        report
            .manifest
            .as_ref()
            .and_then(|m| m.items.iter().find(|i| Some(i.id) == item))
            .map(|i| i.file_name.clone())
            .unwrap_or_default()
    };
    let mut events: Vec<ReportEventRow> = report
        .events
        .iter()
        .map(|e| ReportEventRow {
            index: e.index,
            file: file_of(e.record.as_ref().and_then(|r| r.item)),
            kind: e
                .record
                .as_ref()
                .map(|r| p.tr.t(&format!("ev-kind-{}", r.kind.replace('_', "-"))))
                .unwrap_or_default(),
            at: e
                .record
                .as_ref()
                .and_then(|r| OffsetDateTime::parse(&r.at, &Rfc3339).ok())
                .map(fmt_time)
                .unwrap_or_default(),
            actor: e
                .record
                .as_ref()
                .map(|r| r.actor.clone())
                .unwrap_or_default(),
            included: e.included,
        })
        .collect();
    events.sort_by(|a, b| a.file.cmp(&b.file).then(a.index.cmp(&b.index)));
    let view = VerificationPage {
        checks: check_rows(&p.tr, &report),
        events,
        items: items.iter().map(|i| item_row(&p.tr, i)).collect(),
        passed: report
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Passed)
            .count(),
        failed: report.failures().count(),
        package_id: report
            .manifest
            .as_ref()
            .map(|m| m.package_id.to_string())
            .unwrap_or_default(),
        sender: report
            .manifest
            .as_ref()
            .map(|m| {
                format!(
                    "{} — {} ({})",
                    m.node.id, m.node.organisation, m.node.country
                )
            })
            .unwrap_or_default(),
        fingerprint: report
            .manifest
            .as_ref()
            .map(|m| m.node.fingerprint.clone())
            .unwrap_or_default(),
        holds,
        imported: holds && !verify_only,
        verify_only,
        case_id: case.id,
        reference: case.reference.to_string(),
        tr: p.tr,
        nav: p.nav,
    };
    let status = if holds {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_status(status, &view))
}

pub struct DetailRow {
    pub label: String,
    pub value: String,
    /// Shown as code (hashes, fingerprints, identifiers).
    pub code: bool,
}

pub struct EventRow {
    pub index: u64,
    pub kind: String,
    pub kind_label: String,
    pub at: String,
    pub actor: String,
    pub details: Vec<DetailRow>,
    pub leaf_hash: String,
}

/// The keys custody records use in their details, in display order.
pub const DETAIL_KEYS: [&str; 22] = [
    "source",
    "exhibit_number",
    "description",
    "acquired_at",
    "acquired_place",
    "performer",
    "authorisation",
    "file_name",
    "size",
    "md5",
    "sha1",
    "retention_until",
    "reason",
    "check",
    "checks_passed",
    "from_node",
    "sender_exhibit_number",
    "sender_key",
    "package",
    "package_sha256",
    "sender_tree_size",
    "failures",
];

/// A custody record's details as people read them: translated labels,
/// translated sources, local times, sizes with units; internal ids left out.
fn detail_rows(tr: &Tr, details: &std::collections::BTreeMap<String, String>) -> Vec<DetailRow> {
    DETAIL_KEYS
        .iter()
        .filter_map(|key| {
            let raw = details.get(*key)?;
            let label = tr.t(&format!("ev-detail-{}", key.replace('_', "-")));
            let (value, code) = match *key {
                "source" => (tr.t(&format!("ev-source-{}", raw.replace('_', "-"))), false),
                "acquired_at" => (
                    OffsetDateTime::parse(raw, &Rfc3339)
                        .map(fmt_time)
                        .unwrap_or_else(|_| raw.clone()),
                    false,
                ),
                "size" => (
                    raw.parse::<u64>()
                        .map(human_size)
                        .unwrap_or_else(|_| raw.clone()),
                    false,
                ),
                "check" => (tr.t(&format!("ev-detail-check-{raw}")), false),
                "md5" | "sha1" | "sender_key" | "package" | "package_sha256" => (raw.clone(), true),
                _ => (raw.clone(), false),
            };
            Some(DetailRow { label, value, code })
        })
        .collect()
}

#[derive(Template)]
#[template(path = "evidence/evidence_item.html")]
struct ItemPage {
    tr: Tr,
    nav: Nav,
    item: ItemRow,
    case_id: Uuid,
    reference: String,
    md5: String,
    sha1: String,
    acquired_at: String,
    acquired_place: String,
    performer: String,
    authorisation: String,
    origin: String,
    retention_until: String,
    verified_at: String,
    disposed: String,
    can_download: bool,
    keeps: bool,
    can_seal: bool,
    can_release: bool,
    can_dispose: bool,
    events: Vec<EventRow>,
    tree_size: u64,
    root_hash: String,
    fingerprint: String,
    errors: FormErrors,
}

async fn item_page(
    app: &AppState,
    caller: &Caller,
    locale: Locale,
    id: Uuid,
    errors: FormErrors,
) -> AppResult<ItemPage> {
    let (item, case) = member_item(app, &caller.principal(), id).await?;
    let entry = caller.actor().entry(
        entraide_domain::AuditAction::EvidenceRead,
        entraide_domain::AuditOutcome::Success,
    );
    let entry = crate::app::audit::AuditEntryExt::target(
        crate::app::audit::AuditEntryExt::on_case(entry, case.id),
        item.id.to_string(),
    );
    app.store.append_audit(&entry).await?;
    let p = page(app, caller, locale, "/cases").await?;
    let events = app.store.custody_events_for_item(item.id).await?;
    let head = app.custody.sign_tree_head(&app.store, false).await?;
    let today = OffsetDateTime::now_utc().date();
    let keeps = rules::may_keep(caller.roles());
    Ok(ItemPage {
        md5: item.md5.clone().unwrap_or_default(),
        sha1: item.sha1.clone().unwrap_or_default(),
        acquired_at: item.acquired_at.map(fmt_time).unwrap_or_default(),
        acquired_place: item.acquired_place.clone().unwrap_or_default(),
        performer: item.performer.clone().unwrap_or_default(),
        authorisation: item.authorisation.clone().unwrap_or_default(),
        origin: item.origin.clone().unwrap_or_default(),
        retention_until: item
            .retention_until
            .and_then(|d| d.format(DATE_FORMAT).ok())
            .unwrap_or_default(),
        verified_at: item.verified_at.map(fmt_time).unwrap_or_default(),
        disposed: match (&item.disposed_at, &item.disposal_reason) {
            (Some(at), reason) => {
                format!("{} — {}", fmt_time(*at), reason.clone().unwrap_or_default())
            }
            _ => String::new(),
        },
        can_download: rules::may_read_content(caller.roles())
            && rules::content_available(item.state, item.integrity).is_ok(),
        keeps,
        can_seal: keeps && rules::seal(item.state).is_ok(),
        can_release: keeps && rules::release(item.state).is_ok(),
        can_dispose: keeps
            && rules::may_dispose(item.state, item.legal_hold, item.retention_until, today).is_ok(),
        events: events
            .iter()
            .map(|e| {
                let record = CustodyRecord::from_leaf(&e.event.record).ok();
                EventRow {
                    index: e.leaf_index,
                    kind: e.event.kind.as_str().to_owned(),
                    kind_label: p.tr.t(&format!(
                        "ev-kind-{}",
                        e.event.kind.as_str().replace('_', "-")
                    )),
                    at: fmt_time(e.event.at),
                    actor: record
                        .as_ref()
                        .map(|r| format!("{} ({})", r.actor_name, r.actor))
                        .unwrap_or_else(|| e.event.actor.clone()),
                    details: record
                        .map(|r| detail_rows(&p.tr, &r.details))
                        .unwrap_or_default(),
                    leaf_hash: e.event.leaf_hash.clone(),
                }
            })
            .collect(),
        tree_size: head.tree_size,
        root_hash: head.root_hash.to_hex(),
        fingerprint: app.custody.key().fingerprint(),
        case_id: case.id,
        reference: case.reference.to_string(),
        item: item_row(&p.tr, &item),
        errors,
        tr: p.tr,
        nav: p.nav,
    })
}

pub async fn detail(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let view = item_page(&app, &caller, locale.0, id, FormErrors::default()).await?;
    Ok(render(&view))
}

#[derive(serde::Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    retention_until: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Seal, release, hold, retention, disposal from the item page.
pub async fn change(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
    UiForm(form): UiForm<ChangeForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    let request = proto::CustodyChange {
        action: form.action.clone(),
        retention_until: form.retention_until.clone(),
        reason: form.reason.clone(),
    };
    let result = match Change::parse(&request) {
        Ok(change) => evidence::change_custody(&app, &caller.principal(), id, change).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/evidence/{id}"))),
        Err(err) => {
            let tr = Tr::new(app.i18n.clone(), locale.0);
            let field = if form.action == "dispose" {
                "reason"
            } else if form.action == "retention" {
                "retention_until"
            } else {
                "action"
            };
            let Some(errors) = FormErrors::from_error(&tr, &err, field) else {
                return Err(err);
            };
            let view = item_page(&app, &caller, locale.0, id, errors).await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
    }
}

/// The custody kinds, for the translation tests.
pub fn kind_message_ids() -> Vec<String> {
    CustodyEventKind::ALL
        .iter()
        .map(|k| format!("ev-kind-{}", k.as_str().replace('_', "-")))
        .collect()
}
