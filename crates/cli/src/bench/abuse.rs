//! `entraide bench abuse`: an anonymous flood against a real node while a
//! pinned peer sends notes and an officer reads cases.
//!
//! Two `entraide serve` processes (this very binary) on SQLite in a
//! temporary directory, set up as an operator would with `entraide init`,
//! `user add`, `token create` and `peer add`. The node under attack is a
//! separate process so that its memory is its own (`/proc/<pid>/status`).
//! The attackers come from many loopback addresses (127.0.1.1, 127.0.1.2…),
//! as a distributed flood would, so that a per-address limit alone cannot
//! be what saves the node.
//!
//! Measured: the database's growth (SQLite's logical size, pages in use,
//! read concurrently through WAL), the node's peak memory, the notes
//! delivered, and the officer's latency unloaded and under the flood.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Args {
    pub seconds: u64,
    pub connections: u64,
    pub body_mib: u64,
    pub dir: Option<PathBuf>,
}

const VICTIM: &str = "bench-victim";
const PEER: &str = "bench-peer";
const PASSWORD: &str = "bench password 2026";
/// The targets of issue 14.
const MAX_GROWTH_BYTES: u64 = 1024 * 1024;
const MAX_PEAK_MIB: f64 = 150.0;
const MAX_P99_RATIO: f64 = 10.0;

pub async fn run(args: Args) -> Result<()> {
    let temp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&dir)?;
    let exe = std::env::current_exe()?;
    let password = dir.join("password");
    std::fs::write(&password, PASSWORD)?;

    let victim_dir = dir.join(VICTIM);
    let peer_dir = dir.join(PEER);
    for (d, id) in [(&victim_dir, VICTIM), (&peer_dir, PEER)] {
        entraide(
            &exe,
            d,
            &[
                "init",
                "--node-id",
                id,
                "--org-name",
                &format!("Bench {id}"),
                "--org-kind",
                "central-authority",
                "--country",
                "FR",
                "--admin-password-file",
                path_str(&password)?,
            ],
        )?;
    }
    let officer_email = format!("officer@{VICTIM}.invalid");
    entraide(
        &exe,
        &victim_dir,
        &[
            "user",
            "add",
            "--email",
            &officer_email,
            "--name",
            "Officer",
            "--roles",
            "officer",
            "--password-file",
            path_str(&password)?,
        ],
    )?;
    let officer = secret(&entraide(
        &exe,
        &victim_dir,
        &[
            "token",
            "create",
            "--user",
            &officer_email,
            "--name",
            "bench",
        ],
    )?)?;
    let peer_admin = secret(&entraide(
        &exe,
        &peer_dir,
        &[
            "token",
            "create",
            "--user",
            &format!("admin@{PEER}.invalid"),
            "--name",
            "bench",
        ],
    )?)?;

    let mut victim = Served::start(&exe, &victim_dir)?;
    let mut peer = Served::start(&exe, &peer_dir)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    victim.wait_ready(&http).await?;
    peer.wait_ready(&http).await?;
    for (me, other) in [(&victim, &peer), (&peer, &victim)] {
        let fingerprint = fingerprint(&entraide(&exe, &other.dir, &["peer", "identity"])?)?;
        entraide(
            &exe,
            &me.dir,
            &[
                "peer",
                "add",
                "--url",
                &other.url,
                "--fingerprint",
                &fingerprint,
            ],
        )?;
    }
    for i in 0..20 {
        let res = http
            .post(format!("{}/api/v1/cases", victim.url))
            .bearer_auth(&officer)
            .json(&serde_json::json!({"reference": format!("BENCH-{i}"), "title": format!("Bench case {i}")}))
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("creating a case: {} {}", res.status(), res.text().await?);
        }
    }
    println!(
        "victim {} (pid {}) and peer {} on SQLite, peered; {} flood connections from distinct loopback addresses for {} s",
        victim.url, victim.pid(), peer.url, args.connections, args.seconds
    );

    let reads = Duration::from_secs(10);
    let unloaded = officer_reads(&http, &victim.url, &officer, reads).await?;
    let db = victim_dir.join("entraide.db");
    let (size_before, audit_before) = database_use(&db).await?;
    let rss_before = rss_mib(victim.pid(), "VmRSS:");

    let stop_at = Instant::now() + Duration::from_secs(args.seconds);
    let tally = Arc::new(Tally::default());
    let attackers: Vec<_> = (0..args.connections)
        .map(|i| {
            let target = victim.addr;
            let tally = tally.clone();
            let body = args.body_mib * 1024 * 1024;
            tokio::spawn(async move { attacker(i, target, body, stop_at, tally).await })
        })
        .collect();
    let notes = {
        let http = http.clone();
        let url = peer.url.clone();
        let token = peer_admin.clone();
        tokio::spawn(async move { send_notes(&http, &url, &token, stop_at).await })
    };
    let loaded = officer_reads(
        &http,
        &victim.url,
        &officer,
        Duration::from_secs(args.seconds),
    )
    .await?;
    for a in attackers {
        a.await?;
    }
    let note_ids = notes.await??;
    let delivered = wait_delivered(&http, &peer.url, &peer_admin, &note_ids).await?;
    let (size_after, audit_after) = database_use(&db).await?;
    let peak = rss_mib(victim.pid(), "VmHWM:");
    let rss_after = rss_mib(victim.pid(), "VmRSS:");
    victim.stop();
    peer.stop();

    let growth = size_after.saturating_sub(size_before);
    let ratio = loaded.p99 / unloaded.p99.max(0.001);
    println!("flood: {}", tally.summary());
    println!(
        "database: grew by {:.2} MiB ({} → {} bytes in use), {} audit entries added",
        growth as f64 / 1048576.0,
        size_before,
        size_after,
        audit_after - audit_before
    );
    println!(
        "victim memory: {rss_before:.0} MiB before, peak {peak:.0} MiB, {rss_after:.0} MiB after"
    );
    println!(
        "notes: {delivered} of {} delivered with a receipt",
        note_ids.len()
    );
    println!(
        "officer reads: unloaded p50 {:.1} ms p99 {:.1} ms ({} reads); under the flood p50 {:.1} ms p99 {:.1} ms ({} reads, {} failed); p99 ratio {ratio:.1}×",
        unloaded.p50, unloaded.p99, unloaded.count, loaded.p50, loaded.p99, loaded.count, loaded.failed
    );
    let mut failed = Vec::new();
    if growth >= MAX_GROWTH_BYTES {
        failed.push("the database grew by 1 MiB or more");
    }
    if peak >= MAX_PEAK_MIB {
        failed.push("the node's memory reached 150 MiB");
    }
    if delivered != note_ids.len() {
        failed.push("a legitimate note was not delivered");
    }
    if ratio >= MAX_P99_RATIO || loaded.failed > 0 {
        failed.push("the officer's p99 under the flood is 10× the unloaded one, or reads failed");
    }
    if failed.is_empty() {
        println!("PASS: every target of the abuse benchmark is met");
        Ok(())
    } else {
        bail!("FAIL: {}", failed.join("; "))
    }
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| anyhow!("{} is not UTF-8", p.display()))
}

/// Runs `entraide <args> --data-dir <dir>`; its standard output.
fn entraide(exe: &Path, dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(exe)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("ENTRAIDE_LOG", "warn")
        .output()
        .with_context(|| format!("running entraide {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "entraide {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The secret `entraide token create` prints once.
fn secret(out: &str) -> Result<String> {
    out.lines()
        .find_map(|l| l.strip_prefix("Secret (shown once): "))
        .map(|s| s.trim().to_owned())
        .ok_or_else(|| anyhow!("no token secret in: {out}"))
}

/// The signing-key fingerprint `entraide peer identity` prints.
fn fingerprint(out: &str) -> Result<String> {
    out.lines()
        .find_map(|l| l.strip_prefix("signing key fingerprint"))
        .map(|s| s.trim().to_owned())
        .ok_or_else(|| anyhow!("no fingerprint in: {out}"))
}

/// A node served by a child `entraide serve`, stopped (SIGINT) on drop.
struct Served {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
    url: String,
}

impl Served {
    fn start(exe: &Path, dir: &Path) -> Result<Self> {
        // A free port, released just before the node binds it.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = std::fs::File::create(dir.join("serve.log"))?;
        let child = Command::new(exe)
            .args(["serve", "--listen", &addr.to_string(), "--data-dir"])
            .arg(dir)
            .env("ENTRAIDE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        Ok(Self {
            child,
            dir: dir.to_path_buf(),
            addr,
            url: format!("http://{addr}"),
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_ready(&mut self, http: &reqwest::Client) -> Result<()> {
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the node in {} stopped: {status}", self.dir.display());
            }
            if let Ok(r) = http.get(format!("{}/healthz", self.url)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() > give_up {
                bail!("the node in {} did not start", self.dir.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A process's memory figure from `/proc/<pid>/status`, in MiB.
fn rss_mib(pid: u32, key: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
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

/// Bytes in use in the SQLite database (pages, free ones left out, WAL
/// included: read through a connection of our own while the node runs)
/// and its number of audit entries.
async fn database_use(db: &Path) -> Result<(u64, i64)> {
    use sqlx::Connection;
    let url = format!("sqlite://{}?mode=ro", db.display());
    let mut c = sqlx::SqliteConnection::connect(&url).await?;
    let pages = number(&mut c, "PRAGMA page_count").await?;
    let free = number(&mut c, "PRAGMA freelist_count").await?;
    let size = number(&mut c, "PRAGMA page_size").await?;
    let audit = number(&mut c, "SELECT count(*) FROM audit_log").await?;
    c.close().await?;
    Ok((u64::try_from((pages - free) * size).unwrap_or(0), audit))
}

async fn number(c: &mut sqlx::SqliteConnection, sql: &str) -> Result<i64> {
    use sqlx::Row;
    Ok(sqlx::query(sql).fetch_one(c).await?.try_get(0)?)
}

struct Latency {
    p50: f64,
    p99: f64,
    count: usize,
    failed: usize,
}

/// The officer lists cases, 20 times a second, for `during`.
async fn officer_reads(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    during: Duration,
) -> Result<Latency> {
    let gap = Duration::from_millis(50);
    let end = Instant::now() + during;
    let mut next = Instant::now();
    let mut times = Vec::new();
    let mut failed = 0;
    while Instant::now() < end {
        tokio::time::sleep_until(next.into()).await;
        next += gap;
        let start = Instant::now();
        match http
            .get(format!("{url}/api/v1/cases"))
            .bearer_auth(token)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => {
                let _ = r.bytes().await;
                times.push(start.elapsed().as_secs_f64() * 1000.0);
            }
            _ => failed += 1,
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| {
        times
            .get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok(Latency {
        p50: at(0.50),
        p99: at(0.99),
        count: times.len(),
        failed,
    })
}

/// The pinned peer sends a note a second until `until`; the ids queued.
async fn send_notes(
    http: &reqwest::Client,
    peer: &str,
    token: &str,
    until: Instant,
) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut i = 0;
    while Instant::now() < until {
        let res = http
            .post(format!("{peer}/api/v1/peers/{VICTIM}/messages"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "text": format!("note {i} sent during the flood") }))
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("queueing a note: {} {}", res.status(), res.text().await?);
        }
        let v: serde_json::Value = res.json().await?;
        ids.push(
            v["message_id"]
                .as_str()
                .ok_or_else(|| anyhow!("no message_id in {v}"))?
                .to_owned(),
        );
        i += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(ids)
}

/// How many of the notes have their receipt at the peer, waiting up to two
/// minutes for the last ones (deliveries refused under load are retried).
async fn wait_delivered(
    http: &reqwest::Client,
    peer: &str,
    token: &str,
    ids: &[String],
) -> Result<usize> {
    let give_up = Instant::now() + Duration::from_secs(120);
    loop {
        let mut delivered = 0;
        for id in ids {
            let v: serde_json::Value = http
                .get(format!("{peer}/api/v1/outbox/{id}"))
                .bearer_auth(token)
                .send()
                .await?
                .json()
                .await?;
            if v["status"] == "delivered" && !v["receipt"].is_null() {
                delivered += 1;
            }
        }
        if delivered == ids.len() || Instant::now() > give_up {
            return Ok(delivered);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// What the attackers saw, by kind of answer.
#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    answered_4xx: AtomicU64,
    answered_5xx: AtomicU64,
    answered_other: AtomicU64,
    closed: AtomicU64,
    timed_out: AtomicU64,
}

impl Tally {
    fn summary(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "{} attempts: {} answered 4xx, {} 5xx, {} other, {} connections closed or refused without an answer, {} timed out",
            g(&self.sent),
            g(&self.answered_4xx),
            g(&self.answered_5xx),
            g(&self.answered_other),
            g(&self.closed),
            g(&self.timed_out)
        )
    }
}

/// One attacker: from its own loopback address, over a new connection each
/// time, in turn a garbage federation request announcing `body` bytes (sent
/// as fast as the node takes them), a garbage bearer token, an invented
/// method.
async fn attacker(i: u64, target: SocketAddr, body: u64, until: Instant, tally: Arc<Tally>) {
    let source = IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        1 + (i / 250) as u8,
        1 + (i % 250) as u8,
    ));
    let mut round: u64 = 0;
    while Instant::now() < until {
        let request = match round % 3 {
            0 => {
                // Half name no peer, half the pinned peer's public node id
                // (anyone can read it) with a signature that cannot hold.
                let keyid = if round.is_multiple_of(2) { format!("x{i}-{round}") } else { PEER.to_owned() };
                let path = if round.is_multiple_of(6) { "/federation/inbox/batch" } else { "/federation/inbox" };
                Attempt {
                    head: format!(
                        "POST {path} HTTP/1.1\r\nhost: {target}\r\ncontent-type: application/json\r\ncontent-length: {body}\r\ncontent-digest: sha-256=:AAAA:\r\nsignature-input: sig1=(\"@method\" \"@target-uri\" \"content-digest\");created={};keyid=\"{keyid}\";alg=\"ed25519\"\r\nsignature: sig1=:AAAA:\r\nconnection: close\r\n\r\n",
                        time::OffsetDateTime::now_utc().unix_timestamp()
                    ),
                    body,
                }
            }
            1 => Attempt {
                head: format!("GET /api/v1/cases HTTP/1.1\r\nhost: {target}\r\nauthorization: Bearer garbage-{i}-{round}\r\nconnection: close\r\n\r\n"),
                body: 0,
            },
            _ => Attempt {
                head: format!("{} /api/v1/cases HTTP/1.1\r\nhost: {target}\r\nconnection: close\r\n\r\n", "X".repeat(4096 + (round as usize % 64))),
                body: 0,
            },
        };
        round += 1;
        tally.sent.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(Duration::from_secs(15), attempt(source, target, &request)).await {
            Ok(Some(status)) => match status {
                400..=499 => &tally.answered_4xx,
                500..=599 => &tally.answered_5xx,
                _ => &tally.answered_other,
            },
            Ok(None) => &tally.closed,
            Err(_) => &tally.timed_out,
        }
        .fetch_add(1, Ordering::Relaxed);
    }
}

struct Attempt {
    head: String,
    body: u64,
}

/// Sends one request; the status the node answered, if it answered.
async fn attempt(source: IpAddr, target: SocketAddr, request: &Attempt) -> Option<u16> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::new(source, 0)).ok()?;
    let stream = socket.connect(target).await.ok()?;
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(request.head.as_bytes()).await.ok()?;
    let chunk = vec![b'{'; 64 * 1024];
    let mut left = request.body;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while left > 0 {
        // Stop writing as soon as the node answers (it refuses before reading).
        tokio::select! {
            n = reader.read(&mut buf) => {
                match n {
                    Ok(n) if n > 0 => { answer.extend_from_slice(&buf[..n]); break; }
                    _ => return status(&answer),
                }
            }
            w = writer.write_all(&chunk[..usize::try_from(left.min(chunk.len() as u64)).unwrap_or(0)]) => {
                if w.is_err() { break; }
                left = left.saturating_sub(chunk.len() as u64);
            }
        }
    }
    while answer.len() < 64 {
        match reader.read(&mut buf).await {
            Ok(n) if n > 0 => answer.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    status(&answer)
}

/// The status code of an HTTP/1.1 answer's first line.
fn status(answer: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(answer.get(..answer.len().min(32))?).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}
