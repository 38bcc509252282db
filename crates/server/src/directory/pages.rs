//! The directory: this node and the peers it knows, as their signed node
//! documents describe them — who they are, which request types they accept,
//! in which languages, and when they answer. Searchable by text, country,
//! kind, request type and language.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use entraide_domain::Locale;
use entraide_federation::NodeDocument;
use entraide_proto as proto;
use serde::Deserialize;

use crate::caller::Caller;
use crate::error::AppResult;
use crate::http::json_response;
use crate::i18n::Tr;
use crate::state::AppState;
use crate::ui::{page, render, Nav};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DirectoryQuery {
    /// Words in the organisation's name or node id.
    pub q: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub kind: Option<String>,
    /// Only organisations accepting this request kind.
    pub request_type: Option<String>,
    /// Only organisations accepting requests in this language.
    pub language: Option<String>,
}

fn entry(doc: &NodeDocument, own: bool, status: &str) -> proto::DirectoryEntry {
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
        status: status.to_owned(),
        signing_fingerprint: doc
            .signing_key()
            .map(|k| k.fingerprint.clone())
            .unwrap_or_default(),
    }
}

/// Every entry matching the query, this node first, then by country.
pub async fn search(app: &AppState, q: &DirectoryQuery) -> AppResult<Vec<proto::DirectoryEntry>> {
    let mut entries = Vec::new();
    let own = crate::peers::node_document(app).await?;
    if let Ok(doc) = serde_json::from_str::<NodeDocument>(&own.document) {
        entries.push(entry(&doc, true, "active"));
    }
    for p in app.store.peers().await? {
        // Stored documents were verified when pinned.
        if let Ok(doc) = serde_json::from_str::<NodeDocument>(&p.document) {
            entries.push(entry(&doc, false, &p.status));
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

/// The directory of organisations this node knows.
#[utoipa::path(get, path = "/api/v1/directory", tag = "federation", security(("bearer" = [])),
    params(DirectoryQuery),
    responses((status = 200, body = [proto::DirectoryEntry])))]
pub async fn api(
    State(app): State<AppState>,
    Query(q): Query<DirectoryQuery>,
) -> AppResult<Response> {
    let entries = search(&app, &q).await?;
    Ok(json_response(StatusCode::OK, &entries))
}

pub struct Row {
    pub entry: proto::DirectoryEntry,
    pub kind_label: String,
    pub types: String,
    pub languages: String,
}

#[derive(askama::Template)]
#[template(path = "directory.html")]
struct DirectoryPage {
    tr: Tr,
    nav: Nav,
    rows: Vec<Row>,
    q: String,
    country: String,
    kind: String,
    request_type: String,
    kinds: Vec<(String, String)>,
    request_types: Vec<(String, String)>,
}

pub async fn ui(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Query(q): Query<DirectoryQuery>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/directory").await?;
    let entries = search(&app, &q).await?;
    let rows = entries
        .into_iter()
        .map(|e| Row {
            kind_label: p.tr.t(&format!("kind-{}", e.kind)),
            types: e
                .request_types
                .iter()
                .map(|t| p.tr.t(&format!("rq-kind-{t}")))
                .collect::<Vec<_>>()
                .join(", "),
            languages: e.languages.join(", "),
            entry: e,
        })
        .collect();
    let view = DirectoryPage {
        kinds: entraide_domain::OrganisationKind::ALL
            .iter()
            .map(|k| {
                (
                    k.as_str().to_owned(),
                    p.tr.t(&format!("kind-{}", k.as_str())),
                )
            })
            .collect(),
        request_types: entraide_domain::request::RequestKind::ALL
            .iter()
            .map(|k| {
                (
                    k.as_str().to_owned(),
                    p.tr.t(&format!("rq-kind-{}", k.as_str())),
                )
            })
            .collect(),
        rows,
        q: q.q.unwrap_or_default(),
        country: q.country.unwrap_or_default(),
        kind: q.kind.unwrap_or_default(),
        request_type: q.request_type.unwrap_or_default(),
        tr: p.tr,
        nav: p.nav,
    };
    Ok(render(&view))
}
