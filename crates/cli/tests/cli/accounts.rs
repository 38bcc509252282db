//! `entraide user reset-password` and `reset-second-factor`: the operator's
//! way to unstick an account, a lone administrator's included, on SQLite
//! and (when ENTRAIDE_TEST_DATABASE_URL is set) on PostgreSQL.

use std::process::{Command, Output};

use anyhow::{anyhow, Result};
use entraide_domain::{AuditAction, AuditOutcome, Email};
use entraide_server::app::audit::Actor;
use entraide_server::app::credentials::verify_password;
use entraide_store::{AuditFilter, Store};
use entraide_testkit::Backend;

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

fn assert_one_line_error(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "should fail: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{needle} not in: {err}");
}

/// A fresh PostgreSQL database on the server of ENTRAIDE_TEST_DATABASE_URL.
async fn fresh_postgres(base: &str) -> Result<String> {
    use sqlx::Connection;
    let name = format!("entraide_cli_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(base).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    let (prefix, _) = base.rsplit_once('/').unwrap_or((base, ""));
    Ok(format!("{prefix}/{name}"))
}

async fn user(store: &dyn Store, email: &str) -> Result<entraide_store::User> {
    store
        .user_by_email(&Email::parse(email).map_err(|e| anyhow!(e))?)
        .await?
        .ok_or_else(|| anyhow!("no user {email}"))
}

async fn audited(store: &dyn Store, action: &str) -> Result<Vec<entraide_store::AuditEntry>> {
    Ok(store
        .audit_entries(&AuditFilter {
            action: Some(action.into()),
            limit: 10,
            ..Default::default()
        })
        .await?)
}

async fn resets_from_the_command_line(database_url: Option<String>) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("node");
    let dir = dir.to_str().unwrap_or_default().to_owned();
    let mut init = vec![
        "init",
        "--data-dir",
        &dir,
        "--node-id",
        "fr-test",
        "--org-name",
        "Test central authority",
        "--org-kind",
        "central-authority",
        "--country",
        "FR",
        "--admin-email",
        "chief@test.example",
    ];
    if let Some(url) = &database_url {
        init.extend(["--database-url", url.as_str()]);
    }
    let out = entraide(&init);
    assert!(out.status.success(), "{out:?}");
    let url = database_url.unwrap_or_else(|| format!("sqlite://{dir}/entraide.db"));
    let store = entraide_server::open_store(&url).await?;

    // The lone administrator forgot their password and lost their phone.
    let email = "chief@test.example";
    let chief = user(store.as_ref(), email).await?;
    store
        .set_pending_totp_secret(chief.id, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
        .await?;
    let entry = Actor::command_line().entry(AuditAction::TotpEnrolled, AuditOutcome::Success);
    store.enable_totp(chief.id, &entry).await?;

    let out = entraide(&[
        "user",
        "reset-password",
        "--data-dir",
        &dir,
        "--email",
        email,
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let temporary = text
        .lines()
        .find_map(|l| l.strip_prefix("Temporary password (shown once): "))
        .ok_or_else(|| anyhow!("no temporary password in: {text}"))?
        .to_owned();
    let chief = user(store.as_ref(), email).await?;
    assert!(chief.must_change_password);
    assert!(verify_password(chief.password_hash.clone(), temporary).await?);
    let entries = audited(store.as_ref(), "user.password_reset").await?;
    assert_eq!(entries.len(), 1);
    assert!(entries[0].actor.starts_with("cli:"), "{}", entries[0].actor);
    assert_eq!(entries[0].target.as_deref(), Some(email));
    let list = stdout(&entraide(&["user", "list", "--data-dir", &dir]));
    assert!(list.contains("must choose a new password"), "{list}");

    // A password chosen by the operator, from a file: nothing printed.
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, "chosen by the operator\n")?;
    let out = entraide(&[
        "user",
        "reset-password",
        "--data-dir",
        &dir,
        "--email",
        email,
        "--password-file",
        pw.to_str().unwrap_or_default(),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(!stdout(&out).contains("Temporary password"));
    let chief = user(store.as_ref(), email).await?;
    assert!(verify_password(chief.password_hash.clone(), "chosen by the operator".into()).await?);

    let out = entraide(&[
        "user",
        "reset-second-factor",
        "--data-dir",
        &dir,
        "--email",
        email,
    ]);
    assert!(out.status.success(), "{out:?}");
    let chief = user(store.as_ref(), email).await?;
    assert!(!chief.totp_enabled && chief.totp_secret.is_none());
    assert_eq!(
        audited(store.as_ref(), "user.second_factor_reset")
            .await?
            .len(),
        1
    );
    assert_one_line_error(
        &entraide(&[
            "user",
            "reset-second-factor",
            "--data-dir",
            &dir,
            "--email",
            email,
        ]),
        "no second factor",
    );
    assert_one_line_error(
        &entraide(&[
            "user",
            "reset-password",
            "--data-dir",
            &dir,
            "--email",
            "ghost@test.example",
        ]),
        "no user",
    );
    Ok(())
}

#[test]
fn user_reset_password_and_second_factor_on_sqlite() -> Result<()> {
    tokio::runtime::Runtime::new()?.block_on(resets_from_the_command_line(None))
}

#[test]
fn user_reset_password_and_second_factor_on_postgres() -> Result<()> {
    let Some(Backend::Postgres(base)) = Backend::postgres() else {
        eprintln!("skipped: set ENTRAIDE_TEST_DATABASE_URL to run this test on PostgreSQL");
        return Ok(());
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let url = fresh_postgres(&base).await?;
        resets_from_the_command_line(Some(url)).await
    })
}
