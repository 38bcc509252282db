//! `entraide knowledge ...`: import legislation (Markdown with front
//! matter) and the JSON format, search from scripts, rebuild the index.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use entraide_search::SearchRequest;
use entraide_server::knowledge::{self, ImportFile, KnowledgeImportError};
use entraide_server::Node;

use crate::evidence::node;
use crate::DataDir;

#[derive(Subcommand)]
pub enum KnowledgeCommand {
    /// Import files or folders (`.md` legislation, `.json` in the
    /// entraide-knowledge/1 format). Every file is checked before anything
    /// is written; re-importing updates in place.
    Import {
        #[command(flatten)]
        dir: DataDir,
        /// Files or folders (searched recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// No progress line.
        #[arg(long)]
        quiet: bool,
    },
    /// Search the repository (same query language as the web page).
    Search {
        #[command(flatten)]
        dir: DataDir,
        query: String,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print the whole result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write everything but legislation text (treaties, country profiles,
    /// offence categories, case law, good practices) in the import format;
    /// with --parties-csv, also the treaty parties as CSV.
    Export {
        #[command(flatten)]
        dir: DataDir,
        /// The JSON file to write.
        out: PathBuf,
        #[arg(long)]
        parties_csv: Option<PathBuf>,
    },
    /// Rebuild the search index from the database.
    Reindex {
        #[command(flatten)]
        dir: DataDir,
    },
}

/// The importable files under `paths`, in a stable order.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read {}", p.display()))?
                .flatten()
                .map(|e| e.path())
                .collect();
            entries.sort();
            for e in entries {
                let name = e
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if name.starts_with('.') || name.starts_with('_') || name == "README.md" {
                    continue;
                }
                if e.is_dir() || name.ends_with(".md") || name.ends_with(".json") {
                    walk(&e, out)?;
                }
            }
        } else if p.exists() {
            out.push(p.to_owned());
        } else {
            bail!("{} does not exist", p.display());
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out)?;
    }
    Ok(out)
}

/// Reads the files (reporting progress), then imports them in one go.
pub async fn import_paths(
    node: &Node,
    paths: &[PathBuf],
    quiet: bool,
) -> Result<knowledge::ImportSummary> {
    let files = collect(paths)?;
    if files.is_empty() {
        bail!("no .md or .json file found");
    }
    let show = !quiet && std::io::stderr().is_terminal();
    let mut loaded = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        loaded.push(ImportFile {
            name: f.display().to_string(),
            text,
        });
        if show {
            let filled = (i + 1) * 25 / files.len();
            eprint!(
                "\r[{}{}] {}/{} files read",
                "#".repeat(filled),
                " ".repeat(25 - filled),
                i + 1,
                files.len()
            );
        }
    }
    if show {
        eprintln!("\nchecking, storing and indexing...");
    }
    knowledge::import(&node.state, loaded, knowledge::operator_audit)
        .await
        .map_err(|e| match e {
            KnowledgeImportError::Invalid(i) => anyhow::anyhow!("{i}; nothing was imported"),
            KnowledgeImportError::Other(o) => anyhow::anyhow!("{o}"),
        })
}

pub async fn run(cmd: KnowledgeCommand) -> Result<()> {
    match cmd {
        KnowledgeCommand::Import { dir, paths, quiet } => {
            let node = node(&dir).await?;
            let s = import_paths(&node, &paths, quiet).await?;
            for w in &s.warnings {
                println!("warning: {w}");
            }
            println!(
                "imported {} files: {} instruments, {} articles, {} other items; {} warnings; generation {}",
                s.files,
                s.instruments,
                s.articles,
                s.items,
                s.warnings.len(),
                s.generation
            );
            if let Some(i) = &s.index {
                println!(
                    "index: {} documents, {:.1} MB, built in {:.1} s",
                    i.documents,
                    i.bytes as f64 / 1e6,
                    i.seconds
                );
            }
            Ok(())
        }
        KnowledgeCommand::Search {
            dir,
            query,
            limit,
            json,
        } => {
            let node = node(&dir).await?;
            if !(1..=100).contains(&limit) {
                bail!("--limit must be between 1 and 100");
            }
            let r = knowledge::search(
                &node.state,
                &SearchRequest {
                    query,
                    filters: Vec::new(),
                    limit,
                    offset: 0,
                    lang: "en".into(),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &r)?;
                writeln!(out)?;
            } else {
                writeln!(out, "{} results", r.total)?;
                for h in &r.hits {
                    let snippet: String = h.snippet.iter().map(|f| f.text.as_str()).collect();
                    writeln!(
                        out,
                        "{}\t{}\t{}",
                        h.id,
                        h.citation,
                        snippet.replace('\n', " ")
                    )?;
                }
            }
            Ok(())
        }
        KnowledgeCommand::Export {
            dir,
            out,
            parties_csv,
        } => {
            let node = node(&dir).await?;
            let b = knowledge::export_bundle(&node.state)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let json = serde_json::to_string_pretty(&b)?;
            std::fs::write(&out, json)
                .with_context(|| format!("cannot write {}", out.display()))?;
            if let Some(csv) = parties_csv {
                std::fs::write(&csv, knowledge::parties_csv(&b))
                    .with_context(|| format!("cannot write {}", csv.display()))?;
            }
            println!(
                "exported {} treaties, {} country profiles, {} offence categories, {} decisions, {} good practices to {}",
                b.treaties.len(),
                b.country_profiles.len(),
                b.offences.len(),
                b.case_law.len(),
                b.good_practices.len(),
                out.display()
            );
            Ok(())
        }
        KnowledgeCommand::Reindex { dir } => {
            let node = node(&dir).await?;
            let s = knowledge::rebuild_index(&node.state)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "index: {} documents, {:.1} MB, built in {:.1} s",
                s.documents,
                s.bytes as f64 / 1e6,
                s.seconds
            );
            Ok(())
        }
    }
}
