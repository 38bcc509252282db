//! Attachments in their first form, chunks as messages, still taken from
//! older nodes: each `attachment-chunk` message is kept as it arrives, and
//! the message using the attachment joins them, checking count, size and
//! hash. `assemble` also takes a streamed attachment (`incoming`).

use entraide_federation::EnvelopeHeader;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::incoming::take;
use super::wire::AttachmentRef;
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

/// A chunk of an attachment in its first form, kept until the message
/// that uses it arrives.
pub const CHUNK_MESSAGE_TYPE: &str = "attachment-chunk";

/// The first form of a chunk's payload (JSON, the bytes in base64), still
/// read: the envelope base64-encodes its ciphertext anyway, so chunks are
/// now sent in the binary form below (a quarter smaller, and no JSON over
/// megabytes on either side).
#[derive(Debug, Serialize, Deserialize)]
struct AttachmentChunk {
    attachment: Uuid,
    index: u32,
    /// Base64.
    data: String,
}

/// A chunk's payload in the second form (chunks as messages, before
/// attachments were streamed; still received from older nodes): this tag,
/// the attachment id (16 bytes), the chunk's index (4 bytes, big-endian),
/// then its bytes.
const CHUNK_TAG: &[u8] = b"entraide-chunk-1\n";

#[cfg(test)]
fn chunk_payload(attachment: Uuid, index: u32, data: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(CHUNK_TAG.len() + 20 + data.len());
    payload.extend_from_slice(CHUNK_TAG);
    payload.extend_from_slice(attachment.as_bytes());
    payload.extend_from_slice(&index.to_be_bytes());
    payload.extend_from_slice(data);
    payload
}

/// The attachment id, the index and the bytes of a chunk (either form).
fn parse_chunk(payload: &[u8]) -> Result<(Uuid, u32, std::borrow::Cow<'_, [u8]>), String> {
    use base64::Engine;
    if let Some(rest) = payload.strip_prefix(CHUNK_TAG) {
        let (id, rest) = rest.split_at_checked(16).ok_or("chunk too short")?;
        let (index, data) = rest.split_at_checked(4).ok_or("chunk too short")?;
        let id = Uuid::from_slice(id).map_err(|e| e.to_string())?;
        let index = u32::from_be_bytes(index.try_into().map_err(|_| "chunk index")?);
        return Ok((id, index, std::borrow::Cow::Borrowed(data)));
    }
    let c: AttachmentChunk = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    let data = base64::engine::general_purpose::STANDARD
        .decode(&c.data)
        .map_err(|e| e.to_string())?;
    Ok((c.attachment, c.index, std::borrow::Cow::Owned(data)))
}

fn attachment_dir(app: &AppState, sender: &str, id: Uuid) -> std::path::PathBuf {
    app.custody
        .work_path("attachments")
        .with_file_name(format!("attachment-{sender}-{id}"))
}

/// Keeps a received chunk until the message that uses it arrives.
pub async fn receive(app: &AppState, header: &EnvelopeHeader, payload: &[u8]) -> AppResult<()> {
    let (attachment, index, data) =
        parse_chunk(payload).map_err(|e| AppError::Internal(format!("attachment chunk: {e}")))?;
    let dir = attachment_dir(app, &header.sender, attachment);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| AppError::Internal(format!("attachment: {e}")))?;
    tokio::fs::write(dir.join(format!("{index:08}")), &data)
        .await
        .map_err(|e| AppError::Internal(format!("attachment: {e}")))?;
    Ok(())
}

/// Joins an attachment's chunks into `out`, checking count, size and hash.
pub async fn assemble(
    app: &AppState,
    sender: &str,
    a: &AttachmentRef,
    out: &std::path::Path,
) -> AppResult<()> {
    use sha2::Digest;
    use tokio::io::AsyncWriteExt;
    if a.chunk_bytes.is_some() {
        return take(app, sender, a, out).await;
    }
    let dir = attachment_dir(app, sender, a.id);
    let mut file = tokio::fs::File::create(out)
        .await
        .map_err(|e| AppError::Internal(format!("attachment: {e}")))?;
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    for i in 0..a.chunks {
        let chunk = tokio::fs::read(dir.join(format!("{i:08}")))
            .await
            .map_err(|_| {
                AppError::Internal(format!("attachment {}: chunk {i} is missing", a.id))
            })?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(|e| AppError::Internal(format!("attachment: {e}")))?;
    }
    file.flush()
        .await
        .map_err(|e| AppError::Internal(format!("attachment: {e}")))?;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    if size != a.size || hex::encode(hasher.finalize()) != a.sha256 {
        return Err(AppError::Internal(format!(
            "attachment {} does not match the SHA-256 its message gives",
            a.id
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_read_in_both_forms() {
        use base64::Engine;
        let id = Uuid::now_v7();
        let data = b"some bytes of an evidence package";
        let payload = chunk_payload(id, 7, data);
        let (i, n, d) = parse_chunk(&payload).unwrap();
        assert_eq!((i, n, d.as_ref()), (id, 7, &data[..]));
        let old = serde_json::to_vec(&AttachmentChunk {
            attachment: id,
            index: 3,
            data: base64::engine::general_purpose::STANDARD.encode(data),
        })
        .unwrap();
        let (i, n, d) = parse_chunk(&old).unwrap();
        assert_eq!((i, n, d.as_ref()), (id, 3, &data[..]));
        assert!(parse_chunk(b"entraide-chunk-1\nshort").is_err());
        assert!(parse_chunk(b"").is_err());
    }
}
