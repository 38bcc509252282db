//! What a peer's answer to a delivery says, read as the peer meant it: a
//! refusal is a refusal (given up with its reason), `unknown_sender` means
//! the peer has not added this node yet (wait for it), and only a peer out
//! of reach, busy or failing is tried again as such.
//!
//! A receiver may refuse a request from its headers alone (an unknown or
//! disabled sender, a body larger than it takes) and close the connection
//! without reading the body. The HTTP client may then fail writing the body
//! (broken pipe, connection reset) before it reads the answer already sent:
//! hyper hands over an answer read before the write fails, but not one
//! still unread when it does. `Expect: 100-continue` would settle it, but
//! hyper's client does not implement it (it sends the body at once and
//! skips informational answers; reqwest has no option for it). So when an
//! answer is lost so, or cut off, the request is sent once more with its
//! body held back a moment: a receiver that refuses from the headers
//! answers before the body leaves, and that answer is read; one that reads
//! the body gets it after the pause (a repeated envelope is answered with
//! its first receipt, nothing stored twice).

use std::time::Duration;

use axum::body::Bytes;
use entraide_federation::httpsig::{self, BodyBinding};
use entraide_federation::OutboxStatus;
use entraide_store::{OutboxMessage, Peer};
use reqwest::StatusCode;
use time::OffsetDateTime;

use super::signed::{problem_code, send_signed_bound};
use crate::app::state::AppState;

/// How `last_error` begins while a message waits for its peer to add this
/// node (read back to show "waiting for the peer to add us").
pub const WAITING_FOR_PEER: &str = "waiting_for_peer: ";

/// What an attempt to deliver came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Accepted: the answer's body (a receipt, or a batch's receipts).
    Accepted(String),
    /// The peer has not added this node yet: try again until it has, or
    /// until the message expires. The text to record.
    WaitingForPeer(String),
    /// Refused for good: the reason to record.
    Refused(String),
    /// Unreachable, busy or failing: the error to record.
    Retry(String),
}

/// Whether a message is pending because its peer has not added this node
/// yet.
pub fn waiting_for_peer(m: &OutboxMessage) -> bool {
    m.status == OutboxStatus::Pending
        && m.last_error
            .as_deref()
            .is_some_and(|e| e.starts_with(WAITING_FOR_PEER))
}

/// The text recorded while a message waits for `peer` to add this node.
pub(crate) fn waiting_text(peer: &str) -> String {
    format!("{WAITING_FOR_PEER}{peer} has not added this node as a peer yet (unknown_sender)")
}

/// How long the body is held back when a request is sent again after its
/// answer was lost: long enough for an early refusal to come back.
const HOLD: Duration = Duration::from_secs(2);

/// A request to deliver to a peer: POSTed with its body bound by its
/// `Content-Digest`, and sent again as it was if its answer is lost.
pub(crate) struct Delivery<'a> {
    pub(crate) target: &'a str,
    pub(crate) content_type: &'static str,
    pub(crate) body: Bytes,
}

/// Sends `d` to `peer` and reads the answer (once more, its body held
/// back, when the answer was lost).
pub(crate) async fn deliver(app: &AppState, peer: &Peer, d: &Delivery<'_>) -> Answer {
    let now = OffsetDateTime::now_utc();
    let binding = BodyBinding::ContentDigest;
    let method = reqwest::Method::POST;
    let result = send_signed_bound(
        app,
        binding,
        method,
        d.target,
        d.content_type,
        d.body.clone(),
        now,
    )
    .await;
    let (error, status) = match read(peer, result).await {
        Read::Answer(answer) => return answer,
        Read::Lost { error, status } => (error, status),
    };
    tracing::info!(peer = %peer.node_id, %error, "the answer was lost; sending again with the body held back");
    match read(peer, send_held(app, d).await).await {
        Read::Answer(answer) => answer,
        Read::Lost { status: again, .. } => match again.or(status) {
            // A refusal of which only the status came through. A node
            // answers another's signed request 403 only when it does not
            // know the sender: waited for, not given up.
            Some(StatusCode::FORBIDDEN) => refused(peer, "unknown_sender"),
            Some(status) => refused(peer, &status.to_string()),
            None => Answer::Retry(error),
        },
    }
}

/// Whether a status refuses for good (not 408 or 429, which ask to come
/// back later).
fn is_refusal(status: StatusCode) -> bool {
    status.is_client_error()
        && !matches!(
            status,
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
        )
}

/// What was read of an answer.
enum Read {
    Answer(Answer),
    /// Lost while the request was being sent, or cut off (with its status
    /// when that much was read).
    Lost {
        error: String,
        status: Option<StatusCode>,
    },
}

async fn read(peer: &Peer, result: Result<reqwest::Response, reqwest::Error>) -> Read {
    let res = match result {
        Ok(res) => res,
        // Nothing was sent, or the peer is slow: a network matter.
        Err(e) if e.is_connect() || e.is_timeout() => {
            return Read::Answer(Answer::Retry(format!(
                "cannot reach {}: {e}",
                peer.base_url
            )))
        }
        Err(e) => {
            return Read::Lost {
                error: format!("cannot reach {}: {e}", peer.base_url),
                status: None,
            }
        }
    };
    let status = res.status();
    match res.text().await {
        Ok(text) if status.is_success() => Read::Answer(Answer::Accepted(text)),
        Ok(text) if is_refusal(status) => Read::Answer(refused(peer, &problem_code(&text, status))),
        Ok(_) => Read::Answer(Answer::Retry(format!(
            "{} answered {status}",
            peer.base_url
        ))),
        Err(e) if status.is_success() || is_refusal(status) => Read::Lost {
            error: format!("{}'s answer was cut off: {e}", peer.base_url),
            status: is_refusal(status).then_some(status),
        },
        Err(e) => Read::Answer(Answer::Retry(format!(
            "{} answered {status}, cut off: {e}",
            peer.base_url
        ))),
    }
}

/// A refusal from `peer` with its code.
fn refused(peer: &Peer, code: &str) -> Answer {
    if code == "unknown_sender" {
        Answer::WaitingForPeer(waiting_text(&peer.node_id))
    } else {
        Answer::Refused(format!("refused by {}: {code}", peer.node_id))
    }
}

/// Sends `d` again, signed afresh, its body held back for `HOLD`: an answer
/// that comes before is read without the body being sent.
async fn send_held(app: &AppState, d: &Delivery<'_>) -> Result<reqwest::Response, reqwest::Error> {
    let now = OffsetDateTime::now_utc();
    let binding = BodyBinding::ContentDigest;
    let sig = httpsig::sign_bound(
        binding,
        app.identity.federation_key(now),
        app.settings.node_id.as_str(),
        "POST",
        d.target,
        &d.body,
        now.unix_timestamp(),
    );
    let body = d.body.clone();
    let len = body.len();
    let held = futures_util::stream::once(async move {
        tokio::time::sleep(HOLD).await;
        Ok::<_, std::io::Error>(body)
    });
    app.federation_client
        .post(d.target)
        .header("content-type", d.content_type)
        .header("content-length", len)
        .header(binding.header(), &sig.body_field)
        .header("signature-input", &sig.signature_input)
        .header("signature", &sig.signature)
        .body(reqwest::Body::wrap_stream(held))
        .send()
        .await
}
