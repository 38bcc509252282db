//! One transaction per business step: a request marked sent and the message
//! that sends it, or a received request and the case opened for it, are
//! stored together or not at all. The database itself is made to fail
//! (a trigger refusing inserts into one table) between the steps, and the
//! node is restarted on what is left.

use anyhow::Result;
use entraide_domain::Role;
use entraide_testkit::{on_both_backends, Backend, TestNode};
use reqwest::StatusCode;
use serde_json::json;

use super::federation::{act, pin, spawn_named, wait_for};

/// Makes every insert into `table` fail, as a full disk or a lost
/// connection would at that point of a transaction.
async fn refuse_inserts(node: &TestNode, table: &str) -> Result<()> {
    if node.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&node.database_url).await?;
        sqlx::query(&format!(
            "CREATE TRIGGER test_refuse_{table} BEFORE INSERT ON {table} \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        ))
        .execute(&pool)
        .await?;
    } else {
        let pool = sqlx::PgPool::connect(&node.database_url).await?;
        sqlx::query(
            "CREATE OR REPLACE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
        )
        .execute(&pool)
        .await?;
        sqlx::query(&format!(
            "CREATE TRIGGER test_refuse_{table} BEFORE INSERT ON {table} \
             FOR EACH ROW EXECUTE FUNCTION test_refuse()"
        ))
        .execute(&pool)
        .await?;
    }
    Ok(())
}

async fn allow_inserts(node: &TestNode, table: &str) -> Result<()> {
    if node.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&node.database_url).await?;
        sqlx::query(&format!("DROP TRIGGER test_refuse_{table}"))
            .execute(&pool)
            .await?;
    } else {
        let pool = sqlx::PgPool::connect(&node.database_url).await?;
        sqlx::query(&format!("DROP TRIGGER test_refuse_{table} ON {table}"))
            .execute(&pool)
            .await?;
    }
    Ok(())
}

/// Two pinned peers and an approved preservation request at `a`, ready to
/// be sent to `b`; returns the request id and the officer's token.
async fn approved_request(a: &TestNode, b: &TestNode) -> Result<(String, String)> {
    pin(a, b).await?;
    pin(b, a).await?;
    let officer = a.user("officer", &[Role::Officer]).await?;
    let approver = a.user("approver", &[Role::Approver]).await?;
    let o = a.api(Some(&officer.token));
    let case = o
        .post(
            "/api/v1/cases",
            &json!({"reference": "PC247-2026-0200", "title": "Botnet"}),
        )
        .await?;
    let case_id = case.json["id"].as_str().unwrap_or_default().to_owned();
    o.post(
        &format!("/api/v1/cases/{case_id}/members"),
        &json!({"email": approver.email}),
    )
    .await?;
    let r = o
        .post(
            &format!("/api/v1/cases/{case_id}/requests"),
            &json!({"kind": "expedited_preservation", "content": super::requests::complete_preservation()}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        act(&o, &id, "submit_for_approval").await?.status,
        StatusCode::OK
    );
    let ap = a.api(Some(&approver.token));
    assert_eq!(act(&ap, &id, "approve").await?.status, StatusCode::OK);
    Ok((id, officer.token))
}

on_both_backends!(a_send_that_cannot_queue_leaves_the_request_approved_with_nothing_queued);

async fn a_send_that_cannot_queue_leaves_the_request_approved_with_nothing_queued(
    backend: Backend,
) -> Result<()> {
    let mut a = spawn_named(backend.clone(), "fr-pc247").await?;
    let b = spawn_named(backend, "ar-ufeci").await?;
    let (id, token) = approved_request(&a, &b).await?;
    let request_id: uuid::Uuid = id.parse()?;

    // Queueing fails after the request was marked sent and linked, in the
    // same transaction: all of it is undone.
    refuse_inserts(&a, "outbox_messages").await?;
    let sent = a
        .api(Some(&token))
        .post(
            &format!("/api/v1/requests/{id}/send"),
            &json!({"peer": "ar-ufeci"}),
        )
        .await?;
    assert_eq!(
        sent.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        sent.text
    );
    let check = |node: &TestNode| {
        let store = node.store.clone();
        async move {
            let r = store
                .request_by_id(request_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("request gone"))?;
            assert_eq!(r.state.as_str(), "approved");
            assert!(r.sent_at.is_none());
            assert!(store.outbox(10).await?.is_empty(), "nothing queued");
            assert!(
                store.request_link(request_id).await?.is_none(),
                "not linked"
            );
            let events = store.request_events(request_id).await?;
            assert!(events.iter().all(|e| e.action != "mark_sent"), "{events:?}");
            anyhow::Ok(())
        }
    };
    check(&a).await?;

    // After a restart, the same: no half-sent request to repair.
    a.restart().await?;
    check(&a).await?;

    // Once the database takes inserts again, the same send goes through
    // and the peer registers the request.
    allow_inserts(&a, "outbox_messages").await?;
    let sent = a
        .api(Some(&token))
        .post(
            &format!("/api/v1/requests/{id}/send"),
            &json!({"peer": "ar-ufeci"}),
        )
        .await?;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    assert_eq!(sent.json["state"], "sent");
    assert_eq!(a.store.outbox(10).await?.len(), 1);
    let b_store = b.store.clone();
    wait_for(|| {
        let store = b_store.clone();
        async move {
            let all = store
                .all_requests(&entraide_store::RequestFilter {
                    limit: 10,
                    ..Default::default()
                })
                .await?;
            Ok((all.len() == 1).then_some(json!(null)))
        }
    })
    .await?;
    Ok(())
}

on_both_backends!(a_received_request_is_registered_whole_or_not_at_all);

async fn a_received_request_is_registered_whole_or_not_at_all(backend: Backend) -> Result<()> {
    let a = spawn_named(backend.clone(), "fr-pc247").await?;
    let mut b = spawn_named(backend, "ar-ufeci").await?;
    b.user("duty", &[Role::Officer]).await?;
    let (id, token) = approved_request(&a, &b).await?;
    let cases_before = b.store.all_cases().await?.len();

    // The receiver stores the message and answers with its receipt, but
    // registering the request fails: neither the request nor the case
    // opened for it is kept, and the message waits to be applied.
    refuse_inserts(&b, "requests").await?;
    let sent = a
        .api(Some(&token))
        .post(
            &format!("/api/v1/requests/{id}/send"),
            &json!({"peer": "ar-ufeci"}),
        )
        .await?;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    let a_store = a.store.clone();
    wait_for(|| {
        let store = a_store.clone();
        async move {
            let out = store.outbox(10).await?;
            Ok(out
                .first()
                .filter(|m| m.status == entraide_federation::OutboxStatus::Delivered)
                .map(|_| json!(null)))
        }
    })
    .await?;
    let no_requests = entraide_store::RequestFilter {
        limit: 10,
        ..Default::default()
    };
    assert!(b.store.all_requests(&no_requests).await?.is_empty());
    assert_eq!(b.store.all_cases().await?.len(), cases_before);
    assert_eq!(b.store.unapplied_inbox(10).await?.len(), 1);

    // Restarted with a working database, the node applies it, once.
    allow_inserts(&b, "requests").await?;
    b.restart().await?;
    let b_store = b.store.clone();
    wait_for(|| {
        let store = b_store.clone();
        async move {
            let all = store
                .all_requests(&entraide_store::RequestFilter {
                    limit: 10,
                    ..Default::default()
                })
                .await?;
            Ok((!all.is_empty()).then_some(json!(all.len())))
        }
    })
    .await?;
    assert_eq!(b.store.all_requests(&no_requests).await?.len(), 1);
    assert_eq!(b.store.all_cases().await?.len(), cases_before + 1);
    assert!(b.store.unapplied_inbox(10).await?.is_empty());
    let incoming = &b.store.all_requests(&no_requests).await?[0];
    assert!(b.store.request_link(incoming.id).await?.is_some());
    Ok(())
}
