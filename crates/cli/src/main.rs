//! `entraide`: runs and administers an Entraide node.

mod bench;
mod demo;
mod evidence;
mod knowledge;
mod node;
mod peer;
mod requests;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Entraide: international cooperation against cybercrime.
///
/// One node per organisation (central authority, 24/7 point of contact,
/// prosecution service, police cyber unit, provider...). Start with
/// `entraide demo` to see two nodes with sample data, or
/// `entraide init` then `entraide serve` to run your own.
#[derive(Parser)]
#[command(
    name = "entraide",
    version,
    about,
    long_about,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a node: configuration, keys directory, database and first administrator.
    Init(node::InitArgs),
    /// Run a node.
    Serve(node::ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(node::UserCommand),
    /// Manage API bearer tokens.
    #[command(subcommand)]
    Token(node::TokenCommand),
    /// Other nodes: add (with the fingerprint given out of band), list,
    /// disable, enable, remove, refresh (read a peer's document again); this
    /// node's identity and the address peers use to reach it (`public_url`).
    #[command(subcommand)]
    Peer(peer::PeerCommand),
    /// List, show and export cooperation requests.
    #[command(subcommand)]
    Requests(requests::RequestsCommand),
    /// Evidence: ingest, list, export and receive packages, verify offline, scrub.
    #[command(subcommand)]
    Evidence(evidence::EvidenceCommand),
    /// The knowledge repository: import legislation and reference data,
    /// search, rebuild the index.
    #[command(subcommand)]
    Knowledge(knowledge::KnowledgeCommand),
    /// Start two federated demo nodes with sample organisations, users and cases.
    Demo(demo::DemoArgs),
    /// Measure (see docs/PERFORMANCE.md); build with --release first.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Where a node keeps its configuration, keys, database and files.
#[derive(Args, Clone)]
pub struct DataDir {
    #[arg(long, env = "ENTRAIDE_DATA_DIR", value_name = "DIR")]
    pub data_dir: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let done = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
        match cli.command {
            Command::Evidence(cmd) => evidence::run(cmd).await,
            Command::Peer(cmd) => done(peer::run(cmd).await),
            Command::Init(args) => done(node::init(args).await),
            Command::Serve(args) => done(node::serve(args).await),
            Command::User(cmd) => done(node::user(cmd).await),
            Command::Token(cmd) => done(node::token(cmd).await),
            Command::Requests(cmd) => done(requests::run(cmd).await),
            Command::Knowledge(cmd) => done(knowledge::run(cmd).await),
            Command::Demo(args) => done(demo::run(args).await),
            Command::Bench(cmd) => done(bench::run(cmd).await),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
