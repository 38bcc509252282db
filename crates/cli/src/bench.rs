//! `entraide bench`: measurements that need no server, for
//! docs/PERFORMANCE.md. Build with `--release` before trusting a figure.

use std::time::Instant;

use anyhow::{anyhow, Result};
use clap::Subcommand;
use entraide_custody_log::{leaf_hash, verify_inclusion, MerkleLog};

mod abuse;
mod federation;
mod knowledge;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Evidence ingest (stream → SHA-256 → content-addressed store) against
    /// `openssl dgst -sha256` on the same file, with peak memory.
    Ingest {
        /// Size of the test file, in MiB.
        #[arg(long, default_value_t = 4096)]
        size_mib: u64,
        /// Where to write the test file and the store (a temporary directory
        /// by default).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Custody events appended to the database log per second (SQLite in a
    /// temporary directory, or an empty PostgreSQL database).
    CustodyAppend {
        #[arg(long, default_value_t = 20_000)]
        events: u64,
        /// Events per transaction in the batched run.
        #[arg(long, default_value_t = 100)]
        batch: u64,
        /// Concurrent requests in the group-commit run.
        #[arg(long, default_value_t = 64)]
        concurrency: u64,
        /// postgres://... of an empty database (default: SQLite).
        #[arg(long)]
        database_url: Option<String>,
    },
    /// The custody log: appends per second, and inclusion-proof size and
    /// verification time as the tree grows (RFC 6962).
    CustodyLog {
        /// Largest tree measured; sizes grow tenfold from 1,000.
        #[arg(long, default_value_t = 10_000_000)]
        max_leaves: u64,
        /// Proofs verified per size (their median time is reported).
        #[arg(long, default_value_t = 2_000)]
        proofs: u64,
    },
    /// The knowledge index against SQLite FTS5 and PostgreSQL full-text
    /// search: indexing time, size, and query latency over a fixed set of
    /// queries in English, French and Spanish.
    Knowledge {
        /// The legal corpus (every Markdown file below it is indexed).
        #[arg(long, default_value = "../shared/corpus")]
        corpus: std::path::PathBuf,
        /// postgres://... of a database to compare with (default: no
        /// PostgreSQL run).
        #[arg(long)]
        database_url: Option<String>,
        /// Times each query is run.
        #[arg(long, default_value_t = 5)]
        repeat: usize,
        /// Also print each query's median in every engine.
        #[arg(long)]
        per_query: bool,
    },
    /// An anonymous flood (garbage federation requests announcing large
    /// bodies, garbage tokens, invented methods) from many loopback
    /// addresses against a node in its own process, while a pinned peer
    /// sends notes and an officer reads cases: the database's growth, the
    /// node's peak memory, notes delivered, the officer's p99 against its
    /// unloaded value.
    Abuse {
        /// Length of the flood.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Concurrent attackers, each from its own loopback address.
        #[arg(long, default_value_t = 200)]
        connections: u64,
        /// Body size announced (and sent as fast as taken) by the garbage
        /// federation requests, in MiB.
        #[arg(long, default_value_t = 8)]
        body_mib: u64,
        /// Where to keep the two nodes (a temporary directory by default).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Two nodes in this process (SQLite, HTTPS on 127.0.0.1): notes per
    /// second delivered with receipts, the latency of one note, and an
    /// attachment against a plain HTTPS upload of the same file.
    Federation {
        /// Notes queued at once in the throughput run (0: no throughput run).
        #[arg(long, default_value_t = 5_000)]
        messages: u64,
        /// Concurrent senders in the second throughput run.
        #[arg(long, default_value_t = 4)]
        senders: u64,
        /// Notes sent one at a time in the latency run (0: no latency run).
        #[arg(long, default_value_t = 500)]
        latency_messages: u64,
        /// Notes per second in the latency run.
        #[arg(long, default_value_t = 50)]
        rate: u64,
        /// Size of the attachment, in MiB (0: no attachment run).
        #[arg(long, default_value_t = 256)]
        attachment_mib: u64,
        /// Times the upload and the attachment are each measured, in turn.
        #[arg(long, default_value_t = 1)]
        attachment_runs: u32,
        /// Where to put the nodes and the test file (a temporary directory
        /// by default).
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
}

pub async fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::CustodyLog { max_leaves, proofs } => custody_log(max_leaves, proofs),
        BenchCommand::Ingest { size_mib, dir } => ingest(size_mib, dir),
        BenchCommand::CustodyAppend {
            events,
            batch,
            concurrency,
            database_url,
        } => custody_append(events, batch, concurrency, database_url).await,
        BenchCommand::Knowledge {
            corpus,
            database_url,
            repeat,
            per_query,
        } => {
            knowledge::run(knowledge::Args {
                corpus,
                database_url,
                repeat: repeat.max(1),
                per_query,
            })
            .await
        }
        BenchCommand::Abuse {
            seconds,
            connections,
            body_mib,
            dir,
        } => {
            abuse::run(abuse::Args {
                seconds,
                connections,
                body_mib,
                dir,
            })
            .await
        }
        BenchCommand::Federation {
            messages,
            senders,
            latency_messages,
            rate,
            attachment_mib,
            attachment_runs,
            dir,
        } => {
            federation::run(federation::Args {
                messages,
                senders,
                latency_messages,
                rate,
                attachment_mib,
                attachment_runs: attachment_runs.max(1),
                dir,
            })
            .await
        }
    }
}

/// Custody events appended to the stored log (the database), one per
/// transaction as evidence operations do, then in batches.
async fn custody_append(
    events: u64,
    batch: u64,
    concurrency: u64,
    database_url: Option<String>,
) -> Result<()> {
    use entraide_domain::evidence::CustodyEventKind;
    use entraide_server::admin::service::{initialise_node, NewNode};
    use entraide_server::app::audit::Actor;
    use entraide_server::cases::service::create_case;
    use entraide_server::evidence::{custody_event, CustodyActor};

    let temp = tempfile::tempdir()?;
    let url = database_url
        .unwrap_or_else(|| format!("sqlite://{}", temp.path().join("bench.db").display()));
    let store = entraide_server::open_store(&url).await?;
    let parse = |e: entraide_domain::ParseError| anyhow!(e);
    initialise_node(
        store.as_ref(),
        NewNode {
            node_id: entraide_domain::NodeId::parse("bench-node").map_err(parse)?,
            org_name: entraide_domain::OrganisationName::parse("Bench").map_err(parse)?,
            org_kind: entraide_domain::OrganisationKind::ForensicLaboratory,
            country: entraide_domain::CountryCode::parse("FR").map_err(parse)?,
            admin_email: entraide_domain::Email::parse("bench@bench.invalid").map_err(parse)?,
            admin_name: entraide_domain::DisplayName::parse("Bench").map_err(parse)?,
            admin_password: entraide_domain::NewPassword::parse("bench password 2026")
                .map_err(parse)?,
        },
    )
    .await?;
    let admin = store
        .user_by_email(&entraide_domain::Email::parse("bench@bench.invalid").map_err(parse)?)
        .await?
        .ok_or_else(|| anyhow!("no bench user"))?;
    let case = create_case(
        store.as_ref(),
        &Actor::command_line(),
        admin.id,
        entraide_domain::CaseReference::parse("BENCH-1").map_err(parse)?,
        entraide_domain::CaseTitle::parse("Bench").map_err(parse)?,
        entraide_domain::CaseSummary::parse("").map_err(parse)?,
    )
    .await?;
    let actor = CustodyActor::operator();
    let make = || {
        custody_event(
            "bench-node",
            &case,
            None,
            CustodyEventKind::Verified,
            &actor,
            std::collections::BTreeMap::from([("check".to_owned(), "bench".to_owned())]),
        )
    };
    println!("custody events appended to the {} log", store.backend());
    // 1. One event per transaction, one after the other (no group commit).
    let serial = events.min(5_000);
    let start = Instant::now();
    for _ in 0..serial {
        store.append_custody_events(&[make()], None).await?;
    }
    let rate = serial as f64 / start.elapsed().as_secs_f64();
    println!(
        "  one event per transaction, sequential:        {rate:>9.0} events/s ({serial} events)"
    );
    // 2. The node's path: concurrent requests, each appending one event
    //    and waiting until it is committed, through the group-commit writer.
    let settings = entraide_server::app::config::Settings {
        data_dir: temp.path().to_path_buf(),
        node_id: entraide_domain::NodeId::parse("bench-node").map_err(parse)?,
        listen: "127.0.0.1:0".parse()?,
        database_url: url.clone(),
        database_max_connections: None,
        blob_dir: temp.path().join("blobs"),
        public_url: None,
        tls: None,
        sessions: Default::default(),
        lockout: Default::default(),
        sign_in_attempts_per_minute: 30,
        reminders: None,
        deadlines: Default::default(),
        s3: None,
        federation: Default::default(),
        edge: Default::default(),
        smtp: None,
    };
    let state = entraide_server::Node::with_store(settings, store.clone())?.state;
    let per_task = events / concurrency.max(1);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let state = state.clone();
        let jobs: Vec<_> = (0..per_task).map(|_| make()).collect();
        tasks.push(tokio::spawn(async move {
            for event in jobs {
                state
                    .custody
                    .write(
                        &state.store,
                        entraide_store::CustodyJob::Append {
                            events: vec![event],
                            audit: None,
                        },
                    )
                    .await?;
            }
            Ok::<_, entraide_store::StoreError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let total = per_task * concurrency.max(1);
    let rate = total as f64 / start.elapsed().as_secs_f64();
    println!(
        "  one event per request, {concurrency} concurrent requests (group commit): {rate:>9.0} events/s ({total} events)"
    );
    // 3. Events written in batches (a scrub, an export of many items).
    let start = Instant::now();
    let mut done = 0;
    while done < events {
        let n = batch.min(events - done);
        let list: Vec<_> = (0..n).map(|_| make()).collect();
        store.append_custody_events(&list, None).await?;
        done += n;
    }
    let batched = events as f64 / start.elapsed().as_secs_f64();
    println!("  {batch} events per transaction:                   {batched:>9.0} events/s");
    let size = store.custody_log_size().await?;
    println!("  log size now {size}");
    Ok(())
}

/// A memory figure of this process from /proc/self/status, in MiB
/// (`VmHWM:` the peak resident set, `VmRSS:` the current one).
fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// CPU seconds this process has used so far (user and system, from
/// /proc/self/stat, in clock ticks of 1/100 s); NaN where unreadable.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces).
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime = f.get(11)?.parse::<f64>().ok()?;
            let stime = f.get(12)?.parse::<f64>().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

/// Pseudo-random content, written in 1 MiB pieces (constant memory) and
/// synced: the test file's own write-back must not compete with what is
/// measured.
fn write_test_file(file: &std::path::Path, size_mib: u64) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(file)?);
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..size_mib {
        for word in buf.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        out.write_all(&buf)?;
    }
    out.flush()?;
    out.get_ref().sync_all()?;
    Ok(())
}

fn ingest(size_mib: u64, dir: Option<std::path::PathBuf>) -> Result<()> {
    let temp;
    let dir = match dir {
        Some(d) => d,
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("bench-input.bin");
    write_test_file(&file, size_mib)?;
    let bytes = (size_mib as f64) * 1024.0 * 1024.0;
    let t = Instant::now();
    let openssl = std::process::Command::new("openssl")
        .arg("dgst")
        .arg("-sha256")
        .arg(&file)
        .output();
    let openssl_s = t.elapsed().as_secs_f64();
    let openssl_hash = match &openssl {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    };
    // Copying ingest (what an upload or a file on another disk gets), then
    // moving ingest (`--move`, a file already on the store's file system)
    // into a second, empty store: it consumes the test file.
    let store = entraide_evidence::LocalBlobStore::open(&dir.join("store"))?;
    let t = Instant::now();
    let copied = store.ingest(std::fs::File::open(&file)?)?;
    let copy_s = t.elapsed().as_secs_f64();
    let copy_rss = peak_rss_mib();
    let moved_store = entraide_evidence::LocalBlobStore::open(&dir.join("store-moved"))?;
    let t = Instant::now();
    let moved = moved_store.ingest_by_move(&file, &entraide_evidence::IngestOptions::default())?;
    let move_s = t.elapsed().as_secs_f64();
    let mb = |s: f64| bytes / s / 1e6;
    println!("| file | mode | openssl dgst -sha256 | entraide ingest | ratio | peak RSS |");
    println!("|---:|---|---:|---:|---:|---:|");
    for (mode, got, secs, rss) in [
        ("copy (hash + write + sync)", &copied, copy_s, copy_rss),
        (
            "move (`--move`: hash, link)",
            &moved,
            move_s,
            peak_rss_mib(),
        ),
    ] {
        if openssl_hash.is_empty() {
            println!(
                "| {size_mib} MiB | {mode} | (openssl not found) | {:.0} MB/s | — | {rss:.1} MiB |",
                mb(secs),
            );
        } else {
            if openssl_hash != got.sha256 {
                return Err(anyhow!(
                    "hash mismatch: openssl {openssl_hash}, entraide {}",
                    got.sha256
                ));
            }
            println!(
                "| {size_mib} MiB | {mode} | {:.0} MB/s | {:.0} MB/s | {:.0} % | {rss:.1} MiB |",
                mb(openssl_s),
                mb(secs),
                100.0 * openssl_s / secs,
            );
        }
    }
    println!("\nsha256 {} (identical in all)", copied.sha256);
    std::fs::remove_dir_all(dir.join("store"))?;
    std::fs::remove_dir_all(dir.join("store-moved"))?;
    Ok(())
}

fn custody_log(max_leaves: u64, proofs: u64) -> Result<()> {
    let mut log = MerkleLog::with_capacity(usize::try_from(max_leaves).unwrap_or(usize::MAX));
    println!("| leaves | appends/s (cumulative) | proof hashes | verify median | verify p99 |");
    println!("|---:|---:|---:|---:|---:|");
    let mut size = 1_000u64;
    let started = Instant::now();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    while size <= max_leaves {
        while log.size() < size {
            let n = log.size();
            log.append(leaf_hash(&n.to_be_bytes()));
        }
        let rate = log.size() as f64 / started.elapsed().as_secs_f64();
        let root = log.root();
        let mut times = Vec::with_capacity(usize::try_from(proofs).unwrap_or(0));
        let mut proof_len = 0;
        for _ in 0..proofs {
            // xorshift: indexes spread over the whole tree, no dependency.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let index = seed % size;
            let proof = log
                .inclusion_proof(index, size)
                .map_err(|e| anyhow!("{e}"))?;
            proof_len = proof.len();
            let leaf = leaf_hash(&index.to_be_bytes());
            let t = Instant::now();
            verify_inclusion(&leaf, index, size, &proof, &root).map_err(|e| anyhow!("{e}"))?;
            times.push(t.elapsed().as_nanos());
        }
        times.sort_unstable();
        let pick = |p: usize| {
            times
                .get((times.len() * p / 100).min(times.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        println!(
            "| {size} | {rate:.0} | {proof_len} | {:.1} µs | {:.1} µs |",
            pick(50) as f64 / 1000.0,
            pick(99) as f64 / 1000.0
        );
        size = size.saturating_mul(10);
    }
    Ok(())
}
