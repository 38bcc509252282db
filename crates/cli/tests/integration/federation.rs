//! Federation, first part: the signed node document and peers pinned by
//! fingerprint (API and command line).

use std::process::Command;

use anyhow::Result;
use entraide_domain::Role;
use entraide_testkit::{on_both_backends, spawn_node, Backend};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(node_document_and_peers_pinned_by_fingerprint);

async fn node_document_and_peers_pinned_by_fingerprint(backend: Backend) -> Result<()> {
    let a = spawn_node(backend.clone()).await?;
    let b = entraide_testkit::spawn_node_with(
        backend,
        entraide_testkit::Options {
            node_id: Some("ar-ufeci".into()),
            ..Default::default()
        },
    )
    .await?;
    let a_admin = a.admin().await?;
    let b_admin = b.admin().await?;
    let officer = b.user("officer", &[Role::Officer]).await?;

    // A's document: public, signed, naming its keys and address.
    let identity = a.api(Some(&a_admin.token)).get("/api/v1/node").await?;
    let a_fp = identity.json["signing_fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let doc = a.api(None).get("/.well-known/entraide/node").await?;
    assert_eq!(doc.status, StatusCode::OK);
    let signed: entraide_federation::SignedNodeDocument = serde_json::from_value(doc.json.clone())?;
    let parsed = signed.verify(&a_fp).map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(parsed.base_url, a.url);
    assert_eq!(parsed.country, "FR");
    assert_eq!(parsed.keys.len(), 2);
    assert_eq!(parsed.request_types.len(), 10);

    let api = b.api(Some(&b_admin.token));
    // A wrong fingerprint: refused, nothing pinned.
    let b_fp = b.api(Some(&b_admin.token)).get("/api/v1/node").await?.json["signing_fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = api
        .post("/api/v1/peers", &json!({"url": a.url, "fingerprint": b_fp}))
        .await?;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.code(), "fingerprint_mismatch");
    assert!(api
        .get("/api/v1/peers")
        .await?
        .json
        .as_array()
        .unwrap()
        .is_empty());
    // The right one: pinned.
    let added = api
        .post(
            "/api/v1/peers",
            &json!({"url": format!("{}/", a.url), "fingerprint": a_fp}),
        )
        .await?;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    assert_eq!(added.json["node_id"], "test-node");
    let peers = api.get("/api/v1/peers").await?;
    assert_eq!(peers.json[0]["signing_fingerprint"], a_fp.as_str());
    assert_eq!(peers.json[0]["status"], "active");
    // Twice: a conflict. Its own address: refused. Unreachable: 502.
    let again = api
        .post("/api/v1/peers", &json!({"url": a.url, "fingerprint": a_fp}))
        .await?;
    assert_eq!(again.code(), "peer_exists");
    let own = api
        .post("/api/v1/peers", &json!({"url": b.url, "fingerprint": b_fp}))
        .await?;
    assert_eq!(own.code(), "peer_is_self");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let down = api
        .post(
            "/api/v1/peers",
            &json!({"url": format!("http://127.0.0.1:{port}"), "fingerprint": a_fp}),
        )
        .await?;
    assert_eq!(down.status, StatusCode::BAD_GATEWAY);
    assert_eq!(down.code(), "peer_unreachable");
    let bad = api
        .post(
            "/api/v1/peers",
            &json!({"url": "ftp://x", "fingerprint": "12"}),
        )
        .await?;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json["errors"].as_array().unwrap().len(), 2);
    // Administrators only.
    let o = b.api(Some(&officer.token));
    assert_eq!(o.get("/api/v1/peers").await?.status, StatusCode::FORBIDDEN);
    // Disable, remove, audited.
    let disabled = api
        .patch("/api/v1/peers/test-node", &json!({"status": "disabled"}))
        .await?;
    assert_eq!(disabled.json["status"], "disabled");
    assert_eq!(
        api.patch("/api/v1/peers/test-node", &json!({"status": "asleep"}))
            .await?
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        api.delete("/api/v1/peers/test-node").await?.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.delete("/api/v1/peers/test-node").await?.status,
        StatusCode::NOT_FOUND
    );
    let audit = b
        .store
        .audit_entries(&entraide_store::AuditFilter {
            action: Some("peer.".into()),
            limit: 10,
            ..Default::default()
        })
        .await?;
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["peer.removed", "peer.status_changed", "peer.added"]
    );
    Ok(())
}

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
