//! Statistics of requests sent and received, from the per-day aggregates
//! the store keeps: the figures, and the same as CSV and as a workbook.

use entraide_domain::request::{from_aggregates, Statistics};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::app::error::{AppResult, Fields};
use crate::app::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// First day (2026-01-01) or instant (RFC 3339); default: a year ago.
    #[param(schema_with = entraide_proto::schema::period_bound)]
    pub from: Option<String>,
    /// Last day included, or instant excluded; default: now.
    #[param(schema_with = entraide_proto::schema::period_bound)]
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
pub async fn compute(app: &AppState, q: &PeriodQuery) -> AppResult<Statistics> {
    let (from, to) = q.period()?;
    const DAY: i64 = 86_400;
    let from_day = from.unix_timestamp().div_euclid(DAY);
    let to_day = (to.unix_timestamp() + DAY - 1).div_euclid(DAY);
    let agg = app.store.request_statistics(from_day, to_day).await?;
    Ok(from_aggregates(
        &agg.counts,
        &agg.durations,
        agg.preservations_lapsed,
    ))
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
pub fn xlsx(s: &Statistics) -> AppResult<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let fail = |e: rust_xlsxwriter::XlsxError| {
        crate::app::error::AppError::Internal(format!("spreadsheet: {e}"))
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
    book.save_to_buffer().map_err(fail)
}

/// The figures as CSV text (one line per measure).
pub fn csv(s: &Statistics) -> String {
    let mut out = String::from("measure,key,value\r\n");
    for (measure, key, value) in rows(s) {
        out.push_str(&format!("{measure},{key},{value}\r\n"));
    }
    out
}
