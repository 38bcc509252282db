use anyhow::Result;
use entraide_domain::{Role, RoleSet, Rule};
use entraide_server::routes::specs;
use entraide_testkit::{location, on_both_backends, spawn_node, Backend, Browser, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(every_role_against_every_route, cases_are_need_to_know);

/// The role × route matrix: for every route of the table and every role
/// (plus an anonymous caller), the guard admits exactly whom the rule names.
async fn every_role_against_every_route(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let admin = node.admin().await?;
    let mut users = vec![(Role::Administrator, admin.clone())];
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Administrator) {
        users.push((role, node.user(role.as_str(), &[role]).await?));
    }
    let officer = users
        .iter()
        .find(|(r, _)| *r == Role::Officer)
        .map(|(_, u)| u.clone());
    let officer = officer.ok_or_else(|| anyhow::anyhow!("no officer"))?;
    let bystander = node.user("bystander", &[Role::Analyst]).await?;
    // A case every test user is a member of, so case-level checks pass.
    let case = node
        .api(Some(&officer.token))
        .post(
            "/api/v1/cases",
            &json!({"reference": "MATRIX-1", "title": "Matrix"}),
        )
        .await?;
    let case_id = case.json["id"].as_str().unwrap_or_default().to_owned();
    for (_, u) in users
        .iter()
        .chain(std::iter::once(&(Role::Analyst, bystander.clone())))
    {
        if u.id != officer.id {
            node.api(Some(&officer.token))
                .post(
                    &format!("/api/v1/cases/{case_id}/members"),
                    &json!({"email": u.email}),
                )
                .await?;
        }
    }
    // A spare token of the administrator's, for the revocation route.
    let spare = node
        .api(Some(&admin.token))
        .post("/api/v1/tokens", &json!({"name": "spare"}))
        .await?;
    let token_id = spare.json["token"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let mut browsers = Vec::new();
    for (role, u) in &users {
        let b = Browser::new(&node.url, None)?;
        let r = b.sign_in(&u.email, PASSWORD).await?;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "{role} could not sign in: {}",
            r.text
        );
        browsers.push((*role, b));
    }

    let mut checked = 0;
    for spec in specs() {
        let path = spec
            .path
            .replace("/users/{id}", &format!("/users/{}", bystander.id))
            .replace("/tokens/{id}", &format!("/tokens/{token_id}"))
            .replace("{id}", &case_id)
            .replace("{user_id}", &bystander.id.to_string());
        let method = Method::from_bytes(spec.method.as_str().as_bytes())?;
        // Anonymous callers.
        let anonymous = if spec.is_api {
            node.api(None).call(method.clone(), &path, None).await?
        } else {
            let b = Browser::new(&node.url, None)?;
            if method == Method::GET {
                b.get(&path).await?
            } else {
                b.post_form(&path, &[]).await?
            }
        };
        if spec.rule != Rule::Public {
            if spec.is_api {
                assert_eq!(
                    anonymous.status,
                    StatusCode::UNAUTHORIZED,
                    "anonymous {method} {path}"
                );
            } else {
                assert_eq!(
                    anonymous.status,
                    StatusCode::SEE_OTHER,
                    "anonymous {method} {path}"
                );
                assert!(
                    location(&anonymous).starts_with("/signin"),
                    "anonymous {method} {path}"
                );
            }
        }
        for (i, (role, user)) in users.iter().enumerate() {
            let reply = if spec.is_api {
                node.api(Some(&user.token))
                    .call(method.clone(), &path, None)
                    .await?
            } else {
                let b = &browsers[i].1;
                if method == Method::GET {
                    b.get(&path).await?
                } else {
                    b.post_form(&path, &[]).await?
                }
            };
            let refused_for_role = reply.status == StatusCode::FORBIDDEN
                && (reply.code() == "forbidden_role"
                    || reply.text.contains("<code>forbidden_role</code>"));
            let admitted = spec.rule.admits(Some(RoleSet::of(&[*role])));
            assert_eq!(
                !refused_for_role,
                admitted,
                "{role} on {method} {path}: status {} body {}",
                reply.status,
                reply.text.chars().take(300).collect::<String>()
            );
            checked += 1;
        }
    }
    assert!(checked >= specs().len() * 6);
    // Refusals are audited.
    let denied = node
        .api(Some(&users[5].1.token))
        .get("/api/v1/audit?action=auth.denied")
        .await?;
    assert!(denied.json["entries"]
        .as_array()
        .map(|a| !a.is_empty())
        .unwrap_or(false));
    Ok(())
}

async fn cases_are_need_to_know(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let alice = node.user("alice", &[Role::Officer]).await?;
    let bob = node.user("bob", &[Role::Officer]).await?;
    let auditor = node.user("auditor", &[Role::Auditor]).await?;
    let admin = node.admin().await?;
    let a = node.api(Some(&alice.token));
    let b = node.api(Some(&bob.token));
    let adm = node.api(Some(&admin.token));

    let created = a
        .post(
            "/api/v1/cases",
            &json!({"reference": "NTK-1", "title": "Ransomware", "summary": "Secret facts"}),
        )
        .await?;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.json["id"].as_str().unwrap_or_default().to_owned();

    // Bob is not a member: not listed, content refused, refusal audited.
    assert_eq!(
        b.get("/api/v1/cases").await?.json.as_array().map(Vec::len),
        Some(0)
    );
    let r = b.get(&format!("/api/v1/cases/{id}")).await?;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "not_case_member");
    assert!(!r.text.contains("Secret facts"));
    let r = b
        .post(
            &format!("/api/v1/cases/{id}/members"),
            &json!({"email": "bob@test.example"}),
        )
        .await?;
    assert_eq!(r.code(), "not_case_member");

    // The administrator sees that the case exists, not its content...
    let list = adm.get("/api/v1/cases").await?;
    assert_eq!(list.json[0]["reference"], "NTK-1");
    assert_eq!(list.json[0]["member"], false);
    let r = adm.get(&format!("/api/v1/cases/{id}")).await?;
    assert_eq!(r.code(), "not_case_member");
    // ...manages its members...
    let r = adm
        .post(
            &format!("/api/v1/cases/{id}/members"),
            &json!({"email": "bob@test.example"}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        b.get(&format!("/api/v1/cases/{id}")).await?.json["summary"],
        "Secret facts"
    );
    // ...and reads it only after adding themself, which is audited.
    let r = adm
        .post(
            &format!("/api/v1/cases/{id}/members"),
            &json!({"email": admin.email}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        adm.get(&format!("/api/v1/cases/{id}")).await?.status,
        StatusCode::OK
    );
    // Adding twice is a conflict; unknown users are a field error.
    let r = a
        .post(
            &format!("/api/v1/cases/{id}/members"),
            &json!({"email": "bob@test.example"}),
        )
        .await?;
    assert_eq!(r.code(), "already_member");
    let r = a
        .post(
            &format!("/api/v1/cases/{id}/members"),
            &json!({"email": "ghost@test.example"}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["errors"][0]["code"], "unknown_user");

    // Removing Bob takes his access away at once.
    let r = a
        .delete(&format!("/api/v1/cases/{id}/members/{}", bob.id))
        .await?;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        b.get(&format!("/api/v1/cases/{id}")).await?.code(),
        "not_case_member"
    );

    // The audit trail tells the story: reads by whom, the denials, the
    // administrator adding themself.
    let aud = node.api(Some(&auditor.token));
    let log = aud
        .get(&format!("/api/v1/audit?case_id={id}&limit=200"))
        .await?;
    let entries = log.json["entries"].as_array().cloned().unwrap_or_default();
    let has = |action: &str, actor: &str, outcome: &str| {
        entries
            .iter()
            .any(|e| e["action"] == action && e["actor"] == actor && e["outcome"] == outcome)
    };
    assert!(has("case.created", "alice@test.example", "success"));
    assert!(has("case.read", "bob@test.example", "denied"));
    assert!(has("case.read", "bob@test.example", "success"));
    assert!(has("case.read", "admin@test.example", "denied"));
    assert!(has("case.read", "admin@test.example", "success"));
    assert!(has("case.member_removed", "alice@test.example", "success"));
    assert!(entries.iter().any(|e| e["action"] == "case.member_added"
        && e["actor"] == "admin@test.example"
        && e["detail"]["self"] == true));
    // Auditors do not read case content either.
    assert_eq!(
        aud.get(&format!("/api/v1/cases/{id}")).await?.code(),
        "not_case_member"
    );
    Ok(())
}
