//! Operations shared by the HTTP API, the web UI and the command line: the
//! application layer between the thin front ends and the store. Each one
//! parses nothing (its inputs are domain values already), checks the rules
//! of the domain, and writes the change together with its audit entry.

use entraide_domain::{
    AuditAction, AuditOutcome, CaseReference, CaseStatus, CaseSummary, CaseTitle, CountryCode,
    DisplayName, Email, NewPassword, NodeId, OrganisationKind, OrganisationName, RoleSet,
};
use entraide_store::{ApiToken, Case, NewAuditEntry, NewUser, Organisation, Store, StoreError};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth;
use crate::error::{AppError, AppResult};

/// Who does something, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<Uuid>,
    pub label: String,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
}

impl Actor {
    /// An operator at the node's command line.
    pub fn command_line() -> Self {
        let who = std::env::var("USER").unwrap_or_else(|_| "operator".into());
        Self {
            id: None,
            label: format!("cli:{who}"),
            client_ip: None,
            request_id: None,
        }
    }

    /// The node itself, a peer node or an operator: no user id, no address.
    pub fn labelled(label: String) -> Self {
        Self {
            id: None,
            label,
            client_ip: None,
            request_id: None,
        }
    }

    pub fn anonymous(client_ip: Option<String>, request_id: Option<String>) -> Self {
        Self {
            id: None,
            label: "anonymous".into(),
            client_ip,
            request_id,
        }
    }

    pub fn entry(&self, action: AuditAction, outcome: AuditOutcome) -> NewAuditEntry {
        NewAuditEntry {
            at: OffsetDateTime::now_utc(),
            actor_id: self.id,
            actor: self.label.clone(),
            action,
            outcome,
            case_id: None,
            target: None,
            client_ip: self.client_ip.clone(),
            request_id: self.request_id.clone(),
            detail: "{}".into(),
        }
    }
}

pub trait AuditEntryExt {
    fn on_case(self, case_id: Uuid) -> Self;
    fn target(self, target: impl Into<String>) -> Self;
    fn detail(self, detail: serde_json::Value) -> Self;
}

impl AuditEntryExt for NewAuditEntry {
    fn on_case(mut self, case_id: Uuid) -> Self {
        self.case_id = Some(case_id);
        self
    }
    fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
    fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail.to_string();
        self
    }
}

/// Argon2id is deliberately slow: keep it off the async workers.
pub async fn hash_password(password: NewPassword) -> AppResult<String> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(format!("hashing task failed: {e}")))?
}

pub async fn verify_password(hash: String, candidate: String) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || auth::verify_password(&hash, &candidate))
        .await
        .map_err(|e| AppError::Internal(format!("verification task failed: {e}")))
}

pub struct NewNode {
    pub node_id: NodeId,
    pub org_name: OrganisationName,
    pub org_kind: OrganisationKind,
    pub country: CountryCode,
    pub admin_email: Email,
    pub admin_name: DisplayName,
    pub admin_password: NewPassword,
}

/// Creates the node's organisation and its first administrator.
pub async fn initialise_node(store: &dyn Store, node: NewNode) -> AppResult<Uuid> {
    match store.own_organisation().await {
        Ok(_) => {
            return Err(AppError::Conflict {
                code: "node_exists",
                detail: "this database already holds a node".into(),
            })
        }
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    let now = OffsetDateTime::now_utc();
    store
        .create_own_organisation(&Organisation {
            id: Uuid::now_v7(),
            node_id: node.node_id,
            name: node.org_name,
            kind: node.org_kind,
            country: node.country,
            require_totp: false,
            created_at: now,
        })
        .await?;
    create_user(
        store,
        &Actor::command_line(),
        node.admin_email,
        node.admin_name,
        node.admin_password,
        RoleSet::of(&[entraide_domain::Role::Administrator]),
    )
    .await
}

pub async fn create_user(
    store: &dyn Store,
    actor: &Actor,
    email: Email,
    display_name: DisplayName,
    password: NewPassword,
    roles: RoleSet,
) -> AppResult<Uuid> {
    if store.user_by_email(&email).await?.is_some() {
        return Err(AppError::Conflict {
            code: "email_taken",
            detail: format!("a user with e-mail {email} already exists"),
        });
    }
    let id = Uuid::now_v7();
    let password_hash = hash_password(password).await?;
    let audit = actor
        .entry(AuditAction::UserCreated, AuditOutcome::Success)
        .target(email.as_str())
        .detail(serde_json::json!({ "roles": roles.to_list() }));
    let user = NewUser {
        id,
        email,
        display_name,
        password_hash,
        roles,
        created_at: OffsetDateTime::now_utc(),
    };
    match store.create_user(&user, &audit).await {
        Ok(()) => Ok(id),
        Err(StoreError::Conflict(_)) => Err(AppError::Conflict {
            code: "email_taken",
            detail: format!("a user with e-mail {} already exists", user.email),
        }),
        Err(e) => Err(e.into()),
    }
}

pub async fn set_roles(
    store: &dyn Store,
    actor: &Actor,
    user_id: Uuid,
    roles: RoleSet,
) -> AppResult<()> {
    if actor.id == Some(user_id) && !roles.contains(entraide_domain::Role::Administrator) {
        return Err(AppError::Conflict {
            code: "cannot_demote_self",
            detail: "you cannot remove your own administrator role".into(),
        });
    }
    let user = store
        .user_by_id(user_id)
        .await?
        .ok_or(AppError::NotFound { what: "user" })?;
    if user.roles == roles {
        return Ok(());
    }
    let audit = actor
        .entry(AuditAction::UserRolesChanged, AuditOutcome::Success)
        .target(user.email.as_str())
        .detail(serde_json::json!({ "from": user.roles.to_list(), "to": roles.to_list() }));
    store.set_roles(user_id, roles, &audit).await?;
    Ok(())
}

pub async fn set_disabled(
    store: &dyn Store,
    actor: &Actor,
    user_id: Uuid,
    disabled: bool,
) -> AppResult<()> {
    let user = store
        .user_by_id(user_id)
        .await?
        .ok_or(AppError::NotFound { what: "user" })?;
    if actor.id == Some(user_id) && disabled {
        return Err(AppError::Conflict {
            code: "cannot_disable_self",
            detail: "you cannot disable your own account".into(),
        });
    }
    if user.disabled == disabled {
        return Ok(());
    }
    let action = if disabled {
        AuditAction::UserDisabled
    } else {
        AuditAction::UserEnabled
    };
    let audit = actor
        .entry(action, AuditOutcome::Success)
        .target(user.email.as_str());
    store.set_disabled(user_id, disabled, &audit).await?;
    Ok(())
}

/// Returns the stored token and its secret (shown once).
pub async fn create_token(
    store: &dyn Store,
    actor: &Actor,
    user_id: Uuid,
    name: &str,
) -> AppResult<(ApiToken, String)> {
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
    let (secret, token_hash) = auth::new_api_token();
    let token = ApiToken {
        id: Uuid::now_v7(),
        user_id,
        name: name.to_owned(),
        token_hash,
        created_at: OffsetDateTime::now_utc(),
        last_used_at: None,
        revoked_at: None,
    };
    let audit = actor
        .entry(AuditAction::TokenCreated, AuditOutcome::Success)
        .target(format!("{} ({})", token.name, user.email))
        .detail(serde_json::json!({ "token_id": token.id }));
    store.create_token(&token, &audit).await?;
    Ok((token, secret))
}

pub async fn revoke_token(store: &dyn Store, actor: &Actor, token: &ApiToken) -> AppResult<()> {
    let audit = actor
        .entry(AuditAction::TokenRevoked, AuditOutcome::Success)
        .target(token.name.clone())
        .detail(serde_json::json!({ "token_id": token.id }));
    if store
        .revoke_token(token.id, OffsetDateTime::now_utc(), &audit)
        .await?
    {
        Ok(())
    } else {
        Err(AppError::Conflict {
            code: "token_already_revoked",
            detail: "this token was already revoked".into(),
        })
    }
}

pub async fn create_case(
    store: &dyn Store,
    actor: &Actor,
    creator: Uuid,
    reference: CaseReference,
    title: CaseTitle,
    summary: CaseSummary,
) -> AppResult<Case> {
    let now = OffsetDateTime::now_utc();
    let case = Case {
        id: Uuid::now_v7(),
        reference,
        title,
        summary,
        status: CaseStatus::Open,
        created_by: creator,
        created_at: now,
        updated_at: now,
    };
    let audit = actor
        .entry(AuditAction::CaseCreated, AuditOutcome::Success)
        .on_case(case.id)
        .target(case.reference.as_str());
    match store.create_case(&case, &audit).await {
        Ok(()) => Ok(case),
        Err(StoreError::Conflict(_)) => Err(AppError::Conflict {
            code: "case_reference_taken",
            detail: format!("a case with reference {} already exists", case.reference),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Changes a user's own password after checking the current one; their
/// other sessions end.
pub async fn change_password(
    store: &dyn Store,
    actor: &Actor,
    user: &entraide_store::User,
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
