//! Search over real legislation from `shared/corpus/` and the project's own
//! starter content: stemming and accents per language, phrases, boolean
//! operators, field filters, facets, snippets, grouping by instrument, the
//! taxonomy bridge, query errors and rebuilds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use entraide_knowledge::bundle::{self, OffenceCategory};
use entraide_knowledge::taxonomy::Taxonomy;
use entraide_knowledge::{markdown, Document};
use entraide_search::query::Field;
use entraide_search::{KnowledgeIndex, SearchError, SearchRequest, SearchResults};

fn load() -> Option<(Vec<Document>, Vec<OffenceCategory>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = root.join("../shared/corpus");
    if !corpus.is_dir() {
        eprintln!("skipped: {} not found", corpus.display());
        return None;
    }
    let mut docs = Vec::new();
    for f in [
        "fr/LEGITEXT000006070719.md",
        "uk/ukpga-1990-18.md",
        "us/USC-T18-S1030.md",
        "intl/ets185-budapest-convention.md",
        "ar/LEY-11179.md",
    ] {
        let p = corpus.join(f);
        let text = std::fs::read_to_string(&p).unwrap();
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        for i in markdown::parse(f, &stem, &text).unwrap().instruments {
            docs.push(i.instrument);
            docs.extend(i.articles);
        }
    }
    let mut offences = Vec::new();
    for name in ["offences", "treaties", "countries"] {
        let text =
            std::fs::read_to_string(root.join(format!("data/knowledge/{name}.json"))).unwrap();
        let b = bundle::parse(name, &text).unwrap();
        offences.extend(b.offences.clone());
        docs.extend(bundle::documents(&b));
    }
    Some((docs, offences))
}

struct Fixture {
    _dir: tempfile::TempDir,
    index: KnowledgeIndex,
    taxonomy: Taxonomy,
}

fn fixture() -> Option<Fixture> {
    let (docs, offences) = load()?;
    let dir = tempfile::tempdir().unwrap();
    let index = KnowledgeIndex::open(dir.path().join("idx")).unwrap();
    let taxonomy = Taxonomy::new(&offences);
    let mut b = index.builder(1).unwrap();
    for d in &docs {
        b.add(d, &taxonomy).unwrap();
    }
    let stats = b.finish().unwrap();
    assert_eq!(stats.documents as usize, docs.len());
    Some(Fixture {
        _dir: dir,
        index,
        taxonomy,
    })
}

impl Fixture {
    fn search(&self, q: &str) -> SearchResults {
        self.search_with(q, vec![])
    }

    fn search_with(&self, q: &str, filters: Vec<(Field, String)>) -> SearchResults {
        self.index
            .search(
                &SearchRequest {
                    query: q.into(),
                    filters,
                    limit: 20,
                    offset: 0,
                    lang: "en".into(),
                },
                &self.taxonomy,
            )
            .unwrap()
    }

    fn ids(&self, q: &str) -> Vec<String> {
        self.search(q).hits.into_iter().map(|h| h.id).collect()
    }
}

#[test]
fn search_behaviour() {
    let Some(f) = fixture() else { return };

    // French stemming and accents: the plural and the unaccented form find
    // art. 323-1 ("accéder frauduleusement").
    let ids = f.ids("acceder frauduleusement systeme");
    assert!(
        ids.iter().any(|i| i == "LEGITEXT000006070719:323-1"),
        "{ids:?}"
    );
    let ids = f.ids("systèmes de traitement automatisé de données");
    assert!(
        ids.iter()
            .any(|i| i.starts_with("LEGITEXT000006070719:323-")),
        "{ids:?}"
    );

    // English stemming: the plural finds "modification" (CMA s. 3).
    let ids = f.ids("unauthorised modifications computer material");
    assert!(ids.iter().any(|i| i == "ukpga-1990-18:3"), "{ids:?}");

    // Spanish stemming and accents.
    let ids = f.ids("accediere sistema informatico restringido");
    assert!(ids.iter().any(|i| i == "LEY-11179:153-bis"), "{ids:?}");

    // Phrases: in order and adjacent.
    let r = f.search("\"expedited preservation of stored computer data\"");
    assert!(
        r.hits
            .iter()
            .any(|h| h.id == "ets185-budapest-convention:29"),
        "{:?}",
        r.hits.iter().map(|h| &h.id).collect::<Vec<_>>()
    );
    let reversed = f.search("\"data computer stored\"");
    assert!(!reversed
        .hits
        .iter()
        .any(|h| h.id == "ets185-budapest-convention:29"));

    // Boolean operators and field filters.
    let both = f.search("preservation").total;
    let without = f.search("preservation NOT traffic").total;
    assert!(without < both && without > 0, "{without} {both}");
    let either = f.search("interception OR intercepter").total;
    assert!(either >= f.search("interception").total);
    let fr_only = f.search("données country:FR");
    assert!(fr_only.total > 0 && fr_only.hits.iter().all(|h| h.jurisdiction == "FR"));
    let typed = f.search_with("data", vec![(Field::Type, "treaty".into())]);
    assert!(typed.hits.iter().all(|h| h.content_type == "treaty"));
    assert_eq!(
        f.ids("number:323-1 country:FR"),
        vec!["LEGITEXT000006070719:323-1"]
    );

    // Facets count every match, snippets highlight, hits group by
    // instrument.
    let r = f.search("computer");
    let countries: Vec<&str> = r.facets["country"]
        .iter()
        .map(|v| v.value.as_str())
        .collect();
    assert!(
        countries.contains(&"GB") && countries.contains(&"US") && countries.contains(&"INT"),
        "{countries:?}"
    );
    assert!(r.facets["lang"].iter().any(|v| v.value == "en"));
    let with_highlight = r
        .hits
        .iter()
        .filter(|h| h.snippet.iter().any(|s| s.highlighted))
        .count();
    assert!(with_highlight > 0);
    let grouped: usize = r.groups.iter().map(|g| g.hits.len()).sum();
    assert_eq!(grouped, r.hits.len());
    assert!(r.groups.len() < r.hits.len());

    // The taxonomy bridge: "illegal access" in English also brings the
    // French and Argentine provisions mapped to it, whatever their wording.
    let r = f.search("illegal access");
    assert_eq!(r.bridged, vec!["illegal-access"]);
    let ids: Vec<&str> = r.hits.iter().map(|h| h.id.as_str()).collect();
    for expected in [
        "LEGITEXT000006070719:323-1",
        "ukpga-1990-18:1",
        "LEY-11179:153-bis",
    ] {
        assert!(ids.contains(&expected), "{expected} missing from {ids:?}");
    }
    let r = f.search("accès frauduleux country:GB");
    assert!(r.hits.iter().any(|h| h.id == "ukpga-1990-18:1"));
    assert!(
        r.hits.iter().all(|h| h.jurisdiction == "GB"),
        "the bridge must not widen filters"
    );

    // A query error names the position; nothing is searched.
    match f.index.search(
        &SearchRequest {
            query: "(illegal access".into(),
            limit: 10,
            ..Default::default()
        },
        &f.taxonomy,
    ) {
        Err(SearchError::Syntax(e)) => assert_eq!(e.position, 16),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rebuilds_swap_generations_and_leftovers_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("idx");
    let index = KnowledgeIndex::open(&root).unwrap();
    assert_eq!(index.generation(), None);
    let t = Taxonomy::default();
    let text = "---\ntitle: \"T\"\nidentifier: \"T1\"\ncountry: \"fr\"\n---\n##### Article 1\n\nLa conservation rapide des données.\n";
    let docs = markdown::parse("t.md", "t", text)
        .unwrap()
        .instruments
        .remove(0);
    let mut b = index.builder(1).unwrap();
    b.add(&docs.articles[0], &t).unwrap();
    b.finish().unwrap();
    // An interrupted build of generation 2 leaves a partial directory.
    let partial = index.builder(2).unwrap();
    drop(partial);
    assert!(root.join("gen-2.partial").exists());
    drop(index);
    let reopened = KnowledgeIndex::open(&root).unwrap();
    assert_eq!(reopened.generation(), Some(1));
    assert!(!root.join("gen-2.partial").exists());
    let r = reopened
        .search(
            &SearchRequest {
                query: "conservations".into(),
                limit: 5,
                lang: "fr".into(),
                ..Default::default()
            },
            &t,
        )
        .unwrap();
    assert_eq!(r.hits[0].id, "T1:1");
    let mut b = reopened.builder(3).unwrap();
    b.add(&docs.instrument, &t).unwrap();
    b.finish().unwrap();
    assert_eq!(reopened.generation(), Some(3));
    assert!(!root.join("gen-1").exists());
}
