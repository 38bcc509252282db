//! The `entraide` binary itself: init, users, tokens, serve, demo, and its
//! one-line errors.

use std::process::{Command, Output};

use anyhow::Result;
use entraide_testkit::Backend;

fn entraide(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_entraide"))
        .args(args)
        .env_remove("ENTRAIDE_DATA_DIR")
        .output()
        .unwrap_or_else(|e| panic!("cannot run entraide: {e}"))
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn assert_one_line_error(o: &Output, needle: &str) {
    let (_, err) = text(o);
    assert!(!o.status.success(), "should fail: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "{needle} not in: {err}");
}

fn init_args<'a>(dir: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "init",
        "--data-dir",
        dir,
        "--node-id",
        "fr-test",
        "--org-name",
        "Test 24/7 point of contact",
        "--org-kind",
        "point-of-contact-24-7",
        "--country",
        "FR",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn init_users_tokens_and_errors() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("node");
    let dir = dir.to_str().unwrap_or_default();

    // Invalid input: a one-line error, a non-zero exit, nothing created.
    let mut bad = init_args(dir, &[]);
    bad[10] = "XX";
    assert_one_line_error(&entraide(&bad), "--country");
    assert!(
        !std::path::Path::new(dir).exists(),
        "a failed init leaves nothing behind"
    );
    let mut bad = init_args(dir, &[]);
    bad[8] = "police";
    assert_one_line_error(&entraide(&bad), "--org-kind");

    let out = entraide(&init_args(dir, &["--admin-email", "chief@test.example"]));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Password (shown once"), "{stdout}");
    let keys = tmp.path().join("node/keys");
    assert!(keys.is_dir());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&keys)?.permissions().mode() & 0o777,
            0o700
        );
        let config = tmp.path().join("node/entraide.toml");
        assert_eq!(
            std::fs::metadata(config)?.permissions().mode() & 0o777,
            0o600
        );
    }
    // Never overwrite an existing node.
    assert_one_line_error(&entraide(&init_args(dir, &[])), "refusing to overwrite");

    // Users.
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, "an officer password\n")?;
    let pw = pw.to_str().unwrap_or_default();
    let out = entraide(&[
        "user",
        "add",
        "--data-dir",
        dir,
        "--email",
        "officer@test.example",
        "--name",
        "Officer One",
        "--roles",
        "officer,approver",
        "--password-file",
        pw,
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let dup = entraide(&[
        "user",
        "add",
        "--data-dir",
        dir,
        "--email",
        "officer@test.example",
        "--name",
        "Again",
        "--roles",
        "officer",
    ]);
    assert_one_line_error(&dup, "already exists");
    let bad_role = entraide(&[
        "user",
        "add",
        "--data-dir",
        dir,
        "--email",
        "x@test.example",
        "--name",
        "X",
        "--roles",
        "king",
    ]);
    assert_one_line_error(&bad_role, "--roles");
    let (list, _) = text(&entraide(&["user", "list", "--data-dir", dir]));
    assert!(list.contains("officer@test.example") && list.contains("officer,approver"));

    // Tokens.
    let out = entraide(&[
        "token",
        "create",
        "--data-dir",
        dir,
        "--user",
        "officer@test.example",
        "--name",
        "ci",
    ]);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert!(stdout.contains("ent_"));
    let id = stdout
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let out = entraide(&["token", "revoke", "--data-dir", dir, "--id", &id]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_one_line_error(
        &entraide(&["token", "revoke", "--data-dir", dir, "--id", &id]),
        "already revoked",
    );
    let out = entraide(&[
        "user",
        "disable",
        "--data-dir",
        dir,
        "--email",
        "officer@test.example",
    ]);
    assert!(out.status.success());
    assert_one_line_error(
        &entraide(&[
            "user",
            "disable",
            "--data-dir",
            dir,
            "--email",
            "ghost@test.example",
        ]),
        "no user",
    );
    // Configuration errors name the key.
    let out = Command::new(env!("CARGO_BIN_EXE_entraide"))
        .args(["serve", "--data-dir", dir])
        .env("ENTRAIDE_LISTEN", "nowhere")
        .output()?;
    assert_one_line_error(&out, "`listen`");
    let out = Command::new(env!("CARGO_BIN_EXE_entraide"))
        .args(["serve", "--data-dir", dir])
        .env("ENTRAIDE_LISTN", "127.0.0.1:1")
        .output()?;
    assert_one_line_error(&out, "ENTRAIDE_LISTN");
    Ok(())
}

#[test]
fn init_on_postgres_refuses_a_database_that_holds_a_node() -> Result<()> {
    let Some(Backend::Postgres(base)) = Backend::postgres() else {
        eprintln!("skipped: set ENTRAIDE_TEST_DATABASE_URL to run this test on PostgreSQL");
        return Ok(());
    };
    let rt = tokio::runtime::Runtime::new()?;
    let url = rt.block_on(async {
        use sqlx::Connection;
        let name = format!("entraide_cli_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&base).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        let (prefix, _) = base.rsplit_once('/').unwrap_or((&base, ""));
        Ok::<_, anyhow::Error>(format!("{prefix}/{name}"))
    })?;
    let tmp = tempfile::tempdir()?;
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let out = entraide(&init_args(
        a.to_str().unwrap_or_default(),
        &["--database-url", &url],
    ));
    assert!(out.status.success(), "{:?}", text(&out));
    let out = entraide(&init_args(
        b.to_str().unwrap_or_default(),
        &["--database-url", &url],
    ));
    assert_one_line_error(&out, "already holds a node");
    assert!(!b.exists());
    Ok(())
}

#[test]
fn demo_starts_two_nodes() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let out = entraide(&[
        "demo",
        "--base-port",
        "0",
        "--check",
        "--data-dir",
        tmp.path().to_str().unwrap_or_default(),
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.matches("http://127.0.0.1:").count(), 2, "{stdout}");
    assert!(stdout.contains("officer@pc247.demo.example"));
    assert!(stdout.contains("officer@ufeci.demo.example"));
    // The operator's view of the demo requests.
    let fr = tmp.path().join("fr-pc247");
    let fr = fr.to_str().unwrap_or_default();
    let out = entraide(&["requests", "list", "--data-dir", fr]);
    let (list, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        list.contains("PC247-2026-0117/R1") && list.contains("preserved"),
        "{list}"
    );
    let out = entraide(&[
        "requests",
        "list",
        "--data-dir",
        fr,
        "--state",
        "draft",
        "--json",
    ]);
    let (json, _) = text(&out);
    assert_eq!(json.lines().count(), 1, "{json}");
    let out = entraide(&["requests", "show", "--data-dir", fr, "PC247-2026-0117/R1"]);
    let (show, _) = text(&out);
    assert!(
        show.contains("Budapest art. 29(7)") && show.contains("confirm_preservation"),
        "{show}"
    );
    let pdf = tmp.path().join("r1.pdf");
    let out = entraide(&[
        "requests",
        "export",
        "--data-dir",
        fr,
        "PC247-2026-0117/R1",
        "--lang",
        "fr",
        "--output",
        pdf.to_str().unwrap_or_default(),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(std::fs::read(&pdf)?.starts_with(b"%PDF-"));
    assert_one_line_error(
        &entraide(&["requests", "show", "--data-dir", fr, "NOPE/R9"]),
        "no request",
    );
    assert_one_line_error(
        &entraide(&["requests", "list", "--data-dir", fr, "--state", "lost"]),
        "--state",
    );
    // Run again on the same directory: the nodes are reused, not recreated.
    let out = entraide(&[
        "demo",
        "--base-port",
        "0",
        "--check",
        "--data-dir",
        tmp.path().to_str().unwrap_or_default(),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    Ok(())
}

#[test]
fn version_and_help() {
    let out = entraide(&["--version"]);
    assert!(text(&out).0.starts_with("entraide "));
    let out = entraide(&["--help"]);
    let (help, _) = text(&out);
    for cmd in ["init", "serve", "user", "token", "demo"] {
        assert!(help.contains(cmd), "{cmd}");
    }
}
