//! The administration pages: users, the organisation (settings, peers,
//! messages sent and refused), and the audit log with its CSV export.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use entraide_domain::{AuditAction, DisplayName, Email, Locale, NewPassword, Role};
use entraide_federation::{MessageKind, OutboxStatus, ReceiptStatus};
use entraide_proto as proto;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::admin::service::{self, organisation_view, parse_roles, AuditQuery};
use crate::app::error::{AppError, AppResult, Fields};
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::web::forms::{check_csrf, see_other, urlencode, FormErrors, PairsForm, UiForm};
use crate::web::page::{fmt_time, fmt_time_short, page, render, render_status, Nav};

// ---------------------------------------------------------------- users

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    tr: Tr,
    nav: Nav,
    users: Vec<UserRow>,
    all_roles: Vec<(String, String)>,
}

pub struct UserRow {
    id: Uuid,
    email: String,
    display_name: String,
    roles: Vec<String>,
    disabled: bool,
    locked: bool,
    totp_enabled: bool,
    must_change_password: bool,
    is_self: bool,
}

impl UserRow {
    fn has(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

fn all_roles(tr: &Tr) -> Vec<(String, String)> {
    Role::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), tr.t(&format!("role-{}", r.as_str()))))
        .collect()
}

pub async fn users(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/admin/users").await?;
    let now = OffsetDateTime::now_utc();
    let users = app.store.list_users().await?;
    let view = UsersPage {
        users: users
            .iter()
            .map(|u| UserRow {
                id: u.id,
                email: u.email.to_string(),
                display_name: u.display_name.to_string(),
                roles: u.roles.iter().map(|r| r.as_str().to_owned()).collect(),
                disabled: u.disabled,
                locked: u.locked_until.is_some_and(|t| t > now),
                totp_enabled: u.totp_enabled,
                must_change_password: u.must_change_password,
                is_self: u.id == caller.user.id,
            })
            .collect(),
        all_roles: all_roles(&p.tr),
        tr: p.tr,
        nav: p.nav,
    };
    Ok(render(&view))
}

#[derive(Template)]
#[template(path = "admin/user_new.html")]
struct UserNewPage {
    tr: Tr,
    nav: Nav,
    email: String,
    display_name: String,
    chosen: Vec<String>,
    all_roles: Vec<(String, String)>,
    errors: FormErrors,
}

impl UserNewPage {
    fn chose(&self, role: &str) -> bool {
        self.chosen.iter().any(|r| r == role)
    }
}

pub async fn user_new_form(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/admin/users").await?;
    let view = UserNewPage {
        email: String::new(),
        display_name: String::new(),
        chosen: vec![],
        all_roles: all_roles(&p.tr),
        errors: FormErrors::default(),
        tr: p.tr,
        nav: p.nav,
    };
    Ok(render(&view))
}

pub async fn user_create(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let roles = form.all("role");
    let result = async {
        let mut f = Fields::default();
        let email = f.check("email", Email::parse(&form.one("email")));
        let name = f.check(
            "display_name",
            DisplayName::parse(&form.one("display_name")),
        );
        let password = f.check("password", NewPassword::parse(&form.one("password")));
        let role_set = parse_roles(&mut f, &roles);
        if role_set.is_some_and(|r| r.is_empty()) {
            f.push("roles", "roles_required", "choose at least one role");
        }
        let (email, name, password, role_set) = f.finish(
            email
                .zip(name)
                .zip(password)
                .zip(role_set)
                .map(|(((a, b), c), d)| (a, b, c, d)),
        )?;
        service::create_user(
            app.store.as_ref(),
            &caller.principal().actor(),
            email,
            name,
            password,
            role_set,
        )
        .await
    }
    .await;
    match result {
        Ok(_) => Ok(see_other("/admin/users")),
        Err(err) => {
            let p = page(&app, &caller, locale.0, "/admin/users").await?;
            let Some(errors) = FormErrors::from_error(&p.tr, &err, "email") else {
                return Err(err);
            };
            let view = UserNewPage {
                email: form.one("email"),
                display_name: form.one("display_name"),
                chosen: roles,
                all_roles: all_roles(&p.tr),
                errors,
                tr: p.tr,
                nav: p.nav,
            };
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
    }
}

pub async fn user_update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let actor = caller.principal().actor();
    match form.one("action").as_str() {
        "disable" => service::set_disabled(app.store.as_ref(), &actor, id, true).await?,
        "enable" => service::set_disabled(app.store.as_ref(), &actor, id, false).await?,
        "roles" => {
            let mut f = Fields::default();
            let roles = parse_roles(&mut f, &form.all("role"));
            let roles = f.finish(roles)?;
            service::set_roles(app.store.as_ref(), &actor, id, roles).await?;
        }
        _ => {
            return Err(AppError::BadRequest {
                code: "unknown_action",
                detail: "unknown action".into(),
            })
        }
    }
    Ok(see_other("/admin/users"))
}

#[derive(Template)]
#[template(path = "admin/organisation.html")]
struct OrganisationPage {
    tr: Tr,
    nav: Nav,
    organisation: proto::OrganisationView,
    kind_label: String,
    saved: bool,
    base_url: String,
    signing_fingerprint: String,
    encryption_fingerprint: String,
    peers: Vec<proto::PeerView>,
    peer_url: String,
    peer_fingerprint: String,
    errors: FormErrors,
    refusals: Vec<RefusalRow>,
    sent: Vec<SentRow>,
}

/// A message sent to a peer, with its delivery evidence.
pub struct SentRow {
    pub created: String,
    pub recipient: String,
    pub message_type: String,
    pub type_label: String,
    pub status: String,
    pub status_label: String,
    pub detail: String,
}

/// A message from another node that was refused (a possible forgery).
pub struct RefusalRow {
    pub at: String,
    pub sender: String,
    pub reason: String,
}

async fn organisation_page(
    app: &AppState,
    caller: &Caller,
    locale: Locale,
    saved: bool,
    peer_url: String,
    peer_fingerprint: String,
    errors: FormErrors,
) -> AppResult<OrganisationPage> {
    let p = page(app, caller, locale, "/admin/organisation").await?;
    let org = app.store.own_organisation().await?;
    Ok(OrganisationPage {
        kind_label: p.tr.t(&format!("kind-{}", org.kind.as_str())),
        organisation: organisation_view(&org),
        saved,
        base_url: crate::federation::peers::base_url(app),
        signing_fingerprint: app
            .identity
            .federation_key(OffsetDateTime::now_utc())
            .fingerprint(),
        encryption_fingerprint: app.identity.encryption_fingerprint(),
        peers: app
            .store
            .peers()
            .await?
            .iter()
            .map(crate::federation::peers::peer_view)
            .collect(),
        peer_url,
        peer_fingerprint,
        errors,
        refusals: app
            .store
            .audit_entries(&entraide_store::AuditFilter {
                action: Some("federation.refused".into()),
                limit: 20,
                ..Default::default()
            })
            .await?
            .iter()
            .map(|e| RefusalRow {
                at: fmt_time(e.at),
                sender: e.target.clone().unwrap_or_default(),
                reason: serde_json::from_str::<serde_json::Value>(&e.detail)
                    .ok()
                    .and_then(|d| d.get("code").and_then(|c| c.as_str()).map(str::to_owned))
                    .unwrap_or_default(),
            })
            .collect(),
        sent: app
            .store
            .outbox(40)
            .await?
            .iter()
            // Receipts sent back are bookkeeping, not messages people sent.
            .filter(|m| m.message_type != MessageKind::Receipt)
            .take(20)
            .map(|m| {
                let retrieved = m.retrieval_receipt.is_some();
                let waiting = crate::federation::answer::waiting_for_peer(m);
                let status = if retrieved {
                    ReceiptStatus::Retrieved.as_str()
                } else if waiting {
                    "waiting"
                } else {
                    m.status.as_str()
                };
                SentRow {
                    created: fmt_time(m.created_at),
                    recipient: m.recipient.clone(),
                    message_type: m.message_type.to_string(),
                    type_label: p.tr.t(&format!("org-message-type-{}", m.message_type)),
                    status: status.to_owned(),
                    status_label: p.tr.t(&format!("org-message-{status}")),
                    detail: if retrieved || m.status == OutboxStatus::Delivered {
                        m.delivered_at.map(fmt_time).unwrap_or_default()
                    } else if waiting {
                        p.tr.t_args(
                            "org-message-waiting-detail",
                            &[
                                ("peer", m.recipient.clone()),
                                ("expires", fmt_time(m.expires_at)),
                            ],
                        )
                    } else {
                        m.last_error.clone().unwrap_or_default()
                    },
                }
            })
            .collect(),
        tr: p.tr,
        nav: p.nav,
    })
}

#[derive(Deserialize)]
pub struct PeerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    fingerprint: String,
}

/// `/admin/peers` is where the add-peer form posts; reloading it brings
/// the organisation page back.
pub async fn peers_page() -> Response {
    see_other("/admin/organisation")
}

/// Adds a peer from the organisation page.
pub async fn peer_add(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    UiForm(form): UiForm<PeerForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    match crate::federation::peers::add_peer(
        &app,
        &caller.principal().actor(),
        &form.url,
        &form.fingerprint,
    )
    .await
    {
        Ok(_) => Ok(see_other("/admin/organisation?saved=1")),
        Err(err) => {
            let tr = Tr::new(app.i18n.clone(), locale.0);
            let errors = match &err {
                AppError::BadRequest { code, detail } => {
                    let mut e = FormErrors::default();
                    e.by_field
                        .insert("fingerprint".into(), tr.error(code, detail));
                    e
                }
                AppError::Upstream { code, detail } => {
                    let mut e = FormErrors::default();
                    e.by_field.insert("url".into(), tr.error(code, detail));
                    e
                }
                other => match FormErrors::from_error(&tr, other, "url") {
                    Some(e) => e,
                    None => return Err(err),
                },
            };
            let view = organisation_page(
                &app,
                &caller,
                locale.0,
                false,
                form.url,
                form.fingerprint,
                errors,
            )
            .await?;
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
    }
}

#[derive(Deserialize, Default)]
pub struct SavedQuery {
    saved: Option<String>,
}

pub async fn organisation(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Query(q): Query<SavedQuery>,
) -> AppResult<Response> {
    let view = organisation_page(
        &app,
        &caller,
        locale.0,
        q.saved.is_some(),
        String::new(),
        String::new(),
        FormErrors::default(),
    )
    .await?;
    Ok(render(&view))
}

pub async fn organisation_update(
    State(app): State<AppState>,
    caller: Caller,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let require = form.one("require_totp") == "on";
    service::set_require_totp(&app, &caller.principal(), require).await?;
    Ok(see_other("/admin/organisation?saved=1"))
}

// ---------------------------------------------------------------- audit

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    tr: Tr,
    nav: Nav,
    q: AuditQueryView,
    rows: Vec<AuditRow>,
    next_before: Option<i64>,
    actions: Vec<(String, String)>,
    errors: FormErrors,
}

#[derive(Default)]
pub struct AuditQueryView {
    actor: String,
    action: String,
    outcome: String,
    from: String,
    to: String,
    query_string: String,
}

pub struct AuditRow {
    at: String,
    actor: String,
    action: String,
    action_label: String,
    outcome: String,
    outcome_label: String,
    target: String,
    case_id: String,
    client_ip: String,
}

pub async fn audit(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/audit").await?;
    let mut qs: Vec<String> = Vec::new();
    for (k, v) in [
        ("actor", &q.actor),
        ("action", &q.action),
        ("outcome", &q.outcome),
        ("from", &q.from),
        ("to", &q.to),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            qs.push(format!("{k}={}", urlencode(v)));
        }
    }
    let view_q = AuditQueryView {
        actor: q.actor.clone().unwrap_or_default(),
        action: q.action.clone().unwrap_or_default(),
        outcome: q.outcome.clone().unwrap_or_default(),
        from: q.from.clone().unwrap_or_default(),
        to: q.to.clone().unwrap_or_default(),
        query_string: qs.join("&"),
    };
    let (rows, next_before, errors) = match q.filter(50) {
        Ok(filter) => {
            let entries =
                service::read_audit(&app, &caller.principal(), &filter, AuditAction::AuditRead)
                    .await?;
            let next = (entries.len() == filter.limit as usize)
                .then(|| entries.last().map(|e| e.id))
                .flatten();
            let rows = entries
                .iter()
                .map(|e| AuditRow {
                    at: fmt_time_short(e.at),
                    actor: e.actor.clone(),
                    action: e.action.clone(),
                    action_label: action_label(&p.tr, &e.action),
                    outcome: e.outcome.clone(),
                    outcome_label: p.tr.t(&format!("outcome-{}", e.outcome)),
                    target: e.target.clone().unwrap_or_default(),
                    case_id: e.case_id.map(|c| c.to_string()).unwrap_or_default(),
                    client_ip: e.client_ip.clone().unwrap_or_default(),
                })
                .collect();
            (rows, next, FormErrors::default())
        }
        Err(err) => (
            vec![],
            None,
            FormErrors::from_error(&p.tr, &err, "actor").unwrap_or_default(),
        ),
    };
    let view = AuditPage {
        q: view_q,
        rows,
        next_before,
        actions: AuditAction::ALL
            .iter()
            .map(|a| (a.as_str().to_owned(), action_label(&p.tr, a.as_str())))
            .collect(),
        errors,
        tr: p.tr,
        nav: p.nav,
    };
    Ok(render(&view))
}

pub async fn audit_csv(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    crate::admin::api::audit_csv_download(&app, &caller, &q).await
}

/// "case.member_added" → the translated "audit-action-case-member-added".
fn action_label(tr: &Tr, action: &str) -> String {
    let id = format!("audit-action-{}", action.replace(['.', '_'], "-"));
    let label = tr.t(&id);
    if label == id {
        action.to_owned()
    } else {
        label
    }
}
