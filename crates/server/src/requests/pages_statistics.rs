//! The statistics page, with server-rendered SVG charts.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use entraide_domain::request::{Durations, Statistics};
use entraide_domain::Locale;

use super::api_statistics::csv_response;
use super::statistics::{compute, csv, PeriodQuery};
use crate::app::error::AppResult;
use crate::app::i18n::Tr;
use crate::app::state::AppState;
use crate::http::caller::Caller;
use crate::web::forms::FormErrors;
use crate::web::page::{page, render, Nav};

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
#[template(path = "requests/statistics.html")]
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
    Ok(csv_response(csv(&compute(&app, &q).await?)))
}
