//! `entraide requests list|show|export`: the operator's view of the
//! requests register, for scripting. Reading content from the command line
//! is audited like any other read.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use entraide_domain::request::{assess, Severity};
use entraide_domain::{AuditAction, AuditOutcome, Locale};
use entraide_server::app::audit::{Actor, AuditEntryExt};
use entraide_server::app::config::NodeConfig;
use entraide_server::{open_store, Node};
use entraide_store::RequestFilter;

use crate::DataDir;

#[derive(Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Pdf,
    Json,
}

#[derive(Subcommand)]
pub enum RequestsCommand {
    /// List requests (newest first), optionally filtered.
    List {
        #[command(flatten)]
        dir: DataDir,
        /// draft, awaiting_approval, approved, sent, registered, acknowledged...
        #[arg(long)]
        state: Option<String>,
        /// expedited_preservation, subscriber_information, emergency_disclosure...
        #[arg(long)]
        kind: Option<String>,
        /// outgoing or incoming
        #[arg(long)]
        direction: Option<String>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one request with its checks and history.
    Show {
        #[command(flatten)]
        dir: DataDir,
        /// The request reference, e.g. PC247-2026-0117/R1.
        reference: String,
        #[arg(long)]
        json: bool,
    },
    /// Recount the statistics aggregates from the stored requests (after a
    /// bulk import, or to repair them).
    RebuildStatistics {
        #[command(flatten)]
        dir: DataDir,
    },
    /// Write the formal document (PDF) or the full record (JSON) to a file.
    Export {
        #[command(flatten)]
        dir: DataDir,
        reference: String,
        #[arg(long, value_enum, default_value = "pdf")]
        format: ExportFormat,
        /// en, fr or es (PDF); default: the requested country's language.
        #[arg(long)]
        lang: Option<String>,
        #[arg(long, short)]
        output: PathBuf,
    },
}

pub async fn run(cmd: RequestsCommand) -> Result<()> {
    let dir = match &cmd {
        RequestsCommand::List { dir, .. }
        | RequestsCommand::Show { dir, .. }
        | RequestsCommand::Export { dir, .. }
        | RequestsCommand::RebuildStatistics { dir } => dir.data_dir.clone(),
    };
    let settings = NodeConfig::load(&dir, std::env::vars())?.settings(&dir)?;
    let store = open_store(&settings.database_url)
        .await
        .context("cannot open the database")?;
    let actor = Actor::command_line();
    match cmd {
        RequestsCommand::List {
            state,
            kind,
            direction,
            json,
            ..
        } => {
            let filter = RequestFilter {
                state: state
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(|e| anyhow!("--state: {e}"))?,
                kind: kind
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(|e| anyhow!("--kind: {e}"))?,
                direction: direction
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(|e| anyhow!("--direction: {e}"))?,
                limit: 100_000,
                ..RequestFilter::default()
            };
            let list = store.all_requests(&filter).await?;
            if json {
                for r in &list {
                    let line = serde_json::json!({
                        "reference": r.reference, "kind": r.kind.as_str(), "direction": r.direction.as_str(),
                        "state": r.state.as_str(), "counterpart": r.counterpart,
                        "requested_country": r.requested_country.map(|c| c.to_string()),
                        "deadline": r.deadline_due.and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok()),
                    });
                    println!("{line}");
                }
            } else {
                println!(
                    "{:<24}  {:<26}  {:<9}  {:<26}  COUNTERPART",
                    "REFERENCE", "KIND", "DIRECTION", "STATE"
                );
                for r in &list {
                    println!(
                        "{:<24}  {:<26}  {:<9}  {:<26}  {}",
                        r.reference,
                        r.kind.as_str(),
                        r.direction.as_str(),
                        r.state.as_str(),
                        r.counterpart
                    );
                }
            }
        }
        RequestsCommand::RebuildStatistics { .. } => {
            let n = store.rebuild_request_statistics().await?;
            println!("statistics rebuilt: {n} requests counted");
        }
        RequestsCommand::Show {
            reference, json, ..
        } => {
            let r = store
                .request_by_reference(&reference)
                .await?
                .ok_or_else(|| anyhow!("no request with reference {reference}"))?;
            store
                .append_audit(
                    &actor
                        .entry(AuditAction::RequestRead, AuditOutcome::Success)
                        .on_case(r.case_id)
                        .target(r.reference.clone()),
                )
                .await?;
            let events = store.request_events(r.id).await?;
            let view = entraide_server::requests::request_view(
                &r,
                &events,
                time::OffsetDateTime::now_utc(),
            );
            if json {
                println!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                println!(
                    "{}  {}  ({})",
                    r.reference,
                    r.kind.as_str(),
                    r.kind.article()
                );
                println!(
                    "state: {}   direction: {}   counterpart: {}",
                    r.state.as_str(),
                    r.direction.as_str(),
                    r.counterpart
                );
                if let Some(d) = &view.deadline {
                    println!("deadline: {}  ({})", d.due, d.source);
                }
                for f in assess(r.kind, &r.content) {
                    let sev = if f.severity == Severity::Error {
                        "ERROR  "
                    } else {
                        "warning"
                    };
                    println!("{sev} {}: {} [{}]", f.field, f.message, f.source);
                }
                for e in &events {
                    println!(
                        "{}  {:<24} -> {:<26} {}",
                        e.at, e.action, e.to_state, e.actor
                    );
                }
            }
        }
        RequestsCommand::Export {
            reference,
            format,
            lang,
            output,
            ..
        } => {
            let r = store
                .request_by_reference(&reference)
                .await?
                .ok_or_else(|| anyhow!("no request with reference {reference}"))?;
            let bytes = match format {
                ExportFormat::Json => {
                    let events = store.request_events(r.id).await?;
                    let view = entraide_server::requests::request_view(
                        &r,
                        &events,
                        time::OffsetDateTime::now_utc(),
                    );
                    serde_json::to_vec_pretty(&view)?
                }
                ExportFormat::Pdf => {
                    let locale = match lang.as_deref() {
                        None => entraide_server::requests::document_language(r.requested_country),
                        Some(l) => match Locale::parse(l) {
                            Some(l) => l,
                            None => bail!("--lang: choose en, fr or es"),
                        },
                    };
                    let state = Node::with_store(settings.clone(), store.clone())?.state;
                    let tr = entraide_server::app::i18n::Tr::new(state.i18n.clone(), locale);
                    let doc = entraide_server::requests::formal_document(&state, &tr, &r).await?;
                    entraide_server::requests::pdf::render_pdf(&doc)
                }
            };
            std::fs::write(&output, &bytes)
                .with_context(|| format!("cannot write {}", output.display()))?;
            store
                .append_audit(
                    &actor
                        .entry(AuditAction::RequestRead, AuditOutcome::Success)
                        .on_case(r.case_id)
                        .target(r.reference.clone())
                        .detail(serde_json::json!({ "exported_to": output.display().to_string() })),
                )
                .await?;
            println!("{} written ({} bytes)", output.display(), bytes.len());
        }
    }
    Ok(())
}
