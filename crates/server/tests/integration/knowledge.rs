//! The knowledge repository on a real node: import (and a failed import
//! leaving everything as it was), search with the taxonomy bridge, query
//! errors, documents, comparison, the legal-basis helper, the pages, and the
//! whole corpus imported from the command line.

use std::path::{Path, PathBuf};

use anyhow::Result;
use entraide_domain::Role;
use entraide_server::knowledge::{self, ImportFile};
use entraide_testkit::{on_both_backends, spawn_node, Backend};
use reqwest::StatusCode;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus() -> Option<PathBuf> {
    let p = repo().join("../shared/corpus");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: {} not found", p.display());
        None
    }
}

fn files(corpus: &Path, laws: &[&str]) -> Vec<ImportFile> {
    let mut out: Vec<ImportFile> = ["treaties", "countries", "offences", "case-law", "practices"]
        .iter()
        .map(|n| ImportFile {
            name: format!("{n}.json"),
            text: std::fs::read_to_string(repo().join(format!("data/knowledge/{n}.json"))).unwrap(),
        })
        .collect();
    for l in laws {
        out.push(ImportFile {
            name: (*l).to_owned(),
            text: std::fs::read_to_string(corpus.join(l)).unwrap(),
        });
    }
    out
}

const LAWS: [&str; 4] = [
    "fr/LEGITEXT000006070719.md",
    "uk/ukpga-1990-18.md",
    "intl/ets185-budapest-convention.md",
    "ar/LEY-11179.md",
];

on_both_backends!(knowledge_is_imported_searched_compared_and_shown);

async fn knowledge_is_imported_searched_compared_and_shown(backend: Backend) -> Result<()> {
    let Some(corpus) = corpus() else {
        return Ok(());
    };
    let node = spawn_node(backend).await?;
    let officer = node.user("officer", &[Role::Officer]).await?;
    let api = node.api(Some(&officer.token));
    let summary = knowledge::import(
        &node.state,
        files(&corpus, &LAWS),
        knowledge::operator_audit,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(summary.instruments, 5, "Budapest in English and Dutch");
    let first_generation = summary.generation;
    let documents = summary.index.as_ref().unwrap().documents;

    // The taxonomy bridge: an English query finds French, British and
    // Argentine provisions.
    let r = api
        .get("/api/v1/knowledge/search?q=illegal%20access&limit=50")
        .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["bridged"][0], "illegal-access");
    let ids: Vec<&str> = r.json["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    for id in [
        "LEGITEXT000006070719:323-1",
        "ukpga-1990-18:1",
        "LEY-11179:153-bis",
    ] {
        assert!(ids.contains(&id), "{id} not in {ids:?}");
    }
    assert!(r.json["facets"]["country"].as_array().unwrap().len() >= 3);
    // Filters through parameters, French stemming and accents.
    let r = api
        .get("/api/v1/knowledge/search?q=donnees%20informatiques&country=FR&type=legislation")
        .await?;
    assert!(r.json["total"].as_u64().unwrap() > 0);
    assert!(r.json["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["jurisdiction"] == "FR"));
    // A query error is a problem with its position.
    let r = api.get("/api/v1/knowledge/search?q=%22unclosed").await?;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "query_syntax");
    assert!(r.json["detail"].as_str().unwrap().contains("character 1"));
    let r = api.get("/api/v1/knowledge/search?q=x&type=novel").await?;
    assert_eq!(r.code(), "invalid_content_type");

    // Documents by permalink; an instrument lists its articles.
    let r = api
        .get("/api/v1/knowledge/documents/LEGITEXT000006070719:323-1")
        .await?;
    assert_eq!(r.json["citation"], "Code pénal (FR), Article 323-1");
    assert!(r.json["document"]["path"].as_array().unwrap().len() >= 3);
    assert_eq!(r.json["offences"][0], "illegal-access");
    let r = api.get("/api/v1/knowledge/documents/ukpga-1990-18").await?;
    assert!(r.json["articles"].as_array().unwrap().len() >= 17);
    let r = api.get("/api/v1/knowledge/documents/nothing:here").await?;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Comparison across countries, as JSON and CSV.
    let r = api
        .get("/api/v1/knowledge/compare?subject=offence:illegal-access&countries=FR,GB,AR")
        .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let columns = r.json["columns"].as_array().unwrap();
    assert_eq!(columns.len(), 3);
    assert!(
        columns.iter().all(|c| !c[1].as_array().unwrap().is_empty()),
        "{columns:?}"
    );
    assert!(columns[0][1][0]["text"]
        .as_str()
        .unwrap()
        .contains("frauduleusement"));
    let r = api
        .get("/api/v1/knowledge/compare?subject=power:expedited_preservation&countries=FR,AR&format=csv")
        .await?;
    assert!(r.headers["content-type"].to_str()?.starts_with("text/csv"));
    assert!(r.text.starts_with("country,citation"));
    let r = api
        .get("/api/v1/knowledge/compare?subject=offence:x&countries=ZZ")
        .await?;
    assert_eq!(r.code(), "invalid_country");

    // The legal-basis helper: France to Argentina, preservation.
    let r = api
        .get("/api/v1/knowledge/helper?requesting=FR&requested=AR&offence=illegal-access&measure=expedited_preservation&date=2024-01-01")
        .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let budapest = r.json["instruments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["treaty"] == "coe-ets-185")
        .unwrap();
    assert_eq!(budapest["binds_both"], true);
    assert_eq!(r.json["dual_criminality_required"], false);
    assert_eq!(r.json["criminalisation"]["status"], "criminalised");
    let r = api
        .get("/api/v1/knowledge/helper?requesting=FR&requested=AR&date=2010-01-01")
        .await?;
    assert!(r.json["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w == "no-shared-instrument"));

    // A failed import changes nothing; a repeated one duplicates nothing.
    let mut bad = files(&corpus, &["uk/ukpga-1990-18.md"]);
    bad.push(ImportFile {
        name: "broken.md".into(),
        text: "---\ntitle: \"Broken\"\nidentifier: \"broken\"\ncountry: \"xx\"\n---\n# Broken\n"
            .into(),
    });
    let err = knowledge::import(&node.state, bad, knowledge::operator_audit)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "broken.md:4: unknown country code 'xx'");
    assert_eq!(node.store.knowledge_generation().await?, first_generation);
    let again = knowledge::import(
        &node.state,
        files(&corpus, &LAWS),
        knowledge::operator_audit,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(again.index.as_ref().unwrap().documents, documents);
    let imports = node
        .store
        .audit_entries(&entraide_store::AuditFilter {
            action: Some("knowledge.imported".into()),
            limit: 10,
            ..Default::default()
        })
        .await?;
    assert_eq!(imports.len(), 2);

    // Pages.
    let browser = node.browser()?;
    browser
        .sign_in(&officer.email, entraide_testkit::PASSWORD)
        .await?;
    let page = browser.get("/knowledge?q=acc%C3%A8s%20frauduleux").await?;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("<mark>") && page.text.contains("Article 323-1"),
        "{}",
        page.text
    );
    let page = browser.get("/knowledge?q=(broken").await?;
    assert!(page.text.contains("aria-invalid=\"true\"") && page.text.contains("character"));
    let page = browser
        .get("/knowledge/documents/LEY-11179:153-bis")
        .await?;
    assert!(page.text.contains("Artículo 153 BIS") && page.text.contains("LEY-11179:153-bis"));
    let page = browser
        .get("/knowledge/documents/treaty:coe-ets-185")
        .await?;
    assert!(page.text.contains("AR") && page.text.contains("2018-10-01"));
    let page = browser
        .get("/knowledge/compare?subject=offence%3Aillegal-access&countries=FR%2C+GB")
        .await?;
    assert!(page.text.contains("Code pénal"));
    let page = browser
        .get("/knowledge/helper?requested=AR&offence=illegal-access&measure=expedited_preservation")
        .await?;
    assert!(page.text.contains("Dual criminality is not required"));

    // Signed-in only.
    let r = node.api(None).get("/api/v1/knowledge/search?q=x").await?;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    Ok(())
}
