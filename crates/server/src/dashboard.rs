//! The dashboard, the first page after signing in: the organisation, the
//! user's cases (cases) and the requests falling due (requests).

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use entraide_domain::Locale;
use entraide_proto as proto;

use crate::admin::service::organisation_view;
use crate::app::error::AppResult;
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::cases::pages::{case_row, CaseRow};
use crate::cases::service::visible_cases;
use crate::http::caller::Caller;
use crate::requests::pages::{request_row, RequestRow};
use crate::web::page::{page, render, Nav};

#[derive(Template)]
#[template(path = "dashboard/dashboard.html")]
struct DashboardPage {
    tr: Tr,
    nav: Nav,
    organisation: proto::OrganisationView,
    cases: Vec<CaseRow>,
    my_cases_heading: String,
    roles: Vec<String>,
    totp_enabled: bool,
    /// Open requests in my cases falling due within a week, soonest first.
    rows: Vec<RequestRow>,
}

pub async fn dashboard(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/").await?;
    let org = app.store.own_organisation().await?;
    let cases = visible_cases(&app, &caller.principal()).await?;
    let due = entraide_store::RequestFilter {
        due_before: Some(time::OffsetDateTime::now_utc() + time::Duration::days(7)),
        limit: 20,
        ..Default::default()
    };
    let rows = app
        .store
        .requests_for_member(caller.user.id, &due)
        .await?
        .iter()
        .filter(|r| !r.state.is_final())
        .map(|r| request_row(&p.tr, r))
        .collect();
    let view = DashboardPage {
        rows,
        my_cases_heading: p.tr.tn(
            "dashboard-my-cases",
            "count",
            cases.iter().filter(|c| c.member).count() as i64,
        ),
        cases: cases
            .iter()
            .filter(|c| c.member)
            .take(5)
            .map(|c| case_row(&p.tr, c))
            .collect(),
        organisation: organisation_view(&org),
        roles: caller
            .roles()
            .iter()
            .map(|r| p.tr.t(&format!("role-{}", r.as_str())))
            .collect(),
        totp_enabled: caller.user.totp_enabled,
        tr: p.tr,
        nav: p.nav,
    };
    Ok(render(&view))
}
