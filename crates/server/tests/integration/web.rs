use anyhow::Result;
use entraide_domain::{LockoutPolicy, Role, SessionPolicy};
use entraide_testkit::{
    csrf_in, location, on_both_backends, spawn_node, spawn_node_with, totp_code, Backend, Browser,
    Options, PASSWORD,
};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    sign_in_session_and_sign_out,
    forms_without_csrf_are_refused,
    repeated_failures_lock_the_account,
    sign_in_attempts_are_throttled_per_address,
    second_factor_enrolment_and_sign_in,
    organisation_can_require_a_second_factor,
    idle_sessions_expire,
    pages_in_three_languages,
    forms_come_back_with_messages_beside_fields,
    users_change_their_password,
);

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn sign_in_session_and_sign_out(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    node.user("officer", &[Role::Officer]).await?;
    let b = Browser::new(&node.url, None)?;
    // Not signed in: pages send to the sign-in page, remembering where to.
    let r = b.get("/cases").await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/signin?reason=required&next=/cases");
    // Wrong password.
    let r = b
        .sign_in("officer@test.example", "not the password")
        .await?;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("Wrong e-mail address or password"));
    assert!(
        r.text.contains("value=\"officer@test.example\""),
        "the e-mail is kept"
    );
    // Right password: a hardened session cookie.
    let r = b.sign_in("officer@test.example", PASSWORD).await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("entraide_session="))
        .unwrap_or_default()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let r = b.get("/").await?;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("User officer"));
    // Sign out ends the session on the server.
    let csrf = csrf_in(&r.text).unwrap_or_default();
    let r = b.post_form("/signout", &[("csrf", &csrf)]).await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = b.get("/").await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Sign-ins and sign-outs are audited.
    let auditor = node.user("auditor", &[Role::Auditor]).await?;
    let log = node
        .api(Some(&auditor.token))
        .get("/api/v1/audit?action=auth.")
        .await?;
    for action in ["auth.sign_in", "auth.sign_in_failed", "auth.sign_out"] {
        assert!(log.text.contains(action), "{action} missing");
    }
    Ok(())
}

async fn forms_without_csrf_are_refused(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    node.user("officer", &[Role::Officer]).await?;
    let b = Browser::new(&node.url, None)?;
    // The sign-in form itself needs its token.
    let r = b
        .post_form(
            "/signin",
            &[("email", "officer@test.example"), ("password", PASSWORD)],
        )
        .await?;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text.contains("csrf_rejected"));
    b.sign_in("officer@test.example", PASSWORD).await?;
    for csrf in ["", "forged"] {
        let r = b
            .post_form(
                "/cases",
                &[("reference", "X-1"), ("title", "Forged"), ("csrf", csrf)],
            )
            .await?;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = b.get("/cases").await?;
    assert!(!r.text.contains("X-1"), "nothing was created");
    let csrf = b.csrf("/cases/new").await?;
    let r = b
        .post_form(
            "/cases",
            &[("reference", "X-1"), ("title", "Real"), ("csrf", &csrf)],
        )
        .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/cases/"));
    Ok(())
}

async fn repeated_failures_lock_the_account(backend: Backend) -> Result<()> {
    let options = Options {
        lockout: LockoutPolicy {
            max_failures: 3,
            lock_for: time::Duration::minutes(10),
        },
        ..Options::default()
    };
    let node = spawn_node_with(backend, options).await?;
    node.user("officer", &[Role::Officer]).await?;
    let b = Browser::new(&node.url, None)?;
    for _ in 0..3 {
        let r = b.sign_in("officer@test.example", "wrong password!").await?;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Locked: even the right password is refused, with a clear message.
    let r = b.sign_in("officer@test.example", PASSWORD).await?;
    assert_eq!(r.status, StatusCode::LOCKED);
    assert!(r.text.contains("locked"));
    let auditor = node.user("auditor", &[Role::Auditor]).await?;
    let log = node
        .api(Some(&auditor.token))
        .get("/api/v1/audit?action=auth.locked_out")
        .await?;
    assert_eq!(log.json["entries"].as_array().map(Vec::len), Some(1));
    // The administrator sees the lock.
    let admin = node.admin().await?;
    let users = node.api(Some(&admin.token)).get("/api/v1/users").await?;
    let officer = users
        .json
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["email"] == "officer@test.example");
    assert!(officer.is_some_and(|u| !u["locked_until"].is_null()));
    Ok(())
}

async fn sign_in_attempts_are_throttled_per_address(backend: Backend) -> Result<()> {
    let options = Options {
        sign_in_attempts_per_minute: 3,
        ..Options::default()
    };
    let node = spawn_node_with(backend, options).await?;
    let b = Browser::new(&node.url, None)?;
    for _ in 0..3 {
        let r = b
            .sign_in("nobody@test.example", "whatever password")
            .await?;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = b
        .sign_in("nobody@test.example", "whatever password")
        .await?;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    Ok(())
}

async fn second_factor_enrolment_and_sign_in(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let officer = node.user("officer", &[Role::Officer]).await?;
    let api = node.api(Some(&officer.token));
    let enrol = api
        .call(reqwest::Method::POST, "/api/v1/me/totp", None)
        .await?;
    assert_eq!(enrol.status, StatusCode::OK, "{}", enrol.text);
    let secret = enrol.json["secret"].as_str().unwrap_or_default().to_owned();
    assert!(enrol.json["otpauth_uri"]
        .as_str()
        .unwrap_or("")
        .starts_with("otpauth://totp/"));
    let r = api
        .post("/api/v1/me/totp/confirm", &json!({"code": "000000"}))
        .await?;
    assert_eq!(r.code(), "invalid_second_factor");
    let step = now() / 30;
    let r = api
        .post(
            "/api/v1/me/totp/confirm",
            &json!({"code": totp_code(&secret, step * 30)?}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    // Sign-in now needs the code.
    let b = Browser::new(&node.url, None)?;
    let r = b.sign_in("officer@test.example", PASSWORD).await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/signin/second-factor"));
    // Half signed in is not signed in.
    assert_eq!(b.get("/cases").await?.status, StatusCode::SEE_OTHER);
    let page = b.get("/signin/second-factor").await?;
    let form_csrf = page
        .text
        .split("action=\"/signin/second-factor\"")
        .nth(1)
        .and_then(csrf_in)
        .unwrap_or_default();
    let r = b
        .post_form(
            "/signin/second-factor",
            &[("code", "123456"), ("csrf", &form_csrf)],
        )
        .await?;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // The code already used for enrolment is refused (RFC 6238 §5.2)...
    let used = totp_code(&secret, step * 30)?;
    let r = b
        .post_form(
            "/signin/second-factor",
            &[("code", &used), ("csrf", &form_csrf)],
        )
        .await?;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // ...the next one is accepted.
    let next = totp_code(&secret, (step + 1) * 30)?;
    let r = b
        .post_form(
            "/signin/second-factor",
            &[("code", &next), ("csrf", &form_csrf)],
        )
        .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(b.get("/cases").await?.status, StatusCode::OK);
    Ok(())
}

async fn organisation_can_require_a_second_factor(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    node.user("officer", &[Role::Officer]).await?;
    let admin = node.admin().await?;
    let r = node
        .api(Some(&admin.token))
        .patch("/api/v1/organisation", &json!({"require_totp": true}))
        .await?;
    assert_eq!(r.status, StatusCode::OK);
    let b = Browser::new(&node.url, None)?;
    let r = b.sign_in("officer@test.example", PASSWORD).await?;
    assert!(location(&r).starts_with("/signin/second-factor"));
    // The officer has no second factor yet: the page enrols them.
    let page = b.get("/signin/second-factor").await?;
    let secret = page
        .text
        .split("id=\"totp-secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_default()
        .to_owned();
    assert!(secret.len() >= 26, "no secret shown: {}", page.text);
    let form_csrf = page
        .text
        .split("action=\"/signin/second-factor\"")
        .nth(1)
        .and_then(csrf_in)
        .unwrap_or_default();
    let code = totp_code(&secret, now())?;
    let r = b
        .post_form(
            "/signin/second-factor",
            &[("code", &code), ("csrf", &form_csrf)],
        )
        .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let me = b.get("/account").await?;
    assert!(
        me.text.contains("badge ok"),
        "second factor shown as enabled"
    );
    Ok(())
}

async fn idle_sessions_expire(backend: Backend) -> Result<()> {
    let options = Options {
        sessions: SessionPolicy {
            idle: time::Duration::seconds(1),
            absolute: time::Duration::hours(1),
        },
        ..Options::default()
    };
    let node = spawn_node_with(backend, options).await?;
    node.user("officer", &[Role::Officer]).await?;
    let b = Browser::new(&node.url, None)?;
    b.sign_in("officer@test.example", PASSWORD).await?;
    assert_eq!(b.get("/").await?.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let r = b.get("/cases").await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/signin?reason=expired&next=/cases");
    let page = b.get(location(&r)).await?;
    assert!(page.text.contains("Your session has expired"));
    Ok(())
}

async fn pages_in_three_languages(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    node.user("officer", &[Role::Officer]).await?;
    for (accept, lang, title) in [
        ("en-GB,en;q=0.9", "en", "Sign in"),
        ("fr-FR,fr;q=0.9,en;q=0.5", "fr", "Connexion"),
        ("es-AR,es;q=0.9", "es", "Iniciar sesión"),
        ("de-DE", "en", "Sign in"),
    ] {
        let b = Browser::new(&node.url, Some(accept))?;
        let r = b.get("/signin").await?;
        assert!(
            r.text.contains(&format!("<html lang=\"{lang}\">")),
            "{accept}"
        );
        assert!(r.text.contains(title), "{accept}: {title} not in page");
    }
    // The switcher sets the language for the browser, then for the user.
    let b = Browser::new(&node.url, Some("en"))?;
    let csrf = b.csrf("/signin").await?;
    let r = b
        .post_form(
            "/language",
            &[("lang", "es"), ("csrf", &csrf), ("next", "/signin")],
        )
        .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(b.get("/signin").await?.text.contains("<html lang=\"es\">"));
    b.sign_in("officer@test.example", PASSWORD).await?;
    let csrf = b.csrf("/").await?;
    b.post_form(
        "/language",
        &[("lang", "fr"), ("csrf", &csrf), ("next", "/")],
    )
    .await?;
    let other = Browser::new(&node.url, Some("en"))?;
    other.sign_in("officer@test.example", PASSWORD).await?;
    let r = other.get("/cases").await?;
    assert!(
        r.text.contains("<html lang=\"fr\">"),
        "the preference follows the user"
    );
    // Unsupported languages are refused.
    let r = b
        .post_form("/language", &[("lang", "xx"), ("csrf", &csrf)])
        .await?;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    Ok(())
}

async fn forms_come_back_with_messages_beside_fields(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let b = Browser::new(&node.url, Some("fr"))?;
    b.sign_in("admin@test.example", PASSWORD).await?;
    let csrf = b.csrf("/admin/users/new").await?;
    let r = b
        .post_form(
            "/admin/users",
            &[
                ("csrf", &csrf),
                ("email", "not-an-email"),
                ("display_name", "Jeanne Procureure"),
                ("password", "short"),
            ],
        )
        .await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("value=\"Jeanne Procureure\""),
        "typed values are kept"
    );
    assert!(r.text.contains("id=\"email-error\""));
    assert!(r.text.contains("id=\"password-error\""));
    assert!(r.text.contains("id=\"roles-error\""));
    assert!(r.text.contains("aria-invalid=\"true\""));
    assert!(r.text.contains("<html lang=\"fr\">"));
    // Nothing was created.
    let admin = node.admin().await?;
    let users = node.api(Some(&admin.token)).get("/api/v1/users").await?;
    assert_eq!(users.json.as_array().map(Vec::len), Some(1));
    // A valid form goes through.
    let r = b
        .post_form(
            "/admin/users",
            &[
                ("csrf", &csrf),
                ("email", "jeanne@test.example"),
                ("display_name", "Jeanne Procureure"),
                ("password", "a long enough password"),
                ("role", "approver"),
                ("role", "officer"),
            ],
        )
        .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let users = node.api(Some(&admin.token)).get("/api/v1/users").await?;
    let jeanne = users
        .json
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["email"] == "jeanne@test.example");
    assert_eq!(
        jeanne.map(|u| u["roles"].clone()),
        Some(json!(["officer", "approver"]))
    );
    Ok(())
}

async fn users_change_their_password(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    node.user("officer", &[Role::Officer]).await?;
    let other = Browser::new(&node.url, None)?;
    other.sign_in("officer@test.example", PASSWORD).await?;
    let b = Browser::new(&node.url, None)?;
    b.sign_in("officer@test.example", PASSWORD).await?;
    let csrf = b.csrf("/account").await?;
    let r = b
        .post_form(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current", "wrong"),
                ("new", "a brand new passphrase"),
                ("confirm", "a brand new passphrase"),
            ],
        )
        .await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("id=\"current-error\""));
    let r = b
        .post_form(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("new", "a brand new passphrase"),
                ("confirm", "a different one"),
            ],
        )
        .await?;
    assert!(r.text.contains("id=\"confirm-error\""));
    let r = b
        .post_form(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("new", "a brand new passphrase"),
                ("confirm", "a brand new passphrase"),
            ],
        )
        .await?;
    assert_eq!(r.status, StatusCode::OK);
    // This session goes on; the other one has ended; the old password no longer works.
    assert_eq!(b.get("/cases").await?.status, StatusCode::OK);
    assert_eq!(other.get("/cases").await?.status, StatusCode::SEE_OTHER);
    let fresh = Browser::new(&node.url, None)?;
    assert_eq!(
        fresh
            .sign_in("officer@test.example", PASSWORD)
            .await?
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        fresh
            .sign_in("officer@test.example", "a brand new passphrase")
            .await?
            .status,
        StatusCode::SEE_OTHER
    );
    Ok(())
}

/// The node serves HTTPS with the configured certificate: HSTS on every
/// response and `Secure` cookies. Uses the `openssl` command to make a
/// throw-away certificate; says so and skips where it is missing.
#[tokio::test]
async fn tls_with_hsts_and_secure_cookies() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match made {
        Ok(o) if o.status.success() => {}
        _ => {
            eprintln!("skipped: the openssl command is needed to make a test certificate");
            return Ok(());
        }
    }
    let db = format!("sqlite://{}", dir.path().join("entraide.db").display());
    let store = entraide_server::open_store(&db).await?;
    entraide_server::admin::service::initialise_node(
        store.as_ref(),
        entraide_server::admin::service::NewNode {
            node_id: entraide_domain::NodeId::parse("tls-node").map_err(|e| anyhow::anyhow!(e))?,
            org_name: entraide_domain::OrganisationName::parse("TLS")
                .map_err(|e| anyhow::anyhow!(e))?,
            org_kind: entraide_domain::OrganisationKind::Court,
            country: entraide_domain::CountryCode::parse("FR").map_err(|e| anyhow::anyhow!(e))?,
            admin_email: entraide_domain::Email::parse("admin@tls.example")
                .map_err(|e| anyhow::anyhow!(e))?,
            admin_name: entraide_domain::DisplayName::parse("Admin")
                .map_err(|e| anyhow::anyhow!(e))?,
            admin_password: entraide_domain::NewPassword::parse(PASSWORD)
                .map_err(|e| anyhow::anyhow!(e))?,
        },
    )
    .await?;
    let settings = entraide_server::app::config::Settings {
        data_dir: dir.path().to_path_buf(),
        node_id: entraide_domain::NodeId::parse("tls-node").map_err(|e| anyhow::anyhow!(e))?,
        listen: "127.0.0.1:0".parse()?,
        database_url: db,
        database_max_connections: None,
        blob_dir: dir.path().join("blobs"),
        public_url: None,
        tls: Some((cert, key)),
        sessions: SessionPolicy::default(),
        lockout: LockoutPolicy::default(),
        sign_in_attempts_per_minute: 100,
        reminders: None,
        deadlines: Default::default(),
        s3: None,
        federation: Default::default(),
        edge: Default::default(),
        smtp: None,
    };
    let running = entraide_server::Node::with_store(settings, store)?
        .start()
        .await?;
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()?;
    let base = format!("https://localhost:{}", running.addr.port());
    let r = client.get(format!("{base}/healthz")).send().await?;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("strict-transport-security").is_some());
    let r = client.get(format!("{base}/signin")).send().await?;
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("entraide_csrf="))
        .unwrap_or_default()
        .to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // Plain HTTP to the TLS port is not served.
    assert!(
        reqwest::get(format!("http://127.0.0.1:{}/healthz", running.addr.port()))
            .await
            .is_err()
    );
    running.stop();
    Ok(())
}
