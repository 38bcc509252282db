//! Evidence and chain of custody over HTTP: resumable uploads, downloads
//! recorded as custody events, need to know and roles, custody changes,
//! proofs against signed tree heads, packages from one node to another
//! (and tampered ones refused), the web pages, and the command line
//! (ingest killed with SIGKILL, export, offline verification, CASE/UCO).

use std::process::Command;

use anyhow::Result;
use entraide_custody_log::{verify_inclusion, Hash};
use entraide_domain::Role;
use entraide_testkit::{csrf_in, on_both_backends, spawn_node, Backend, TestNode, TestUser};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

on_both_backends!(
    upload_download_and_custody,
    packages_travel_between_nodes_and_tampering_is_refused,
    evidence_pages_in_the_browser
);

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn case_with(
    node: &TestNode,
    owner: &TestUser,
    reference: &str,
    members: &[&TestUser],
) -> Result<String> {
    let api = node.api(Some(&owner.token));
    let case = api
        .post(
            "/api/v1/cases",
            &json!({"reference": reference, "title": "Extortion of a hospital"}),
        )
        .await?;
    assert_eq!(case.status, StatusCode::CREATED, "{}", case.text);
    let id = case.json["id"].as_str().unwrap().to_owned();
    for m in members {
        let r = api
            .post(
                &format!("/api/v1/cases/{id}/members"),
                &json!({"email": m.email}),
            )
            .await?;
        assert!(r.status.is_success(), "{}", r.text);
    }
    Ok(id)
}

/// Uploads `bytes` in one go; returns the item.
async fn upload(
    node: &TestNode,
    user: &TestUser,
    case_id: &str,
    name: &str,
    bytes: &[u8],
    exhibit: &str,
) -> Result<Value> {
    let api = node.api(Some(&user.token));
    let u = api
        .post(
            &format!("/api/v1/cases/{case_id}/evidence/uploads"),
            &json!({
                "file_name": name, "size": bytes.len(), "description": format!("{name} as seized"),
                "source": "seized_device", "exhibit_number": exhibit,
                "acquired_at": "2026-11-20T08:30:00Z", "acquired_place": "Lyon",
                "performer": "OPJ Martin", "authorisation": "JLD ordonnance 2026/113"
            }),
        )
        .await?;
    assert_eq!(u.status, StatusCode::CREATED, "{}", u.text);
    let id = u.json["id"].as_str().unwrap().to_owned();
    let done = api
        .send(
            Method::PATCH,
            &format!("/api/v1/evidence/uploads/{id}"),
            &[
                ("content-type", "application/offset+octet-stream"),
                ("upload-offset", "0"),
            ],
            bytes.to_vec(),
        )
        .await?;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text);
    Ok(done.json["item"].clone())
}

fn kinds(detail: &Value) -> Vec<String> {
    detail["custody"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn upload_download_and_custody(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let custodian = node.user("custodian", &[Role::Custodian]).await?;
    let officer = node.user("officer", &[Role::Officer]).await?;
    let approver = node.user("approver", &[Role::Approver]).await?;
    let outsider = node.user("outsider", &[Role::Custodian]).await?;
    // Custodians open cases but do not manage members: an officer does.
    let case_id = case_with(&node, &officer, "FR-2026-0042", &[&custodian, &approver]).await?;
    let c = node.api(Some(&custodian.token));
    let o = node.api(Some(&officer.token));

    // Bad metadata: every field reported at once, nothing stored.
    let bad = c
        .post(
            &format!("/api/v1/cases/{case_id}/evidence/uploads"),
            &json!({"file_name": "../etc/passwd", "size": 3, "description": " ", "source": "hearsay",
                    "acquired_at": "2099-01-01T00:00:00Z"}),
        )
        .await?;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = bad.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["file_name", "description", "source", "acquired_at"] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    // An approver may not handle evidence content.
    let a = node.api(Some(&approver.token));
    let denied = a
        .post(
            &format!("/api/v1/cases/{case_id}/evidence/uploads"),
            &json!({"file_name": "x", "size": 1, "description": "x", "source": "open_source"}),
        )
        .await?;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    // A resumable upload in three pieces, one refused for a wrong offset.
    let content: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let u = c
        .post(
            &format!("/api/v1/cases/{case_id}/evidence/uploads"),
            &json!({"file_name": "disk.img", "size": content.len(), "description": "Image of the seized laptop disk",
                    "source": "seized_device", "exhibit_number": "PH-1", "legacy_hashes": true,
                    "acquired_at": "2026-11-20T08:30:00Z", "performer": "OPJ Martin"}),
        )
        .await?;
    assert_eq!(u.status, StatusCode::CREATED, "{}", u.text);
    let upload_id = u.json["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/evidence/uploads/{upload_id}");
    let octets = ("content-type", "application/offset+octet-stream");
    let first = c
        .send(
            Method::PATCH,
            &path,
            &[octets, ("upload-offset", "0")],
            content[..400_000].to_vec(),
        )
        .await?;
    assert_eq!(first.status, StatusCode::NO_CONTENT, "{}", first.text);
    assert_eq!(first.headers["upload-offset"], "400000");
    let wrong = c
        .send(
            Method::PATCH,
            &path,
            &[octets, ("upload-offset", "0")],
            content[..10].to_vec(),
        )
        .await?;
    assert_eq!(wrong.status, StatusCode::CONFLICT);
    assert_eq!(wrong.code(), "upload_offset_mismatch");
    assert_eq!(wrong.headers["upload-offset"], "400000");
    let status = c.get(&path).await?;
    assert_eq!(status.json["received"], 400_000);
    // Someone else's upload does not exist for them.
    assert_eq!(o.get(&path).await?.status, StatusCode::NOT_FOUND);
    let no_offset = c.send(Method::PATCH, &path, &[octets], vec![1]).await?;
    assert_eq!(no_offset.code(), "upload_offset_required");
    let wrong_type = c
        .send(
            Method::PATCH,
            &path,
            &[("content-type", "text/plain"), ("upload-offset", "400000")],
            vec![1],
        )
        .await?;
    assert_eq!(wrong_type.code(), "upload_content_type");
    let second = c
        .send(
            Method::PATCH,
            &path,
            &[octets, ("upload-offset", "400000")],
            content[400_000..900_000].to_vec(),
        )
        .await?;
    assert_eq!(second.status, StatusCode::NO_CONTENT);
    let too_much = c
        .send(
            Method::PATCH,
            &path,
            &[octets, ("upload-offset", "900000")],
            vec![0u8; 400_000],
        )
        .await?;
    assert_eq!(too_much.status, StatusCode::PAYLOAD_TOO_LARGE);
    let last = c
        .send(
            Method::PATCH,
            &path,
            &[octets, ("upload-offset", "900000")],
            content[900_000..].to_vec(),
        )
        .await?;
    assert_eq!(last.status, StatusCode::CREATED, "{}", last.text);
    let item = &last.json["item"];
    assert_eq!(item["sha256"], sha256(&content));
    assert_eq!(item["md5"].as_str().unwrap().len(), 32);
    assert_eq!(item["size"], content.len());
    let item_id = item["id"].as_str().unwrap().to_owned();
    assert_eq!(c.get(&path).await?.status, StatusCode::NOT_FOUND);

    // The same exhibit number twice in a case is refused.
    let dup = c
        .post(
            &format!("/api/v1/cases/{case_id}/evidence/uploads"),
            &json!({"file_name": "b", "size": 1, "description": "b", "source": "open_source", "exhibit_number": "PH-1"}),
        )
        .await?;
    assert_eq!(dup.status, StatusCode::CREATED);
    let dup_id = dup.json["id"].as_str().unwrap();
    let dup_done = c
        .send(
            Method::PATCH,
            &format!("/api/v1/evidence/uploads/{dup_id}"),
            &[octets, ("upload-offset", "0")],
            vec![7],
        )
        .await?;
    assert_eq!(dup_done.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(dup_done.json["errors"][0]["code"], "exhibit_number_taken");

    // Need to know: an outsider does not see it; an approver sees metadata
    // but not content; an officer downloads it, recorded twice over.
    let x = node.api(Some(&outsider.token));
    assert_eq!(
        x.get(&format!("/api/v1/evidence/{item_id}")).await?.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        x.get(&format!("/api/v1/cases/{case_id}/evidence"))
            .await?
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        a.get(&format!("/api/v1/evidence/{item_id}")).await?.status,
        StatusCode::OK
    );
    assert_eq!(
        a.get(&format!("/api/v1/evidence/{item_id}/content"))
            .await?
            .status,
        StatusCode::FORBIDDEN
    );
    let got = o
        .get(&format!("/api/v1/evidence/{item_id}/content"))
        .await?;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.bytes, content);
    let digest = base64_of_hex(&sha256(&content));
    assert_eq!(
        got.headers["repr-digest"],
        format!("sha-256=:{digest}:").as_str()
    );
    let detail = c.get(&format!("/api/v1/evidence/{item_id}")).await?;
    assert_eq!(kinds(&detail.json), ["acquired", "ingested", "downloaded"]);
    let audit = node
        .store
        .audit_entries(&entraide_store::AuditFilter {
            action: Some("evidence.".into()),
            limit: 100,
            ..Default::default()
        })
        .await?;
    let seen: Vec<(String, String, String)> = audit
        .iter()
        .map(|e| (e.action.clone(), e.outcome.clone(), e.actor.clone()))
        .collect();
    assert!(
        seen.contains(&(
            "evidence.downloaded".into(),
            "success".into(),
            officer.email.clone()
        )),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(
            "evidence.read".into(),
            "success".into(),
            approver.email.clone()
        )),
        "{seen:?}"
    );
    // The approver's download was refused by the route's rule, and audited.
    let denied = node
        .store
        .audit_entries(&entraide_store::AuditFilter {
            action: Some("auth.denied".into()),
            limit: 100,
            ..Default::default()
        })
        .await?;
    assert!(denied.iter().any(|e| e.actor == approver.email
        && e.target.as_deref().is_some_and(|t| t.contains("/content"))));
    assert!(
        seen.contains(&(
            "evidence.read".into(),
            "denied".into(),
            outsider.email.clone()
        )),
        "{seen:?}"
    );

    // Every custody event is in the signed log: check a proof as a
    // client holding only the tree head would.
    let events = detail.json["custody"].as_array().unwrap().clone();
    for e in &events {
        let index = e["leaf_index"].as_u64().unwrap();
        let proof = c
            .get(&format!("/api/v1/evidence/{item_id}/custody/{index}/proof"))
            .await?;
        assert_eq!(proof.status, StatusCode::OK, "{}", proof.text);
        let head = &proof.json["tree_head"];
        let root = Hash::from_hex(head["root_hash"].as_str().unwrap())?;
        let path: Vec<Hash> = proof.json["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap())
            .collect();
        let leaf = entraide_custody_log::leaf_hash(e["record"].as_str().unwrap().as_bytes());
        verify_inclusion(
            &leaf,
            index,
            head["tree_size"].as_u64().unwrap(),
            &path,
            &root,
        )?;
        let signed = entraide_evidence::SignedTreeHead {
            node: head["node"].as_str().unwrap().into(),
            tree_size: head["tree_size"].as_u64().unwrap(),
            root_hash: root,
            timestamp_ms: head["timestamp_ms"].as_i64().unwrap(),
            public_key: head["public_key"].as_str().unwrap().into(),
            signature: head["signature"].as_str().unwrap().into(),
        };
        assert!(signed.verify());
    }
    let size = c.get("/api/v1/custody/tree-head").await?.json["tree_size"]
        .as_u64()
        .unwrap();
    let cons = c
        .get(&format!("/api/v1/custody/consistency?from=1&to={size}"))
        .await?;
    assert_eq!(cons.status, StatusCode::OK);
    let bad_cons = c
        .get(&format!(
            "/api/v1/custody/consistency?from={}&to=1",
            size + 5
        ))
        .await?;
    assert_eq!(bad_cons.code(), "invalid_proof_request");

    // Custody changes: custodians only; seal blocks reading; hold and
    // retention block disposal; disposal destroys the content, keeps the hash.
    let change = |action: Value| {
        let c = node.api(Some(&custodian.token));
        let item_id = item_id.clone();
        async move {
            c.post(&format!("/api/v1/evidence/{item_id}/custody"), &action)
                .await
        }
    };
    let by_officer = o
        .post(
            &format!("/api/v1/evidence/{item_id}/custody"),
            &json!({"action": "seal"}),
        )
        .await?;
    assert_eq!(by_officer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        change(json!({"action": "seal"})).await?.json["state"],
        "sealed"
    );
    assert_eq!(
        change(json!({"action": "seal"})).await?.code(),
        "evidence_state"
    );
    assert_eq!(
        o.get(&format!("/api/v1/evidence/{item_id}/content"))
            .await?
            .code(),
        "evidence_sealed"
    );
    assert_eq!(
        change(json!({"action": "release"})).await?.json["state"],
        "held"
    );
    assert_eq!(
        change(json!({"action": "hold"})).await?.json["legal_hold"],
        true
    );
    assert_eq!(
        change(json!({"action": "dispose", "reason": "case closed"}))
            .await?
            .code(),
        "evidence_legal_hold"
    );
    change(json!({"action": "lift_hold"})).await?;
    let r = change(json!({"action": "retention", "retention_until": "2099-12-31"})).await?;
    assert_eq!(r.json["retention_until"], "2099-12-31");
    assert_eq!(
        change(json!({"action": "dispose", "reason": "case closed"}))
            .await?
            .code(),
        "evidence_retention_running"
    );
    assert_eq!(
        change(json!({"action": "retention", "retention_until": "31/12/2099"}))
            .await?
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    change(json!({"action": "retention", "retention_until": ""})).await?;
    assert_eq!(
        change(json!({"action": "dispose"})).await?.json["errors"][0]["field"],
        "reason"
    );
    assert_eq!(
        change(json!({"action": "shred"})).await?.json["errors"][0]["field"],
        "action"
    );
    assert!(node.state.custody.blobs().contains(&sha256(&content))?);
    let disposed = change(
        json!({"action": "dispose", "reason": "Court order 2026/88: destroy after judgment"}),
    )
    .await?;
    assert_eq!(disposed.json["state"], "disposed");
    assert_eq!(disposed.json["sha256"], sha256(&content));
    assert!(
        !node.state.custody.blobs().contains(&sha256(&content))?,
        "the content is destroyed"
    );
    assert_eq!(
        o.get(&format!("/api/v1/evidence/{item_id}/content"))
            .await?
            .code(),
        "evidence_disposed"
    );
    let detail = c.get(&format!("/api/v1/evidence/{item_id}")).await?;
    assert_eq!(
        kinds(&detail.json),
        [
            "acquired",
            "ingested",
            "downloaded",
            "sealed",
            "released",
            "legal_hold_placed",
            "legal_hold_lifted",
            "retention_set",
            "retention_set",
            "disposed"
        ]
    );
    // The custody log is append-only in the database itself.
    assert!(node
        .state
        .custody
        .check_log(&node.state.store)
        .await
        .is_ok_and(|c| c.mismatches.is_empty()));
    Ok(())
}

fn base64_of_hex(hex_text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(hex::decode(hex_text).unwrap())
}

/// Flips one byte of an evidence file inside a stored (uncompressed) ZIP.
fn tamper(zip: &[u8], needle: &[u8]) -> Vec<u8> {
    let mut out = zip.to_vec();
    let at = out
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("content in the package");
    out[at + 3] ^= 0x20;
    out
}

async fn packages_travel_between_nodes_and_tampering_is_refused(backend: Backend) -> Result<()> {
    let sender = spawn_node(backend.clone()).await?;
    let receiver = spawn_node(backend).await?;
    let s_custodian = sender.user("custodian", &[Role::Custodian]).await?;
    let r_custodian = receiver.user("custodian", &[Role::Custodian]).await?;
    let s_case = case_with(&sender, &s_custodian, "FR-2026-0042", &[]).await?;
    let r_case = case_with(&receiver, &r_custodian, "AR-2026-0007", &[]).await?;
    let phone = b"IMEI 356938035643809 full extraction ".repeat(2000);
    let mails = b"From: extortion@example.invalid\nSubject: pay\n".repeat(500);
    upload(&sender, &s_custodian, &s_case, "phone.bin", &phone, "PH-1").await?;
    upload(&sender, &s_custodian, &s_case, "mails.mbox", &mails, "PH-2").await?;
    let s = sender.api(Some(&s_custodian.token));
    let r = receiver.api(Some(&r_custodian.token));

    let pkg = s
        .post(
            &format!("/api/v1/cases/{s_case}/evidence/packages"),
            &json!({}),
        )
        .await?;
    assert_eq!(pkg.status, StatusCode::OK, "{}", pkg.text);
    assert_eq!(pkg.headers["content-type"], "application/zip");
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("package.zip");
    std::fs::write(&file, &pkg.bytes)?;
    let fingerprint = sender.state.custody.key().fingerprint();
    let report = entraide_evidence::verify_package(&file, Some(&fingerprint));
    assert!(report.holds(), "{}", report.to_text());

    // The receiving node verifies, then adds the files with their custody.
    let zip = ("content-type", "application/zip");
    let got = r
        .send(
            Method::POST,
            &format!("/api/v1/cases/{r_case}/evidence/packages/received"),
            &[zip],
            pkg.bytes.clone(),
        )
        .await?;
    assert_eq!(got.status, StatusCode::CREATED, "{}", got.text);
    assert_eq!(got.json["holds"], true);
    let items = got.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items
        .iter()
        .any(|i| i["sha256"] == sha256(&phone) && i["source"] == "received_package"));
    let received_id = items[0]["id"].as_str().unwrap();
    let detail = r.get(&format!("/api/v1/evidence/{received_id}")).await?;
    assert_eq!(kinds(&detail.json), ["received", "verified"]);
    // The sender's side records the export.
    let s_items = s.get(&format!("/api/v1/cases/{s_case}/evidence")).await?;
    let s_item = s_items.json[0]["id"].as_str().unwrap();
    assert!(
        kinds(&s.get(&format!("/api/v1/evidence/{s_item}")).await?.json)
            .contains(&"exported".to_owned())
    );

    // A tampered package: refused with the failing file named; nothing added.
    let bad = tamper(&pkg.bytes, b"IMEI 356938035643809");
    let refused = r
        .send(
            Method::POST,
            &format!("/api/v1/cases/{r_case}/evidence/packages/received"),
            &[zip],
            bad,
        )
        .await?;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    assert_eq!(refused.code(), "package_verification_failed");
    assert!(
        refused.json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"].as_str().unwrap().ends_with("phone.bin")),
        "{}",
        refused.text
    );
    assert_eq!(
        r.get(&format!("/api/v1/cases/{r_case}/evidence"))
            .await?
            .json
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let case_uuid = uuid::Uuid::parse_str(&r_case)?;
    let case_events = receiver.store.custody_events_for_case(case_uuid).await?;
    assert!(case_events
        .iter()
        .any(|e| e.event.kind.as_str() == "verification_failed" && e.event.item_id.is_none()));
    let not_zip = r
        .send(
            Method::POST,
            &format!("/api/v1/cases/{r_case}/evidence/packages/received"),
            &[("content-type", "text/plain")],
            b"hi".to_vec(),
        )
        .await?;
    assert_eq!(not_zip.code(), "package_content_type");
    let garbage = r
        .send(
            Method::POST,
            &format!("/api/v1/cases/{r_case}/evidence/packages/received"),
            &[zip],
            b"PK not really".to_vec(),
        )
        .await?;
    assert_eq!(garbage.code(), "package_verification_failed");

    // A later package from the same node extends what was seen: accepted.
    upload(
        &sender,
        &s_custodian,
        &s_case,
        "later.txt",
        b"a later exhibit",
        "PH-3",
    )
    .await?;
    let s_items = s.get(&format!("/api/v1/cases/{s_case}/evidence")).await?;
    let later = s_items
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["file_name"] == "later.txt")
        .unwrap()["id"]
        .clone();
    let pkg2 = s
        .post(
            &format!("/api/v1/cases/{s_case}/evidence/packages"),
            &json!({"items": [later]}),
        )
        .await?;
    assert_eq!(pkg2.status, StatusCode::OK, "{}", pkg2.text);
    let got2 = r
        .send(
            Method::POST,
            &format!("/api/v1/cases/{r_case}/evidence/packages/received"),
            &[zip],
            pkg2.bytes.clone(),
        )
        .await?;
    assert_eq!(got2.status, StatusCode::CREATED, "{}", got2.text);
    assert!(got2.json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["code"] == "seen_heads" && c["outcome"] == "passed"));

    // A node whose log no longer extends what it showed before is caught:
    // the receiver remembers a head the sender cannot prove consistent.
    let key = sender.state.custody.key().public_key().to_hex();
    receiver
        .store
        .store_foreign_tree_head(&entraide_store::ForeignTreeHead {
            public_key: key,
            tree_size: 3,
            root_hash: "ab".repeat(32),
            node_id: "test-node".into(),
            signed_at: None,
            signature: None,
            received_at: time::OffsetDateTime::now_utc(),
        })
        .await?;
    let again = r
        .send(
            Method::POST,
            &format!("/api/v1/cases/{r_case}/evidence/packages/received"),
            &[zip],
            pkg2.bytes,
        )
        .await?;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.text
    );
    assert!(again.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["code"] == "seen_heads"));

    // Selecting an item of another case is refused.
    let wrong = s
        .post(
            &format!("/api/v1/cases/{s_case}/evidence/packages"),
            &json!({"items": [uuid::Uuid::new_v4()]}),
        )
        .await?;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    Ok(())
}

async fn evidence_pages_in_the_browser(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let custodian = node.user("custodian", &[Role::Custodian]).await?;
    let case_id = case_with(&node, &custodian, "FR-2026-0099", &[]).await?;
    let b = node.browser()?;
    assert_eq!(
        b.sign_in(&custodian.email, entraide_testkit::PASSWORD)
            .await?
            .status,
        StatusCode::SEE_OTHER
    );
    let list = b.get(&format!("/cases/{case_id}/evidence")).await?;
    assert_eq!(list.status, StatusCode::OK);
    let csrf = csrf_in(&list.text).unwrap();

    // Missing description: the form again, the message beside the field.
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("description", "")
        .text("source", "seized_device")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("note.txt"),
        );
    let again = b
        .post_multipart(&format!("/cases/{case_id}/evidence"), form)
        .await?;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again.text.contains("id=\"description-error\""),
        "{}",
        again.text
    );
    assert!(node
        .store
        .evidence_in_case(uuid::Uuid::parse_str(&case_id)?)
        .await?
        .is_empty());

    let content = b"ransom note, photographed".repeat(100);
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("description", "Photograph of the ransom note")
        .text("source", "open_source")
        .text("exhibit_number", "RN-1")
        .text("acquired_at", "2026-11-20T09:15")
        .part(
            "file",
            reqwest::multipart::Part::bytes(content.clone()).file_name("note.jpg"),
        );
    let added = b
        .post_multipart(&format!("/cases/{case_id}/evidence"), form)
        .await?;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text);
    let item_page = entraide_testkit::location(&added).to_owned();
    let page = b.get(&item_page).await?;
    assert!(page.text.contains(&sha256(&content)));
    assert!(page.text.contains("Ingested and hashed"));
    let list = b.get(&format!("/cases/{case_id}/evidence")).await?;
    assert!(list.text.contains("RN-1") && list.text.contains("note.jpg"));

    // Export from the page, then check it (verify only) through the form.
    let pkg = b
        .post_form(
            &format!("/cases/{case_id}/evidence/package"),
            &[("csrf", &csrf)],
        )
        .await?;
    assert_eq!(pkg.status, StatusCode::OK);
    assert_eq!(&pkg.bytes[..2], b"PK");
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("verify_only", "1")
        .part(
            "package",
            reqwest::multipart::Part::bytes(pkg.bytes.clone()).file_name("p.zip"),
        );
    let checked = b
        .post_multipart(&format!("/cases/{case_id}/evidence/received"), form)
        .await?;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.text);
    assert!(checked.text.contains("The package passed every check"));
    let bad = tamper(&pkg.bytes, b"ransom note, photographed");
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .part(
            "package",
            reqwest::multipart::Part::bytes(bad).file_name("p.zip"),
        );
    let refused = b
        .post_multipart(&format!("/cases/{case_id}/evidence/received"), form)
        .await?;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.text.contains("The package failed verification")
            && refused.text.contains("note.jpg")
    );

    // Custody action from the page, in French.
    let fr = entraide_testkit::Browser::new(&node.url, Some("fr"))?;
    fr.sign_in(&custodian.email, entraide_testkit::PASSWORD)
        .await?;
    let id = item_page.trim_start_matches("/evidence/");
    let csrf = fr.csrf(&item_page).await?;
    let sealed = fr
        .post_form(
            &format!("/evidence/{id}/custody"),
            &[("csrf", &csrf), ("action", "seal")],
        )
        .await?;
    assert_eq!(sealed.status, StatusCode::SEE_OTHER);
    let page = fr.get(&item_page).await?;
    assert!(page.text.contains("lang=\"fr\""));
    assert!(
        !page.text.contains("ev-"),
        "untranslated message id on the page"
    );
    let refused = fr
        .post_form(
            &format!("/evidence/{id}/custody"),
            &[("csrf", &csrf), ("action", "dispose"), ("reason", "")],
        )
        .await?;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text.contains("id=\"reason-error\""));
    Ok(())
}

// ------------------------------------------------------------ command line

/// A local S3-compatible server (`moto_server` from PyPI, installed by
/// `.ci/run` and named by MOTO_SERVER), on a free port, stopped on drop.
struct Moto {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn moto() -> Result<Option<Moto>> {
    let Some(program) = std::env::var("MOTO_SERVER").ok().filter(|v| !v.is_empty()) else {
        eprintln!("skipped: set MOTO_SERVER to the moto_server program to test S3 storage");
        return Ok(None);
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(&moto.endpoint).send().await.is_ok() {
            // moto does not check signatures: create the bucket plainly.
            let r = client
                .put(format!("{}/entraide-evidence", moto.endpoint))
                .send()
                .await?;
            assert!(r.status().is_success(), "bucket: {}", r.status());
            return Ok(Some(moto));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    anyhow::bail!("moto_server did not start")
}

on_both_backends!(evidence_on_s3_compatible_storage);

async fn evidence_on_s3_compatible_storage(backend: Backend) -> Result<()> {
    let Some(moto) = moto().await? else {
        return Ok(());
    };
    let options = entraide_testkit::Options {
        s3: Some(entraide_server::app::config::S3Settings {
            endpoint: moto.endpoint.clone(),
            bucket: "entraide-evidence".into(),
            region: "us-east-1".into(),
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
            path_style: true,
        }),
        ..Default::default()
    };
    let node = entraide_testkit::spawn_node_with(backend, options).await?;
    let custodian = node.user("custodian", &[Role::Custodian]).await?;
    let case_id = case_with(&node, &custodian, "FR-2026-0500", &[]).await?;
    // Larger than one 16 MiB part: a multipart upload to the bucket.
    let big: Vec<u8> = (0..(20u32 << 20) / 4)
        .flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes())
        .collect();
    let item = upload(&node, &custodian, &case_id, "server.img", &big, "S3-1").await?;
    let small = upload(
        &node,
        &custodian,
        &case_id,
        "note.txt",
        b"a small note",
        "S3-2",
    )
    .await?;
    assert_eq!(item["sha256"], sha256(&big));
    // The content is in the bucket, not on the node's disk.
    let blobs = node.state.custody.clone();
    let sha = sha256(&big);
    let (in_bucket, listed) = tokio::task::spawn_blocking(move || {
        (
            blobs.blobs().contains(&sha).unwrap(),
            blobs.blobs().list().unwrap(),
        )
    })
    .await?;
    assert!(in_bucket);
    assert_eq!(listed.len(), 2);
    assert!(node
        .state
        .custody
        .blobs()
        .describe()
        .starts_with("S3 bucket entraide-evidence"));
    let c = node.api(Some(&custodian.token));
    let id = item["id"].as_str().unwrap();
    let got = c.get(&format!("/api/v1/evidence/{id}/content")).await?;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.bytes == big, "downloaded content differs");
    // A package from object storage verifies offline.
    let pkg = c
        .post(
            &format!("/api/v1/cases/{case_id}/evidence/packages"),
            &json!({}),
        )
        .await?;
    assert_eq!(pkg.status, StatusCode::OK, "{}", pkg.text);
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("p.zip"), &pkg.bytes)?;
    assert!(entraide_evidence::verify_package(&dir.path().join("p.zip"), None).holds());
    // Scrub reads every object back; disposal deletes it.
    let scrub = entraide_server::evidence::scrub(
        &node.state,
        &entraide_server::evidence::CustodyActor::node(),
    )
    .await;
    let scrub = scrub.map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!((scrub.checked, scrub.intact), (2, 2));
    let small_id = small["id"].as_str().unwrap();
    let disposed = c
        .post(
            &format!("/api/v1/evidence/{small_id}/custody"),
            &json!({"action": "dispose", "reason": "duplicate"}),
        )
        .await?;
    assert_eq!(disposed.json["state"], "disposed", "{}", disposed.text);
    let blobs = node.state.custody.clone();
    let gone = sha256(b"a small note");
    assert!(!tokio::task::spawn_blocking(move || blobs.blobs().contains(&gone).unwrap()).await?);
    Ok(())
}

on_both_backends!(group_commit_keeps_the_log_dense_and_failures_apart);

/// Many concurrent custody writes share transactions; one that fails (an
/// item that does not exist) fails alone; leaf indices stay unique and
/// dense, and the log reproduces its signed tree head.
async fn group_commit_keeps_the_log_dense_and_failures_apart(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let custodian = node.user("custodian", &[Role::Custodian]).await?;
    let case_id = case_with(&node, &custodian, "FR-2026-0777", &[]).await?;
    let case = node
        .store
        .case_by_id(uuid::Uuid::parse_str(&case_id)?)
        .await?
        .unwrap();
    let actor = entraide_server::evidence::CustodyActor::node();
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let state = node.state.clone();
        let case = case.clone();
        let actor = actor.clone();
        tasks.push(tokio::spawn(async move {
            let event = entraide_server::evidence::custody_event(
                "test-node",
                &case,
                None,
                entraide_domain::evidence::CustodyEventKind::Verified,
                &actor,
                std::collections::BTreeMap::from([("n".to_owned(), i.to_string())]),
            );
            let job = if i == 77 {
                // An update of an item that does not exist.
                let mut ghost = entraide_store::EvidenceItem {
                    id: uuid::Uuid::new_v4(),
                    case_id: case.id,
                    sha256: "0".repeat(64),
                    md5: None,
                    sha1: None,
                    size: 0,
                    file_name: "ghost".into(),
                    description: "ghost".into(),
                    source: entraide_domain::evidence::EvidenceSource::OpenSource,
                    acquired_at: None,
                    acquired_place: None,
                    performer: None,
                    authorisation: None,
                    exhibit_number: None,
                    origin: None,
                    state: entraide_domain::evidence::EvidenceState::Held,
                    legal_hold: false,
                    retention_until: None,
                    integrity: entraide_domain::evidence::Integrity::Intact,
                    verified_at: None,
                    disposed_at: None,
                    disposal_reason: None,
                    created_by: None,
                    created_at: time::OffsetDateTime::now_utc(),
                    updated_at: time::OffsetDateTime::now_utc(),
                };
                ghost.legal_hold = true;
                entraide_store::CustodyJob::UpdateItem {
                    item: Box::new(ghost),
                    events: vec![event],
                    audit: None,
                }
            } else {
                entraide_store::CustodyJob::Append {
                    events: vec![event],
                    audit: None,
                }
            };
            state.custody.write(&state.store, job).await
        }));
    }
    let mut indices = Vec::new();
    let mut failures = 0;
    for t in tasks {
        match t.await? {
            Ok(i) => indices.extend(i),
            Err(entraide_store::StoreError::NotFound) => failures += 1,
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(failures, 1);
    indices.sort_unstable();
    assert_eq!(indices, (0..199u64).collect::<Vec<_>>());
    assert_eq!(node.store.custody_log_size().await?, 199);
    node.state
        .custody
        .sign_tree_head(&node.state.store, false)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let check = node
        .state
        .custody
        .check_log(&node.state.store)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(check.mismatches.is_empty());
    Ok(())
}

on_both_backends!(an_upload_cut_mid_way_resumes_where_it_stopped);

/// The connection drops in the middle of a PATCH: what arrived is kept,
/// the upload says where it stands, and the rest completes the item with
/// the right hash.
async fn an_upload_cut_mid_way_resumes_where_it_stopped(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let custodian = node.user("custodian", &[Role::Custodian]).await?;
    let case_id = case_with(&node, &custodian, "FR-2026-0808", &[]).await?;
    let c = node.api(Some(&custodian.token));
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 241) as u8).collect();
    let u = c
        .post(
            &format!("/api/v1/cases/{case_id}/evidence/uploads"),
            &json!({"file_name": "capture.pcap", "size": content.len(), "description": "Network capture",
                    "source": "seized_device"}),
        )
        .await?;
    let path = format!(
        "{}/api/v1/evidence/uploads/{}",
        node.url,
        u.json["id"].as_str().unwrap()
    );
    // A body that sends 1 MiB and then fails, as a pulled cable would.
    let first = content[..1 << 20].to_vec();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(first[..500_000].to_vec()),
        Ok(first[500_000..].to_vec()),
        Err(std::io::Error::other("cable pulled")),
    ];
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let cut = reqwest::Client::new()
        .patch(&path)
        .bearer_auth(&custodian.token)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .body(body)
        .send()
        .await;
    assert!(cut.is_err() || !cut.as_ref().unwrap().status().is_success());
    // The node kept what it received (up to the cut), and says so.
    let mut received = 0;
    for _ in 0..100 {
        received = c.get(&path[node.url.len()..]).await?.json["received"]
            .as_u64()
            .unwrap_or(0);
        if received > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(received > 0 && received <= 1 << 20, "received {received}");
    let rest = c
        .send(
            Method::PATCH,
            &path[node.url.len()..],
            &[
                ("content-type", "application/offset+octet-stream"),
                ("upload-offset", &received.to_string()),
            ],
            content[received as usize..].to_vec(),
        )
        .await?;
    assert_eq!(rest.status, StatusCode::CREATED, "{}", rest.text);
    assert_eq!(rest.json["item"]["sha256"], sha256(&content));
    Ok(())
}
