//! The node's edge under attack: invented methods that would grow the
//! metrics, metrics read by anyone, many connections from one address,
//! redirects to other sites or with control characters, and uploads that
//! announce absurd sizes or would fill the disk.

use anyhow::Result;
use entraide_domain::Role;
use entraide_server::app::edge::EdgeSettings;
use entraide_testkit::{
    csrf_in, location, on_both_backends, spawn_node_with, Backend, Options, TestNode, TestUser,
    PASSWORD,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

on_both_backends!(
    invented_methods_do_not_grow_metrics,
    an_invented_method_is_answered_before_any_credential_is_looked_at,
    metrics_need_the_metrics_token,
    metrics_are_for_administrators_when_no_token_is_configured,
    metrics_on_their_own_address_only,
    connections_per_address_are_limited,
    connections_per_address_are_limited_over_tls_too,
    redirects_refuse_control_characters_and_other_origins,
    an_upload_announcing_2_pow_63_bytes_is_refused_with_the_limit,
    a_file_over_the_maximum_is_refused_in_the_form_and_as_a_package,
    the_case_quota_refuses_an_upload_that_would_exceed_it,
    the_node_quota_refuses_an_upload_that_would_exceed_it,
);

const METRICS_TOKEN: &str = "metrics-token-for-the-tests-0123456789";

fn with_edge(edge: EdgeSettings) -> Options {
    Options {
        edge,
        ..Default::default()
    }
}

fn with_metrics_token() -> Options {
    with_edge(EdgeSettings {
        metrics_token: Some(METRICS_TOKEN.into()),
        ..Default::default()
    })
}

async fn scrape(base: &str, token: Option<&str>) -> Result<(StatusCode, String, Value)> {
    let mut req = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await?;
    let status = res.status();
    let text = res.text().await?;
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok((status, text, json))
}

/// The series of the request counter: `(method, route)` of each line.
fn request_series(metrics: &str) -> Vec<(String, String)> {
    let label = |line: &str, name: &str| {
        let start = line.find(&format!("{name}=\""))? + name.len() + 2;
        let end = line[start..].find('"')? + start;
        Some(line[start..end].to_owned())
    };
    metrics
        .lines()
        .filter(|l| l.starts_with("entraide_http_requests_total{"))
        .filter_map(|l| Some((label(l, "method")?, label(l, "route")?)))
        .collect()
}

/// 3,000 requests, each with its own invented 20 KB method, on paths that
/// exist and paths that do not: answered 405 or 501 as problem+json, and
/// the metrics stay small, their labels from the fixed sets.
async fn invented_methods_do_not_grow_metrics(backend: Backend) -> Result<()> {
    let node = spawn_node_with(backend, with_metrics_token()).await?;
    node.api(None).get("/healthz").await?;
    let (status, before, _) = scrape(&node.url, Some(METRICS_TOKEN)).await?;
    assert_eq!(status, StatusCode::OK, "{before}");

    let client = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..20usize {
        let client = client.clone();
        let base = node.url.clone();
        tasks.spawn(async move {
            for i in 0..150usize {
                let n = worker * 150 + i;
                let method =
                    Method::from_bytes(format!("X{n:05}{}", "Q".repeat(20_000)).as_bytes())?;
                let (path, expected) = match n % 3 {
                    0 => ("/healthz".to_owned(), StatusCode::METHOD_NOT_ALLOWED),
                    1 => ("/api/v1/cases".to_owned(), StatusCode::METHOD_NOT_ALLOWED),
                    _ => (format!("/no-such-path-{n}"), StatusCode::NOT_IMPLEMENTED),
                };
                let res = client
                    .request(method, format!("{base}{path}"))
                    .send()
                    .await?;
                assert_eq!(res.status(), expected, "{path}");
                assert_eq!(
                    res.headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok()),
                    Some("application/problem+json")
                );
                let body: Value = serde_json::from_slice(&res.bytes().await?)?;
                let code = if expected == StatusCode::NOT_IMPLEMENTED {
                    "method_not_implemented"
                } else {
                    "method_not_allowed"
                };
                assert_eq!(body["code"], code, "{path}");
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }

    let (status, after, _) = scrape(&node.url, Some(METRICS_TOKEN)).await?;
    assert_eq!(status, StatusCode::OK);
    assert!(
        after.len() < 64 * 1024,
        "the metrics grew to {} bytes",
        after.len()
    );
    assert!(!after.contains("QQQQ"), "a client's method became a label");
    let templates: Vec<&str> = entraide_server::routes::specs()
        .iter()
        .map(|s| s.path)
        .collect();
    let series = request_series(&after);
    for (method, route) in &series {
        assert!(
            entraide_server::app::metrics::METHODS.contains(&method.as_str()) || method == "other",
            "method label {method}"
        );
        assert!(
            templates.contains(&route.as_str()) || route == "unmatched",
            "route label {route}"
        );
    }
    // What the flood added: the invented methods as `other`, nothing more.
    let added: Vec<_> = series
        .iter()
        .filter(|s| !request_series(&before).contains(s))
        .collect();
    assert!(
        added.iter().all(|(m, r)| m == "other" || r == "/metrics"),
        "{added:?}"
    );
    assert!(series.iter().any(|(m, r)| m == "other" && r == "unmatched"));
    Ok(())
}

/// An invented method with a bearer token: refused before the guard, so
/// the token is not even looked up (a refused token would be audited).
async fn an_invented_method_is_answered_before_any_credential_is_looked_at(
    backend: Backend,
) -> Result<()> {
    let node = spawn_node_with(backend, Options::default()).await?;
    let refused = || async {
        let entries = node
            .store
            .audit_entries(&entraide_store::AuditFilter {
                action: Some("token.refused".into()),
                limit: 100,
                ..Default::default()
            })
            .await?;
        anyhow::Ok(entries.len())
    };
    let before = refused().await?;
    let r = reqwest::Client::new()
        .request(
            Method::from_bytes(b"FOOBAR")?,
            format!("{}/api/v1/no-such-route", node.url),
        )
        .bearer_auth("ent_not_a_token")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::NOT_IMPLEMENTED);
    let body: Value = serde_json::from_slice(&r.bytes().await?)?;
    assert_eq!(body["code"], "method_not_implemented");
    let r = reqwest::Client::new()
        .request(
            Method::from_bytes(b"FOOBAR")?,
            format!("{}/api/v1/cases", node.url),
        )
        .bearer_auth("ent_not_a_token")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(refused().await?, before, "no credential was looked at");
    Ok(())
}

async fn metrics_need_the_metrics_token(backend: Backend) -> Result<()> {
    let node = spawn_node_with(backend, with_metrics_token()).await?;
    let admin = node.admin().await?;
    let (status, _, problem) = scrape(&node.url, None).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["code"], "unauthenticated");
    for wrong in [
        "metrics-token-for-the-tests-012345678",
        "metrics-token-for-the-tests-01234567890",
        admin.token.as_str(),
    ] {
        let (status, text, problem) = scrape(&node.url, Some(wrong)).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{wrong}: {text}");
        assert_eq!(problem["code"], "metrics_forbidden");
        assert!(!text.contains("entraide_http_requests_total"));
    }
    let (status, text, _) = scrape(&node.url, Some(METRICS_TOKEN)).await?;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("entraide_http_requests_total"), "{text}");
    // The OpenAPI document says how.
    let doc = node.api(None).get("/api/openapi.json").await?.json;
    assert!(doc["paths"]["/metrics"]["get"]["description"]
        .as_str()
        .unwrap_or("")
        .contains("metrics_token"));
    Ok(())
}

async fn metrics_are_for_administrators_when_no_token_is_configured(
    backend: Backend,
) -> Result<()> {
    let node = spawn_node_with(backend, Options::default()).await?;
    let admin = node.admin().await?;
    let officer = node
        .user("officer", &[Role::Officer, Role::Auditor])
        .await?;
    let (status, _, _) = scrape(&node.url, None).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, problem) = scrape(&node.url, Some(&officer.token)).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["code"], "metrics_forbidden");
    let (status, text, _) = scrape(&node.url, Some(&admin.token)).await?;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("entraide_http_requests_total"));
    Ok(())
}

/// With `metrics_listen`, the metrics are on that address only.
async fn metrics_on_their_own_address_only(backend: Backend) -> Result<()> {
    let node = spawn_node_with(
        backend,
        with_edge(EdgeSettings {
            metrics_listen: Some("127.0.0.1:0".parse()?),
            ..Default::default()
        }),
    )
    .await?;
    let admin = node.admin().await?;
    let (status, _, problem) = scrape(&node.url, Some(&admin.token)).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["code"], "not_found");
    let metrics = format!("http://{}", node.metrics_addr.expect("a metrics address"));
    let (status, text, _) = scrape(&metrics, None).await?;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("entraide_http_requests_total"));
    for path in ["/healthz", "/api/v1/cases", "/signin"] {
        let r = reqwest::get(format!("{metrics}{path}")).await?;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    Ok(())
}

/// Reads until the server closes the connection; true when it closed it
/// without answering.
async fn closed_without_a_word(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(stream.read(&mut buf).await, Ok(0) | Err(_))
}

async fn get_over(stream: &mut TcpStream, path: &str) -> Result<String> {
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// Eight connections held from 127.0.0.1 (sending nothing) take its
/// share: the next ones are closed at once, while the eight still work;
/// another address is not affected; once they are gone, requests work.
async fn connections_per_address_are_limited(backend: Backend) -> Result<()> {
    const LIMIT: usize = 8;
    let node = spawn_node_with(
        backend,
        with_edge(EdgeSettings {
            connections_per_address: LIMIT,
            // Long enough that no held connection times out during the test.
            header_read_timeout: std::time::Duration::from_secs(3600),
            ..Default::default()
        }),
    )
    .await?;
    let mut held = Vec::new();
    for _ in 0..LIMIT {
        held.push(TcpStream::connect(node.addr).await?);
    }
    for _ in 0..4 {
        let mut extra = TcpStream::connect(node.addr).await?;
        assert!(
            closed_without_a_word(&mut extra).await,
            "a connection over the limit was kept"
        );
    }
    // Another client address (all of 127/8 is the loopback on Linux).
    #[cfg(target_os = "linux")]
    {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind("127.0.0.2:0".parse()?)?;
        let mut other = socket.connect(node.addr).await?;
        let answer = get_over(&mut other, "/healthz").await?;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    // The held connections were not harmed; each answers and closes.
    for stream in &mut held {
        let answer = get_over(stream, "/healthz").await?;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    drop(held);
    // The node has seen them close (each closed after its answer); a new
    // connection is served. A few tries cover the moment between the
    // answer's end reaching us and the node dropping its count.
    let mut served = false;
    for _ in 0..50 {
        let mut fresh = TcpStream::connect(node.addr).await?;
        let answer = get_over(&mut fresh, "/healthz").await.unwrap_or_default();
        if answer.starts_with("HTTP/1.1 200") {
            served = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(served, "a request after the connections closed");
    Ok(())
}

/// A self-signed certificate for `localhost` in `dir`, when the `openssl`
/// command is there.
fn test_certificate(dir: &std::path::Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    matches!(made, Ok(o) if o.status.success()).then_some((cert, key))
}

/// The same limit on the TLS listener, applied before the handshake: two
/// clients keep a connection each, a third is refused, the first two go on.
async fn connections_per_address_are_limited_over_tls_too(backend: Backend) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let Some(tls) = test_certificate(dir.path()) else {
        eprintln!("skipped: the openssl command is needed to make a test certificate");
        return Ok(());
    };
    let node = spawn_node_with(
        backend,
        Options {
            tls: Some(tls),
            edge: EdgeSettings {
                connections_per_address: 2,
                header_read_timeout: std::time::Duration::from_secs(3600),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await?;
    let base = format!("https://127.0.0.1:{}", node.addr.port());
    let client = || {
        reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
    };
    // Each client keeps its connection open between requests.
    let (first, second, third) = (client()?, client()?, client()?);
    for c in [&first, &second] {
        let r = c.get(format!("{base}/healthz")).send().await?;
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert!(
        third.get(format!("{base}/healthz")).send().await.is_err(),
        "a third connection from the same address was served"
    );
    for c in [&first, &second] {
        let r = c.get(format!("{base}/healthz")).send().await?;
        assert_eq!(r.status(), StatusCode::OK);
    }
    Ok(())
}

/// The `next` values an attacker would try: each must become `/`.
const BAD_NEXT: [&str; 10] = [
    "/\t/evil.example",
    "/%09/evil.example",
    "//evil.example",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/\\evil.example",
    "/%5C%5Cevil.example",
    "/x\r\nLocation: https://evil.example",
    "/x%0D%0ASet-Cookie:%20a=b",
    "https://evil.example/",
];

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn redirects_refuse_control_characters_and_other_origins(backend: Backend) -> Result<()> {
    let node = spawn_node_with(backend, Options::default()).await?;
    let b = node.browser()?;
    for next in BAD_NEXT.iter().chain(&["/cases"]) {
        let next: &str = next;
        let expected = if next == "/cases" { "/cases" } else { "/" };
        // The sign-in page keeps only a safe `next`.
        let page = b
            .get(&format!("/signin?next={}", form_encode(next)))
            .await?;
        assert_eq!(page.status, StatusCode::OK, "{next:?}");
        assert!(
            page.text
                .contains(&format!("name=\"next\" value=\"{expected}\"")),
            "{next:?}"
        );
        // The language switch, anonymously: a 303 to a safe place, never 500.
        let csrf = csrf_in(&page.text).unwrap();
        let r = b
            .post_form(
                "/language",
                &[("lang", "fr"), ("csrf", &csrf), ("next", next)],
            )
            .await?;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{next:?}: {}", r.text);
        assert_eq!(location(&r), expected, "{next:?}");
    }
    // Signing in with a bad `next` lands on the home page.
    for next in BAD_NEXT {
        let browser = node.browser()?;
        let csrf = browser.csrf("/signin").await?;
        let r = browser
            .post_form(
                "/signin",
                &[
                    ("email", node.admin_email.as_str()),
                    ("password", PASSWORD),
                    ("csrf", &csrf),
                    ("next", next),
                ],
            )
            .await?;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{next:?}: {}", r.text);
        assert_eq!(location(&r), "/", "{next:?}");
    }
    Ok(())
}

async fn case_for(node: &TestNode, custodian: &TestUser, reference: &str) -> Result<String> {
    let case = node
        .api(Some(&custodian.token))
        .post(
            "/api/v1/cases",
            &json!({"reference": reference, "title": "Extortion of a hospital"}),
        )
        .await?;
    assert_eq!(case.status, StatusCode::CREATED, "{}", case.text);
    Ok(case.json["id"].as_str().unwrap().to_owned())
}

fn announce(size: u64, exhibit: &str) -> Value {
    json!({
        "file_name": "disk.img", "size": size, "description": "Disk image as seized",
        "source": "seized_device", "exhibit_number": exhibit,
        "acquired_at": "2026-11-20T08:30:00Z", "acquired_place": "Lyon",
        "performer": "OPJ Martin", "authorisation": "JLD ordonnance 2026/113"
    })
}

/// Starts an upload of `size` bytes; returns the reply.
async fn start_upload(
    node: &TestNode,
    user: &TestUser,
    case_id: &str,
    size: u64,
    exhibit: &str,
) -> Result<entraide_testkit::Reply> {
    node.api(Some(&user.token))
        .post(
            &format!("/api/v1/cases/{case_id}/evidence/uploads"),
            &announce(size, exhibit),
        )
        .await
}

/// Uploads `size` bytes completely.
async fn upload(
    node: &TestNode,
    user: &TestUser,
    case_id: &str,
    size: usize,
    exhibit: &str,
) -> Result<()> {
    let started = start_upload(node, user, case_id, size as u64, exhibit).await?;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    let id = started.json["id"].as_str().unwrap();
    let done = node
        .api(Some(&user.token))
        .send(
            Method::PATCH,
            &format!("/api/v1/evidence/uploads/{id}"),
            &[
                ("content-type", "application/offset+octet-stream"),
                ("upload-offset", "0"),
            ],
            vec![b'e'; size],
        )
        .await?;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text);
    Ok(())
}

fn assert_limit(r: &entraide_testkit::Reply, code: &str, limit: u64, field: &str) {
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.content_type(), "application/problem+json");
    assert_eq!(r.code(), code, "{}", r.text);
    assert_eq!(r.json["limit"], limit, "{}", r.text);
    assert_eq!(r.json["errors"][0]["field"], field, "{}", r.text);
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap_or("")
            .contains(&limit.to_string()),
        "{}",
        r.text
    );
}

async fn an_upload_announcing_2_pow_63_bytes_is_refused_with_the_limit(
    backend: Backend,
) -> Result<()> {
    let node = spawn_node_with(backend, Options::default()).await?;
    let custodian = node.user("custodian", &[Role::Custodian]).await?;
    let case_id = case_for(&node, &custodian, "FR-2026-0631").await?;
    let default_max = EdgeSettings::default().max_upload_bytes;
    for size in [1u64 << 63, u64::MAX, default_max + 1] {
        let r = start_upload(&node, &custodian, &case_id, size, "HUGE-1").await?;
        assert_limit(&r, "upload_too_large", default_max, "size");
    }
    let case = uuid::Uuid::parse_str(&case_id)?;
    assert_eq!(
        node.store.evidence_bytes(Some(case)).await?,
        0,
        "nothing kept"
    );
    // Just at the limit, the upload is accepted (and then abandoned).
    let r = start_upload(&node, &custodian, &case_id, default_max, "BIG-1").await?;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_str().unwrap();
    let gone = node
        .api(Some(&custodian.token))
        .delete(&format!("/api/v1/evidence/uploads/{id}"))
        .await?;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    Ok(())
}

/// With a small maximum, a larger file from the form is refused while it
/// streams (the form again, the message beside the file, nothing kept),
/// and so is a larger package, before it is read.
async fn a_file_over_the_maximum_is_refused_in_the_form_and_as_a_package(
    backend: Backend,
) -> Result<()> {
    let node = spawn_node_with(
        backend,
        with_edge(EdgeSettings {
            max_upload_bytes: 1000,
            ..Default::default()
        }),
    )
    .await?;
    let custodian = node.user("custodian", &[Role::Custodian]).await?;
    let case_id = case_for(&node, &custodian, "FR-2026-0632").await?;
    let b = node.browser()?;
    assert_eq!(
        b.sign_in(&custodian.email, PASSWORD).await?.status,
        StatusCode::SEE_OTHER
    );
    let list = b.get(&format!("/cases/{case_id}/evidence")).await?;
    let csrf = csrf_in(&list.text).unwrap();
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("description", "Disk image as seized")
        .text("source", "seized_device")
        .text("exhibit_number", "BIG-2")
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![b'e'; 5000]).file_name("disk.img"),
        );
    let again = b
        .post_multipart(&format!("/cases/{case_id}/evidence"), form)
        .await?;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.text
    );
    assert!(again.text.contains("id=\"file-error\""), "{}", again.text);
    assert!(again.text.contains("1000 B"), "{}", again.text);
    let case = uuid::Uuid::parse_str(&case_id)?;
    assert!(node.store.evidence_in_case(case).await?.is_empty());

    let r = node
        .api(Some(&custodian.token))
        .send(
            Method::POST,
            &format!("/api/v1/cases/{case_id}/evidence/packages/received"),
            &[("content-type", "application/zip")],
            vec![0u8; 2000],
        )
        .await?;
    assert_limit(&r, "upload_too_large", 1000, "body");
    Ok(())
}

async fn the_case_quota_refuses_an_upload_that_would_exceed_it(backend: Backend) -> Result<()> {
    let node = spawn_node_with(
        backend,
        with_edge(EdgeSettings {
            case_quota_bytes: Some(1000),
            ..Default::default()
        }),
    )
    .await?;
    let custodian = node.user("custodian", &[Role::Custodian]).await?;
    let full = case_for(&node, &custodian, "FR-2026-0633").await?;
    upload(&node, &custodian, &full, 600, "Q-1").await?;
    let r = start_upload(&node, &custodian, &full, 401, "Q-2").await?;
    assert_limit(&r, "quota_exceeded", 1000, "size");
    // Up to the quota exactly.
    upload(&node, &custodian, &full, 400, "Q-3").await?;

    // Another case has its own quota; an unfinished upload counts.
    let other = case_for(&node, &custodian, "FR-2026-0634").await?;
    let pending = start_upload(&node, &custodian, &other, 700, "P-1").await?;
    assert_eq!(pending.status, StatusCode::CREATED, "{}", pending.text);
    let r = start_upload(&node, &custodian, &other, 301, "P-2").await?;
    assert_limit(&r, "quota_exceeded", 1000, "size");
    let id = pending.json["id"].as_str().unwrap();
    node.api(Some(&custodian.token))
        .delete(&format!("/api/v1/evidence/uploads/{id}"))
        .await?;
    upload(&node, &custodian, &other, 301, "P-3").await?;

    // The form says so beside the file, and keeps nothing.
    let b = node.browser()?;
    b.sign_in(&custodian.email, PASSWORD).await?;
    let list = b.get(&format!("/cases/{full}/evidence")).await?;
    let csrf = csrf_in(&list.text).unwrap();
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("description", "One more photograph")
        .text("source", "open_source")
        .text("exhibit_number", "Q-4")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"one byte too many".to_vec()).file_name("p.jpg"),
        );
    let again = b
        .post_multipart(&format!("/cases/{full}/evidence"), form)
        .await?;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.text
    );
    assert!(again.text.contains("id=\"file-error\""), "{}", again.text);
    assert!(again.text.contains("quota"), "{}", again.text);
    let case = uuid::Uuid::parse_str(&full)?;
    assert_eq!(node.store.evidence_in_case(case).await?.len(), 2);
    assert_eq!(node.store.evidence_bytes(Some(case)).await?, 1000);
    Ok(())
}

async fn the_node_quota_refuses_an_upload_that_would_exceed_it(backend: Backend) -> Result<()> {
    let node = spawn_node_with(
        backend,
        with_edge(EdgeSettings {
            node_quota_bytes: Some(1500),
            ..Default::default()
        }),
    )
    .await?;
    let custodian = node.user("custodian", &[Role::Custodian]).await?;
    let first = case_for(&node, &custodian, "FR-2026-0635").await?;
    let second = case_for(&node, &custodian, "FR-2026-0636").await?;
    upload(&node, &custodian, &first, 800, "N-1").await?;
    let r = start_upload(&node, &custodian, &second, 800, "N-2").await?;
    assert_limit(&r, "quota_exceeded", 1500, "size");
    assert!(r.json["detail"].as_str().unwrap_or("").contains("node"));
    upload(&node, &custodian, &second, 700, "N-3").await?;
    assert_eq!(node.store.evidence_bytes(None).await?, 1500);
    Ok(())
}
