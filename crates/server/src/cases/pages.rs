//! The cases' pages: the list of cases and opening a new one. The case
//! page itself also shows the case's requests, so it is assembled above
//! the features, in `case_page.rs`.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use entraide_domain::Locale;
use entraide_proto as proto;
use serde::Deserialize;
use uuid::Uuid;

use crate::app::error::AppResult;
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::cases::service;
use crate::http::caller::Caller;
use crate::web::forms::{check_csrf, see_other, FormErrors, UiForm};
use crate::web::page::{fmt_time, page, render, render_status, Nav};

/// A case in a list (the cases page, the dashboard).
pub struct CaseRow {
    pub id: Uuid,
    pub reference: String,
    pub title: String,
    pub status_label: String,
    pub member: bool,
    pub updated: String,
}

pub fn case_row(tr: &Tr, c: &proto::CaseListing) -> CaseRow {
    CaseRow {
        id: c.id,
        reference: c.reference.clone(),
        title: c.title.clone(),
        status_label: tr.t(&format!("case-status-{}", c.status)),
        member: c.member,
        updated: fmt_time(c.updated_at),
    }
}

#[derive(Template)]
#[template(path = "cases/cases.html")]
struct CasesPage {
    tr: Tr,
    nav: Nav,
    cases: Vec<CaseRow>,
}

pub async fn cases(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/cases").await?;
    let cases = service::visible_cases(&app, &caller.principal()).await?;
    let view = CasesPage {
        cases: cases.iter().map(|c| case_row(&p.tr, c)).collect(),
        tr: p.tr,
        nav: p.nav,
    };
    Ok(render(&view))
}

#[derive(Template)]
#[template(path = "cases/case_new.html")]
struct CaseNewPage {
    tr: Tr,
    nav: Nav,
    reference: String,
    title: String,
    summary: String,
    errors: FormErrors,
}

pub async fn case_new_form(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/cases").await?;
    let view = CaseNewPage {
        tr: p.tr,
        nav: p.nav,
        reference: String::new(),
        title: String::new(),
        summary: String::new(),
        errors: FormErrors::default(),
    };
    Ok(render(&view))
}

#[derive(Deserialize)]
pub struct CaseForm {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    csrf: String,
}

pub async fn case_create(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    UiForm(form): UiForm<CaseForm>,
) -> AppResult<Response> {
    check_csrf(&caller, &form.csrf)?;
    let body = proto::CreateCase {
        reference: form.reference.clone(),
        title: form.title.clone(),
        summary: form.summary.clone(),
    };
    match service::create_case_from(&app, &caller.principal(), &body).await {
        Ok(case) => Ok(see_other(&format!("/cases/{}", case.id))),
        Err(err) => {
            let p = page(&app, &caller, locale.0, "/cases").await?;
            let Some(errors) = FormErrors::from_error(&p.tr, &err, "reference") else {
                return Err(err);
            };
            let view = CaseNewPage {
                tr: p.tr,
                nav: p.nav,
                reference: form.reference,
                title: form.title,
                summary: form.summary,
                errors,
            };
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
    }
}
