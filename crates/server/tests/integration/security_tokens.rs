//! API tokens under attack: a stolen bearer token must not be able to breed
//! tokens that outlive it. Tokens are created in a signed-in session (with
//! its second factor wherever one applies) or by an administrator's token;
//! a token created with a token dies with it; every token shows when and
//! from where it was last used.

use anyhow::{anyhow, Result};
use entraide_domain::{AuditAction, AuditOutcome, Role};
use entraide_server::app::audit::Actor;
use entraide_store::{ApiToken, MAX_TOKEN_GENERATIONS};
use entraide_testkit::{
    csrf_in, location, on_both_backends, spawn_node, totp_code, Backend, Browser, Reply, TestNode,
    PASSWORD,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

on_both_backends!(
    a_token_cannot_mint_tokens_without_an_interactive_session,
    an_admin_token_can_create_tokens_for_users,
    tokens_minted_by_a_token_die_with_it,
    token_use_shows_last_use_and_origin,
    a_session_without_the_required_second_factor_cannot_create_tokens,
);

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// Creates a token through the account page of a signed-in browser;
/// returns its secret, read from the page that shows it once.
async fn create_in_session(b: &Browser, name: &str) -> Result<(Reply, Option<String>)> {
    let csrf = b.csrf("/account").await?;
    let r = b
        .post_form("/account/tokens", &[("name", name), ("csrf", &csrf)])
        .await?;
    let secret = r
        .text
        .split("id=\"token-secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .map(str::to_owned);
    Ok((r, secret))
}

/// The audit entries of an action, newest first (read by an auditor).
async fn audit(node: &TestNode, action: &str) -> Result<Vec<Value>> {
    let auditor = node
        .user(
            &format!("auditor-{}", Uuid::new_v4().simple()),
            &[Role::Auditor],
        )
        .await?;
    let r = node
        .api(Some(&auditor.token))
        .get(&format!("/api/v1/audit?action={action}"))
        .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json["entries"]
        .as_array()
        .cloned()
        .ok_or_else(|| anyhow!("no entries: {}", r.text))
}

async fn a_token_cannot_mint_tokens_without_an_interactive_session(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let officer = node.user("officer", &[Role::Officer]).await?;
    let admin = node.admin().await?;
    let api = node.api(Some(&officer.token));

    // A (possibly stolen) bearer token of a non-administrator breeds nothing:
    // not for its user, not for anyone else.
    let r = api
        .post("/api/v1/tokens", &json!({"name": "persistence"}))
        .await?;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.code(), "interactive_session_required");
    assert!(r.content_type().starts_with("application/problem+json"));
    assert!(!r.text.contains("ent_"));
    let r = api
        .post(
            "/api/v1/tokens",
            &json!({"name": "persistence", "user_id": admin.id}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let list = api.get("/api/v1/tokens").await?;
    assert_eq!(list.json.as_array().map(Vec::len), Some(1), "{}", list.text);
    // Each refusal is audited, naming the user who tried.
    let denied: Vec<Value> = audit(&node, "token.created")
        .await?
        .into_iter()
        .filter(|e| e["outcome"] == "denied")
        .collect();
    assert_eq!(denied.len(), 2, "{denied:?}");
    assert!(denied.iter().all(|e| e["actor"] == "officer@test.example"));

    // Signed in through the pages, the same user creates one: it has no
    // parent, and works.
    let b = Browser::new(&node.url, None)?;
    assert_eq!(
        b.sign_in(&officer.email, PASSWORD).await?.status,
        StatusCode::SEE_OTHER
    );
    let (page, secret) = create_in_session(&b, "laptop script").await?;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let secret = secret.ok_or_else(|| anyhow!("no secret shown: {}", page.text))?;
    let me = node.api(Some(&secret)).get("/api/v1/me").await?;
    assert_eq!(me.json["email"], "officer@test.example");
    let list = api.get("/api/v1/tokens").await?;
    let created = list
        .json
        .as_array()
        .and_then(|l| l.iter().find(|t| t["name"] == "laptop script"))
        .cloned()
        .ok_or_else(|| anyhow!("not listed: {}", list.text))?;
    assert!(created["parent_token_id"].is_null());
    // It is revoked from the same page.
    let csrf = b.csrf("/account").await?;
    let r = b
        .post_form(
            &format!("/account/tokens/{}/revoke", text(&created, "id")),
            &[("csrf", &csrf)],
        )
        .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = node.api(Some(&secret)).get("/api/v1/me").await?;
    assert_eq!(r.code(), "invalid_token");
    // A bad name comes back beside its field, nothing created.
    let (page, secret) = create_in_session(&b, "   ").await?;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(secret.is_none());
    assert!(page.text.contains("token-name-error"), "{}", page.text);
    Ok(())
}

/// An administrator's token may create tokens, for themselves or for other
/// users (how scripts provision accounts); each records the token used.
async fn an_admin_token_can_create_tokens_for_users(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let officer = node.user("officer", &[Role::Officer]).await?;
    let admin = node.admin().await?;
    let adm = node.api(Some(&admin.token));
    let admin_token_id = adm.get("/api/v1/tokens").await?.json[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let r = adm
        .post(
            "/api/v1/tokens",
            &json!({"name": "provisioned", "user_id": officer.id}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(text(&r.json["token"], "parent_token_id"), admin_token_id);
    let provisioned = text(&r.json, "secret").to_owned();
    let as_officer = node.api(Some(&provisioned));
    assert_eq!(
        as_officer.get("/api/v1/me").await?.json["email"],
        "officer@test.example"
    );
    let listed = node.api(Some(&officer.token)).get("/api/v1/tokens").await?;
    assert!(listed.json.as_array().is_some_and(|l| l
        .iter()
        .any(|t| t["name"] == "provisioned" && t["parent_token_id"] == admin_token_id.as_str())));
    // The audit names the administrator, the token and the one used.
    let created = audit(&node, "token.created").await?;
    assert!(created.iter().any(|e| e["actor"] == admin.email
        && e["outcome"] == "success"
        && e["detail"]["parent_token_id"] == admin_token_id.as_str()));

    // The officer's provisioned token is no administrator's: it breeds nothing.
    let r = as_officer
        .post("/api/v1/tokens", &json!({"name": "more"}))
        .await?;
    assert_eq!(r.code(), "interactive_session_required");
    // For themselves, too; an unknown user is 404.
    let r = adm.post("/api/v1/tokens", &json!({"name": "mine"})).await?;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = adm
        .post(
            "/api/v1/tokens",
            &json!({"name": "ghost", "user_id": Uuid::new_v4()}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    Ok(())
}

async fn tokens_minted_by_a_token_die_with_it(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let officer = node.user("officer", &[Role::Officer]).await?;
    let admin = node.admin().await?;
    // A second, unrelated administrator token to revoke with.
    let other_admin = node.admin().await?;
    let create = |token: String, body: Value| {
        let api = node.api(Some(&token));
        async move {
            let r = api.post("/api/v1/tokens", &body).await?;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            Ok::<_, anyhow::Error>((
                text(&r.json["token"], "id").to_owned(),
                text(&r.json, "secret").to_owned(),
            ))
        }
    };
    // root (admin) ─ child (admin) ─ grandchild (admin)
    //              └ provisioned (officer)
    let root = admin.token.clone();
    let root_id = node.api(Some(&root)).get("/api/v1/tokens").await?.json[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (child_id, child) = create(root.clone(), json!({"name": "child"})).await?;
    let (grandchild_id, grandchild) = create(child.clone(), json!({"name": "grandchild"})).await?;
    let (provisioned_id, provisioned) = create(
        root.clone(),
        json!({"name": "provisioned", "user_id": officer.id}),
    )
    .await?;
    for secret in [&child, &grandchild, &provisioned] {
        assert_eq!(
            node.api(Some(secret)).get("/api/v1/me").await?.status,
            StatusCode::OK
        );
    }

    // Revoking the root revokes every descendant, whoever holds it.
    let r = node
        .api(Some(&other_admin.token))
        .delete(&format!("/api/v1/tokens/{root_id}"))
        .await?;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    for secret in [&root, &child, &grandchild, &provisioned] {
        let r = node.api(Some(secret)).get("/api/v1/me").await?;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.code(), "invalid_token");
    }
    let officer_tokens = node.api(Some(&officer.token)).get("/api/v1/tokens").await?;
    assert!(officer_tokens.json.as_array().is_some_and(|l| l
        .iter()
        .any(|t| t["id"] == provisioned_id.as_str() && !t["revoked_at"].is_null())));
    // One audit entry, in the same transaction, lists them.
    let revoked = audit(&node, "token.revoked").await?;
    let entry = revoked
        .iter()
        .find(|e| e["detail"]["token_id"] == root_id.as_str())
        .ok_or_else(|| anyhow!("no revocation audited: {revoked:?}"))?;
    let mut derived: Vec<String> = entry["detail"]["derived_tokens"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    derived.sort();
    let mut expected = vec![child_id, grandchild_id, provisioned_id];
    expected.sort();
    assert_eq!(derived, expected);

    // Defence in depth: an ancestor revoked behind the cascade's back (here
    // straight in the database) still kills its descendants.
    let (_, orphan) = create(other_admin.token.clone(), json!({"name": "orphan-to-be"})).await?;
    let other_root = node
        .api(Some(&other_admin.token))
        .get("/api/v1/tokens")
        .await?;
    let other_root_id = other_root
        .json
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|t| t["name"] == "tests" && t["revoked_at"].is_null())
        })
        .map(|t| text(t, "id").to_owned())
        .ok_or_else(|| anyhow!("no live root: {}", other_root.text))?;
    let id = Uuid::parse_str(&other_root_id)?;
    if node.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&node.database_url).await?;
        sqlx::query("UPDATE api_tokens SET revoked_at = 1 WHERE id = $1")
            .bind(id)
            .execute(&pool)
            .await?;
    } else {
        let pool = sqlx::PgPool::connect(&node.database_url).await?;
        sqlx::query("UPDATE api_tokens SET revoked_at = 1 WHERE id = $1")
            .bind(id)
            .execute(&pool)
            .await?;
    }
    let r = node.api(Some(&orphan)).get("/api/v1/me").await?;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "invalid_token");
    let refused = audit(&node, "token.refused").await?;
    assert!(refused
        .iter()
        .any(|e| e["detail"]["code"] == "lineage revoked"));
    // ...and nothing can be derived from a revoked lineage, even by a
    // caller that got past resolution before the revocation.
    let revoked_parent = node
        .store
        .token_by_id(id)
        .await?
        .ok_or_else(|| anyhow!("no token"))?;
    let late = ApiToken {
        id: Uuid::now_v7(),
        user_id: revoked_parent.user_id,
        name: "late".into(),
        token_hash: "0".repeat(64),
        parent_token_id: Some(revoked_parent.id),
        created_at: time::OffsetDateTime::now_utc(),
        last_used_at: None,
        last_used_from: None,
        last_used_agent: None,
        revoked_at: None,
    };
    let audit_entry = Actor::command_line().entry(AuditAction::TokenCreated, AuditOutcome::Success);
    assert!(!node.store.create_token(&late, &audit_entry).await?);
    assert!(node.store.token_by_id(late.id).await?.is_none());

    // A lineage is at most MAX_TOKEN_GENERATIONS deep: no endless chains to
    // walk on every call.
    let fresh = node.admin().await?;
    let mut secret = fresh.token.clone();
    for generation in 1..=MAX_TOKEN_GENERATIONS {
        let (_, next) = create(
            secret.clone(),
            json!({"name": format!("generation {generation}")}),
        )
        .await?;
        secret = next;
    }
    assert_eq!(
        node.api(Some(&secret)).get("/api/v1/me").await?.status,
        StatusCode::OK
    );
    let r = node
        .api(Some(&secret))
        .post("/api/v1/tokens", &json!({"name": "one too many"}))
        .await?;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.code(), "token_lineage_closed");
    Ok(())
}

async fn token_use_shows_last_use_and_origin(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let officer = node.user("officer", &[Role::Officer]).await?;
    let api = node.api(Some(&officer.token));
    let agent = "case-sync/2.1 (unit 7)";
    let r = api
        .send(
            Method::GET,
            "/api/v1/me",
            &[("user-agent", agent)],
            Vec::new(),
        )
        .await?;
    assert_eq!(r.status, StatusCode::OK);
    let list = api.get("/api/v1/tokens").await?;
    let token = &list.json[0];
    assert!(!token["last_used_at"].is_null(), "{}", list.text);
    assert_eq!(token["last_used_from"], "127.0.0.1");
    assert_eq!(token["last_used_agent"], agent);

    // A user agent is kept bounded: a caller cannot store text through it.
    let other = node.user("other", &[Role::Officer]).await?;
    let long = "A".repeat(1_000);
    let r = node
        .api(Some(&other.token))
        .send(
            Method::GET,
            "/api/v1/me",
            &[("user-agent", &long)],
            Vec::new(),
        )
        .await?;
    assert_eq!(r.status, StatusCode::OK);
    let list = node.api(Some(&other.token)).get("/api/v1/tokens").await?;
    assert_eq!(
        list.json[0]["last_used_agent"].as_str().map(str::len),
        Some(200)
    );

    // The account page shows them in a table with headers.
    let b = Browser::new(&node.url, None)?;
    assert_eq!(
        b.sign_in(&officer.email, PASSWORD).await?.status,
        StatusCode::SEE_OTHER
    );
    let page = b.get("/account").await?;
    assert_eq!(page.status, StatusCode::OK);
    let tokens = page
        .text
        .split("id=\"tokens\"")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .unwrap_or_default();
    assert!(tokens.contains("<th scope=\"col\">"), "{tokens}");
    assert!(tokens.contains("127.0.0.1"), "{tokens}");
    assert!(tokens.contains(agent), "{tokens}");
    // In the reader's language.
    let fr = Browser::new(&node.url, Some("fr"))?;
    fr.sign_in(&officer.email, PASSWORD).await?;
    let page = fr.get("/account").await?;
    assert!(page.text.contains("Dernière utilisation"), "{}", page.text);
    Ok(())
}

async fn a_session_without_the_required_second_factor_cannot_create_tokens(
    backend: Backend,
) -> Result<()> {
    let node = spawn_node(backend).await?;
    let officer = node.user("officer", &[Role::Officer]).await?;
    let admin = node.admin().await?;
    // Signed in while no second factor was required...
    let before = Browser::new(&node.url, None)?;
    assert_eq!(
        before.sign_in(&officer.email, PASSWORD).await?.status,
        StatusCode::SEE_OTHER
    );
    // ...then the organisation requires one.
    let r = node
        .api(Some(&admin.token))
        .patch("/api/v1/organisation", &json!({"require_totp": true}))
        .await?;
    assert_eq!(r.status, StatusCode::OK);
    // That session never passed it: it may read, not create tokens.
    assert_eq!(before.get("/account").await?.status, StatusCode::OK);
    let (r, secret) = create_in_session(&before, "from an old session").await?;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("second_factor_required"), "{}", r.text);
    assert!(secret.is_none());
    let denied = audit(&node, "token.created").await?;
    assert!(denied.iter().any(|e| e["outcome"] == "denied"
        && e["detail"]["reason"] == "session without the second factor"));

    // Signing in again with the second factor opens a session that may.
    let after = Browser::new(&node.url, None)?;
    let r = after.sign_in(&officer.email, PASSWORD).await?;
    assert!(location(&r).starts_with("/signin/second-factor"));
    let page = after.get("/signin/second-factor").await?;
    let totp_secret = page
        .text
        .split("id=\"totp-secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_default()
        .to_owned();
    let form_csrf = page
        .text
        .split("action=\"/signin/second-factor\"")
        .nth(1)
        .and_then(csrf_in)
        .unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let r = after
        .post_form(
            "/signin/second-factor",
            &[
                ("code", &totp_code(&totp_secret, now)?),
                ("csrf", &form_csrf),
            ],
        )
        .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let (r, secret) = create_in_session(&after, "with the second factor").await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let secret = secret.ok_or_else(|| anyhow!("no secret: {}", r.text))?;
    assert_eq!(
        node.api(Some(&secret)).get("/api/v1/me").await?.status,
        StatusCode::OK
    );
    // The old session is still refused.
    let (r, _) = create_in_session(&before, "still not").await?;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    Ok(())
}
