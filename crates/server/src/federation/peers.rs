//! The node's identity as other nodes see it (its signed node document at
//! `/.well-known/entraide/node`) and the peers it knows: added by fetching
//! their document and checking their signing key's fingerprint, given out of
//! band, before their keys are pinned. Administrators manage peers
//! (`api`).

use entraide_domain::{AuditAction, AuditOutcome, NodeUrl};
use entraide_federation::{MessageKind, NodeDocument, PeerStatus, SignedNodeDocument};
use entraide_proto as proto;
use entraide_store::Peer;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::outbox::send;
use super::peer_document::{document_error, fetch_document, peer_record};
use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

/// The address others reach this node at: `public_url`, else the address
/// it is bound to.
pub fn base_url(app: &AppState) -> String {
    app.settings
        .public_url
        .clone()
        .or_else(|| app.bound.get().cloned())
        .unwrap_or_else(|| format!("http://{}", app.settings.listen))
        .trim_end_matches('/')
        .to_owned()
}

/// This node's document, freshly signed.
pub async fn node_document(app: &AppState) -> AppResult<SignedNodeDocument> {
    let org = app.store.own_organisation().await?;
    let since = org.created_at.format(&Rfc3339).unwrap_or_default();
    let f = &app.settings.federation;
    let doc = NodeDocument {
        v: 1,
        node_id: app.settings.node_id.to_string(),
        organisation: org.name.to_string(),
        country: org.country.to_string(),
        kind: org.kind.as_str().to_owned(),
        base_url: base_url(app),
        keys: NodeDocument::keys_of(&app.identity, &since, OffsetDateTime::now_utc()),
        languages: f.languages.clone(),
        request_types: f.request_types.clone(),
        office_hours: f.office_hours.clone(),
        time_zone: f.time_zone.clone(),
        issued_at: OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default(),
    };
    Ok(doc.sign(app.identity.federation_key(OffsetDateTime::now_utc())))
}

/// Pins a peer from its signed document, after checking it against the
/// fingerprint given out of band and reading each of its fields with the
/// types of this node's own configuration. Nothing is stored if anything
/// fails.
pub async fn pin_peer(
    app: &AppState,
    actor: &Actor,
    signed: &SignedNodeDocument,
    fingerprint: &str,
) -> AppResult<Peer> {
    let doc = signed.verify(fingerprint).map_err(document_error)?;
    let details = doc.details().map_err(document_error)?;
    let own_keys = [
        app.identity.signing_public().to_hex(),
        app.identity
            .federation_key(OffsetDateTime::now_utc())
            .public_key()
            .to_hex(),
    ];
    if doc
        .signing_key()
        .is_some_and(|k| own_keys.contains(&k.public_key))
    {
        return Err(AppError::BadRequest {
            code: "peer_is_self",
            detail: "this is this node's own document".into(),
        });
    }
    if details.node_id == app.settings.node_id {
        return Err(AppError::BadRequest {
            code: "peer_id_conflict",
            detail: format!("another node claims this node's id {}", details.node_id),
        });
    }
    let peer = peer_record(&details, &doc, signed, OffsetDateTime::now_utc())?;
    let audit = actor
        .entry(AuditAction::PeerAdded, AuditOutcome::Success)
        .target(peer.node_id.clone())
        .detail(serde_json::json!({
            "base_url": peer.base_url, "fingerprint": peer.signing_fingerprint,
        }));
    app.store
        .add_peer(&peer, &audit)
        .await
        .map_err(|e| match e {
            entraide_store::StoreError::Conflict(_) => AppError::Conflict {
                code: "peer_exists",
                detail: format!("{} (or its key) is already a peer", peer.node_id),
            },
            e => e.into(),
        })?;
    Ok(peer)
}

/// Fetches `url`'s node document and pins it.
pub async fn add_peer(
    app: &AppState,
    actor: &Actor,
    url: &str,
    fingerprint: &str,
) -> AppResult<Peer> {
    let base = NodeUrl::parse(url);
    let mut errors = Vec::new();
    if base.is_err() {
        errors.push(proto::FieldError {
            field: "url".into(),
            code: "invalid_url".into(),
            message: "give the peer's address, starting with https://".into(),
        });
    }
    if entraide_evidence::signing::normalise_fingerprint(fingerprint).len() != 64 {
        errors.push(proto::FieldError {
            field: "fingerprint".into(),
            code: "invalid_fingerprint".into(),
            message: "a fingerprint has 64 hexadecimal digits (separators are ignored)".into(),
        });
    }
    let base = match base {
        Ok(base) if errors.is_empty() => base,
        _ => return Err(AppError::Validation(errors)),
    };
    let signed = fetch_document(app, &base).await?;
    pin_peer(app, actor, &signed, fingerprint).await
}

pub fn peer_view(p: &Peer) -> proto::PeerView {
    proto::PeerView {
        node_id: p.node_id.clone(),
        base_url: p.base_url.clone(),
        organisation: p.organisation.clone(),
        country: p.country.clone(),
        kind: p.kind.clone(),
        signing_fingerprint: p.signing_fingerprint.clone(),
        encryption_key: p.encryption_key.clone(),
        status: p.status.as_str().to_owned(),
        added_at: p.added_at,
        updated_at: p.updated_at,
    }
}

/// This node's identity (fingerprints to give to peers).
pub fn node_identity(app: &AppState) -> proto::NodeIdentityView {
    proto::NodeIdentityView {
        node_id: app.settings.node_id.to_string(),
        base_url: base_url(app),
        signing_fingerprint: app
            .identity
            .federation_key(OffsetDateTime::now_utc())
            .fingerprint(),
        encryption_fingerprint: app.identity.encryption_fingerprint(),
    }
}

/// A peer status as given in a request; anything else is refused (422).
pub fn parse_status(status: &str) -> AppResult<PeerStatus> {
    PeerStatus::parse(status).map_err(|e| {
        AppError::Validation(vec![proto::FieldError {
            field: "status".into(),
            code: e.code().into(),
            message: "expected active or disabled".into(),
        }])
    })
}

/// Enables or disables a peer (audited).
pub async fn set_status(
    app: &AppState,
    actor: &Actor,
    node_id: &str,
    status: PeerStatus,
) -> AppResult<()> {
    let audit = actor
        .entry(AuditAction::PeerStatusChanged, AuditOutcome::Success)
        .target(node_id.to_owned())
        .detail(serde_json::json!({ "status": status.as_str() }));
    if !app
        .store
        .set_peer_status(node_id, status, OffsetDateTime::now_utc(), &audit)
        .await?
    {
        return Err(AppError::NotFound { what: "peer" });
    }
    Ok(())
}

pub async fn remove(app: &AppState, actor: &Actor, node_id: &str) -> AppResult<()> {
    let audit = actor
        .entry(AuditAction::PeerRemoved, AuditOutcome::Success)
        .target(node_id.to_owned());
    if !app.store.remove_peer(node_id, &audit).await? {
        return Err(AppError::NotFound { what: "peer" });
    }
    Ok(())
}

/// The keys a peer may sign with now: its pinned key (until the end of an
/// announced rotation) and the key it announced. Once the rotation's
/// overlap has passed, the announced key becomes the pinned one and the
/// old key is refused from then on.
pub async fn peer_keys(
    app: &AppState,
    peer: &Peer,
    now: OffsetDateTime,
) -> AppResult<Vec<entraide_evidence::PublicKey>> {
    let parse = |hex: &str| entraide_evidence::PublicKey::parse(hex);
    match (&peer.next_signing_key, peer.key_valid_until) {
        (Some(next), Some(until)) if now >= until => {
            let key =
                parse(next).ok_or_else(|| AppError::Internal("announced key unreadable".into()))?;
            let audit = Actor::anonymous(None, None)
                .entry(AuditAction::PeerKeyChanged, AuditOutcome::Success)
                .target(peer.node_id.clone())
                .detail(serde_json::json!({ "now_pinned": key.fingerprint(), "retired": peer.signing_fingerprint }));
            app.store
                .promote_peer_key(&peer.node_id, &key.fingerprint(), now, &audit)
                .await?;
            Ok(vec![key])
        }
        (Some(next), _) => Ok([parse(&peer.signing_key), parse(next)]
            .into_iter()
            .flatten()
            .collect()),
        (None, _) => Ok(parse(&peer.signing_key).into_iter().collect()),
    }
}

/// The message proving a new key belongs to the node announcing it.
pub fn rotation_proof_message(node: &str, new_key: &str, valid_until: &str) -> Vec<u8> {
    format!("entraide-key-rotation-v1\n{node}\n{new_key}\n{valid_until}\n").into_bytes()
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct KeyRotation {
    pub new_signing_key: String,
    /// RFC 3339: the old key signs until then, the new one from then.
    pub valid_until: String,
    /// The new key's signature of [`rotation_proof_message`].
    pub proof: String,
}

/// After `NodeIdentity::rotate`: announces the new key to every active
/// peer (signed with the old key, which they know).
pub async fn announce_rotation(app: &AppState, actor: &Actor) -> AppResult<usize> {
    let now = OffsetDateTime::now_utc();
    let Some((_, until)) = app.identity.rotation(now) else {
        return Err(AppError::Conflict {
            code: "no_rotation",
            detail: "no key rotation is under way".into(),
        });
    };
    let valid_until = until.format(&Rfc3339).unwrap_or_default();
    let new_key = app.identity.signing_public().to_hex();
    let proof = app.identity.signing.sign(&rotation_proof_message(
        app.settings.node_id.as_str(),
        &new_key,
        &valid_until,
    ));
    let payload = serde_json::to_vec(&KeyRotation {
        new_signing_key: new_key,
        valid_until,
        proof,
    })
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut n = 0;
    for peer in app.store.peers().await? {
        if peer.status != PeerStatus::Active {
            continue;
        }
        send(
            app,
            actor,
            &peer.node_id,
            MessageKind::KeyRotation,
            &payload,
            None,
            until - now,
        )
        .await?;
        n += 1;
    }
    Ok(n)
}

/// A peer announces its new key (the envelope was signed with its pinned
/// key); the new key must prove itself.
pub async fn on_key_rotation(app: &AppState, sender: &str, payload: &[u8]) -> AppResult<()> {
    let r: KeyRotation = serde_json::from_slice(payload)
        .map_err(|e| AppError::Internal(format!("key rotation: {e}")))?;
    let key = entraide_evidence::PublicKey::parse(&r.new_signing_key)
        .ok_or_else(|| AppError::Internal("key rotation: not an Ed25519 key".into()))?;
    if !key.verify(
        &rotation_proof_message(sender, &r.new_signing_key, &r.valid_until),
        &r.proof,
    ) {
        return Err(AppError::Internal(
            "key rotation: the new key's proof fails".into(),
        ));
    }
    let until = OffsetDateTime::parse(&r.valid_until, &Rfc3339)
        .map_err(|e| AppError::Internal(format!("key rotation: {e}")))?;
    let audit = Actor::anonymous(None, None)
        .entry(AuditAction::PeerKeyChanged, AuditOutcome::Success)
        .target(sender.to_owned())
        .detail(serde_json::json!({ "announced": key.fingerprint(), "from": r.valid_until }));
    app.store
        .set_peer_next_key(sender, &r.new_signing_key, until, &audit)
        .await?;
    Ok(())
}
