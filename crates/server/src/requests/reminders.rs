//! Deadline reminders posted to a webhook (a chat room, a ticketing system,
//! the 24/7 desk's alerting), once per request, by one replica only. The
//! payload names the request, not its content.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

use entraide_domain::{AuditAction, AuditOutcome};

use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::error::AppResult;
use crate::app::state::AppState;

/// Sends the reminders that fall due; returns how many were delivered.
/// A failed delivery is released and tried again at the next sweep.
pub async fn send_due(app: &AppState, now: OffsetDateTime) -> AppResult<usize> {
    let Some(cfg) = app.settings.reminders.clone() else {
        return Ok(0);
    };
    let claimed = app.store.claim_reminders(now, now + cfg.lead).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| crate::app::error::AppError::Internal(format!("HTTP client: {e}")))?;
    let node = Actor {
        id: None,
        label: "node".into(),
        client_ip: None,
        request_id: None,
    };
    let mut delivered = 0;
    for r in claimed {
        let rfc = |t: OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        let body = serde_json::json!({
            "event": "deadline.due_soon",
            "node": app.settings.node_id.as_str(),
            "request_id": r.id,
            "reference": r.reference,
            "kind": r.kind.as_str(),
            "state": r.state.as_str(),
            "counterpart": r.counterpart,
            "deadline": r.deadline_due.map(rfc),
            "deadline_source": r.deadline_source,
            "url": app.settings.public_url.as_deref().map(|b| format!("{}/requests/{}", b.trim_end_matches('/'), r.id)),
        })
        .to_string();
        let mut req = client
            .post(&cfg.webhook_url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(secret) = &cfg.webhook_secret {
            if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
                mac.update(body.as_bytes());
                let signature = hex::encode(mac.finalize().into_bytes());
                req = req.header("x-entraide-signature", format!("sha256={signature}"));
            }
        }
        let outcome = req.body(body).send().await;
        let ok = matches!(&outcome, Ok(res) if res.status().is_success());
        let entry = node
            .entry(
                AuditAction::RequestTransition,
                if ok {
                    AuditOutcome::Success
                } else {
                    AuditOutcome::Failure
                },
            )
            .on_case(r.case_id)
            .target(r.reference.clone())
            .detail(serde_json::json!({ "reminder": if ok { "sent" } else { "failed" } }));
        app.store.append_audit(&entry).await?;
        if ok {
            delivered += 1;
        } else {
            tracing::warn!(reference = %r.reference, "deadline reminder not delivered; will retry");
            app.store.release_reminder(r.id).await?;
        }
    }
    Ok(delivered)
}
