//! The sender's side of an attachment: the file moves into the outgoing
//! spool and its manifest message is queued; once the peer has stored the
//! manifest, the outbox worker pushes the chunks it does not hold yet,
//! sealed, three in flight, and the file leaves the spool when the peer
//! holds them all (or the message is given up).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use entraide_federation::attachment::{content_key, seal_in_place, Manifest, CHUNK_BYTES};
use entraide_federation::httpsig::BodyBinding;
use entraide_federation::MessageKind;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::buffers::{chunk_buffer, give_back};
use super::spool::{io_err, joined, outgoing, write_private};
use super::wire::{AttachmentRef, Progress, IN_FLIGHT, LIFETIME};
use crate::app::audit::Actor;
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;
use crate::federation::answer::waiting_text;
use crate::federation::outbox::{enqueue, seal_for};
use crate::federation::signed::{problem_code, send_signed, send_signed_bound};

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

/// What the sender keeps beside a file waiting in its spool.
#[derive(Debug, Serialize, Deserialize)]
struct Spool {
    key: String,
    chunk_bytes: u64,
    chunks: u32,
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
    let m = seal_for(app, peer, MessageKind::Attachment, &payload, None, LIFETIME).await?;
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
    let m = enqueue(app, actor, m).await?;
    Ok(AttachmentRef {
        id: m.message_id,
        chunks,
        size,
        sha256,
        chunk_bytes: CHUNK_BYTES,
    })
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
    /// The peer no longer knows this node (`unknown_sender`): wait until
    /// it adds it again, as for any message.
    WaitingForPeer(String),
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
    let code = problem_code(&text, status);
    if code == "unknown_sender" {
        return Err(PushError::WaitingForPeer(waiting_text(&peer.node_id)));
    }
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
    let held = send_signed(
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
            let res = send_signed_bound(
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
