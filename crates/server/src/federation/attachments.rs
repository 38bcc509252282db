//! Large attachments between nodes, streamed outside the envelope format.
//!
//! The sender queues one small `attachment` message — the manifest: size,
//! SHA-256 of the file, chunk size and a random AES-256-GCM content key,
//! all inside the signed, HPKE-encrypted envelope — and keeps the file in
//! its outgoing spool. Once the peer has stored the manifest (its signed
//! receipt), the outbox worker pushes the chunks, each sealed with the
//! content key (the chunk's number as nonce, the attachment's id as
//! associated data) in its own HTTP-signed
//! `PUT /federation/attachments/{id}/{n}`, the signature bound to the
//! chunk's authentication tag. The receiver opens each chunk (anything
//! changed, or sealed for another attachment or place, does not open),
//! appends it in order while hashing what it writes, and accepts the last
//! chunk only if the whole file matches the manifest's SHA-256; it answers
//! how many chunks it holds — where a cut transfer resumes
//! (`GET /federation/attachments/{id}`). The message counts as delivered
//! only when the last chunk is in; until then it keeps its place in the
//! peer's queue, so the message that uses the attachment (an evidence
//! package) arrives after it. Memory stays at a few chunks whatever the
//! size; each byte is read once, written once and hashed once, on the
//! receiving side, as a plain upload that checks its hash would.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use entraide_federation::attachment::{
    content_key, is_sha256_hex, seal_in_place, ContentKey, ManifestError, Opened, CHUNK_BYTES_MAX,
    TAG_BYTES,
};
pub use entraide_federation::attachment::{
    open_chunk, seal_chunk, Manifest, CHUNK_BYTES, CIPHER, MANIFEST_VERSION, MESSAGE_TYPE,
};
use entraide_federation::httpsig::BodyBinding;
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

/// Chunks on the wire at once; the receiver takes a chunk at most this
/// far ahead of those it holds and writes them in order.
const IN_FLIGHT: usize = 3;
/// How long a chunk that came ahead waits for the one before it.
const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long an attachment may take to arrive.
const LIFETIME: time::Duration = time::Duration::days(7);

/// Chunk buffers kept for the next chunk. A fresh 4 MiB buffer per chunk
/// costs page faults and zeroing (and, on a virtual machine, memory the
/// host must map in again); a few kept ones are reused on both sides.
static BUFFERS: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
/// At most this many are kept (32 MiB with 4 MiB chunks).
const BUFFERS_KEPT: usize = 2 * IN_FLIGHT + 2;

/// An empty buffer for a sealed chunk of up to `chunk_bytes`.
fn chunk_buffer(chunk_bytes: u64) -> Vec<u8> {
    let capacity = usize::try_from(chunk_bytes).unwrap_or(usize::MAX) + TAG_BYTES;
    let kept = BUFFERS.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let mut buf = kept.unwrap_or_default();
    buf.clear();
    buf.reserve_exact(capacity);
    buf
}

/// Keeps `buf` for a later chunk, if it is the size of this node's chunks
/// (not a peer's larger ones) and there is room.
fn give_back(buf: Vec<u8>) {
    let chunk = usize::try_from(CHUNK_BYTES).unwrap_or(usize::MAX);
    if buf.capacity() < chunk || buf.capacity() > chunk + chunk / 2 {
        return;
    }
    let mut kept = BUFFERS.lock().unwrap_or_else(|e| e.into_inner());
    if kept.len() < BUFFERS_KEPT {
        kept.push(buf);
    }
}

/// A sealed chunk on its way out: its buffer is kept again once the HTTP
/// client has sent it.
struct Outgoing(Vec<u8>);

impl AsRef<[u8]> for Outgoing {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Outgoing {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.0));
    }
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

fn io_err(e: std::io::Error) -> AppError {
    AppError::Internal(format!("attachment: {e}"))
}

fn joined(e: tokio::task::JoinError) -> AppError {
    AppError::Internal(format!("attachment: {e}"))
}

fn outgoing(app: &AppState, id: Uuid) -> (PathBuf, PathBuf) {
    let dir = app.custody.attachment_dir("outgoing");
    (dir.join(id.to_string()), dir.join(format!("{id}.json")))
}

/// Where an attachment from `sender` is written while it arrives, and
/// where it is once complete: named with the SHA-256 it was checked
/// against, so that only a message naming that hash can take it.
fn incoming(app: &AppState, sender: &str, id: Uuid, sha256: &str) -> (PathBuf, PathBuf) {
    let dir = app.custody.attachment_dir("incoming");
    (
        dir.join(format!("{sender}-{id}.part")),
        dir.join(format!("{sender}-{id}.{sha256}")),
    )
}

/// Queues `path` for `peer` as a streamed attachment. `sha256` is the
/// file's SHA-256 when the caller knows it (an evidence file, a package
/// hashed as it was built); otherwise it is computed here, in one read.
/// The file is moved into the outgoing spool (copied if it is on another
/// file system) and removed from it once the peer holds every chunk.
pub async fn send(
    app: &AppState,
    actor: &Actor,
    peer: &str,
    path: &Path,
    sha256: Option<String>,
) -> AppResult<AttachmentRef> {
    let size = tokio::fs::metadata(path).await.map_err(io_err)?.len();
    let sha256 = match sha256 {
        Some(known) => known,
        None => {
            let source = path.to_path_buf();
            tokio::task::spawn_blocking(move || {
                entraide_evidence::verify::hash_stream(&mut File::open(&source)?)
            })
            .await
            .map_err(joined)?
            .map_err(io_err)?
            .0
        }
    };
    let key = hex::encode(rand::random::<[u8; 32]>());
    let manifest = Manifest::new(size, sha256.clone(), key.clone());
    let chunks = u32::try_from(manifest.chunks())
        .map_err(|_| AppError::Internal("attachment: too many chunks".into()))?;
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
    let mut f = private_options().truncate(true).write(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Removes an attachment given up on from the outgoing spool.
pub fn forget_outgoing(app: &AppState, id: Uuid) {
    let (file, spool) = outgoing(app, id);
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(spool);
}

/// Why a push stopped before the peer held every chunk.
#[derive(Debug)]
pub enum PushError {
    /// Unreachable, or a passing refusal: try again later.
    Retry(String),
    /// Time is up for this round (the claim on the peer's queue would run
    /// out): carry on at once in the next round.
    Paused(String),
    /// Refused for good (a chunk that does not open, a file that does not
    /// match its SHA-256): sending the same bytes again would not help.
    Refused(String),
}

/// What a peer's answer to a chunk or status request says.
async fn progress(
    peer: &entraide_store::Peer,
    res: reqwest::Response,
) -> Result<Progress, PushError> {
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    if status.is_success() {
        return serde_json::from_str::<Progress>(&text)
            .map_err(|_| PushError::Retry(format!("{} gave no progress", peer.node_id)));
    }
    let code = messaging::problem_code(&text, status);
    let passing = !status.is_client_error()
        || matches!(
            status,
            StatusCode::NOT_FOUND
                | StatusCode::CONFLICT
                | StatusCode::REQUEST_TIMEOUT
                | StatusCode::TOO_MANY_REQUESTS
        );
    let reason = format!("{} answered {code}", peer.node_id);
    Err(if passing {
        PushError::Retry(reason)
    } else {
        PushError::Refused(reason)
    })
}

/// Pushes the chunks the peer does not hold yet, in order, until the peer
/// holds them all or `stop_by` passes (then it pauses, to resume at once
/// in the next round).
pub async fn push(
    app: &AppState,
    peer: &entraide_store::Peer,
    id: Uuid,
    stop_by: OffsetDateTime,
) -> Result<(), PushError> {
    let (file, spool_path) = outgoing(app, id);
    let spool: Spool = std::fs::read(&spool_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            PushError::Refused("the attachment is no longer in the outgoing spool".into())
        })?;
    let key = content_key(&spool.key)
        .ok_or_else(|| PushError::Refused("the attachment's content key is unusable".into()))?;
    let base = format!("{}/federation/attachments/{id}", peer.base_url);
    let unreachable =
        |e: reqwest::Error| PushError::Retry(format!("cannot reach {}: {e}", peer.base_url));
    let held = messaging::send_signed(
        app,
        reqwest::Method::GET,
        &base,
        "application/json",
        Vec::new(),
        OffsetDateTime::now_utc(),
    )
    .await
    .map_err(unreachable)?;
    let mut next = progress(peer, held).await?.received_chunks;
    let mut paused = false;
    if next < spool.chunks {
        // Chunks are read and sealed on a blocking thread, two ahead of the
        // one on the wire.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<(u32, Vec<u8>), String>>(2);
        let (chunk_bytes, chunks) = (spool.chunk_bytes, spool.chunks);
        let path = file;
        let reader = tokio::task::spawn_blocking(move || {
            let produce = || -> Result<(), String> {
                let mut f = File::open(&path).map_err(|e| e.to_string())?;
                f.seek(SeekFrom::Start(u64::from(next) * chunk_bytes))
                    .map_err(|e| e.to_string())?;
                for index in next..chunks {
                    let mut chunk = chunk_buffer(chunk_bytes);
                    // Into the buffer's spare room: no zeroing first.
                    (&mut f)
                        .take(chunk_bytes)
                        .read_to_end(&mut chunk)
                        .map_err(|e| e.to_string())?;
                    seal_in_place(&key, id, index, &mut chunk).ok_or("sealing failed")?;
                    if tx.blocking_send(Ok((index, chunk))).is_err() {
                        return Ok(());
                    }
                }
                Ok(())
            };
            if let Err(e) = produce() {
                let _ = tx.blocking_send(Err(format!("reading the attachment: {e}")));
            }
        });
        // IN_FLIGHT chunks on the wire at a time: the receiver opens one
        // while the next arrives, and writes them in order.
        let base = &base;
        let put = |index: u32, sealed: axum::body::Bytes| async move {
            let res = messaging::send_signed_bound(
                app,
                BodyBinding::ChunkTag,
                reqwest::Method::PUT,
                &format!("{base}/{index}"),
                "application/octet-stream",
                sealed,
                OffsetDateTime::now_utc(),
            )
            .await
            .map_err(unreachable)?;
            progress(peer, res).await.map(|p| (index, p))
        };
        let mut in_flight = futures_util::stream::FuturesOrdered::new();
        let mut reading = true;
        loop {
            if reading && OffsetDateTime::now_utc() >= stop_by {
                paused = true;
                reading = false;
            }
            // A chunk goes out as soon as it is sealed, while those on the
            // wire are answered.
            let room = reading && in_flight.len() < IN_FLIGHT;
            let done = tokio::select! {
                item = rx.recv(), if room => {
                    match item {
                        Some(item) => {
                            let (index, sealed) = item.map_err(PushError::Retry)?;
                            let sealed = axum::body::Bytes::from_owner(Outgoing(sealed));
                            in_flight.push_back(put(index, sealed));
                        }
                        None => reading = false,
                    }
                    continue;
                }
                done = futures_util::StreamExt::next(&mut in_flight), if !in_flight.is_empty() => done,
                else => break,
            };
            let Some(done) = done else { break };
            let (index, p) = done?;
            next = p.received_chunks;
            if next <= index {
                return Err(PushError::Retry(format!(
                    "{} holds {next} chunks after chunk {index}",
                    peer.node_id
                )));
            }
        }
        drop(rx);
        let _ = reader.await;
    }
    if next < spool.chunks {
        let held = format!("{} holds {next} of {} chunks", peer.node_id, spool.chunks);
        return Err(if paused {
            PushError::Paused(held)
        } else {
            PushError::Retry(held)
        });
    }
    // Off the delivery's path: freeing a large file takes a while.
    let app = app.clone();
    tokio::task::spawn_blocking(move || forget_outgoing(&app, id));
    Ok(())
}

/// Attachments being received, by sender and manifest id.
#[derive(Default)]
pub struct Incoming {
    transfers: std::sync::Mutex<HashMap<(String, Uuid), Arc<Transfer>>>,
}

impl Incoming {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(String, Uuid), Arc<Transfer>>> {
        self.transfers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops a transfer that is complete or discarded.
    fn forget(&self, sender: &str, id: Uuid) {
        self.map().remove(&(sender.to_owned(), id));
    }
}

/// One attachment on its way in: its manifest, opened once, and what has
/// been written.
struct Transfer {
    manifest: Manifest,
    key: ContentKey,
    chunks: u32,
    part: PathBuf,
    done: PathBuf,
    opened: std::time::Instant,
    /// Woken when a chunk has been written (one that came ahead waits).
    written: tokio::sync::Notify,
    /// Set while a flush of written chunks to disk runs in the background.
    flushing: Arc<AtomicBool>,
    state: tokio::sync::Mutex<Written>,
}

/// The bytes in the `.part` file this process has hashed.
struct Written {
    len: u64,
    /// `None` until caught up with the file (after a restart, a failed
    /// write, or chunks written by another replica).
    hasher: Option<Sha256>,
}

impl Transfer {
    /// Chunks held: every chunk when complete, else the whole chunks in
    /// the `.part` file (a chunk is written whole, the last one only once
    /// the file matches its hash).
    fn held(&self) -> u32 {
        if self.done.is_file() {
            return self.chunks;
        }
        let len = std::fs::metadata(&self.part)
            .map(|md| md.len())
            .unwrap_or(0);
        u32::try_from(len / self.manifest.chunk_bytes).unwrap_or(u32::MAX)
    }

    fn progress(&self, received_chunks: u32) -> Progress {
        Progress {
            received_chunks,
            chunks: self.chunks,
        }
    }
}

/// The manifest of attachment `id`, which `from` sent before (it is in the
/// inbox, still valid), opened once and kept while the attachment arrives.
async fn transfer(app: &AppState, from: &Authenticated, id: Uuid) -> AppResult<Arc<Transfer>> {
    let slot = (from.peer.node_id.clone(), id);
    if let Some(t) = app.incoming_attachments.map().get(&slot) {
        return Ok(t.clone());
    }
    let stored = app
        .store
        .inbox_message(id)
        .await?
        .filter(|m| m.sender == from.peer.node_id && m.message_type == MESSAGE_TYPE)
        .ok_or(AppError::NotFound { what: "attachment" })?;
    let envelope: Envelope = serde_json::from_str(&stored.envelope)
        .map_err(|e| AppError::Internal(format!("stored manifest: {e}")))?;
    let (_, payload) = messaging::open_from(app, from, &envelope, OffsetDateTime::now_utc())?;
    let Opened {
        manifest,
        key,
        chunks,
    } = Manifest::parse(&payload).map_err(|e| {
        let code = match e {
            ManifestError::Unsupported => "attachment_manifest_unsupported",
            _ => "attachment_manifest_malformed",
        };
        messaging::refused(code, e.to_string())
    })?;
    let (part, done) = incoming(app, &from.peer.node_id, id, &manifest.sha256);
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
    let mut map = app.incoming_attachments.map();
    // Transfers abandoned for longer than an attachment may take.
    let lifetime = std::time::Duration::from_secs(LIFETIME.whole_seconds().unsigned_abs());
    map.retain(|_, t| t.opened.elapsed() < lifetime);
    Ok(map.entry(slot).or_insert(t).clone())
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
        let t = transfer(&app, &from, id).await?;
        Ok::<_, AppError>(t.progress(t.held()))
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
/// manifest's content key, the request signature bound to its tag
/// (`Chunk-Tag`). Opened before it is written; chunks are written in
/// order, hashed as they are, and the last is taken only if the whole
/// file matches the manifest's SHA-256 (a repeat of a chunk already held
/// is answered as it was).
pub async fn put_chunk(
    State(app): State<AppState>,
    UrlPath((id, index)): UrlPath<(Uuid, u32)>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> AppResult<Response> {
    // Up to 16 MiB are read only for a pinned, active peer.
    let sender = match headers.get("signature-input").and_then(|v| v.to_str().ok()) {
        Some(input) => messaging::pinned_sender(&app, input).await.map(|_| ()),
        None => Err(messaging::refused(
            "request_unsigned",
            entraide_federation::httpsig::HttpSigError::Missing.to_string(),
        )),
    };
    messaging::audit_if_refused(&app, &headers, &sender).await?;
    sender?;
    let body = read_chunk(&app, body).await?;
    let result = receive_chunk(&app, &headers, id, index, body).await;
    messaging::audit_if_refused(&app, &headers, &result).await?;
    Ok(json_response(StatusCode::OK, &result?))
}

/// A chunk's request body, read into a kept buffer; an oversize one is
/// refused (problem+json) and audited.
async fn read_chunk(app: &AppState, body: axum::body::Body) -> AppResult<Vec<u8>> {
    use futures_util::StreamExt;
    let limit = usize::try_from(CHUNK_BYTES_MAX).unwrap_or(usize::MAX) + TAG_BYTES;
    let mut buf = chunk_buffer(CHUNK_BYTES);
    let mut frames = body.into_data_stream();
    while let Some(frame) = frames.next().await {
        let frame = frame.map_err(|e| {
            messaging::refused("request_body_unreadable", format!("the chunk: {e}"))
        })?;
        if buf.len() + frame.len() > limit {
            give_back(buf);
            return Err(messaging::too_large(app, "the chunk").await);
        }
        buf.extend_from_slice(&frame);
    }
    Ok(buf)
}

async fn receive_chunk(
    app: &AppState,
    headers: &HeaderMap,
    id: Uuid,
    index: u32,
    sealed: Vec<u8>,
) -> AppResult<Progress> {
    let path = format!("/federation/attachments/{id}/{index}");
    let from =
        messaging::authenticate_bound(app, BodyBinding::ChunkTag, headers, &sealed, "PUT", &path)
            .await?;
    let t = transfer(app, &from, id).await?;
    let have = t.held();
    if index < have {
        return Ok(t.progress(have));
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
            messaging::refused(
                "attachment_chunk_tampered",
                format!("chunk {index} does not open with the attachment's key"),
            )
        })?;
        if plain.len() as u64 != opening.manifest.chunk_len(index) {
            return Err(messaging::refused(
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
                return Ok(t.progress(received));
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
        return Err(messaging::refused(
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
        return Err(messaging::refused(
            "attachment_reference_malformed",
            "an attachment is named by its SHA-256 in hexadecimal".into(),
        ));
    }
    let (_, done) = incoming(app, sender, a.id, &sha256);
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
