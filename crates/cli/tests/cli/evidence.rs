//! `entraide evidence`: ingest (by move, and killed with SIGKILL), scrub,
//! export, offline verification and the CASE/UCO export checked by
//! `case_validate`.

use std::io::{Read, Write};
use std::process::{Command, Output};

use anyhow::Result;
use sha2::{Digest, Sha256};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Where a node's local blob store keeps `bytes`.
fn blob_path(node_dir: &std::path::Path, bytes: &[u8]) -> std::path::PathBuf {
    let hash = sha256(bytes);
    node_dir
        .join("blobs")
        .join("sha256")
        .join(&hash[..2])
        .join(&hash[2..4])
        .join(&hash)
}

/// The package with one byte of `needle` (a file's content) changed.
fn tamper(zip: &[u8], needle: &[u8]) -> Vec<u8> {
    let mut out = zip.to_vec();
    let at = out
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("content in the package");
    out[at + 3] ^= 0x20;
    out
}

fn entraide(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_entraide"))
        .args(args)
        .env_remove("ENTRAIDE_DATA_DIR")
        .output()
        .unwrap_or_else(|e| panic!("cannot run entraide: {e}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A node created by `entraide init`, with a case opened by its admin.
async fn cli_node(dir: &std::path::Path) -> Result<()> {
    let d = dir.to_str().unwrap();
    let o = entraide(&[
        "init",
        "--data-dir",
        d,
        "--node-id",
        "fr-lab",
        "--org-name",
        "Laboratoire de police scientifique",
        "--org-kind",
        "forensic-laboratory",
        "--country",
        "FR",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("Signing key fingerprint"));
    let store =
        entraide_server::open_store(&format!("sqlite://{}", dir.join("entraide.db").display()))
            .await?;
    let admin = store
        .user_by_email(&entraide_domain::Email::parse("admin@fr-lab.invalid")?)
        .await?
        .unwrap();
    entraide_server::cases::service::create_case(
        store.as_ref(),
        &entraide_server::app::audit::Actor::command_line(),
        admin.id,
        entraide_domain::CaseReference::parse("LAB-2026-0001")?,
        entraide_domain::CaseTitle::parse("Seized laptop")?,
        entraide_domain::CaseSummary::parse("")?,
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_with_move_takes_the_file_without_a_copy() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("node");
    cli_node(&dir).await?;
    let d = dir.to_str().unwrap();
    let image = tmp.path().join("laptop.E01");
    let bytes: Vec<u8> = (0..2_500_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&image, &bytes)?;
    let o = entraide(&[
        "evidence",
        "ingest",
        "--data-dir",
        d,
        "--case",
        "LAB-2026-0001",
        "--move",
        "--quiet",
        image.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains(&sha256(&bytes)), "{}", stdout(&o));
    assert!(stdout(&o).contains("laptop.E01"));
    assert!(!image.exists(), "moved, not copied");
    let blob = blob_path(&dir, &bytes);
    assert_eq!(std::fs::read(&blob)?, bytes);
    let scrub = entraide(&["evidence", "scrub", "--data-dir", d]);
    assert!(scrub.status.success(), "{}", stdout(&scrub));
    assert!(stdout(&scrub).contains("1 items checked: 1 intact, 0 corrupted"));

    // Not a regular file: one line, non-zero exit, nothing recorded.
    let o = entraide(&[
        "evidence",
        "ingest",
        "--data-dir",
        d,
        "--case",
        "LAB-2026-0001",
        "--move",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not a regular file"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let list = entraide(&[
        "evidence",
        "list",
        "--data-dir",
        d,
        "--case",
        "LAB-2026-0001",
    ]);
    assert_eq!(stdout(&list).lines().count(), 1, "{}", stdout(&list));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_ingest_leaves_store_and_log_consistent_then_export_verifies() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("node");
    cli_node(&dir).await?;
    let d = dir.to_str().unwrap();

    // An ingest reading from a pipe, killed with SIGKILL half-way.
    let fifo = tmp.path().join("pipe");
    assert!(Command::new("mkfifo").arg(&fifo).status()?.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_entraide"))
        .args([
            "evidence",
            "ingest",
            "--data-dir",
            d,
            "--case",
            "LAB-2026-0001",
            "--quiet",
        ])
        .arg(&fifo)
        .spawn()?;
    // Feed the pipe from a thread (opening it blocks until the ingest
    // reads), and watch for the ingest's temporary file.
    let feeder = {
        let fifo = fifo.clone();
        std::thread::spawn(move || -> std::io::Result<()> {
            let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo)?;
            let chunk = vec![0x5au8; 1 << 20];
            for _ in 0..16 {
                writer.write_all(&chunk)?;
            }
            // Keep the pipe open: the ingest is killed before it ends.
            std::thread::sleep(std::time::Duration::from_secs(5));
            Ok(())
        })
    };
    let tmp_dir = dir.join("blobs").join("tmp");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let written = |dir: &std::path::Path| -> bool {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .any(|e| e.metadata().map(|m| m.len() > 0).unwrap_or(false))
            })
            .unwrap_or(false)
    };
    while !written(&tmp_dir) {
        assert!(
            child.try_wait()?.is_none(),
            "the ingest stopped before it was killed"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the ingest never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        std::fs::read_dir(&tmp_dir)?.next().is_some(),
        "the ingest started writing"
    );
    assert!(Command::new("kill")
        .arg("-9")
        .arg(child.id().to_string())
        .status()?
        .success());
    child.wait()?;
    drop(feeder);

    // Restart: the partial file goes, nothing references it, the log is
    // consistent, and ingest works again.
    let file = tmp.path().join("image.dd");
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&file, &bytes)?;
    let o = entraide(&[
        "evidence",
        "ingest",
        "--data-dir",
        d,
        "--case",
        "LAB-2026-0001",
        file.to_str().unwrap(),
        "--exhibit-number",
        "SC-12",
        "--performer",
        "Technicien Durand",
        "--legacy-hashes",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains(&sha256(&bytes)));
    assert!(stdout(&o).contains("MD5"));
    assert_eq!(
        std::fs::read_dir(&tmp_dir)?.count(),
        0,
        "the killed ingest's partial file is gone"
    );
    let list = entraide(&[
        "evidence",
        "list",
        "--data-dir",
        d,
        "--case",
        "LAB-2026-0001",
    ]);
    assert_eq!(stdout(&list).lines().count(), 1, "{}", stdout(&list));
    let scrub = entraide(&["evidence", "scrub", "--data-dir", d]);
    assert!(scrub.status.success(), "{}", stdout(&scrub));
    assert!(stdout(&scrub).contains("1 items checked: 1 intact, 0 corrupted"));
    assert!(stdout(&scrub).contains("0 mismatched"));

    // Export, then verify offline with the fingerprint given at init.
    let pkg = tmp.path().join("package.zip");
    let o = entraide(&[
        "evidence",
        "export",
        "--data-dir",
        d,
        "--case",
        "LAB-2026-0001",
        "-o",
        pkg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fp = stdout(&o)
        .lines()
        .find_map(|l| l.strip_prefix("signing key fingerprint "))
        .unwrap()
        .to_owned();
    let v = entraide(&[
        "evidence",
        "verify",
        pkg.to_str().unwrap(),
        "--expect-key",
        &fp,
    ]);
    assert!(v.status.success(), "{}", stdout(&v));
    assert!(stdout(&v).contains("RESULT: the package holds"));
    let wrong = entraide(&[
        "evidence",
        "verify",
        pkg.to_str().unwrap(),
        "--expect-key",
        &"0".repeat(64),
    ]);
    assert!(!wrong.status.success());
    let tampered = tmp.path().join("tampered.zip");
    std::fs::write(&tampered, tamper(&std::fs::read(&pkg)?, &bytes[1000..1100]))?;
    let t = entraide(&["evidence", "verify", tampered.to_str().unwrap()]);
    assert!(!t.status.success());
    assert!(
        stdout(&t).contains("FAIL  files/") && stdout(&t).contains("image.dd"),
        "{}",
        stdout(&t)
    );
    let missing = entraide(&["evidence", "verify", "/nonexistent/package.zip"]);
    assert!(!missing.status.success());
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr)
            .trim()
            .lines()
            .count(),
        1
    );

    // CASE/UCO: case.jsonld passes case_validate when the validator is
    // installed (.ci/run installs case-utils and sets CASE_VALIDATE).
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&pkg)?)?;
    let mut jsonld = String::new();
    archive
        .by_name("case.jsonld")?
        .read_to_string(&mut jsonld)?;
    let jsonld_path = tmp.path().join("case.jsonld");
    std::fs::write(&jsonld_path, &jsonld)?;
    match std::env::var("CASE_VALIDATE")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(validator) => {
            let out = Command::new(&validator).arg(&jsonld_path).output()?;
            assert!(
                out.status.success(),
                "case_validate failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        None => eprintln!("skipped case_validate: set CASE_VALIDATE to the case_validate program"),
    }

    // A corrupted blob is found by the scrub and never served as valid.
    let blob = blob_path(&dir, &bytes);
    let mut damaged = std::fs::read(&blob)?;
    damaged[5] ^= 1;
    std::fs::write(&blob, damaged)?;
    let scrub = entraide(&["evidence", "scrub", "--data-dir", d]);
    assert!(!scrub.status.success());
    assert!(stdout(&scrub).contains("CORRUPTED"));
    let again = tmp.path().join("again.zip");
    let o = entraide(&[
        "evidence",
        "export",
        "--data-dir",
        d,
        "--case",
        "LAB-2026-0001",
        "-o",
        again.to_str().unwrap(),
    ]);
    assert!(!o.status.success(), "a corrupted item is not exported");
    Ok(())
}

// ------------------------------------------------------- object storage
