//! Federation, first part: the signed node document and peers pinned by
//! fingerprint (API and command line).

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
    // The directory: this node first, then its peer, searchable.
    let officer_api = b.api(Some(&officer.token));
    let all = officer_api.get("/api/v1/directory").await?.json;
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["own"], true);
    let found = officer_api
        .get("/api/v1/directory?q=test-node&request_type=expedited_preservation&language=en")
        .await?
        .json;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["node_id"], "test-node");
    assert!(officer_api
        .get("/api/v1/directory?country=BR")
        .await?
        .json
        .as_array()
        .unwrap()
        .is_empty());
    let web = entraide_testkit::Browser::new(&b.url, Some("es"))?;
    web.sign_in(&officer.email, entraide_testkit::PASSWORD)
        .await?;
    let dir_page = web.get("/directory?kind=central-authority").await?;
    assert!(
        dir_page.text.contains("Directorio de autoridades") && dir_page.text.contains("test-node")
    );
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
    // A status no node writes, found in the database: reported as corrupt
    // data, not taken for either.
    let set_status =
        |status: &str| format!("UPDATE peers SET status = '{status}' WHERE node_id = 'test-node'");
    exec_sql(&b, &set_status("asleep")).await?;
    let read = b.store.peer("test-node").await;
    assert!(
        matches!(&read, Err(entraide_store::StoreError::Corrupt(m)) if m.contains("peer status")),
        "{read:?}"
    );
    exec_sql(&b, &set_status("active")).await?;
    // Disable, remove, audited.
    let disabled = api
        .patch("/api/v1/peers/test-node", &json!({"status": "disabled"}))
        .await?;
    assert_eq!(disabled.json["status"], "disabled");
    let asleep = api
        .patch("/api/v1/peers/test-node", &json!({"status": "asleep"}))
        .await?;
    assert_eq!(asleep.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        asleep.json["errors"][0]["code"], "invalid_peer_status",
        "{}",
        asleep.text
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

pub(crate) async fn spawn_named(backend: Backend, id: &str) -> Result<entraide_testkit::TestNode> {
    entraide_testkit::spawn_node_with(
        backend,
        entraide_testkit::Options {
            node_id: Some(id.into()),
            ..Default::default()
        },
    )
    .await
}

/// Two peers, fr-pc247 (a) and ar-ufeci (b), pinned both ways, and a node
/// neither knows (c, xx-unknown).
async fn three_nodes(
    backend: Backend,
) -> Result<(
    entraide_testkit::TestNode,
    entraide_testkit::TestNode,
    entraide_testkit::TestNode,
)> {
    let a = spawn_named(backend.clone(), "fr-pc247").await?;
    let b = spawn_named(backend.clone(), "ar-ufeci").await?;
    let c = spawn_named(backend, "xx-unknown").await?;
    pin(&a, &b).await?;
    pin(&b, &a).await?;
    Ok((a, b, c))
}

/// `from` pins `to`.
pub(crate) async fn pin(
    from: &entraide_testkit::TestNode,
    to: &entraide_testkit::TestNode,
) -> Result<()> {
    let admin = from.admin().await?;
    let fp = to.state.identity.signing_public().fingerprint();
    let r = from
        .api(Some(&admin.token))
        .post("/api/v1/peers", &json!({"url": to.url, "fingerprint": fp}))
        .await?;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    Ok(())
}

/// Runs `sql` on `node`'s database itself, beside its store.
async fn exec_sql(node: &entraide_testkit::TestNode, sql: &str) -> Result<()> {
    if node.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&node.database_url).await?;
        sqlx::query(sql).execute(&pool).await?;
    } else {
        let pool = sqlx::PgPool::connect(&node.database_url).await?;
        sqlx::query(sql).execute(&pool).await?;
    }
    Ok(())
}

/// Sends `sent` to `path` at `to` with `method`, the request signed by
/// `from` as if its body were `signed` (the same, but for forgeries).
async fn send_signed_as(
    from: &entraide_testkit::TestNode,
    to: &entraide_testkit::TestNode,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    signed: &[u8],
    sent: &[u8],
) -> Result<entraide_testkit::Reply> {
    let binding = entraide_federation::httpsig::BodyBinding::ContentDigest;
    send_bound_as(binding, from, to, method, path, content_type, signed, sent).await
}

/// The same, the body bound to the signature by `binding`.
#[allow(clippy::too_many_arguments)]
async fn send_bound_as(
    binding: entraide_federation::httpsig::BodyBinding,
    from: &entraide_testkit::TestNode,
    to: &entraide_testkit::TestNode,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    signed: &[u8],
    sent: &[u8],
) -> Result<entraide_testkit::Reply> {
    let target = format!("{}{path}", to.url);
    let sig = entraide_federation::httpsig::sign_bound(
        binding,
        &from.state.identity.signing,
        from.state.settings.node_id.as_str(),
        method.as_str(),
        &target,
        signed,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    );
    to.api(None)
        .send(
            method,
            path,
            &[
                ("content-type", content_type),
                (binding.header(), &sig.body_field),
                ("signature-input", &sig.signature_input),
                ("signature", &sig.signature),
            ],
            sent.to_vec(),
        )
        .await
}

/// POSTs an envelope to `to`'s inbox, the request signed by `from`.
async fn post_envelope(
    from: &entraide_testkit::TestNode,
    to: &entraide_testkit::TestNode,
    body: &[u8],
) -> Result<entraide_testkit::Reply> {
    send_signed_as(
        from,
        to,
        reqwest::Method::POST,
        "/federation/inbox",
        "application/json",
        body,
        body,
    )
    .await
}

/// POSTs several envelopes (one per line) to `to`'s batch inbox.
async fn post_batch(
    from: &entraide_testkit::TestNode,
    to: &entraide_testkit::TestNode,
    body: &[u8],
) -> Result<entraide_testkit::Reply> {
    send_signed_as(
        from,
        to,
        reqwest::Method::POST,
        "/federation/inbox/batch",
        "application/x-ndjson",
        body,
        body,
    )
    .await
}

pub(crate) async fn wait_for<F, Fut>(mut check: F) -> Result<serde_json::Value>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<serde_json::Value>>>,
{
    for _ in 0..200 {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    anyhow::bail!("timed out")
}

on_both_backends!(messages_are_delivered_once_with_receipts_and_forgeries_refused);

async fn messages_are_delivered_once_with_receipts_and_forgeries_refused(
    backend: Backend,
) -> Result<()> {
    let (a, b, c) = three_nodes(backend).await?;
    let a_admin = a.admin().await?;
    let b_admin = b.admin().await?;
    let a_api = a.api(Some(&a_admin.token));
    let b_api = b.api(Some(&b_admin.token));

    // Sent, delivered, receipt signed by the recipient.
    let sent = a_api
        .post(
            "/api/v1/peers/ar-ufeci/messages",
            &json!({"text": "Please call our 24/7 desk about case PC247-2026-0117."}),
        )
        .await?;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
    assert_eq!(sent.json["status"], "pending");
    let id = sent.json["message_id"].as_str().unwrap().to_owned();
    let delivered = wait_for(|| {
        let a_api = &a_api;
        let id = id.clone();
        async move {
            let m = a_api.get(&format!("/api/v1/outbox/{id}")).await?.json;
            Ok((m["status"] == "delivered").then_some(m))
        }
    })
    .await?;
    let receipt: entraide_federation::SignedReceipt =
        serde_json::from_value(delivered["receipt"].clone())?;
    let r = receipt
        .verify(&b.state.identity.signing_public())
        .expect("signed by the recipient");
    assert_eq!(
        (r.status.as_str(), r.message_id.to_string()),
        ("delivered", id.clone())
    );

    // The recipient reads it: decrypted once, a retrieval receipt goes back.
    let inbox = b_api.get("/api/v1/inbox").await?.json;
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    let opened = b_api.get(&format!("/api/v1/inbox/{id}")).await?;
    assert_eq!(
        opened.json["payload"]["text"],
        "Please call our 24/7 desk about case PC247-2026-0117."
    );
    assert!(opened.json["retrieved_at"].is_string());
    let retrieved = wait_for(|| {
        let a_api = &a_api;
        let id = id.clone();
        async move {
            let m = a_api.get(&format!("/api/v1/outbox/{id}")).await?.json;
            Ok((!m["retrieval_receipt"].is_null()).then_some(m))
        }
    })
    .await?;
    let rr: entraide_federation::SignedReceipt =
        serde_json::from_value(retrieved["retrieval_receipt"].clone())?;
    assert_eq!(
        rr.verify(&b.state.identity.signing_public())
            .unwrap()
            .status,
        entraide_federation::ReceiptStatus::Retrieved
    );

    // The same envelope again: the same receipt, never a second record.
    let stored = a
        .store
        .outbox_message(uuid::Uuid::parse_str(&id)?)
        .await?
        .unwrap();
    let replay = post_envelope(&a, &b, stored.envelope.as_bytes()).await?;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(replay.json, serde_json::to_value(&receipt)?);
    assert_eq!(
        b_api
            .get("/api/v1/inbox")
            .await?
            .json
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // An unknown node: refused and audited as such.
    let forged = post_envelope(&c, &b, stored.envelope.as_bytes()).await?;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(forged.code(), "unknown_sender");
    let refusals = b
        .store
        .audit_entries(&entraide_store::AuditFilter {
            action: Some("federation.refused".into()),
            limit: 10,
            ..Default::default()
        })
        .await?;
    assert_eq!(refusals[0].target.as_deref(), Some("xx-unknown"));
    // Visible to the receiving node's administrators.
    let browser = b.browser()?;
    browser
        .sign_in(&b_admin.email, entraide_testkit::PASSWORD)
        .await?;
    let page = browser.get("/admin/organisation").await?;
    assert!(
        page.text.contains("Messages refused from other nodes") && page.text.contains("xx-unknown")
    );

    // A body that is not what was signed.
    let swapped = send_signed_as(
        &a,
        &b,
        reqwest::Method::POST,
        "/federation/inbox",
        "application/json",
        b"{}",
        stored.envelope.as_bytes(),
    )
    .await?;
    assert_eq!(swapped.code(), "request_signature_invalid");
    let unsigned = b
        .api(None)
        .send(
            reqwest::Method::POST,
            "/federation/inbox",
            &[],
            b"{}".to_vec(),
        )
        .await?;
    assert_eq!(unsigned.code(), "request_unsigned");

    // Tampered ciphertext, wrong recipient, expired: refused with the reason.
    let seal = |recipient: &str, lifetime: time::Duration| {
        entraide_federation::envelope::seal(
            &a.state.identity.signing,
            &b.state.identity.encryption_public_hex(),
            &entraide_federation::Outgoing {
                sender: "fr-pc247",
                recipient,
                message_type: entraide_federation::MessageKind::Note,
                in_reply_to: None,
                lifetime,
                payload: br#"{"text":"x"}"#,
            },
            time::OffsetDateTime::now_utc(),
        )
        .unwrap()
        .1
    };
    let mut tampered = seal("ar-ufeci", time::Duration::hours(1));
    // Another first character (replacing it with "A" left it as it was
    // one time in 64).
    let first = if tampered.ciphertext.starts_with('A') {
        "B"
    } else {
        "A"
    };
    tampered.ciphertext = format!("{first}{}", &tampered.ciphertext[1..]);
    let r = post_envelope(&a, &b, serde_json::to_string(&tampered)?.as_bytes()).await?;
    assert_eq!(r.code(), "envelope_tampered");
    let elsewhere = seal("br-pf", time::Duration::hours(1));
    let r = post_envelope(&a, &b, serde_json::to_string(&elsewhere)?.as_bytes()).await?;
    assert_eq!(r.code(), "envelope_wrong_recipient");
    let stale = seal("ar-ufeci", time::Duration::seconds(-10));
    let r = post_envelope(&a, &b, serde_json::to_string(&stale)?.as_bytes()).await?;
    assert_eq!(r.code(), "envelope_expired");
    let r = post_envelope(&a, &b, b"not json").await?;
    assert_eq!(r.code(), "envelope_malformed");
    // A kind of message this node does not know (the chunks pre-release
    // nodes sent as messages): refused as such, audited, not stored.
    let mut unknown = seal("ar-ufeci", time::Duration::hours(1));
    unknown.header = unknown.header.replace(
        r#""message_type":"note""#,
        r#""message_type":"attachment-chunk""#,
    );
    unknown.signature = a.state.identity.signing.sign(unknown.header.as_bytes());
    let r = post_envelope(&a, &b, serde_json::to_string(&unknown)?.as_bytes()).await?;
    assert_eq!(r.code(), "message_kind_unknown", "{}", r.text);
    let refusals = b
        .store
        .audit_entries(&entraide_store::AuditFilter {
            action: Some("federation.refused".into()),
            limit: 1,
            ..Default::default()
        })
        .await?;
    assert!(
        refusals[0].detail.contains("message_kind_unknown"),
        "{refusals:?}"
    );
    assert_eq!(
        b_api
            .get("/api/v1/inbox")
            .await?
            .json
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing refused was stored"
    );

    // A message to a peer that has not added this node waits for it, with
    // why (see security_peering.rs).
    let c_admin = c.admin().await?;
    let _ = c_admin;
    pin(&a, &c).await?;
    let to_c = a_api
        .post(
            "/api/v1/peers/xx-unknown/messages",
            &json!({"text": "hello"}),
        )
        .await?;
    let cid = to_c.json["message_id"].as_str().unwrap().to_owned();
    let waiting = wait_for(|| {
        let a_api = &a_api;
        let cid = cid.clone();
        async move {
            let m = a_api.get(&format!("/api/v1/outbox/{cid}")).await?.json;
            Ok((m["waiting_for_peer"] == true).then_some(m))
        }
    })
    .await?;
    assert_eq!(waiting["status"], "pending", "{waiting}");
    assert!(
        waiting["last_error"]
            .as_str()
            .unwrap()
            .contains("unknown_sender"),
        "{waiting}"
    );
    Ok(())
}

on_both_backends!(a_batch_is_answered_in_order_with_receipts_and_refusals);

async fn a_batch_is_answered_in_order_with_receipts_and_refusals(backend: Backend) -> Result<()> {
    let (a, b, c) = three_nodes(backend).await?;
    let b_admin = b.admin().await?;
    let b_api = b.api(Some(&b_admin.token));
    let seal = |recipient: &str, text: &str| {
        let payload = serde_json::to_vec(&json!({ "text": text })).unwrap();
        let (_, envelope) = entraide_federation::envelope::seal(
            &a.state.identity.signing,
            &b.state.identity.encryption_public_hex(),
            &entraide_federation::Outgoing {
                sender: "fr-pc247",
                recipient,
                message_type: entraide_federation::MessageKind::Note,
                in_reply_to: None,
                lifetime: time::Duration::hours(1),
                payload: &payload,
            },
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
        serde_json::to_string(&envelope).unwrap()
    };
    let first = seal("ar-ufeci", "first");
    let elsewhere = seal("br-pf", "not for you");
    let second = seal("ar-ufeci", "second");
    // The same envelope twice, one for another node, a malformed line.
    let body = [
        first.as_str(),
        first.as_str(),
        elsewhere.as_str(),
        "not json",
        second.as_str(),
    ]
    .join("\n");
    let r = post_batch(&a, &b, body.as_bytes()).await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let results = r.json["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 5, "{}", r.text);
    let key = b.state.identity.signing_public();
    let receipt_of = |v: &serde_json::Value| {
        serde_json::from_value::<entraide_federation::SignedReceipt>(v["receipt"].clone())
            .unwrap()
            .verify(&key)
            .expect("signed by the recipient")
    };
    let r0 = receipt_of(&results[0]);
    assert_eq!(r0.status, entraide_federation::ReceiptStatus::Delivered);
    assert_eq!(
        results[1]["receipt"], results[0]["receipt"],
        "one message, one receipt"
    );
    assert_eq!(results[2]["problem"]["code"], "envelope_wrong_recipient");
    assert_eq!(results[3]["problem"]["code"], "envelope_malformed");
    let r4 = receipt_of(&results[4]);
    assert_ne!(r4.message_id, r0.message_id);
    let inbox = b_api.get("/api/v1/inbox").await?.json;
    let texts: Vec<String> = inbox
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts.len(), 2, "{inbox}");
    assert!(
        texts.contains(&r0.message_id.to_string()) && texts.contains(&r4.message_id.to_string())
    );

    // The whole batch again: the same receipts, nothing stored twice.
    let again = post_batch(&a, &b, body.as_bytes()).await?;
    assert_eq!(again.json["results"][0], results[0]);
    assert_eq!(again.json["results"][4], results[4]);
    assert_eq!(
        b_api
            .get("/api/v1/inbox")
            .await?
            .json
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Refused as a whole: an unknown node, a body not the one signed, too
    // many envelopes.
    let r = post_batch(&c, &b, first.as_bytes()).await?;
    assert_eq!(r.code(), "unknown_sender");
    let swapped = send_signed_as(
        &a,
        &b,
        reqwest::Method::POST,
        "/federation/inbox/batch",
        "application/x-ndjson",
        b"{}",
        first.as_bytes(),
    )
    .await?;
    assert_eq!(swapped.code(), "request_signature_invalid");
    let many = vec!["x"; 257].join("\n");
    let r = post_batch(&a, &b, many.as_bytes()).await?;
    assert_eq!(r.code(), "batch_too_large");

    // Through the outbox: notes queued while nothing is delivered go in
    // batches and all arrive, in order, each with its receipt.
    let a_admin = a.admin().await?;
    let a_api = a.api(Some(&a_admin.token));
    let mut ids = Vec::new();
    for i in 0..40 {
        let sent = a_api
            .post(
                "/api/v1/peers/ar-ufeci/messages",
                &json!({ "text": format!("note {i}") }),
            )
            .await?;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
        ids.push(sent.json["message_id"].as_str().unwrap().to_owned());
    }
    let last = ids.last().unwrap().clone();
    wait_for(|| {
        let a_api = &a_api;
        let last = last.clone();
        async move {
            let m = a_api.get(&format!("/api/v1/outbox/{last}")).await?.json;
            Ok((m["status"] == "delivered").then_some(m))
        }
    })
    .await?;
    for id in &ids {
        let m = a_api.get(&format!("/api/v1/outbox/{id}")).await?.json;
        assert_eq!(m["status"], "delivered", "{m}");
        let receipt: entraide_federation::SignedReceipt =
            serde_json::from_value(m["receipt"].clone())?;
        assert_eq!(receipt.verify(&key).unwrap().message_id.to_string(), *id);
    }
    let inbox = b_api.get("/api/v1/inbox").await?.json;
    assert_eq!(inbox.as_array().unwrap().len(), 42);
    Ok(())
}

on_both_backends!(a_peer_down_gets_every_message_once_in_order_when_back);

async fn a_peer_down_gets_every_message_once_in_order_when_back(backend: Backend) -> Result<()> {
    let a = spawn_named(backend.clone(), "fr-pc247").await?;
    let mut b = spawn_named(backend, "ar-ufeci").await?;
    pin(&a, &b).await?;
    pin(&b, &a).await?;
    let a_admin = a.admin().await?;
    let a_api = a.api(Some(&a_admin.token));
    b.stop().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let sent = a_api
            .post(
                "/api/v1/peers/ar-ufeci/messages",
                &json!({"text": format!("message {i}")}),
            )
            .await?;
        ids.push(sent.json["message_id"].as_str().unwrap().to_owned());
    }
    // The first one fails and waits; nothing overtakes it.
    let first = ids[0].clone();
    let failed = wait_for(|| {
        let a_api = &a_api;
        let first = first.clone();
        async move {
            let m = a_api.get(&format!("/api/v1/outbox/{first}")).await?.json;
            Ok((m["attempts"].as_u64().unwrap_or(0) >= 1).then_some(m))
        }
    })
    .await?;
    assert_eq!(failed["status"], "pending");
    assert!(failed["last_error"]
        .as_str()
        .unwrap()
        .contains("cannot reach"));
    for id in &ids[1..] {
        assert_eq!(
            a_api.get(&format!("/api/v1/outbox/{id}")).await?.json["attempts"],
            0
        );
    }
    b.restart().await?;
    for id in &ids {
        let id = id.clone();
        wait_for(|| {
            let a_api = &a_api;
            let id = id.clone();
            async move {
                let m = a_api.get(&format!("/api/v1/outbox/{id}")).await?.json;
                Ok((m["status"] == "delivered").then_some(m))
            }
        })
        .await?;
    }
    // Exactly once each, in the order sent.
    let received = b
        .store
        .audit_entries(&entraide_store::AuditFilter {
            action: Some("federation.received".into()),
            limit: 100,
            ..Default::default()
        })
        .await?;
    let mut order: Vec<String> = received
        .iter()
        .rev()
        .filter_map(|e| e.target.clone())
        .collect();
    assert_eq!(order.len(), 5);
    assert_eq!(order, ids);
    order.dedup();
    assert_eq!(order.len(), 5);
    Ok(())
}

on_both_backends!(two_replicas_share_the_outbox_without_sending_twice);

async fn two_replicas_share_the_outbox_without_sending_twice(backend: Backend) -> Result<()> {
    let a = spawn_named(backend.clone(), "fr-pc247").await?;
    let b = spawn_named(backend, "ar-ufeci").await?;
    pin(&a, &b).await?;
    pin(&b, &a).await?;
    let replica = a.replica().await?;
    let a_admin = a.admin().await?;
    let mut ids = Vec::new();
    for i in 0..20 {
        // Queued through both replicas.
        let m = entraide_server::federation::outbox::send(
            if i % 2 == 0 { &a.state } else { &replica.state },
            &entraide_server::app::audit::Actor::command_line(),
            "ar-ufeci",
            entraide_federation::MessageKind::Note,
            format!(r#"{{"text":"n{i}"}}"#).as_bytes(),
            None,
            time::Duration::hours(1),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        ids.push(m.message_id);
    }
    let a_api = a.api(Some(&a_admin.token));
    for id in &ids {
        let id = *id;
        let m = wait_for(|| {
            let a_api = &a_api;
            async move {
                let m = a_api.get(&format!("/api/v1/outbox/{id}")).await?.json;
                Ok((m["status"] == "delivered").then_some(m))
            }
        })
        .await?;
        assert_eq!(m["attempts"], 1, "sent once: {m}");
    }
    let received = b
        .store
        .audit_entries(&entraide_store::AuditFilter {
            action: Some("federation.received".into()),
            limit: 100,
            ..Default::default()
        })
        .await?;
    assert_eq!(received.len(), 20);
    Ok(())
}

on_both_backends!(a_preservation_request_travels_and_both_sides_move_together);

async fn a_preservation_request_travels_and_both_sides_move_together(
    backend: Backend,
) -> Result<()> {
    let a = spawn_named(backend.clone(), "fr-pc247").await?;
    let b = spawn_named(backend, "ar-ufeci").await?;
    pin(&a, &b).await?;
    pin(&b, &a).await?;
    let officer = a.user("officer", &[Role::Officer]).await?;
    let approver = a.user("approver", &[Role::Approver]).await?;
    let b_officer = b.user("duty", &[Role::Officer]).await?;
    let o = a.api(Some(&officer.token));
    let case = o
        .post(
            "/api/v1/cases",
            &json!({"reference": "PC247-2026-0117", "title": "Hospital ransomware"}),
        )
        .await?;
    let case_id = case.json["id"].as_str().unwrap().to_owned();
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
    let id = r.json["id"].as_str().unwrap().to_owned();
    assert_eq!(
        act(&o, &id, "submit_for_approval").await?.status,
        StatusCode::OK
    );
    let ap = a.api(Some(&approver.token));
    assert_eq!(act(&ap, &id, "approve").await?.status, StatusCode::OK);

    // The request page offers the peers that accept this kind.
    let web = a.browser()?;
    web.sign_in(&officer.email, entraide_testkit::PASSWORD)
        .await?;
    let page = web.get(&format!("/requests/{id}")).await?.text;
    assert!(
        page.contains("Send to a peer node") && page.contains("ar-ufeci"),
        "{page}"
    );
    // A peer that does not exist, then the real one.
    let nowhere = o
        .post(
            &format!("/api/v1/requests/{id}/send"),
            &json!({"peer": "xx-nowhere"}),
        )
        .await?;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    let sent = o
        .post(
            &format!("/api/v1/requests/{id}/send"),
            &json!({"peer": "ar-ufeci"}),
        )
        .await?;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    assert_eq!(sent.json["state"], "sent");
    let again = o
        .post(
            &format!("/api/v1/requests/{id}/send"),
            &json!({"peer": "ar-ufeci"}),
        )
        .await?;
    assert_eq!(again.code(), "already_sent");
    // Sides: once sent to the peer, the sending node records only the
    // requesting side's actions; the requested side's reach it from B.
    assert_eq!(sent.json["available_actions"], json!(["withdraw"]));
    let ack_here = act(&o, &id, "acknowledge").await?;
    assert_eq!(ack_here.status, StatusCode::CONFLICT, "{}", ack_here.text);
    assert_eq!(ack_here.code(), "other_sides_action");
    let page = web.get(&format!("/requests/{id}")).await?.text;
    assert!(
        !page.contains("value=\"acknowledge\"") && page.contains("value=\"withdraw\""),
        "{page}"
    );

    // It arrives at the requested node as an incoming request, for its
    // duty officer.
    let bo = b.api(Some(&b_officer.token));
    let incoming = wait_for(|| {
        let bo = &bo;
        async move {
            let list = bo.get("/api/v1/requests").await?.json;
            Ok(list.as_array().and_then(|l| l.first().cloned()))
        }
    })
    .await?;
    assert_eq!(incoming["direction"], "incoming");
    assert_eq!(incoming["kind"], "expedited_preservation");
    assert_eq!(
        incoming["content"]["identifiers"][0]["address"],
        "203.0.113.5"
    );
    let in_id = incoming["id"].as_str().unwrap().to_owned();
    // The requested side cannot withdraw the requester's request.
    let offered: Vec<&str> = incoming["available_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        offered.contains(&"acknowledge") && !offered.contains(&"withdraw"),
        "{offered:?}"
    );
    assert_eq!(
        act(&bo, &in_id, "withdraw").await?.code(),
        "other_sides_action"
    );

    // The requested side acknowledges and preserves: the requesting side follows.
    assert_eq!(
        act(&bo, &in_id, "acknowledge").await?.status,
        StatusCode::OK
    );
    assert_eq!(
        act(&bo, &in_id, "confirm_preservation").await?.status,
        StatusCode::OK
    );
    let followed = wait_for(|| {
        let o = &o;
        let id = id.clone();
        async move {
            let r = o.get(&format!("/api/v1/requests/{id}")).await?.json;
            Ok((r["state"] == "preserved").then_some(r))
        }
    })
    .await?;
    let actors: Vec<&str> = followed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert!(actors.contains(&"node:ar-ufeci"), "{actors:?}");

    // The requesting side withdraws: the requested side follows.
    assert_eq!(act(&o, &id, "withdraw").await?.status, StatusCode::OK);
    wait_for(|| {
        let bo = &bo;
        let in_id = in_id.clone();
        async move {
            let r = bo.get(&format!("/api/v1/requests/{in_id}")).await?.json;
            Ok((r["state"] == "withdrawn").then_some(r))
        }
    })
    .await?;
    // Both sides count the same request in the same state.
    let a_rows = a
        .store
        .request_stat_rows(
            time::OffsetDateTime::now_utc() - time::Duration::days(1),
            time::OffsetDateTime::now_utc() + time::Duration::days(1),
        )
        .await?;
    let b_rows = b
        .store
        .request_stat_rows(
            time::OffsetDateTime::now_utc() - time::Duration::days(1),
            time::OffsetDateTime::now_utc() + time::Duration::days(1),
        )
        .await?;
    assert_eq!(a_rows.len(), 1);
    assert_eq!(b_rows.len(), 1);
    assert_eq!(a_rows[0].state, b_rows[0].state);
    Ok(())
}

pub(crate) async fn act(
    api: &entraide_testkit::Api,
    id: &str,
    action: &str,
) -> Result<entraide_testkit::Reply> {
    api.post(
        &format!("/api/v1/requests/{id}/transitions"),
        &json!({"action": action}),
    )
    .await
}

on_both_backends!(a_provider_takes_requests_from_authorities_only);

async fn a_provider_takes_requests_from_authorities_only(backend: Backend) -> Result<()> {
    let provider = entraide_testkit::spawn_node_with(
        backend.clone(),
        entraide_testkit::Options {
            node_id: Some("examplehost".into()),
            org_kind: Some(entraide_domain::OrganisationKind::ServiceProvider),
            ..Default::default()
        },
    )
    .await?;
    let other_provider = entraide_testkit::spawn_node_with(
        backend.clone(),
        entraide_testkit::Options {
            node_id: Some("socialnet".into()),
            org_kind: Some(entraide_domain::OrganisationKind::ServiceProvider),
            ..Default::default()
        },
    )
    .await?;
    let police = spawn_named(backend, "fr-pc247").await?;
    for (a, b) in [
        (&provider, &police),
        (&police, &provider),
        (&provider, &other_provider),
        (&other_provider, &provider),
    ] {
        pin(a, b).await?;
    }
    provider.user("legal", &[Role::Officer]).await?;
    let request = |from: &entraide_testkit::TestNode| {
        entraide_federation::envelope::seal(
            &from.state.identity.signing,
            &provider.state.identity.encryption_public_hex(),
            &entraide_federation::Outgoing {
                sender: from.state.settings.node_id.as_str(),
                recipient: "examplehost",
                message_type: entraide_federation::MessageKind::Request,
                in_reply_to: None,
                lifetime: time::Duration::hours(1),
                payload: &serde_json::to_vec(&json!({
                    "request_id": uuid::Uuid::new_v4(), "reference": "X-1", "kind": "expedited_preservation",
                    "content": super::requests::complete_preservation()
                }))
                .unwrap(),
            },
            time::OffsetDateTime::now_utc(),
        )
        .unwrap()
        .1
    };
    // Another provider, although pinned, may not send orders.
    let from_provider = post_envelope(
        &other_provider,
        &provider,
        serde_json::to_string(&request(&other_provider))?.as_bytes(),
    )
    .await?;
    assert_eq!(from_provider.code(), "sender_not_authority");
    // An authority may.
    let from_police = post_envelope(
        &police,
        &provider,
        serde_json::to_string(&request(&police))?.as_bytes(),
    )
    .await?;
    assert_eq!(from_police.status, StatusCode::OK, "{}", from_police.text);
    let rows = provider
        .store
        .request_stat_rows(
            time::OffsetDateTime::now_utc() - time::Duration::days(1),
            time::OffsetDateTime::now_utc() + time::Duration::days(1),
        )
        .await?;
    assert_eq!(rows.len(), 1);
    let refusals = provider
        .store
        .audit_entries(&entraide_store::AuditFilter {
            action: Some("federation.refused".into()),
            limit: 10,
            ..Default::default()
        })
        .await?;
    assert_eq!(refusals[0].target.as_deref(), Some("socialnet"));
    Ok(())
}

on_both_backends!(evidence_sent_to_a_peer_is_verified_on_arrival);

async fn evidence_sent_to_a_peer_is_verified_on_arrival(backend: Backend) -> Result<()> {
    let a = spawn_named(backend.clone(), "fr-pc247").await?;
    let b = spawn_named(backend, "ar-ufeci").await?;
    pin(&a, &b).await?;
    pin(&b, &a).await?;
    let custodian = a.user("custodian", &[Role::Custodian]).await?;
    let b_officer = b.user("duty", &[Role::Officer]).await?;
    let c = a.api(Some(&custodian.token));
    let case = c
        .post(
            "/api/v1/cases",
            &json!({"reference": "PC247-2026-0200", "title": "Phishing kit"}),
        )
        .await?;
    let case_id = case.json["id"].as_str().unwrap().to_owned();
    let content = b"phishing kit archive, seized".repeat(500);
    let u = c
        .post(
            &format!("/api/v1/cases/{case_id}/evidence/uploads"),
            &json!({"file_name": "kit.zip", "size": content.len(), "description": "Phishing kit", "source": "seized_device", "exhibit_number": "PK-1"}),
        )
        .await?;
    let up = u.json["id"].as_str().unwrap();
    let done = c
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/evidence/uploads/{up}"),
            &[
                ("content-type", "application/offset+octet-stream"),
                ("upload-offset", "0"),
            ],
            content.clone(),
        )
        .await?;
    let item_id = done.json["item"]["id"].as_str().unwrap().to_owned();
    let nowhere = c
        .post(
            &format!("/api/v1/cases/{case_id}/evidence/packages/send"),
            &json!({"peer": "xx"}),
        )
        .await?;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    let sent = c
        .post(
            &format!("/api/v1/cases/{case_id}/evidence/packages/send"),
            &json!({"peer": "ar-ufeci"}),
        )
        .await?;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
    let kinds = c.get(&format!("/api/v1/evidence/{item_id}")).await?.json["custody"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(kinds, ["acquired", "ingested", "exported", "sent"]);
    // At the peer: a new case for its duty officer, the file verified and
    // added with its custody.
    let bo = b.api(Some(&b_officer.token));
    let received = wait_for(|| {
        let bo = &bo;
        async move {
            let cases = bo.get("/api/v1/cases").await?.json;
            let Some(case) = cases.as_array().and_then(|l| l.first().cloned()) else {
                return Ok(None);
            };
            let id = case["id"].as_str().unwrap_or_default().to_owned();
            let items = bo.get(&format!("/api/v1/cases/{id}/evidence")).await?.json;
            Ok(items.as_array().and_then(|l| l.first().cloned()))
        }
    })
    .await?;
    assert_eq!(
        received["sha256"],
        hex::encode(sha2::Digest::finalize(sha2::Digest::chain_update(
            sha2::Sha256::default(),
            &content
        )))
    );
    assert_eq!(received["source"], "received_package");
    let rid = received["id"].as_str().unwrap();
    let custody: Vec<String> = bo.get(&format!("/api/v1/evidence/{rid}")).await?.json["custody"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(custody, ["received", "verified"]);
    Ok(())
}

on_both_backends!(a_rotated_key_is_announced_then_the_old_one_refused);

async fn a_rotated_key_is_announced_then_the_old_one_refused(backend: Backend) -> Result<()> {
    let mut a = spawn_named(backend.clone(), "fr-pc247").await?;
    let b = spawn_named(backend, "ar-ufeci").await?;
    pin(&a, &b).await?;
    pin(&b, &a).await?;
    let dir = a.state.settings.data_dir.clone();
    let old = entraide_evidence::NodeKey::load(&dir.join("keys/node-ed25519.key"))?;
    let old_fp = old.fingerprint();
    // Rotate with a short overlap, restart, announce.
    let new = entraide_federation::NodeIdentity::rotate(&dir, time::Duration::seconds(3))?;
    a.restart().await?;
    let told = entraide_server::federation::peers::announce_rotation(
        &a.state,
        &entraide_server::app::audit::Actor::command_line(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(told, 1);
    wait_for(|| {
        let store = b.store.clone();
        async move {
            let p = store.peer("fr-pc247").await?.unwrap();
            Ok(p.next_signing_key.map(serde_json::Value::String))
        }
    })
    .await?;
    // During the overlap A still signs with the old key: accepted.
    let note = |text: &'static str| {
        let state = a.state.clone();
        async move {
            entraide_server::federation::outbox::send(
                &state,
                &entraide_server::app::audit::Actor::command_line(),
                "ar-ufeci",
                entraide_federation::MessageKind::Note,
                format!(r#"{{"text":"{text}"}}"#).as_bytes(),
                None,
                time::Duration::hours(1),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
        }
    };
    let delivered = |id: uuid::Uuid| {
        let store = a.store.clone();
        async move {
            wait_for(|| {
                let store = store.clone();
                async move {
                    let m = store.outbox_message(id).await?.unwrap();
                    Ok((m.status != entraide_federation::OutboxStatus::Pending)
                        .then_some(serde_json::Value::String(m.status.to_string())))
                }
            })
            .await
        }
    };
    let m = note("during the overlap").await?;
    assert_eq!(delivered(m.message_id).await?, "delivered");
    // After it, the new key signs; B pins it and refuses the old one.
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    let m = note("after the overlap").await?;
    assert_eq!(delivered(m.message_id).await?, "delivered");
    let peer = b.store.peer("fr-pc247").await?.unwrap();
    assert_eq!(peer.signing_fingerprint, new.fingerprint());
    assert!(peer.next_signing_key.is_none());
    assert_ne!(peer.signing_fingerprint, old_fp);
    let (_, forged) = entraide_federation::envelope::seal(
        &old,
        &b.state.identity.encryption_public_hex(),
        &entraide_federation::Outgoing {
            sender: "fr-pc247",
            recipient: "ar-ufeci",
            message_type: entraide_federation::MessageKind::Note,
            in_reply_to: None,
            lifetime: time::Duration::hours(1),
            payload: br#"{"text":"signed with a retired key"}"#,
        },
        time::OffsetDateTime::now_utc(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let body = serde_json::to_vec(&forged)?;
    let target = format!("{}/federation/inbox", b.url);
    let sig = entraide_federation::httpsig::sign(
        &old,
        "fr-pc247",
        "POST",
        &target,
        &body,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    );
    let refused = b
        .api(None)
        .send(
            reqwest::Method::POST,
            "/federation/inbox",
            &[
                ("content-digest", &sig.body_field),
                ("signature-input", &sig.signature_input),
                ("signature", &sig.signature),
            ],
            body,
        )
        .await?;
    assert_eq!(refused.code(), "request_signature_invalid");
    Ok(())
}

on_both_backends!(a_package_too_large_for_one_message_is_streamed_after_its_manifest);

async fn a_package_too_large_for_one_message_is_streamed_after_its_manifest(
    backend: Backend,
) -> Result<()> {
    let a = spawn_named(backend.clone(), "fr-pc247").await?;
    let b = spawn_named(backend, "ar-ufeci").await?;
    pin(&a, &b).await?;
    pin(&b, &a).await?;
    let custodian = a.user("custodian", &[Role::Custodian]).await?;
    let b_officer = b.user("duty", &[Role::Officer]).await?;
    let c = a.api(Some(&custodian.token));
    let case = c
        .post(
            "/api/v1/cases",
            &json!({"reference": "PC247-2026-0300", "title": "Server image"}),
        )
        .await?;
    let case_id = case.json["id"].as_str().unwrap().to_owned();
    // Larger than one message: it travels as several chunks.
    let content: Vec<u8> = (0..(7u32 << 20) / 4)
        .flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes())
        .collect();
    let u = c
        .post(
            &format!("/api/v1/cases/{case_id}/evidence/uploads"),
            &json!({"file_name": "server.img", "size": content.len(), "description": "Server image", "source": "seized_device"}),
        )
        .await?;
    let up = u.json["id"].as_str().unwrap();
    c.send(
        reqwest::Method::PATCH,
        &format!("/api/v1/evidence/uploads/{up}"),
        &[
            ("content-type", "application/offset+octet-stream"),
            ("upload-offset", "0"),
        ],
        content.clone(),
    )
    .await?;
    let sent = c
        .post(
            &format!("/api/v1/cases/{case_id}/evidence/packages/send"),
            &json!({"peer": "ar-ufeci"}),
        )
        .await?;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
    // One small manifest message; the bytes are streamed after it.
    let queued = a.store.outbox(100).await?;
    let manifests: Vec<_> = queued
        .iter()
        .filter(|m| m.message_type == entraide_federation::MessageKind::Attachment)
        .collect();
    assert_eq!(manifests.len(), 1);
    assert!(manifests[0].envelope.len() < 16 * 1024);
    let bo = b.api(Some(&b_officer.token));
    let received = wait_for(|| {
        let bo = &bo;
        async move {
            let cases = bo.get("/api/v1/cases").await?.json;
            let Some(case) = cases.as_array().and_then(|l| l.first().cloned()) else {
                return Ok(None);
            };
            let id = case["id"].as_str().unwrap_or_default().to_owned();
            let items = bo.get(&format!("/api/v1/cases/{id}/evidence")).await?.json;
            Ok(items.as_array().and_then(|l| l.first().cloned()))
        }
    })
    .await?;
    assert_eq!(received["size"], content.len());
    let rid = received["id"].as_str().unwrap();
    let custody: Vec<String> = bo.get(&format!("/api/v1/evidence/{rid}")).await?.json["custody"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(custody, ["received", "verified"]);
    // Nothing left in either side's spool.
    let spool = |node: &entraide_testkit::TestNode, dir: &str| {
        std::fs::read_dir(node.state.custody.attachment_dir(dir))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let a_spool =
        wait_for(|| async { Ok((spool(&a, "outgoing") == 0).then_some(serde_json::Value::Null)) })
            .await;
    assert!(a_spool.is_ok(), "the sender's spool is emptied");
    assert_eq!(spool(&b, "incoming"), 0);
    Ok(())
}

on_both_backends!(a_streamed_attachment_is_checked_chunk_by_chunk_and_resumes);

/// Chunk `n` of `content`, sealed for attachment `id` with `key`.
fn sealed_chunk(key: &str, id: uuid::Uuid, content: &[u8], n: u32) -> Vec<u8> {
    use entraide_server::federation::attachments::{seal_chunk, CHUNK_BYTES};
    let start = n as usize * CHUNK_BYTES as usize;
    let end = (start + CHUNK_BYTES as usize).min(content.len());
    seal_chunk(key, id, n, &content[start..end]).unwrap()
}

/// Takes attachment `id` from `fr-pc247` at `b` as the message naming it
/// would, and checks it is `content`.
async fn assert_taken(
    b: &entraide_testkit::TestNode,
    id: uuid::Uuid,
    content: &[u8],
) -> Result<()> {
    use entraide_server::federation::attachments::CHUNK_BYTES;
    let reference = entraide_server::federation::attachments::AttachmentRef {
        id,
        chunks: (content.len() as u64).div_ceil(CHUNK_BYTES) as u32,
        size: content.len() as u64,
        sha256: sha256_hex(content),
        chunk_bytes: CHUNK_BYTES,
    };
    let out = tempfile::tempdir()?;
    let got = out.path().join("got");
    entraide_server::federation::attachments::take(&b.state, "fr-pc247", &reference, &got)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(std::fs::read(got)?, content);
    Ok(())
}

/// A chunk PUT to `to`, signed by `from` with the signature bound to the
/// chunk's tag.
async fn put_chunk_as(
    from: &entraide_testkit::TestNode,
    to: &entraide_testkit::TestNode,
    path: &str,
    body: Vec<u8>,
) -> Result<entraide_testkit::Reply> {
    let binding = entraide_federation::httpsig::BodyBinding::ChunkTag;
    let kind = "application/octet-stream";
    send_bound_as(
        binding,
        from,
        to,
        reqwest::Method::PUT,
        path,
        kind,
        &body,
        &body,
    )
    .await
}

/// A manifest message from `a` to `b` for `content` (claimed to have
/// `sha256`), stored at `b`; returns its id.
async fn post_manifest(
    a: &entraide_testkit::TestNode,
    b: &entraide_testkit::TestNode,
    content: &[u8],
    sha256: String,
    key: &str,
) -> Result<uuid::Uuid> {
    use entraide_server::federation::attachments::{
        Manifest, CHUNK_BYTES, CIPHER, MANIFEST_VERSION,
    };
    let manifest = Manifest {
        v: MANIFEST_VERSION,
        size: content.len() as u64,
        sha256,
        chunk_bytes: CHUNK_BYTES,
        cipher: CIPHER.into(),
        key: key.into(),
    };
    let (header, envelope) = entraide_federation::envelope::seal(
        &a.state.identity.signing,
        &b.state.identity.encryption_public_hex(),
        &entraide_federation::Outgoing {
            sender: a.state.settings.node_id.as_str(),
            recipient: b.state.settings.node_id.as_str(),
            message_type: entraide_federation::MessageKind::Attachment,
            in_reply_to: None,
            lifetime: time::Duration::hours(1),
            payload: &serde_json::to_vec(&manifest)?,
        },
        time::OffsetDateTime::now_utc(),
    )?;
    let r = post_envelope(a, b, serde_json::to_string(&envelope)?.as_bytes()).await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    Ok(header.message_id)
}

async fn a_streamed_attachment_is_checked_chunk_by_chunk_and_resumes(
    backend: Backend,
) -> Result<()> {
    use entraide_server::federation::attachments::{seal_chunk, CHUNK_BYTES};
    let (a, b, c) = three_nodes(backend).await?;
    // Five chunks, the last one short.
    let size = (CHUNK_BYTES * 4 + 1000) as usize;
    let content: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let chunk = |i: usize| {
        let start = i * CHUNK_BYTES as usize;
        &content[start..(start + CHUNK_BYTES as usize).min(size)]
    };
    let key = hex::encode([7u8; 32]);
    let id = uuid::Uuid::now_v7();
    let sealed = |id: uuid::Uuid, n: u32, i: usize| seal_chunk(&key, id, n, chunk(i)).unwrap();
    let put = async |id: uuid::Uuid, n: u32, body: Vec<u8>| {
        put_chunk_as(&a, &b, &format!("/federation/attachments/{id}/{n}"), body).await
    };
    let status = async |id: uuid::Uuid| {
        let path = format!("/federation/attachments/{id}");
        send_signed_as(
            &a,
            &b,
            reqwest::Method::GET,
            &path,
            "application/json",
            &[],
            &[],
        )
        .await
    };

    // Before its manifest, an attachment is unknown.
    let r = put(id, 0, sealed(id, 0, 0)).await?;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let id = post_manifest(&a, &b, &content, sha256_hex(&content), &key).await?;
    assert_eq!(status(id).await?.json["received_chunks"], 0);

    let r = put(id, 0, sealed(id, 0, 0)).await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json, json!({"received_chunks": 1, "chunks": 5}));
    // Too far ahead; sealed as another chunk, for another attachment, or
    // with the wrong key; bytes flipped; the wrong size: refused, nothing
    // written.
    let r = put(id, 4, sealed(id, 4, 4)).await?;
    assert_eq!(r.code(), "attachment_chunk_out_of_order");
    let r = put(id, 1, sealed(id, 0, 1)).await?;
    assert_eq!(r.code(), "attachment_chunk_tampered");
    let r = put(id, 1, sealed(uuid::Uuid::now_v7(), 1, 1)).await?;
    assert_eq!(r.code(), "attachment_chunk_tampered");
    let r = put(
        id,
        1,
        seal_chunk(&hex::encode([8u8; 32]), id, 1, chunk(1)).unwrap(),
    )
    .await?;
    assert_eq!(r.code(), "attachment_chunk_tampered");
    let mut flipped = sealed(id, 1, 1);
    flipped[10] ^= 1;
    let r = put(id, 1, flipped).await?;
    assert_eq!(r.code(), "attachment_chunk_tampered");
    let r = put(id, 1, sealed(id, 1, 4)).await?;
    assert_eq!(r.code(), "attachment_chunk_size");
    // A tag changed after signing breaks the request's signature; a chunk
    // signed over a Content-Digest instead of its tag is not taken.
    let mut retagged = sealed(id, 1, 1);
    let last = retagged.len() - 1;
    let original = retagged.clone();
    retagged[last] ^= 1;
    let path = format!("/federation/attachments/{id}/1");
    let kind = "application/octet-stream";
    let r = send_signed_as(
        &a,
        &b,
        reqwest::Method::PUT,
        &path,
        kind,
        &original,
        &original,
    )
    .await?;
    assert_eq!(r.code(), "request_unsigned");
    let binding = entraide_federation::httpsig::BodyBinding::ChunkTag;
    let put_method = reqwest::Method::PUT;
    let r = send_bound_as(
        binding, &a, &b, put_method, &path, kind, &original, &retagged,
    )
    .await?;
    assert_eq!(r.code(), "request_signature_invalid");
    // Another node cannot add to it, nor an unsigned request: both are
    // refused before the body is read.
    let r = put_chunk_as(&c, &b, &path, sealed(id, 1, 1)).await?;
    assert_eq!(r.code(), "unknown_sender");
    let anonymous = b.api(None);
    let unsigned = anonymous.send(reqwest::Method::PUT, &path, &[], sealed(id, 1, 1));
    assert_eq!(unsigned.await?.code(), "request_unsigned");
    // The cut transfer resumes where the receiver stands; a repeat is
    // answered as it was.
    assert_eq!(status(id).await?.json["received_chunks"], 1);
    let r = put(id, 0, sealed(id, 0, 0)).await?;
    assert_eq!(r.json["received_chunks"], 1);
    // One chunk ahead waits for the one before it, then both are written
    // in order.
    let ahead = put(id, 2, sealed(id, 2, 2));
    let before = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        put(id, 1, sealed(id, 1, 1)).await
    };
    let (ahead, before) = tokio::join!(ahead, before);
    assert_eq!(before?.json["received_chunks"], 2);
    assert_eq!(ahead?.json["received_chunks"], 3);
    for n in 3..5u32 {
        let r = put(id, n, sealed(id, n, n as usize)).await?;
        assert_eq!(r.json["received_chunks"], n + 1, "{}", r.text);
    }
    assert_eq!(
        status(id).await?.json,
        json!({"received_chunks": 5, "chunks": 5})
    );

    // Taken whole by the message that names it with its hash.
    let out = tempfile::tempdir()?;
    let reference = entraide_server::federation::attachments::AttachmentRef {
        id,
        chunks: 5,
        size: size as u64,
        sha256: sha256_hex(&content),
        chunk_bytes: CHUNK_BYTES,
    };
    for wrong in [
        "00".repeat(32),
        "../../../../etc/passwd".into(),
        format!("{}/..", "a".repeat(61)),
    ] {
        let wrong = entraide_server::federation::attachments::AttachmentRef {
            sha256: wrong,
            ..reference.clone()
        };
        let taken = entraide_server::federation::attachments::take(
            &b.state,
            "fr-pc247",
            &wrong,
            &out.path().join("x"),
        )
        .await;
        assert!(taken.is_err());
    }
    entraide_server::federation::attachments::take(
        &b.state,
        "fr-pc247",
        &reference,
        &out.path().join("got"),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(std::fs::read(out.path().join("got"))?, content);

    // Chunks that each open but make another file than the one the
    // manifest names: the last is refused and the file discarded.
    let lie = post_manifest(&a, &b, &content, sha256_hex(b"something else"), &key).await?;
    for n in 0..4u32 {
        let r = put(lie, n, sealed(lie, n, n as usize)).await?;
        assert_eq!(r.json["received_chunks"], n + 1, "{}", r.text);
    }
    let r = put(lie, 4, sealed(lie, 4, 4)).await?;
    assert_eq!(r.code(), "attachment_hash_mismatch");
    assert_eq!(status(lie).await?.json["received_chunks"], 0);
    let refusals = b
        .store
        .audit_entries(&entraide_store::AuditFilter {
            action: Some("federation.refused".into()),
            limit: 1,
            ..Default::default()
        })
        .await?;
    assert_eq!(refusals[0].target.as_deref(), Some("fr-pc247"));
    assert!(refusals[0].detail.contains("attachment_hash_mismatch"));
    Ok(())
}

on_both_backends!(an_attachment_resumes_after_the_receiver_restarts_mid_chunk);

/// The receiver stops with two chunks in and part of a third written (a
/// crash in the middle of a write): after its restart it holds two, drops
/// the partial bytes, rebuilds the running SHA-256 from what it holds, and
/// the file completes and matches.
async fn an_attachment_resumes_after_the_receiver_restarts_mid_chunk(
    backend: Backend,
) -> Result<()> {
    use entraide_server::federation::attachments::CHUNK_BYTES;
    let (a, mut b, _c) = three_nodes(backend).await?;
    let size = (CHUNK_BYTES * 2 + 77) as usize;
    let content: Vec<u8> = (0..size).map(|i| (i % 241) as u8).collect();
    let key = hex::encode([9u8; 32]);
    let id = post_manifest(&a, &b, &content, sha256_hex(&content), &key).await?;
    let chunk = |n: u32| sealed_chunk(&key, id, &content, n);
    let path = |n: u32| format!("/federation/attachments/{id}/{n}");
    for n in 0..2 {
        let r = put_chunk_as(&a, &b, &path(n), chunk(n)).await?;
        assert_eq!(r.json["received_chunks"], n + 1, "{}", r.text);
    }
    b.stop().await;
    let part = b
        .state
        .custody
        .attachment_dir("incoming")
        .join(format!("fr-pc247-{id}.part"));
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&part)?;
        f.write_all(&[0xee; 1000])?;
    }
    b.restart().await?;
    let status = format!("/federation/attachments/{id}");
    let kind = "application/json";
    let r = send_signed_as(&a, &b, reqwest::Method::GET, &status, kind, &[], &[]).await?;
    assert_eq!(r.json, json!({"received_chunks": 2, "chunks": 3}));
    let r = put_chunk_as(&a, &b, &path(2), chunk(2)).await?;
    assert_eq!(r.json["received_chunks"], 3, "{}", r.text);
    assert_taken(&b, id, &content).await
}

on_both_backends!(two_replicas_of_the_receiver_take_turns_on_one_attachment);

/// Chunks of one attachment reach two replicas of the receiver (the same
/// database and data directory): each catches its running SHA-256 up with
/// what the other wrote, and the file completes and matches.
async fn two_replicas_of_the_receiver_take_turns_on_one_attachment(backend: Backend) -> Result<()> {
    use entraide_federation::httpsig::{sign_bound, BodyBinding};
    use entraide_server::federation::attachments::CHUNK_BYTES;
    let (a, b, _c) = three_nodes(backend).await?;
    let replica = b.replica().await?;
    let replica_url = replica.state.bound.get().cloned().unwrap();
    let size = (CHUNK_BYTES * 3 + 5) as usize;
    let content: Vec<u8> = (0..size).map(|i| (i % 239) as u8).collect();
    let key = hex::encode([3u8; 32]);
    let id = post_manifest(&a, &b, &content, sha256_hex(&content), &key).await?;
    let client = reqwest::Client::new();
    for n in 0..4u32 {
        let body = sealed_chunk(&key, id, &content, n);
        // Chunks 1 and 2 to the replica, 0 and 3 to the first.
        let base = if n == 1 || n == 2 {
            replica_url.clone()
        } else {
            b.url.clone()
        };
        let url = format!("{base}/federation/attachments/{id}/{n}");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let signing = &a.state.identity.signing;
        let sig = sign_bound(
            BodyBinding::ChunkTag,
            signing,
            "fr-pc247",
            "PUT",
            &url,
            &body,
            now,
        );
        let res = client
            .put(&url)
            .header("chunk-tag", &sig.body_field)
            .header("signature-input", &sig.signature_input)
            .header("signature", &sig.signature)
            .body(body)
            .send()
            .await?;
        let answer: serde_json::Value = res.json().await?;
        assert_eq!(answer["received_chunks"], n + 1, "{answer}");
    }
    assert_taken(&b, id, &content).await
}

on_both_backends!(an_attachment_the_peer_refuses_is_given_up_not_retried);

/// Through the real outbox: a file sent under a SHA-256 it does not have
/// crosses whole, is refused at its last chunk, and the sender records it
/// not delivered (with the peer's reason) instead of sending it again.
async fn an_attachment_the_peer_refuses_is_given_up_not_retried(backend: Backend) -> Result<()> {
    let (a, b, _c) = three_nodes(backend).await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("file.bin");
    std::fs::write(&path, vec![1u8; 5 * 1024 * 1024])?;
    let sent = entraide_server::federation::attachments::send(
        &a.state,
        &entraide_server::app::audit::Actor::command_line(),
        "ar-ufeci",
        &path,
        Some("00".repeat(32)),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let dead = wait_for(|| async {
        let m = a.store.outbox_message(sent.id).await?;
        Ok(
            m.filter(|m| m.status == entraide_federation::OutboxStatus::Dead)
                .map(|m| json!(m.last_error)),
        )
    })
    .await?;
    assert!(
        dead.as_str()
            .unwrap_or_default()
            .contains("attachment_hash_mismatch"),
        "{dead}"
    );
    let entries = |node: &entraide_testkit::TestNode, dir: &str| {
        std::fs::read_dir(node.state.custody.attachment_dir(dir))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(entries(&a, "outgoing"), 0);
    assert_eq!(entries(&b, "incoming"), 0);
    Ok(())
}

/// The multi-gigabyte case, in a process of its own (this test binary
/// started again on the one test below) so that the peak memory it
/// measures is the transfer's alone.
#[tokio::test]
async fn a_multi_gigabyte_attachment_streams_in_flat_memory() -> Result<()> {
    // The file, the receiver's copy and the taken file: about 6 GiB at
    // most in the temporary directory.
    let free_gib = std::process::Command::new("df")
        .args(["-Pk"])
        .arg(std::env::temp_dir())
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            let line = text.lines().nth(1)?.to_owned();
            line.split_whitespace().nth(3)?.parse::<u64>().ok()
        })
        .map(|kib| kib / (1024 * 1024));
    if free_gib.is_some_and(|gib| gib < 7) {
        eprintln!(
            "skipped: the 2 GiB attachment needs about 7 GiB free in the temporary directory"
        );
        return Ok(());
    }
    let out = tokio::process::Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            "federation::multi_gigabyte_attachment_in_this_process",
            "--ignored",
            "--nocapture",
        ])
        .output()
        .await?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run in a process of its own by a_multi_gigabyte_attachment_streams_in_flat_memory"]
async fn multi_gigabyte_attachment_in_this_process() -> Result<()> {
    use sha2::Digest;
    use std::io::Write;
    let status_mib = |key: &str| -> f64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    let a = spawn_named(Backend::Sqlite, "fr-pc247").await?;
    let b = spawn_named(Backend::Sqlite, "ar-ufeci").await?;
    pin(&a, &b).await?;
    pin(&b, &a).await?;
    // 2 GiB and a bit: 513 chunks, the last one short; each MiB differs.
    let size: u64 = (2 << 30) + (1 << 20) + 7;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("large.bin");
    let mut hasher = sha2::Sha256::new();
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let mut piece: Vec<u8> = (0..1u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut left = size;
        let mut n = 0u64;
        while left > 0 {
            piece[..8].copy_from_slice(&n.to_le_bytes());
            let take = left.min(piece.len() as u64) as usize;
            out.write_all(&piece[..take])?;
            hasher.update(&piece[..take]);
            left -= take as u64;
            n += 1;
        }
        out.flush()?;
    }
    let sha256 = hex::encode(hasher.finalize());
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_mib("VmRSS:");
    let started = std::time::Instant::now();
    let sent = entraide_server::federation::attachments::send(
        &a.state,
        &entraide_server::app::audit::Actor::command_line(),
        "ar-ufeci",
        &path,
        None,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!((sent.size, &sent.sha256, sent.chunks), (size, &sha256, 513));
    loop {
        let m = a.store.outbox_message(sent.id).await?.unwrap();
        match m.status.as_str() {
            "delivered" => break,
            "pending" => {}
            other => anyhow::bail!("{other}: {:?}", m.last_error),
        }
        assert!(started.elapsed().as_secs() < 900, "still not delivered");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let got = dir.path().join("got.bin");
    entraide_server::federation::attachments::take(&b.state, "fr-pc247", &sent, &got)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let took = started.elapsed().as_secs_f64();
    let peak = status_mib("VmHWM:");
    let (got_sha256, got_size) =
        entraide_evidence::verify::hash_stream(&mut std::fs::File::open(&got)?)?;
    assert_eq!((got_size, got_sha256), (size, sha256));
    println!(
        "{:.1} GiB in {took:.1} s; both nodes: {before:.0} MiB before, {peak:.0} MiB at the peak",
        size as f64 / f64::from(1u32 << 30)
    );
    // Flat: a few 4 MiB chunks in flight on each side, whatever the size.
    assert!(
        peak - before < 160.0,
        "memory grew from {before:.0} to {peak:.0} MiB"
    );
    Ok(())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

on_both_backends!(oversize_envelopes_and_mismatched_attachments_are_refused);

async fn oversize_envelopes_and_mismatched_attachments_are_refused(backend: Backend) -> Result<()> {
    let a = spawn_named(backend.clone(), "fr-pc247").await?;
    let b = spawn_named(backend, "ar-ufeci").await?;
    pin(&a, &b).await?;
    pin(&b, &a).await?;
    b.user("duty", &[Role::Officer]).await?;
    // Oversize: a problem+json refusal, audited.
    let huge = vec![b'x'; 9 * 1024 * 1024];
    let r = post_envelope(&a, &b, &huge).await?;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.code(), "payload_too_large");
    // A package naming an attachment that has not arrived with the size
    // and SHA-256 it gives: the package is not added, and the reason is
    // recorded at the receiver.
    let actor = entraide_server::app::audit::Actor::command_line();
    let send = |t: entraide_federation::MessageKind, body: serde_json::Value| {
        let state = a.state.clone();
        let actor = actor.clone();
        async move {
            entraide_server::federation::outbox::send(
                &state,
                &actor,
                "ar-ufeci",
                t,
                &serde_json::to_vec(&body).unwrap(),
                None,
                time::Duration::hours(1),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
        }
    };
    let last = send(
        entraide_federation::MessageKind::EvidencePackage,
        json!({"package_id": uuid::Uuid::new_v4(), "file_name": "p.zip", "case_reference": "X",
               "attachment": {"id": uuid::Uuid::nil(), "chunks": 1, "size": 5, "sha256": "00".repeat(32),
                              "chunk_bytes": 4 * 1024 * 1024}}),
    )
    .await?;
    let store = a.store.clone();
    wait_for(|| {
        let store = store.clone();
        async move {
            let m = store.outbox_message(last.message_id).await?.unwrap();
            Ok((m.status == entraide_federation::OutboxStatus::Delivered)
                .then_some(serde_json::Value::Null))
        }
    })
    .await?;
    let refusals = b
        .store
        .audit_entries(&entraide_store::AuditFilter {
            action: Some("federation.refused".into()),
            limit: 10,
            ..Default::default()
        })
        .await?;
    assert!(
        refusals
            .iter()
            .any(|e| e.detail.contains("message_not_applied") && e.detail.contains("SHA-256")),
        "{refusals:?}"
    );
    Ok(())
}
