//! The federation endpoints under attack: nothing of a stranger's body is
//! read or kept, slow bodies are cut, bodies read at once per address are
//! bounded, refusals are audited in summary and reach the caller, and a
//! signed request sent again word for word is refused.

use std::net::IpAddr;

use anyhow::{anyhow, Result};
use entraide_evidence::NodeKey;
use entraide_federation::httpsig::{self, BodyBinding};
use entraide_server::app::body_reads::Purpose;
use entraide_server::app::config::FederationSettings;
use entraide_testkit::{on_both_backends, Backend, Options, TestNode};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::federation::{pin, wait_for};

const INBOX: &str = "/federation/inbox";

fn localhost() -> Option<IpAddr> {
    "127.0.0.1".parse().ok()
}

/// fr-pc247 (a) and ar-ufeci (b), pinned both ways; b with `federation`.
async fn two_peers(
    backend: Backend,
    federation: FederationSettings,
) -> Result<(TestNode, TestNode)> {
    let spawn = |id: &str, federation: FederationSettings| {
        entraide_testkit::spawn_node_with(
            backend.clone(),
            Options {
                node_id: Some(id.into()),
                federation,
                ..Default::default()
            },
        )
    };
    let a = spawn("fr-pc247", FederationSettings::default()).await?;
    let b = spawn("ar-ufeci", federation).await?;
    pin(&a, &b).await?;
    pin(&b, &a).await?;
    Ok((a, b))
}

/// A note from a to b, sealed as a's outbox would.
fn envelope(a: &TestNode, b: &TestNode) -> Result<Vec<u8>> {
    let (_, envelope) = entraide_federation::envelope::seal(
        &a.state.identity.signing,
        &b.state.identity.encryption_public_hex(),
        &entraide_federation::Outgoing {
            sender: a.state.settings.node_id.as_str(),
            recipient: b.state.settings.node_id.as_str(),
            message_type: entraide_federation::MessageKind::Note,
            in_reply_to: None,
            lifetime: time::Duration::hours(1),
            payload: br#"{"text":"Please call our 24/7 desk."}"#,
        },
        time::OffsetDateTime::now_utc(),
    )?;
    Ok(serde_json::to_vec(&envelope)?)
}

/// The signature headers of a request to `path` at `to`, signed with `key`
/// as `keyid` at `now` (Unix seconds).
#[allow(clippy::too_many_arguments)]
fn signed(
    binding: BodyBinding,
    key: &NodeKey,
    keyid: &str,
    method: &str,
    to: &TestNode,
    path: &str,
    body: &[u8],
    now: i64,
) -> Vec<(&'static str, String)> {
    let target = format!("{}{path}", to.url);
    let sig = httpsig::sign_bound(binding, key, keyid, method, &target, body, now);
    vec![
        (binding.header(), sig.body_field),
        ("signature-input", sig.signature_input),
        ("signature", sig.signature),
    ]
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Sends a request with these headers and body through the HTTP client a
/// node's sender uses.
async fn send(
    to: &TestNode,
    method: reqwest::Method,
    path: &str,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
) -> Result<entraide_testkit::Reply> {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    to.api(None).send(method, path, &headers, body).await
}

/// a's note to b, freshly signed by a.
async fn post_note(a: &TestNode, b: &TestNode, body: &[u8]) -> Result<entraide_testkit::Reply> {
    let key = &a.state.identity.signing;
    let headers = signed(
        BodyBinding::ContentDigest,
        key,
        "fr-pc247",
        "POST",
        b,
        INBOX,
        body,
        now(),
    );
    send(b, reqwest::Method::POST, INBOX, &headers, body.to_vec()).await
}

/// Opens a connection to `to` and writes a request head announcing
/// `length` bytes of body, then `body` (all of it, part of it or none).
async fn open_raw(
    to: &TestNode,
    path: &str,
    headers: &[(&'static str, String)],
    length: u64,
    body: &[u8],
) -> Result<TcpStream> {
    let mut head = format!("POST {path} HTTP/1.1\r\nhost: {}\r\n", to.addr);
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    ));
    let mut stream = TcpStream::connect(to.addr).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    Ok(stream)
}

/// An answer read off a raw connection.
struct Answer {
    status: u16,
    /// Header lines, lower-cased.
    head: String,
    json: Value,
}

/// Reads one answer. Bounded in time only so that a broken node fails
/// the test instead of hanging it.
async fn answer(stream: &mut TcpStream) -> Result<Answer> {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(anyhow!("closed before an answer"));
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("no status in {head}"))?;
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < end + length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let json = serde_json::from_slice(&buf[end..]).unwrap_or(Value::Null);
        Ok(Answer { status, head, json })
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), read).await?
}

/// Whether the node closed the connection (end of stream or reset).
async fn closed(stream: &mut TcpStream) -> Result<bool> {
    let mut rest = [0u8; 64];
    let read = tokio::time::timeout(std::time::Duration::from_secs(60), stream.read(&mut rest));
    Ok(matches!(read.await?, Ok(0) | Err(_)))
}

/// The `federation.refused` rows at `node`, newest first.
async fn refusals(node: &TestNode) -> Result<Vec<entraide_store::AuditEntry>> {
    Ok(node
        .store
        .audit_entries(&entraide_store::AuditFilter {
            action: Some("federation.refused".into()),
            limit: 1000,
            ..Default::default()
        })
        .await?)
}

fn detail(e: &entraide_store::AuditEntry) -> Value {
    serde_json::from_str(&e.detail).unwrap_or(Value::Null)
}

on_both_backends!(an_unknown_sender_body_is_not_read);

/// A node nobody pinned announces 64 MiB: refused from its headers, at
/// once, without a byte of the body sent, and the connection closed;
/// nothing of it held.
async fn an_unknown_sender_body_is_not_read(backend: Backend) -> Result<()> {
    let (_a, b) = two_peers(backend, FederationSettings::default()).await?;
    let stranger = NodeKey::from_seed([7; 32]);
    let body = b"{}";
    let headers = signed(
        BodyBinding::ContentDigest,
        &stranger,
        "xx-unknown",
        "POST",
        &b,
        INBOX,
        body,
        now(),
    );
    let mut stream = open_raw(&b, INBOX, &headers, 64 << 20, &[]).await?;
    let r = answer(&mut stream).await?;
    assert_eq!(r.status, 403);
    assert_eq!(r.json["code"], "unknown_sender");
    assert!(r.head.contains("connection: close"), "{}", r.head);
    assert!(
        closed(&mut stream).await?,
        "more than any node sends is not drained"
    );
    assert_eq!(b.state.body_reads.held(Purpose::Read, localhost()), 0);
    // Recorded at once, with the address it came from.
    let rows = refusals(&b).await?;
    assert_eq!(rows[0].target.as_deref(), Some("xx-unknown"));
    assert_eq!(rows[0].client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(detail(&rows[0])["code"], "unknown_sender");
    Ok(())
}

on_both_backends!(a_forged_signature_with_a_peers_key_id_is_refused_before_the_body);

/// A stranger claims to be a pinned peer: its signature does not hold with
/// the peer's key, and that is known from the headers, before the body.
async fn a_forged_signature_with_a_peers_key_id_is_refused_before_the_body(
    backend: Backend,
) -> Result<()> {
    let (_a, b) = two_peers(backend, FederationSettings::default()).await?;
    let stranger = NodeKey::from_seed([7; 32]);
    let headers = signed(
        BodyBinding::ContentDigest,
        &stranger,
        "fr-pc247",
        "POST",
        &b,
        INBOX,
        b"{}",
        now(),
    );
    let mut stream = open_raw(&b, INBOX, &headers, 8 << 20, &[]).await?;
    let r = answer(&mut stream).await?;
    assert_eq!(r.status, 400);
    assert_eq!(r.json["code"], "request_signature_invalid");
    assert_eq!(b.state.body_reads.held(Purpose::Read, localhost()), 0);
    // Key ids that are not node ids, and oversize fields, are refused as
    // malformed.
    for (keyid, signature) in [
        ("../../etc/passwd", None),
        ("FR-PC247", None),
        ("fr-pc247", Some(format!("sig1=:{}:", "A".repeat(400)))),
    ] {
        let mut headers = signed(
            BodyBinding::ContentDigest,
            &stranger,
            keyid,
            "POST",
            &b,
            INBOX,
            b"{}",
            now(),
        );
        if let Some(s) = signature {
            headers[2].1 = s;
        }
        let r = send(&b, reqwest::Method::POST, INBOX, &headers, b"{}".to_vec()).await?;
        assert_eq!(
            r.code(),
            "request_signature_malformed",
            "{keyid}: {}",
            r.text
        );
    }
    Ok(())
}

on_both_backends!(a_signature_outside_its_validity_window_is_refused);

/// Signed too long ago, or for a time too far ahead: refused, whatever
/// the key.
async fn a_signature_outside_its_validity_window_is_refused(backend: Backend) -> Result<()> {
    let (a, b) = two_peers(backend, FederationSettings::default()).await?;
    let body = envelope(&a, &b)?;
    for at in [now() - 700, now() + 1000] {
        let headers = signed(
            BodyBinding::ContentDigest,
            &a.state.identity.signing,
            "fr-pc247",
            "POST",
            &b,
            INBOX,
            &body,
            at,
        );
        let r = send(&b, reqwest::Method::POST, INBOX, &headers, body.clone()).await?;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.code(), "request_signature_invalid");
        assert!(r.text.contains("expired or is not yet valid"), "{}", r.text);
    }
    assert_eq!(post_note(&a, &b, &body).await?.status, StatusCode::OK);
    Ok(())
}

on_both_backends!(a_slow_body_is_cut_at_the_deadline);

/// A peer's signed request whose body stops coming: answered 408 at the
/// deadline, the connection closed and its place given back.
async fn a_slow_body_is_cut_at_the_deadline(backend: Backend) -> Result<()> {
    let federation = FederationSettings {
        body_read_timeout: std::time::Duration::from_secs(1),
        ..Default::default()
    };
    let (a, b) = two_peers(backend, federation).await?;
    let body = envelope(&a, &b)?;
    let headers = signed(
        BodyBinding::ContentDigest,
        &a.state.identity.signing,
        "fr-pc247",
        "POST",
        &b,
        INBOX,
        &body,
        now(),
    );
    let mut stream = open_raw(&b, INBOX, &headers, body.len() as u64, &body[..10]).await?;
    let r = answer(&mut stream).await?;
    assert_eq!(r.status, 408);
    assert_eq!(r.json["code"], "body_read_timeout");
    assert!(r.head.contains("connection: close"), "{}", r.head);
    assert!(closed(&mut stream).await?);
    assert_eq!(b.state.body_reads.held(Purpose::Read, localhost()), 0);
    let rows = refusals(&b).await?;
    assert_eq!(detail(&rows[0])["code"], "body_read_timeout");
    // The same message, sent whole: taken.
    assert_eq!(post_note(&a, &b, &body).await?.status, StatusCode::OK);
    Ok(())
}

on_both_backends!(bodies_read_at_once_from_one_address_are_bounded);

/// With two bodies from an address being read, a third request from it is
/// answered 429 (readably) until one of them ends.
async fn bodies_read_at_once_from_one_address_are_bounded(backend: Backend) -> Result<()> {
    let federation = FederationSettings {
        body_reads_per_address: 2,
        ..Default::default()
    };
    let (a, b) = two_peers(backend, federation).await?;
    let body = envelope(&a, &b)?;
    let key = &a.state.identity.signing;
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let headers = signed(
            BodyBinding::ContentDigest,
            key,
            "fr-pc247",
            "POST",
            &b,
            INBOX,
            &body,
            now(),
        );
        stalled.push(open_raw(&b, INBOX, &headers, body.len() as u64, &body[..10]).await?);
    }
    let held = || async {
        let n = b.state.body_reads.held(Purpose::Read, localhost());
        Ok::<_, anyhow::Error>(n)
    };
    wait_for(|| async { Ok((held().await? == 2).then_some(Value::Null)) }).await?;
    let r = post_note(&a, &b, &body).await?;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.code(), "too_many_connections");
    drop(stalled);
    wait_for(|| async { Ok((held().await? == 0).then_some(Value::Null)) }).await?;
    assert_eq!(post_note(&a, &b, &body).await?.status, StatusCode::OK);
    Ok(())
}

on_both_backends!(refusals_are_summarised_per_address_and_reason);

/// Fifty unsigned requests: one row at once, the rest one summary row at
/// the end of the interval — the count, the address, the reason.
async fn refusals_are_summarised_per_address_and_reason(backend: Backend) -> Result<()> {
    let (_a, b) = two_peers(backend, FederationSettings::default()).await?;
    let before = refusals(&b).await?.len();
    for _ in 0..50 {
        let r = send(&b, reqwest::Method::POST, INBOX, &[], b"{}".to_vec()).await?;
        assert_eq!(r.code(), "request_unsigned");
    }
    let rows = refusals(&b).await?;
    assert_eq!(
        rows.len(),
        before + 1,
        "the first at once, the rest counted"
    );
    let interval = b.state.settings.federation.refusal_summary_interval;
    b.state
        .refusals
        .flush(b.store.as_ref(), interval, true)
        .await?;
    let rows = refusals(&b).await?;
    let new = &rows[..rows.len() - before];
    assert_eq!(new.len(), 2);
    let mut counted = 0;
    for row in new {
        let d = detail(row);
        assert_eq!(d["code"], "request_unsigned");
        assert_eq!(d["address"], "127.0.0.1");
        assert_eq!(row.client_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(row.target.as_deref(), Some("unknown"));
        counted += d["count"].as_u64().unwrap_or(0);
    }
    assert_eq!(counted, 50);
    assert_eq!(detail(&new[0])["summary"], true);
    // Nothing more is due: the interval starts again.
    let written = b
        .state
        .refusals
        .flush(b.store.as_ref(), interval, true)
        .await?;
    assert_eq!(written, 0);
    Ok(())
}

on_both_backends!(a_replayed_signed_request_is_refused_and_audited);

/// A captured request sent again word for word, within its validity:
/// refused `request_replayed`, audited, nothing stored twice.
async fn a_replayed_signed_request_is_refused_and_audited(backend: Backend) -> Result<()> {
    let (a, b) = two_peers(backend, FederationSettings::default()).await?;
    let body = envelope(&a, &b)?;
    let headers = signed(
        BodyBinding::ContentDigest,
        &a.state.identity.signing,
        "fr-pc247",
        "POST",
        &b,
        INBOX,
        &body,
        now(),
    );
    let first = send(&b, reqwest::Method::POST, INBOX, &headers, body.clone()).await?;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let replay = send(&b, reqwest::Method::POST, INBOX, &headers, body.clone()).await?;
    assert_eq!(replay.status, StatusCode::CONFLICT, "{}", replay.text);
    assert_eq!(replay.code(), "request_replayed");
    let rows = refusals(&b).await?;
    assert_eq!(detail(&rows[0])["code"], "request_replayed");
    assert_eq!(rows[0].target.as_deref(), Some("fr-pc247"));
    assert_eq!(rows[0].client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(b.store.inbox(100).await?.len(), 1);
    // Any signed request: a status query replayed is refused too.
    let path = format!("/federation/attachments/{}", uuid::Uuid::now_v7());
    let headers = signed(
        BodyBinding::ContentDigest,
        &a.state.identity.signing,
        "fr-pc247",
        "GET",
        &b,
        &path,
        &[],
        now(),
    );
    let r = send(&b, reqwest::Method::GET, &path, &headers, Vec::new()).await?;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = send(&b, reqwest::Method::GET, &path, &headers, Vec::new()).await?;
    assert_eq!(r.code(), "request_replayed");
    Ok(())
}

on_both_backends!(a_fresh_retry_of_a_delivered_message_gets_the_same_receipt);

/// A sender that did not get the answer sends the same envelope again,
/// signed afresh — even within the same second: the same receipt, one
/// message stored.
async fn a_fresh_retry_of_a_delivered_message_gets_the_same_receipt(
    backend: Backend,
) -> Result<()> {
    let (a, b) = two_peers(backend, FederationSettings::default()).await?;
    let body = envelope(&a, &b)?;
    let at = now();
    let mut receipts = Vec::new();
    for _ in 0..3 {
        let headers = signed(
            BodyBinding::ContentDigest,
            &a.state.identity.signing,
            "fr-pc247",
            "POST",
            &b,
            INBOX,
            &body,
            at,
        );
        let r = send(&b, reqwest::Method::POST, INBOX, &headers, body.clone()).await?;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        receipts.push(r.json);
    }
    assert!(receipts.iter().all(|r| *r == receipts[0]), "{receipts:?}");
    assert_eq!(b.store.inbox(100).await?.len(), 1);
    Ok(())
}

on_both_backends!(a_refused_chunk_is_read_as_a_refusal_by_the_sender);

/// Refusals given before a body is read reach a sender that is still
/// sending it: a stranger's 4 MiB chunks, a peer's envelope larger than
/// accepted — each answered with its problem, never a broken connection.
async fn a_refused_chunk_is_read_as_a_refusal_by_the_sender(backend: Backend) -> Result<()> {
    use entraide_server::federation::attachments::{seal_chunk, CHUNK_BYTES};
    let (a, b) = two_peers(backend, FederationSettings::default()).await?;
    let stranger = NodeKey::from_seed([7; 32]);
    let id = uuid::Uuid::now_v7();
    let chunk = seal_chunk(&"07".repeat(32), id, 0, &vec![5u8; CHUNK_BYTES as usize])
        .ok_or_else(|| anyhow!("sealing failed"))?;
    let path = format!("/federation/attachments/{id}/0");
    let drained = || async {
        let n = b.state.body_reads.held(Purpose::Drain, localhost());
        Ok((n == 0).then_some(Value::Null))
    };
    for _ in 0..10 {
        let headers = signed(
            BodyBinding::ChunkTag,
            &stranger,
            "xx-unknown",
            "PUT",
            &b,
            &path,
            &chunk,
            now(),
        );
        let r = send(&b, reqwest::Method::PUT, &path, &headers, chunk.clone()).await?;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.code(), "unknown_sender");
        wait_for(drained).await?;
    }
    let huge = vec![b'x'; 9 * 1024 * 1024];
    for _ in 0..5 {
        let r = post_note(&a, &b, &huge).await?;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
        assert_eq!(r.code(), "payload_too_large");
        wait_for(drained).await?;
    }
    Ok(())
}
