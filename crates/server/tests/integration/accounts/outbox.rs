//! The mail outbox: each mail sent once across replicas, queued once per
//! key, and kept for a later attempt when the server cannot take it now.

use anyhow::{anyhow, Result};
use entraide_server::app::mail::SmtpSettings;
use entraide_server::app::mailer::{enqueue, new_mail};
use entraide_store::MailStatus;
use entraide_testkit::{on_both_backends, spawn_node_with, Backend, Options};
use time::OffsetDateTime;

use super::{node_with_mail, recorded_sent};

on_both_backends!(
    a_mail_is_sent_once_across_replicas_and_queued_once_per_key,
    a_mail_the_server_cannot_take_now_is_retried_later,
);

async fn a_mail_is_sent_once_across_replicas_and_queued_once_per_key(
    backend: Backend,
) -> Result<()> {
    let Some((node, smtp)) = node_with_mail(backend).await? else {
        return Ok(());
    };
    let replica = node.replica().await?;
    let later = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let recipients: Vec<String> = (0..12).map(|i| format!("r{i}@test.example")).collect();
    for (i, to) in recipients.iter().enumerate() {
        let mut mail = new_mail("test", to, format!("n{i}"), "hello".into(), later);
        mail.dedup_key = Some(format!("test:{i}"));
        assert!(enqueue(node.store.as_ref(), &node.state.mail_wake, &mail).await?);
        // Both replicas' workers are awake and claim from the same outbox.
        replica.state.mail_wake.notify_one();
        // The same event noticed again (by the other replica, say).
        mail.id = uuid::Uuid::now_v7();
        assert!(
            !enqueue(
                replica.state.store.as_ref(),
                &replica.state.mail_wake,
                &mail
            )
            .await?
        );
    }
    for to in &recipients {
        smtp.wait_for(to, 1).await?;
    }
    assert_eq!(recorded_sent(&node).await?.len(), recipients.len());
    assert_eq!(node.store.mail_outbox(100).await?.len(), recipients.len());
    for to in &recipients {
        assert_eq!(smtp.mails_to(to)?.len(), 1, "{to} got more than one mail");
    }
    Ok(())
}

async fn a_mail_the_server_cannot_take_now_is_retried_later(backend: Backend) -> Result<()> {
    // An address where nothing listens: the server is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let node = spawn_node_with(
        backend,
        Options {
            smtp: Some(SmtpSettings::plain(
                "127.0.0.1",
                closed,
                "entraide@test.example",
            )),
            ..Options::default()
        },
    )
    .await?;
    let later = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let mail = new_mail(
        "test",
        "someone@test.example",
        "s".into(),
        "b".into(),
        later,
    );
    enqueue(node.store.as_ref(), &node.state.mail_wake, &mail).await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let tried = loop {
        let outbox = node.store.mail_outbox(1).await?;
        if outbox.first().is_some_and(|m| m.attempts > 0) {
            break outbox[0].clone();
        }
        if std::time::Instant::now() > deadline {
            return Err(anyhow!("no attempt recorded: {outbox:?}"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    // Still pending, with the body kept for the next attempt, which waits.
    assert_eq!(tried.status, MailStatus::Pending);
    assert_eq!(tried.attempts, 1);
    assert_eq!(tried.body, "b");
    assert!(tried.last_error.is_some());
    assert!(tried.next_attempt_at > OffsetDateTime::now_utc());
    Ok(())
}
