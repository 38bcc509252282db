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
    /// A request for the data following it (directly or through an
    /// extension of it) was sent or received before it closed
    /// (`FollowUp::came_by`).
    pub followed_up: bool,
    /// It extends a preservation of the register, with which it is counted.
    pub extends: bool,
}

impl StatRow {
    /// When the clock starts: sending (outgoing) or receipt (incoming: the
    /// time it was received, else its registration).
    fn start(&self) -> Option<OffsetDateTime> {
        match self.direction {
            Direction::Outgoing => self.sent_at,
            Direction::Incoming => Some(self.sent_at.unwrap_or(self.created_at)),
        }
    }

    /// A preservation that lapsed with no request for the data sent or
    /// received by then: "expired before the MLA request" (an extension is
    /// counted with the preservation it extends).
    pub fn lapsed_without_follow_up(&self) -> bool {
        self.kind.is_preservation()
            && self.state == RequestState::Expired
            && !self.followed_up
            && !self.extends
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
    /// Preservations that lapsed with no request for the data (MLA
    /// request, production order) sent or received before they did: one
    /// pending keeps a preservation in force (Budapest art. 29(7)).
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

/// Requests counted by the facets statistics show. Stored pre-aggregated
/// per day, so figures over millions of requests stay fast.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountKey {
    pub kind: String,
    pub direction: String,
    pub state: String,
    /// ISO code, or empty when not given.
    pub country: String,
    /// Refusal ground, or empty.
    pub ground: String,
}

/// Which delay a duration measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    Acknowledgement,
    FirstData,
    Completion,
}

impl Measure {
    pub const ALL: [Measure; 3] = [Self::Acknowledgement, Self::FirstData, Self::Completion];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acknowledgement => "acknowledgement",
            Self::FirstData => "first_data",
            Self::Completion => "completion",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl StatRow {
    pub fn count_key(&self) -> CountKey {
        CountKey {
            kind: self.kind.as_str().to_owned(),
            direction: self.direction.as_str().to_owned(),
            state: self.state.as_str().to_owned(),
            country: self.country.map(|c| c.to_string()).unwrap_or_default(),
            ground: self
                .refusal_ground
                .map(|g| g.as_str().to_owned())
                .unwrap_or_default(),
        }
    }

    /// Whole hours from the start to each point reached, per measure.
    pub fn durations(&self) -> Vec<(Measure, i64)> {
        let Some(start) = self.start() else {
            return Vec::new();
        };
        let hours = |t: OffsetDateTime| {
            let h = (t - start).whole_hours();
            (h >= 0).then_some(h)
        };
        let mut out = Vec::new();
        if let Some(h) = self.acknowledged_at.and_then(hours) {
            out.push((Measure::Acknowledgement, h));
        }
        if let Some(h) = self.first_data_at.and_then(hours) {
            out.push((Measure::FirstData, h));
        }
        if self.state == RequestState::Answered {
            if let Some(h) = self.closed_at.and_then(hours) {
                out.push((Measure::Completion, h));
            }
        }
        out
    }
}

/// Nearest-rank percentile over a histogram of whole hours.
fn histogram_durations(mut buckets: Vec<(i64, u64)>) -> Durations {
    buckets.sort_unstable();
    let count: u64 = buckets.iter().map(|(_, n)| n).sum();
    let at = |p: f64| -> Option<f64> {
        if count == 0 {
            return None;
        }
        let rank = ((p / 100.0) * count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (h, n) in &buckets {
            seen += n;
            if seen >= rank {
                return Some(*h as f64);
            }
        }
        buckets.last().map(|(h, _)| *h as f64)
    };
    Durations {
        count,
        median_hours: at(50.0),
        p90_hours: at(90.0),
    }
}

/// The figures from pre-aggregated counts and duration histograms, and
/// the number of preservations that lapsed with no request for the data
/// (counted by the store from the links between requests, which change
/// after the preservation's own last write).
pub fn from_aggregates(
    counts: &[(CountKey, u64)],
    durations: &[(Measure, i64, u64)],
    preservations_lapsed: u64,
) -> Statistics {
    let mut s = Statistics::default();
    for (k, n) in counts {
        let n = *n;
        s.total += n;
        *s.by_kind.entry(k.kind.clone()).or_default() += n;
        *s.by_direction.entry(k.direction.clone()).or_default() += n;
        let country = if k.country.is_empty() {
            "??".to_owned()
        } else {
            k.country.clone()
        };
        *s.by_country.entry(country).or_default() += n;
        *s.by_state.entry(k.state.clone()).or_default() += n;
        let outcome = match k.state.as_str() {
            "answered" | "answered_partially" | "refused" | "withdrawn" | "expired" => {
                k.state.as_str()
            }
            _ => "open",
        };
        *s.by_outcome.entry(outcome.to_owned()).or_default() += n;
        if !k.ground.is_empty() {
            *s.refusal_grounds.entry(k.ground.clone()).or_default() += n;
        }
    }
    s.preservations_expired = preservations_lapsed;
    let of = |m: Measure| -> Vec<(i64, u64)> {
        durations
            .iter()
            .filter(|(x, _, _)| *x == m)
            .map(|(_, h, n)| (*h, *n))
            .collect()
    };
    s.time_to_acknowledgement = histogram_durations(of(Measure::Acknowledgement));
    s.time_to_first_data = histogram_durations(of(Measure::FirstData));
    s.time_to_completion = histogram_durations(of(Measure::Completion));
    s
}

/// The figures for a set of requests (aggregating them first, exactly as
/// the store does on every write).
pub fn compute(rows: &[StatRow]) -> Statistics {
    let mut counts: BTreeMap<CountKey, u64> = BTreeMap::new();
    let mut durations: BTreeMap<(Measure, i64), u64> = BTreeMap::new();
    for r in rows {
        *counts.entry(r.count_key()).or_default() += 1;
        for (m, h) in r.durations() {
            *durations.entry((m, h)).or_default() += 1;
        }
    }
    let counts: Vec<_> = counts.into_iter().collect();
    let durations: Vec<_> = durations.into_iter().map(|((m, h), n)| (m, h, n)).collect();
    let lapsed = rows.iter().filter(|r| r.lapsed_without_follow_up()).count();
    from_aggregates(
        &counts,
        &durations,
        u64::try_from(lapsed).unwrap_or(u64::MAX),
    )
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
                    followed_up: false,
                    extends: false,
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

    /// "Expired before MLA" counts the preservations that lapsed with no
    /// request for the data sent or received by then, each once.
    #[test]
    fn expired_before_mla_counts_only_those_that_lapsed_with_none() {
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let row = |kind, followed_up, extends| StatRow {
            kind,
            direction: Direction::Outgoing,
            state: RequestState::Expired,
            country: None,
            refusal_ground: None,
            created_at: t0,
            sent_at: Some(t0),
            acknowledged_at: None,
            first_data_at: None,
            closed_at: Some(t0 + Duration::days(61)),
            followed_up,
            extends,
        };
        let rows = [
            // Lapsed with none: counted.
            row(RequestKind::ExpeditedPreservation, false, false),
            // An MLA request came before it lapsed (then was decided).
            row(RequestKind::ExpeditedPreservation, true, false),
            // An extension lapses with the preservation it extends.
            row(RequestKind::PreservationExtension, false, true),
            // An extension whose preservation is not in the register.
            row(RequestKind::PreservationExtension, false, false),
            // Not a preservation.
            row(RequestKind::MlaStoredData, false, false),
        ];
        let s = compute(&rows);
        assert_eq!(s.preservations_expired, 2);
        assert_eq!(s.by_outcome["expired"], 5);
    }

    #[test]
    fn percentiles() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[3.0], 90.0), Some(3.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), Some(2.0));
    }
}
