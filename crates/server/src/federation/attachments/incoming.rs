//! The receiver's side of an attachment: each chunk, in an HTTP-signed
//! request from the pinned peer that sent the manifest, is opened with the
//! manifest's content key before it is written; chunks are appended in
//! order and hashed on the way (caught up from the file after a restart
//! or another replica's writes, which take a file lock), and the last is
//! taken only if the whole file matches the manifest's SHA-256. The
//! complete file waits, named with that hash, for the message using it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use entraide_federation::attachment::{
    is_sha256_hex, open_chunk, Manifest, ManifestError, Opened, CHUNK_BYTES, CHUNK_BYTES_MAX,
    TAG_BYTES,
};
use entraide_federation::httpsig::BodyBinding;
use entraide_federation::{Envelope, MessageKind};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use super::buffers::{chunk_buffer, give_back};
use super::spool::{incoming, io_err, joined, private_options, sender_id};
use super::wire::{AttachmentRef, Progress, IN_FLIGHT, LIFETIME};
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;
use crate::app::transfers::{Transfer, Written};
use crate::federation::gate::{admit, pass, refuse, Client, Route};
use crate::federation::signed::{audit_if_refused, open_from, refused, Authenticated};
use crate::http::{json_response, ApiPath};

/// How long a chunk that came ahead waits for the one before it.
const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The receiver's answer: `received_chunks` of the transfer's chunks held.
fn progress(t: &Transfer, received_chunks: u32) -> Progress {
    Progress {
        received_chunks,
        chunks: t.chunks,
    }
}

/// The manifest of attachment `id`, which `from` sent before (it is in the
/// inbox, still valid), opened once and kept while the attachment arrives.
async fn transfer(app: &AppState, from: &Authenticated, id: Uuid) -> AppResult<Arc<Transfer>> {
    let sender = &from.peer.node_id;
    if let Some(t) = app.incoming_attachments.find(sender, id) {
        return Ok(t);
    }
    let stored = app
        .store
        .inbox_message(id)
        .await?
        .filter(|m| m.sender == from.peer.node_id && m.message_type == MessageKind::Attachment)
        .ok_or(AppError::NotFound { what: "attachment" })?;
    let envelope: Envelope = serde_json::from_str(&stored.envelope)
        .map_err(|e| AppError::Internal(format!("stored manifest: {e}")))?;
    let (_, payload) = open_from(app, from, &envelope, OffsetDateTime::now_utc())?;
    let Opened {
        manifest,
        key,
        chunks,
    } = Manifest::parse(&payload).map_err(|e| {
        let code = match e {
            ManifestError::Unsupported => "attachment_manifest_unsupported",
            _ => "attachment_manifest_malformed",
        };
        refused(code, e.to_string())
    })?;
    let (part, done) = incoming(app, &sender_id(&from.peer.node_id)?, id, &manifest.sha256);
    let t = Arc::new(Transfer {
        manifest,
        key,
        chunks,
        part,
        done,
        opened: std::time::Instant::now(),
        written: tokio::sync::Notify::new(),
        flushing: Arc::new(AtomicBool::new(false)),
        state: tokio::sync::Mutex::new(Written {
            len: 0,
            hasher: None,
        }),
    });
    // Transfers abandoned for longer than an attachment may take.
    let lifetime = std::time::Duration::from_secs(LIFETIME.whole_seconds().unsigned_abs());
    Ok(app
        .incoming_attachments
        .keep(sender.clone(), id, t, lifetime))
}

#[utoipa::path(get, path = "/federation/attachments/{id}", tag = "federation",
    params(("id" = Uuid, Path, description = "the attachment's manifest message")),
    responses((status = 200, description = "chunks received so far and in all"),
              (status = 403, body = entraide_proto::Problem), (status = 404, body = entraide_proto::Problem),
              (status = 409, body = entraide_proto::Problem, description = "`request_replayed`: this signed request was received before"),
              (status = 429, body = entraide_proto::Problem, description = "`too_many_connections`: too many requests from this address are being read")))]
/// `GET /federation/attachments/{id}`: how many chunks of an attachment
/// this node holds (the sender's resume point). HTTP-signed by the sender.
pub async fn status(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    client: Client,
    headers: HeaderMap,
    body: axum::body::Body,
) -> AppResult<Response> {
    let path = format!("/federation/attachments/{id}");
    let route = Route {
        binding: BodyBinding::ContentDigest,
        method: "GET",
        path: &path,
        limit: 0,
        what: "a status request",
    };
    let (admitted, _) = match pass(&app, client, &headers, body, &route, Vec::new()).await {
        Ok(passed) => passed,
        Err(refusal) => return Ok(refusal),
    };
    let from = &admitted.from;
    let result = async {
        let t = transfer(&app, from, id).await?;
        Ok::<_, AppError>(progress(&t, t.held()))
    }
    .await;
    audit_if_refused(&app, client.0, from, &result).await?;
    Ok(json_response(StatusCode::OK, &result?))
}

#[utoipa::path(put, path = "/federation/attachments/{id}/{n}", tag = "federation",
    params(("id" = Uuid, Path, description = "the attachment's manifest message"),
           ("n" = u32, Path, description = "the chunk's number, from 0")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the chunk sealed with the content key"),
    responses((status = 200, description = "chunks received so far and in all"),
              (status = 400, body = entraide_proto::Problem), (status = 403, body = entraide_proto::Problem),
              (status = 408, body = entraide_proto::Problem, description = "`body_read_timeout`: the chunk did not arrive in time"),
              (status = 409, body = entraide_proto::Problem, description = "`attachment_chunk_out_of_order`, or `request_replayed`: this signed request was received before"),
              (status = 413, body = entraide_proto::Problem),
              (status = 429, body = entraide_proto::Problem, description = "`too_many_connections`: too many requests from this address are being read")))]
/// `PUT /federation/attachments/{id}/{n}`: chunk `n`, sealed with the
/// manifest's content key, the request signature bound to its tag
/// (`Chunk-Tag`). Opened before it is written; chunks are written in
/// order, hashed as they are, and the last is taken only if the whole
/// file matches the manifest's SHA-256 (a repeat of a chunk already held
/// is answered as it was).
pub async fn put_chunk(
    State(app): State<AppState>,
    ApiPath((id, index)): ApiPath<(Uuid, u32)>,
    client: Client,
    headers: HeaderMap,
    body: axum::body::Body,
) -> AppResult<Response> {
    // Up to 16 MiB are read only for a pinned, active peer whose signature
    // holds, into a kept buffer.
    let path = format!("/federation/attachments/{id}/{index}");
    let route = Route {
        binding: BodyBinding::ChunkTag,
        method: "PUT",
        path: &path,
        limit: usize::try_from(CHUNK_BYTES_MAX).unwrap_or(usize::MAX) + TAG_BYTES,
        what: "the chunk",
    };
    let admitted = match admit(&app, client, &headers, &route).await {
        Ok(a) => a,
        Err(e) => return Ok(refuse(&app, client, &headers, e, Some(body)).await),
    };
    let body = match admitted.read(body, chunk_buffer(CHUNK_BYTES)).await {
        Ok(body) => body,
        Err((e, buf)) => {
            give_back(buf);
            return Ok(refuse(&app, client, &headers, e, None).await);
        }
    };
    let from = &admitted.from;
    let result = receive_chunk(&app, from, id, index, body).await;
    audit_if_refused(&app, client.0, from, &result).await?;
    Ok(json_response(StatusCode::OK, &result?))
}

async fn receive_chunk(
    app: &AppState,
    from: &Authenticated,
    id: Uuid,
    index: u32,
    sealed: Vec<u8>,
) -> AppResult<Progress> {
    let t = transfer(app, from, id).await?;
    let have = t.held();
    if index < have {
        return Ok(progress(&t, have));
    }
    if index >= have.saturating_add(IN_FLIGHT as u32) || index >= t.chunks {
        return Err(AppError::Conflict {
            code: "attachment_chunk_out_of_order",
            detail: format!(
                "chunk {index} sent; this node holds {have} of {}, in order",
                t.chunks
            ),
        });
    }
    // Opened first (CPU, beside the writes), then written in its turn.
    let opening = t.clone();
    let plain = tokio::task::spawn_blocking(move || -> AppResult<Vec<u8>> {
        let plain = open_chunk(&opening.key, id, index, sealed).ok_or_else(|| {
            refused(
                "attachment_chunk_tampered",
                format!("chunk {index} does not open with the attachment's key"),
            )
        })?;
        if plain.len() as u64 != opening.manifest.chunk_len(index) {
            return Err(refused(
                "attachment_chunk_size",
                format!(
                    "chunk {index} holds {} bytes; the manifest makes it {}",
                    plain.len(),
                    opening.manifest.chunk_len(index)
                ),
            ));
        }
        Ok(plain)
    })
    .await
    .map_err(joined)??;
    let plain = Arc::new(plain);
    let written = write_in_turn(app, &t, &from.peer.node_id, id, index, &plain).await;
    if let Ok(buf) = Arc::try_unwrap(plain) {
        give_back(buf);
    }
    written
}

/// Writes chunk `index` once those before it are in (waiting for them a
/// while), hashing it on the way; the chunks held then.
async fn write_in_turn(
    app: &AppState,
    t: &Arc<Transfer>,
    sender: &str,
    id: Uuid,
    index: u32,
    plain: &Arc<Vec<u8>>,
) -> AppResult<Progress> {
    let deadline = tokio::time::Instant::now() + TURN_WAIT;
    loop {
        let written = t.written.notified();
        tokio::pin!(written);
        written.as_mut().enable();
        {
            let mut state = t.state.lock().await;
            let Written { len, hasher } = &mut *state;
            let (writing, plain, mut at, mut hashed) =
                (t.clone(), plain.clone(), *len, hasher.take());
            let (turn, at, hashed) = tokio::task::spawn_blocking(move || {
                let turn = append(&writing, index, &plain, &mut at, &mut hashed);
                (turn, at, hashed)
            })
            .await
            .map_err(joined)?;
            (*len, *hasher) = (at, hashed);
            if matches!(&turn, Err(AppError::BadRequest { code, .. }) if *code == "attachment_hash_mismatch")
            {
                app.incoming_attachments.forget(sender, id);
            }
            if let Some(received) = turn? {
                t.written.notify_waiters();
                if received == t.chunks {
                    app.incoming_attachments.forget(sender, id);
                }
                return Ok(progress(t, received));
            }
        }
        // The chunk before this one is still on its way.
        if tokio::time::timeout_at(deadline, written).await.is_err() {
            return Err(AppError::Conflict {
                code: "attachment_chunk_out_of_order",
                detail: format!("chunk {index} waited too long for the chunk before it"),
            });
        }
    }
}

/// Appends chunk `index` if it is its turn: `Some(chunks held)` once
/// written (or already held), `None` while an earlier chunk is missing.
/// `len` and `hasher` are the bytes of the `.part` file this process has
/// hashed; the hasher is left `None` whenever the file may not be what it
/// covers (an error part-way), to be caught up from the file next time.
fn append(
    t: &Transfer,
    index: u32,
    plain: &[u8],
    len: &mut u64,
    hasher: &mut Option<Sha256>,
) -> AppResult<Option<u32>> {
    if t.done.is_file() {
        return Ok(Some(t.chunks));
    }
    let mut f = private_options()
        .read(true)
        .append(true)
        .open(&t.part)
        .map_err(io_err)?;
    // Replicas sharing the data directory write one at a time.
    f.lock().map_err(io_err)?;
    let chunk_bytes = t.manifest.chunk_bytes;
    let on_disk = f.metadata().map_err(io_err)?.len();
    // A chunk only partly written (a crash) is dropped.
    let whole = on_disk - on_disk % chunk_bytes;
    if whole != on_disk {
        f.set_len(whole).map_err(io_err)?;
    }
    let mut h = match hasher.take() {
        Some(h) if *len == whole => h,
        Some(h) if *len < whole => {
            // Another replica wrote the chunks in between.
            hash_range(&t.part, *len, whole, h).map_err(io_err)?
        }
        _ => hash_range(&t.part, 0, whole, Sha256::new()).map_err(io_err)?,
    };
    *len = whole;
    let start = u64::from(index) * chunk_bytes;
    if whole > start {
        *hasher = Some(h);
        return Ok(Some(u32::try_from(whole / chunk_bytes).unwrap_or(u32::MAX)));
    }
    if whole < start {
        *hasher = Some(h);
        return Ok(None);
    }
    h.update(plain);
    f.write_all(plain).map_err(io_err)?;
    *len += plain.len() as u64;
    if index + 1 < t.chunks {
        *hasher = Some(h);
        flush_behind(t, &f);
        return Ok(Some(index + 1));
    }
    // The last chunk: the whole file must be the one the manifest names.
    let sha256 = hex::encode(h.finalize());
    if sha256 != t.manifest.sha256 || *len != t.manifest.size {
        drop(f);
        let _ = std::fs::remove_file(&t.part);
        *len = 0;
        return Err(refused(
            "attachment_hash_mismatch",
            format!(
                "the attachment's {} bytes have SHA-256 {sha256}, not the {} its manifest gives; it is discarded",
                t.manifest.size, t.manifest.sha256
            ),
        ));
    }
    f.sync_all().map_err(io_err)?;
    drop(f);
    std::fs::rename(&t.part, &t.done).map_err(io_err)?;
    Ok(Some(t.chunks))
}

/// Starts writing what has been appended to disk in the background, one
/// flush at a time, so that the last chunk's flush has little left to do.
fn flush_behind(t: &Transfer, f: &File) {
    if t.flushing.swap(true, Ordering::AcqRel) {
        return;
    }
    let Ok(f) = f.try_clone() else {
        t.flushing.store(false, Ordering::Release);
        return;
    };
    let flushing = t.flushing.clone();
    tokio::task::spawn_blocking(move || {
        let _ = f.sync_data();
        flushing.store(false, Ordering::Release);
    });
}

/// `hasher` continued over bytes `from..to` of the file at `path`.
fn hash_range(path: &Path, from: u64, to: u64, mut hasher: Sha256) -> std::io::Result<Sha256> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(from))?;
    let mut rest = f.take(to - from);
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = rest.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher);
        }
        hasher.update(&buf[..n]);
    }
}

/// Moves a complete streamed attachment from `sender` to `out`. It was
/// checked against its manifest's SHA-256 as it arrived; the message
/// using it must name the same hash and size.
pub async fn take(app: &AppState, sender: &str, a: &AttachmentRef, out: &Path) -> AppResult<()> {
    let sha256 = a.sha256.to_ascii_lowercase();
    if !is_sha256_hex(&sha256) {
        return Err(refused(
            "attachment_reference_malformed",
            "an attachment is named by its SHA-256 in hexadecimal".into(),
        ));
    }
    let (_, done) = incoming(app, &sender_id(sender)?, a.id, &sha256);
    let size = tokio::fs::metadata(&done).await.map(|md| md.len()).ok();
    if size != Some(a.size) {
        return Err(AppError::Internal(format!(
            "attachment {} has not arrived with the size and SHA-256 its message gives",
            a.id
        )));
    }
    if tokio::fs::rename(&done, out).await.is_err() {
        tokio::fs::copy(&done, out).await.map_err(io_err)?;
        let _ = tokio::fs::remove_file(&done).await;
    }
    Ok(())
}
