//! The knowledge repository's full-text index.
//!
//! One tantivy index per database generation under the node's data
//! directory (`knowledge-index/gen-N`). The database is the source of
//! truth: after every import the node builds the index of the new
//! generation beside the old one and swaps them; a crash half-way leaves a
//! `.partial` directory that the next start removes, and an index older
//! than the database is rebuilt. Searching never sees a half-built index.
//!
//! Text is analysed per language — English, French, Spanish, Dutch
//! (lower case, stop words, accents folded, Snowball stemming) and a plain
//! folding analyser for other languages — and every query is analysed once
//! per language, so "preservación", "preservation" and "conservation"
//! each find their own language's forms.

pub mod query;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use entraide_knowledge::taxonomy::Taxonomy;
use entraide_knowledge::{Document, Jurisdiction};
use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{
    Facet, FacetOptions, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST,
    STORED, STRING,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

pub use query::SyntaxError;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("query syntax: {0}")]
    Syntax(#[from] SyntaxError),
    #[error("the search index is being built")]
    NotReady,
    #[error("search index: {0}")]
    Index(String),
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        Self::Index(e.to_string())
    }
}

impl From<std::io::Error> for SearchError {
    fn from(e: std::io::Error) -> Self {
        Self::Index(e.to_string())
    }
}

pub type SearchResult<T> = Result<T, SearchError>;

/// The analysed languages; anything else uses the plain analyser "xx".
const LANGS: [(&str, Option<Language>); 5] = [
    ("en", Some(Language::English)),
    ("fr", Some(Language::French)),
    ("es", Some(Language::Spanish)),
    ("nl", Some(Language::Dutch)),
    ("xx", None),
];

fn lang_slot(lang: &str) -> usize {
    LANGS
        .iter()
        .position(|(l, _)| *l == lang)
        .unwrap_or(LANGS.len() - 1)
}

fn analyzer(lang: Option<Language>) -> TextAnalyzer {
    let base = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser);
    match lang {
        Some(l) => {
            let stop = StopWordFilter::new(l);
            match stop {
                Some(stop) => base
                    .filter(stop)
                    .filter(AsciiFoldingFilter)
                    .filter(Stemmer::new(l))
                    .build(),
                None => base
                    .filter(AsciiFoldingFilter)
                    .filter(Stemmer::new(l))
                    .build(),
            }
        }
        None => base.filter(AsciiFoldingFilter).build(),
    }
}

#[derive(Clone, Copy)]
struct Fields {
    id: tantivy::schema::Field,
    kind: tantivy::schema::Field,
    jurisdiction: tantivy::schema::Field,
    group: tantivy::schema::Field,
    instrument: tantivy::schema::Field,
    lang: tantivy::schema::Field,
    offence: tantivy::schema::Field,
    year: tantivy::schema::Field,
    number: tantivy::schema::Field,
    facet: tantivy::schema::Field,
    meta: tantivy::schema::Field,
    title: [tantivy::schema::Field; 5],
    body: [tantivy::schema::Field; 5],
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |name: &str| {
        TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(name)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
            .set_stored()
    };
    let id = b.add_text_field("id", STRING | STORED | FAST);
    let kind = b.add_text_field("kind", STRING | STORED);
    let jurisdiction = b.add_text_field("jurisdiction", STRING | STORED);
    let group = b.add_text_field("group", STRING | STORED);
    let instrument = b.add_text_field("instrument", STRING);
    let lang = b.add_text_field("lang", STRING);
    let offence = b.add_text_field("offence", STRING);
    let year = b.add_text_field("year", STRING);
    let number = b.add_text_field("number", STRING);
    let facet = b.add_facet_field("facet", FacetOptions::default());
    let meta = b.add_text_field("meta", STORED);
    let title =
        LANGS.map(|(l, _)| b.add_text_field(&format!("title_{l}"), text(&format!("lang_{l}"))));
    let body =
        LANGS.map(|(l, _)| b.add_text_field(&format!("body_{l}"), text(&format!("lang_{l}"))));
    (
        b.build(),
        Fields {
            id,
            kind,
            jurisdiction,
            group,
            instrument,
            lang,
            offence,
            year,
            number,
            facet,
            meta,
            title,
            body,
        },
    )
}

fn register(index: &Index) {
    for (name, lang) in LANGS {
        index
            .tokenizers()
            .register(&format!("lang_{name}"), analyzer(lang));
    }
}

/// What a hit shows without going back to the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    titles: BTreeMap<String, String>,
    original: String,
    instrument_title: Option<String>,
    label: Option<String>,
    path: Vec<String>,
    citation: String,
    date: Option<String>,
}

/// Search parameters.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub query: String,
    /// Exact filters, as if written `field:value` in the query.
    pub filters: Vec<(query::Field, String)>,
    pub limit: usize,
    pub offset: usize,
    /// The reader's language: titles shown in it when available.
    pub lang: String,
}

/// A piece of a snippet, highlighted or not.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Fragment {
    pub text: String,
    pub highlighted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub id: String,
    pub content_type: String,
    pub jurisdiction: String,
    /// The instrument (for an article) or the document itself.
    pub group: String,
    pub title: String,
    pub label: Option<String>,
    pub instrument_title: Option<String>,
    pub path: Vec<String>,
    pub citation: String,
    pub language: String,
    pub date: Option<String>,
    pub score: f32,
    pub snippet: Vec<Fragment>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FacetValue {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub group: String,
    pub title: String,
    /// Indexes into `hits`.
    pub hits: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub total: usize,
    pub hits: Vec<Hit>,
    pub groups: Vec<Group>,
    /// country, type, lang, instrument, offence, year → values by count.
    pub facets: BTreeMap<String, Vec<FacetValue>>,
    /// Offence categories the query named: their mapped provisions are
    /// found whatever their language.
    pub bridged: Vec<String>,
    pub took_micros: u128,
}

const FACETS: [&str; 6] = ["country", "type", "lang", "instrument", "offence", "year"];

struct Loaded {
    generation: i64,
    reader: IndexReader,
    fields: Fields,
    analyzers: Vec<TextAnalyzer>,
    /// Each segment's document identifiers by document number, read once
    /// when the generation is opened: looking one up in the fast field's
    /// dictionary per hit cost more than the search itself.
    ids: Vec<Vec<Box<str>>>,
}

/// The index of the knowledge repository, swapped whole on rebuild.
pub struct KnowledgeIndex {
    root: PathBuf,
    current: RwLock<Option<Arc<Loaded>>>,
}

/// Sizes after a build.
#[derive(Debug, Clone, Serialize)]
pub struct BuildStats {
    pub generation: i64,
    pub documents: u64,
    pub bytes: u64,
    pub seconds: f64,
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn open_dir(dir: &Path, generation: i64) -> SearchResult<Loaded> {
    let index = Index::open_in_dir(dir)?;
    register(&index);
    let (_, fields) = schema();
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?;
    let analyzers = LANGS.iter().map(|(_, l)| analyzer(*l)).collect();
    let searcher = reader.searcher();
    let mut ids = Vec::with_capacity(searcher.segment_readers().len());
    for segment in searcher.segment_readers() {
        let mut per_doc: Vec<Box<str>> = vec![Box::from(""); segment.max_doc() as usize];
        if let Some(column) = segment.fast_fields().str("id")? {
            // The dictionary in order once, then each document's ordinal.
            let mut terms: Vec<Box<str>> = Vec::with_capacity(column.num_terms());
            let mut stream = column.dictionary().stream()?;
            while stream.advance() {
                terms.push(Box::from(String::from_utf8_lossy(stream.key()).as_ref()));
            }
            for (doc, slot) in per_doc.iter_mut().enumerate() {
                let doc = u32::try_from(doc).unwrap_or(u32::MAX);
                if let Some(term) = column
                    .term_ords(doc)
                    .next()
                    .and_then(|ord| terms.get(usize::try_from(ord).ok()?))
                {
                    slot.clone_from(term);
                }
            }
        }
        ids.push(per_doc);
    }
    Ok(Loaded {
        generation,
        reader,
        fields,
        analyzers,
        ids,
    })
}

impl KnowledgeIndex {
    /// Opens the newest complete generation under `root` (none yet is
    /// fine) and removes leftovers of interrupted builds and older
    /// generations.
    pub fn open(root: impl Into<PathBuf>) -> SearchResult<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        let mut complete = Vec::new();
        for e in std::fs::read_dir(&root)?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".partial") {
                let _ = std::fs::remove_dir_all(e.path());
            } else if let Some(g) = name
                .strip_prefix("gen-")
                .and_then(|g| g.parse::<i64>().ok())
            {
                if e.path().join("meta.json").exists() {
                    complete.push((g, e.path()));
                } else {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        complete.sort();
        let newest = complete.pop();
        for (_, old) in complete {
            let _ = std::fs::remove_dir_all(old);
        }
        let current = match newest {
            Some((g, dir)) => match open_dir(&dir, g) {
                Ok(l) => Some(Arc::new(l)),
                Err(_) => {
                    // Unreadable: it will be rebuilt from the database.
                    let _ = std::fs::remove_dir_all(dir);
                    None
                }
            },
            None => None,
        };
        Ok(Self {
            root,
            current: RwLock::new(current),
        })
    }

    /// The database generation the current index was built from.
    pub fn generation(&self) -> Option<i64> {
        self.loaded().map(|l| l.generation)
    }

    fn loaded(&self) -> Option<Arc<Loaded>> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// Starts building generation `generation` beside the current one.
    pub fn builder(&self, generation: i64) -> SearchResult<IndexBuilder<'_>> {
        let dir = self.root.join(format!("gen-{generation}.partial"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let (schema, fields) = schema();
        let index = Index::create_in_dir(&dir, schema)?;
        register(&index);
        let writer = index.writer_with_num_threads(2, 256 * 1024 * 1024)?;
        Ok(IndexBuilder {
            owner: self,
            generation,
            dir,
            index,
            writer,
            fields,
            count: 0,
            started: Instant::now(),
        })
    }

    /// Searches the current index.
    /// The tantivy query for a request, and the offence categories the
    /// query named.
    fn build_query(
        loaded: &Loaded,
        req: &SearchRequest,
        taxonomy: &Taxonomy,
    ) -> SearchResult<(Box<dyn Query>, Vec<String>)> {
        let f = loaded.fields;
        let parsed = query::parse(&req.query)?;
        let mut must: Vec<Box<dyn Query>> = Vec::new();
        let mut positive: Vec<&query::Node> = Vec::new();
        let mut excluded: Vec<Box<dyn Query>> = Vec::new();
        let mut bridged = Vec::new();
        if let Some(node) = &parsed {
            bridged = taxonomy.named_in(&query::free_text(node));
            // Top-level filters stay outside the bridge so that it cannot
            // widen a filtered search.
            let top: Vec<&query::Node> = match node {
                query::Node::And(items) => items.iter().collect(),
                other => vec![other],
            };
            for n in top {
                match n {
                    query::Node::Field(field, _) if field.is_filter() => {
                        if let Some(q) = build(loaded, n) {
                            must.push(q);
                        }
                    }
                    // Excluded in every language.
                    query::Node::Not(inner) => {
                        if let Some(q) = build(loaded, inner) {
                            excluded.push(q);
                        }
                    }
                    other => positive.push(other),
                }
            }
        }
        for (field, value) in &req.filters {
            if let Some(q) = filter_query(&f, *field, value) {
                must.push(q);
            }
        }
        // The words must all be found in the text of one language: one
        // sub-query per language, OR-ed. Each is then an intersection of
        // plain term scorers, which tantivy advances by skipping, instead of
        // an intersection of five-field unions it would have to read whole.
        // A single word stays a flat union of terms, which it prunes
        // (block-max WAND).
        let mut analysed = Analysed::default();
        let per_language: Vec<(Occur, Box<dyn Query>)> = (0..LANGS.len())
            .filter_map(|slot| {
                let clauses: Vec<(Occur, Box<dyn Query>)> = positive
                    .iter()
                    .filter_map(|n| build_in(loaded, n, slot, &mut analysed))
                    .map(|q| (Occur::Must, q))
                    .collect();
                match clauses.len() {
                    0 => None,
                    1 => clauses.into_iter().next().map(|(_, q)| q),
                    _ => Some(Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>),
                }
            })
            .map(|q| (Occur::Should, q))
            .collect();
        let mut text_query: Option<Box<dyn Query>> = match per_language.len() {
            0 => None,
            1 => per_language.into_iter().next().map(|(_, q)| q),
            _ => Some(Box::new(BooleanQuery::new(per_language))),
        };
        if !bridged.is_empty() {
            let bridge: Vec<(Occur, Box<dyn Query>)> = bridged
                .iter()
                .map(|id| {
                    let q: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_field_text(f.offence, id),
                        IndexRecordOption::Basic,
                    ));
                    (Occur::Should, q)
                })
                .collect();
            let bridge: Box<dyn Query> =
                Box::new(BoostQuery::new(Box::new(BooleanQuery::new(bridge)), 4.0));
            text_query = Some(match text_query {
                Some(t) => Box::new(BooleanQuery::new(vec![
                    (Occur::Should, t),
                    (Occur::Should, bridge),
                ])),
                None => bridge,
            });
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            must.into_iter().map(|q| (Occur::Must, q)).collect();
        match text_query {
            Some(t) => clauses.push((Occur::Must, t)),
            None => clauses.push((Occur::Must, Box::new(AllQuery))),
        }
        for q in excluded {
            clauses.push((Occur::MustNot, q));
        }
        // A lone required clause is the query itself: wrapped, tantivy
        // could not see a union of terms and prune it (block-max WAND).
        if clauses.len() == 1 && clauses[0].0 == Occur::Must {
            if let Some((_, q)) = clauses.pop() {
                return Ok((q, bridged));
            }
        }
        Ok((Box::new(BooleanQuery::new(clauses)), bridged))
    }

    /// The identifiers of the best `limit` documents only (no count,
    /// facets or snippets): what the benchmark compares with other
    /// engines' top-10 queries.
    pub fn top_ids(&self, req: &SearchRequest, taxonomy: &Taxonomy) -> SearchResult<Vec<String>> {
        let loaded = self.loaded().ok_or(SearchError::NotReady)?;
        let (q, _) = Self::build_query(&loaded, req, taxonomy)?;
        let searcher = loaded.reader.searcher();
        let top = searcher.search(&q, &TopDocs::with_limit(req.limit.clamp(1, 200)))?;
        Ok(top
            .into_iter()
            .map(|(_, addr)| {
                loaded
                    .ids
                    .get(addr.segment_ord as usize)
                    .and_then(|seg| seg.get(addr.doc_id as usize))
                    .map(|id| id.to_string())
                    .unwrap_or_default()
            })
            .collect())
    }

    pub fn search(&self, req: &SearchRequest, taxonomy: &Taxonomy) -> SearchResult<SearchResults> {
        let started = Instant::now();
        let loaded = self.loaded().ok_or(SearchError::NotReady)?;
        let f = loaded.fields;
        let (final_query, bridged) = Self::build_query(&loaded, req, taxonomy)?;
        let final_query = final_query.as_ref();
        let searcher = loaded.reader.searcher();
        let limit = req.limit.clamp(1, 200);
        let mut facets = FacetCollector::for_field("facet");
        for name in FACETS {
            facets.add_facet(Facet::from(&format!("/{name}")));
        }
        let (top, total, facet_counts) = searcher.search(
            final_query,
            &(
                TopDocs::with_limit(limit).and_offset(req.offset),
                Count,
                facets,
            ),
        )?;
        // Snippet generators only for the languages of the hits shown.
        let mut generators: Vec<Option<Option<SnippetGenerator>>> =
            (0..LANGS.len()).map(|_| None).collect();
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let get = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let meta: Meta = serde_json::from_str(&get(f.meta))
                .map_err(|e| SearchError::Index(format!("stored metadata: {e}")))?;
            let slot = lang_slot(&meta.original);
            if generators[slot].is_none() {
                generators[slot] = Some(
                    SnippetGenerator::create(&searcher, final_query, f.body[slot])
                        .ok()
                        .map(|mut g| {
                            g.set_max_num_chars(240);
                            g
                        }),
                );
            }
            let snippet = generators[slot]
                .as_ref()
                .and_then(Option::as_ref)
                .map(|g| {
                    let s = g.snippet_from_doc(&doc);
                    fragments(s.fragment(), s.highlighted())
                })
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| {
                    let body = doc
                        .get_first(f.body[slot])
                        .and_then(|v| v.as_str())
                        .unwrap_or_default();
                    vec![Fragment {
                        text: entraide_knowledge::text::excerpt(body, 240),
                        highlighted: false,
                    }]
                });
            let title = meta
                .titles
                .get(&req.lang)
                .or_else(|| meta.titles.get(&meta.original))
                .cloned()
                .unwrap_or_default();
            hits.push(Hit {
                id: get(f.id),
                content_type: get(f.kind),
                jurisdiction: get(f.jurisdiction),
                group: get(f.group),
                title,
                label: meta.label,
                instrument_title: meta.instrument_title,
                path: meta.path,
                citation: meta.citation,
                language: meta.original,
                date: meta.date,
                score,
                snippet,
            });
        }
        let mut groups: Vec<Group> = Vec::new();
        for (i, h) in hits.iter().enumerate() {
            match groups.iter_mut().find(|g| g.group == h.group) {
                Some(g) => g.hits.push(i),
                None => groups.push(Group {
                    group: h.group.clone(),
                    title: h
                        .instrument_title
                        .clone()
                        .unwrap_or_else(|| h.title.clone()),
                    hits: vec![i],
                }),
            }
        }
        let mut facet_map = BTreeMap::new();
        for name in FACETS {
            let root = format!("/{name}");
            let mut values: Vec<FacetValue> = facet_counts
                .get(&root)
                .map(|(facet, count)| FacetValue {
                    value: facet
                        .to_path()
                        .last()
                        .map(|s| (*s).to_owned())
                        .unwrap_or_default(),
                    count,
                })
                .collect();
            values.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
            values.truncate(25);
            facet_map.insert(name.to_owned(), values);
        }
        Ok(SearchResults {
            total,
            hits,
            groups,
            facets: facet_map,
            bridged,
            took_micros: started.elapsed().as_micros(),
        })
    }
}

fn fragments(text: &str, ranges: &[std::ops::Range<usize>]) -> Vec<Fragment> {
    let mut out = Vec::new();
    let mut at = 0;
    for r in ranges {
        let (start, end) = (r.start, r.end);
        if start < at
            || end > text.len()
            || !text.is_char_boundary(start)
            || !text.is_char_boundary(end)
        {
            continue;
        }
        if start > at {
            out.push(Fragment {
                text: text[at..start].to_owned(),
                highlighted: false,
            });
        }
        out.push(Fragment {
            text: text[start..end].to_owned(),
            highlighted: true,
        });
        at = end;
    }
    if at < text.len() {
        out.push(Fragment {
            text: text[at..].to_owned(),
            highlighted: false,
        });
    }
    out
}

fn filter_query(f: &Fields, field: query::Field, value: &str) -> Option<Box<dyn Query>> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    let (target, v) = match field {
        query::Field::Country => (
            f.jurisdiction,
            Jurisdiction::parse(v)
                .map(|j| j.code())
                .unwrap_or_else(|_| v.to_uppercase()),
        ),
        query::Field::Type => (f.kind, v.to_lowercase()),
        query::Field::Lang => (f.lang, v.to_lowercase()),
        query::Field::Instrument => (f.instrument, v.to_owned()),
        query::Field::Offence => (f.offence, v.to_lowercase()),
        query::Field::Year => (f.year, v.to_owned()),
        query::Field::Number => (f.number, v.to_lowercase()),
        query::Field::Title | query::Field::Text => return None,
    };
    Some(Box::new(TermQuery::new(
        Term::from_field_text(target, &v),
        IndexRecordOption::Basic,
    )))
}

/// Tokens of `text` for language slot `slot`: (position, token).
fn analyse(loaded: &Loaded, slot: usize, text: &str) -> Vec<(usize, String)> {
    let mut a = loaded.analyzers[slot].clone();
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while let Some(t) = stream.next() {
        out.push((t.position, t.text.clone()));
    }
    out
}

/// A text's tokens, (position, token), for each language slot.
type PerSlot = Arc<Vec<Vec<(usize, String)>>>;

/// Each word or phrase of a query analysed once per language slot.
#[derive(Default)]
struct Analysed(std::collections::HashMap<String, PerSlot>);

impl Analysed {
    fn get(&mut self, loaded: &Loaded, text: &str) -> PerSlot {
        self.0
            .entry(text.to_owned())
            .or_insert_with(|| {
                Arc::new(
                    (0..LANGS.len())
                        .map(|slot| analyse(loaded, slot, text))
                        .collect(),
                )
            })
            .clone()
    }
}

/// A word or phrase in the title and/or body field of one language slot
/// (titles count double); `None` when it has no words there.
fn leaf_in(
    loaded: &Loaded,
    text: &str,
    slot: usize,
    titles: bool,
    bodies: bool,
    analysed: &mut Analysed,
) -> Option<Box<dyn Query>> {
    let f = loaded.fields;
    let per_slot = analysed.get(loaded, text);
    // A single word that is a stop word in one language ("de", "la") is
    // not required in any: that language's texts do not index it.
    let is_word = per_slot.last().is_some_and(|plain| plain.len() == 1);
    if is_word && per_slot.iter().any(Vec::is_empty) {
        return None;
    }
    let tokens = per_slot.get(slot)?;
    if tokens.is_empty() {
        return None;
    }
    let mut targets = Vec::new();
    if titles {
        targets.push((f.title[slot], 2.0));
    }
    if bodies {
        targets.push((f.body[slot], 1.0));
    }
    let mut queries: Vec<Box<dyn Query>> = targets
        .into_iter()
        .map(|(field, boost)| {
            let q: Box<dyn Query> = if tokens.len() == 1 {
                Box::new(TermQuery::new(
                    Term::from_field_text(field, &tokens[0].1),
                    IndexRecordOption::WithFreqs,
                ))
            } else {
                let first = tokens[0].0;
                Box::new(PhraseQuery::new_with_offset(
                    tokens
                        .iter()
                        .map(|(p, t)| (p - first, Term::from_field_text(field, t)))
                        .collect(),
                ))
            };
            // Body terms keep their plain form (no boost wrapper) so that a
            // union of them stays prunable.
            if boost == 1.0 {
                q
            } else {
                Box::new(BoostQuery::new(q, boost))
            }
        })
        .collect();
    match queries.len() {
        0 => None,
        1 => queries.pop(),
        _ => Some(Box::new(BooleanQuery::new(
            queries.into_iter().map(|q| (Occur::Should, q)).collect(),
        ))),
    }
}

/// A word or phrase searched in the title and body fields of every
/// language (titles count double).
fn text_query(loaded: &Loaded, text: &str, titles: bool, bodies: bool) -> Option<Box<dyn Query>> {
    let mut analysed = Analysed::default();
    let should: Vec<(Occur, Box<dyn Query>)> = (0..LANGS.len())
        .filter_map(|slot| leaf_in(loaded, text, slot, titles, bodies, &mut analysed))
        .map(|q| (Occur::Should, q))
        .collect();
    (!should.is_empty()).then(|| Box::new(BooleanQuery::new(should)) as Box<dyn Query>)
}

/// Makes the query of a word or phrase: (text, in titles, in bodies).
type LeafBuilder<'a> = dyn FnMut(&str, bool, bool) -> Option<Box<dyn Query>> + 'a;

/// The query for `node`: its words and phrases made by `leaf`, its field
/// filters the same whatever the language.
fn build_with(
    loaded: &Loaded,
    node: &query::Node,
    leaf: &mut LeafBuilder<'_>,
) -> Option<Box<dyn Query>> {
    use query::Node;
    match node {
        Node::Word(w) | Node::Phrase(w) => leaf(w, false, true),
        Node::Field(field, inner) => {
            let value = match inner.as_ref() {
                Node::Word(v) | Node::Phrase(v) => v,
                _ => return None,
            };
            match field {
                query::Field::Title => leaf(value, true, false),
                query::Field::Text => leaf(value, false, true),
                _ => filter_query(&loaded.fields, *field, value),
            }
        }
        Node::And(items) => {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = items
                .iter()
                .filter_map(|n| match n {
                    Node::Not(inner) => {
                        build_with(loaded, inner, leaf).map(|q| (Occur::MustNot, q))
                    }
                    other => build_with(loaded, other, leaf).map(|q| (Occur::Must, q)),
                })
                .collect();
            if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                if clauses.is_empty() {
                    return None;
                }
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            Some(Box::new(BooleanQuery::new(clauses)))
        }
        Node::Or(items) => {
            let clauses: Vec<(Occur, Box<dyn Query>)> = items
                .iter()
                .filter_map(|n| build_with(loaded, n, leaf).map(|q| (Occur::Should, q)))
                .collect();
            (!clauses.is_empty()).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
        }
        Node::Not(inner) => build_with(loaded, inner, leaf).map(|q| {
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery) as Box<dyn Query>),
                (Occur::MustNot, q),
            ])) as Box<dyn Query>
        }),
    }
}

/// The query for `node` in the text of one language slot.
fn build_in(
    loaded: &Loaded,
    node: &query::Node,
    slot: usize,
    analysed: &mut Analysed,
) -> Option<Box<dyn Query>> {
    build_with(loaded, node, &mut |text, titles, bodies| {
        leaf_in(loaded, text, slot, titles, bodies, analysed)
    })
}

/// The query for `node`, each word found in the text of any language.
fn build(loaded: &Loaded, node: &query::Node) -> Option<Box<dyn Query>> {
    build_with(loaded, node, &mut |text, titles, bodies| {
        text_query(loaded, text, titles, bodies)
    })
}

/// Adds documents to a generation being built; `finish` makes it current.
pub struct IndexBuilder<'a> {
    owner: &'a KnowledgeIndex,
    generation: i64,
    dir: PathBuf,
    index: Index,
    writer: IndexWriter,
    fields: Fields,
    count: u64,
    started: Instant,
}

impl IndexBuilder<'_> {
    pub fn add(&mut self, d: &Document, taxonomy: &Taxonomy) -> SearchResult<()> {
        let f = self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &d.id);
        doc.add_text(f.kind, d.content_type.as_str());
        let place = d.jurisdiction.code();
        doc.add_text(f.jurisdiction, &place);
        let group = d.instrument.clone().unwrap_or_else(|| d.id.clone());
        doc.add_text(f.group, &group);
        doc.add_text(f.instrument, &group);
        doc.add_facet(f.facet, Facet::from_path(["country", place.as_str()]));
        doc.add_facet(f.facet, Facet::from_path(["type", d.content_type.as_str()]));
        doc.add_facet(f.facet, Facet::from_path(["instrument", group.as_str()]));
        if let Some(n) = &d.number {
            doc.add_text(f.number, entraide_knowledge::article_slug(n));
        }
        if let Some(y) = d.year() {
            let y = y.to_string();
            doc.add_text(f.year, &y);
            doc.add_facet(f.facet, Facet::from_path(["year", y.as_str()]));
        }
        let mut offences = taxonomy.offences_of(&d.id);
        if let Some(entraide_knowledge::Record::Offence(o)) = &d.record {
            offences.push(o.id.clone());
        }
        if let Some(entraide_knowledge::Record::CaseLaw(c)) = &d.record {
            offences.extend(c.offences.iter().cloned());
        }
        offences.sort();
        offences.dedup();
        for o in &offences {
            doc.add_text(f.offence, o);
            doc.add_facet(f.facet, Facet::from_path(["offence", o.as_str()]));
        }
        let mut titles = BTreeMap::new();
        for t in &d.texts {
            let slot = lang_slot(&t.lang);
            doc.add_text(f.lang, &t.lang);
            doc.add_facet(f.facet, Facet::from_path(["lang", t.lang.as_str()]));
            doc.add_text(f.title[slot], &t.title);
            // The title is searched with the text (one posting list per
            // language and word instead of two).
            doc.add_text(f.body[slot], &t.title);
            doc.add_text(f.body[slot], &t.text);
            titles.insert(t.lang.clone(), t.title.clone());
        }
        let meta = Meta {
            titles,
            original: d.original_language().to_owned(),
            instrument_title: d.instrument_title.clone(),
            label: d.label.clone(),
            path: d.path.clone(),
            citation: d.citation(d.original_language()),
            date: d.date.map(|x| x.to_string()),
        };
        doc.add_text(
            f.meta,
            serde_json::to_string(&meta).map_err(|e| SearchError::Index(e.to_string()))?,
        );
        self.writer.add_document(doc)?;
        self.count += 1;
        Ok(())
    }

    /// Commits, renames the directory to its final name and makes it the
    /// current index; the previous generation is removed.
    pub fn finish(mut self) -> SearchResult<BuildStats> {
        self.writer.commit()?;
        // One segment: every term of a query is then looked up once, not
        // once per segment. The index is rebuilt whole, never updated, so
        // it is merged once here.
        let segments = self.index.searchable_segment_ids()?;
        if segments.len() > 1 {
            self.writer.merge(&segments).wait()?;
        }
        self.writer.wait_merging_threads()?;
        let final_dir = self.owner.root.join(format!("gen-{}", self.generation));
        let _ = std::fs::remove_dir_all(&final_dir);
        std::fs::rename(&self.dir, &final_dir)?;
        let loaded = Arc::new(open_dir(&final_dir, self.generation)?);
        loaded.reader.reload()?;
        let old = {
            let mut cur = self
                .owner
                .current
                .write()
                .map_err(|_| SearchError::Index("index lock poisoned".into()))?;
            cur.replace(loaded)
        };
        if let Some(old) = old {
            if old.generation != self.generation {
                let dir = self.owner.root.join(format!("gen-{}", old.generation));
                drop(old);
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        Ok(BuildStats {
            generation: self.generation,
            documents: self.count,
            bytes: dir_size(&final_dir),
            seconds: self.started.elapsed().as_secs_f64(),
        })
    }
}
