//! Evidence packages between nodes. Sending exports the chosen evidence of
//! a case as a package (custody `exported`), records it `sent`, and
//! delivers it encrypted: inline in the message when small, else as a
//! streamed attachment that travels just before it. The peer verifies a
//! package on arrival before adding anything, into the case of the request
//! it answers or a new case for its duty officer.
//!
//! The transport hands received packages over through `crate::inbound`.

use entraide_federation::{EnvelopeHeader, MessageKind, PeerStatus};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::error::{AppError, AppResult};
use crate::app::principal::Principal;
use crate::app::state::AppState;
use crate::evidence::package::{export_package, import_package};
use crate::evidence::service::{custody_event, evidence_case, require_content_role, CustodyActor};
use crate::federation::attachments::{self, AttachmentRef};
use crate::federation::outbox;
use crate::requests::exchange::intake_case;

/// Evidence packages sent in one message; larger ones travel as a streamed
/// attachment.
pub const MAX_PACKAGE_MESSAGE: u64 = 4 * 1024 * 1024;

/// An evidence package as the peer receives it.
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
    /// Or the streamed attachment that travelled just before it in the
    /// peer's queue, named with its SHA-256.
    #[serde(default)]
    attachment: Option<AttachmentRef>,
}

/// Sends evidence of a case to a peer as a package: exported (custody
/// `exported`), then `sent`, delivered encrypted; the peer verifies it on
/// arrival before adding anything.
pub async fn send_package(
    app: &AppState,
    principal: &Principal,
    case_id: Uuid,
    peer_node: &str,
    items: &[Uuid],
    request_id: Option<Uuid>,
) -> AppResult<Uuid> {
    use base64::Engine;
    let case = evidence_case(app, principal, case_id).await?;
    require_content_role(app, principal, &case, "send package").await?;
    app.store
        .peer(peer_node)
        .await?
        .filter(|p| p.status == PeerStatus::Active)
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
    let actor = CustodyActor::of(principal);
    let built = export_package(app, &case, &actor, items).await?;
    let size = tokio::fs::metadata(&built.path)
        .await
        .map_err(|e| AppError::Internal(format!("package file: {e}")))?
        .len();
    // Small packages travel inline; larger ones as a streamed attachment
    // first.
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
                attachments::send(
                    app,
                    &principal.actor(),
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
    let m = outbox::send(
        app,
        &principal.actor(),
        peer_node,
        MessageKind::EvidencePackage,
        &payload,
        None,
        time::Duration::days(7),
    )
    .await?;
    let events: Vec<_> = built
        .items
        .iter()
        .map(|item| {
            custody_event(
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
            &app.store,
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
pub async fn receive_package(
    app: &AppState,
    header: &EnvelopeHeader,
    payload: &[u8],
) -> AppResult<()> {
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
        (None, Some(a)) => attachments::take(app, &header.sender, a, &path).await?,
        (None, None) => {
            return Err(AppError::Internal(
                "package message without a package".into(),
            ))
        }
    }
    let actor = CustodyActor {
        audit: Principal::peer(&header.sender).actor(),
        email: "node".into(),
        name: format!("received from {}", header.sender),
    };
    let result = import_package(app, &case, &actor, &path, &m.file_name).await;
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
