//! Requests that travel between nodes. Sending an approved request to a
//! peer marks it sent and delivers it (encrypted, signed, receipted) as a
//! `request` message; the peer registers it as an incoming request in a new
//! case opened by its intake officer. From then on, what either side does
//! is mirrored on the other by `request-update` messages: the requested
//! side's acknowledgement, execution, preservation, requests for more
//! information, answers and refusals; the requesting side's additional
//! information and withdrawal. Both state machines, and so both sides'
//! statistics, move together.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use entraide_domain::request::{Action, Direction, RequestContent, RequestKind};
use entraide_domain::{CaseReference, CaseSummary, CaseTitle, Role, RoleSet};
use entraide_federation::EnvelopeHeader;
use entraide_proto as proto;
use entraide_store::CooperationRequest;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::caller::{Caller, RequestContext, Via};
use crate::error::{AppError, AppResult};
use crate::http::{json_response, ApiJson};
use crate::ops::Actor;
use crate::requests::{self, Mover};
use crate::state::AppState;

/// A request as sent to the requested node.
#[derive(Debug, Serialize, Deserialize)]
struct RequestMessage {
    request_id: Uuid,
    reference: String,
    kind: String,
    content: RequestContent,
}

/// An action on one side, for the other side to mirror.
#[derive(Debug, Serialize, Deserialize)]
struct RequestUpdate {
    /// The sender's own id for the request.
    sender_request_id: Uuid,
    /// The receiver's id for it, when the sender knows it.
    #[serde(default)]
    receiver_request_id: Option<Uuid>,
    action: String,
    #[serde(default)]
    ground: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// Actions the requested (incoming) side takes that the requesting side
/// mirrors, and the other way round.
fn mirrored(direction: Direction, action: Action) -> bool {
    match direction {
        Direction::Incoming => matches!(
            action,
            Action::Acknowledge
                | Action::StartExecution
                | Action::ConfirmPreservation
                | Action::RequestMoreInformation
                | Action::AnswerPartially
                | Action::AnswerCompletely
                | Action::Refuse { .. }
        ),
        Direction::Outgoing => matches!(action, Action::ProvideInformation | Action::Withdraw),
    }
}

/// Sends an approved outgoing request to a peer.
pub async fn send_request(
    app: &AppState,
    caller: &Caller,
    id: Uuid,
    peer_node: &str,
) -> AppResult<CooperationRequest> {
    let r = requests::member_request(app, caller, id).await?;
    if r.direction != Direction::Outgoing {
        return Err(AppError::Conflict {
            code: "not_outgoing",
            detail: "only requests this node makes can be sent".into(),
        });
    }
    if app.store.request_link(id).await?.is_some() {
        return Err(AppError::Conflict {
            code: "already_sent",
            detail: "this request was already sent to a peer".into(),
        });
    }
    let peer = app
        .store
        .peer(peer_node)
        .await?
        .filter(|p| p.status == "active")
        .ok_or(AppError::NotFound { what: "peer" })?;
    let accepts = serde_json::from_str::<entraide_federation::NodeDocument>(&peer.document)
        .map(|d| d.request_types.iter().any(|t| t == r.kind.as_str()))
        .unwrap_or(false);
    if !accepts {
        return Err(AppError::Conflict {
            code: "peer_does_not_accept",
            detail: format!("{peer_node} does not accept {} requests", r.kind.as_str()),
        });
    }
    // Marks it sent (approved, content unchanged since approval).
    let mover = Mover {
        id: Some(caller.user.id),
        roles: caller.roles(),
        label: caller.user.email.to_string(),
        audit: caller.actor(),
    };
    let r = requests::move_request(app, r, Action::MarkSent, None, &mover).await?;
    app.store
        .link_request(r.id, peer_node, None, OffsetDateTime::now_utc())
        .await?;
    let payload = serde_json::to_vec(&RequestMessage {
        request_id: r.id,
        reference: r.reference.clone(),
        kind: r.kind.as_str().to_owned(),
        content: r.content.clone(),
    })
    .map_err(|e| AppError::Internal(e.to_string()))?;
    crate::messaging::send(
        app,
        &caller.actor(),
        peer_node,
        "request",
        &payload,
        None,
        time::Duration::days(7),
    )
    .await?;
    Ok(r)
}

/// After a user's action: tells the peer holding the other side, if any.
pub async fn after_transition(
    app: &AppState,
    actor: &Actor,
    r: &CooperationRequest,
    action: Action,
    note: Option<&str>,
) {
    if !mirrored(r.direction, action) {
        return;
    }
    let result = async {
        let Some((peer, peer_request_id)) = app.store.request_link(r.id).await? else {
            return Ok(());
        };
        let ground = match action {
            Action::Refuse { ground } => Some(ground.as_str().to_owned()),
            _ => None,
        };
        let payload = serde_json::to_vec(&RequestUpdate {
            sender_request_id: r.id,
            receiver_request_id: peer_request_id,
            action: action.name().to_owned(),
            ground,
            note: note.map(|n| n.chars().take(2000).collect()),
        })
        .map_err(|e| AppError::Internal(e.to_string()))?;
        crate::messaging::send(
            app,
            actor,
            &peer,
            "request-update",
            &payload,
            None,
            time::Duration::days(7),
        )
        .await
        .map(|_| ())
    }
    .await;
    if let Err(e) = result {
        tracing::error!(request = %r.id, error = %e, "could not tell the peer about a request's change");
    }
}

/// The user who takes in requests from other nodes: the first active
/// officer, else the first administrator.
async fn intake_user(app: &AppState) -> AppResult<entraide_store::User> {
    let users = app.store.list_users().await?;
    users
        .iter()
        .find(|u| !u.disabled && u.roles.contains(Role::Officer))
        .or_else(|| {
            users
                .iter()
                .find(|u| !u.disabled && u.roles.contains(Role::Administrator))
        })
        .cloned()
        .ok_or_else(|| AppError::Internal("no officer or administrator to take in requests".into()))
}

/// A new case for something received from a peer, opened by the duty
/// officer (who also gets the caller to act with).
async fn intake_case(
    app: &AppState,
    sender: &str,
    their_reference: &str,
) -> AppResult<(Caller, entraide_store::Case)> {
    let user = intake_user(app).await?;
    let caller = Caller {
        user,
        via: Via::Token { id: Uuid::nil() },
        ctx: RequestContext::default(),
    };
    let peer = app.store.peer(sender).await?;
    let organisation = peer
        .map(|p| p.organisation)
        .unwrap_or_else(|| sender.to_owned());
    let reference: String = format!("{sender}-{their_reference}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '.' | '_') {
                c
            } else {
                '-'
            }
        })
        .take(56)
        .collect();
    // A reference already used (the same case sends twice): a suffix.
    let mut candidate = reference.clone();
    let existing = app.store.all_cases().await?;
    let mut n = 2;
    while existing.iter().any(|c| c.reference.as_str() == candidate) {
        candidate = format!("{reference}-{n}");
        n += 1;
    }
    let case = crate::ops::create_case(
        app.store.as_ref(),
        &Actor {
            id: None,
            label: format!("node:{sender}"),
            client_ip: None,
            request_id: None,
        },
        caller.user.id,
        CaseReference::parse(&candidate).map_err(|e| AppError::Internal(e.message))?,
        CaseTitle::parse(&format!("{organisation} — {their_reference}"))
            .map_err(|e| AppError::Internal(e.message))?,
        CaseSummary::parse("").map_err(|e| AppError::Internal(e.message))?,
    )
    .await?;
    Ok((caller, case))
}

/// Evidence packages sent in one message (larger ones need the chunked
/// attachments still to come).
pub const MAX_PACKAGE_MESSAGE: u64 = 4 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
struct PackageMessage {
    package_id: Uuid,
    file_name: String,
    case_reference: String,
    /// The sender's request the evidence answers, if any.
    #[serde(default)]
    request_id: Option<Uuid>,
    /// The ZIP file, base64, when it travels in this message.
    #[serde(default)]
    package: Option<String>,
    /// Or the attachment whose chunks travelled just before (in order).
    #[serde(default)]
    attachment: Option<AttachmentRef>,
}

/// A file too large for one message: streamed after its manifest message
/// (`crate::attachments`), then named with its SHA-256 in the message that
/// uses it, which travels after it in the peer's queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttachmentRef {
    pub id: Uuid,
    pub chunks: u32,
    pub size: u64,
    pub sha256: String,
    /// Set for an attachment streamed after its manifest
    /// (`crate::attachments`): `id` is the manifest message. Absent for
    /// the first form, chunks as messages (still received).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_bytes: Option<u64>,
}

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

/// Queues a file for `peer` as a streamed attachment (see
/// `crate::attachments`): the file moves into the outgoing spool.
pub async fn send_attachment(
    app: &AppState,
    actor: &Actor,
    peer: &str,
    path: &std::path::Path,
    sha256: Option<String>,
) -> AppResult<AttachmentRef> {
    crate::attachments::send(app, actor, peer, path, sha256).await
}

fn attachment_dir(app: &AppState, sender: &str, id: Uuid) -> std::path::PathBuf {
    app.custody
        .work_path("attachments")
        .with_file_name(format!("attachment-{sender}-{id}"))
}

/// Keeps a received chunk until the message that uses it arrives.
async fn receive_chunk(app: &AppState, header: &EnvelopeHeader, payload: &[u8]) -> AppResult<()> {
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
        return crate::attachments::take(app, sender, a, out).await;
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

/// Sends evidence of a case to a peer as a package: exported (custody
/// `exported`), then `sent`, delivered encrypted; the peer verifies it on
/// arrival before adding anything.
pub async fn send_package(
    app: &AppState,
    caller: &Caller,
    case_id: Uuid,
    peer_node: &str,
    items: &[Uuid],
    request_id: Option<Uuid>,
) -> AppResult<Uuid> {
    use base64::Engine;
    let case = crate::evidence::evidence_case(app, caller, case_id).await?;
    crate::evidence::require_content_role(app, caller, &case, "send package").await?;
    app.store
        .peer(peer_node)
        .await?
        .filter(|p| p.status == "active")
        .ok_or(AppError::NotFound { what: "peer" })?;
    if let Some(rid) = request_id {
        let r = app
            .store
            .request_by_id(rid)
            .await?
            .filter(|r| r.case_id == case.id)
            .ok_or(AppError::NotFound { what: "request" })?;
        if app
            .store
            .request_link(r.id)
            .await?
            .map(|(p, _)| p)
            .as_deref()
            != Some(peer_node)
        {
            return Err(AppError::Conflict {
                code: "request_not_with_peer",
                detail: "that request was not exchanged with this peer".into(),
            });
        }
    }
    let actor = crate::evidence::CustodyActor::from_caller(caller);
    let built = crate::evidence::export_package(app, &case, &actor, items).await?;
    let size = tokio::fs::metadata(&built.path)
        .await
        .map_err(|e| AppError::Internal(format!("package file: {e}")))?
        .len();
    // Small packages travel inline; larger ones as attachment chunks first.
    let (package, attachment) = if size <= MAX_PACKAGE_MESSAGE {
        let bytes = tokio::fs::read(&built.path)
            .await
            .map_err(|e| AppError::Internal(format!("package file: {e}")))?;
        (
            Some(base64::engine::general_purpose::STANDARD.encode(&bytes)),
            None,
        )
    } else {
        (
            None,
            Some(
                send_attachment(
                    app,
                    &caller.actor(),
                    peer_node,
                    &built.path,
                    Some(built.sha256.clone()),
                )
                .await?,
            ),
        )
    };
    let _ = tokio::fs::remove_file(&built.path).await;
    let payload = serde_json::to_vec(&PackageMessage {
        package_id: built.package_id,
        file_name: built.file_name.clone(),
        case_reference: case.reference.as_str().to_owned(),
        request_id,
        package,
        attachment,
    })
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let m = crate::messaging::send(
        app,
        &caller.actor(),
        peer_node,
        "evidence-package",
        &payload,
        None,
        time::Duration::days(7),
    )
    .await?;
    let events: Vec<_> = built
        .items
        .iter()
        .map(|item| {
            crate::evidence::custody_event(
                app.custody.node_id(),
                &case,
                Some(item),
                entraide_domain::evidence::CustodyEventKind::Sent,
                &actor,
                std::collections::BTreeMap::from([
                    ("package".to_owned(), built.package_id.to_string()),
                    ("to_node".to_owned(), peer_node.to_owned()),
                    ("message".to_owned(), m.message_id.to_string()),
                ]),
            )
        })
        .collect();
    app.custody
        .write(
            app,
            entraide_store::CustodyJob::Append {
                events,
                audit: None,
            },
        )
        .await?;
    Ok(built.package_id)
}

/// A package from a peer: into the case of the request it answers, or a
/// new case for the duty officer; verified before anything is added.
async fn receive_package(app: &AppState, header: &EnvelopeHeader, payload: &[u8]) -> AppResult<()> {
    use base64::Engine;
    let m: PackageMessage = serde_json::from_slice(payload)
        .map_err(|e| AppError::Internal(format!("package message: {e}")))?;
    let linked = match m.request_id {
        Some(their) => app.store.request_by_link(&header.sender, their).await?,
        None => None,
    };
    let case = match linked {
        Some(own) => {
            let r = app
                .store
                .request_by_id(own)
                .await?
                .ok_or(AppError::NotFound { what: "request" })?;
            app.store
                .case_by_id(r.case_id)
                .await?
                .ok_or(AppError::NotFound { what: "case" })?
        }
        None => intake_case(app, &header.sender, &m.case_reference).await?.1,
    };
    let path = app.custody.work_path("received.zip");
    match (&m.package, &m.attachment) {
        (Some(inline), _) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(inline)
                .map_err(|e| AppError::Internal(format!("package message: {e}")))?;
            tokio::fs::write(&path, &bytes)
                .await
                .map_err(|e| AppError::Internal(format!("work file: {e}")))?;
        }
        (None, Some(a)) => assemble(app, &header.sender, a, &path).await?,
        (None, None) => {
            return Err(AppError::Internal(
                "package message without a package".into(),
            ))
        }
    }
    let actor = crate::evidence::CustodyActor {
        audit: Actor {
            id: None,
            label: format!("node:{}", header.sender),
            client_ip: None,
            request_id: None,
        },
        email: "node".into(),
        name: format!("received from {}", header.sender),
    };
    let result = crate::evidence::import_package(app, &case, &actor, &path, &m.file_name).await;
    let _ = tokio::fs::remove_file(&path).await;
    let (report, items) = result?;
    tracing::info!(
        from = %header.sender,
        package = %m.package_id,
        holds = report.holds(),
        items = items.len(),
        "evidence package received"
    );
    Ok(())
}

/// A message about requests from a peer (already checked and stored).
pub async fn on_message(app: &AppState, header: &EnvelopeHeader, payload: &[u8]) -> AppResult<()> {
    match header.message_type.as_str() {
        "request" => register(app, header, payload).await,
        "request-update" => mirror(app, header, payload).await,
        "evidence-package" => receive_package(app, header, payload).await,
        "attachment-chunk" => receive_chunk(app, header, payload).await,
        _ => Ok(()),
    }
}

async fn register(app: &AppState, header: &EnvelopeHeader, payload: &[u8]) -> AppResult<()> {
    let m: RequestMessage = serde_json::from_slice(payload)
        .map_err(|e| AppError::Internal(format!("request message: {e}")))?;
    if app
        .store
        .request_by_link(&header.sender, m.request_id)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let kind: RequestKind = m
        .kind
        .parse()
        .map_err(|e: entraide_domain::ParseError| AppError::Internal(e.message))?;
    let (caller, case) = intake_case(app, &header.sender, &m.reference).await?;
    let r = requests::create(app, &caller, case.id, kind, Direction::Incoming, m.content).await?;
    app.store
        .link_request(
            r.id,
            &header.sender,
            Some(m.request_id),
            OffsetDateTime::now_utc(),
        )
        .await?;
    tracing::info!(request = %r.id, from = %header.sender, "request received from a peer");
    Ok(())
}

async fn mirror(app: &AppState, header: &EnvelopeHeader, payload: &[u8]) -> AppResult<()> {
    let u: RequestUpdate = serde_json::from_slice(payload)
        .map_err(|e| AppError::Internal(format!("request update: {e}")))?;
    // Our request: named by the sender when it knows our id (then checked
    // to be linked to the sender, and the sender's id learnt), else found
    // by the sender's id for it.
    let own = match u.receiver_request_id {
        Some(id) => match app.store.request_link(id).await? {
            Some((peer, _)) if peer == header.sender => {
                app.store
                    .link_request(
                        id,
                        &header.sender,
                        Some(u.sender_request_id),
                        OffsetDateTime::now_utc(),
                    )
                    .await?;
                Some(id)
            }
            _ => None,
        },
        None => {
            app.store
                .request_by_link(&header.sender, u.sender_request_id)
                .await?
        }
    };
    let Some(own) = own else {
        tracing::warn!(from = %header.sender, "update about a request not exchanged with this peer");
        return Ok(());
    };
    let r = app
        .store
        .request_by_id(own)
        .await?
        .ok_or(AppError::NotFound { what: "request" })?;
    let action = requests::parse_action(&u.action, u.ground.as_deref())?;
    let mover = Mover {
        id: None,
        roles: RoleSet::of(&Role::ALL),
        label: format!("node:{}", header.sender),
        audit: Actor {
            id: None,
            label: format!("node:{}", header.sender),
            client_ip: None,
            request_id: None,
        },
    };
    requests::move_request(app, r, action, u.note.as_deref(), &mover).await?;
    Ok(())
}

/// Sends evidence of a case to a peer as a verified-on-arrival package.
#[utoipa::path(post, path = "/api/v1/cases/{id}/evidence/packages/send", tag = "evidence", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::SendPackage,
    responses((status = 202, body = proto::PackageSent), (status = 404, body = proto::Problem),
              (status = 409, body = proto::Problem)))]
pub async fn api_send_package(
    State(app): State<AppState>,
    caller: Caller,
    Path(case_id): Path<Uuid>,
    ApiJson(body): ApiJson<proto::SendPackage>,
) -> AppResult<Response> {
    let package_id = send_package(
        &app,
        &caller,
        case_id,
        &body.peer,
        &body.items,
        body.request_id,
    )
    .await?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &proto::PackageSent { package_id },
    ))
}

/// Sends an approved request to a peer (marking it sent).
#[utoipa::path(post, path = "/api/v1/requests/{id}/send", tag = "requests", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = proto::SendToPeer,
    responses((status = 200, body = proto::RequestView), (status = 404, body = proto::Problem),
              (status = 409, body = proto::Problem)))]
pub async fn api_send(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<proto::SendToPeer>,
) -> AppResult<Response> {
    let r = send_request(&app, &caller, id, &body.peer).await?;
    let events = app.store.request_events(r.id).await?;
    Ok(json_response(
        StatusCode::OK,
        &requests::request_view(&r, &events, OffsetDateTime::now_utc()),
    ))
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
