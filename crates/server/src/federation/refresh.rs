//! Reading a peer's document again (`entraide peer refresh`): from its
//! address or a new one, accepted only when signed by the key pinned for
//! the peer — or by the key the peer announced it moves to, signed by the
//! pinned one — about the same node, and not older than the document kept
//! (an old document replayed would roll its address or keys back). Its
//! address, organisation and keys are then updated (audited), and the
//! messages waiting for it are tried again at once.

use entraide_domain::{AuditAction, AuditOutcome, NodeUrl};
use entraide_evidence::PublicKey;
use entraide_federation::DocumentError;
use entraide_proto as proto;
use entraide_store::Peer;
use time::OffsetDateTime;

use super::peer_document::{document_error, fetch_document, peer_record};
use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

/// What a refresh found and changed.
pub struct Refreshed {
    pub peer: Peer,
    /// The address the peer was known at before.
    pub previous_url: String,
    /// The fingerprint pinned before (another one after a key rotation).
    pub previous_fingerprint: String,
}

/// Reads `node_id`'s document again, from `url` if given (the peer moved),
/// else from the address known for it; see the module's comment.
pub async fn refresh_peer(
    app: &AppState,
    actor: &Actor,
    node_id: &str,
    url: Option<&str>,
) -> AppResult<Refreshed> {
    let old = app
        .store
        .peer(node_id)
        .await?
        .ok_or(AppError::NotFound { what: "peer" })?;
    let base = match url {
        Some(url) => NodeUrl::parse(url).map_err(|e| {
            AppError::Validation(vec![proto::FieldError {
                field: "url".into(),
                code: e.code.into(),
                message: e.message,
            }])
        })?,
        None => NodeUrl::parse(&old.base_url).map_err(|e| {
            AppError::Validation(vec![proto::FieldError {
                field: "url".into(),
                code: e.code.into(),
                message: format!("the address known for {node_id} is not usable: give its address"),
            }])
        })?,
    };
    let signed = fetch_document(app, &base).await?;
    let (known, at) = (&old, &base);
    let refused = |code: &'static str, detail: String| async move {
        let audit = actor
            .entry(AuditAction::PeerRefreshed, AuditOutcome::Denied)
            .target(known.node_id.clone())
            .detail(serde_json::json!({ "url": at.as_str(), "code": code, "detail": detail }));
        app.store.append_audit(&audit).await?;
        Err::<Refreshed, _>(AppError::Conflict { code, detail })
    };
    // The pinned key first; then the key the peer announced, once the
    // rotation it announced (signed by the pinned key) is over.
    let accepted: Vec<&String> = std::iter::once(&old.signing_key)
        .chain(old.next_signing_key.as_ref())
        .collect();
    let mut verified = None;
    for key in accepted {
        let fingerprint = PublicKey::parse(key)
            .map(|k| k.fingerprint())
            .ok_or_else(|| AppError::Internal("pinned key unreadable".into()))?;
        match signed.verify(&fingerprint) {
            Ok(doc) => {
                verified = Some((doc, key.clone()));
                break;
            }
            Err(DocumentError::FingerprintMismatch { .. }) => continue,
            Err(e) => return Err(document_error(e)),
        }
    }
    let Some((doc, signed_by)) = verified else {
        return refused(
            "peer_fingerprint_mismatch",
            format!(
                "the document at {base} is not signed by the key pinned for {node_id} \
                 ({}): it is another node's, or the key changed without notice",
                old.signing_fingerprint
            ),
        )
        .await;
    };
    let details = doc.details().map_err(document_error)?;
    if details.node_id.as_str() != old.node_id {
        return refused(
            "peer_id_mismatch",
            format!(
                "the document at {base} describes {}, not {node_id}",
                details.node_id
            ),
        )
        .await;
    }
    let issued = |doc: &entraide_federation::NodeDocument| {
        OffsetDateTime::parse(
            &doc.issued_at,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()
    };
    let kept = serde_json::from_str::<entraide_federation::NodeDocument>(&old.document).ok();
    if let (Some(new), Some(kept)) = (issued(&doc), kept.as_ref().and_then(issued)) {
        if new < kept {
            return refused(
                "peer_document_outdated",
                format!(
                    "the document at {base} was issued at {}, before the one kept for {node_id}",
                    doc.issued_at
                ),
            )
            .await;
        }
    }
    let now = OffsetDateTime::now_utc();
    let mut peer = peer_record(&details, &doc, &signed, now)?;
    peer.status = old.status;
    peer.added_at = old.added_at;
    if signed_by == old.signing_key && peer.next_signing_key.is_none() {
        // Signed by the pinned key without naming the next one: a rotation
        // announced in a message (and proven) stays recorded.
        peer.next_signing_key = old.next_signing_key.clone();
        peer.key_valid_until = old.key_valid_until;
    }
    let audit = actor
        .entry(AuditAction::PeerRefreshed, AuditOutcome::Success)
        .target(peer.node_id.clone())
        .detail(serde_json::json!({
            "url": peer.base_url, "previous_url": old.base_url,
            "fingerprint": peer.signing_fingerprint, "previous_fingerprint": old.signing_fingerprint,
            "encryption_key_changed": peer.encryption_key != old.encryption_key,
        }));
    let found = app
        .store
        .refresh_peer(&peer, &audit)
        .await
        .map_err(|e| match e {
            entraide_store::StoreError::Conflict(_) => AppError::Conflict {
                code: "peer_exists",
                detail: format!("another peer holds the key of {}", peer.node_id),
            },
            e => e.into(),
        })?;
    if !found {
        return Err(AppError::NotFound { what: "peer" });
    }
    // What waited for the peer may now get through (at its new address).
    super::outbox::deliver_now(app, &peer.node_id).await?;
    Ok(Refreshed {
        peer,
        previous_url: old.base_url,
        previous_fingerprint: old.signing_fingerprint,
    })
}
