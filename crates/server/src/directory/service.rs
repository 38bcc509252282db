//! The directory: this node and the peers it knows, as their signed node
//! documents describe them — who they are, which request types they accept,
//! in which languages, and when they answer. Searchable by text, country,
//! kind, request type and language.

use entraide_federation::{NodeDocument, PeerStatus};
use entraide_proto as proto;
use serde::Deserialize;

use crate::app::error::AppResult;
use crate::app::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DirectoryQuery {
    /// Words in the organisation's name or node id.
    pub q: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// An organisation kind (`central-authority`...). Any text is taken: a
    /// filter on what peers' documents say, which may name kinds this
    /// node does not know; one that none has matches nothing.
    pub kind: Option<String>,
    /// Only organisations accepting this request kind
    /// (`expedited_preservation`...); like `kind`, any text is taken.
    pub request_type: Option<String>,
    /// Only organisations accepting requests in this language.
    pub language: Option<String>,
}

fn entry(doc: &NodeDocument, own: bool, status: PeerStatus) -> proto::DirectoryEntry {
    proto::DirectoryEntry {
        node_id: doc.node_id.clone(),
        organisation: doc.organisation.clone(),
        country: doc.country.clone(),
        kind: doc.kind.clone(),
        base_url: doc.base_url.clone(),
        languages: doc.languages.clone(),
        request_types: doc.request_types.clone(),
        office_hours: doc.office_hours.clone(),
        time_zone: doc.time_zone.clone(),
        own,
        status: status.as_str().to_owned(),
        signing_fingerprint: doc
            .signing_key()
            .map(|k| k.fingerprint.clone())
            .unwrap_or_default(),
    }
}

/// Every entry matching the query, this node first, then by country.
pub async fn search(app: &AppState, q: &DirectoryQuery) -> AppResult<Vec<proto::DirectoryEntry>> {
    let mut entries = Vec::new();
    let own = crate::federation::peers::node_document(app).await?;
    if let Ok(doc) = serde_json::from_str::<NodeDocument>(&own.document) {
        entries.push(entry(&doc, true, PeerStatus::Active));
    }
    for p in app.store.peers().await? {
        // Stored documents were verified when pinned.
        if let Ok(doc) = serde_json::from_str::<NodeDocument>(&p.document) {
            entries.push(entry(&doc, false, p.status));
        }
    }
    let norm = |s: &str| s.trim().to_lowercase();
    let text = q.q.as_deref().map(norm).filter(|s| !s.is_empty());
    let matches = |e: &proto::DirectoryEntry| {
        text.as_ref().is_none_or(|t| {
            t.split_whitespace().all(|w| {
                e.organisation.to_lowercase().contains(w) || e.node_id.to_lowercase().contains(w)
            })
        }) && q
            .country
            .as_deref()
            .filter(|c| !c.is_empty())
            .is_none_or(|c| e.country.eq_ignore_ascii_case(c))
            && q.kind
                .as_deref()
                .filter(|k| !k.is_empty())
                .is_none_or(|k| e.kind == k)
            && q.request_type
                .as_deref()
                .filter(|k| !k.is_empty())
                .is_none_or(|k| e.request_types.iter().any(|t| t == k))
            && q.language
                .as_deref()
                .filter(|l| !l.is_empty())
                .is_none_or(|l| e.languages.iter().any(|x| x.eq_ignore_ascii_case(l)))
    };
    entries.retain(matches);
    entries.sort_by(|a, b| {
        b.own
            .cmp(&a.own)
            .then(a.country.cmp(&b.country))
            .then(a.organisation.cmp(&b.organisation))
    });
    Ok(entries)
}
