use anyhow::Result;
use entraide_domain::Role;
use entraide_testkit::{on_both_backends, spawn_node, Backend};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(audit_log_filters_exports_and_cannot_be_changed);

async fn audit_log_filters_exports_and_cannot_be_changed(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let officer = node.user("officer", &[Role::Officer]).await?;
    let auditor = node.user("auditor", &[Role::Auditor]).await?;
    let api = node.api(Some(&officer.token));
    for i in 0..3 {
        api.post(
            "/api/v1/cases",
            &json!({"reference": format!("AUD-{i}"), "title": "Audited"}),
        )
        .await?;
    }
    let aud = node.api(Some(&auditor.token));
    let r = aud.get("/api/v1/audit?action=case.created").await?;
    assert_eq!(r.status, StatusCode::OK);
    let entries = r.json["entries"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 3);
    assert!(entries
        .iter()
        .all(|e| e["actor"] == "officer@test.example" && e["client_ip"] == "127.0.0.1"));
    // Families, actors and pagination.
    let r = aud
        .get("/api/v1/audit?action=case.&actor=OFFICER&limit=2")
        .await?;
    assert_eq!(r.json["entries"].as_array().map(Vec::len), Some(2));
    let before = r.json["next_before"].as_i64().unwrap_or_default();
    let r = aud
        .get(&format!(
            "/api/v1/audit?action=case.&actor=officer&limit=2&before={before}"
        ))
        .await?;
    assert_eq!(r.json["entries"].as_array().map(Vec::len), Some(1));
    // Token use is recorded.
    let r = aud.get("/api/v1/audit?action=token.used").await?;
    assert!(r.text.contains("officer@test.example"));
    // Bad filters are field errors.
    let r = aud
        .get("/api/v1/audit?from=yesterday&outcome=maybe")
        .await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["errors"].as_array().map(Vec::len), Some(2));
    let r = aud.get("/api/v1/audit?colour=red").await?;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // CSV export, with formula injection neutralised.
    let r = aud
        .get("/api/v1/audit/export.csv?action=case.created")
        .await?;
    assert!(r.content_type().starts_with("text/csv"));
    let mut lines = r.text.lines();
    assert!(lines.next().unwrap_or("").starts_with("id,at,actor"));
    assert_eq!(lines.count(), 3);
    // Reading and exporting are themselves audited.
    let r = aud.get("/api/v1/audit?action=audit.").await?;
    assert!(r.text.contains("audit.exported") && r.text.contains("audit.read"));

    // The database itself refuses to change or delete audit entries.
    let refused = if node.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&node.database_url).await?;
        let upd = sqlx::query("UPDATE audit_log SET actor = 'someone else'")
            .execute(&pool)
            .await;
        let del = sqlx::query("DELETE FROM audit_log").execute(&pool).await;
        upd.is_err() && del.is_err()
    } else {
        let pool = sqlx::PgPool::connect(&node.database_url).await?;
        let upd = sqlx::query("UPDATE audit_log SET actor = 'someone else'")
            .execute(&pool)
            .await;
        let del = sqlx::query("DELETE FROM audit_log").execute(&pool).await;
        let tru = sqlx::query("TRUNCATE audit_log").execute(&pool).await;
        upd.is_err() && del.is_err() && tru.is_err()
    };
    assert!(refused, "the audit log accepted a change");
    let r = aud.get("/api/v1/audit?action=case.created").await?;
    assert_eq!(r.json["entries"].as_array().map(Vec::len), Some(3));
    Ok(())
}
