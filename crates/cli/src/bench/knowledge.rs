//! `entraide bench knowledge`: the knowledge index against SQLite FTS5 and
//! PostgreSQL full-text search on the same documents (every article of
//! `shared/corpus/`) and the same queries in English, French and Spanish.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use entraide_knowledge::taxonomy::Taxonomy;
use entraide_knowledge::{markdown, Document};
use entraide_search::{KnowledgeIndex, SearchRequest};
use sqlx::Row;

pub struct Args {
    pub corpus: PathBuf,
    pub database_url: Option<String>,
    pub repeat: usize,
    /// Also print each query's median in every engine.
    pub per_query: bool,
}

/// The fixed query set: 20 per language, words, phrases and operators, in
/// the index's syntax (translated for the other engines).
pub const QUERIES: [&str; 60] = [
    // English
    "computer system",
    "illegal access",
    "unauthorised access to computer material",
    "\"traffic data\"",
    "preservation of stored computer data",
    "subscriber information",
    "interception of content data",
    "production order",
    "mutual assistance",
    "data interference",
    "child pornography",
    "copyright infringement",
    "\"service provider\"",
    "\"expedited preservation\"",
    "extradition",
    "search warrant",
    "fraud computer",
    "emergency",
    "interception OR wiretapping",
    "data NOT traffic",
    // French
    "accès frauduleux",
    "système de traitement automatisé de données",
    "\"données informatiques\"",
    "conservation des données",
    "réquisition opérateur",
    "interception des correspondances",
    "escroquerie",
    "usurpation identité",
    "perquisition saisie",
    "entraide judiciaire internationale",
    "communications électroniques",
    "\"données de connexion\"",
    "harcèlement",
    "contrefaçon",
    "blanchiment",
    "terrorisme",
    "mineur image pornographique",
    "atteinte vie privée",
    "preuve numérique",
    "intercepter OR interception",
    // Spanish
    "acceso ilegítimo",
    "sistema informático",
    "daño informático",
    "estafa",
    "\"datos informáticos\"",
    "pornografía infantil",
    "violación de secretos",
    "correspondencia electrónica",
    "falsificación de documentos",
    "extorsión",
    "conservación de datos",
    "pena de prisión",
    "comunicaciones electrónicas",
    "cooperación internacional",
    "reservas convenio",
    "autoridad competente",
    "delito informático",
    "funcionario público",
    "secuestro",
    "estafa OR defraudación",
];

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn dir_bytes(p: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                total += dir_bytes(&path);
            } else if let Ok(m) = e.metadata() {
                total += m.len();
            }
        }
    }
    total
}

fn load(corpus: &std::path::Path) -> Result<Vec<Document>> {
    let files = crate::knowledge::collect(&[corpus.to_owned()])?;
    let mut docs = Vec::new();
    for f in files {
        if f.extension().is_some_and(|e| e == "json") {
            continue;
        }
        let text = std::fs::read_to_string(&f)?;
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parsed =
            markdown::parse(&f.display().to_string(), &stem, &text).map_err(|e| anyhow!("{e}"))?;
        for i in parsed.instruments {
            docs.push(i.instrument);
            docs.extend(i.articles);
        }
    }
    Ok(docs)
}

/// FTS5: no `-word`, apostrophes and hyphens outside phrases split words.
fn fts5_query(q: &str) -> String {
    let mut out = String::new();
    let mut in_phrase = false;
    for c in q.chars() {
        if c == '"' {
            in_phrase = !in_phrase;
        }
        if !in_phrase && (c == '\'' || c == '’' || c == '-') {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// websearch_to_tsquery: `-word` for NOT.
fn pg_query(q: &str) -> String {
    q.replace("NOT ", "-")
}

/// Runs every query `repeat` times: each run's duration, and the hits
/// returned in all.
fn time_queries(
    repeat: usize,
    mut run: impl FnMut(&str) -> Result<usize>,
) -> Result<(Vec<Duration>, usize)> {
    let mut times = Vec::with_capacity(repeat * QUERIES.len());
    let mut hits = 0;
    for _ in 0..repeat {
        for q in QUERIES {
            let t = Instant::now();
            hits += run(q)?;
            times.push(t.elapsed());
        }
    }
    Ok((times, hits))
}

struct Engine {
    name: &'static str,
    index_seconds: f64,
    bytes: u64,
    times: Vec<Duration>,
    hits: usize,
}

impl Engine {
    fn row(&self) -> String {
        let mut t = self.times.clone();
        t.sort();
        format!(
            "| {} | {:.1} s | {:.0} MB | {:.3} ms | {:.3} ms | {:.2} ms | {} |",
            self.name,
            self.index_seconds,
            self.bytes as f64 / 1e6,
            percentile(&t, 0.5),
            percentile(&t, 0.95),
            percentile(&t, 1.0),
            self.hits
        )
    }
}

pub async fn run(args: Args) -> Result<()> {
    let temp = tempfile::tempdir()?;
    let started = Instant::now();
    let docs = load(&args.corpus).with_context(|| format!("reading {}", args.corpus.display()))?;
    let parse_s = started.elapsed().as_secs_f64();
    let bytes: usize = docs
        .iter()
        .map(|d| {
            d.texts
                .iter()
                .map(|t| t.text.len() + t.title.len())
                .sum::<usize>()
        })
        .sum();
    println!(
        "corpus: {} documents, {:.1} MB of text, parsed in {parse_s:.1} s; {} queries x {} runs",
        docs.len(),
        bytes as f64 / 1e6,
        QUERIES.len(),
        args.repeat
    );
    let mut engines = Vec::new();

    // The knowledge index (taxonomy bridge off: no offence categories).
    let root = temp.path().join("index");
    let index = KnowledgeIndex::open(&root).map_err(|e| anyhow!("{e}"))?;
    let taxonomy = Taxonomy::default();
    let t = Instant::now();
    let mut b = index.builder(1).map_err(|e| anyhow!("{e}"))?;
    for d in &docs {
        b.add(d, &taxonomy).map_err(|e| anyhow!("{e}"))?;
    }
    b.finish().map_err(|e| anyhow!("{e}"))?;
    let index_seconds = t.elapsed().as_secs_f64();
    let size = dir_bytes(&root);
    let request = |q: &str| SearchRequest {
        query: q.into(),
        filters: Vec::new(),
        limit: 10,
        offset: 0,
        lang: "en".into(),
    };
    // Top 10 by score, as the other engines are asked; then what the
    // node serves: top 10 with the total count, six facets over every
    // match, snippets and grouping.
    let (times, hits) = time_queries(args.repeat, |q| {
        index
            .top_ids(&request(q), &taxonomy)
            .map(|ids| ids.len())
            .map_err(|e| anyhow!("{q}: {e}"))
    })?;
    engines.push(Engine {
        name: "entraide (tantivy), top 10",
        index_seconds,
        bytes: size,
        times,
        hits,
    });
    let (times, hits) = time_queries(args.repeat, |q| {
        index
            .search(&request(q), &taxonomy)
            .map(|r| r.hits.len())
            .map_err(|e| anyhow!("{q}: {e}"))
    })?;
    engines.push(Engine {
        name: "entraide (tantivy), full page",
        index_seconds,
        bytes: size,
        times,
        hits,
    });

    // SQLite FTS5 (unicode61 with diacritics removed; FTS5 has no French
    // or Spanish stemmer).
    let db = temp.path().join("fts5.db");
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}?mode=rwc", db.display()))
        .await?;
    let t = Instant::now();
    sqlx::query("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, tokenize = 'unicode61 remove_diacritics 2')")
        .execute(&pool)
        .await?;
    let mut tx = pool.begin().await?;
    for d in &docs {
        let text = &d.texts[0];
        sqlx::query("INSERT INTO docs (id, title, body) VALUES (?1, ?2, ?3)")
            .bind(&d.id)
            .bind(&text.title)
            .bind(&text.text)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    sqlx::query("INSERT INTO docs(docs) VALUES('optimize')")
        .execute(&pool)
        .await?;
    let mut e = Engine {
        name: "SQLite FTS5",
        index_seconds: t.elapsed().as_secs_f64(),
        bytes: std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0),
        times: Vec::new(),
        hits: 0,
    };
    for _ in 0..args.repeat {
        for q in QUERIES {
            let fq = fts5_query(q);
            let t = Instant::now();
            let rows =
                sqlx::query("SELECT id FROM docs WHERE docs MATCH ?1 ORDER BY rank LIMIT 10")
                    .bind(&fq)
                    .fetch_all(&pool)
                    .await
                    .with_context(|| format!("FTS5 query {fq}"))?;
            e.times.push(t.elapsed());
            e.hits += rows.len();
        }
    }
    engines.push(e);
    pool.close().await;

    // PostgreSQL: tsvector per language configuration and a GIN index.
    if let Some(url) = &args.database_url {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(url)
            .await
            .context("cannot reach PostgreSQL")?;
        sqlx::query("DROP TABLE IF EXISTS bench_docs")
            .execute(&pool)
            .await?;
        let t = Instant::now();
        sqlx::query("CREATE TABLE bench_docs (id text PRIMARY KEY, lang text NOT NULL, title text NOT NULL, body text NOT NULL, tsv tsvector)")
            .execute(&pool)
            .await?;
        for chunk in docs.chunks(1_000) {
            let mut sql = String::from("INSERT INTO bench_docs (id, lang, title, body) VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${})",
                    i * 4 + 1,
                    i * 4 + 2,
                    i * 4 + 3,
                    i * 4 + 4
                ));
            }
            let mut q = sqlx::query(&sql);
            for d in chunk {
                let text = &d.texts[0];
                q = q
                    .bind(&d.id)
                    .bind(&text.lang)
                    .bind(&text.title)
                    .bind(&text.text);
            }
            q.execute(&pool).await?;
        }
        sqlx::query(
            "UPDATE bench_docs SET tsv = to_tsvector((CASE lang WHEN 'en' THEN 'english' WHEN 'fr' THEN 'french' \
             WHEN 'es' THEN 'spanish' WHEN 'nl' THEN 'dutch' ELSE 'simple' END)::regconfig, title || ' ' || body)",
        )
        .execute(&pool)
        .await?;
        sqlx::query("CREATE INDEX bench_docs_tsv ON bench_docs USING GIN (tsv)")
            .execute(&pool)
            .await?;
        sqlx::query("VACUUM ANALYZE bench_docs")
            .execute(&pool)
            .await?;
        let size: i64 = sqlx::query("SELECT pg_total_relation_size('bench_docs')")
            .fetch_one(&pool)
            .await?
            .try_get(0)?;
        let mut e = Engine {
            name: "PostgreSQL (tsvector + GIN)",
            index_seconds: t.elapsed().as_secs_f64(),
            bytes: u64::try_from(size).unwrap_or(0),
            times: Vec::new(),
            hits: 0,
        };
        for _ in 0..args.repeat {
            for q in QUERIES {
                let pq = pg_query(q);
                let t = Instant::now();
                let rows = sqlx::query(
                    "WITH q AS (SELECT websearch_to_tsquery('english', $1) || websearch_to_tsquery('french', $1) \
                     || websearch_to_tsquery('spanish', $1) AS q) \
                     SELECT id FROM bench_docs, q WHERE tsv @@ q.q ORDER BY ts_rank(tsv, q.q) DESC LIMIT 10",
                )
                .bind(&pq)
                .fetch_all(&pool)
                .await?;
                e.times.push(t.elapsed());
                e.hits += rows.len();
            }
        }
        engines.push(e);
        sqlx::query("DROP TABLE bench_docs").execute(&pool).await?;
    }

    println!();
    println!(
        "| engine | indexing | size | p50 | p95 | max | hits returned (top 10 x queries x runs) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for e in &engines {
        println!("{}", e.row());
    }
    let p50 = |e: &Engine| {
        let mut t = e.times.clone();
        t.sort();
        percentile(&t, 0.5)
    };
    if let Some(ours) = engines.first() {
        for other in engines.iter().skip(2) {
            println!(
                "p50 of {} / p50 of entraide top 10: {:.1}x",
                other.name,
                p50(other) / p50(ours).max(1e-9)
            );
        }
    }
    if args.per_query {
        // Times are kept in run order: run r, query i at r * QUERIES.len() + i.
        let median = |e: &Engine, i: usize| {
            let mut t: Vec<Duration> = e
                .times
                .iter()
                .skip(i)
                .step_by(QUERIES.len())
                .copied()
                .collect();
            t.sort();
            percentile(&t, 0.5)
        };
        println!();
        let names: Vec<&str> = engines.iter().map(|e| e.name).collect();
        println!("| query | {} |", names.join(" | "));
        println!("|---|{}", "---:|".repeat(engines.len()));
        for (i, q) in QUERIES.iter().enumerate() {
            let cells: Vec<String> = engines
                .iter()
                .map(|e| format!("{:.3} ms", median(e, i)))
                .collect();
            println!("| `{q}` | {} |", cells.join(" | "));
        }
    }
    Ok(())
}
