//! The page shell: what the layout needs on every page (navigation, CSRF
//! token, organisation name, translations), rendering, and times as pages
//! show them.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use entraide_domain::{Locale, Role, RoleSet};
use time::OffsetDateTime;

use crate::app::error::{AppError, AppResult};
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::http::caller::Caller;

/// What the layout needs on every page.
pub struct Nav {
    pub signed_in: bool,
    /// Where the language switcher brings the reader back.
    pub here: String,
    pub display_name: String,
    pub email: String,
    pub csrf: String,
    pub path: String,
    pub is_admin: bool,
    pub is_auditor: bool,
    pub opens_cases: bool,
    pub sees_statistics: bool,
    pub org_name: String,
}

impl Nav {
    pub(crate) fn for_caller(caller: &Caller, path: &str, org_name: String) -> Self {
        let roles = caller.roles();
        Self {
            signed_in: true,
            here: caller.ctx.here.clone().unwrap_or_else(|| path.to_owned()),
            display_name: caller.user.display_name.to_string(),
            email: caller.user.email.to_string(),
            csrf: caller.csrf_token().to_owned(),
            path: path.to_owned(),
            is_admin: roles.contains(Role::Administrator),
            is_auditor: roles.contains(Role::Auditor),
            opens_cases: roles.intersects(opens_cases_roles()),
            sees_statistics: roles.intersects(RoleSet::of(&[
                Role::Analyst,
                Role::Officer,
                Role::Approver,
            ])),
            org_name,
        }
    }

    pub(crate) fn anonymous(csrf: String, path: &str) -> Self {
        Self {
            signed_in: false,
            here: path.to_owned(),
            display_name: String::new(),
            email: String::new(),
            csrf,
            path: path.to_owned(),
            is_admin: false,
            is_auditor: false,
            opens_cases: false,
            sees_statistics: false,
            org_name: String::new(),
        }
    }
}

fn opens_cases_roles() -> RoleSet {
    RoleSet::of(&[Role::Officer, Role::Approver, Role::Custodian])
}

pub(crate) fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => AppError::Internal(format!("template failed: {e}")).into_response(),
    }
}

pub(crate) fn render_status<T: Template>(status: StatusCode, t: &T) -> Response {
    let mut res = render(t);
    *res.status_mut() = status;
    res
}

pub(crate) async fn org_name(app: &AppState) -> AppResult<String> {
    Ok(app.store.own_organisation().await?.name.to_string())
}

pub(crate) struct Page {
    pub(crate) tr: Tr,
    pub(crate) nav: Nav,
}

pub(crate) async fn page(
    app: &AppState,
    caller: &Caller,
    locale: Locale,
    path: &str,
) -> AppResult<Page> {
    Ok(Page {
        tr: Tr::new(app.i18n.clone(), locale),
        nav: Nav::for_caller(caller, path, org_name(app).await?),
    })
}

/// To the second, for lists where the order of events matters (audit).
pub(crate) fn fmt_time_short(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

pub(crate) fn fmt_time(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}
