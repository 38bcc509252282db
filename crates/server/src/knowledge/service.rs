//! The knowledge repository on the node: imports (all files parsed and
//! checked before anything is written, then one transaction), the search
//! index kept in step with the database generation, and the operations
//! behind the API, the pages and the command line — search, documents,
//! comparison across countries, and the legal-basis and dual-criminality
//! helper used when drafting a request.

use std::sync::Arc;

use entraide_domain::{AuditAction, AuditOutcome};
use entraide_knowledge::bundle::{self, ProceduralPower};
use entraide_knowledge::compare::{self, Subject};
use entraide_knowledge::helper::{self, HelperAnswer, HelperQuestion};
use entraide_knowledge::taxonomy::Taxonomy;
use entraide_knowledge::{markdown, Document, ImportError, Record};
use entraide_search::{BuildStats, SearchRequest, SearchResults};
use entraide_store::{KnowledgeRow, NewAuditEntry};
use serde::Serialize;
use time::OffsetDateTime;

use crate::app::csv::csv_field;
use crate::app::error::{AppError, AppResult};
pub use crate::app::knowledge_index::{Knowledge, Reference};
use crate::app::state::AppState;

fn decode(row: &KnowledgeRow) -> AppResult<Document> {
    serde_json::from_str(&row.body)
        .map_err(|e| AppError::Internal(format!("stored knowledge document {}: {e}", row.id)))
}

fn row(d: &Document) -> AppResult<KnowledgeRow> {
    Ok(KnowledgeRow {
        id: d.id.clone(),
        unit: d.unit.clone(),
        kind: d.content_type.as_str().to_owned(),
        instrument: d.instrument.clone(),
        jurisdiction: d.jurisdiction.code(),
        position: i64::from(d.position),
        body: serde_json::to_string(d)
            .map_err(|e| AppError::Internal(format!("knowledge document: {e}")))?,
    })
}

/// The reference tables of the current generation.
pub async fn reference(app: &AppState) -> AppResult<Arc<Reference>> {
    reference_at(app, app.store.knowledge_generation().await?).await
}

/// The reference tables of `generation`, read once per generation.
async fn reference_at(app: &AppState, generation: i64) -> AppResult<Arc<Reference>> {
    if let Some(r) = app
        .knowledge
        .reference
        .read()
        .ok()
        .and_then(|r| r.clone())
        .filter(|r| r.generation == generation)
    {
        return Ok(r);
    }
    let mut r = Reference {
        generation,
        treaties: Vec::new(),
        profiles: Vec::new(),
        offences: Vec::new(),
        taxonomy: Taxonomy::default(),
    };
    for kind in ["treaty", "country-profile", "offence"] {
        for row in app.store.knowledge_of_kind(kind).await? {
            match decode(&row)?.record {
                Some(Record::Treaty(t)) => r.treaties.push(t),
                Some(Record::CountryProfile(p)) => r.profiles.push(p),
                Some(Record::Offence(o)) => r.offences.push(o),
                _ => {}
            }
        }
    }
    r.taxonomy = Taxonomy::new(&r.offences);
    let r = Arc::new(r);
    if let Ok(mut slot) = app.knowledge.reference.write() {
        *slot = Some(r.clone());
    }
    Ok(r)
}

/// Rebuilds the index when it is not of the database's generation (at
/// start, after an import, or on a replica that did not import). Returns
/// the build figures when it built.
pub async fn ensure_index(app: &AppState) -> AppResult<Option<BuildStats>> {
    build_index(app, false).await
}

/// Rebuilds the index from the database whatever its generation.
pub async fn rebuild_index(app: &AppState) -> AppResult<BuildStats> {
    build_index(app, true)
        .await?
        .ok_or_else(|| AppError::Internal("index not rebuilt".into()))
}

async fn build_index(app: &AppState, force: bool) -> AppResult<Option<BuildStats>> {
    let _guard = app.knowledge.rebuilding.lock().await;
    let generation = app.store.knowledge_generation().await?;
    if !force && app.knowledge.index.generation() == Some(generation) {
        return Ok(None);
    }
    let reference = reference_at(app, generation).await?;
    // Analysing, writing and merging the index is CPU and disk work of
    // seconds: it runs on a blocking thread, fed page by page from the
    // database, so that the async workers keep serving requests.
    // `None` ends the build; an error abandons it (never made current).
    let (pages, mut incoming) = tokio::sync::mpsc::channel::<Option<Vec<Document>>>(2);
    let knowledge = app.knowledge.clone();
    let builder = tokio::task::spawn_blocking(move || -> AppResult<BuildStats> {
        let mut builder = knowledge.index.builder(generation)?;
        loop {
            match incoming.blocking_recv() {
                Some(Some(page)) => {
                    for d in &page {
                        builder.add(d, &reference.taxonomy)?;
                    }
                }
                Some(None) => return Ok(builder.finish()?),
                None => {
                    return Err(AppError::Internal(
                        "index build abandoned: reading the database failed".into(),
                    ))
                }
            }
        }
    });
    let fed: AppResult<()> = async {
        let mut after = String::new();
        loop {
            let page = app.store.knowledge_page(&after, 2_000).await?;
            let Some(last) = page.last() else {
                let _ = pages.send(None).await;
                return Ok(());
            };
            after = last.id.clone();
            let docs = page.iter().map(decode).collect::<AppResult<Vec<_>>>()?;
            if pages.send(Some(docs)).await.is_err() {
                // The builder stopped: its error is the one to report.
                return Ok(());
            }
        }
    }
    .await;
    drop(pages);
    let built = builder
        .await
        .map_err(|e| AppError::Internal(format!("index build: {e}")))?;
    fed?;
    Ok(Some(built?))
}

/// A file to import: its name (for messages and the identifier of
/// Markdown without front matter) and its text.
pub struct ImportFile {
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub files: usize,
    pub instruments: usize,
    pub articles: usize,
    pub items: usize,
    pub warnings: Vec<String>,
    pub generation: i64,
    pub index: Option<BuildStats>,
}

/// Parses every file (Markdown legislation or the JSON format), and only
/// if all are valid replaces their units in one transaction; then brings
/// the index up to date. A failure leaves the previous content as it was.
pub async fn import(
    app: &AppState,
    files: Vec<ImportFile>,
    audit: impl FnOnce(String) -> NewAuditEntry,
) -> Result<ImportSummary, KnowledgeImportError> {
    let parsed = tokio::task::spawn_blocking(move || parse_files(&files))
        .await
        .map_err(|e| KnowledgeImportError::Other(AppError::Internal(e.to_string())))??;
    let (docs, mut summary) = parsed;
    let mut units: Vec<String> = docs.iter().map(|d| d.unit.clone()).collect();
    units.sort();
    units.dedup();
    let rows = docs.iter().map(row).collect::<AppResult<Vec<_>>>()?;
    let detail = format!(
        "{} files, {} instruments, {} articles, {} items",
        summary.files, summary.instruments, summary.articles, summary.items
    );
    summary.generation = app
        .store
        .replace_knowledge(&units, &rows, &audit(detail))
        .await
        .map_err(|e| match e {
            entraide_store::StoreError::Conflict(_) => KnowledgeImportError::Invalid(ImportError::new(
                "",
                0,
                "a document identifier in these files is already used by another instrument or item; nothing was imported",
            )),
            other => KnowledgeImportError::Other(other.into()),
        })?;
    summary.index = ensure_index(app).await?;
    Ok(summary)
}

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeImportError {
    #[error("{0}")]
    Invalid(ImportError),
    #[error("{0}")]
    Other(#[from] AppError),
}

impl From<ImportError> for KnowledgeImportError {
    fn from(e: ImportError) -> Self {
        Self::Invalid(e)
    }
}

impl From<KnowledgeImportError> for AppError {
    fn from(e: KnowledgeImportError) -> Self {
        match e {
            KnowledgeImportError::Invalid(i) => AppError::BadRequest {
                code: "knowledge_import_invalid",
                detail: i.to_string(),
            },
            KnowledgeImportError::Other(a) => a,
        }
    }
}

fn parse_files(files: &[ImportFile]) -> Result<(Vec<Document>, ImportSummary), ImportError> {
    let mut docs = Vec::new();
    let mut summary = ImportSummary {
        files: files.len(),
        instruments: 0,
        articles: 0,
        items: 0,
        warnings: Vec::new(),
        generation: 0,
        index: None,
    };
    for f in files {
        let lower = f.name.to_lowercase();
        if lower.ends_with(".json") {
            let b = bundle::parse(&f.name, &f.text)?;
            let items = bundle::documents(&b);
            summary.items += items.len();
            docs.extend(items);
        } else if lower.ends_with(".md") || lower.ends_with(".markdown") {
            let stem = std::path::Path::new(&f.name)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let parsed = markdown::parse(&f.name, &stem, &f.text)?;
            summary
                .warnings
                .extend(parsed.warnings.iter().map(ToString::to_string));
            for i in parsed.instruments {
                summary.instruments += 1;
                summary.articles += i.articles.len();
                docs.push(i.instrument);
                docs.extend(i.articles);
            }
        } else {
            return Err(ImportError::new(
                &f.name,
                0,
                "only Markdown legislation (.md) and the JSON format (.json) can be imported",
            ));
        }
    }
    let mut seen = std::collections::HashMap::new();
    for d in &docs {
        if let Some(unit) = seen.insert(d.id.clone(), d.unit.clone()) {
            return Err(ImportError::new(
                "",
                0,
                format!(
                    "duplicate identifier '{}' (in '{}' and '{}')",
                    d.id, unit, d.unit
                ),
            ));
        }
    }
    if docs.is_empty() {
        return Err(ImportError::new("", 0, "nothing to import"));
    }
    Ok((docs, summary))
}

/// Search, with the index brought up to date first.
pub async fn search(app: &AppState, req: &SearchRequest) -> AppResult<SearchResults> {
    // One read of the generation serves both the index check and the
    // reference tables.
    let generation = app.store.knowledge_generation().await?;
    if app.knowledge.index.generation() != Some(generation) {
        ensure_index(app).await?;
    }
    let reference = reference_at(app, generation).await?;
    Ok(app.knowledge.index.search(req, &reference.taxonomy)?)
}

/// A document and, for an instrument, its articles (identifier, label,
/// title, hierarchy).
#[derive(Debug, Clone, Serialize)]
pub struct DocumentView {
    pub document: Document,
    pub citation: String,
    pub permalink: String,
    pub articles: Vec<ArticleEntry>,
    pub offences: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArticleEntry {
    pub id: String,
    pub label: String,
    pub title: String,
    pub path: Vec<String>,
}

pub async fn document(app: &AppState, id: &str, lang: &str) -> AppResult<DocumentView> {
    let row = app
        .store
        .knowledge_document(id)
        .await?
        .ok_or(AppError::NotFound { what: "document" })?;
    let document = decode(&row)?;
    let mut articles = Vec::new();
    if document.instrument.is_none() {
        for r in app.store.knowledge_articles(&document.id).await? {
            let a = decode(&r)?;
            articles.push(ArticleEntry {
                label: a.label.clone().unwrap_or_default(),
                title: a.title_in(lang),
                path: a.path.clone(),
                id: a.id,
            });
        }
    }
    let reference = reference(app).await?;
    Ok(DocumentView {
        citation: document.citation(lang),
        permalink: format!("/knowledge/documents/{}", document.id),
        offences: reference.taxonomy.offences_of(&document.id),
        document,
        articles,
    })
}

/// One cell of a comparison, with the provision's text when the
/// repository holds it.
#[derive(Debug, Clone, Serialize)]
pub struct ComparedProvision {
    #[serde(flatten)]
    pub entry: compare::Entry,
    pub text: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub subject: String,
    pub columns: Vec<(String, Vec<ComparedProvision>)>,
}

pub async fn comparison(
    app: &AppState,
    subject: &Subject,
    countries: &[String],
) -> AppResult<Comparison> {
    let reference = reference(app).await?;
    let columns = compare::compare(subject, countries, &reference.offences, &reference.profiles);
    let mut out = Vec::new();
    for c in columns {
        let mut cells = Vec::new();
        for e in c.entries {
            let text = match &e.reference {
                Some(r) => match app.store.knowledge_document(r).await? {
                    Some(row) => decode(&row)?.texts.first().map(|t| t.text.clone()),
                    None => None,
                },
                None => None,
            };
            cells.push(ComparedProvision { entry: e, text });
        }
        out.push((c.country, cells));
    }
    Ok(Comparison {
        subject: subject.as_string(),
        columns: out,
    })
}

/// The comparison as CSV: country, citation, reference, exists, penalty,
/// text.
pub fn comparison_csv(c: &Comparison, lang: &str) -> String {
    let mut out = String::from("country,citation,reference,exists,penalty,text\r\n");
    for (country, cells) in &c.columns {
        for p in cells {
            let exists = match p.entry.exists {
                Some(true) => "yes",
                Some(false) => "no",
                None => "unknown",
            };
            let penalty = entraide_knowledge::pick_opt(&p.entry.penalty, lang);
            out.push_str(
                &[
                    csv_field(country),
                    csv_field(&p.entry.citation),
                    csv_field(p.entry.reference.as_deref().unwrap_or("")),
                    csv_field(exists),
                    csv_field(&penalty),
                    csv_field(p.text.as_deref().unwrap_or("")),
                ]
                .join(","),
            );
            out.push_str("\r\n");
        }
    }
    out
}

pub async fn legal_basis(app: &AppState, q: &HelperQuestion) -> AppResult<HelperAnswer> {
    let reference = reference(app).await?;
    Ok(helper::assess(
        q,
        &reference.treaties,
        &reference.profiles,
        &reference.offences,
    ))
}

/// The measure a request kind asks for, for the helper.
pub fn measure_for(kind: &str) -> Option<ProceduralPower> {
    match kind {
        "expedited_preservation" | "preservation_extension" => {
            Some(ProceduralPower::ExpeditedPreservation)
        }
        "subscriber_information" => Some(ProceduralPower::SubscriberInformation),
        "traffic_data_disclosure" | "production_order" | "emergency_disclosure" => {
            Some(ProceduralPower::ProductionOrder)
        }
        "mla_stored_data" => Some(ProceduralPower::SearchSeizure),
        "mla_real_time_traffic" => Some(ProceduralPower::RealTimeTraffic),
        "mla_interception" => Some(ProceduralPower::Interception),
        _ => None,
    }
}

/// The audit entry of an import made from the command line.
pub fn operator_audit(detail: String) -> NewAuditEntry {
    NewAuditEntry {
        at: OffsetDateTime::now_utc(),
        actor_id: None,
        actor: "operator (command line)".into(),
        action: AuditAction::KnowledgeImported,
        outcome: AuditOutcome::Success,
        case_id: None,
        target: None,
        client_ip: None,
        request_id: None,
        detail: serde_json::json!({ "summary": detail }).to_string(),
    }
}

/// Everything but legislation text, in the import format
/// (`entraide-knowledge/1`): importing it elsewhere gives the same items.
pub async fn export_bundle(app: &AppState) -> AppResult<bundle::Bundle> {
    let mut b = bundle::Bundle {
        format: bundle::FORMAT.to_owned(),
        ..Default::default()
    };
    for kind in [
        "treaty",
        "country-profile",
        "offence",
        "case-law",
        "good-practice",
    ] {
        for row in app.store.knowledge_of_kind(kind).await? {
            match decode(&row)?.record {
                Some(Record::Treaty(t)) => b.treaties.push(t),
                Some(Record::CountryProfile(p)) => b.country_profiles.push(p),
                Some(Record::Offence(o)) => b.offences.push(o),
                Some(Record::CaseLaw(c)) => b.case_law.push(c),
                Some(Record::GoodPractice(g)) => b.good_practices.push(g),
                None => {}
            }
        }
    }
    Ok(b)
}

/// Treaty parties as CSV: treaty, country, signed, ratified, in force.
pub fn parties_csv(b: &bundle::Bundle) -> String {
    let date = |d: Option<time::Date>| d.map(|d| d.to_string()).unwrap_or_default();
    let mut out = String::from("treaty,country,signed,ratified,in_force\r\n");
    for t in &b.treaties {
        for p in &t.parties {
            out.push_str(&format!(
                "{},{},{},{},{}\r\n",
                t.id,
                p.country,
                date(p.signed),
                date(p.ratified),
                date(p.in_force)
            ));
        }
    }
    out
}
