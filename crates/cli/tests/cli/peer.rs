//! `entraide peer`: adding a peer by its address and fingerprint, listing,
//! disabling, enabling and removing it.

use std::process::Command;

use anyhow::Result;
use entraide_testkit::{spawn_node, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_commands() -> Result<()> {
    let target = spawn_node(Backend::Sqlite).await?;
    let admin = target.admin().await?;
    let fp = target
        .api(Some(&admin.token))
        .get("/api/v1/node")
        .await?
        .json["signing_fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("node");
    let d = dir.to_str().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_entraide"))
            .args(args)
            .env_remove("ENTRAIDE_DATA_DIR")
            .output()
    };
    let init = run(&[
        "init",
        "--data-dir",
        d,
        "--node-id",
        "ar-ufeci",
        "--org-name",
        "Unidad Fiscal",
        "--org-kind",
        "prosecution-service",
        "--country",
        "AR",
    ])?;
    assert!(init.status.success());
    let wrong = run(&[
        "peer",
        "add",
        "--data-dir",
        d,
        "--url",
        &target.url,
        "--fingerprint",
        &"ab".repeat(32),
    ])?;
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("fingerprint"), "{err}");
    let ok = run(&[
        "peer",
        "add",
        "--data-dir",
        d,
        "--url",
        &target.url,
        "--fingerprint",
        &fp,
    ])?;
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let list = run(&["peer", "list", "--data-dir", d])?;
    assert!(String::from_utf8_lossy(&list.stdout).contains("test-node"));
    let id = run(&["peer", "identity", "--data-dir", d])?;
    assert!(String::from_utf8_lossy(&id.stdout).contains("encryption key fingerprint"));
    let gone = run(&["peer", "remove", "--data-dir", d, "nobody"])?;
    assert!(!gone.status.success());
    Ok(())
}

/// `entraide peer refresh`: a peer that moved is followed to its new
/// address with the key pinned for it; another node's document at the
/// address given is refused, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_refresh_follows_a_moved_peer_with_its_pinned_key() -> Result<()> {
    let target = spawn_node(Backend::Sqlite).await?;
    let other = spawn_node(Backend::Sqlite).await?;
    let fp = target.state.identity.signing_public().fingerprint();
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("node");
    let d = dir.to_str().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_entraide"))
            .args(args)
            .env_remove("ENTRAIDE_DATA_DIR")
            .output()
    };
    let init = run(&[
        "init",
        "--data-dir",
        d,
        "--node-id",
        "ar-ufeci",
        "--org-name",
        "Unidad Fiscal",
        "--org-kind",
        "prosecution-service",
        "--country",
        "AR",
    ])?;
    assert!(init.status.success());
    let add = run(&[
        "peer",
        "add",
        "--data-dir",
        d,
        "--url",
        &target.url,
        "--fingerprint",
        &fp,
    ])?;
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    // The same node (its data and keys) at another address.
    let moved = target.replica().await?;
    let new_url = moved.state.bound.get().cloned().unwrap();
    assert_ne!(new_url, target.url);

    // Another node at the address given: refused, in one line.
    let wrong = run(&[
        "peer",
        "refresh",
        "--data-dir",
        d,
        "test-node",
        "--url",
        &other.url,
    ])?;
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("not signed by the key pinned"), "{err}");
    let list = run(&["peer", "list", "--data-dir", d])?;
    assert!(String::from_utf8_lossy(&list.stdout).contains(&target.url));

    let ok = run(&[
        "peer",
        "refresh",
        "--data-dir",
        d,
        "test-node",
        "--url",
        &new_url,
    ])?;
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        out.contains(&format!("address changed from {}", target.url)),
        "{out}"
    );
    assert!(out.contains(&format!("pinned signing key {fp}")), "{out}");
    let list = run(&["peer", "list", "--data-dir", d, "--json"])?;
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout)?;
    assert_eq!(listed["base_url"], new_url.as_str());
    let bad = run(&[
        "peer",
        "refresh",
        "--data-dir",
        d,
        "test-node",
        "--url",
        "ftp://x",
    ])?;
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--url"));
    let id = run(&["peer", "identity", "--data-dir", d])?;
    assert!(String::from_utf8_lossy(&id.stdout).contains("public_url is not set"));
    let help = run(&["peer", "refresh", "--help"])?;
    assert!(String::from_utf8_lossy(&help.stdout).contains("public_url"));
    Ok(())
}
