//! Statistics of requests sent and received (API, CSV, and the page with
//! server-rendered SVG charts).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use entraide_domain::request::{from_aggregates, Durations, Statistics};
use entraide_domain::Locale;
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::caller::Caller;
use crate::error::{AppResult, Fields};
use crate::http::json_response;
use crate::i18n::Tr;
use crate::state::AppState;
use crate::ui::{page, render, FormErrors, Nav};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// First day (2026-01-01) or instant (RFC 3339); default: a year ago.
    pub from: Option<String>,
    /// Last day included, or instant excluded; default: now.
    pub to: Option<String>,
}

impl PeriodQuery {
    pub fn period(&self) -> AppResult<(OffsetDateTime, OffsetDateTime)> {
        let mut f = Fields::default();
        let parse = |f: &mut Fields,
                     field: &str,
                     v: &Option<String>,
                     end: bool|
         -> Option<OffsetDateTime> {
            let v = v.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
            let t = OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .ok()
                .or_else(|| {
                    let fmt = time::macros::format_description!("[year]-[month]-[day]");
                    time::Date::parse(v, &fmt).ok().map(|d| {
                        d.midnight().assume_utc()
                            + if end {
                                Duration::days(1)
                            } else {
                                Duration::ZERO
                            }
                    })
                });
            if t.is_none() {
                f.push(
                    field,
                    "invalid_time",
                    "use a date (2026-11-25) or an RFC 3339 time",
                );
            }
            t
        };
        let now = OffsetDateTime::now_utc();
        let from = parse(&mut f, "from", &self.from, false).unwrap_or(now - Duration::days(365));
        let to = parse(&mut f, "to", &self.to, true).unwrap_or(now + Duration::seconds(1));
        if to <= from {
            f.push(
                "to",
                "invalid_range",
                "the end of the period is before its start",
            );
        }
        f.finish(Some((from, to)))
    }
}

/// Figures come from the per-day aggregates: the period is counted in
/// whole days (UTC) of the requests' creation.
async fn compute(app: &AppState, q: &PeriodQuery) -> AppResult<Statistics> {
    let (from, to) = q.period()?;
    const DAY: i64 = 86_400;
    let from_day = from.unix_timestamp().div_euclid(DAY);
    let to_day = (to.unix_timestamp() + DAY - 1).div_euclid(DAY);
    let agg = app.store.request_statistics(from_day, to_day).await?;
    Ok(from_aggregates(&agg.counts, &agg.durations))
}

/// Statistics of requests created in the period (analysts, officers,
/// approvers): counts, times to acknowledgement, first data and completion.
#[utoipa::path(get, path = "/api/v1/statistics", tag = "requests", security(("bearer" = [])),
    params(PeriodQuery), responses((status = 200, description = "statistics", content_type = "application/json")))]
pub async fn api(
    State(app): State<AppState>,
    _caller: Caller,
    Query(q): Query<PeriodQuery>,
) -> AppResult<Response> {
    Ok(json_response(StatusCode::OK, &compute(&app, &q).await?))
}

/// The same figures as CSV (one line per measure).
#[utoipa::path(get, path = "/api/v1/statistics/export.csv", tag = "requests", security(("bearer" = [])),
    params(PeriodQuery), responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn api_csv(
    State(app): State<AppState>,
    _caller: Caller,
    Query(q): Query<PeriodQuery>,
) -> AppResult<Response> {
    Ok(csv(&compute(&app, &q).await?))
}

/// The figures as rows: measure, key, value.
fn rows(s: &Statistics) -> Vec<(String, String, String)> {
    let mut out = vec![("total".to_owned(), String::new(), s.total.to_string())];
    for (name, map) in [
        ("kind", &s.by_kind),
        ("direction", &s.by_direction),
        ("country", &s.by_country),
        ("state", &s.by_state),
        ("outcome", &s.by_outcome),
        ("refusal_ground", &s.refusal_grounds),
    ] {
        for (k, v) in map {
            out.push((name.to_owned(), k.clone(), v.to_string()));
        }
    }
    for (name, d) in [
        ("time_to_acknowledgement", &s.time_to_acknowledgement),
        ("time_to_first_data", &s.time_to_first_data),
        ("time_to_completion", &s.time_to_completion),
    ] {
        out.push((name.to_owned(), "count".into(), d.count.to_string()));
        if let Some(m) = d.median_hours {
            out.push((name.to_owned(), "median_hours".into(), format!("{m:.2}")));
        }
        if let Some(p) = d.p90_hours {
            out.push((name.to_owned(), "p90_hours".into(), format!("{p:.2}")));
        }
    }
    out.push((
        "preservations_expired".into(),
        String::new(),
        s.preservations_expired.to_string(),
    ));
    out
}

/// The same rows as an Excel workbook (numbers as numbers).
pub fn xlsx(s: &Statistics) -> AppResult<Response> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let fail = |e: rust_xlsxwriter::XlsxError| {
        crate::error::AppError::Internal(format!("spreadsheet: {e}"))
    };
    sheet.set_name("Statistics").map_err(fail)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (col, title) in ["measure", "key", "value"].iter().enumerate() {
        sheet
            .write_with_format(0, col as u16, *title, &bold)
            .map_err(fail)?;
    }
    for (i, (measure, key, value)) in rows(s).into_iter().enumerate() {
        let row = i as u32 + 1;
        sheet.write(row, 0, measure).map_err(fail)?;
        sheet.write(row, 1, key).map_err(fail)?;
        match value.parse::<f64>() {
            Ok(n) => sheet.write(row, 2, n).map_err(fail)?,
            Err(_) => sheet.write(row, 2, value).map_err(fail)?,
        };
    }
    sheet.set_column_width(0, 26).map_err(fail)?;
    sheet.set_column_width(1, 26).map_err(fail)?;
    let bytes = book.save_to_buffer().map_err(fail)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"entraide-statistics.xlsx\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The same figures as an Excel workbook.
#[utoipa::path(get, path = "/api/v1/statistics/export.xlsx", tag = "requests", security(("bearer" = [])),
    params(PeriodQuery),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>)))]
pub async fn api_xlsx(
    State(app): State<AppState>,
    _caller: Caller,
    Query(q): Query<PeriodQuery>,
) -> AppResult<Response> {
    xlsx(&compute(&app, &q).await?)
}

pub fn csv(s: &Statistics) -> Response {
    let mut out = String::from("measure,key,value\r\n");
    for (measure, key, value) in rows(s) {
        out.push_str(&format!("{measure},{key},{value}\r\n"));
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"entraide-statistics.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}

/// One horizontal bar of a chart.
pub struct Bar {
    pub label: String,
    pub value: u64,
    /// Width in the 0..=300 SVG units.
    pub width: u64,
    pub y: u64,
}

pub struct Chart {
    pub title: String,
    pub bars: Vec<Bar>,
    pub height: u64,
}

fn chart(title: String, items: Vec<(String, u64)>) -> Chart {
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let bars: Vec<Bar> = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, value))| Bar {
            label,
            value,
            width: value * 300 / max,
            y: i as u64 * 40,
        })
        .collect();
    Chart {
        title,
        height: (bars.len() as u64 * 40).max(40),
        bars,
    }
}

pub struct DurationRow {
    pub label: String,
    pub count: u64,
    pub median: String,
    pub p90: String,
}

fn duration_row(tr: &Tr, key: &str, d: &Durations) -> DurationRow {
    let fmt = |h: Option<f64>| match h {
        None => "—".to_owned(),
        Some(h) if h < 48.0 => tr.t1("stats-hours", "n", &format!("{h:.1}")),
        Some(h) => tr.t1("stats-days", "n", &format!("{:.1}", h / 24.0)),
    };
    DurationRow {
        label: tr.t(key),
        count: d.count,
        median: fmt(d.median_hours),
        p90: fmt(d.p90_hours),
    }
}

#[derive(Template)]
#[template(path = "statistics.html")]
struct StatisticsPage {
    tr: Tr,
    nav: Nav,
    from: String,
    to: String,
    query_string: String,
    total: u64,
    expired: u64,
    charts: Vec<Chart>,
    durations: Vec<DurationRow>,
    errors: FormErrors,
}

pub async fn ui(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Query(q): Query<PeriodQuery>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/statistics").await?;
    let tr = p.tr.clone();
    let (s, errors) = match compute(&app, &q).await {
        Ok(s) => (s, FormErrors::default()),
        Err(e) => (
            Statistics::default(),
            FormErrors::from_error(&tr, &e, "from").unwrap_or_default(),
        ),
    };
    let label = |prefix: &str, k: &str| {
        let id = format!("{prefix}{k}");
        let t = tr.t(&id);
        if t == id {
            k.to_owned()
        } else {
            t
        }
    };
    let named = |prefix: &str, map: &std::collections::BTreeMap<String, u64>| {
        map.iter()
            .map(|(k, v)| (label(prefix, k), *v))
            .collect::<Vec<_>>()
    };
    let charts = vec![
        chart(tr.t("stats-by-kind"), named("rq-kind-", &s.by_kind)),
        chart(
            tr.t("stats-by-direction"),
            named("rq-direction-", &s.by_direction),
        ),
        chart(
            tr.t("stats-by-country"),
            s.by_country
                .iter()
                .map(|(k, v)| {
                    (
                        if k == "??" {
                            tr.t("stats-country-unknown")
                        } else {
                            k.clone()
                        },
                        *v,
                    )
                })
                .collect(),
        ),
        chart(tr.t("stats-by-state"), named("rq-state-", &s.by_state)),
        chart(
            tr.t("stats-by-outcome"),
            named("stats-outcome-", &s.by_outcome),
        ),
        chart(
            tr.t("stats-refusal-grounds"),
            named("rq-ground-", &s.refusal_grounds),
        ),
    ];
    let mut qs = Vec::new();
    for (k, v) in [("from", &q.from), ("to", &q.to)] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            qs.push(format!("{k}={}", v.replace(['&', '#', ' '], "")));
        }
    }
    let view = StatisticsPage {
        from: q.from.clone().unwrap_or_default(),
        to: q.to.clone().unwrap_or_default(),
        query_string: qs.join("&"),
        total: s.total,
        expired: s.preservations_expired,
        durations: vec![
            duration_row(
                &tr,
                "stats-time-to-acknowledgement",
                &s.time_to_acknowledgement,
            ),
            duration_row(&tr, "stats-time-to-first-data", &s.time_to_first_data),
            duration_row(&tr, "stats-time-to-completion", &s.time_to_completion),
        ],
        charts,
        errors,
        tr: p.tr,
        nav: p.nav,
    };
    Ok(render(&view))
}

pub async fn ui_csv(
    State(app): State<AppState>,
    _caller: Caller,
    Query(q): Query<PeriodQuery>,
) -> AppResult<Response> {
    Ok(csv(&compute(&app, &q).await?))
}
