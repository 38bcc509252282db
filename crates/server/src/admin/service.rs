//! Running the node: its organisation and settings, its users and their
//! roles, and the audit log. Shared by the API, the pages and the command
//! line; nothing here knows HTTP.

use entraide_domain::{
    AuditAction, AuditOutcome, CountryCode, DisplayName, Email, NewPassword, NodeId,
    OrganisationKind, OrganisationName, Role, RoleSet,
};
use entraide_proto as proto;
use entraide_store::{AuditEntry, AuditFilter, NewUser, Organisation, Store, StoreError, User};
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::audit::{Actor, AuditEntryExt};
use crate::app::credentials::hash_password;
use crate::app::csv::csv_field;
use crate::app::error::{AppError, AppResult, Fields};
use crate::app::principal::Principal;
use crate::app::state::AppState;

// ---------------------------------------------------------------- the node

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

pub fn organisation_view(o: &Organisation) -> proto::OrganisationView {
    proto::OrganisationView {
        id: o.id,
        node_id: o.node_id.to_string(),
        name: o.name.to_string(),
        kind: o.kind.to_string(),
        country: o.country.to_string(),
        require_totp: o.require_totp,
    }
}

/// Requires (or no longer requires) a second factor of every user; a
/// change is audited, setting the same value again is not.
pub async fn set_require_totp(
    app: &AppState,
    principal: &Principal,
    require: bool,
) -> AppResult<()> {
    let org = app.store.own_organisation().await?;
    if org.require_totp != require {
        let entry = principal
            .actor()
            .entry(
                AuditAction::OrganisationSettingsChanged,
                AuditOutcome::Success,
            )
            .detail(serde_json::json!({ "require_totp": require }));
        app.store.set_require_totp(require, &entry).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- users

pub fn roles_list(roles: RoleSet) -> Vec<String> {
    roles.iter().map(|r| r.as_str().to_owned()).collect()
}

pub fn user_view(u: &User) -> proto::UserView {
    proto::UserView {
        id: u.id,
        email: u.email.to_string(),
        display_name: u.display_name.to_string(),
        roles: roles_list(u.roles),
        disabled: u.disabled,
        totp_enabled: u.totp_enabled,
        must_change_password: u.must_change_password,
        locked_until: u.locked_until.filter(|t| *t > OffsetDateTime::now_utc()),
        created_at: u.created_at,
    }
}

pub fn parse_roles(fields: &mut Fields, names: &[String]) -> Option<RoleSet> {
    let mut set = RoleSet::EMPTY;
    for name in names {
        set = set.with(fields.check("roles", name.parse::<Role>())?);
    }
    Some(set)
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

// ---------------------------------------------------------------- audit log

/// Filters for the audit log. Times are RFC 3339.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Who acted (their label, e.g. an e-mail address).
    pub actor: Option<String>,
    /// An action (`case.read`) or a family (`case.`).
    pub action: Option<String>,
    #[param(schema_with = entraide_proto::schema::filter_of::<entraide_proto::schema::AuditOutcomeName>)]
    pub outcome: Option<String>,
    #[param(schema_with = entraide_proto::schema::uuid_or_empty)]
    pub case_id: Option<String>,
    /// A date (2026-11-25) or an RFC 3339 time.
    #[param(schema_with = entraide_proto::schema::period_bound)]
    pub from: Option<String>,
    /// A date (the whole day is included) or an RFC 3339 time.
    #[param(schema_with = entraide_proto::schema::period_bound)]
    pub to: Option<String>,
    /// The `next_before` of the previous page.
    pub before: Option<i64>,
    /// 1 to 10,000 entries.
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
}

impl AuditQuery {
    pub fn filter(&self, default_limit: u32) -> AppResult<AuditFilter> {
        let mut f = Fields::default();
        let time = |f: &mut Fields, field: &str, v: &Option<String>| -> Option<OffsetDateTime> {
            let v = v.as_deref().filter(|s| !s.trim().is_empty())?;
            match parse_time(v) {
                Some(t) => Some(t),
                None => {
                    f.push(
                        field,
                        "invalid_time",
                        "use a date (2026-11-25) or an RFC 3339 time",
                    );
                    None
                }
            }
        };
        let from = time(&mut f, "from", &self.from);
        // A date alone as the end of the period includes that whole day.
        let to = time(&mut f, "to", &self.to).map(|t| match &self.to {
            Some(v) if v.trim().len() == 10 => t + time::Duration::days(1),
            _ => t,
        });
        let outcome = match self.outcome.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(o) => {
                let parsed = AuditOutcome::parse(o);
                if parsed.is_none() {
                    f.push(
                        "outcome",
                        "invalid_outcome",
                        "use success, denied or failure",
                    );
                }
                parsed
            }
        };
        let case_id = match self.case_id.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => {
                let parsed = Uuid::parse_str(s).ok();
                if parsed.is_none() {
                    f.push("case_id", "invalid_id", "not a case identifier");
                }
                parsed
            }
        };
        if let (Some(a), Some(b)) = (from, to) {
            if a > b {
                f.push(
                    "to",
                    "invalid_range",
                    "the end of the period is before its start",
                );
            }
        }
        let limit = self.limit.unwrap_or(default_limit);
        if limit == 0 || limit > 10_000 {
            f.push("limit", "invalid_limit", "use a limit between 1 and 10000");
        }
        f.finish(Some(AuditFilter {
            actor: self.actor.clone().filter(|s| !s.trim().is_empty()),
            action: self.action.clone().filter(|s| !s.trim().is_empty()),
            outcome,
            case_id,
            from,
            to,
            before_id: self.before,
            limit,
        }))
    }
}

/// "2026-11-25" (midnight UTC) or a full RFC 3339 time.
fn parse_time(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    OffsetDateTime::parse(s, &Rfc3339).ok().or_else(|| {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(s, &fmt)
            .ok()
            .map(|d| d.midnight().assume_utc())
    })
}

/// Reads the audit log; the reading (or export, by `action`) is itself
/// audited, with the number of rows seen.
pub async fn read_audit(
    app: &AppState,
    principal: &Principal,
    filter: &AuditFilter,
    action: AuditAction,
) -> AppResult<Vec<AuditEntry>> {
    let entries = app.store.audit_entries(filter).await?;
    let entry = principal
        .actor()
        .entry(action, AuditOutcome::Success)
        .detail(serde_json::json!({ "rows": entries.len() }));
    app.store.append_audit(&entry).await?;
    Ok(entries)
}

pub fn audit_view(e: &AuditEntry) -> proto::AuditEntryView {
    proto::AuditEntryView {
        id: e.id,
        at: e.at,
        actor: e.actor.clone(),
        actor_id: e.actor_id,
        action: e.action.clone(),
        outcome: e.outcome.clone(),
        case_id: e.case_id,
        target: e.target.clone(),
        client_ip: e.client_ip.clone(),
        request_id: e.request_id.clone(),
        detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
    }
}

/// The audit entries as CSV text, one row per entry after a header row.
pub fn audit_csv(entries: &[AuditEntry]) -> String {
    let mut out = String::from(
        "id,at,actor,actor_id,action,outcome,case_id,target,client_ip,request_id,detail\r\n",
    );
    for e in entries {
        let at =
            e.at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
        let cols = [
            e.id.to_string(),
            at,
            e.actor.clone(),
            e.actor_id.map(|u| u.to_string()).unwrap_or_default(),
            e.action.clone(),
            e.outcome.clone(),
            e.case_id.map(|u| u.to_string()).unwrap_or_default(),
            e.target.clone().unwrap_or_default(),
            e.client_ip.clone().unwrap_or_default(),
            e.request_id.clone().unwrap_or_default(),
            e.detail.clone(),
        ];
        out.push_str(
            &cols
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}
