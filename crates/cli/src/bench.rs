//! `entraide bench`: measurements that need no server, for
//! docs/PERFORMANCE.md. Build with `--release` before trusting a figure.

use std::time::Instant;

use anyhow::{anyhow, Result};
use clap::Subcommand;
use entraide_custody_log::{leaf_hash, verify_inclusion, MerkleLog};

#[derive(Subcommand)]
pub enum BenchCommand {
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
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::CustodyLog { max_leaves, proofs } => custody_log(max_leaves, proofs),
    }
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
