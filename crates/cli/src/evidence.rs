//! `entraide evidence ...`: ingest files into a case, list them, export and
//! receive packages, verify a package offline, and scrub the store.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use entraide_server::app::config::NodeConfig;
use entraide_server::app::error::AppError;
use entraide_server::evidence::{self, CustodyActor, EvidenceInput};
use entraide_server::{open_store, Node};
use entraide_store::Case;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::DataDir;

#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// Add a file to a case: hashed while stored, in one pass, with a
    /// progress bar; recorded as "acquired" and "ingested" custody events.
    Ingest {
        #[command(flatten)]
        dir: DataDir,
        /// The case reference.
        #[arg(long)]
        case: String,
        /// The file (or a named pipe).
        file: PathBuf,
        /// What the file is (default: its name).
        #[arg(long)]
        description: Option<String>,
        /// seized_device, provider_production or open_source.
        #[arg(long, default_value = "seized_device")]
        source: String,
        #[arg(long)]
        exhibit_number: Option<String>,
        /// RFC 3339, e.g. 2026-11-20T09:30:00Z.
        #[arg(long)]
        acquired_at: Option<String>,
        #[arg(long)]
        acquired_place: Option<String>,
        /// Who acquired it.
        #[arg(long)]
        performer: Option<String>,
        /// Warrant or order reference.
        #[arg(long)]
        authorisation: Option<String>,
        /// The name to record (default: the file's own name).
        #[arg(long)]
        file_name: Option<String>,
        /// Also compute MD5 and SHA-1.
        #[arg(long)]
        legacy_hashes: bool,
        /// Move the file into the evidence store instead of copying it (it
        /// must be on the same file system as the data directory): one read
        /// at the speed of the hash, no second copy on disk. The file is
        /// gone from its old place afterwards.
        #[arg(long = "move")]
        move_file: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// List the evidence of a case.
    List {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        case: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Write an evidence package (ZIP) of a case's evidence.
    Export {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        case: String,
        /// Only these items (ids); default: every item that can be exported.
        #[arg(long = "item")]
        items: Vec<Uuid>,
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Check a package offline: hashes, signatures, inclusion and
    /// consistency proofs. Needs no node and no database. Exit 0 only if
    /// everything holds.
    Verify {
        package: PathBuf,
        /// The sender's key fingerprint, as they gave it by another channel.
        #[arg(long)]
        expect_key: Option<String>,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Receive a package into a case: verified first; refused (and
    /// recorded) if anything fails.
    Import {
        #[command(flatten)]
        dir: DataDir,
        #[arg(long)]
        case: String,
        package: PathBuf,
    },
    /// Re-hash every stored item and check the custody log against the
    /// node's signed tree heads; exit 1 if anything is wrong.
    Scrub {
        #[command(flatten)]
        dir: DataDir,
    },
}

/// One line for an application error, naming the fields that failed.
fn app_err(e: AppError) -> anyhow::Error {
    match &e {
        AppError::Validation(errors) | AppError::PackageRefused(errors) => anyhow!(
            "{e}: {}",
            errors
                .iter()
                .map(|f| format!("{} ({})", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        _ => anyhow!("{e}"),
    }
}

/// Opens the node in `dir` without serving it (for offline commands).
pub(crate) async fn node(dir: &DataDir) -> Result<Node> {
    let settings = NodeConfig::load(&dir.data_dir, std::env::vars())?.settings(&dir.data_dir)?;
    let store = open_store(&settings.database_url)
        .await
        .context("cannot open the database")?;
    Ok(Node::with_store(settings, store)?)
}

async fn case_by_reference(node: &Node, reference: &str) -> Result<Case> {
    let cases = node.state.store.all_cases().await?;
    cases
        .into_iter()
        .find(|c| c.reference.as_str() == reference)
        .ok_or_else(|| anyhow!("no case with reference {reference}"))
}

fn progress_bar(total: Option<u64>, quiet: bool) -> Option<impl Fn(u64) + Sync> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let start = Instant::now();
    let last = AtomicU64::new(0);
    Some(move |done: u64| {
        let now = start.elapsed().as_millis() as u64;
        if now < last.load(Ordering::Relaxed) + 200 && Some(done) != total {
            return;
        }
        last.store(now, Ordering::Relaxed);
        let secs = start.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / secs / 1e6;
        let line = match total {
            Some(t) if t > 0 => {
                let pct = done.saturating_mul(100) / t;
                let filled = (pct / 4) as usize;
                format!(
                    "\r[{}{}] {pct:>3}% {:.1}/{:.1} MB {rate:.0} MB/s",
                    "#".repeat(filled),
                    " ".repeat(25 - filled.min(25)),
                    done as f64 / 1e6,
                    t as f64 / 1e6
                )
            }
            _ => format!("\r{:.1} MB {rate:.0} MB/s", done as f64 / 1e6),
        };
        let mut err = std::io::stderr();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    })
}

pub async fn run(cmd: EvidenceCommand) -> Result<ExitCode> {
    match cmd {
        EvidenceCommand::Ingest {
            dir,
            case,
            file,
            description,
            source,
            exhibit_number,
            acquired_at,
            acquired_place,
            performer,
            authorisation,
            file_name,
            legacy_hashes,
            move_file,
            quiet,
        } => {
            let node = node(&dir).await?;
            let case = case_by_reference(&node, &case).await?;
            let acquired_at = acquired_at
                .as_deref()
                .map(|t| OffsetDateTime::parse(t, &Rfc3339))
                .transpose()
                .map_err(|e| anyhow!("--acquired-at: expected RFC 3339 ({e})"))?;
            let name = file_name.unwrap_or_else(|| {
                file.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            let input = EvidenceInput {
                description: description.unwrap_or_else(|| name.clone()),
                file_name: name,
                source,
                acquired_at,
                acquired_place: acquired_place.unwrap_or_default(),
                performer: performer.unwrap_or_default(),
                authorisation: authorisation.unwrap_or_default(),
                exhibit_number: exhibit_number.unwrap_or_default(),
                legacy_hashes,
            };
            let details = input.parse().map_err(app_err)?;
            let mut source_file = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let total = source_file
                .metadata()
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            let custody = node.state.custody.clone();
            let ingested = tokio::task::spawn_blocking(move || {
                let bar = progress_bar(total, quiet);
                let progress = bar.as_ref().map(|b| b as &(dyn Fn(u64) + Sync));
                let options = entraide_evidence::IngestOptions {
                    legacy_hashes,
                    progress,
                };
                let result = if move_file {
                    drop(source_file);
                    custody.blobs().store_moved(&file, &options)
                } else {
                    custody.blobs().store_stream(&mut source_file, &options)
                };
                if bar.is_some() {
                    eprintln!();
                }
                result
            })
            .await?
            .map_err(|e| anyhow!("ingest failed: {e}"))?;
            let item = evidence::record_new_item(
                &node.state,
                &case,
                &CustodyActor::operator(),
                details,
                &ingested,
            )
            .await
            .map_err(app_err)?;
            println!(
                "{}  {}  {} bytes  {}",
                item.id, item.sha256, item.size, item.file_name
            );
            if let (Some(md5), Some(sha1)) = (&item.md5, &item.sha1) {
                println!("MD5 {md5}  SHA-1 {sha1}");
            }
            Ok(ExitCode::SUCCESS)
        }
        EvidenceCommand::List { dir, case, json } => {
            let node = node(&dir).await?;
            let case = case_by_reference(&node, &case).await?;
            for item in node.state.store.evidence_in_case(case.id).await? {
                if json {
                    println!("{}", serde_json::to_string(&evidence::item_view(&item))?);
                } else {
                    println!(
                        "{}  {}  {:>12}  {:<8} {:<9} {}  {}",
                        item.id,
                        item.sha256,
                        item.size,
                        item.state.as_str(),
                        item.integrity.as_str(),
                        item.exhibit_number.as_deref().unwrap_or("-"),
                        item.file_name
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        EvidenceCommand::Export {
            dir,
            case,
            items,
            output,
        } => {
            if output.exists() {
                bail!(
                    "{} already exists: choose another output file",
                    output.display()
                );
            }
            let node = node(&dir).await?;
            let case = case_by_reference(&node, &case).await?;
            let built =
                evidence::export_package(&node.state, &case, &CustodyActor::operator(), &items)
                    .await
                    .map_err(app_err)?;
            if std::fs::rename(&built.path, &output).is_err() {
                std::fs::copy(&built.path, &output)
                    .with_context(|| format!("cannot write {}", output.display()))?;
                let _ = std::fs::remove_file(&built.path);
            }
            println!(
                "package {} written to {}",
                built.package_id,
                output.display()
            );
            println!(
                "signing key fingerprint {}",
                node.state.custody.key().fingerprint()
            );
            Ok(ExitCode::SUCCESS)
        }
        EvidenceCommand::Verify {
            package,
            expect_key,
            json,
        } => {
            if !package.exists() {
                bail!("{} does not exist", package.display());
            }
            let report = tokio::task::spawn_blocking(move || {
                entraide_evidence::verify_package(&package, expect_key.as_deref())
            })
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.to_text());
            }
            Ok(if report.holds() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        EvidenceCommand::Import { dir, case, package } => {
            if !package.is_file() {
                bail!("{} is not a file", package.display());
            }
            let node = node(&dir).await?;
            let case = case_by_reference(&node, &case).await?;
            let (report, items) = evidence::import_package(
                &node.state,
                &case,
                &CustodyActor::operator(),
                &package,
                &package.display().to_string(),
            )
            .await
            .map_err(app_err)?;
            print!("{}", report.to_text());
            if !report.holds() {
                eprintln!("error: the package failed verification and was refused");
                return Ok(ExitCode::FAILURE);
            }
            for item in items {
                println!("received {}  {}  {}", item.id, item.sha256, item.file_name);
            }
            Ok(ExitCode::SUCCESS)
        }
        EvidenceCommand::Scrub { dir } => {
            let node = node(&dir).await?;
            let view = evidence::scrub(&node.state, &CustodyActor::operator())
                .await
                .map_err(app_err)?;
            let log = node
                .state
                .custody
                .check_log(&node.state.store)
                .await
                .map_err(app_err)?;
            println!(
                "{} items checked: {} intact, {} corrupted",
                view.checked,
                view.intact,
                view.corrupted.len()
            );
            for id in &view.corrupted {
                println!("CORRUPTED {id}: its content is missing or no longer matches its SHA-256");
            }
            println!(
                "custody log: {} events; {} signed tree heads checked, {} mismatched",
                log.size,
                log.heads_checked,
                log.mismatches.len()
            );
            for size in &log.mismatches {
                println!("MISMATCH: the stored log no longer reproduces the signed tree head of size {size}");
            }
            Ok(if view.corrupted.is_empty() && log.mismatches.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
