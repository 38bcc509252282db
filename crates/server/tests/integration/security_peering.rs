//! Peering under attack: a peer's document is read with the types of local
//! configuration (a node id that is a path, an unknown country or kind are
//! refused, nothing kept); a message refused because the peer has not added
//! this node yet waits for it instead of being lost; a peer that moved is
//! followed only with its pinned key; and a refusal answered before the
//! body was read is read as a refusal, not as a network error.

mod fake_peer;

use anyhow::Result;
use entraide_federation::MessageKind;
use entraide_server::app::audit::Actor;
use entraide_testkit::{on_both_backends, Backend, TestNode};
use fake_peer::{document, problem, FakePeer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::federation::{pin, spawn_named, wait_for};

/// A fake peer answering every request but its document with `answer`,
/// serving `node_id`'s document with `edit` applied; its fingerprint.
async fn fake_with(
    node_id: &str,
    answer: fake_peer::Answer,
    edit: impl FnOnce(&mut entraide_federation::NodeDocument),
) -> Result<(FakePeer, String)> {
    let fake = FakePeer::start(answer).await?;
    let identity = fake.identity()?;
    let mut doc = document(&identity, node_id, &fake.url, OffsetDateTime::now_utc());
    edit(&mut doc);
    fake.serve(&doc.sign(&identity.signing))?;
    Ok((fake, identity.signing_public().fingerprint()))
}

fn refuse_all(_: &str, _: &str, _: u64) -> (u16, String) {
    problem(403, "unknown_sender")
}

/// The problem's refused fields, as (field, code).
fn refused_fields(reply: &entraide_testkit::Reply) -> Vec<(String, String)> {
    reply.json["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                    (s("field"), s("code"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The audit entries of `action` (newest first), as text.
async fn audited(node: &TestNode, action: &str) -> Result<String> {
    let entries = node
        .store
        .audit_entries(&entraide_store::AuditFilter {
            action: Some(action.into()),
            limit: 20,
            ..Default::default()
        })
        .await?;
    Ok(entries
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e.outcome,
                e.target.as_deref().unwrap_or(""),
                e.detail
            )
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

async fn peers_of(node: &TestNode) -> Result<Value> {
    let admin = node.admin().await?;
    Ok(node
        .api(Some(&admin.token))
        .get("/api/v1/peers")
        .await?
        .json)
}

on_both_backends!(a_peer_document_with_a_path_for_node_id_is_refused);

async fn a_peer_document_with_a_path_for_node_id_is_refused(backend: Backend) -> Result<()> {
    let a = spawn_named(backend, "fr-pc247").await?;
    let admin = a.admin().await?;
    let api = a.api(Some(&admin.token));
    let (fake, fingerprint) = fake_with("../../../../tmp/x", refuse_all, |d| {
        d.country = "ZZ".into();
        d.kind = "whatever".into();
    })
    .await?;
    // Signed by the key whose fingerprint was given: only its content is wrong.
    let r = api
        .post(
            "/api/v1/peers",
            &json!({ "url": fake.url, "fingerprint": fingerprint }),
        )
        .await?;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);
    assert_eq!(r.code(), "peer_document_invalid");
    let fields = refused_fields(&r);
    let expected = [
        ("node_id", "invalid_node_id"),
        ("country", "invalid_country"),
        ("kind", "invalid_organisation_kind"),
    ];
    assert_eq!(
        fields,
        expected.map(|(f, c)| (f.to_owned(), c.to_owned())),
        "{}",
        r.text
    );
    assert_eq!(peers_of(&a).await?, json!([]), "nothing pinned");

    // Other ways a node id could name a file or another node: refused too.
    for id in [
        "..",
        "de-bka/../../x",
        "DE-BKA",
        " de-bka",
        "de-bka%2f..",
        "a",
    ] {
        let (fake, fingerprint) = fake_with(id, refuse_all, |_| {}).await?;
        let r = api
            .post(
                "/api/v1/peers",
                &json!({ "url": fake.url, "fingerprint": fingerprint }),
            )
            .await?;
        assert_eq!(r.code(), "peer_document_invalid", "{id}: {}", r.text);
        assert_eq!(refused_fields(&r)[0].0, "node_id", "{id}");
    }
    assert_eq!(peers_of(&a).await?, json!([]));
    // The same node with a valid id is pinned as it says.
    let (fake, fingerprint) = fake_with("de-bka", refuse_all, |_| {}).await?;
    let r = api
        .post(
            "/api/v1/peers",
            &json!({ "url": fake.url, "fingerprint": fingerprint }),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["node_id"], "de-bka");
    Ok(())
}

/// Fields refused, with their codes.
type Refused<'a> = &'a [(&'a str, &'a str)];

on_both_backends!(a_peer_document_with_an_unknown_country_or_kind_is_refused);

async fn a_peer_document_with_an_unknown_country_or_kind_is_refused(
    backend: Backend,
) -> Result<()> {
    let a = spawn_named(backend, "fr-pc247").await?;
    let admin = a.admin().await?;
    let api = a.api(Some(&admin.token));
    // Country, kind, address; the fields refused with their codes.
    let forgeries: [(&str, &str, &str, Refused); 4] = [
        (
            "ZZ",
            "whatever",
            "",
            &[
                ("country", "invalid_country"),
                ("kind", "invalid_organisation_kind"),
            ],
        ),
        // Not assigned, though often written.
        (
            "UK",
            "police-cyber-unit",
            "",
            &[("country", "invalid_country")],
        ),
        (
            "EU",
            "police",
            "",
            &[
                ("country", "invalid_country"),
                ("kind", "invalid_organisation_kind"),
            ],
        ),
        // An address that is not one.
        (
            "DE",
            "court",
            "javascript:alert(1)",
            &[("base_url", "invalid_url")],
        ),
    ];
    for (country, kind, url, expected) in forgeries {
        let (fake, fingerprint) = fake_with("de-bka", refuse_all, |d| {
            d.country = country.into();
            d.kind = kind.into();
            if !url.is_empty() {
                d.base_url = url.into();
            }
        })
        .await?;
        let r = api
            .post(
                "/api/v1/peers",
                &json!({ "url": fake.url, "fingerprint": fingerprint }),
            )
            .await?;
        assert_eq!(r.code(), "peer_document_invalid", "{}", r.text);
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
            .collect();
        assert_eq!(refused_fields(&r), expected, "{country} {kind} {url}");
    }
    assert_eq!(peers_of(&a).await?, json!([]), "nothing pinned");
    // In the web page too: refused, named, nothing added.
    let web = entraide_testkit::Browser::new(&a.url, Some("fr"))?;
    web.sign_in(&a.admin_email, entraide_testkit::PASSWORD)
        .await?;
    let (fake, fingerprint) = fake_with("de-bka", refuse_all, |d| d.country = "ZZ".into()).await?;
    let csrf = web.csrf("/admin/organisation").await?;
    let page = web
        .post_form(
            "/admin/peers",
            &[
                ("csrf", csrf.as_str()),
                ("url", fake.url.as_str()),
                ("fingerprint", fingerprint.as_str()),
            ],
        )
        .await?;
    assert!(
        page.text.contains("certains de ses champs sont invalides"),
        "{}",
        page.text
    );
    assert_eq!(peers_of(&a).await?, json!([]));
    // Lower case is the same assigned code: accepted, kept in capitals.
    let (fake, fingerprint) = fake_with("de-bka", refuse_all, |d| d.country = "de".into()).await?;
    let r = api
        .post(
            "/api/v1/peers",
            &json!({ "url": fake.url, "fingerprint": fingerprint }),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        (r.json["country"].as_str(), r.json["kind"].as_str()),
        (Some("DE"), Some("police-cyber-unit"))
    );
    Ok(())
}

/// A's outbox entry `id` once `done` says it has settled.
async fn outbox_when(
    api: &entraide_testkit::Api,
    id: &str,
    done: fn(&Value) -> bool,
) -> Result<Value> {
    wait_for(|| {
        let path = format!("/api/v1/outbox/{id}");
        async move {
            let m = api.get(&path).await?.json;
            Ok(done(&m).then_some(m))
        }
    })
    .await
}

async fn note(api: &entraide_testkit::Api, to: &str, text: &str) -> Result<String> {
    let r = api
        .post(
            &format!("/api/v1/peers/{to}/messages"),
            &json!({ "text": text }),
        )
        .await?;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    Ok(r.json["message_id"].as_str().unwrap_or_default().to_owned())
}

async fn expire_pending(node: &TestNode) -> Result<()> {
    let sql = "UPDATE outbox_messages SET expires_at = 1 WHERE status = 'pending'";
    if node.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&node.database_url).await?;
        sqlx::query(sql).execute(&pool).await?;
    } else {
        let pool = sqlx::PgPool::connect(&node.database_url).await?;
        sqlx::query(sql).execute(&pool).await?;
    }
    Ok(())
}

on_both_backends!(a_message_refused_unknown_sender_waits_until_the_peer_pins_us);

async fn a_message_refused_unknown_sender_waits_until_the_peer_pins_us(
    backend: Backend,
) -> Result<()> {
    let a = spawn_named(backend.clone(), "fr-pc247").await?;
    let b = spawn_named(backend, "ar-ufeci").await?;
    // A has added B; B has not added A yet.
    pin(&a, &b).await?;
    let a_admin = a.admin().await?;
    let a_api = a.api(Some(&a_admin.token));
    let waiting = |m: &Value| m["waiting_for_peer"] == true;

    // Refused `unknown_sender`: kept, waiting, said so — not given up.
    let first = note(&a_api, "ar-ufeci", "before you knew us").await?;
    let m = outbox_when(&a_api, &first, waiting).await?;
    assert_eq!(m["status"], "pending", "{m}");
    assert_eq!(m["attempts"], 1, "{m}");
    let last_error = m["last_error"].as_str().unwrap_or_default();
    assert!(last_error.contains("unknown_sender"), "{m}");
    assert!(!last_error.contains("cannot reach"), "{m}");
    // The administrator sees it waiting, in their language.
    for (lang, label) in [
        ("en", "Waiting for the peer to add us"),
        ("fr", "En attente que le pair nous ajoute"),
        ("es", "Esperando a que el par nos añada"),
    ] {
        let web = entraide_testkit::Browser::new(&a.url, Some(lang))?;
        web.sign_in(&a.admin_email, entraide_testkit::PASSWORD)
            .await?;
        let page = web.get("/admin/organisation").await?;
        assert!(page.text.contains(label), "{lang}: {}", page.text);
    }
    // Until it expires: then given up, saying what it waited for.
    expire_pending(&a).await?;
    let r = a_api
        .post("/api/v1/peers/ar-ufeci/deliver", &json!({}))
        .await?;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let dead = outbox_when(&a_api, &first, |m| m["status"] == "dead").await?;
    let reason = dead["last_error"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("expired before delivery") && reason.contains("unknown_sender"),
        "{dead}"
    );
    assert_eq!(dead["waiting_for_peer"], false);

    // Another waits; B adds A; the next attempt delivers it.
    let second = note(&a_api, "ar-ufeci", "now you know us").await?;
    outbox_when(&a_api, &second, waiting).await?;
    pin(&b, &a).await?;
    let r = a_api
        .post("/api/v1/peers/ar-ufeci/deliver", &json!({}))
        .await?;
    assert_eq!(r.json["messages"], 1, "{}", r.text);
    let delivered = outbox_when(&a_api, &second, |m| m["status"] == "delivered").await?;
    assert!(delivered["receipt"].is_object(), "{delivered}");
    let b_admin = b.admin().await?;
    let inbox = b.api(Some(&b_admin.token)).get("/api/v1/inbox").await?.json;
    let ids: Vec<&str> = inbox
        .as_array()
        .map(|l| l.iter().filter_map(|m| m["message_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, [second.as_str()], "{inbox}");
    // An unknown peer has nothing to deliver.
    let r = a_api
        .post("/api/v1/peers/xx-nobody/deliver", &json!({}))
        .await?;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    Ok(())
}

on_both_backends!(peer_refresh_follows_a_new_address_with_the_pinned_fingerprint);

async fn peer_refresh_follows_a_new_address_with_the_pinned_fingerprint(
    backend: Backend,
) -> Result<()> {
    let a = spawn_named(backend.clone(), "fr-pc247").await?;
    let mut b = spawn_named(backend.clone(), "ar-ufeci").await?;
    let c = spawn_named(backend, "br-pf").await?;
    pin(&a, &b).await?;
    pin(&b, &a).await?;
    let a_admin = a.admin().await?;
    let a_api = a.api(Some(&a_admin.token));
    let pinned = b.state.identity.signing_public().fingerprint();

    // B moves: the same node (its data, its keys) at another address.
    let moved = b.replica().await?;
    let new_url = moved
        .state
        .bound
        .get()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("not bound"))?;
    b.stop().await;
    // Another node's document at the address given: refused, audited,
    // nothing changed.
    let r = a_api
        .post("/api/v1/peers/ar-ufeci/refresh", &json!({ "url": c.url }))
        .await?;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.code(), "peer_fingerprint_mismatch");
    assert_eq!(peers_of(&a).await?[0]["base_url"], b.url.as_str());
    let audit = audited(&a, "peer.refreshed").await?;
    assert!(
        audit.starts_with("denied ar-ufeci") && audit.contains("peer_fingerprint_mismatch"),
        "{audit}"
    );
    // A bad address: refused before anything is fetched.
    let r = a_api
        .post(
            "/api/v1/peers/ar-ufeci/refresh",
            &json!({ "url": "file:///etc" }),
        )
        .await?;
    assert_eq!(r.code(), "validation_failed", "{}", r.text);
    // Its new address, with the pinned key: followed.
    let r = a_api
        .post("/api/v1/peers/ar-ufeci/refresh", &json!({ "url": new_url }))
        .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["base_url"], new_url.as_str());
    assert_eq!(r.json["signing_fingerprint"], pinned.as_str());
    let audit = audited(&a, "peer.refreshed").await?;
    assert!(
        audit.starts_with("success ar-ufeci") && audit.contains(&new_url),
        "{audit}"
    );
    // Messages now go to the new address.
    let id = note(&a_api, "ar-ufeci", "at your new address").await?;
    outbox_when(&a_api, &id, |m| m["status"] == "delivered").await?;
    // Refreshing from the address now known needs no URL.
    let r = a_api
        .post("/api/v1/peers/ar-ufeci/refresh", &json!({}))
        .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = a_api
        .post("/api/v1/peers/xx-nobody/refresh", &json!({}))
        .await?;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // A key rotation: the document signed by the pinned key announcing the
    // next one is accepted; then the one signed by the next key alone.
    let (fake, fingerprint) = fake_with("de-bka", refuse_all, |_| {}).await?;
    let r = a_api
        .post(
            "/api/v1/peers",
            &json!({ "url": fake.url, "fingerprint": fingerprint }),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let new_key =
        entraide_federation::NodeIdentity::rotate(fake.dir.path(), time::Duration::hours(1))?;
    let rotating = fake.identity()?;
    let now = OffsetDateTime::now_utc();
    let during = document(&rotating, "de-bka", &fake.url, now);
    fake.serve(&during.sign(rotating.federation_key(now)))?;
    let r = a_api
        .post("/api/v1/peers/de-bka/refresh", &json!({}))
        .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["signing_fingerprint"], fingerprint.as_str());
    let later = now + time::Duration::hours(2);
    let after = document(&rotating, "de-bka", &fake.url, later);
    fake.serve(&after.sign(&new_key))?;
    let r = a_api
        .post("/api/v1/peers/de-bka/refresh", &json!({}))
        .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json["signing_fingerprint"],
        new_key.fingerprint().as_str()
    );
    // An older document, though genuinely signed: it would roll the peer
    // back.
    let mut older = after.clone();
    older.issued_at = "2025-06-01T00:00:00Z".into();
    fake.serve(&older.sign(&new_key))?;
    let r = a_api
        .post("/api/v1/peers/de-bka/refresh", &json!({}))
        .await?;
    assert_eq!(r.code(), "peer_document_outdated", "{}", r.text);
    // A key it never announced: refused.
    let stranger = entraide_evidence::NodeKey::generate();
    fake.serve(&after.sign(&stranger))?;
    let r = a_api
        .post("/api/v1/peers/de-bka/refresh", &json!({}))
        .await?;
    assert_eq!(r.code(), "node_document_bad_signature", "{}", r.text);
    drop(moved);
    Ok(())
}

on_both_backends!(a_refusal_is_read_as_a_refusal_not_a_network_error);

/// Bodies over 1 MiB are refused for their size (from `Content-Length`,
/// unread); anything smaller is taken (an empty batch: no results).
fn refuse_large(_: &str, _: &str, content_length: u64) -> (u16, String) {
    if content_length > 1024 * 1024 {
        problem(413, "payload_too_large")
    } else {
        (200, json!({ "results": [] }).to_string())
    }
}

async fn a_refusal_is_read_as_a_refusal_not_a_network_error(backend: Backend) -> Result<()> {
    let a = spawn_named(backend, "fr-pc247").await?;
    let a_admin = a.admin().await?;
    let a_api = a.api(Some(&a_admin.token));
    let (stranger, fp1) = fake_with("de-bka", refuse_all, |_| {}).await?;
    let (small, fp2) = fake_with("de-lka", refuse_large, |_| {}).await?;
    for (fake, fp) in [(&stranger, &fp1), (&small, &fp2)] {
        let r = a_api
            .post(
                "/api/v1/peers",
                &json!({ "url": fake.url, "fingerprint": fp }),
            )
            .await?;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    // Messages of some megabytes: both peers answer from the headers and
    // close the connection with the body unread.
    let payload = serde_json::to_vec(&json!({ "text": "x".repeat(4 * 1024 * 1024) }))?;
    let send = |to: &'static str| {
        let (app, payload) = (a.state.clone(), payload.clone());
        async move {
            entraide_server::federation::outbox::send(
                &app,
                &Actor::command_line(),
                to,
                MessageKind::Note,
                &payload,
                None,
                time::Duration::hours(1),
            )
            .await
            .map(|m| m.message_id.to_string())
            .map_err(|e| anyhow::anyhow!("{e}"))
        }
    };
    // Refused as an unknown sender: waiting for the peer, not unreachable.
    let id = send("de-bka").await?;
    let m = outbox_when(&a_api, &id, |m| m["waiting_for_peer"] == true).await?;
    assert_eq!(
        (m["status"].as_str(), m["attempts"].as_u64()),
        (Some("pending"), Some(1)),
        "{m}"
    );
    // Refused for its size: given up with the refusal, after one attempt.
    let id = send("de-lka").await?;
    let m = outbox_when(&a_api, &id, |m| m["status"] == "dead").await?;
    let reason = m["last_error"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("refused by de-lka")
            && (reason.contains("payload_too_large") || reason.contains("413")),
        "{m}"
    );
    assert_eq!(m["attempts"], 0, "never tried again: {m}");
    let audit = audited(&a, "federation.not_delivered").await?;
    assert!(audit.contains("refused by de-lka"), "{audit}");
    Ok(())
}
