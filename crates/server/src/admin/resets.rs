//! Unsticking an account: an administrator (or an operator at the command
//! line) resets a user's password or second factor. Both end the user's
//! sessions and are audited. The user's API tokens are separate
//! credentials and keep working: revoke them separately if they may be
//! compromised too. Shared by the API, the pages and the command line;
//! nothing here knows HTTP.

use entraide_domain::{AuditAction, AuditOutcome, NewPassword};
use entraide_store::{Store, StoreError};
use rand::Rng;
use uuid::Uuid;

use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::credentials::hash_password;
use crate::app::error::{AppError, AppResult};

/// A password to give a user by another channel, valid until they choose
/// their own: 20 characters from an alphabet without look-alikes (about
/// 115 bits).
pub fn temporary_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

fn not_self(actor: &Actor, user_id: Uuid) -> AppResult<()> {
    // Administrators change their own password on their account page; the
    // command line (no user) may reset anyone's, a lone administrator's too.
    if actor.id == Some(user_id) {
        return Err(AppError::Conflict {
            code: "cannot_reset_self",
            detail: "you cannot reset your own account: use your account page".into(),
        });
    }
    Ok(())
}

fn not_found(e: StoreError) -> AppError {
    match e {
        StoreError::NotFound => AppError::NotFound { what: "user" },
        e => e.into(),
    }
}

/// Resets a user's password to `chosen`, or to a generated temporary one
/// (returned, to be shown once). The user must choose a new password at
/// next sign-in; their sessions end, a lock is lifted, their reset links
/// are voided.
pub async fn reset_password(
    store: &dyn Store,
    actor: &Actor,
    user_id: Uuid,
    chosen: Option<NewPassword>,
) -> AppResult<Option<String>> {
    not_self(actor, user_id)?;
    let user = store
        .user_by_id(user_id)
        .await?
        .ok_or(AppError::NotFound { what: "user" })?;
    let (password, shown) = match chosen {
        Some(p) => (p, None),
        None => {
            let generated = temporary_password();
            let parsed = NewPassword::parse(&generated)
                .map_err(|e| AppError::Internal(format!("temporary password: {e}")))?;
            (parsed, Some(generated))
        }
    };
    let hash = hash_password(password).await?;
    let entry = actor
        .entry(AuditAction::PasswordReset, AuditOutcome::Success)
        .target(user.email.as_str())
        .detail(serde_json::json!({ "generated": shown.is_some() }));
    store
        .set_temporary_password(user.id, &hash, &entry)
        .await
        .map_err(not_found)?;
    Ok(shown)
}

/// Removes a user's second factor: they enrol again at next sign-in where
/// the organisation requires one. Their sessions end.
pub async fn reset_second_factor(store: &dyn Store, actor: &Actor, user_id: Uuid) -> AppResult<()> {
    not_self(actor, user_id)?;
    let user = store
        .user_by_id(user_id)
        .await?
        .ok_or(AppError::NotFound { what: "user" })?;
    if !user.totp_enabled && user.totp_secret.is_none() {
        return Err(AppError::Conflict {
            code: "no_second_factor",
            detail: format!("{} has no second factor to reset", user.email),
        });
    }
    let entry = actor
        .entry(AuditAction::SecondFactorReset, AuditOutcome::Success)
        .target(user.email.as_str())
        .detail(serde_json::json!({ "was_enabled": user.totp_enabled }));
    store
        .reset_second_factor(user.id, &entry)
        .await
        .map_err(not_found)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_passwords_pass_the_policy_and_differ() {
        let a = temporary_password();
        assert!(NewPassword::parse(&a).is_ok());
        assert_ne!(a, temporary_password());
    }
}
