//! Requests from other nodes refused at the gate (`gate`), before their
//! sender is authenticated or their body read: audited in summary — the
//! first of an address and reason at once, the rest counted and written
//! once per interval (`app::refusals`) — so that a stranger cannot have
//! the node write a row per attempt.

use axum::http::HeaderMap;
use entraide_federation::httpsig;
use time::OffsetDateTime;

use super::signed::refusal_text;
use crate::app::error::AppError;
use crate::app::refusals::Refusal;
use crate::app::state::AppState;

/// Seen signatures are kept this long past their expiry, for replicas
/// whose clocks are behind.
const SEEN_MARGIN: time::Duration = time::Duration::seconds(httpsig::CLOCK_SKEW_SECONDS);

/// Counts a refusal, writing what is due (see `app::refusals`). A store
/// that fails is logged: the refusal is answered all the same.
pub(crate) async fn note(
    app: &AppState,
    client: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    error: &AppError,
) {
    let (_, code) = error.status_and_code();
    let keyid = headers
        .get("signature-input")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpsig::keyid(v).ok())
        .unwrap_or_else(|| "unknown".into());
    let detail = refusal_text(error);
    let refusal = Refusal {
        action: entraide_domain::AuditAction::MessageRefused,
        address: client,
        code,
        keyid: &keyid,
        detail: &detail,
    };
    let interval = app.settings.federation.refusal_summary_interval;
    tracing::debug!(client = ?client, code, "request from another node refused");
    for entry in app.refusals.note(&refusal, interval) {
        tracing::warn!(detail = %entry.detail, "requests from another node refused");
        if let Err(e) = app.store.append_audit(&entry).await {
            tracing::error!(error = %e, "a refused request could not be audited");
        }
    }
}

/// Every minute (`node.rs`): the refusals counted over an interval that
/// has ended are written, one row per address and reason; signatures past
/// their expiry are forgotten.
pub async fn sweep(app: &AppState, now: OffsetDateTime) {
    let interval = app.settings.federation.refusal_summary_interval;
    if let Err(e) = app
        .refusals
        .flush(app.store.as_ref(), interval, false)
        .await
    {
        tracing::warn!(error = %e, "writing the summary of refused requests failed");
    }
    if let Err(e) = app.store.forget_signatures_expired(now - SEEN_MARGIN).await {
        tracing::warn!(error = %e, "forgetting expired request signatures failed");
    }
}
