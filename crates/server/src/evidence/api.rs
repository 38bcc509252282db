//! The evidence JSON API: resumable uploads, items and their custody,
//! downloads, custody changes, packages out and in, and the custody log's
//! signed tree heads and proofs.

use std::collections::HashSet;
use std::sync::Mutex;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use entraide_domain::evidence::CustodyEventKind;
use entraide_domain::{AuditAction, AuditOutcome};
use entraide_proto as proto;
use entraide_store::EvidenceUpload;
use futures_util::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::audit::AuditEntryExt;
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;
use crate::evidence::limits::Allowance;
use crate::evidence::{
    self, evidence_case, item_view, member_item, tree_head_view, Change, CustodyActor,
    EvidenceInput,
};
use crate::http::caller::Caller;
use crate::http::{json_response, ApiJson};
use crate::http::{ApiPath, ApiQuery};

/// Uploads being written right now (one writer per upload per replica).
static BUSY: Mutex<Option<HashSet<Uuid>>> = Mutex::new(None);

struct UploadGuard(Uuid);

impl UploadGuard {
    fn take(id: Uuid) -> AppResult<Self> {
        let mut busy = BUSY
            .lock()
            .map_err(|_| AppError::Internal("upload lock poisoned".into()))?;
        if !busy.get_or_insert_with(HashSet::new).insert(id) {
            return Err(AppError::Conflict {
                code: "upload_busy",
                detail: "another request is writing this upload".into(),
            });
        }
        Ok(Self(id))
    }
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        if let Ok(mut busy) = BUSY.lock() {
            if let Some(set) = busy.as_mut() {
                set.remove(&self.0);
            }
        }
    }
}

/// Evidence items of a case (members only).
#[utoipa::path(get, path = "/api/v1/cases/{id}/evidence", tag = "evidence", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [proto::EvidenceItemView]), (status = 403, body = proto::Problem, description = "`not_case_member`: only members of the case"),
              (status = 404, body = proto::Problem, description = "no such case")))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(case_id): ApiPath<Uuid>,
) -> AppResult<Response> {
    let case = evidence_case(&app, &caller.principal(), case_id).await?;
    let items = app.store.evidence_in_case(case.id).await?;
    let views: Vec<_> = items.iter().map(item_view).collect();
    Ok(json_response(StatusCode::OK, &views))
}

/// Starts a resumable upload; send the bytes with PATCH.
#[utoipa::path(post, path = "/api/v1/cases/{id}/evidence/uploads", tag = "evidence", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::NewEvidenceUpload,
    responses((status = 201, body = proto::EvidenceUploadView, description = "the upload; `Location` is its address, `Upload-Offset` is 0",
               headers(("location" = String), ("upload-offset" = u64))),
              (status = 403, body = proto::Problem, description = "`not_case_member`, or `forbidden_role`: your roles do not allow adding evidence"),
              (status = 404, body = proto::Problem, description = "no such case"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: every refused metadata field;                 `upload_too_large`: `size` is more than the node accepts in one file (`limit`, `limits.max_upload_bytes`);                 `quota_exceeded`: the case or the node would hold more evidence than its quota (`limit`)")))]
pub async fn create_upload(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(case_id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<proto::NewEvidenceUpload>,
) -> AppResult<Response> {
    let case = evidence_case(&app, &caller.principal(), case_id).await?;
    evidence::require_content_role(&app, &caller.principal(), &case, "upload").await?;
    EvidenceInput::from_upload(&body).parse()?;
    // Before anything is stored: a size the node will never take (2^63
    // bytes, say) is refused here, with the limit.
    Allowance::of_case(&app, case.id)
        .await?
        .admit(body.size, "size")?;
    let upload = EvidenceUpload {
        id: Uuid::now_v7(),
        case_id: case.id,
        created_by: caller.user.id,
        created_at: OffsetDateTime::now_utc(),
        size: body.size,
        received: 0,
        metadata: serde_json::to_string(&body).map_err(|e| AppError::Internal(e.to_string()))?,
    };
    app.store.create_upload(&upload).await?;
    std::fs::File::create(app.custody.upload_path(upload.id))
        .map_err(|e| AppError::Internal(format!("upload file: {e}")))?;
    let mut res = json_response(StatusCode::CREATED, &upload_view(&upload, None));
    set_offset(&mut res, 0);
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/evidence/uploads/{}", upload.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

fn upload_view(
    u: &EvidenceUpload,
    item: Option<proto::EvidenceItemView>,
) -> proto::EvidenceUploadView {
    proto::EvidenceUploadView {
        id: u.id,
        case_id: u.case_id,
        size: u.size,
        received: u.received,
        created_at: u.created_at,
        item,
    }
}

fn set_offset(res: &mut Response, offset: u64) {
    if let Ok(v) = HeaderValue::from_str(&offset.to_string()) {
        res.headers_mut().insert("upload-offset", v);
    }
}

async fn own_upload(app: &AppState, caller: &Caller, id: Uuid) -> AppResult<EvidenceUpload> {
    match app.store.upload(id).await? {
        Some(u) if u.created_by == caller.user.id => Ok(u),
        _ => Err(AppError::NotFound { what: "upload" }),
    }
}

/// Where an upload stands: the next offset to send.
#[utoipa::path(get, path = "/api/v1/evidence/uploads/{id}", tag = "evidence", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = proto::EvidenceUploadView, headers(("upload-offset" = u64, description = "bytes received: where to resume"))),
              (status = 404, body = proto::Problem, description = "no such upload of yours")))]
pub async fn upload_status(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<Response> {
    let upload = own_upload(&app, &caller, id).await?;
    let mut res = json_response(StatusCode::OK, &upload_view(&upload, None));
    set_offset(&mut res, upload.received);
    Ok(res)
}

/// Abandons an upload and its bytes.
#[utoipa::path(delete, path = "/api/v1/evidence/uploads/{id}", tag = "evidence", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "abandoned"), (status = 404, body = proto::Problem, description = "no such upload of yours"),
              (status = 409, body = proto::Problem, description = "`upload_busy`: another request is writing it")))]
pub async fn delete_upload(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<Response> {
    let upload = own_upload(&app, &caller, id).await?;
    let _guard = UploadGuard::take(upload.id)?;
    app.store.delete_upload(upload.id).await?;
    let _ = std::fs::remove_file(app.custody.upload_path(upload.id));
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Appends bytes at `Upload-Offset`. A cut connection keeps what arrived:
/// ask for the offset and send the rest. The last byte completes the item
/// (hashed, stored, custody recorded) and the answer is 201 with it.
#[utoipa::path(patch, path = "/api/v1/evidence/uploads/{id}", tag = "evidence", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Upload-Offset" = u64, Header)),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses((status = 204, description = "bytes stored; `Upload-Offset` says how many", headers(("upload-offset" = u64))),
              (status = 201, body = proto::EvidenceUploadView, description = "the last byte arrived: the item is recorded (`item`)", headers(("upload-offset" = u64))),
              (status = 400, body = proto::Problem, description = "`upload_content_type` (send `application/offset+octet-stream`), `upload_offset_required` (no `Upload-Offset` header) or `upload_interrupted` (resume from the offset)"),
              (status = 403, body = proto::Problem, description = "`not_case_member`: only members of the case"),
              (status = 404, body = proto::Problem, description = "no such upload of yours"),
              (status = 409, body = proto::Problem, description = "`upload_offset_mismatch` (`Upload-Offset` in the answer says where to resume), or `upload_busy`"),
              (status = 413, body = proto::Problem, description = "`payload_too_large`: more bytes than the declared size"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: the upload's metadata no longer pass their checks")))]
pub async fn upload_append(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let upload = own_upload(&app, &caller, id).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !matches!(
        content_type,
        "application/offset+octet-stream" | "application/octet-stream"
    ) {
        return Err(AppError::BadRequest {
            code: "upload_content_type",
            detail: "send the bytes as application/offset+octet-stream".into(),
        });
    }
    let offset: u64 = headers
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or(AppError::BadRequest {
            code: "upload_offset_required",
            detail: "the Upload-Offset header (bytes already sent) is required".into(),
        })?;
    let _guard = UploadGuard::take(upload.id)?;
    // Read again under the guard: the offset may have moved.
    let upload = own_upload(&app, &caller, id).await?;
    if offset != upload.received {
        let mut res = AppError::Conflict {
            code: "upload_offset_mismatch",
            detail: format!(
                "the upload holds {} bytes: send from there",
                upload.received
            ),
        }
        .into_response();
        set_offset(&mut res, upload.received);
        return Ok(res);
    }
    let path = app.custody.upload_path(upload.id);
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .await
        .map_err(|e| AppError::Internal(format!("upload file: {e}")))?;
    // Bytes past the recorded offset (a cut before it was recorded) go.
    file.set_len(upload.received)
        .await
        .map_err(|e| AppError::Internal(format!("upload file: {e}")))?;
    tokio::io::AsyncSeekExt::seek(&mut file, std::io::SeekFrom::End(0))
        .await
        .map_err(|e| AppError::Internal(format!("upload file: {e}")))?;
    let mut received = upload.received;
    let mut stream = body.into_data_stream();
    let mut cut = None;
    let mut too_big = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(data) => {
                if received + data.len() as u64 > upload.size {
                    too_big = true;
                    break;
                }
                tokio::io::AsyncWriteExt::write_all(&mut file, &data)
                    .await
                    .map_err(|e| AppError::Internal(format!("upload file: {e}")))?;
                received += data.len() as u64;
            }
            Err(e) => {
                cut = Some(e.to_string());
                break;
            }
        }
    }
    if too_big {
        let _ = file.set_len(upload.received).await;
        return Err(AppError::PayloadTooLarge);
    }
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .and(file.sync_data().await)
        .map_err(|e| AppError::Internal(format!("upload file: {e}")))?;
    drop(file);
    if !app
        .store
        .advance_upload(upload.id, upload.received, received)
        .await?
    {
        return Err(AppError::Conflict {
            code: "upload_offset_mismatch",
            detail: "the upload moved meanwhile: ask for its offset".into(),
        });
    }
    if let Some(why) = cut {
        tracing::info!(upload = %upload.id, received, "upload interrupted: {why}");
        return Err(AppError::BadRequest {
            code: "upload_interrupted",
            detail: format!("the transfer stopped after {received} bytes: resume from there"),
        });
    }
    if received < upload.size {
        let mut res = StatusCode::NO_CONTENT.into_response();
        set_offset(&mut res, received);
        return Ok(res);
    }
    // Complete: hash, move into the blob store, record the item.
    let meta: proto::NewEvidenceUpload = serde_json::from_str(&upload.metadata)
        .map_err(|e| AppError::Internal(format!("upload metadata: {e}")))?;
    let details = EvidenceInput::from_upload(&meta).parse()?;
    let case = evidence_case(&app, &caller.principal(), upload.case_id).await?;
    let custody = app.custody.clone();
    let legacy = details.legacy_hashes;
    let ingested = tokio::task::spawn_blocking(move || custody.blobs().store_file(&path, legacy))
        .await
        .map_err(|e| AppError::Internal(format!("ingest task: {e}")))?
        .map_err(|e| AppError::Internal(format!("ingest: {e}")))?;
    let item = evidence::record_new_item(
        &app,
        &case,
        &CustodyActor::of(&caller.principal()),
        details,
        &ingested,
    )
    .await?;
    app.store.delete_upload(upload.id).await?;
    let done = EvidenceUpload { received, ..upload };
    let mut res = json_response(
        StatusCode::CREATED,
        &upload_view(&done, Some(item_view(&item))),
    );
    set_offset(&mut res, received);
    Ok(res)
}

/// An item with its custody timeline (members of the case).
#[utoipa::path(get, path = "/api/v1/evidence/{id}", tag = "evidence", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = proto::EvidenceDetail), (status = 404, body = proto::Problem, description = "no such item, or not in one of your cases")))]
pub async fn detail(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> AppResult<Response> {
    let (item, case) = member_item(&app, &caller.principal(), id).await?;
    let events = app.store.custody_events_for_item(item.id).await?;
    let entry = caller
        .actor()
        .entry(AuditAction::EvidenceRead, AuditOutcome::Success)
        .on_case(case.id)
        .target(item.id.to_string());
    app.store.append_audit(&entry).await?;
    Ok(json_response(
        StatusCode::OK,
        &proto::EvidenceDetail {
            item: item_view(&item),
            custody: events.iter().map(evidence::event_view).collect(),
        },
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContentQuery {
    /// `inline` to view in the browser (an `accessed` custody event)
    /// rather than download (`downloaded`, the default; any other value
    /// downloads too).
    #[param(value_type = Option<String>, example = "inline")]
    pub disposition: Option<String>,
}

/// The content (custodians and officers of the case). Recorded as a custody
/// event and in the audit log; streamed while hashed, and cut short if it
/// no longer matches its SHA-256 (the item is then marked corrupted).
#[utoipa::path(get, path = "/api/v1/evidence/{id}/content", tag = "evidence", security(("bearer" = [])),
    params(("id" = Uuid, Path), ContentQuery),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>, description = "the file, streamed while hashed (cut short if it no longer matches its SHA-256)",
               headers(("repr-digest" = String, description = "`sha-256=:<base64>:`"), ("content-disposition" = String))),
              (status = 403, body = proto::Problem, description = "`forbidden_role`: your roles do not allow reading content"),
              (status = 404, body = proto::Problem, description = "no such item, or not in one of your cases"),
              (status = 409, body = proto::Problem, description = "the item is sealed or disposed, or `evidence_corrupted`")))]
pub async fn content(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<ContentQuery>,
) -> AppResult<Response> {
    let inline = q.disposition.as_deref() == Some("inline");
    let kind = if inline {
        CustodyEventKind::Accessed
    } else {
        CustodyEventKind::Downloaded
    };
    let (item, mut reader) = evidence::open_content(&app, &caller.principal(), id, kind).await?;
    // Read on a blocking thread, hashing as the bytes go out; a mismatch at
    // the end cuts the transfer and marks the item corrupted.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let expected = item.sha256.clone();
    let checked_app = app.clone();
    let checked_item = item.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut hasher = Sha256::new();
        loop {
            let mut buf = vec![0u8; 256 * 1024];
            match std::io::Read::read(&mut reader, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    hasher.update(&buf);
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
        if hex::encode(hasher.finalize()) != expected {
            // Never let a corrupted file pass as complete.
            let _ = tx.blocking_send(Err(std::io::Error::other(
                "evidence content does not match its SHA-256",
            )));
            runtime.block_on(async move {
                if let Ok(Some(case)) = checked_app.store.case_by_id(checked_item.case_id).await {
                    let _ = evidence::mark_corrupted(
                        &checked_app,
                        &case,
                        &checked_item,
                        "the stored content no longer matches its SHA-256",
                    )
                    .await;
                }
            });
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut res = Response::new(Body::from_stream(stream));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&item.size.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    let disposition = format!(
        "{}; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        percent_encode(&item.file_name)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(raw) = hex::decode(&item.sha256) {
        let digest = format!(
            "sha-256=:{}:",
            base64::engine::general_purpose::STANDARD.encode(raw)
        );
        if let Ok(v) = HeaderValue::from_str(&digest) {
            h.insert("repr-digest", v);
        }
    }
    Ok(res)
}

/// RFC 5987 encoding of a file name for Content-Disposition.
pub fn percent_encode(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Seal, release, legal hold, retention, disposal (custodians).
#[utoipa::path(post, path = "/api/v1/evidence/{id}/custody", tag = "evidence", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::CustodyChange,
    responses((status = 200, body = proto::EvidenceItemView), (status = 403, body = proto::Problem, description = "`forbidden_role`"),
              (status = 404, body = proto::Problem, description = "no such item, or not in one of your cases"),
              (status = 409, body = proto::Problem, description = "the change is not open in the item's state (e.g. dispose under legal hold)"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: an unknown action, a bad `retention_until`, `dispose` without `reason`")))]
pub async fn change(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<proto::CustodyChange>,
) -> AppResult<Response> {
    let change = Change::parse(&body)?;
    let item = evidence::change_custody(&app, &caller.principal(), id, change).await?;
    Ok(json_response(StatusCode::OK, &item_view(&item)))
}

/// Exports items of the case as an evidence package (a ZIP file).
#[utoipa::path(post, path = "/api/v1/cases/{id}/evidence/packages", tag = "evidence", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::PackageRequest,
    responses((status = 200, content_type = "application/zip", body = Vec<u8>, description = "the package (ZIP), as an attachment"),
              (status = 403, body = proto::Problem, description = "`not_case_member`, or `forbidden_role`"),
              (status = 404, body = proto::Problem, description = "no such case or item"),
              (status = 409, body = proto::Problem, description = "`nothing_to_export`, `evidence_corrupted`, or a sealed or disposed item"),
              (status = 422, body = proto::Problem, description = "`validation_failed`: an item not in the case")))]
pub async fn export(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(case_id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<proto::PackageRequest>,
) -> AppResult<Response> {
    let case = evidence_case(&app, &caller.principal(), case_id).await?;
    evidence::require_content_role(&app, &caller.principal(), &case, "export").await?;
    let built = evidence::export_package(
        &app,
        &case,
        &CustodyActor::of(&caller.principal()),
        &body.items,
    )
    .await?;
    stream_and_remove(&built.path, &built.file_name, "application/zip").await
}

/// Streams a work file and removes it (the open handle keeps it readable).
pub async fn stream_and_remove(
    path: &std::path::Path,
    file_name: &str,
    content_type: &'static str,
) -> AppResult<Response> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| AppError::Internal(format!("package file: {e}")))?;
    let size = file
        .metadata()
        .await
        .map_err(|e| AppError::Internal(format!("package file: {e}")))?
        .len();
    let _ = tokio::fs::remove_file(path).await;
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match tokio::io::AsyncReadExt::read(&mut file, &mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut res = Response::new(Body::from_stream(stream));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&size.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename*=UTF-8''{}",
        percent_encode(file_name)
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// Writes a request body to a work file (constant memory), refused with
/// the limit it exceeds as soon as it is larger than `allowance` allows.
pub async fn body_to_file(
    body: Body,
    path: &std::path::Path,
    allowance: &Allowance,
) -> AppResult<u64> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| AppError::Internal(format!("work file: {e}")))?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                drop(file);
                let _ = tokio::fs::remove_file(path).await;
                return Err(AppError::BadRequest {
                    code: "upload_interrupted",
                    detail: format!("the transfer stopped: {e}"),
                });
            }
        };
        size = size.saturating_add(chunk.len() as u64);
        if size > allowance.bytes() {
            drop(file);
            let _ = tokio::fs::remove_file(path).await;
            return Err(allowance
                .admit(size, "body")
                .err()
                .unwrap_or(AppError::PayloadTooLarge));
        }
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
            .await
            .map_err(|e| AppError::Internal(format!("work file: {e}")))?;
    }
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(|e| AppError::Internal(format!("work file: {e}")))?;
    Ok(size)
}

/// Receives an evidence package from another node (the ZIP file as the
/// body): verified offline, checked against the tree heads seen before from
/// the same key, then its files become items of the case. A package that
/// fails is refused (422, with every failed check) and recorded.
#[utoipa::path(post, path = "/api/v1/cases/{id}/evidence/packages/received", tag = "evidence", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body(content = Vec<u8>, content_type = "application/zip"),
    responses((status = 201, body = proto::PackageImportView),
              (status = 400, body = proto::Problem, description = "`package_content_type` (send `application/zip`) or `upload_interrupted`"),
              (status = 403, body = proto::Problem, description = "`not_case_member`, or `forbidden_role`"),
              (status = 404, body = proto::Problem, description = "no such case"),
              (status = 422, body = proto::Problem, description = "`package_verification_failed`: the package does not hold; `errors` lists each failed check (`field` is its subject);                 `upload_too_large` or `quota_exceeded`: the package is larger than the node accepts or than the quotas leave (`limit`)")))]
pub async fn receive(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(case_id): ApiPath<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let case = evidence_case(&app, &caller.principal(), case_id).await?;
    evidence::require_content_role(&app, &caller.principal(), &case, "receive package").await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type != "application/zip" {
        return Err(AppError::BadRequest {
            code: "package_content_type",
            detail: "send the package as application/zip".into(),
        });
    }
    // An announced length over the limits is refused before reading.
    let allowance = Allowance::of_case(&app, case.id).await?;
    if let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        allowance.admit(length, "body")?;
    }
    let path = app.custody.work_path("received.zip");
    body_to_file(body, &path, &allowance).await?;
    let result = evidence::import_package(
        &app,
        &case,
        &CustodyActor::of(&caller.principal()),
        &path,
        "received package",
    )
    .await;
    let _ = tokio::fs::remove_file(&path).await;
    let (report, items) = result?;
    if !report.holds() {
        return Err(AppError::PackageRefused(
            report
                .failures()
                .map(|c| proto::FieldError {
                    field: c.subject.clone(),
                    code: c.code.to_owned(),
                    message: c.detail.clone(),
                })
                .collect(),
        ));
    }
    Ok(json_response(
        StatusCode::CREATED,
        &proto::PackageImportView {
            holds: true,
            package_id: report.manifest.as_ref().map(|m| m.package_id),
            checks: report.checks.iter().map(evidence::check_view).collect(),
            items: items.iter().map(item_view).collect(),
        },
    ))
}

/// The latest signed tree head of the node's custody log (signing a new
/// one if the log grew).
#[utoipa::path(get, path = "/api/v1/custody/tree-head", tag = "evidence", security(("bearer" = [])),
    responses((status = 200, body = proto::TreeHeadView)))]
pub async fn tree_head(State(app): State<AppState>) -> AppResult<Response> {
    let head = app.custody.sign_tree_head(&app.store, false).await?;
    Ok(json_response(StatusCode::OK, &tree_head_view(&head)))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProofQuery {
    /// The tree size to prove against (default: a freshly signed head).
    pub tree_size: Option<u64>,
}

/// Inclusion proof of one custody event of an item (members of its case).
#[utoipa::path(get, path = "/api/v1/evidence/{id}/custody/{leaf_index}/proof", tag = "evidence", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("leaf_index" = u64, Path), ProofQuery),
    responses((status = 200, body = proto::InclusionProofView), (status = 404, body = proto::Problem, description = "no such item in your cases, no such event of it, or no signed tree head of that size")))]
pub async fn inclusion_proof(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, leaf_index)): ApiPath<(Uuid, u64)>,
    ApiQuery(q): ApiQuery<ProofQuery>,
) -> AppResult<Response> {
    let (item, _) = member_item(&app, &caller.principal(), id).await?;
    let events = app.store.custody_events_for_item(item.id).await?;
    let event = events
        .iter()
        .find(|e| e.leaf_index == leaf_index)
        .ok_or(AppError::NotFound {
            what: "custody event",
        })?;
    let head = app.custody.sign_tree_head(&app.store, false).await?;
    let tree_size = q.tree_size.unwrap_or(head.tree_size);
    let proof = app
        .custody
        .inclusion_proof(&app.store, leaf_index, tree_size)
        .await?;
    let head = if tree_size == head.tree_size {
        head
    } else {
        let stored = app
            .store
            .tree_head(tree_size)
            .await?
            .ok_or(AppError::NotFound {
                what: "signed tree head of that size",
            })?;
        SignedHeadFromStore::convert(app.custody.node_id(), &stored)?
    };
    Ok(json_response(
        StatusCode::OK,
        &proto::InclusionProofView {
            leaf_index,
            leaf_hash: event.event.leaf_hash.clone(),
            tree_size,
            proof: proof.iter().map(|h| h.to_hex()).collect(),
            tree_head: tree_head_view(&head),
        },
    ))
}

struct SignedHeadFromStore;

impl SignedHeadFromStore {
    fn convert(
        node: &str,
        h: &entraide_store::StoredTreeHead,
    ) -> AppResult<entraide_evidence::SignedTreeHead> {
        Ok(entraide_evidence::SignedTreeHead {
            node: node.to_owned(),
            tree_size: h.tree_size,
            root_hash: entraide_custody_log::Hash::from_hex(&h.root_hash)
                .map_err(|e| AppError::Internal(format!("stored root: {e}")))?,
            timestamp_ms: entraide_store::to_millis(h.signed_at),
            public_key: h.public_key.clone(),
            signature: h.signature.clone(),
        })
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The earlier tree size.
    pub from: u64,
    /// The later tree size.
    pub to: u64,
}

/// Consistency proof between two sizes of the custody log.
#[utoipa::path(get, path = "/api/v1/custody/consistency", tag = "evidence", security(("bearer" = [])),
    params(ConsistencyQuery),
    responses((status = 200, body = proto::ConsistencyProofView), (status = 400, body = proto::Problem, description = "sizes out of order or beyond the log")))]
pub async fn consistency(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> AppResult<Response> {
    let proof = app
        .custody
        .consistency_proof(&app.store, q.from, q.to)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &proto::ConsistencyProofView {
            from_size: q.from,
            to_size: q.to,
            proof: proof.iter().map(|h| h.to_hex()).collect(),
        },
    ))
}
