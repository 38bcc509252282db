//! A node's document as this node reads it from elsewhere: fetched with a
//! bound on its size, refused with each of its fields that is not what it
//! must be (`peer_document_invalid`), and turned into the peer record kept
//! (used when a peer is added and when it is read again).

use entraide_domain::NodeUrl;
use entraide_federation::document::MAX_DOCUMENT_BYTES;
use entraide_federation::{
    DocumentError, NodeDocument, PeerDetails, PeerStatus, SignedNodeDocument, WELL_KNOWN_PATH,
};
use entraide_proto as proto;
use entraide_store::Peer;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

/// Fetches the signed document served at `base`'s well-known address. The
/// body is read up to twice the largest document accepted, whatever the
/// length the server announces (or not).
pub async fn fetch_document(app: &AppState, base: &NodeUrl) -> AppResult<SignedNodeDocument> {
    let unreachable = |detail: String| AppError::Upstream {
        code: "peer_unreachable",
        detail,
    };
    let mut res = app
        .federation_client
        .get(format!("{base}{WELL_KNOWN_PATH}"))
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| unreachable(format!("cannot fetch the node document from {base}: {e}")))?;
    if !res.status().is_success() {
        return Err(unreachable(format!(
            "{base} answered {} for its node document",
            res.status()
        )));
    }
    let limit = MAX_DOCUMENT_BYTES * 2;
    let too_large = || document_error(DocumentError::Malformed("larger than allowed".into()));
    if res.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| unreachable(format!("reading the node document: {e}")))?
    {
        if bytes.len() + chunk.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| document_error(DocumentError::Malformed(e.to_string())))
}

/// A document refused: its fields each with their code
/// (`peer_document_invalid`), or the check it failed.
pub(crate) fn document_error(e: DocumentError) -> AppError {
    match e {
        DocumentError::Invalid(problems) => AppError::PeerDocumentInvalid(
            problems
                .into_iter()
                .map(|p| proto::FieldError {
                    field: p.field.to_owned(),
                    code: p.code.to_owned(),
                    message: p.message,
                })
                .collect(),
        ),
        e => AppError::BadRequest {
            code: e.code(),
            detail: e.to_string(),
        },
    }
}

/// The peer as a document describes it (its fields already checked),
/// signed with the key pinned from now on.
pub(crate) fn peer_record(
    details: &PeerDetails,
    doc: &NodeDocument,
    signed: &SignedNodeDocument,
    now: OffsetDateTime,
) -> AppResult<Peer> {
    let signing = doc
        .signing_key()
        .ok_or_else(|| document_error(DocumentError::NoSigningKey))?;
    let encryption = doc.encryption_key().ok_or_else(|| AppError::BadRequest {
        code: "node_document_no_key",
        detail: "the node document lists no encryption key".into(),
    })?;
    Ok(Peer {
        node_id: details.node_id.to_string(),
        base_url: details.base_url.to_string(),
        organisation: details.organisation.to_string(),
        country: details.country.to_string(),
        kind: details.kind.as_str().to_owned(),
        signing_key: signing.public_key.clone(),
        signing_fingerprint: signing.fingerprint.clone(),
        encryption_key: encryption.public_key.clone(),
        document: signed.document.clone(),
        signature: signed.signature.clone(),
        status: PeerStatus::Active,
        added_at: now,
        updated_at: now,
        // Added during its rotation: the key it moves to, and when.
        next_signing_key: doc.next_signing_key().map(|k| k.public_key.clone()),
        key_valid_until: doc
            .next_signing_key()
            .and_then(|k| OffsetDateTime::parse(&k.not_before, &Rfc3339).ok()),
    })
}
