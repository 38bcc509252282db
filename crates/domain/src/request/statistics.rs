//! The statistics of requests sent and received that the UN expert group
//! recommends keeping: counts by kind, direction, counterpart country,
//! state and outcome; how long answers take (median and 90th percentile);
//! preservations that expired; grounds of refusal. Pure: computed from the
//! rows the store hands over.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use super::kind::{Direction, RequestKind};
use super::lifecycle::{RefusalGround, RequestState};
use crate::CountryCode;

/// What statistics need of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct StatRow {
    pub kind: RequestKind,
    pub direction: Direction,
    pub state: RequestState,
    pub country: Option<CountryCode>,
    pub refusal_ground: Option<RefusalGround>,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
    pub acknowledged_at: Option<OffsetDateTime>,
    pub first_data_at: Option<OffsetDateTime>,
    pub closed_at: Option<OffsetDateTime>,
}

impl StatRow {
    /// When the clock starts: sending (outgoing) or registration (incoming).
    fn start(&self) -> Option<OffsetDateTime> {
        match self.direction {
            Direction::Outgoing => self.sent_at,
            Direction::Incoming => Some(self.created_at),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Durations {
    /// How many requests reached this point.
    pub count: u64,
    pub median_hours: Option<f64>,
    pub p90_hours: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Statistics {
    pub total: u64,
    pub by_kind: BTreeMap<String, u64>,
    pub by_direction: BTreeMap<String, u64>,
    pub by_country: BTreeMap<String, u64>,
    pub by_state: BTreeMap<String, u64>,
    /// answered, answered_partially, refused, withdrawn, expired, open.
    pub by_outcome: BTreeMap<String, u64>,
    pub refusal_grounds: BTreeMap<String, u64>,
    pub time_to_acknowledgement: Durations,
    pub time_to_first_data: Durations,
    pub time_to_completion: Durations,
    /// Preservations that expired (no MLA request came in time).
    pub preservations_expired: u64,
}

/// Nearest-rank percentile of sorted values (`p` in 0..=100).
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

fn durations(mut hours: Vec<f64>) -> Durations {
    hours.sort_by(f64::total_cmp);
    Durations {
        count: hours.len() as u64,
        median_hours: percentile(&hours, 50.0),
        p90_hours: percentile(&hours, 90.0),
    }
}

fn hours_between(a: OffsetDateTime, b: OffsetDateTime) -> Option<f64> {
    let h = (b - a).as_seconds_f64() / 3600.0;
    (h >= 0.0).then_some(h)
}

pub fn compute(rows: &[StatRow]) -> Statistics {
    let mut s = Statistics {
        total: rows.len() as u64,
        ..Statistics::default()
    };
    let (mut ack, mut data, mut done) = (Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        *s.by_kind.entry(r.kind.as_str().to_owned()).or_default() += 1;
        *s.by_direction
            .entry(r.direction.as_str().to_owned())
            .or_default() += 1;
        let country = r
            .country
            .map(|c| c.to_string())
            .unwrap_or_else(|| "??".into());
        *s.by_country.entry(country).or_default() += 1;
        *s.by_state.entry(r.state.as_str().to_owned()).or_default() += 1;
        let outcome = match r.state {
            RequestState::Answered => "answered",
            RequestState::AnsweredPartially => "answered_partially",
            RequestState::Refused => "refused",
            RequestState::Withdrawn => "withdrawn",
            RequestState::Expired => "expired",
            _ => "open",
        };
        *s.by_outcome.entry(outcome.to_owned()).or_default() += 1;
        if let Some(g) = r.refusal_ground {
            *s.refusal_grounds.entry(g.as_str().to_owned()).or_default() += 1;
        }
        if r.kind.is_preservation() && r.state == RequestState::Expired {
            s.preservations_expired += 1;
        }
        if let Some(start) = r.start() {
            if let Some(h) = r.acknowledged_at.and_then(|t| hours_between(start, t)) {
                ack.push(h);
            }
            if let Some(h) = r.first_data_at.and_then(|t| hours_between(start, t)) {
                data.push(h);
            }
            if r.state == RequestState::Answered {
                if let Some(h) = r.closed_at.and_then(|t| hours_between(start, t)) {
                    done.push(h);
                }
            }
        }
    }
    s.time_to_acknowledgement = durations(ack);
    s.time_to_first_data = durations(data);
    s.time_to_completion = durations(done);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    /// A generated data set whose answers are known: request i (1..=100)
    /// is acknowledged after i hours and answered after 2i hours; every
    /// tenth is refused instead, every twentieth preservation expires.
    #[test]
    fn known_answers() {
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let rows: Vec<StatRow> = (1..=100)
            .map(|i| {
                let refused = i % 10 == 0;
                let kind = if i % 2 == 0 {
                    RequestKind::ExpeditedPreservation
                } else {
                    RequestKind::SubscriberInformation
                };
                let expired = kind.is_preservation() && i % 20 == 2;
                let state = if refused {
                    RequestState::Refused
                } else if expired {
                    RequestState::Expired
                } else {
                    RequestState::Answered
                };
                StatRow {
                    kind,
                    direction: if i <= 60 {
                        Direction::Outgoing
                    } else {
                        Direction::Incoming
                    },
                    state,
                    country: CountryCode::parse(if i % 4 == 0 { "AR" } else { "FR" }).ok(),
                    refusal_ground: refused.then_some(RefusalGround::InsufficientInformation),
                    created_at: t0,
                    sent_at: Some(t0),
                    acknowledged_at: Some(t0 + Duration::hours(i)),
                    first_data_at: (!refused && !expired).then(|| t0 + Duration::hours(2 * i)),
                    closed_at: Some(t0 + Duration::hours(2 * i)),
                }
            })
            .collect();
        let s = compute(&rows);
        assert_eq!(s.total, 100);
        assert_eq!(s.by_direction["outgoing"], 60);
        assert_eq!(s.by_direction["incoming"], 40);
        assert_eq!(s.by_country["AR"], 25);
        assert_eq!(s.by_outcome["refused"], 10);
        assert_eq!(s.refusal_grounds["insufficient_information"], 10);
        assert_eq!(s.preservations_expired, 5);
        assert_eq!(s.by_outcome["answered"], 85);
        // Acknowledgement after 1..=100 hours: median 50, p90 90.
        assert_eq!(s.time_to_acknowledgement.count, 100);
        assert_eq!(s.time_to_acknowledgement.median_hours, Some(50.0));
        assert_eq!(s.time_to_acknowledgement.p90_hours, Some(90.0));
        // Completion of the 85 answered ones, each after 2i hours.
        let mut answered: Vec<f64> = (1..=100)
            .filter(|i| i % 10 != 0 && !(i % 2 == 0 && i % 20 == 2))
            .map(|i| 2.0 * i as f64)
            .collect();
        answered.sort_by(f64::total_cmp);
        assert_eq!(s.time_to_completion.count, 85);
        assert_eq!(
            s.time_to_completion.median_hours,
            percentile(&answered, 50.0)
        );
        // 43rd of 85 values: i = 51 (eight smaller i are excluded), 2i = 102.
        assert_eq!(s.time_to_completion.median_hours, Some(102.0));
    }

    #[test]
    fn percentiles() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[3.0], 90.0), Some(3.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), Some(2.0));
    }
}
