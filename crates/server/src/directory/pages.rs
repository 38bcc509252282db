//! The directory page: organisations this node knows, with filters.

use axum::extract::{Query, State};
use axum::response::Response;
use entraide_domain::Locale;
use entraide_proto as proto;

use super::service::{search, DirectoryQuery};
use crate::app::error::AppResult;
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::web::page::{page, render, Nav};

pub struct Row {
    pub entry: proto::DirectoryEntry,
    pub kind_label: String,
    pub types: String,
    pub languages: String,
}

#[derive(askama::Template)]
#[template(path = "directory/directory.html")]
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
