//! Large attachments between nodes, streamed outside the envelope format.
//!
//! The sender queues one small `attachment` message — the manifest: size,
//! SHA-256, chunk size, the SHA-256 of every chunk and a random content
//! key, all inside the signed, HPKE-encrypted envelope — and keeps the file
//! in its outgoing spool. Once the peer has stored the manifest (its signed
//! receipt), the outbox worker pushes the chunks, each sealed with the
//! content key (ChaCha20-Poly1305, the chunk's number as nonce) in its own
//! HTTP-signed `PUT /federation/attachments/{id}/{n}`; the receiver
//! decrypts each, checks it against the manifest before writing it, and
//! answers how many chunks it holds — where a cut transfer resumes
//! (`GET /federation/attachments/{id}`). The message counts as delivered
//! only when the last chunk is in; until then it keeps its place in the
//! peer's queue, so the message that uses the attachment (an evidence
//! package) arrives after it. Memory stays at a few chunks whatever the
//! size; each byte is read once and written once on each side.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use entraide_evidence::blob::read_full;
use entraide_federation::Envelope;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::federated::AttachmentRef;
use crate::http::json_response;
use crate::messaging::{self, Authenticated};
use crate::ops::Actor;
use crate::state::AppState;

/// The message type of a manifest.
pub const MESSAGE_TYPE: &str = "attachment";
/// Bytes per chunk (the last one may be shorter).
pub const CHUNK_BYTES: u64 = 4 * 1024 * 1024;
/// A sealed chunk is its plaintext and a 16-byte tag.
const TAG_BYTES: usize = 16;
/// Chunks on the wire at once; the receiver takes a chunk at most this
/// far ahead of those it holds and writes them in order.
const IN_FLIGHT: usize = 3;
/// How long a chunk that came ahead waits for the one before it.
const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long an attachment may take to arrive.
const LIFETIME: time::Duration = time::Duration::days(7);

/// What the receiver needs to check and decrypt the chunks (inside the
/// signed, encrypted manifest message).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub v: u32,
    pub size: u64,
    pub sha256: String,
    pub chunk_bytes: u64,
    pub chunk_sha256: Vec<String>,
    /// The content key, 32 bytes in hexadecimal.
    pub key: String,
}

/// How far a transfer has come (the receiver's answer).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    pub received_chunks: u32,
    pub chunks: u32,
}

/// What the sender keeps beside a file waiting in its spool.
#[derive(Debug, Serialize, Deserialize)]
struct Spool {
    key: String,
    chunk_bytes: u64,
    chunks: u32,
}

fn cipher(key_hex: &str) -> Option<ChaCha20Poly1305> {
    let key = hex::decode(key_hex).ok()?;
    (key.len() == 32).then(|| ChaCha20Poly1305::new(Key::from_slice(&key)))
}

fn nonce(index: u32) -> Nonce {
    let mut n = [0u8; 12];
    n[8..].copy_from_slice(&index.to_be_bytes());
    Nonce::from(n)
}

/// Seals chunk `index` with the content key.
pub fn seal_chunk(key_hex: &str, index: u32, plain: &[u8]) -> Option<Vec<u8>> {
    cipher(key_hex)?.encrypt(&nonce(index), plain).ok()
}

/// Opens chunk `index`; `None` when it was not sealed with this key for
/// this place (tampered, or another chunk).
pub fn open_chunk(key_hex: &str, index: u32, sealed: &[u8]) -> Option<Vec<u8>> {
    cipher(key_hex)?.decrypt(&nonce(index), sealed).ok()
}

fn io_err(e: std::io::Error) -> AppError {
    AppError::Internal(format!("attachment: {e}"))
}

/// The SHA-256 of each chunk and of the whole file, and its size: one
/// read.
fn hash_chunks(path: &Path, chunk_bytes: u64) -> std::io::Result<(Vec<String>, String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut whole = Sha256::new();
    let mut chunks = Vec::new();
    let mut buf = vec![0u8; usize::try_from(chunk_bytes).unwrap_or(usize::MAX)];
    let mut size = 0u64;
    loop {
        let n = read_full(&mut file, &mut buf)?;
        if n == 0 {
            break;
        }
        whole.update(&buf[..n]);
        chunks.push(hex::encode(Sha256::digest(&buf[..n])));
        size += n as u64;
        if n < buf.len() {
            break;
        }
    }
    Ok((chunks, hex::encode(whole.finalize()), size))
}

fn outgoing(app: &AppState, id: Uuid) -> (PathBuf, PathBuf) {
    let dir = app.custody.attachment_dir("outgoing");
    (dir.join(id.to_string()), dir.join(format!("{id}.json")))
}

fn incoming(app: &AppState, sender: &str, id: Uuid) -> (PathBuf, PathBuf) {
    let dir = app.custody.attachment_dir("incoming");
    (
        dir.join(format!("{sender}-{id}.part")),
        dir.join(format!("{sender}-{id}")),
    )
}

/// Queues `path` for `peer` as a streamed attachment. The file is moved
/// into the outgoing spool (copied if it is on another file system) and
/// removed from it once the peer holds every chunk.
pub async fn send(
    app: &AppState,
    actor: &Actor,
    peer: &str,
    path: &Path,
) -> AppResult<AttachmentRef> {
    let source = path.to_path_buf();
    let (chunk_sha256, sha256, size) =
        tokio::task::spawn_blocking(move || hash_chunks(&source, CHUNK_BYTES))
            .await
            .map_err(|e| AppError::Internal(format!("attachment: {e}")))?
            .map_err(io_err)?;
    let key = hex::encode(rand::random::<[u8; 32]>());
    let chunks = u32::try_from(chunk_sha256.len())
        .map_err(|_| AppError::Internal("attachment: too many chunks".into()))?;
    let manifest = Manifest {
        v: 1,
        size,
        sha256: sha256.clone(),
        chunk_bytes: CHUNK_BYTES,
        chunk_sha256,
        key: key.clone(),
    };
    let payload = serde_json::to_vec(&manifest).map_err(|e| AppError::Internal(e.to_string()))?;
    let m = messaging::seal_for(app, peer, MESSAGE_TYPE, &payload, None, LIFETIME).await?;
    // The file and its key are in the spool before the message can be
    // picked up.
    let (file, spool) = outgoing(app, m.message_id);
    let meta = serde_json::to_vec(&Spool {
        key,
        chunk_bytes: CHUNK_BYTES,
        chunks,
    })
    .map_err(|e| AppError::Internal(e.to_string()))?;
    write_private(&spool, &meta).map_err(io_err)?;
    if tokio::fs::rename(path, &file).await.is_err() {
        tokio::fs::copy(path, &file).await.map_err(io_err)?;
    }
    let m = messaging::enqueue(app, actor, m).await?;
    Ok(AttachmentRef {
        id: m.message_id,
        chunks,
        size,
        sha256,
        chunk_bytes: Some(CHUNK_BYTES),
    })
}

/// Writes a small file only this process's user can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Removes an attachment given up on from the outgoing spool.
pub fn forget_outgoing(app: &AppState, id: Uuid) {
    let (file, spool) = outgoing(app, id);
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(spool);
}

/// Pushes the chunks the peer does not hold yet, in order; the error says
/// why the transfer stopped (it resumes at the next attempt).
pub async fn push(app: &AppState, peer: &entraide_store::Peer, id: Uuid) -> Result<(), String> {
    let (file, spool_path) = outgoing(app, id);
    let spool: Spool = std::fs::read(&spool_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the attachment is no longer in the outgoing spool")?;
    let base = format!("{}/federation/attachments/{id}", peer.base_url);
    let progress = |res: reqwest::Response| async move {
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        if !status.is_success() {
            let code = messaging::problem_code(&text, status);
            return Err(format!("{} answered {code}", peer.node_id));
        }
        serde_json::from_str::<Progress>(&text)
            .map_err(|_| format!("{} gave no progress", peer.node_id))
    };
    let now = OffsetDateTime::now_utc();
    let held = messaging::send_signed(
        app,
        reqwest::Method::GET,
        &base,
        "application/json",
        Vec::new(),
        now,
    )
    .await
    .map_err(|e| format!("cannot reach {}: {e}", peer.base_url))?;
    let mut next = progress(held).await?.received_chunks;
    if next < spool.chunks {
        // Chunks are read and sealed on a blocking thread, two ahead of the
        // one on the wire.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<(u32, Vec<u8>), String>>(2);
        let key = spool.key.clone();
        let (chunk_bytes, chunks) = (spool.chunk_bytes, spool.chunks);
        let path = file.clone();
        let reader = tokio::task::spawn_blocking(move || {
            let produce = || -> Result<(), String> {
                let mut f = std::fs::File::open(&path).map_err(|e| e.to_string())?;
                f.seek(SeekFrom::Start(u64::from(next) * chunk_bytes))
                    .map_err(|e| e.to_string())?;
                let mut buf = vec![0u8; usize::try_from(chunk_bytes).unwrap_or(usize::MAX)];
                for index in next..chunks {
                    let n = read_full(&mut f, &mut buf).map_err(|e| e.to_string())?;
                    let sealed =
                        seal_chunk(&key, index, &buf[..n]).ok_or("the content key is unusable")?;
                    if tx.blocking_send(Ok((index, sealed))).is_err() {
                        return Ok(());
                    }
                }
                Ok(())
            };
            if let Err(e) = produce() {
                let _ = tx.blocking_send(Err(format!("reading the attachment: {e}")));
            }
        });
        // IN_FLIGHT chunks on the wire at a time: the receiver opens and
        // checks one while the next arrives, and writes them in order.
        let (base, progress) = (&base, &progress);
        let put = |index: u32, sealed: Vec<u8>| async move {
            let res = messaging::send_signed(
                app,
                reqwest::Method::PUT,
                &format!("{base}/{index}"),
                "application/octet-stream",
                sealed,
                OffsetDateTime::now_utc(),
            )
            .await
            .map_err(|e| format!("cannot reach {}: {e}", peer.base_url))?;
            progress(res).await.map(|p| (index, p))
        };
        let mut in_flight = futures_util::stream::FuturesOrdered::new();
        let mut reading = true;
        loop {
            while reading && in_flight.len() < IN_FLIGHT {
                match rx.recv().await {
                    Some(item) => {
                        let (index, sealed) = item?;
                        in_flight.push_back(put(index, sealed));
                    }
                    None => reading = false,
                }
            }
            let Some(done) = futures_util::StreamExt::next(&mut in_flight).await else {
                break;
            };
            let (index, p) = done?;
            next = p.received_chunks;
            if next <= index {
                return Err(format!(
                    "{} holds {next} chunks after chunk {index}",
                    peer.node_id
                ));
            }
        }
        drop(rx);
        let _ = reader.await;
    }
    if next < spool.chunks {
        return Err(format!(
            "{} holds {next} of {} chunks",
            peer.node_id, spool.chunks
        ));
    }
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&spool_path);
    Ok(())
}

/// The manifest of attachment `id`, which `from` sent before (it is in the
/// inbox, still valid).
async fn manifest(app: &AppState, from: &Authenticated, id: Uuid) -> AppResult<Manifest> {
    let stored = app
        .store
        .inbox_message(id)
        .await?
        .filter(|m| m.sender == from.peer.node_id && m.message_type == MESSAGE_TYPE)
        .ok_or(AppError::NotFound { what: "attachment" })?;
    let envelope: Envelope = serde_json::from_str(&stored.envelope)
        .map_err(|e| AppError::Internal(format!("stored manifest: {e}")))?;
    let (_, payload) = messaging::open_from(app, from, &envelope, OffsetDateTime::now_utc())?;
    let m: Manifest = serde_json::from_slice(&payload)
        .map_err(|e| messaging::refused("attachment_manifest_malformed", e.to_string()))?;
    let chunks = m.size.div_ceil(m.chunk_bytes.max(1));
    if m.chunk_bytes == 0
        || m.chunk_bytes > CHUNK_BYTES * 4
        || chunks != m.chunk_sha256.len() as u64
        || cipher(&m.key).is_none()
    {
        return Err(messaging::refused(
            "attachment_manifest_malformed",
            "the manifest's sizes, chunk list or key do not hold together".into(),
        ));
    }
    Ok(m)
}

fn chunk_count(m: &Manifest) -> u32 {
    u32::try_from(m.chunk_sha256.len()).unwrap_or(u32::MAX)
}

/// Chunks held so far: the verified prefix in the `.part` file (every
/// chunk but the last is full), or all once complete.
fn held(part: &Path, done: &Path, m: &Manifest) -> u32 {
    if done.is_file() {
        return chunk_count(m);
    }
    let len = std::fs::metadata(part).map(|md| md.len()).unwrap_or(0);
    u32::try_from(len / m.chunk_bytes.max(1)).unwrap_or(u32::MAX)
}

#[utoipa::path(get, path = "/federation/attachments/{id}", tag = "federation",
    params(("id" = Uuid, Path, description = "the attachment's manifest message")),
    responses((status = 200, description = "chunks received so far and in all"),
              (status = 403, body = entraide_proto::Problem), (status = 404, body = entraide_proto::Problem)))]
/// `GET /federation/attachments/{id}`: how many chunks of an attachment
/// this node holds (the sender's resume point). HTTP-signed by the sender.
pub async fn status(
    State(app): State<AppState>,
    UrlPath(id): UrlPath<Uuid>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let result = async {
        let path = format!("/federation/attachments/{id}");
        let from = messaging::authenticate(&app, &headers, &[], "GET", &path).await?;
        let m = manifest(&app, &from, id).await?;
        let (part, done) = incoming(&app, &from.peer.node_id, id);
        Ok::<_, AppError>(Progress {
            received_chunks: held(&part, &done, &m),
            chunks: chunk_count(&m),
        })
    }
    .await;
    messaging::audit_if_refused(&app, &headers, &result).await?;
    Ok(json_response(StatusCode::OK, &result?))
}

#[utoipa::path(put, path = "/federation/attachments/{id}/{n}", tag = "federation",
    params(("id" = Uuid, Path, description = "the attachment's manifest message"),
           ("n" = u32, Path, description = "the chunk's number, from 0")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the chunk sealed with the content key"),
    responses((status = 200, description = "chunks received so far and in all"),
              (status = 400, body = entraide_proto::Problem), (status = 403, body = entraide_proto::Problem),
              (status = 409, body = entraide_proto::Problem)))]
/// `PUT /federation/attachments/{id}/{n}`: chunk `n`, sealed with the
/// manifest's content key. Opened and checked against the manifest's
/// SHA-256 before it is written; chunks come in order (a repeat of one
/// already held is answered as it was).
pub async fn put_chunk(
    State(app): State<AppState>,
    UrlPath((id, index)): UrlPath<(Uuid, u32)>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> AppResult<Response> {
    let limit = usize::try_from(CHUNK_BYTES * 4).unwrap_or(usize::MAX) + TAG_BYTES;
    let body = messaging::read_limited(&app, body, limit, "the chunk").await?;
    let result = receive_chunk(&app, &headers, id, index, body.to_vec()).await;
    messaging::audit_if_refused(&app, &headers, &result).await?;
    Ok(json_response(StatusCode::OK, &result?))
}

async fn receive_chunk(
    app: &AppState,
    headers: &HeaderMap,
    id: Uuid,
    index: u32,
    sealed: Vec<u8>,
) -> AppResult<Progress> {
    let path = format!("/federation/attachments/{id}/{index}");
    let from = messaging::authenticate(app, headers, &sealed, "PUT", &path).await?;
    let m = manifest(app, &from, id).await?;
    let (part, done) = incoming(app, &from.peer.node_id, id);
    let chunks = chunk_count(&m);
    let have = held(&part, &done, &m);
    if index < have {
        return Ok(Progress {
            received_chunks: have,
            chunks,
        });
    }
    if index >= have + IN_FLIGHT as u32 || index >= chunks {
        return Err(AppError::Conflict {
            code: "attachment_chunk_out_of_order",
            detail: format!("chunk {index} sent; this node holds {have} of {chunks}, in order"),
        });
    }
    // Opened and checked first (CPU), then written in its turn.
    let manifest = m.clone();
    let plain = tokio::task::spawn_blocking(move || -> AppResult<Vec<u8>> {
        let plain = open_chunk(&manifest.key, index, &sealed).ok_or_else(|| {
            messaging::refused(
                "attachment_chunk_tampered",
                format!("chunk {index} does not open with the attachment's key"),
            )
        })?;
        let expected = manifest
            .chunk_sha256
            .get(index as usize)
            .map(String::as_str)
            .unwrap_or_default();
        if hex::encode(Sha256::digest(&plain)) != expected {
            return Err(messaging::refused(
                "attachment_chunk_mismatch",
                format!("chunk {index} does not match the SHA-256 the manifest gives"),
            ));
        }
        Ok(plain)
    })
    .await
    .map_err(|e| AppError::Internal(format!("attachment: {e}")))??;
    let plain = std::sync::Arc::new(plain);
    let deadline = tokio::time::Instant::now() + TURN_WAIT;
    loop {
        let written = app.attachment_written.notified();
        tokio::pin!(written);
        written.as_mut().enable();
        {
            let _writing = app.attachment_writes.lock().await;
            let (part, done, plain, chunk_bytes, last) = (
                part.clone(),
                done.clone(),
                plain.clone(),
                m.chunk_bytes,
                index + 1 == chunks,
            );
            let turn = tokio::task::spawn_blocking(move || -> AppResult<Option<u32>> {
                if done.is_file() {
                    return Ok(Some(chunks));
                }
                let len = std::fs::metadata(&part).map(|md| md.len()).unwrap_or(0);
                let start = u64::from(index) * chunk_bytes;
                if len > start {
                    // A repeat was written meanwhile.
                    return Ok(Some(u32::try_from(len / chunk_bytes).unwrap_or(u32::MAX)));
                }
                if len < start {
                    return Ok(None);
                }
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&part)
                    .map_err(io_err)?;
                f.write_all(&plain).map_err(io_err)?;
                if last {
                    f.sync_all().map_err(io_err)?;
                    drop(f);
                    std::fs::rename(&part, &done).map_err(io_err)?;
                }
                Ok(Some(index + 1))
            })
            .await
            .map_err(|e| AppError::Internal(format!("attachment: {e}")))??;
            if let Some(received_chunks) = turn {
                app.attachment_written.notify_waiters();
                return Ok(Progress {
                    received_chunks,
                    chunks,
                });
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

/// Moves a complete streamed attachment from `sender` to `out`, checking
/// its size and SHA-256 against the reference the message using it gives.
pub async fn take(app: &AppState, sender: &str, a: &AttachmentRef, out: &Path) -> AppResult<()> {
    let (_, done) = incoming(app, sender, a.id);
    if !done.is_file() {
        return Err(AppError::Internal(format!(
            "attachment {} has not arrived",
            a.id
        )));
    }
    let path = done.clone();
    let (sha256, size) = tokio::task::spawn_blocking(move || -> std::io::Result<(String, u64)> {
        entraide_evidence::verify::hash_stream(&mut std::fs::File::open(&path)?)
    })
    .await
    .map_err(|e| AppError::Internal(format!("attachment: {e}")))?
    .map_err(io_err)?;
    if size != a.size || sha256 != a.sha256 {
        return Err(AppError::Internal(format!(
            "attachment {} does not match the SHA-256 its message gives",
            a.id
        )));
    }
    if tokio::fs::rename(&done, out).await.is_err() {
        tokio::fs::copy(&done, out).await.map_err(io_err)?;
        let _ = tokio::fs::remove_file(&done).await;
    }
    Ok(())
}
