//! The whole of `shared/corpus/` parses, with article counts and the
//! hierarchy checked for a sample of laws, and the project's own starter
//! content (`data/knowledge/`) reads and refers only to articles that
//! exist.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use entraide_knowledge::markdown::{self, ParsedInstrument};
use entraide_knowledge::{bundle, Document};

fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: {} not found", p.display());
        None
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if !p.ends_with("_upstream") {
                files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "md") && !p.ends_with("README.md") {
            out.push(p);
        }
    }
}

/// The corpus folders in the formats the Markdown importer reads. The
/// corpus README describes the others, not imported yet: `zh/` (Chinese),
/// `ru/` (Russian, HTML), `ar-lang/` (Arabic, articles numbered in words)
/// and `in/` (Akoma Ntoso XML) — the knowledge and UN-language issues.
pub const MARKDOWN_FOLDERS: [&str; 6] = ["ar", "eu", "fr", "intl", "uk", "us"];

fn parse_all(root: &Path) -> HashMap<String, ParsedInstrument> {
    let mut paths = Vec::new();
    for folder in MARKDOWN_FOLDERS {
        files(&root.join(folder), &mut paths);
    }
    let mut out = HashMap::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap();
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        let parsed = markdown::parse(&p.display().to_string(), &stem, &text)
            .unwrap_or_else(|e| panic!("{e}"));
        for i in parsed.instruments {
            assert!(
                out.insert(i.instrument.id.clone(), i).is_none(),
                "duplicate instrument"
            );
        }
    }
    out
}

fn article<'a>(i: &'a ParsedInstrument, slug: &str) -> &'a Document {
    let id = format!("{}:{slug}", i.instrument.id);
    i.articles
        .iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("{id} not found"))
}

#[test]
fn the_whole_corpus_parses_into_articles_with_their_hierarchy() {
    let Some(root) = corpus() else { return };
    let all = parse_all(&root);
    // 83 French codes, 3 Argentine laws, UK, US, EU, and the Budapest
    // Convention in English and Dutch.
    assert_eq!(
        all.len(),
        83 + 3 + 1 + 1 + 1 + 2,
        "{:?}",
        all.keys().collect::<Vec<_>>()
    );
    let total: usize = all.values().map(|i| i.articles.len()).sum();
    assert!(total > 50_000, "{total} articles");

    let cp = &all["LEGITEXT000006070719"];
    assert_eq!(cp.instrument.texts[0].title, "Code pénal");
    assert!(
        (1300..1400).contains(&cp.articles.len()),
        "{}",
        cp.articles.len()
    );
    let a = article(cp, "323-1");
    assert_eq!(a.path[0], "Partie législative");
    assert!(
        a.path.iter().any(|p| p.starts_with("Livre III")),
        "{:?}",
        a.path
    );
    assert!(
        a.path.iter().any(|p| p.starts_with("Chapitre III")),
        "{:?}",
        a.path
    );
    assert!(a.texts[0].text.contains("frauduleusement"));

    // The 2010 Code de procédure pénale marks articles on plain lines.
    let cpp = &all["LEGITEXT000006071154"];
    assert!(cpp.articles.len() > 1500, "{}", cpp.articles.len());
    assert!(article(cpp, "60-2").texts[0].text.len() > 50);

    let cma = &all["ukpga-1990-18"];
    let s1 = article(cma, "1");
    assert_eq!(
        s1.texts[0].title,
        "Unauthorised access to computer material"
    );
    assert_eq!(s1.path, vec!["Computer misuse offences"]);
    assert_eq!(s1.jurisdiction.code(), "GB");

    let us = &all["USC-T18-S1030"];
    assert_eq!(us.articles.len(), 1);
    assert!(article(us, "1030").texts[0].text.contains("Whoever"));

    let eu = &all["32023R1543"];
    assert!(
        (34..=40).contains(&eu.articles.len()),
        "{}",
        eu.articles.len()
    );
    assert_eq!(article(eu, "10").texts[0].title, "Execution of an EPOC");

    let bud = &all["ets185-budapest-convention"];
    assert_eq!(bud.instrument.texts[0].title, "Convention on Cybercrime");
    assert_eq!(bud.articles.len(), 48);
    let a29 = article(bud, "29");
    assert_eq!(
        a29.texts[0].title,
        "Expedited preservation of stored computer data"
    );
    assert!(
        a29.path.iter().any(|p| p.contains("CHAPTER III")),
        "{:?}",
        a29.path
    );
    let nl = &all["ets185-budapest-convention-nl"];
    assert_eq!(nl.articles.len(), 48);
    assert_eq!(nl.articles[0].texts[0].lang, "nl");

    let ar = &all["LEY-11179"];
    let bis = article(ar, "153-bis");
    assert!(
        bis.texts[0].text.starts_with("Será reprimido con prisión"),
        "{}",
        bis.texts[0].text
    );
    assert!(
        bis.path.iter().any(|p| p.starts_with("LIBRO SEGUNDO")),
        "{:?}",
        bis.path
    );
    // Wrapped lines upstream turned into headings are not articles.
    assert!(ar.articles.iter().all(|a| a
        .label
        .as_deref()
        .is_some_and(|l| l.starts_with("Artículo"))));
    assert!(!ar.articles.iter().any(|a| a.id.ends_with(":86~2")));
}

#[test]
fn starter_content_reads_and_points_at_existing_articles() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/knowledge");
    let mut docs = Vec::new();
    let mut refs = Vec::new();
    for name in ["treaties", "countries", "offences", "case-law", "practices"] {
        let path = data.join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path).unwrap();
        let b = bundle::parse(name, &text).unwrap_or_else(|e| panic!("{e}"));
        for o in &b.offences {
            refs.extend(o.provisions.iter().filter_map(|p| p.reference.clone()));
        }
        for p in &b.country_profiles {
            refs.extend(p.powers.iter().filter_map(|e| e.reference.clone()));
            refs.extend(p.retention.iter().filter_map(|e| e.reference.clone()));
        }
        docs.extend(bundle::documents(&b));
    }
    assert!(docs.iter().filter(|d| d.id.starts_with("country:")).count() >= 10);
    let Some(root) = corpus() else { return };
    let all = parse_all(&root);
    let ids: HashSet<&str> = all
        .values()
        .flat_map(|i| i.articles.iter().map(|a| a.id.as_str()))
        .collect();
    let missing: Vec<&String> = refs.iter().filter(|r| !ids.contains(r.as_str())).collect();
    assert!(
        missing.is_empty(),
        "references to missing articles: {missing:?}"
    );
}
