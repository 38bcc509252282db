//! Delivery of the outbox: one worker per replica claims what is due, peer
//! by peer, and delivers each peer's messages in order — small ones in a
//! row together (`/federation/inbox/batch`), the rest one per request —
//! retried with exponential backoff and jitter, given up (not delivered,
//! audited with the reason) when expired or refused. A message refused
//! because the peer has not added this node yet (`unknown_sender`) waits
//! for it: tried again after `federation.peer_wait_first_seconds`, then
//! twice as long each time up to `peer_wait_max_seconds`, until the peer
//! has or the message expires (`answer` reads what a peer answered,
//! `settle` records what became of each message, `batch` sends small ones
//! together). A peer's signed receipt is the evidence of delivery.

use std::time::Duration;

use entraide_evidence::PublicKey;
use entraide_federation::{MessageKind, OutboxStatus, SignedReceipt};
use time::OffsetDateTime;
use uuid::Uuid;

use super::answer::{deliver, Answer, Delivery};
use super::attachments::outgoing::{push, PushError};
use super::batch::{deliver_group, gather, Grouped};
use super::inbox::INBOX_PATH;
use super::settle::{delivery_receipt, give_up, not_delivered_audit, retry_later, wait_for_peer};
use super::signed::DELIVERY_TIMEOUT;
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

/// How long a claim on a peer's messages lasts.
const LEASE: time::Duration = time::Duration::seconds(120);
/// Peers served in one round, and messages claimed per peer.
const PEERS_PER_ROUND: u32 = 32;
const MESSAGES_PER_PEER: u32 = 256;

/// What became of one delivery attempt.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Delivered (receipt stored), given up (dead), or no longer pending.
    Done,
    /// Not delivered this time: the peer's later messages must wait.
    Retry,
}

/// Delivers what is due: the peers one after the other's claims are
/// taken, each peer's messages in order (a batch per peer, one request
/// after the other on a kept-alive connection), the peers side by side.
pub async fn deliver_due(app: &AppState) -> AppResult<usize> {
    let now = OffsetDateTime::now_utc();
    let lease_until = now + LEASE;
    let due = app
        .store
        .claim_outbox(now, lease_until, PEERS_PER_ROUND, MESSAGES_PER_PEER)
        .await?;
    let n = due.len();
    let mut per_peer: Vec<(String, Vec<Uuid>)> = Vec::new();
    for (id, recipient) in due {
        match per_peer.last_mut() {
            Some((peer, ids)) if *peer == recipient => ids.push(id),
            _ => per_peer.push((recipient, vec![id])),
        }
    }
    let rounds = per_peer
        .into_iter()
        .map(|(peer, ids)| deliver_batch(app, peer, ids, lease_until));
    for result in futures_util::future::join_all(rounds).await {
        result?;
    }
    Ok(n)
}

/// One peer's claimed messages, in order; stops at the first that must be
/// retried (or before the claim could run out) and gives the rest back.
/// Small messages in a row travel together (`/federation/inbox/batch`);
/// a large one (or an attachment's manifest) alone.
async fn deliver_batch(
    app: &AppState,
    peer: String,
    ids: Vec<Uuid>,
    lease_until: OffsetDateTime,
) -> AppResult<()> {
    let result = deliver_in_order(app, &ids, lease_until).await;
    app.store.release_outbox(&peer, lease_until).await?;
    result
}

async fn deliver_in_order(
    app: &AppState,
    ids: &[Uuid],
    lease_until: OffsetDateTime,
) -> AppResult<()> {
    let mut next = 0;
    let mut batches = true;
    while next < ids.len() {
        let deadline = OffsetDateTime::now_utc() + DELIVERY_TIMEOUT + time::Duration::seconds(5);
        if deadline >= lease_until {
            break;
        }
        let group = if batches {
            gather(app, &ids[next..]).await?
        } else {
            Vec::new()
        };
        if group.len() < 2 {
            match deliver_one(app, ids[next], lease_until).await? {
                Outcome::Done => next += 1,
                Outcome::Retry => break,
            }
            continue;
        }
        match deliver_group(app, &group).await? {
            Grouped::Done => next += group.len(),
            // The rest waits for the next round.
            Grouped::Partly => break,
            // Each is given up on its own (`deliver_one`).
            Grouped::PeerRemoved => batches = false,
        }
    }
    Ok(())
}

async fn deliver_one(app: &AppState, id: Uuid, lease_until: OffsetDateTime) -> AppResult<Outcome> {
    // Read here, not when claimed: one envelope in memory at a time.
    let Some(mut m) = app
        .store
        .outbox_message(id)
        .await?
        .filter(|m| m.status == OutboxStatus::Pending)
    else {
        return Ok(Outcome::Done);
    };
    let now = OffsetDateTime::now_utc();
    let (message_id, recipient) = (m.message_id, m.recipient.clone());
    let recipient = recipient.as_str();
    let not_delivered = |reason: String| {
        let audit = not_delivered_audit(message_id, recipient, &reason);
        (reason, audit)
    };
    if m.expires_at <= now {
        let (reason, audit) = not_delivered(format!(
            "expired before delivery: {}",
            m.last_error
                .clone()
                .unwrap_or_else(|| "never attempted".into())
        ));
        tracing::warn!(message = %m.message_id, peer = %m.recipient, "message not delivered: expired");
        give_up(app, m.message_id, m.message_type, &reason, &audit).await?;
        return Ok(Outcome::Done);
    }
    let Some(peer) = app.store.peer(&m.recipient).await? else {
        let (reason, audit) = not_delivered("the peer was removed".into());
        give_up(app, m.message_id, m.message_type, &reason, &audit).await?;
        return Ok(Outcome::Done);
    };
    let target = format!("{}{INBOX_PATH}", peer.base_url);
    // Sent as read (not copied); `m` keeps everything else.
    let envelope = Delivery {
        target: &target,
        content_type: "application/json",
        body: std::mem::take(&mut m.envelope).into_bytes().into(),
    };
    let answer = deliver(app, &peer, &envelope).await;
    let attempts = m.attempts + 1;
    let retry = |error: String| async move {
        retry_later(app, message_id, recipient, attempts, &error).await
    };
    let text = match answer {
        Answer::Accepted(text) => text,
        Answer::WaitingForPeer(text) => {
            wait_for_peer(app, &m, &text).await?;
            return Ok(Outcome::Retry);
        }
        Answer::Refused(reason) => {
            let (reason, audit) = not_delivered(reason);
            tracing::warn!(message = %m.message_id, peer = %m.recipient, %reason, "message refused by the peer");
            give_up(app, m.message_id, m.message_type, &reason, &audit).await?;
            return Ok(Outcome::Done);
        }
        Answer::Retry(error) => {
            retry(error).await?;
            return Ok(Outcome::Retry);
        }
    };
    let key = PublicKey::parse(&peer.signing_key)
        .ok_or_else(|| AppError::Internal("pinned key unreadable".into()))?;
    let signed = serde_json::from_str::<SignedReceipt>(&text).ok();
    match delivery_receipt(signed, &key, m.message_id)? {
        Some(stored) => {
            // An attachment's manifest is in: its bytes follow, and only
            // then is the message delivered.
            if m.message_type == MessageKind::Attachment {
                // Pushing stops in time for the claim on this peer's
                // queue to be released before it runs out.
                let stop_by = lease_until - DELIVERY_TIMEOUT - time::Duration::seconds(5);
                match push(app, &peer, m.message_id, stop_by).await {
                    Ok(()) => {}
                    Err(PushError::Retry(error)) => {
                        retry(error).await?;
                        return Ok(Outcome::Retry);
                    }
                    Err(PushError::WaitingForPeer(text)) => {
                        wait_for_peer(app, &m, &text).await?;
                        return Ok(Outcome::Retry);
                    }
                    Err(PushError::Paused(progress)) => {
                        // Not a failure: the next round carries on at once.
                        let now = OffsetDateTime::now_utc();
                        app.store
                            .outbox_retry(message_id, m.attempts, now, &progress)
                            .await?;
                        return Ok(Outcome::Retry);
                    }
                    Err(PushError::Refused(reason)) => {
                        let (reason, audit) = not_delivered(reason);
                        tracing::warn!(message = %m.message_id, peer = %m.recipient, "attachment refused by the peer");
                        give_up(app, m.message_id, m.message_type, &reason, &audit).await?;
                        return Ok(Outcome::Done);
                    }
                }
            }
            app.store
                .outbox_delivered(m.message_id, &stored, OffsetDateTime::now_utc())
                .await?;
            Ok(Outcome::Done)
        }
        None => {
            retry("the receipt is missing or not signed by the peer".into()).await?;
            Ok(Outcome::Retry)
        }
    }
}

/// Runs deliveries: when woken (a message was queued) and every second.
pub fn start_worker(app: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = app.outbox_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            loop {
                match deliver_due(&app).await {
                    Ok(0) => break,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox delivery failed");
                        break;
                    }
                }
            }
        }
    })
}
