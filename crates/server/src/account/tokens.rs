//! API tokens: who may create them, their lineage, revocation and the
//! list. Shared by the API, the account page and the command line; nothing
//! here knows HTTP.
//!
//! Who may create a token (`create_token_as`):
//! - in a **signed-in session**, anyone for themselves (administrators for
//!   anyone), provided the session passed the second factor wherever one
//!   applies (the organisation requires it, or the user has one): else
//!   `second_factor_required`;
//! - with an **API token**, administrators only, for themselves or for
//!   another user (how scripts provision accounts); everyone else gets
//!   `interactive_session_required`, so a stolen token cannot breed tokens.
//!   A token created with a token records it as its parent and dies with
//!   it: revoking a token revokes its descendants, and a token whose
//!   ancestor is revoked is refused even if that cascade was missed;
//! - at the **command line** (`create_token`), anyone: the operator holds
//!   the node's data directory and database already.

use entraide_domain::{AuditAction, AuditOutcome, Role};
use entraide_proto as proto;
use entraide_store::{ApiToken, Store, MAX_TOKEN_GENERATIONS};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::credentials;
use crate::app::error::{AppError, AppResult};
use crate::app::principal::Principal;
use crate::app::state::AppState;

/// How the one asking for a token proved who they are.
#[derive(Clone, Copy, Debug)]
pub enum Credential {
    /// A session signed in through the pages, and whether it passed the
    /// second factor.
    Session { second_factor_done: bool },
    /// An API bearer token.
    Token { id: Uuid },
}

pub fn token_view(t: &ApiToken) -> proto::TokenView {
    proto::TokenView {
        id: t.id,
        name: t.name.clone(),
        parent_token_id: t.parent_token_id,
        created_at: t.created_at,
        last_used_at: t.last_used_at,
        last_used_from: t.last_used_from.clone(),
        last_used_agent: t.last_used_agent.clone(),
        revoked_at: t.revoked_at,
    }
}

/// Creates a token for `owner` (the principal when `None`) if the way the
/// principal signed in allows it (see the module's rules); refusals are
/// audited. Returns the stored token and its secret (shown once).
pub async fn create_token_as(
    app: &AppState,
    principal: &Principal,
    credential: Credential,
    owner: Option<Uuid>,
    name: &str,
) -> AppResult<(ApiToken, String)> {
    let user = principal.signed_in()?;
    let is_admin = user.roles.contains(Role::Administrator);
    let owner = owner.unwrap_or(user.id);
    let refuse = |reason: &'static str, err: AppError| async move {
        let entry = principal
            .entry(AuditAction::TokenCreated, AuditOutcome::Denied)
            .detail(serde_json::json!({ "reason": reason, "for_user": owner }));
        app.store.append_audit(&entry).await?;
        Err::<(ApiToken, String), AppError>(err)
    };
    if owner != user.id && !is_admin {
        return refuse("token for another user", AppError::ForbiddenRole).await;
    }
    let parent = match credential {
        Credential::Token { .. } if !is_admin => {
            return refuse(
                "token without an interactive session",
                AppError::Forbidden {
                    code: "interactive_session_required",
                    detail: "tokens are created in a signed-in session (an API token may \
                             create tokens only for an administrator)"
                        .into(),
                },
            )
            .await;
        }
        Credential::Token { id } => Some(id),
        Credential::Session { second_factor_done } => {
            let org = app.store.own_organisation().await?;
            if (org.require_totp || user.totp_enabled) && !second_factor_done {
                return refuse(
                    "session without the second factor",
                    AppError::Forbidden {
                        code: "second_factor_required",
                        detail: "sign in again with your second factor to create tokens".into(),
                    },
                )
                .await;
            }
            None
        }
    };
    match insert_token(app.store.as_ref(), &principal.actor(), owner, name, parent).await? {
        Some(created) => Ok(created),
        None => {
            refuse(
                "token lineage closed",
                AppError::Forbidden {
                    code: "token_lineage_closed",
                    detail: format!(
                        "the token used is revoked or already descends from \
                         {MAX_TOKEN_GENERATIONS} tokens: create this one in a signed-in session"
                    ),
                },
            )
            .await
        }
    }
}

/// Creates a token for `user_id` without asking how the actor signed in:
/// for the command line (and the test kit), whose operator holds the
/// node's database. Returns the stored token and its secret (shown once).
pub async fn create_token(
    store: &dyn Store,
    actor: &Actor,
    user_id: Uuid,
    name: &str,
) -> AppResult<(ApiToken, String)> {
    insert_token(store, actor, user_id, name, None)
        .await?
        .ok_or_else(|| {
            AppError::Internal("a token without a parent had its lineage refused".into())
        })
}

/// Checks the name and the owner, then stores the token; `None` when the
/// store refused `parent`'s lineage (revoked, or too long).
async fn insert_token(
    store: &dyn Store,
    actor: &Actor,
    user_id: Uuid,
    name: &str,
    parent: Option<Uuid>,
) -> AppResult<Option<(ApiToken, String)>> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::Validation(vec![entraide_proto::FieldError {
            field: "name".into(),
            code: "invalid_token_name".into(),
            message: "give the token a name of 1 to 100 characters".into(),
        }]));
    }
    let user = store
        .user_by_id(user_id)
        .await?
        .ok_or(AppError::NotFound { what: "user" })?;
    if user.disabled {
        return Err(AppError::Conflict {
            code: "user_disabled",
            detail: format!("{} is disabled", user.email),
        });
    }
    let (secret, token_hash) = credentials::new_api_token();
    let token = ApiToken {
        id: Uuid::now_v7(),
        user_id,
        name: name.to_owned(),
        token_hash,
        parent_token_id: parent,
        created_at: OffsetDateTime::now_utc(),
        last_used_at: None,
        last_used_from: None,
        last_used_agent: None,
        revoked_at: None,
    };
    let audit = actor
        .entry(AuditAction::TokenCreated, AuditOutcome::Success)
        .target(format!("{} ({})", token.name, user.email))
        .detail(serde_json::json!({ "token_id": token.id, "parent_token_id": parent }));
    if store.create_token(&token, &audit).await? {
        Ok(Some((token, secret)))
    } else {
        Ok(None)
    }
}

/// Revokes the token and every token derived from it, in one transaction
/// with one audit entry listing them; returns the derived tokens revoked.
pub async fn revoke_token(
    store: &dyn Store,
    actor: &Actor,
    token: &ApiToken,
) -> AppResult<Vec<Uuid>> {
    let audit = |derived: &[Uuid]| {
        actor
            .entry(AuditAction::TokenRevoked, AuditOutcome::Success)
            .target(token.name.clone())
            .detail(serde_json::json!({ "token_id": token.id, "derived_tokens": derived }))
    };
    store
        .revoke_token(token.id, OffsetDateTime::now_utc(), &audit)
        .await?
        .ok_or_else(|| AppError::Conflict {
            code: "token_already_revoked",
            detail: "this token was already revoked".into(),
        })
}

/// Revokes a token of the user's own, or anyone's for an administrator;
/// someone else's token is "not found" to others.
pub async fn revoke_token_by_id(
    app: &AppState,
    principal: &Principal,
    id: Uuid,
) -> AppResult<Vec<Uuid>> {
    let token = app.store.token_by_id(id).await?;
    let token = token
        .filter(|t| {
            Some(t.user_id) == principal.user_id()
                || principal.roles().contains(Role::Administrator)
        })
        .ok_or(AppError::NotFound { what: "token" })?;
    revoke_token(app.store.as_ref(), &principal.actor(), &token).await
}

/// The user's API tokens, revoked ones included.
pub async fn tokens(app: &AppState, principal: &Principal) -> AppResult<Vec<proto::TokenView>> {
    let user = principal.signed_in()?;
    Ok(app
        .store
        .tokens_for_user(user.id)
        .await?
        .iter()
        .map(token_view)
        .collect())
}
