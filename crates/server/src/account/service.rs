//! A user's own account: signing in (password, lockout, second factor),
//! sessions, password, API tokens, TOTP enrolment and preferences. Shared
//! by the API, the pages and the command line; nothing here knows HTTP.

use entraide_domain::{AuditAction, AuditOutcome, Email, Locale, NewPassword};
use entraide_proto as proto;
use entraide_store::{Session, Store, User};
use time::OffsetDateTime;

use crate::admin::service::{organisation_view, roles_list};
use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::credentials::{self, hash_password, verify_password};
use crate::app::error::{AppError, AppResult};
use crate::app::principal::{Principal, RequestContext};
use crate::app::state::AppState;

// ---------------------------------------------------------------- signing in

/// Outcome of checking a password: shared by the UI and the tests.
pub enum PasswordCheck {
    Accepted(Box<User>),
    Refused(AppError),
}

/// Checks e-mail and password with throttling per address and lockout per
/// account; every outcome is audited.
pub async fn check_password(
    app: &AppState,
    ctx: &RequestContext,
    email: &str,
    password: &str,
) -> AppResult<PasswordCheck> {
    let throttle_key = ctx.client_ip.clone().unwrap_or_default();
    if let Err(retry_after) = app.sign_in_throttle.hit(&throttle_key) {
        let entry = ctx
            .anonymous_actor()
            .entry(AuditAction::SignInFailed, AuditOutcome::Denied)
            .target(email.chars().take(254).collect::<String>())
            .detail(serde_json::json!({ "reason": "throttled" }));
        app.store.append_audit(&entry).await?;
        return Ok(PasswordCheck::Refused(AppError::TooManyAttempts {
            retry_after,
        }));
    }
    let user = match Email::parse(email) {
        Ok(e) => app.store.user_by_email(&e).await?,
        Err(_) => None,
    };
    let Some(user) = user else {
        // Same work as a real check, so timing does not reveal accounts.
        verify_password((*app.decoy_hash).clone(), password.to_owned()).await?;
        let entry = ctx
            .anonymous_actor()
            .entry(AuditAction::SignInFailed, AuditOutcome::Failure)
            .target(email.chars().take(254).collect::<String>())
            .detail(serde_json::json!({ "reason": "unknown account" }));
        app.store.append_audit(&entry).await?;
        return Ok(PasswordCheck::Refused(AppError::InvalidCredentials));
    };
    let now = OffsetDateTime::now_utc();
    let actor = signed_in_actor(&user, ctx);
    if app.settings.lockout.is_locked(user.locked_until, now) {
        let entry = actor
            .entry(AuditAction::SignInFailed, AuditOutcome::Denied)
            .detail(serde_json::json!({ "reason": "locked" }));
        app.store.append_audit(&entry).await?;
        return Ok(PasswordCheck::Refused(AppError::AccountLocked));
    }
    let ok = verify_password(user.password_hash.clone(), password.to_owned()).await?;
    if !ok || user.disabled {
        record_failure(
            app,
            &actor,
            &user,
            if user.disabled {
                "disabled"
            } else {
                "wrong password"
            },
        )
        .await?;
        return Ok(PasswordCheck::Refused(AppError::InvalidCredentials));
    }
    Ok(PasswordCheck::Accepted(Box::new(user)))
}

/// Counts a failed attempt (password or second factor) towards lockout.
pub async fn record_failure(
    app: &AppState,
    actor: &Actor,
    user: &User,
    reason: &str,
) -> AppResult<()> {
    let now = OffsetDateTime::now_utc();
    // A lock that has run out starts a fresh count.
    let previous = if user.locked_until.is_some_and(|t| t <= now) {
        0
    } else {
        user.failed_sign_ins
    };
    let outcome = app.settings.lockout.after_failure(previous, now);
    let action = if reason == "wrong code" {
        AuditAction::SecondFactorFailed
    } else {
        AuditAction::SignInFailed
    };
    let entry = actor
        .entry(action, AuditOutcome::Failure)
        .detail(serde_json::json!({ "reason": reason, "failures": previous + 1 }));
    app.store
        .record_sign_in_failure(
            user.id,
            outcome.failures,
            outcome
                .locked_until
                .or(user.locked_until.filter(|t| *t > now)),
            &entry,
        )
        .await?;
    if outcome.locked_until.is_some() {
        let entry = actor.entry(AuditAction::LockedOut, AuditOutcome::Denied);
        app.store.append_audit(&entry).await?;
    }
    Ok(())
}

/// The audit actor of someone whose password was accepted, before the
/// session (and so the signed-in principal) exists.
pub fn signed_in_actor(user: &User, ctx: &RequestContext) -> Actor {
    Actor {
        id: Some(user.id),
        label: user.email.to_string(),
        client_ip: ctx.client_ip.clone(),
        request_id: ctx.request_id.clone(),
    }
}

/// Starts a server-side session; returns its secret, which only the
/// browser keeps (the store holds its hash).
pub async fn start_session(
    app: &AppState,
    ctx: &RequestContext,
    user: &User,
    second_factor_pending: bool,
) -> AppResult<String> {
    let raw = credentials::random_token(32);
    let now = OffsetDateTime::now_utc();
    let session = Session {
        id_hash: credentials::sha256_hex(&raw),
        user_id: user.id,
        csrf_token: credentials::random_token(32),
        second_factor_pending,
        // Passed later, if at all: `complete_second_factor` records it.
        second_factor_done: false,
        created_at: now,
        last_seen_at: now,
        client_ip: ctx.client_ip.clone(),
    };
    app.store.create_session(&session).await?;
    Ok(raw)
}

/// Ends a session (when signed in through one) and audits the sign-out.
pub async fn sign_out(
    app: &AppState,
    principal: &Principal,
    session_id_hash: Option<&str>,
) -> AppResult<()> {
    if let Some(id_hash) = session_id_hash {
        app.store.delete_session(id_hash).await?;
    }
    app.store
        .append_audit(
            &principal
                .actor()
                .entry(AuditAction::SignOut, AuditOutcome::Success),
        )
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- second factor

pub async fn start_totp_enrolment(app: &AppState, user: &User) -> AppResult<proto::TotpEnrolment> {
    if user.totp_enabled {
        return Err(AppError::Conflict {
            code: "totp_already_enabled",
            detail: "a second factor is already enabled for this account".into(),
        });
    }
    let secret = credentials::new_totp_secret();
    app.store.set_pending_totp_secret(user.id, &secret).await?;
    let org = app.store.own_organisation().await?;
    let issuer = format!("Entraide {}", org.node_id);
    let otpauth_uri = credentials::totp_uri(&secret, user.email.as_str(), &issuer)?;
    Ok(proto::TotpEnrolment {
        secret,
        otpauth_uri,
    })
}

/// The enrolment to show someone without a second factor yet: the secret
/// already shown if there is one, else a new one.
pub async fn enrolment_for(app: &AppState, user: &User) -> AppResult<Option<proto::TotpEnrolment>> {
    if user.totp_enabled {
        return Ok(None);
    }
    // Keep a secret already shown, so a reload does not invalidate it.
    if let Some(secret) = user.totp_secret.clone() {
        let org = app.store.own_organisation().await?;
        let uri = credentials::totp_uri(
            &secret,
            user.email.as_str(),
            &format!("Entraide {}", org.node_id),
        )?;
        return Ok(Some(proto::TotpEnrolment {
            secret,
            otpauth_uri: uri,
        }));
    }
    Ok(Some(start_totp_enrolment(app, user).await?))
}

/// Checks a code against `user`'s TOTP secret and consumes its time step.
pub async fn check_totp(app: &AppState, user: &User, code: &str) -> AppResult<bool> {
    let Some(secret) = user.totp_secret.as_deref() else {
        return Ok(false);
    };
    let now = u64::try_from(OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0);
    match credentials::verify_totp(secret, code, now)? {
        Some(step) => Ok(app
            .store
            .consume_totp_step(user.id, i64::try_from(step).unwrap_or(i64::MAX))
            .await?),
        None => Ok(false),
    }
}

pub async fn confirm_totp(app: &AppState, user: &User, actor: &Actor, code: &str) -> AppResult<()> {
    if user.totp_enabled {
        return Err(AppError::Conflict {
            code: "totp_already_enabled",
            detail: "a second factor is already enabled for this account".into(),
        });
    }
    if user.totp_secret.is_none() {
        return Err(AppError::Conflict {
            code: "totp_not_started",
            detail: "start the enrolment first".into(),
        });
    }
    if !check_totp(app, user, code).await? {
        let entry = actor.entry(AuditAction::SecondFactorFailed, AuditOutcome::Failure);
        app.store.append_audit(&entry).await?;
        return Err(AppError::InvalidSecondFactor);
    }
    let entry = actor.entry(AuditAction::TotpEnrolled, AuditOutcome::Success);
    app.store.enable_totp(user.id, &entry).await?;
    Ok(())
}

// ---------------------------------------------------------------- the account

/// The signed-in user and their organisation.
pub async fn me(app: &AppState, principal: &Principal) -> AppResult<proto::Me> {
    let org = app.store.own_organisation().await?;
    let u = principal.signed_in()?;
    Ok(proto::Me {
        id: u.id,
        email: u.email.to_string(),
        display_name: u.display_name.to_string(),
        roles: roles_list(u.roles),
        totp_enabled: u.totp_enabled,
        locale: u.locale.clone(),
        organisation: organisation_view(&org),
    })
}

/// Changes a user's own password after checking the current one; their
/// other sessions end.
pub async fn change_password(
    store: &dyn Store,
    actor: &Actor,
    user: &User,
    current: &str,
    new: NewPassword,
    keep_session: Option<&str>,
) -> AppResult<()> {
    if !verify_password(user.password_hash.clone(), current.to_owned()).await? {
        let entry = actor
            .entry(AuditAction::PasswordChanged, AuditOutcome::Failure)
            .detail(serde_json::json!({ "reason": "wrong current password" }));
        store.append_audit(&entry).await?;
        return Err(AppError::Validation(vec![entraide_proto::FieldError {
            field: "current".into(),
            code: "wrong_password".into(),
            message: "the current password is wrong".into(),
        }]));
    }
    let hash = hash_password(new).await?;
    let entry = actor.entry(AuditAction::PasswordChanged, AuditOutcome::Success);
    store
        .set_password_hash(user.id, &hash, keep_session, &entry)
        .await?;
    Ok(())
}

/// Records the user's interface language.
pub async fn set_locale(app: &AppState, principal: &Principal, locale: Locale) -> AppResult<()> {
    let user = principal.signed_in()?;
    app.store.set_locale(user.id, locale.as_str()).await?;
    app.store
        .append_audit(
            &principal
                .actor()
                .entry(AuditAction::UserPreferencesChanged, AuditOutcome::Success)
                .detail(serde_json::json!({ "locale": locale.as_str() })),
        )
        .await?;
    Ok(())
}

/// Stores the hash of the user's new calendar key, or removes the key
/// (`None`); either is audited.
pub async fn set_calendar_key(
    app: &AppState,
    principal: &Principal,
    key_hash: Option<&str>,
) -> AppResult<()> {
    let user = principal.signed_in()?;
    let entry = principal
        .actor()
        .entry(AuditAction::UserPreferencesChanged, AuditOutcome::Success)
        .detail(
            serde_json::json!({ "calendar": if key_hash.is_none() { "removed" } else { "created" } }),
        );
    app.store
        .set_calendar_key(user.id, key_hash, &entry)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- API tokens

// The token operations live in `tokens.rs`; the command line and the test
// kit reach them here, as before.
pub use crate::account::tokens::{
    create_token, revoke_token, revoke_token_by_id, token_view, tokens,
};
