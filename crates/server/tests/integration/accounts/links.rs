//! A forgotten password, reset with a single-use link sent by e-mail; the
//! form that asks for it tells no one which addresses have accounts, and
//! is limited per client address and per account.

use anyhow::{anyhow, Result};
use entraide_domain::Role;
use entraide_server::app::audit::Actor;
use entraide_server::app::credentials::sha256_hex;
use entraide_store::{AuditEntry, PasswordReset};
use entraide_testkit::{location, on_both_backends, Backend, Browser, Reply, TestNode, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;
use time::OffsetDateTime;

use super::{audit, form_csrf, node_with_mail, recorded_sent};

on_both_backends!(
    a_forgotten_password_is_reset_by_a_single_use_link,
    the_reset_form_does_not_tell_whether_an_account_exists,
    reset_requests_are_limited_per_address_and_per_account,
);

async fn ask_for_link(b: &Browser, email: &str) -> Result<Reply> {
    let page = b.get("/signin/forgot").await?;
    let csrf = form_csrf(&page, "/signin/forgot");
    b.post_form("/signin/forgot", &[("email", email), ("csrf", &csrf)])
        .await
}

/// Waits until `n` reset requests were handled (they are, after the
/// answer).
async fn requests_handled(node: &TestNode, n: usize) -> Result<Vec<AuditEntry>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let entries = audit(node, "auth.password_reset_requested").await?;
        if entries.len() >= n {
            return Ok(entries);
        }
        if std::time::Instant::now() > deadline {
            return Err(anyhow!(
                "{} reset requests handled, expected {n}",
                entries.len()
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn a_forgotten_password_is_reset_by_a_single_use_link(backend: Backend) -> Result<()> {
    let Some((node, smtp)) = node_with_mail(backend).await? else {
        return Ok(());
    };
    let officer = node.user("officer", &[Role::Officer]).await?;
    // The mail comes in the user's language.
    node.store.set_locale(officer.id, "fr").await?;
    let signed_in = Browser::new(&node.url, None)?;
    signed_in.sign_in(&officer.email, PASSWORD).await?;

    let b = Browser::new(&node.url, None)?;
    assert!(b
        .get("/signin")
        .await?
        .text
        .contains("href=\"/signin/forgot\""));
    let r = ask_for_link(&b, &officer.email).await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("id=\"forgot-sent\""));

    let mails = smtp.wait_for(&officer.email, 1).await?;
    let mail = &mails[0];
    assert!(mail.subject.contains("Réinitialiser"), "{}", mail.subject);
    assert_eq!(mail.from, "entraide@test.example");
    let link = mail
        .link(&format!("{}/signin/reset?token=", node.url))
        .ok_or_else(|| anyhow!("no link in: {}", mail.body))?;
    let token = link.split("token=").nth(1).unwrap_or_default().to_owned();
    let path = link.trim_start_matches(&node.url).to_owned();
    // Only the hash of the secret is stored; the body is gone once sent.
    let stored = node
        .store
        .password_reset(&sha256_hex(&token))
        .await?
        .ok_or_else(|| anyhow!("link not stored by its hash"))?;
    assert_eq!(stored.user_id, officer.id);
    assert!(stored.expires_at <= OffsetDateTime::now_utc() + time::Duration::minutes(30));
    let outbox = recorded_sent(&node).await?;
    assert_eq!(outbox.len(), 1);
    assert!(outbox[0].body.is_empty());

    // Opening the link uses nothing (mail scanners open links).
    let page = b.get(&path).await?;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(b.get(&path).await?.status, StatusCode::OK);
    let csrf = form_csrf(&page, "/signin/reset");
    // The node's password policy applies.
    let r = b
        .post_form(
            "/signin/reset",
            &[
                ("token", &token),
                ("new", "short"),
                ("confirm", "short"),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let chosen = "remembered at last, twice";
    let r = b
        .post_form(
            "/signin/reset",
            &[
                ("token", &token),
                ("new", chosen),
                ("confirm", chosen),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(location(&r), "/signin?reason=password-reset");

    // Single use.
    let again = "someone else's password";
    let r = b
        .post_form(
            "/signin/reset",
            &[
                ("token", &token),
                ("new", again),
                ("confirm", again),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_eq!(r.status, StatusCode::GONE);
    assert_eq!(b.get(&path).await?.status, StatusCode::GONE);

    // Sessions ended; the new password works, the old one does not.
    assert_eq!(signed_in.get("/cases").await?.status, StatusCode::SEE_OTHER);
    assert_eq!(
        Browser::new(&node.url, None)?
            .sign_in(&officer.email, PASSWORD)
            .await?
            .status,
        StatusCode::UNAUTHORIZED
    );
    let fresh = Browser::new(&node.url, None)?;
    assert_eq!(
        fresh.sign_in(&officer.email, chosen).await?.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(fresh.get("/cases").await?.status, StatusCode::OK);
    let done = audit(&node, "auth.password_reset_by_link").await?;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].actor, officer.email);
    assert_eq!(
        audit(&node, "auth.password_reset_requested").await?.len(),
        1
    );

    // Short-lived: a link past its 30 minutes is refused.
    let secret = "an-expired-link-secret-of-enough-length-123";
    let past = OffsetDateTime::now_utc() - time::Duration::minutes(31);
    let reset = PasswordReset {
        token_hash: sha256_hex(secret),
        user_id: officer.id,
        created_at: past,
        expires_at: past + time::Duration::minutes(30),
        used_at: None,
    };
    let mail = entraide_server::app::mailer::new_mail(
        "password_reset",
        &officer.email,
        "old".into(),
        "old".into(),
        reset.expires_at,
    );
    let entry = Actor::labelled("test".into()).entry(
        entraide_domain::AuditAction::PasswordResetRequested,
        entraide_domain::AuditOutcome::Success,
    );
    assert!(
        node.store
            .create_password_reset(&reset, &mail, &entry, past, 100)
            .await?
    );
    assert_eq!(
        b.get(&format!("/signin/reset?token={secret}"))
            .await?
            .status,
        StatusCode::GONE
    );
    let r = b
        .post_form(
            "/signin/reset",
            &[
                ("token", secret),
                ("new", again),
                ("confirm", again),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_eq!(r.status, StatusCode::GONE);
    assert_eq!(fresh.get("/cases").await?.status, StatusCode::OK);
    Ok(())
}

async fn the_reset_form_does_not_tell_whether_an_account_exists(backend: Backend) -> Result<()> {
    let Some((node, smtp)) = node_with_mail(backend).await? else {
        return Ok(());
    };
    let officer = node.user("officer", &[Role::Officer]).await?;
    let gone = node.user("gone", &[Role::Officer]).await?;
    let admin = node.admin().await?;
    node.api(Some(&admin.token))
        .patch(
            &format!("/api/v1/users/{}", gone.id),
            &json!({"disabled": true}),
        )
        .await?;

    let b = Browser::new(&node.url, None)?;
    let known = ask_for_link(&b, &officer.email).await?;
    let unknown = ask_for_link(&b, "nobody@test.example").await?;
    let disabled = ask_for_link(&b, &gone.email).await?;
    let garbage = ask_for_link(&b, "not an address").await?;
    // The same answer, word for word, whoever the address belongs to.
    for other in [&unknown, &disabled, &garbage] {
        assert_eq!(other.status, known.status);
        assert_eq!(other.text, known.text);
    }
    assert_eq!(known.status, StatusCode::OK);

    // Only the account's owner gets a mail; each request is audited.
    let entries = requests_handled(&node, 4).await?;
    smtp.wait_for(&officer.email, 1).await?;
    let mails = smtp.mails()?;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(node.store.mail_outbox(10).await?.len(), 1);
    let outcomes: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.target.as_deref().unwrap_or_default(), e.outcome.as_str()))
        .collect();
    assert!(
        outcomes.contains(&(officer.email.as_str(), "success")),
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&("nobody@test.example", "failure")),
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&(gone.email.as_str(), "denied")),
        "{outcomes:?}"
    );
    Ok(())
}

async fn reset_requests_are_limited_per_address_and_per_account(backend: Backend) -> Result<()> {
    let Some((node, smtp)) = node_with_mail(backend).await? else {
        return Ok(());
    };
    let officer = node.user("officer", &[Role::Officer]).await?;
    let b = Browser::new(&node.url, None)?;
    // Per account: three links an hour; more requests are answered the
    // same and send nothing.
    let first = ask_for_link(&b, &officer.email).await?;
    for _ in 0..4 {
        let r = ask_for_link(&b, &officer.email).await?;
        assert_eq!((r.status, &r.text), (first.status, &first.text));
    }
    let entries = requests_handled(&node, 5).await?;
    smtp.wait_for(&officer.email, 3).await?;
    assert_eq!(node.store.mail_outbox(10).await?.len(), 3);
    assert_eq!(entries.iter().filter(|e| e.outcome == "denied").count(), 2);
    // Per client address: ten requests an hour, then 429 whatever the
    // address asked about.
    for i in 0..5 {
        let r = ask_for_link(&b, &format!("someone{i}@test.example")).await?;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = ask_for_link(&b, &officer.email).await?;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    let r = ask_for_link(&b, "nobody@test.example").await?;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    requests_handled(&node, 10).await?;
    assert_eq!(smtp.mails()?.len(), 3);
    Ok(())
}
