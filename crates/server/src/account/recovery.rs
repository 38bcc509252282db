//! Getting back into an account: a password reset link sent by e-mail
//! (where SMTP is configured), and the new password a user must choose
//! after an administrator reset theirs. Nothing here knows HTTP.
//!
//! Asking for a link always gets the same answer, whether or not the
//! address belongs to an account, and the work is done after the answer:
//! neither the page nor its timing tells who has an account. Requests are
//! limited per client address (in memory, `AppState::reset_throttle`) and
//! per account (links made in the last hour, in the database, so across
//! replicas). A link holds 32 random bytes, is stored as their SHA-256,
//! works once and for 30 minutes; using it ends the user's sessions.

use entraide_domain::{AuditAction, AuditOutcome, Email, Locale, NewPassword};
use entraide_store::{PasswordReset, Store, User};
use time::OffsetDateTime;

use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::credentials::{self, hash_password};
use crate::app::error::{AppError, AppResult};
use crate::app::i18n::Tr;
use crate::app::principal::RequestContext;
use crate::app::state::AppState;

/// How long a reset link works.
pub const LINK_LIFETIME: time::Duration = time::Duration::minutes(30);
/// Reset requests accepted per client address and hour.
pub const RESETS_PER_ADDRESS_AND_HOUR: u32 = 10;
/// Links sent to one account per hour: more requests send nothing (and
/// are answered the same).
pub const RESETS_PER_ACCOUNT_AND_HOUR: u64 = 3;

/// Whether the node can send mail, so offers a reset by e-mail.
pub fn offered(app: &AppState) -> bool {
    app.settings.smtp.is_some()
}

/// Counts a request from the client's address: `Err(seconds to wait)` over
/// the limit. The only answer that differs, and it depends on the address
/// alone, never on the e-mail given.
pub fn admit(app: &AppState, ctx: &RequestContext) -> Result<(), u64> {
    app.reset_throttle
        .hit(ctx.client_ip.as_deref().unwrap_or_default())
}

/// Sends a reset link to `email` if it is an enabled account's and the
/// account has not had too many lately; audits what happened either way.
/// Meant to run after the answer was given (`tokio::spawn`).
pub async fn request_link(
    app: &AppState,
    ctx: &RequestContext,
    email: &str,
    locale: Locale,
) -> AppResult<()> {
    let actor = ctx.anonymous_actor();
    let target: String = email.trim().chars().take(254).collect();
    let refuse = |outcome: AuditOutcome, reason: &str| {
        actor
            .entry(AuditAction::PasswordResetRequested, outcome)
            .target(target.clone())
            .detail(serde_json::json!({ "reason": reason }))
    };
    let user = match Email::parse(email.trim()) {
        Ok(e) => app.store.user_by_email(&e).await?,
        Err(_) => None,
    };
    let Some(user) = user else {
        return Ok(app
            .store
            .append_audit(&refuse(AuditOutcome::Failure, "unknown account"))
            .await?);
    };
    if user.disabled {
        return Ok(app
            .store
            .append_audit(&refuse(AuditOutcome::Denied, "disabled"))
            .await?);
    }
    let now = OffsetDateTime::now_utc();
    let secret = credentials::random_token(32);
    let reset = PasswordReset {
        token_hash: credentials::sha256_hex(&secret),
        user_id: user.id,
        created_at: now,
        expires_at: now + LINK_LIFETIME,
        used_at: None,
    };
    let link = format!("{}/signin/reset?token={secret}", base_url(app));
    // The mail in the user's language; else the one they asked in.
    let tr = Tr::new(
        app.i18n.clone(),
        user.locale
            .as_deref()
            .and_then(Locale::parse)
            .unwrap_or(locale),
    );
    let org = app.store.own_organisation().await?;
    let minutes = LINK_LIFETIME.whole_minutes().to_string();
    let subject = tr.t1("mail-reset-subject", "node", org.node_id.as_str());
    let body = tr.t_args(
        "mail-reset-body",
        &[
            ("name", user.display_name.to_string()),
            ("node", org.node_id.to_string()),
            ("link", link),
            ("minutes", minutes),
        ],
    );
    let mail = crate::app::mailer::new_mail(
        "password_reset",
        user.email.as_str(),
        subject,
        body,
        reset.expires_at,
    );
    let entry = actor
        .entry(AuditAction::PasswordResetRequested, AuditOutcome::Success)
        .target(user.email.as_str())
        .detail(
            serde_json::json!({ "mail": mail.id, "expires_at": reset.expires_at.unix_timestamp() }),
        );
    let made = app
        .store
        .create_password_reset(
            &reset,
            &mail,
            &entry,
            now - time::Duration::hours(1),
            RESETS_PER_ACCOUNT_AND_HOUR,
        )
        .await?;
    if !made {
        return Ok(app
            .store
            .append_audit(&refuse(AuditOutcome::Denied, "too many links"))
            .await?);
    }
    app.mail_wake.notify_one();
    Ok(())
}

/// Where links point: the configured public address, else the address the
/// node listens on. Never the request's `Host`: whoever asks for a link
/// must not choose where it sends the secret.
fn base_url(app: &AppState) -> String {
    app.settings
        .public_url
        .clone()
        .or_else(|| app.bound.get().cloned())
        .unwrap_or_else(|| format!("http://{}", app.settings.listen))
        .trim_end_matches('/')
        .to_owned()
}

/// The link's secret as given (bounded: it is 43 characters).
fn token_hash(secret: &str) -> Option<String> {
    let s = secret.trim();
    (!s.is_empty() && s.len() <= 100).then(|| credentials::sha256_hex(s))
}

/// Whether a link still works (for showing its form; using it checks
/// again, atomically).
pub async fn link_works(store: &dyn Store, secret: &str) -> AppResult<bool> {
    let Some(hash) = token_hash(secret) else {
        return Ok(false);
    };
    let now = OffsetDateTime::now_utc();
    Ok(store
        .password_reset(&hash)
        .await?
        .is_some_and(|r| r.used_at.is_none() && r.expires_at > now))
}

/// Sets a new password with a link: once, before it expires, for an
/// enabled account. Ends the user's sessions; audited.
pub async fn reset_with_link(
    store: &dyn Store,
    ctx: &RequestContext,
    secret: &str,
    new: NewPassword,
) -> AppResult<()> {
    let invalid = || AppError::BadRequest {
        code: "reset_link_invalid",
        detail: "this link has expired or was already used; ask for a new one".into(),
    };
    let hash = token_hash(secret).ok_or_else(invalid)?;
    let now = OffsetDateTime::now_utc();
    let Some(reset) = store.password_reset(&hash).await? else {
        return Err(invalid());
    };
    let user = store
        .user_by_id(reset.user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(invalid)?;
    if reset.used_at.is_some() || reset.expires_at <= now {
        return Err(invalid());
    }
    let password_hash = hash_password(new).await?;
    let entry =
        user_actor(&user, ctx).entry(AuditAction::PasswordResetByLink, AuditOutcome::Success);
    if !store
        .complete_password_reset(&hash, OffsetDateTime::now_utc(), &password_hash, &entry)
        .await?
    {
        return Err(invalid());
    }
    Ok(())
}

/// The user, as the audit log names them, acting from the request.
fn user_actor(user: &User, ctx: &RequestContext) -> Actor {
    Actor {
        id: Some(user.id),
        label: user.email.to_string(),
        client_ip: ctx.client_ip.clone(),
        request_id: ctx.request_id.clone(),
    }
}

/// The new password of a user whose password an administrator reset
/// (they signed in with it just now): other sessions end, this one then
/// admits everything the user may do.
pub async fn choose_required_password(
    store: &dyn Store,
    ctx: &RequestContext,
    user: &User,
    new: NewPassword,
    keep_session: &str,
) -> AppResult<()> {
    if !user.must_change_password {
        return Err(AppError::Conflict {
            code: "password_change_not_required",
            detail: "no password change is required".into(),
        });
    }
    // The temporary password again is no new password.
    if credentials::verify_password(user.password_hash.clone(), new.expose().to_owned()).await? {
        return Err(AppError::Validation(vec![entraide_proto::FieldError {
            field: "new".into(),
            code: "password_unchanged".into(),
            message: "choose a password other than the temporary one".into(),
        }]));
    }
    let hash = hash_password(new).await?;
    let entry = user_actor(user, ctx)
        .entry(AuditAction::PasswordChanged, AuditOutcome::Success)
        .detail(serde_json::json!({ "required": true }));
    store
        .set_password_hash(user.id, &hash, Some(keep_session), &entry)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::app::i18n::I18n;

    #[test]
    fn the_reset_mail_reads_well_in_every_language() {
        let i18n = Arc::new(I18n::load().unwrap());
        let link = "https://node.example/signin/reset?token=abc";
        let mut subjects = Vec::new();
        for locale in [Locale::En, Locale::Fr, Locale::Es] {
            let tr = Tr::new(i18n.clone(), locale);
            let body = tr.t_args(
                "mail-reset-body",
                &[
                    ("name", "Ana".into()),
                    ("node", "fr-node".into()),
                    ("link", link.into()),
                    ("minutes", "30".into()),
                ],
            );
            // The link alone on its line (mail clients make it clickable),
            // paragraphs kept apart.
            assert!(
                body.contains(&format!("\n\n{link}\n\n")),
                "{locale:?}: {body}"
            );
            assert!(body.contains("Ana") && body.contains("30"), "{body}");
            subjects.push(tr.t1("mail-reset-subject", "node", "fr-node"));
        }
        subjects.dedup();
        assert_eq!(subjects.len(), 3, "{subjects:?}");
    }
}
