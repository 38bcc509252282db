//! Stuck accounts: an administrator resets a password (the user must choose
//! a new one before anything else) or a second factor (the user enrols
//! again); a forgotten password is reset with a single-use link sent by
//! e-mail (`links`), through a real SMTP server (aiosmtpd, `SmtpServer`),
//! without telling anyone which addresses have accounts; mail is sent once
//! across replicas and retried (`outbox`).

mod links;
mod outbox;

use anyhow::{anyhow, Result};
use entraide_domain::Role;
use entraide_store::{AuditEntry, AuditFilter, MailStatus};
use entraide_testkit::{
    csrf_in, location, on_both_backends, spawn_node, spawn_node_with, totp_code, Backend, Browser,
    Options, Reply, SmtpServer, TestNode, PASSWORD,
};
use reqwest::StatusCode;
use serde_json::json;
use time::OffsetDateTime;

on_both_backends!(
    an_admin_resets_a_password_and_the_user_must_change_it,
    an_admin_resets_a_second_factor_and_the_user_re_enrols,
);

fn now() -> u64 {
    u64::try_from(OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0)
}

async fn audit(node: &TestNode, action: &str) -> Result<Vec<AuditEntry>> {
    Ok(node
        .store
        .audit_entries(&AuditFilter {
            action: Some(action.into()),
            limit: 100,
            ..Default::default()
        })
        .await?)
}

/// The CSRF token of the form posting to `action` on a page.
fn form_csrf(page: &Reply, action: &str) -> String {
    page.text
        .split(&format!("action=\"{action}\""))
        .nth(1)
        .and_then(csrf_in)
        .unwrap_or_default()
}

/// A node sending mail to a real SMTP server; `None` (the test skips)
/// when the server cannot be run here.
pub(super) async fn node_with_mail(backend: Backend) -> Result<Option<(TestNode, SmtpServer)>> {
    let Some(smtp) = SmtpServer::start()? else {
        return Ok(None);
    };
    let node = spawn_node_with(
        backend,
        Options {
            smtp: Some(smtp.settings()),
            ..Options::default()
        },
    )
    .await?;
    Ok(Some((node, smtp)))
}

/// The outbox once the node has recorded its mails as sent (it does just
/// after the SMTP server accepted them).
pub(super) async fn recorded_sent(node: &TestNode) -> Result<Vec<entraide_store::OutboxMail>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let outbox = node.store.mail_outbox(100).await?;
        if outbox.iter().all(|m| m.status == MailStatus::Sent) {
            return Ok(outbox);
        }
        if std::time::Instant::now() > deadline {
            return Err(anyhow!("mails not recorded as sent: {outbox:?}"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn an_admin_resets_a_password_and_the_user_must_change_it(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let admin = node.admin().await?;
    let officer = node.user("officer", &[Role::Officer]).await?;
    let api = node.api(Some(&admin.token));

    // Without SMTP there is no reset by e-mail to offer.
    let signin = Browser::new(&node.url, None)?.get("/signin").await?;
    assert!(!signin.text.contains("/signin/forgot"), "{}", signin.text);

    let b = Browser::new(&node.url, None)?;
    assert_eq!(
        b.sign_in(&officer.email, PASSWORD).await?.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(b.get("/cases").await?.status, StatusCode::OK);

    // Administrators reset others' passwords, not their own.
    let r = api
        .post(
            &format!("/api/v1/users/{}/password-reset", admin.id),
            &json!({}),
        )
        .await?;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "cannot_reset_self")
    );
    // The node's password policy applies to a password the admin chooses.
    let r = api
        .post(
            &format!("/api/v1/users/{}/password-reset", officer.id),
            &json!({"password": "short"}),
        )
        .await?;
    assert_eq!(r.code(), "validation_failed", "{}", r.text);

    let r = api
        .post(
            &format!("/api/v1/users/{}/password-reset", officer.id),
            &json!({}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["must_change_password"], true);
    let temporary = r.json["temporary_password"]
        .as_str()
        .ok_or_else(|| anyhow!("no temporary password: {}", r.text))?
        .to_owned();
    assert!(temporary.len() >= 16);

    // Audited, with who did it and to whom.
    let entries = audit(&node, "user.password_reset").await?;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, admin.email);
    assert_eq!(entries[0].target.as_deref(), Some(officer.email.as_str()));
    let users = api.get("/api/v1/users").await?;
    let row = users.json.as_array().and_then(|a| {
        a.iter()
            .find(|u| u["email"] == officer.email.as_str())
            .cloned()
    });
    assert_eq!(
        row.map(|u| u["must_change_password"].clone()),
        Some(json!(true))
    );

    // The user's sessions ended; the old password is gone; their API
    // tokens, separate credentials, keep working.
    let r = b.get("/cases").await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/signin"));
    let other = Browser::new(&node.url, None)?;
    assert_eq!(
        other.sign_in(&officer.email, PASSWORD).await?.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        node.api(Some(&officer.token))
            .get("/api/v1/me")
            .await?
            .status,
        StatusCode::OK
    );

    // Signed in with the temporary password, the user can do nothing but
    // choose a new one: pages lead there, the API refuses the session.
    let r = b.sign_in(&officer.email, &temporary).await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        location(&r).starts_with("/signin/password"),
        "{}",
        location(&r)
    );
    let r = b.get("/cases").await?;
    assert!(
        location(&r).starts_with("/signin/password?next=/cases"),
        "{}",
        location(&r)
    );
    let r = b.get("/api/v1/me").await?;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "password_change_required"),
        "{}",
        r.text
    );
    let page = b.get("/signin/password?next=/cases").await?;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = form_csrf(&page, "/signin/password");
    // Not the temporary password again, and the two copies must agree.
    let r = b
        .post_form(
            "/signin/password",
            &[
                ("new", &temporary),
                ("confirm", &temporary),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let chosen = "a password of my own choosing";
    let r = b
        .post_form(
            "/signin/password",
            &[
                ("new", chosen),
                ("confirm", "something else entirely"),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = b
        .post_form(
            "/signin/password",
            &[
                ("new", chosen),
                ("confirm", chosen),
                ("csrf", &csrf),
                ("next", "/cases"),
            ],
        )
        .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(location(&r), "/cases");
    assert_eq!(b.get("/cases").await?.status, StatusCode::OK);
    assert_eq!(b.get("/api/v1/me").await?.status, StatusCode::OK);
    let changed = audit(&node, "user.password_changed").await?;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].actor, officer.email);

    // From the users page: the admin chooses the password this time.
    let admin_browser = Browser::new(&node.url, None)?;
    admin_browser.sign_in(&admin.email, PASSWORD).await?;
    let users_page = admin_browser.get("/admin/users").await?;
    assert!(users_page
        .text
        .contains(&format!("/admin/users/{}/password-reset", officer.id)));
    let csrf = csrf_in(&users_page.text).unwrap_or_default();
    let path = format!("/admin/users/{}/password-reset", officer.id);
    let r = admin_browser
        .post_form(&path, &[("csrf", &csrf), ("password", "short")])
        .await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let set_by_admin = "set by the administrator";
    let r = admin_browser
        .post_form(&path, &[("csrf", &csrf), ("password", set_by_admin)])
        .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.text.contains("temporary-password"));
    assert_eq!(b.get("/cases").await?.status, StatusCode::SEE_OTHER);
    let r = b.sign_in(&officer.email, set_by_admin).await?;
    assert!(location(&r).starts_with("/signin/password"));
    let r = admin_browser.post_form(&path, &[("csrf", &csrf)]).await?;
    assert!(r.text.contains("id=\"temporary-password\""), "{}", r.text);
    assert_eq!(audit(&node, "user.password_reset").await?.len(), 3);
    Ok(())
}

/// Signs in with the second factor, enrolling it on the way if the page
/// offers a new secret; returns the secret used.
async fn sign_in_with_second_factor(
    b: &Browser,
    email: &str,
    known: Option<&str>,
) -> Result<String> {
    let r = b.sign_in(email, PASSWORD).await?;
    assert!(
        location(&r).starts_with("/signin/second-factor"),
        "{}",
        location(&r)
    );
    let page = b.get("/signin/second-factor").await?;
    let shown = page
        .text
        .split("id=\"totp-secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .map(str::to_owned);
    let secret = match (shown, known) {
        (Some(s), _) => s,
        (None, Some(k)) => k.to_owned(),
        (None, None) => return Err(anyhow!("no secret shown: {}", page.text)),
    };
    let code = totp_code(&secret, now())?;
    let r = b
        .post_form(
            "/signin/second-factor",
            &[
                ("code", &code),
                ("csrf", &form_csrf(&page, "/signin/second-factor")),
            ],
        )
        .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    Ok(secret)
}

async fn an_admin_resets_a_second_factor_and_the_user_re_enrols(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let admin = node.admin().await?;
    let officer = node.user("officer", &[Role::Officer]).await?;
    let admin_browser = Browser::new(&node.url, None)?;
    admin_browser.sign_in(&admin.email, PASSWORD).await?;
    let r = node
        .api(Some(&admin.token))
        .patch("/api/v1/organisation", &json!({"require_totp": true}))
        .await?;
    assert_eq!(r.status, StatusCode::OK);

    // The officer enrols at first sign-in, as the organisation requires.
    let b = Browser::new(&node.url, None)?;
    let first = sign_in_with_second_factor(&b, &officer.email, None).await?;
    assert_eq!(b.get("/cases").await?.status, StatusCode::OK);

    // The phone is lost: an administrator resets the second factor.
    let users_page = admin_browser.get("/admin/users").await?;
    let action = format!("/admin/users/{}/second-factor-reset", officer.id);
    assert!(users_page.text.contains(&action), "{}", users_page.text);
    let csrf = csrf_in(&users_page.text).unwrap_or_default();
    let r = admin_browser.post_form(&action, &[("csrf", &csrf)]).await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let user = node
        .store
        .user_by_id(officer.id)
        .await?
        .ok_or_else(|| anyhow!("no user"))?;
    assert!(!user.totp_enabled && user.totp_secret.is_none());
    let entries = audit(&node, "user.second_factor_reset").await?;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, admin.email);
    assert_eq!(entries[0].target.as_deref(), Some(officer.email.as_str()));
    // Nothing left to reset; and never one's own.
    let api = node.api(Some(&admin.token));
    let r = api
        .post(
            &format!("/api/v1/users/{}/second-factor-reset", officer.id),
            &json!({}),
        )
        .await?;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "no_second_factor")
    );
    let r = api
        .post(
            &format!("/api/v1/users/{}/second-factor-reset", admin.id),
            &json!({}),
        )
        .await?;
    assert_eq!(r.code(), "cannot_reset_self");

    // The session that passed the old second factor ended.
    assert_eq!(b.get("/cases").await?.status, StatusCode::SEE_OTHER);
    // At the next sign-in the officer enrols a new one: a new secret.
    let second = sign_in_with_second_factor(&b, &officer.email, None).await?;
    assert_ne!(first, second);
    assert_eq!(b.get("/cases").await?.status, StatusCode::OK);
    let user = node
        .store
        .user_by_id(officer.id)
        .await?
        .ok_or_else(|| anyhow!("no user"))?;
    assert!(user.totp_enabled);

    // Through the API this time: enrolled again, reset again.
    let r = api
        .post(
            &format!("/api/v1/users/{}/second-factor-reset", officer.id),
            &json!({}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(b.get("/cases").await?.status, StatusCode::SEE_OTHER);
    assert_eq!(audit(&node, "user.second_factor_reset").await?.len(), 2);
    Ok(())
}
