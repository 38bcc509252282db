use anyhow::Result;
use entraide_domain::Role;
use entraide_testkit::{on_both_backends, spawn_node, Backend};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::process::Command;

on_both_backends!(
    health_metrics_and_openapi,
    openapi_matches_the_route_table,
    bad_input_gets_problem_details,
    tokens_are_created_used_and_revoked,
    users_are_managed_by_administrators,
    security_headers_on_every_response,
    bad_parameters_and_methods_get_problem_details,
);

async fn health_metrics_and_openapi(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let api = node.api(None);
    let r = api.get("/healthz").await?;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["status"], "alive");
    let r = api.get("/readyz").await?;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["status"], "ready");
    // Without `metrics_token` or `metrics_listen`, administrators only.
    let admin = node.admin().await?;
    let r = node.api(Some(&admin.token)).get("/metrics").await?;
    assert!(
        r.text.contains("entraide_http_requests_total"),
        "{}",
        r.text
    );
    assert!(r.text.contains("route=\"/readyz\""));
    let doc = api.get("/api/openapi.json").await?;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.json["openapi"]
        .as_str()
        .unwrap_or("")
        .starts_with("3.1"));
    assert!(doc.json["paths"]["/api/v1/cases"]["post"].is_object());
    assert!(r.headers.contains_key("x-request-id"));
    Ok(())
}

/// Every operation in the OpenAPI document is a route with a rule, and every
/// API route of the table is documented.
async fn openapi_matches_the_route_table(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let doc = node.api(None).get("/api/openapi.json").await?.json;
    let specs = entraide_server::routes::specs();
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "post", "patch", "put", "delete"] {
            if item.get(method).is_some() {
                let m = method.to_uppercase();
                let found = specs
                    .iter()
                    .any(|s| s.method.as_str() == m && s.path == path.as_str());
                assert!(found, "documented {m} {path} has no route and rule");
                documented.push((m, path.clone()));
            }
        }
    }
    for s in specs.iter().filter(|s| s.is_api) {
        if s.path == "/metrics" || s.path == "/api/openapi.json" {
            continue;
        }
        let ok = documented
            .iter()
            .any(|(m, p)| m == s.method.as_str() && p == s.path);
        assert!(
            ok,
            "API route {} {} is not in the OpenAPI document",
            s.method, s.path
        );
    }
    Ok(())
}

async fn bad_input_gets_problem_details(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let officer = node.user("officer", &[Role::Officer]).await?;
    let admin = node.admin().await?;
    let api = node.api(Some(&officer.token));

    // Malformed JSON.
    let r = api
        .raw(
            Method::POST,
            "/api/v1/cases",
            "application/json",
            b"{\"reference\":".to_vec(),
        )
        .await?;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "malformed_json");
    assert_eq!(r.content_type(), "application/problem+json");
    assert_eq!(r.json["status"], 400);
    assert!(r.json["type"]
        .as_str()
        .unwrap_or("")
        .starts_with("urn:entraide:problem:"));
    // Unknown field.
    let r = api
        .post(
            "/api/v1/cases",
            &json!({"reference": "A-1", "title": "t", "colour": "red"}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "validation_failed");
    assert!(r.text.contains("colour"), "{}", r.text);
    // Wrong type.
    let r = api
        .post("/api/v1/cases", &json!({"reference": 12, "title": "t"}))
        .await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Wrong content type.
    let r = api
        .raw(
            Method::POST,
            "/api/v1/cases",
            "text/plain",
            b"hello".to_vec(),
        )
        .await?;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.code(), "unsupported_media_type");
    // Oversize body.
    let big = format!(
        "{{\"reference\":\"A-1\",\"title\":\"t\",\"summary\":\"{}\"}}",
        "x".repeat(100_000)
    );
    let r = api
        .raw(
            Method::POST,
            "/api/v1/cases",
            "application/json",
            big.into_bytes(),
        )
        .await?;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.code(), "payload_too_large");
    // Every invalid field is reported at once, by name.
    let r = api
        .post(
            "/api/v1/cases",
            &json!({"reference": "bad ref!", "title": "  ", "summary": "ok"}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = r.json["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, vec!["reference", "title"]);
    // Nothing was stored by any of these.
    let list = api.get("/api/v1/cases").await?;
    assert_eq!(list.json.as_array().map(Vec::len), Some(0));
    // Duplicate reference: 409, the first case intact.
    let r = api
        .post(
            "/api/v1/cases",
            &json!({"reference": "A-1", "title": "First"}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = api
        .post(
            "/api/v1/cases",
            &json!({"reference": "A-1", "title": "Second"}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "case_reference_taken");
    let list = api.get("/api/v1/cases").await?;
    assert_eq!(list.json[0]["title"], "First");
    // Unknown route and unknown id.
    let r = api.get("/api/v1/nothing-here").await?;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.content_type(), "application/problem+json");
    let r = api
        .get(&format!("/api/v1/cases/{}", uuid::Uuid::new_v4()))
        .await?;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = api.get("/api/v1/cases/not-a-uuid").await?;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Duplicate e-mail and invalid fields when creating users.
    let admin_api = node.api(Some(&admin.token));
    let r = admin_api
        .post(
            "/api/v1/users",
            &json!({"email": "officer@test.example", "display_name": "Again", "password": "long enough password", "roles": ["officer"]}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "email_taken");
    let r = admin_api
        .post(
            "/api/v1/users",
            &json!({"email": "nope", "display_name": "", "password": "short", "roles": ["king"]}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json["errors"].as_array().map(Vec::len),
        Some(4),
        "{}",
        r.text
    );
    Ok(())
}

async fn tokens_are_created_used_and_revoked(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let officer = node.user("officer", &[Role::Officer]).await?;
    let api = node.api(Some(&officer.token));
    // Created for the officer by an administrator's token (an officer's
    // own token may not create tokens: see security_tokens.rs).
    let admin = node.admin().await?;
    let created = node
        .api(Some(&admin.token))
        .post(
            "/api/v1/tokens",
            &json!({"name": "script", "user_id": officer.id}),
        )
        .await?;
    assert_eq!(created.status, StatusCode::CREATED);
    let secret = created.json["secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(secret.starts_with("ent_"));
    let id = created.json["token"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // The new token works, and its secret is not listed anywhere.
    let second = node.api(Some(&secret));
    let me = second.get("/api/v1/me").await?;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json["email"], "officer@test.example");
    let list = api.get("/api/v1/tokens").await?;
    assert!(!list.text.contains(&secret));
    assert_eq!(list.json.as_array().map(Vec::len), Some(2));
    // Revoked: refused from then on, with a clear code; revoking twice is a conflict.
    let r = api.delete(&format!("/api/v1/tokens/{id}")).await?;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = second.get("/api/v1/me").await?;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "invalid_token");
    let r = api.delete(&format!("/api/v1/tokens/{id}")).await?;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // Garbage tokens.
    for bad in ["nope", "ent_unknown", ""] {
        let r = node.api(Some(bad)).get("/api/v1/me").await?;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    // Another user's token cannot be revoked by a non-administrator.
    let other = node.user("other", &[Role::Officer]).await?;
    let other_tokens = node.api(Some(&other.token)).get("/api/v1/tokens").await?;
    let other_id = other_tokens.json[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let r = api.delete(&format!("/api/v1/tokens/{other_id}")).await?;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Stored hashed: the secret is nowhere in the database.
    let stored = node.store.tokens_for_user(officer.id).await?;
    assert!(stored
        .iter()
        .all(|t| t.token_hash.len() == 64 && !t.token_hash.contains("ent_")));
    Ok(())
}

async fn users_are_managed_by_administrators(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let admin = node.admin().await?;
    let api = node.api(Some(&admin.token));
    let r = api
        .post(
            "/api/v1/users",
            &json!({"email": "Prosecutor@Test.example", "display_name": "Ana Prosecutor", "password": "a long enough password", "roles": ["approver", "officer"]}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["email"], "prosecutor@test.example");
    assert_eq!(r.json["roles"], json!(["officer", "approver"]));
    let id = r.json["id"].as_str().unwrap_or_default().to_owned();
    let r = api
        .patch(
            &format!("/api/v1/users/{id}"),
            &json!({"roles": ["analyst"]}),
        )
        .await?;
    assert_eq!(r.json["roles"], json!(["analyst"]));
    let r = api
        .patch(&format!("/api/v1/users/{id}"), &json!({"disabled": true}))
        .await?;
    assert_eq!(r.json["disabled"], true);
    // An administrator cannot lock themself out.
    let r = api
        .patch(
            &format!("/api/v1/users/{}", admin.id),
            &json!({"disabled": true}),
        )
        .await?;
    assert_eq!(r.code(), "cannot_disable_self");
    let r = api
        .patch(
            &format!("/api/v1/users/{}", admin.id),
            &json!({"roles": ["officer"]}),
        )
        .await?;
    assert_eq!(r.code(), "cannot_demote_self");
    // Requiring a second factor is an organisation setting.
    let r = api
        .patch("/api/v1/organisation", &json!({"require_totp": true}))
        .await?;
    assert_eq!(r.json["require_totp"], true);
    Ok(())
}

async fn security_headers_on_every_response(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let api = node.api(None);
    for path in [
        "/healthz",
        "/signin",
        "/api/v1/me",
        "/nowhere",
        "/static/app.css",
    ] {
        let r = api.get(path).await?;
        let csp = r
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(
            r.headers
                .get("x-content-type-options")
                .map(|v| v.as_bytes()),
            Some(&b"nosniff"[..])
        );
        assert!(r.headers.contains_key("referrer-policy"));
        // Plain HTTP: no HSTS.
        assert!(!r.headers.contains_key("strict-transport-security"));
    }
    Ok(())
}

/// The live OpenAPI document describes request bodies completely. The
/// example of each kind's create body is a request the node takes with no
/// error left for approval; and when OPENAPI_CLIENT_CHECK names a Python
/// with datamodel-code-generator, jsonschema and pydantic (`.ci/run`
/// installs them), `scripts/openapi_client_check.py` generates a client's
/// models from the document, checks complete bodies of every kind against
/// them and against the schema, and checks that incomplete ones are refused.
/// One backend: the document does not depend on the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_client_check() -> Result<()> {
    use entraide_domain::request::RequestKind;

    let node = spawn_node(Backend::Sqlite).await?;
    let doc = node.api(None).get("/api/openapi.json").await?;
    assert_eq!(doc.status, StatusCode::OK);
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("openapi.json");
    std::fs::write(&path, &doc.text)?;

    let officer = node.user("officer", &[Role::Officer]).await?;
    let api = node.api(Some(&officer.token));
    let case = api
        .post(
            "/api/v1/cases",
            &json!({"reference": "OPENAPI-1", "title": "Examples"}),
        )
        .await?;
    assert_eq!(case.status, StatusCode::CREATED, "{}", case.text);
    let case_id = case.json["id"].as_str().unwrap_or_default().to_owned();
    let mut request_id = String::new();
    for kind in RequestKind::ALL {
        let name = entraide_proto::schema::new_request_schema_name(kind);
        let example = &doc.json["components"]["schemas"][&name]["examples"][0];
        assert!(example.is_object(), "{name} has no example");
        let r = api
            .post(&format!("/api/v1/cases/{case_id}/requests"), example)
            .await?;
        assert_eq!(r.status, StatusCode::CREATED, "{kind}: {}", r.text);
        let errors: Vec<&serde_json::Value> = r.json["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["severity"] == "error")
            .collect();
        assert!(errors.is_empty(), "{kind}: {errors:?}");
        request_id = r.json["id"].as_str().unwrap_or_default().to_owned();
    }

    // The document says where parameters are read and what errors look
    // like: `lang` in the query, and every error (a path parameter that
    // does not parse included) a problem.
    let pdf = api
        .get(&format!(
            "/api/v1/requests/{request_id}/document.pdf?lang=fr"
        ))
        .await?;
    assert_eq!(pdf.status, StatusCode::OK);
    let bad_lang = api
        .get(&format!(
            "/api/v1/requests/{request_id}/document.pdf?lang=xx"
        ))
        .await?;
    assert_eq!(bad_lang.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_lang.code(), "unsupported_language");
    assert_eq!(bad_lang.content_type(), "application/problem+json");
    let bad_id = api.get("/api/v1/requests/not-a-uuid").await?;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_id.content_type(), "application/problem+json");
    assert_eq!(bad_id.code(), "invalid_path_parameter");
    assert_eq!(bad_id.json["errors"][0]["field"], "id");
    let anonymous = node.api(None).get("/api/v1/requests").await?;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.content_type(), "application/problem+json");

    match std::env::var("OPENAPI_CLIENT_CHECK")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(python) => {
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../scripts/openapi_client_check.py");
            let out = Command::new(&python).arg(&script).arg(&path).output()?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "openapi_client_check.py failed:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!(
                "openapi_client_check.py: {}",
                stdout.lines().last().unwrap_or_default()
            );
        }
        None => eprintln!(
            "skipped openapi_client_check.py: set OPENAPI_CLIENT_CHECK to a Python with \
             datamodel-code-generator, jsonschema and pydantic"
        ),
    }
    Ok(())
}

/// A path or query parameter that does not parse, and a method a path does
/// not have, are problems with stable codes, not axum's plain text or the
/// guard's 403.
async fn bad_parameters_and_methods_get_problem_details(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let officer = node.user("officer", &[Role::Officer]).await?;
    let analyst = node.user("analyst", &[Role::Analyst]).await?;
    let api = node.api(Some(&officer.token));

    // A malformed id: 400 naming the parameter.
    let r = api.get("/api/v1/cases/not-a-uuid").await?;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.content_type(), "application/problem+json");
    assert_eq!(r.code(), "invalid_path_parameter");
    assert_eq!(r.json["status"], 400);
    assert_eq!(r.json["errors"][0]["field"], "id");
    // The second of two parameters.
    let case = api
        .post(
            "/api/v1/cases",
            &json!({"reference": "P-1", "title": "Parameters"}),
        )
        .await?;
    let case_id = case.json["id"].as_str().unwrap_or_default().to_owned();
    let r = api
        .delete(&format!("/api/v1/cases/{case_id}/members/nobody"))
        .await?;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "invalid_path_parameter");
    assert_eq!(r.json["errors"][0]["field"], "user_id");

    // An unknown query parameter, a value of the wrong type.
    let r = api.get("/api/v1/requests?colour=red").await?;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.content_type(), "application/problem+json");
    assert_eq!(r.code(), "invalid_query_parameter");
    assert_eq!(r.json["errors"][0]["field"], "colour");
    let r = node
        .api(Some(&analyst.token))
        .get("/api/v1/statistics?from=2020-01-01&nonsense=1")
        .await?;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "invalid_query_parameter");

    // A method the path does not have: 405 with Allow, not 403; and for
    // an invented method too. A path that does not exist stays 404.
    for (method, path, allow) in [
        (Method::DELETE, "/api/v1/statistics", "GET, HEAD"),
        (
            Method::from_bytes(b"FOO")?,
            "/api/v1/cases",
            "GET, HEAD, POST",
        ),
    ] {
        for token in [&officer.token, &analyst.token] {
            let r = node
                .api(Some(token))
                .raw(method.clone(), path, "application/json", Vec::new())
                .await?;
            assert_eq!(
                r.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {}",
                r.text
            );
            assert_eq!(r.content_type(), "application/problem+json");
            assert_eq!(r.code(), "method_not_allowed");
            assert_eq!(
                r.headers.get("allow").and_then(|v| v.to_str().ok()),
                Some(allow),
                "{method} {path}"
            );
        }
    }
    let r = api.delete("/api/v1/no-such-route").await?;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.content_type(), "application/problem+json");
    Ok(())
}

on_both_backends!(strangers_cannot_have_the_node_store_what_they_send);

/// A garbage token on a public route is ignored, not written down; a
/// client's request id is kept only when short and plain.
async fn strangers_cannot_have_the_node_store_what_they_send(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let refused = |store: std::sync::Arc<dyn entraide_store::Store>| async move {
        let entries = store
            .audit_entries(&entraide_store::AuditFilter {
                action: Some("token.refused".into()),
                limit: 100,
                ..Default::default()
            })
            .await?;
        anyhow::Ok(entries.len())
    };
    let before = refused(node.store.clone()).await?;
    let client = reqwest::Client::new();
    for path in ["/healthz", "/signin", "/no-such-page"] {
        let r = client
            .get(format!("{}{path}", node.url))
            .header("authorization", "Bearer ent_garbage")
            .send()
            .await?;
        assert_ne!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(
        refused(node.store.clone()).await?,
        before,
        "nothing audited"
    );
    // On a route that needs a caller, the refused token is still audited.
    let r = client
        .get(format!("{}/api/v1/cases", node.url))
        .header("authorization", "Bearer ent_garbage")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused(node.store.clone()).await?, before + 1);

    // A 50 KB request id is replaced by one the node makes; a plain one kept.
    let long = "x".repeat(50 * 1024);
    let r = client
        .get(format!("{}/healthz", node.url))
        .header("x-request-id", &long)
        .send()
        .await?;
    let given = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(given.len() <= 64 && !given.is_empty(), "{}", given.len());
    let r = client
        .get(format!("{}/healthz", node.url))
        .header("x-request-id", "trace-42.a_b")
        .send()
        .await?;
    assert_eq!(
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("trace-42.a_b")
    );
    Ok(())
}
