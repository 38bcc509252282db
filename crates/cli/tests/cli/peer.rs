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
