//! The knowledge repository's pages: search with facets, documents,
//! comparison across countries, the legal-basis helper.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use entraide_domain::Locale;
use entraide_knowledge::bundle::ProceduralPower;
use entraide_knowledge::{pick, pick_opt, Record};
use entraide_search::SearchResults;

use crate::app::error::{AppError, AppResult};
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::knowledge::{self, Comparison, DocumentView};
use crate::web::page::{page, render, Nav};

use super::api::*;

pub struct FacetLink {
    pub label: String,
    pub count: u64,
    pub href: String,
    pub active: bool,
}

pub struct FacetGroup {
    pub name: String,
    pub links: Vec<FacetLink>,
}

pub struct HitView {
    pub href: String,
    pub title: String,
    pub label: String,
    pub path: String,
    pub citation: String,
    pub kind: String,
    pub place: String,
    pub language: String,
    pub snippet: Vec<(String, bool)>,
}

pub struct GroupView {
    /// A document on its own (not articles of an instrument): no heading.
    pub single: bool,
    pub title: String,
    pub href: String,
    pub hits: Vec<HitView>,
}

#[derive(askama::Template)]
#[template(path = "knowledge/knowledge_search.html")]
struct SearchPage {
    tr: Tr,
    nav: Nav,
    q: String,
    error: Option<String>,
    searched: bool,
    total: usize,
    total_count: i64,
    groups: Vec<GroupView>,
    facets: Vec<FacetGroup>,
    bridged: Vec<String>,
    active_filters: Vec<(String, String)>,
    next: Option<String>,
    prev: Option<String>,
    counts: Vec<(String, i64)>,
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(*b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn href(p: &SearchParams, set: Option<(&str, &str)>, offset: usize) -> String {
    let mut parts = Vec::new();
    let current = [
        ("q", &p.q),
        ("country", &p.country),
        ("type", &p.content_type),
        ("lang", &p.lang),
        ("instrument", &p.instrument),
        ("offence", &p.offence),
        ("year", &p.year),
    ];
    for (k, v) in current {
        let value = match set {
            Some((sk, sv)) if sk == k => Some(sv.to_owned()),
            _ => v.clone(),
        };
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", encode(&v)));
        }
    }
    if offset > 0 {
        parts.push(format!("offset={offset}"));
    }
    format!("/knowledge?{}", parts.join("&"))
}

pub fn type_label(tr: &Tr, t: &str) -> String {
    tr.t(&format!("kn-type-{t}"))
}

fn facet_value_label(
    tr: &Tr,
    facet: &str,
    value: &str,
    reference: &knowledge::Reference,
    lang: &str,
) -> String {
    match facet {
        "type" => type_label(tr, value),
        "offence" => reference.taxonomy.label(value, lang),
        "country" if value == "INT" => tr.t("kn-international"),
        "country" if value == "EU" => tr.t("kn-eu"),
        _ => value.to_owned(),
    }
}

pub async fn ui_search(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Query(p): Query<SearchParams>,
) -> AppResult<Response> {
    let pg = page(&app, &caller, locale.0, "/knowledge").await?;
    let lang = locale.0.as_str();
    let reference = knowledge::reference(&app).await?;
    let searched = p.q.as_deref().is_some_and(|q| !q.trim().is_empty())
        || [
            &p.country,
            &p.content_type,
            &p.lang,
            &p.instrument,
            &p.offence,
            &p.year,
        ]
        .iter()
        .any(|v| v.as_deref().is_some_and(|v| !v.is_empty()));
    let mut view = SearchPage {
        q: p.q.clone().unwrap_or_default(),
        error: None,
        searched,
        total: 0,
        total_count: 0,
        groups: Vec::new(),
        facets: Vec::new(),
        bridged: Vec::new(),
        active_filters: Vec::new(),
        next: None,
        prev: None,
        counts: app.store.knowledge_counts().await?,
        tr: pg.tr,
        nav: pg.nav,
    };
    for (k, v) in [
        ("country", &p.country),
        ("type", &p.content_type),
        ("lang", &p.lang),
        ("instrument", &p.instrument),
        ("offence", &p.offence),
        ("year", &p.year),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            let label = facet_value_label(&view.tr, k, v, &reference, lang);
            view.active_filters
                .push((label, href(&p, Some((k, "")), 0)));
        }
    }
    if searched {
        let outcome: AppResult<SearchResults> = match p.request(lang) {
            Ok(req) => knowledge::search(&app, &req).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(r) => fill(&mut view, &p, r, &reference, lang),
            Err(AppError::BadRequest { detail, .. }) => {
                view.error = Some(view.tr.t1("kn-query-error", "detail", &detail));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(render(&view))
}

fn fill(
    view: &mut SearchPage,
    p: &SearchParams,
    r: SearchResults,
    reference: &knowledge::Reference,
    lang: &str,
) {
    let tr = &view.tr;
    view.total = r.total;
    view.total_count = i64::try_from(r.total).unwrap_or(i64::MAX);
    view.bridged = r
        .bridged
        .iter()
        .map(|id| reference.taxonomy.label(id, lang))
        .collect();
    for name in ["type", "country", "offence", "lang", "year", "instrument"] {
        let Some(values) = r.facets.get(name) else {
            continue;
        };
        if values.is_empty() {
            continue;
        }
        let current = match name {
            "type" => &p.content_type,
            "country" => &p.country,
            "offence" => &p.offence,
            "lang" => &p.lang,
            "year" => &p.year,
            _ => &p.instrument,
        };
        let links = values
            .iter()
            .take(12)
            .map(|v| FacetLink {
                label: if name == "instrument" {
                    r.groups
                        .iter()
                        .find(|g| g.group == v.value)
                        .map(|g| g.title.clone())
                        .unwrap_or_else(|| v.value.clone())
                } else {
                    facet_value_label(tr, name, &v.value, reference, lang)
                },
                count: v.count,
                href: href(p, Some((name, &v.value)), 0),
                active: current.as_deref() == Some(v.value.as_str()),
            })
            .collect();
        view.facets.push(FacetGroup {
            name: tr.t(&format!("kn-facet-{name}")),
            links,
        });
    }
    for g in &r.groups {
        let hits = g
            .hits
            .iter()
            .filter_map(|i| r.hits.get(*i))
            .map(|h| HitView {
                href: format!("/knowledge/documents/{}", encode(&h.id)),
                title: h.title.clone(),
                label: h.label.clone().unwrap_or_default(),
                path: h.path.join(" › "),
                citation: h.citation.clone(),
                kind: type_label(tr, &h.content_type),
                place: h.jurisdiction.clone(),
                language: h.language.clone(),
                snippet: h
                    .snippet
                    .iter()
                    .map(|f| (f.text.clone(), f.highlighted))
                    .collect(),
            })
            .collect();
        view.groups.push(GroupView {
            single: g.hits.len() == 1
                && g.hits
                    .first()
                    .and_then(|i| r.hits.get(*i))
                    .is_some_and(|h| h.id == g.group),
            title: g.title.clone(),
            href: format!("/knowledge/documents/{}", encode(&g.group)),
            hits,
        });
    }
    let offset = p.offset.unwrap_or(0);
    let limit = p.limit.unwrap_or(20);
    if offset + limit < r.total {
        view.next = Some(href(p, None, offset + limit));
    }
    if offset > 0 {
        view.prev = Some(href(p, None, offset.saturating_sub(limit)));
    }
}

pub struct Row2 {
    pub label: String,
    pub value: String,
}

#[derive(askama::Template)]
#[template(path = "knowledge/knowledge_document.html")]
struct DocumentPage {
    tr: Tr,
    nav: Nav,
    v: DocumentView,
    title: String,
    kind: String,
    place: String,
    path: String,
    paragraphs: Vec<String>,
    instrument_href: Option<String>,
    toc: Vec<(String, String, String)>,
    article_count: i64,
    offences: Vec<(String, String)>,
    facts: Vec<Row2>,
    table_head: Vec<String>,
    table: Vec<Vec<String>>,
}

fn yes_no(tr: &Tr, v: Option<bool>) -> String {
    match v {
        Some(true) => tr.t("kn-yes"),
        Some(false) => tr.t("kn-no"),
        None => tr.t("kn-unknown"),
    }
}

pub async fn ui_document(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let pg = page(&app, &caller, locale.0, "/knowledge").await?;
    let lang = locale.0.as_str();
    let v = knowledge::document(&app, &id, lang).await?;
    let reference = knowledge::reference(&app).await?;
    let tr = pg.tr;
    let d = &v.document;
    let text = d.text_in(lang).map(|t| t.text.clone()).unwrap_or_default();
    let mut facts = Vec::new();
    let mut table_head = Vec::new();
    let mut table = Vec::new();
    let date = |x: Option<time::Date>| x.map(|d| d.to_string()).unwrap_or_else(|| "—".into());
    match &d.record {
        Some(Record::Treaty(t)) => {
            facts.push(Row2 {
                label: tr.t("kn-adopted"),
                value: date(t.adopted),
            });
            facts.push(Row2 {
                label: tr.t("kn-in-force"),
                value: date(t.in_force),
            });
            if let Some(s) = &t.summary {
                facts.push(Row2 {
                    label: tr.t("kn-summary"),
                    value: pick(s, lang).to_owned(),
                });
            }
            table_head = [
                "kn-party",
                "kn-signed",
                "kn-ratified",
                "kn-in-force",
                "kn-reservations",
            ]
            .iter()
            .map(|k| tr.t(k))
            .collect();
            for p in &t.parties {
                table.push(vec![
                    p.country.clone(),
                    date(p.signed),
                    date(p.ratified),
                    date(p.in_force),
                    pick_opt(&p.reservations, lang),
                ]);
            }
        }
        Some(Record::CountryProfile(c)) => {
            if let Some(s) = &c.summary {
                facts.push(Row2 {
                    label: tr.t("kn-summary"),
                    value: pick(s, lang).to_owned(),
                });
            }
            facts.push(Row2 {
                label: tr.t("kn-central-authority"),
                value: c.mla.central_authority.clone(),
            });
            facts.push(Row2 {
                label: tr.t("kn-languages"),
                value: c.mla.languages.join(", "),
            });
            facts.push(Row2 {
                label: tr.t("kn-channels"),
                value: c.mla.channels.join(", "),
            });
            if let Some(p) = &c.mla.point_of_contact_24_7 {
                facts.push(Row2 {
                    label: tr.t("kn-poc"),
                    value: p.clone(),
                });
            }
            if let Some(r) = &c.mla.requirements {
                facts.push(Row2 {
                    label: tr.t("kn-requirements"),
                    value: pick(r, lang).to_owned(),
                });
            }
            table_head = ["kn-power", "kn-exists", "kn-provision", "kn-note"]
                .iter()
                .map(|k| tr.t(k))
                .collect();
            for e in &c.powers {
                table.push(vec![
                    tr.t(&format!("kn-power-{}", e.power.as_str())),
                    yes_no(&tr, e.exists),
                    e.citation.clone().unwrap_or_default(),
                    pick_opt(&e.note, lang),
                ]);
            }
        }
        Some(Record::Offence(o)) => {
            if let Some(s) = &o.description {
                facts.push(Row2 {
                    label: tr.t("kn-summary"),
                    value: pick(s, lang).to_owned(),
                });
            }
            if let Some(s) = &o.source {
                facts.push(Row2 {
                    label: tr.t("kn-source"),
                    value: s.clone(),
                });
            }
            table_head = ["kn-facet-country", "kn-provision", "kn-penalty"]
                .iter()
                .map(|k| tr.t(k))
                .collect();
            for p in &o.provisions {
                table.push(vec![
                    p.country
                        .clone()
                        .unwrap_or_else(|| tr.t("kn-international")),
                    p.citation.clone(),
                    pick_opt(&p.penalty, lang),
                ]);
            }
        }
        Some(Record::CaseLaw(c)) => {
            facts.push(Row2 {
                label: tr.t("kn-court"),
                value: c.court.clone(),
            });
            facts.push(Row2 {
                label: tr.t("kn-date"),
                value: date(c.date),
            });
            if let Some(p) = &c.parties {
                facts.push(Row2 {
                    label: tr.t("kn-parties"),
                    value: p.clone(),
                });
            }
            if let Some(o) = &c.outcome {
                facts.push(Row2 {
                    label: tr.t("kn-outcome"),
                    value: pick(o, lang).to_owned(),
                });
            }
            let cited: Vec<String> = c
                .provisions_cited
                .iter()
                .map(|p| p.citation.clone())
                .collect();
            facts.push(Row2 {
                label: tr.t("kn-cited"),
                value: cited.join("; "),
            });
        }
        Some(Record::GoodPractice(g)) => {
            facts.push(Row2 {
                label: tr.t("kn-theme"),
                value: g.theme.clone(),
            });
            facts.push(Row2 {
                label: tr.t("kn-facet-country"),
                value: g.countries.join(", "),
            });
        }
        None => {}
    }
    let paragraphs = if d.record.is_some()
        && matches!(
            d.record,
            Some(Record::Treaty(_)) | Some(Record::CountryProfile(_)) | Some(Record::Offence(_))
        ) {
        Vec::new()
    } else {
        text.split("\n\n")
            .map(str::to_owned)
            .filter(|p| !p.trim().is_empty())
            .collect()
    };
    let view = DocumentPage {
        title: d.title_in(lang),
        kind: type_label(&tr, d.content_type.as_str()),
        place: d.jurisdiction.code(),
        path: d.path.join(" › "),
        paragraphs,
        instrument_href: d
            .instrument
            .as_ref()
            .map(|i| format!("/knowledge/documents/{}", encode(i))),
        toc: v
            .articles
            .iter()
            .map(|a| {
                (
                    format!("/knowledge/documents/{}", encode(&a.id)),
                    a.label.clone(),
                    a.title.clone(),
                )
            })
            .collect(),
        article_count: i64::try_from(v.articles.len()).unwrap_or(i64::MAX),
        offences: v
            .offences
            .iter()
            .map(|o| {
                (
                    format!("/knowledge/documents/offence:{o}"),
                    reference.taxonomy.label(o, lang),
                )
            })
            .collect(),
        facts,
        table_head,
        table,
        v,
        tr,
        nav: pg.nav,
    };
    Ok(render(&view))
}

#[derive(askama::Template)]
#[template(path = "knowledge/knowledge_compare.html")]
struct ComparePage {
    tr: Tr,
    nav: Nav,
    subjects: Vec<(String, String)>,
    subject: String,
    countries: String,
    error: Option<String>,
    comparison: Option<Comparison>,
    csv_href: String,
    lang: String,
}

pub async fn ui_compare(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Query(p): Query<CompareParams>,
) -> AppResult<Response> {
    let pg = page(&app, &caller, locale.0, "/knowledge/compare").await?;
    let lang = locale.0.as_str();
    let reference = knowledge::reference(&app).await?;
    let mut subjects: Vec<(String, String)> = reference
        .offences
        .iter()
        .map(|o| {
            (
                format!("offence:{}", o.id),
                pick(&o.labels, lang).to_owned(),
            )
        })
        .collect();
    subjects.extend(ProceduralPower::ALL.iter().map(|pw| {
        (
            format!("power:{}", pw.as_str()),
            pg.tr.t(&format!("kn-power-{}", pw.as_str())),
        )
    }));
    let mut view = ComparePage {
        subjects,
        subject: p.subject.clone().unwrap_or_default(),
        countries: p
            .countries
            .clone()
            .unwrap_or_else(|| "FR, GB, US, AR".into()),
        error: None,
        comparison: None,
        csv_href: String::new(),
        lang: lang.to_owned(),
        tr: pg.tr,
        nav: pg.nav,
    };
    if p.subject.as_deref().is_some_and(|s| !s.is_empty()) {
        let outcome = match (
            parse_subject(p.subject.as_deref()),
            parse_countries(&view.countries),
        ) {
            (Ok(s), Ok(c)) => knowledge::comparison(&app, &s, &c).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        match outcome {
            Ok(c) => {
                view.csv_href = format!(
                    "/api/v1/knowledge/compare?subject={}&countries={}&format=csv",
                    encode(&view.subject),
                    encode(&view.countries)
                );
                view.comparison = Some(c);
            }
            Err(AppError::BadRequest { detail, .. }) => view.error = Some(detail),
            Err(e) => return Err(e),
        }
    }
    Ok(render(&view))
}

#[derive(askama::Template)]
#[template(path = "knowledge/knowledge_helper.html")]
struct HelperPage {
    tr: Tr,
    nav: Nav,
    requesting: String,
    requested: String,
    offence: String,
    measure: String,
    date: String,
    offences: Vec<(String, String)>,
    measures: Vec<(String, String)>,
    error: Option<String>,
    answer: Option<entraide_knowledge::helper::HelperAnswer>,
    lang: String,
}

pub async fn ui_helper(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Query(p): Query<HelperParams>,
) -> AppResult<Response> {
    let pg = page(&app, &caller, locale.0, "/knowledge/helper").await?;
    let lang = locale.0.as_str();
    let reference = knowledge::reference(&app).await?;
    let own = app.store.own_organisation().await?;
    let mut view = HelperPage {
        requesting: p
            .requesting
            .clone()
            .unwrap_or_else(|| own.country.as_str().to_owned()),
        requested: p.requested.clone().unwrap_or_default(),
        offence: p.offence.clone().unwrap_or_default(),
        measure: p.measure.clone().unwrap_or_default(),
        date: p.date.clone().unwrap_or_default(),
        offences: reference
            .offences
            .iter()
            .map(|o| (o.id.clone(), pick(&o.labels, lang).to_owned()))
            .collect(),
        measures: ProceduralPower::ALL
            .iter()
            .map(|m| {
                (
                    m.as_str().to_owned(),
                    pg.tr.t(&format!("kn-power-{}", m.as_str())),
                )
            })
            .collect(),
        error: None,
        answer: None,
        lang: lang.to_owned(),
        tr: pg.tr,
        nav: pg.nav,
    };
    if p.requested.as_deref().is_some_and(|r| !r.is_empty()) {
        let q = HelperParams {
            requesting: Some(view.requesting.clone()),
            ..p
        };
        match question(&q) {
            Ok(q) => view.answer = Some(knowledge::legal_basis(&app, &q).await?),
            Err(AppError::BadRequest { detail, .. }) => view.error = Some(detail),
            Err(e) => return Err(e),
        }
    }
    Ok(render(&view))
}
