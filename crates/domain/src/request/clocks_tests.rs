//! The clocks, one test per provision, and their properties.

use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;

const T: OffsetDateTime = datetime!(2026-11-25 10:00 UTC);

fn mla(state: RequestState, sent: Option<OffsetDateTime>) -> FollowUp {
    FollowUp {
        kind: RequestKind::MlaStoredData,
        state,
        sent_or_received: sent,
    }
}

#[test]
fn event_times_are_read_once_and_kept_in_utc() {
    let t = parse_event_time("2026-11-24T18:30:00+01:00").unwrap();
    assert_eq!(t, datetime!(2026-11-24 17:30 UTC));
    assert_eq!(t.offset(), UtcOffset::UTC);
    // Without its offset, a time means nothing across borders.
    assert_eq!(
        parse_event_time("2026-11-24T18:30:00").unwrap_err().code,
        "invalid_datetime"
    );
    assert_eq!(
        parse_event_time("yesterday").unwrap_err().code,
        "invalid_datetime"
    );
}

#[test]
fn an_event_time_is_bounded_by_the_clock_and_the_history() {
    let previous = Some(T - Duration::days(3));
    // None given: now.
    assert_eq!(event_time(None, T, previous), Ok(T));
    // Confirmed yesterday by telephone: yesterday.
    assert_eq!(
        event_time(Some(T - Duration::days(1)), T, previous),
        Ok(T - Duration::days(1))
    );
    // Tomorrow: refused; a minute ahead (clocks differ): now.
    assert_eq!(
        event_time(Some(T + Duration::days(1)), T, previous)
            .unwrap_err()
            .code(),
        "event_time_in_future"
    );
    assert_eq!(
        event_time(Some(T + Duration::minutes(1)), T, previous),
        Ok(T)
    );
    // Before what the history already holds: refused.
    assert_eq!(
        event_time(Some(T - Duration::days(4)), T, previous)
            .unwrap_err()
            .code(),
        "event_time_before_previous"
    );
    // Printing a document or the enforcing authority's track do not bound.
    let history = [
        ("mark_sent", T - Duration::days(3), None),
        ("acknowledge", T, Some(T - Duration::days(2))),
        ("document_rendered", T, None),
        (RECORD_OBJECTION, T, None),
    ];
    assert_eq!(
        previous_event_time(history.iter().map(|(a, r, o)| (*a, *r, *o))),
        Some(T - Duration::days(2))
    );
    // A peer's time is brought within bounds, not refused.
    assert_eq!(
        event_time_from_peer(Some(T - Duration::days(9)), T, previous),
        T - Duration::days(3)
    );
    assert_eq!(
        event_time_from_peer(Some(T + Duration::days(1)), T, None),
        T
    );
    // Approval is the click itself (four eyes).
    assert!(!action_takes_event_time(Action::Approve));
    assert!(action_takes_event_time(Action::ConfirmPreservation));
    assert!(action_takes_event_time(Action::MarkSent));
}

/// Budapest art. 29(7): "Following the receipt of such a request, the data
/// shall continue to be preserved pending a decision on that request."
#[test]
fn budapest_29_7_a_pending_mla_request_keeps_the_preservation_in_force() {
    let due = Some(T);
    let later = T + Duration::days(30);
    assert!(preservation_lapses(due, later, &[]));
    // Drafted but not sent: no request was received yet.
    assert!(preservation_lapses(
        due,
        later,
        &[mla(RequestState::Approved, None)]
    ));
    // Sent (or received) and awaiting its decision: in force.
    assert!(!preservation_lapses(
        due,
        later,
        &[mla(RequestState::Sent, Some(T - Duration::days(2)))]
    ));
    assert!(!preservation_lapses(
        due,
        later,
        &[mla(RequestState::InExecution, Some(T))]
    ));
    // Decided: the period counts again.
    assert!(preservation_lapses(
        due,
        later,
        &[mla(RequestState::Answered, Some(T))]
    ));
    // An extension or a disclosure of traffic data is no request for the data.
    let extension = FollowUp {
        kind: RequestKind::PreservationExtension,
        state: RequestState::Sent,
        sent_or_received: Some(T),
    };
    assert!(preservation_lapses(due, later, &[extension]));
    // Before its end, nothing lapses.
    assert!(!preservation_lapses(due, T - Duration::seconds(1), &[]));
    assert!(!preservation_lapses(None, later, &[]));
    // "Expired before MLA": one came before it lapsed, or not.
    assert!(mla(RequestState::Answered, Some(T)).came_by(T));
    assert!(!mla(RequestState::Sent, Some(later)).came_by(T));
}

/// Regulation (EU) 2023/1543 art. 11(1): 60 days from receipt, "extend ...
/// by an additional 30-day period": from the current end, not from the
/// extension.
#[test]
fn eu_11_1_an_extension_adds_thirty_days_to_the_current_end() {
    let rules = DeadlineRules::default();
    let eu = Some(LegalBasis::EuRegulation2023_1543);
    let received = T;
    let first = rules
        .deadline(
            RequestKind::ExpeditedPreservation,
            eu,
            Trigger::Received,
            received,
        )
        .unwrap();
    assert_eq!(first.due, received + Duration::days(60));
    assert_eq!(first.source, "Regulation (EU) 2023/1543 art. 11(1)");
    // Extended early, on day 10: 90 days from receipt (it was 40 with the
    // old count from the extension).
    let day_10 = received + Duration::days(10);
    let extended = extend(
        &rules,
        eu,
        RequestState::Preserved,
        Some(first.due),
        false,
        day_10,
    )
    .unwrap();
    assert_eq!(extended.due, received + Duration::days(90));
    assert_eq!(extended.trigger, Trigger::Extended);
    assert_eq!(extended.started_at, day_10);
    assert_eq!(extended.source, "Regulation (EU) 2023/1543 art. 11(1)");
    // The addressee has nothing to decide: it runs on receipt.
    assert_eq!(extension_takes_effect_on(eu), Trigger::Received);
    assert_eq!(
        extension_takes_effect_on(Some(LegalBasis::BudapestConvention)),
        Trigger::PreservationConfirmed
    );
    // "During that 60-day period": not after it ended...
    let late = extend(
        &rules,
        eu,
        RequestState::Preserved,
        Some(first.due),
        false,
        first.due + Duration::days(1),
    );
    assert_eq!(late.unwrap_err().code(), "preservation_already_ended");
    let lapsed = extend(
        &rules,
        eu,
        RequestState::Expired,
        Some(first.due),
        false,
        day_10,
    );
    assert_eq!(lapsed.unwrap_err().code(), "preservation_already_ended");
    // ...nor when it is not in force.
    let withdrawn = extend(
        &rules,
        eu,
        RequestState::Withdrawn,
        Some(first.due),
        false,
        day_10,
    );
    assert_eq!(withdrawn.unwrap_err().code(), "preservation_not_in_force");
    let not_started = extend(
        &rules,
        Some(LegalBasis::BudapestConvention),
        RequestState::Sent,
        None,
        false,
        day_10,
    );
    assert_eq!(not_started.unwrap_err().code(), "preservation_not_in_force");
    // Past its end but held by a pending request for the data: in force.
    assert!(extend(
        &rules,
        eu,
        RequestState::Preserved,
        Some(first.due),
        true,
        first.due + Duration::days(1)
    )
    .is_ok());
}

/// Budapest art. 29(7) and art. 16(2): a further period for other bases.
#[test]
fn budapest_extensions_add_the_configured_period() {
    let rules = DeadlineRules {
        preservation_days: 70,
        ..DeadlineRules::default()
    };
    let end = T + Duration::days(5);
    let d = extend(
        &rules,
        Some(LegalBasis::BudapestConvention),
        RequestState::Preserved,
        Some(end),
        false,
        T,
    )
    .unwrap();
    assert_eq!(d.due, end + Duration::days(70));
    assert_eq!(d.source, "Budapest art. 29(7)");
    let d = extend(
        &rules,
        Some(LegalBasis::Reciprocity),
        RequestState::Preserved,
        Some(end),
        false,
        T,
    )
    .unwrap();
    assert_eq!(d.due, end + Duration::days(90));
    assert_eq!(d.source, "Budapest art. 16(2) (domestic order)");
}

/// Regulation (EU) 2023/1543 art. 10(4): in an emergency the enforcing
/// authority may object "at the latest within 96 hours following receipt of
/// the notification"; art. 12(1): otherwise within 10 days.
#[test]
fn eu_10_4_an_emergency_order_carries_the_96_hour_objection_window() {
    let rules = DeadlineRules::default();
    let w = objection_window(&rules, RequestKind::EmergencyDisclosure, T);
    assert_eq!(w.due, T + Duration::hours(96));
    assert_eq!(w.trigger, Trigger::EnforcingAuthorityNotified);
    assert_eq!(w.started_at, T);
    assert_eq!(w.source, "Regulation (EU) 2023/1543 art. 10(4)");
    assert!(!objection_is_late(&w, T + Duration::hours(96)));
    assert!(objection_is_late(&w, T + Duration::hours(97)));
    let w = objection_window(&rules, RequestKind::ProductionOrder, T);
    assert_eq!(w.due, T + Duration::days(10));
    assert_eq!(w.source, "Regulation (EU) 2023/1543 art. 12(1)");
    // Art. 8(4): suspensive, except in emergencies.
    assert!(notification_suspends(RequestKind::ProductionOrder));
    assert!(!notification_suspends(RequestKind::EmergencyDisclosure));
    assert_eq!(
        "conditions".parse::<ObjectionEffect>(),
        Ok(ObjectionEffect::Conditions)
    );
    assert_eq!(
        "maybe".parse::<ObjectionEffect>().unwrap_err().code,
        "invalid_objection_effect"
    );
}

/// Art. 8(1): notified for traffic data (not identification only) or
/// content data; only for European Production Orders this node issues,
/// once sent, once.
#[test]
fn eu_8_the_notification_concerns_issued_production_orders() {
    assert!(notification_required(&[DataCategory::Traffic]));
    assert!(notification_required(&[
        DataCategory::Subscriber,
        DataCategory::Content
    ]));
    assert!(!notification_required(&[
        DataCategory::Subscriber,
        DataCategory::IdentificationOnly
    ]));
    let eu = Some(LegalBasis::EuRegulation2023_1543);
    let out = Direction::Outgoing;
    assert_eq!(
        may_notify(RequestKind::EmergencyDisclosure, eu, out, true, false),
        Ok(())
    );
    for (kind, basis, direction, sent, notified, code) in [
        (
            RequestKind::EmergencyDisclosure,
            Some(LegalBasis::SecondAdditionalProtocol),
            out,
            true,
            false,
            "not_a_european_production_order",
        ),
        (
            RequestKind::ExpeditedPreservation,
            eu,
            out,
            true,
            false,
            "not_a_european_production_order",
        ),
        (
            RequestKind::ProductionOrder,
            eu,
            Direction::Incoming,
            true,
            false,
            "not_a_european_production_order",
        ),
        (
            RequestKind::ProductionOrder,
            eu,
            out,
            false,
            false,
            "order_not_sent",
        ),
        (
            RequestKind::ProductionOrder,
            eu,
            out,
            true,
            true,
            "already_notified",
        ),
    ] {
        assert_eq!(
            may_notify(kind, basis, direction, sent, notified).map_err(|e| e.code()),
            Err(code)
        );
    }
    assert_eq!(
        may_record_objection(false, false).unwrap_err().code(),
        "not_notified"
    );
    assert_eq!(
        may_record_objection(true, true).unwrap_err().code(),
        "objection_already_recorded"
    );
}

#[test]
fn requests_follow_what_they_build_on() {
    let out = Direction::Outgoing;
    let p = RequestKind::ExpeditedPreservation;
    assert_eq!(
        check_follows(RequestKind::MlaStoredData, out, &[(1, p, out), (2, p, out)]),
        Ok(())
    );
    assert_eq!(
        check_follows(RequestKind::PreservationExtension, out, &[(1, p, out)]),
        Ok(())
    );
    assert_eq!(
        check_follows(
            RequestKind::PreservationExtension,
            out,
            &[(1, p, out), (2, p, out)]
        )
        .map_err(|(_, e)| e.code()),
        Err("extension_follows_one_preservation")
    );
    assert_eq!(
        check_follows(
            RequestKind::PreservationExtension,
            out,
            &[(1, RequestKind::PreservationExtension, out)]
        ),
        Err((
            Some(0),
            FollowError::KindMismatch {
                follower: RequestKind::PreservationExtension,
                earlier: RequestKind::PreservationExtension
            }
        ))
    );
    assert_eq!(
        check_follows(
            RequestKind::MlaStoredData,
            out,
            &[(1, p, Direction::Incoming)]
        ),
        Err((Some(0), FollowError::DirectionMismatch))
    );
    assert_eq!(
        check_follows(RequestKind::PoliceInformation, out, &[(1, p, out)])
            .map_err(|(i, e)| (i, e.code())),
        Err((Some(0), "follows_kind_mismatch"))
    );
    assert_eq!(
        check_follows(RequestKind::MlaStoredData, out, &[(1, p, out), (1, p, out)]),
        Err((Some(1), FollowError::Duplicate))
    );
    let many: Vec<_> = (0..=FOLLOWS_MAX).map(|i| (i, p, out)).collect();
    assert_eq!(
        check_follows(RequestKind::MlaStoredData, out, &many),
        Err((None, FollowError::TooMany))
    );
}

fn any_state() -> impl Strategy<Value = RequestState> {
    prop::sample::select(RequestState::ALL.to_vec())
}

fn any_instant() -> impl Strategy<Value = OffsetDateTime> {
    (0i64..4_000_000_000)
        .prop_map(|s| OffsetDateTime::from_unix_timestamp(s).unwrap_or(OffsetDateTime::UNIX_EPOCH))
}

proptest! {
    /// An extension never shortens a preservation, starts from its own
    /// event, and takes effect only on a preservation still in force.
    #[test]
    fn an_extension_never_shortens(
        basis in prop::option::of(prop::sample::select(LegalBasis::ALL.to_vec())),
        state in any_state(),
        end in any_instant(),
        at in any_instant(),
        pending in any::<bool>(),
        days in -10i64..400,
    ) {
        let rules = DeadlineRules {
            preservation_days: days,
            eu_preservation_extension_days: days,
            domestic_preservation_days: days,
            ..DeadlineRules::default()
        };
        if let Ok(d) = extend(&rules, basis, state, Some(end), pending, at) {
            prop_assert!(d.due >= end);
            prop_assert_eq!(d.started_at, at);
            prop_assert!(!state.is_final());
            prop_assert!(end >= at || pending);
        }
    }

    /// A preservation with a request for its data pending never lapses,
    /// however long past its end.
    #[test]
    fn a_preservation_with_a_pending_mla_request_never_lapses(
        due in any_instant(),
        now in any_instant(),
        kind in prop::sample::select(RequestKind::ALL.to_vec()),
        state in any_state(),
        sent in prop::option::of(any_instant()),
        others in prop::collection::vec((any_state(), prop::option::of(any_instant())), 0..4),
    ) {
        let mut follow_ups: Vec<FollowUp> = others.into_iter().map(|(s, t)| mla(s, t)).collect();
        let one = FollowUp { kind, state, sent_or_received: sent };
        follow_ups.push(one);
        if one.keeps_in_force() {
            prop_assert!(!preservation_lapses(Some(due), now, &follow_ups));
            prop_assert!(kind.requests_production() && sent.is_some() && !state.is_final());
        }
        if preservation_lapses(Some(due), now, &follow_ups) {
            prop_assert!(now >= due);
        }
    }

    /// An accepted event time is never in the future, nor before the
    /// previous event (when that is not in the future itself).
    #[test]
    fn an_accepted_event_time_is_within_its_bounds(
        given in prop::option::of(any_instant()),
        now in any_instant(),
        previous in prop::option::of(any_instant()),
    ) {
        if let Ok(at) = event_time(given, now, previous) {
            prop_assert!(at <= now);
            if let (Some(g), Some(p)) = (given, previous) {
                prop_assert!(g >= p);
            }
        }
        let from_peer = event_time_from_peer(given, now, previous);
        prop_assert!(from_peer <= now);
        if let Some(p) = previous.filter(|p| *p <= now) {
            prop_assert!(from_peer >= p);
        }
    }

    /// The objection window never precedes the notification.
    #[test]
    fn the_objection_window_never_precedes_the_notification(
        kind in prop::sample::select(RequestKind::ALL.to_vec()),
        at in any_instant(),
        hours in -10i64..400,
        days in -10i64..400,
    ) {
        let rules = DeadlineRules {
            enforcing_objection_hours: hours,
            enforcing_refusal_days: days,
            ..DeadlineRules::default()
        };
        let w = objection_window(&rules, kind, at);
        prop_assert!(w.due >= at);
        prop_assert_eq!(w.started_at, at);
    }
}
