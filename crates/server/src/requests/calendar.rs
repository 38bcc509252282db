//! Deadlines as an iCalendar feed (RFC 5545), one secret address per user,
//! so that a preservation about to lapse shows up in the calendar the
//! officer already watches. The address carries a random secret whose
//! SHA-256 alone is stored; the user can replace or remove it.

use entraide_store::{CooperationRequest, RequestFilter};
use time::OffsetDateTime;

use crate::app::credentials as auth;
use crate::app::error::{AppError, AppResult};
use crate::app::state::AppState;

pub const KEY_PREFIX: &str = "cal_";

/// A new calendar secret and the hash to store.
pub fn new_key() -> (String, String) {
    let key = format!("{KEY_PREFIX}{}", auth::random_token(24));
    let hash = auth::sha256_hex(&key);
    (key, hash)
}

fn ics_time(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

/// Escapes a TEXT value (RFC 5545 §3.3.11).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
        .replace('\r', "")
}

/// Folds a content line at 75 octets (RFC 5545 §3.1), on character
/// boundaries.
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut len = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if len + n > 75 {
            out.push_str("\r\n ");
            len = 1;
        }
        out.push(c);
        len += n;
    }
    out.push_str("\r\n");
    out
}

pub fn feed(
    name: &str,
    requests: &[CooperationRequest],
    base_url: Option<&str>,
    now: OffsetDateTime,
) -> String {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Entraide//Deadlines//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        format!("X-WR-CALNAME:{}", escape(name)),
    ];
    for r in requests {
        let Some(due) = r.deadline_due else { continue };
        lines.push("BEGIN:VEVENT".into());
        lines.push(format!("UID:{}@entraide", r.id));
        lines.push(format!("DTSTAMP:{}", ics_time(now)));
        lines.push(format!("DTSTART:{}", ics_time(due)));
        lines.push("DURATION:PT30M".into());
        lines.push(format!(
            "SUMMARY:{}",
            escape(&format!(
                "{} — {} ({})",
                r.reference,
                r.kind.as_str().replace('_', " "),
                r.counterpart
            ))
        ));
        lines.push(format!(
            "DESCRIPTION:{}",
            escape(&format!(
                "{} — {}\nstate: {}",
                r.kind.article(),
                r.deadline_source.clone().unwrap_or_default(),
                r.state.as_str()
            ))
        ));
        if let Some(base) = base_url {
            lines.push(format!(
                "URL:{}/requests/{}",
                base.trim_end_matches('/'),
                r.id
            ));
        }
        lines.push("BEGIN:VALARM".into());
        lines.push("ACTION:DISPLAY".into());
        lines.push(format!("DESCRIPTION:{}", escape(&r.reference)));
        lines.push("TRIGGER:-P1D".into());
        lines.push("END:VALARM".into());
        lines.push("END:VEVENT".into());
    }
    lines.push("END:VCALENDAR".into());
    lines.iter().map(|l| fold(l)).collect()
}

/// The feed of a calendar key: the deadlines of the open requests in the
/// cases the key's owner belongs to. Unknown or replaced keys are "not
/// found".
pub async fn feed_for_key(app: &AppState, key: &str) -> AppResult<String> {
    let key = key.strip_suffix(".ics").unwrap_or(key);
    if !key.starts_with(KEY_PREFIX) || key.len() > 100 {
        return Err(AppError::NotFound { what: "calendar" });
    }
    let user = app
        .store
        .user_by_calendar_key(&auth::sha256_hex(key))
        .await?
        .ok_or(AppError::NotFound { what: "calendar" })?;
    let now = OffsetDateTime::now_utc();
    let filter = RequestFilter {
        due_before: Some(now + time::Duration::days(3650)),
        limit: 1000,
        ..RequestFilter::default()
    };
    let open: Vec<_> = app
        .store
        .requests_for_member(user.id, &filter)
        .await?
        .into_iter()
        .filter(|r| !r.state.is_final())
        .collect();
    let org = app.store.own_organisation().await?;
    Ok(feed(
        &format!("Entraide — {}", org.name),
        &open,
        app.settings.public_url.as_deref(),
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_folded_and_escaped() {
        let long = format!("SUMMARY:{}", "é".repeat(60));
        let folded = fold(&long);
        assert!(folded.split("\r\n").all(|l| l.len() <= 75));
        assert_eq!(folded.replace("\r\n ", "").trim_end(), long);
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
