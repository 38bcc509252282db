//! `entraide bench federation`: two real nodes in this process, each on
//! SQLite in a temporary directory and serving HTTPS on 127.0.0.1:0 with a
//! certificate from a private authority made here with `openssl`, peered as
//! operators would (node document fetched, fingerprint checked, keys
//! pinned). Measures notes per second, the latency of one note, and an
//! attachment against a plain HTTPS upload of the same file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use entraide_federation::{MessageKind, OutboxStatus};
use entraide_server::admin::service::{initialise_node, NewNode};
use entraide_server::app::audit::Actor;
use entraide_server::app::config::Settings;
use entraide_server::app::state::AppState;
use entraide_server::{Node, RunningNode};

use super::{cpu_seconds, peak_rss_mib, write_test_file};

pub struct Args {
    pub messages: u64,
    pub senders: u64,
    pub latency_messages: u64,
    pub rate: u64,
    pub attachment_mib: u64,
    pub attachment_runs: u32,
    pub dir: Option<PathBuf>,
}

const SENDER: &str = "bench-a";
const RECEIVER: &str = "bench-b";

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
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = make_certificates(&dir.join("tls"))?;
    let (a, a_node) = boot(&dir.join(SENDER), SENDER, &tls).await?;
    let (b, b_node) = boot(&dir.join(RECEIVER), RECEIVER, &tls).await?;
    for (me, other, addr) in [(&a, &b, b_node.addr), (&b, &a, a_node.addr)] {
        let fingerprint = other
            .identity
            .federation_key(time::OffsetDateTime::now_utc())
            .fingerprint();
        entraide_server::federation::peers::add_peer(
            me,
            &Actor::command_line(),
            &format!("https://{addr}"),
            &fingerprint,
        )
        .await
        .map_err(|e| anyhow!("peering: {e}"))?;
    }
    println!(
        "two nodes on SQLite, HTTPS on {} and {}, peered",
        a_node.addr, b_node.addr
    );

    // Queued by one sender, then by several at once (a node's users do not
    // take turns); delivered to the peer in queue order either way.
    for senders in [1, args.senders.max(1)] {
        if args.messages == 0 {
            break;
        }
        let (rate, queued_rate) = throughput(&a, &b, args.messages, senders).await?;
        println!(
            "throughput: {} notes from {senders} sender(s) delivered with receipts at {rate:.0} messages/s (queued at {queued_rate:.0}/s)",
            args.messages
        );
    }
    if args.latency_messages > 0 {
        let lat = latency(&a, args.latency_messages, args.rate).await?;
        println!(
            "latency ({} notes at {}/s, queued → receipt stored): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            args.latency_messages, args.rate, lat.0, lat.1, lat.2
        );
    }
    if args.attachment_mib > 0 {
        attachment(
            &a,
            &b,
            &dir,
            &tls,
            args.attachment_mib,
            args.attachment_runs,
        )
        .await?;
    }
    a_node.stop();
    b_node.stop();
    Ok(())
}

/// The private authority's certificate and the one certificate (for
/// 127.0.0.1) both nodes and the upload endpoint serve.
struct Tls {
    ca_pem: Vec<u8>,
    cert: PathBuf,
    key: PathBuf,
}

fn make_certificates(dir: &Path) -> Result<Tls> {
    std::fs::create_dir_all(dir)?;
    let openssl = |args: &[&str]| -> Result<()> {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .context("openssl is needed to make the benchmark's certificates")?;
        if !out.status.success() {
            bail!(
                "openssl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=bench-ca",
    ]);
    openssl(&ca)?;
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "node.key",
        "-out",
        "node.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(&csr)?;
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "node.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "node.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ])?;
    Ok(Tls {
        ca_pem: std::fs::read(dir.join("ca.pem"))?,
        cert: dir.join("node.pem"),
        key: dir.join("node.key"),
    })
}

async fn boot(dir: &Path, node_id: &str, tls: &Tls) -> Result<(AppState, RunningNode)> {
    std::fs::create_dir_all(dir)?;
    let parse = |e: entraide_domain::ParseError| anyhow!(e);
    let url = format!("sqlite://{}", dir.join("entraide.db").display());
    let store = entraide_server::open_store(&url).await?;
    initialise_node(
        store.as_ref(),
        NewNode {
            node_id: entraide_domain::NodeId::parse(node_id).map_err(parse)?,
            org_name: entraide_domain::OrganisationName::parse(&format!("Bench {node_id}"))
                .map_err(parse)?,
            org_kind: entraide_domain::OrganisationKind::CentralAuthority,
            country: entraide_domain::CountryCode::parse("FR").map_err(parse)?,
            admin_email: entraide_domain::Email::parse(&format!("admin@{node_id}.invalid"))
                .map_err(parse)?,
            admin_name: entraide_domain::DisplayName::parse("Bench").map_err(parse)?,
            admin_password: entraide_domain::NewPassword::parse("bench password 2026")
                .map_err(parse)?,
        },
    )
    .await?;
    let settings = Settings {
        data_dir: dir.to_path_buf(),
        node_id: entraide_domain::NodeId::parse(node_id).map_err(parse)?,
        listen: "127.0.0.1:0".parse()?,
        database_url: url,
        database_max_connections: None,
        blob_dir: dir.join("blobs"),
        public_url: None,
        tls: Some((tls.cert.clone(), tls.key.clone())),
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
    let mut node = Node::with_store(settings, store)?;
    // The nodes trust the benchmark's private authority.
    node.state.federation_client =
        entraide_server::federation::signed::federation_client(Some(&tls.ca_pem))?;
    let state = node.state.clone();
    let running = node.start().await?;
    Ok((state, running))
}

fn note(i: u64) -> Vec<u8> {
    format!("{{\"text\":\"bench note {i}\"}}").into_bytes()
}

async fn send_note(a: &AppState, i: u64) -> Result<uuid::Uuid> {
    let m = entraide_server::federation::outbox::send(
        a,
        &Actor::command_line(),
        RECEIVER,
        MessageKind::Note,
        &note(i),
        None,
        time::Duration::hours(1),
    )
    .await
    .map_err(|e| anyhow!("queueing: {e}"))?;
    Ok(m.message_id)
}

/// Waits until the message's receipt is stored at the sender, polling
/// every `every`.
async fn wait_delivered(a: &AppState, id: uuid::Uuid, every: Duration) -> Result<()> {
    let give_up = Instant::now() + Duration::from_secs(600);
    loop {
        let m = a
            .store
            .outbox_message(id)
            .await?
            .ok_or_else(|| anyhow!("message {id} vanished"))?;
        match m.status {
            OutboxStatus::Delivered if m.receipt.is_some() => return Ok(()),
            OutboxStatus::Pending => {}
            other => bail!("message {id} {other}: {:?}", m.last_error),
        }
        if Instant::now() > give_up {
            bail!("message {id} still not delivered: {:?}", m.last_error);
        }
        tokio::time::sleep(every).await;
    }
}

/// `n` notes queued as fast as possible by `senders` concurrent tasks; done
/// when every one's receipt is stored (the outbox delivers each peer's
/// messages in order).
async fn throughput(a: &AppState, b: &AppState, n: u64, senders: u64) -> Result<(f64, f64)> {
    let start = Instant::now();
    let per_sender = n / senders;
    let tasks: Vec<_> = (0..senders)
        .map(|s| {
            let a = a.clone();
            let count = if s + 1 == senders {
                n - per_sender * (senders - 1)
            } else {
                per_sender
            };
            tokio::spawn(async move {
                let mut last = None;
                for i in 0..count {
                    last = Some(send_note(&a, s * per_sender + i).await?);
                }
                Ok::<_, anyhow::Error>(last)
            })
        })
        .collect();
    let mut lasts = Vec::new();
    for t in tasks {
        lasts.extend(t.await??);
    }
    let queued = start.elapsed().as_secs_f64();
    for id in lasts {
        wait_delivered(a, id, Duration::from_millis(2)).await?;
    }
    let total = start.elapsed().as_secs_f64();
    let sent = a.store.outbox(u32::try_from(n).unwrap_or(u32::MAX)).await?;
    let delivered = sent
        .iter()
        .filter(|m| m.status == OutboxStatus::Delivered && m.receipt.is_some())
        .count();
    let received = b
        .store
        .inbox(u32::try_from(n).unwrap_or(u32::MAX))
        .await?
        .len();
    if delivered as u64 != n || received as u64 != n {
        bail!("{n} queued, {delivered} delivered with a receipt, {received} in the peer's inbox");
    }
    Ok((n as f64 / total, n as f64 / queued))
}

/// One note at a time, `rate` per second: queueing → receipt stored at the
/// sender. Returns p50, p99 and max in milliseconds.
async fn latency(a: &AppState, n: u64, rate: u64) -> Result<(f64, f64, f64)> {
    let gap = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut times = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    let mut next = Instant::now();
    for i in 0..n {
        tokio::time::sleep_until(next.into()).await;
        next += gap;
        let t = Instant::now();
        let id = send_note(a, 1_000_000 + i).await?;
        // Polled every millisecond (tokio's timer granularity): a figure
        // may be up to 1 ms above the real one.
        wait_delivered(a, id, Duration::from_millis(1)).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let pick = |p: usize| {
        times
            .get((times.len() * p / 100).min(times.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok((
        pick(50),
        pick(99),
        times.last().copied().unwrap_or(f64::NAN),
    ))
}

fn current_rss_mib() -> f64 {
    super::status_mib("VmRSS:")
}

/// Resets the process's peak RSS (VmHWM) to its current RSS, so each phase
/// reports its own peak. Linux only; harmless elsewhere.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The same file through federation (chunks each encrypted, signed and
/// answered, hashed and written at the receiver, synced to its disk, and
/// taken by the message naming it) and as a plain HTTPS upload (streamed,
/// hashed and written to a file, not synced), `runs` times each in turn.
async fn attachment(
    a: &AppState,
    b: &AppState,
    dir: &Path,
    tls: &Tls,
    mib: u64,
    runs: u32,
) -> Result<()> {
    let file = dir.join("attachment.bin");
    let bytes = mib as f64 * 1024.0 * 1024.0;
    let mb = |s: f64| bytes / s / 1e6;
    let rss_before = current_rss_mib();
    println!();
    println!("| {mib} MiB file | time | throughput | ratio to the upload | CPU time (both sides) | peak RSS (both sides, one process) |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    for _ in 0..runs {
        write_test_file(&file, mib)?;
        // Plain HTTPS upload to a minimal endpoint served with rustls.
        reset_peak_rss();
        let uploaded = dir.join("uploaded.bin");
        warm_page_cache(dir, 2 * mib)?;
        let cpu = cpu_seconds();
        let (upload_s, upload_hash) = https_upload(&file, &uploaded, tls).await?;
        let upload_cpu = cpu_seconds() - cpu;
        let upload_peak = peak_rss_mib();
        let _ = std::fs::remove_file(&uploaded);

        // The file's SHA-256, as the evidence store holds it for each file
        // (timed apart: what a file not hashed before costs first).
        let start = Instant::now();
        let path = file.clone();
        let (sha256, _) = tokio::task::spawn_blocking(move || {
            entraide_evidence::verify::hash_stream(&mut std::fs::File::open(path)?)
        })
        .await??;
        let hash_s = start.elapsed().as_secs_f64();

        // Federation.
        warm_page_cache(dir, 2 * mib)?;
        reset_peak_rss();
        let cpu = cpu_seconds();
        let start = Instant::now();
        let sent = entraide_server::federation::attachments::send(
            a,
            &Actor::command_line(),
            RECEIVER,
            &file,
            Some(sha256),
        )
        .await
        .map_err(|e| anyhow!("attachment: {e}"))?;
        let queued_s = start.elapsed().as_secs_f64();
        wait_delivered(a, sent.id, Duration::from_millis(2)).await?;
        let delivered_s = start.elapsed().as_secs_f64();
        let out = dir.join("joined.bin");
        entraide_server::federation::attachments::take(b, SENDER, &sent, &out)
            .await
            .map_err(|e| anyhow!("taking the attachment: {e}"))?;
        let federation_s = start.elapsed().as_secs_f64();
        let federation_cpu = cpu_seconds() - cpu;
        let federation_peak = peak_rss_mib();
        let _ = std::fs::remove_file(&out);
        if sent.sha256 != upload_hash {
            bail!(
                "hashes differ: upload {upload_hash}, attachment {}",
                sent.sha256
            );
        }
        println!(
            "| plain HTTPS upload (rustls, streamed, SHA-256 at the server, written to a file) | {upload_s:.2} s | {:.0} MB/s | 100 % | {upload_cpu:.2} s | {upload_peak:.0} MiB |",
            mb(upload_s)
        );
        println!(
            "| federation attachment ({} chunks; queued in {queued_s:.3} s, delivered at {delivered_s:.2} s, taken) | {federation_s:.2} s | {:.0} MB/s | **{:.0} %** | {federation_cpu:.2} s | {federation_peak:.0} MiB |",
            sent.chunks,
            mb(federation_s),
            100.0 * upload_s / federation_s
        );
        ratios.push(100.0 * upload_s / federation_s);
        println!(
            "| (hashing the file first, when its SHA-256 is not known yet) | +{hash_s:.2} s | {:.0} MB/s | {:.0} % | | |",
            mb(federation_s + hash_s),
            100.0 * upload_s / (federation_s + hash_s)
        );
    }
    let _ = std::fs::remove_file(&file);
    ratios.sort_by(f64::total_cmp);
    if let (Some(low), Some(high)) = (ratios.first(), ratios.last()) {
        let median = ratios[ratios.len() / 2];
        println!(
            "\nattachment / upload over {runs} run(s): median {median:.0} %, lowest {low:.0} %, highest {high:.0} %"
        );
    }
    println!("RSS before the attachment runs: {rss_before:.0} MiB");
    Ok(())
}

/// Writes and deletes `mib` MiB, so that the file pages the next phase
/// writes are ones the kernel has just freed. On a virtual machine, the
/// first write to memory the guest has not touched for a while is several
/// times slower (the host maps it in); without this, whichever phase
/// happened to get such pages looked two to three times slower.
fn warm_page_cache(dir: &Path, mib: u64) -> Result<()> {
    use std::io::Write;
    let path = dir.join("warm.bin");
    let mut f = std::fs::File::create(&path)?;
    let buf = vec![0x5au8; 1 << 20];
    for _ in 0..mib {
        f.write_all(&buf)?;
    }
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(())
}

/// Serves one upload endpoint over HTTPS and uploads `file` to it;
/// returns the seconds taken and the SHA-256 the server computed.
async fn https_upload(file: &Path, dest: &Path, tls: &Tls) -> Result<(f64, String)> {
    use axum::routing::post;
    use futures_util::StreamExt;
    use sha2::Digest;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dest = dest.to_path_buf();
    let app = axum::Router::new().route(
        "/upload",
        post(move |body: axum::body::Body| {
            let dest = dest.clone();
            async move {
                let result = async {
                    let mut out = tokio::fs::File::create(&dest).await?;
                    let mut hasher = sha2::Sha256::new();
                    let mut stream = body.into_data_stream();
                    while let Some(piece) = stream.next().await {
                        let piece = piece.map_err(std::io::Error::other)?;
                        hasher.update(&piece);
                        out.write_all(&piece).await?;
                    }
                    out.flush().await?;
                    Ok::<_, std::io::Error>(hex::encode(hasher.finalize()))
                }
                .await;
                match result {
                    Ok(h) => (axum::http::StatusCode::OK, h),
                    Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                }
            }
        }),
    );
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key).await?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = axum_server::from_tcp_rustls(listener, config)
            .serve(app.into_make_service())
            .await;
    });
    let client = entraide_server::federation::signed::federation_client(Some(&tls.ca_pem))?;
    // Warm the connection (TLS handshake) outside the measurement, as the
    // federation client's connection is warm after the notes.
    let _ = client.get(format!("https://{addr}/")).send().await?;
    let start = Instant::now();
    let reader = tokio::fs::File::open(file).await?;
    let stream = futures_util::stream::unfold(reader, |mut reader| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), reader))
            }
            Err(e) => Some((Err(e), reader)),
        }
    });
    let res = client
        .post(format!("https://{addr}/upload"))
        .timeout(Duration::from_secs(3600))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await?;
    let status = res.status();
    let hash = res.text().await?;
    let took = start.elapsed().as_secs_f64();
    server.abort();
    if !status.is_success() {
        bail!("upload answered {status}: {hash}");
    }
    Ok((took, hash))
}
