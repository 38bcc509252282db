use proptest::prelude::*;
use time::macros::datetime;
use uuid::Uuid;

use super::*;
use crate::{CountryCode, Role, RoleSet};

/// A complete request of `kind`, as a careful drafter would write it.
pub fn complete(kind: RequestKind) -> RequestContent {
    let mut c = RequestContent {
        case_number: "PC247-2026-0117".into(),
        requesting: Contact {
            organisation: "Point de contact 24/7, Police nationale".into(),
            country: CountryCode::parse("FR").ok(),
            person: "Julien Martin".into(),
            address: "1 rue de l'Exemple, 75000 Paris".into(),
            phones: vec!["+33123456789".into()],
            email: "pc247@example.fr".into(),
            office_hours: "24/7".into(),
            time_zone: "Europe/Paris".into(),
            reply_channel: "Entraide".into(),
        },
        requested: Contact {
            organisation: "Unidad Fiscal Especializada en Ciberdelincuencia".into(),
            country: CountryCode::parse("AR").ok(),
            ..Contact::default()
        },
        domestic_legal_basis: "Code de procédure pénale art. 60-1".into(),
        legal_basis: Some(LegalBasis::BudapestConvention),
        offences: vec![Offence {
            description: "Fraudulent access to an automated data processing system".into(),
            provision: "Code pénal art. 323-1".into(),
            penalty: "3 years".into(),
        }],
        facts: "On 20 November 2026 around 03:10 UTC the files of a regional hospital group were encrypted; \
                the ransom note points to a leak site. Connection logs show remote desktop access from an address \
                hosted by a provider in the requested State during the two days before the attack."
            .into(),
        data: vec![DataRequested {
            category: DataCategory::Subscriber,
            description: "Subscriber and connection data of the hosting account".into(),
            relationship_to_offence: "The address was used to log in to the hospital's remote desktop gateway".into(),
        }],
        identifiers: vec![Identifier::ip("203.0.113.5", Some(51000), Some(datetime!(2026-11-20 03:10 UTC)))
            .unwrap_or(Identifier::Domain { name: "example.org".into() })],
        period_from: Some(datetime!(2026-11-18 00:00 UTC)),
        period_to: Some(datetime!(2026-11-20 06:00 UTC)),
        custodian: "ExampleHost S.A., Buenos Aires".into(),
        ..RequestContent::default()
    };
    match kind {
        RequestKind::ExpeditedPreservation | RequestKind::PreservationExtension => {
            c.necessity = "Logs are kept 30 days by the provider".into();
            c.mla_to_follow = Some(true);
            if kind == RequestKind::PreservationExtension {
                c.marking = Marking::Extension;
                c.previous_reference = "PC247-2026-0117/P1".into();
            }
        }
        RequestKind::TrafficDataDisclosure => c.previous_reference = "PC247-2026-0117/P1".into(),
        RequestKind::EmergencyDisclosure => {
            c.emergency_facts =
                "A person announced on the account that they will kill themself tonight".into();
            c.emergency_link = "The subscriber data identify where the person is".into();
        }
        RequestKind::MlaRealTimeTraffic | RequestKind::MlaInterception => {
            c.collection_days = Some(30);
            c.necessity = "Stored data do not show the current contacts of the suspects".into();
        }
        _ => {}
    }
    c
}

fn errors(kind: RequestKind, c: &RequestContent) -> Vec<(String, &'static str)> {
    assess(kind, c)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.field, f.code))
        .collect()
}

#[test]
fn every_kind_has_a_complete_example_with_no_error() {
    for kind in RequestKind::ALL {
        assert_eq!(errors(kind, &complete(kind)), vec![], "{kind}");
    }
}

#[test]
fn every_kind_refuses_an_empty_request_naming_the_fields() {
    for kind in RequestKind::ALL {
        let e = errors(kind, &RequestContent::default());
        let fields: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
        for must in [
            "case_number",
            "requesting.organisation",
            "requested.country",
            "offences",
            "facts",
        ] {
            assert!(
                fields.contains(&must),
                "{kind}: {must} not reported in {fields:?}"
            );
        }
    }
}

#[test]
fn preservation_needs_what_article_29_2_lists() {
    let mut c = complete(RequestKind::ExpeditedPreservation);
    c.necessity.clear();
    c.mla_to_follow = None;
    c.data[0].relationship_to_offence.clear();
    let e = errors(RequestKind::ExpeditedPreservation, &c);
    assert!(e.contains(&("necessity".into(), "required")));
    assert!(e.contains(&("mla_to_follow".into(), "mla_not_announced")));
    assert!(e.contains(&(
        "data[0].relationship_to_offence".into(),
        "no_link_to_offence"
    )));
}

#[test]
fn weak_content_gives_warnings() {
    let mut c = complete(RequestKind::SubscriberInformation);
    c.facts = "Fraud.".into();
    c.identifiers =
        vec![Identifier::ip("198.51.100.7", None, Some(datetime!(2026-11-20 03:10 UTC))).unwrap()];
    c.offences[0].provision.clear();
    let f = assess(RequestKind::SubscriberInformation, &c);
    let warnings: Vec<&str> = f
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(|f| f.code)
        .collect();
    assert!(warnings.contains(&"facts_too_short"));
    assert!(warnings.contains(&"ip_without_port"));
    assert!(warnings.contains(&"provision_missing"));
    assert!(!has_errors(&f));
}

#[test]
fn emergency_needs_the_facts_of_the_emergency() {
    let mut c = complete(RequestKind::EmergencyDisclosure);
    c.emergency_facts.clear();
    c.emergency_link.clear();
    let e = errors(RequestKind::EmergencyDisclosure, &c);
    assert!(e.contains(&("emergency_facts".into(), "required")));
    assert!(e.contains(&("emergency_link".into(), "required")));
}

#[test]
fn subscriber_information_excludes_content() {
    let mut c = complete(RequestKind::SubscriberInformation);
    c.data[0].category = DataCategory::Content;
    assert!(
        errors(RequestKind::SubscriberInformation, &c).contains(&("data".into(), "wrong_category"))
    );
}

#[test]
fn digest_changes_with_content() {
    let a = complete(RequestKind::ExpeditedPreservation);
    let mut b = a.clone();
    assert_eq!(a.digest(), b.digest());
    b.facts.push('.');
    assert_ne!(a.digest(), b.digest());
}

fn mv(
    state: RequestState,
    action: Action,
    actor: Uuid,
    roles: RoleSet,
    drafter: Uuid,
) -> Result<RequestState, TransitionError> {
    next_state(&Move {
        kind: RequestKind::ExpeditedPreservation,
        direction: Direction::Outgoing,
        state,
        action,
        actor: Some((actor, roles)),
        authors: vec![drafter],
        complete: true,
        channel: Channel::Outside,
    })
}

#[test]
fn four_eyes_and_roles() {
    let drafter = Uuid::new_v4();
    let approver = Uuid::new_v4();
    let both = RoleSet::of(&[Role::Officer, Role::Approver]);
    assert_eq!(
        mv(
            RequestState::AwaitingApproval,
            Action::Approve,
            drafter,
            both,
            drafter
        ),
        Err(TransitionError::FourEyes)
    );
    assert_eq!(
        mv(
            RequestState::AwaitingApproval,
            Action::Approve,
            approver,
            RoleSet::of(&[Role::Officer]),
            drafter
        ),
        Err(TransitionError::RoleMissing)
    );
    assert_eq!(
        mv(
            RequestState::AwaitingApproval,
            Action::Approve,
            approver,
            RoleSet::of(&[Role::Approver]),
            drafter
        ),
        Ok(RequestState::Approved)
    );
    assert!(matches!(
        mv(
            RequestState::Draft,
            Action::MarkSent,
            drafter,
            both,
            drafter
        ),
        Err(TransitionError::NotAllowed {
            state: RequestState::Draft,
            ..
        })
    ));
}

#[test]
fn preservation_refusals_are_narrow() {
    let a = Uuid::new_v4();
    let r = RoleSet::of(&[Role::Officer]);
    let refuse = |ground| {
        mv(
            RequestState::Sent,
            Action::Refuse { ground },
            a,
            r,
            Uuid::new_v4(),
        )
    };
    assert_eq!(
        refuse(RefusalGround::DualCriminality),
        Err(TransitionError::GroundNotOpen)
    );
    assert_eq!(
        refuse(RefusalGround::PoliticalOffence),
        Ok(RequestState::Refused)
    );
}

#[test]
fn deadlines_follow_the_legal_basis() {
    let rules = DeadlineRules::default();
    let t = datetime!(2026-11-25 10:00 UTC);
    let d = rules
        .deadline(
            RequestKind::ExpeditedPreservation,
            Some(LegalBasis::BudapestConvention),
            Trigger::PreservationConfirmed,
            t,
        )
        .unwrap();
    assert_eq!(d.due, datetime!(2027-01-24 10:00 UTC));
    assert_eq!(d.source, "Budapest art. 29(7)");
    let d = rules
        .deadline(
            RequestKind::EmergencyDisclosure,
            Some(LegalBasis::EuRegulation2023_1543),
            Trigger::Received,
            t,
        )
        .unwrap();
    assert_eq!(d.due, datetime!(2026-11-25 18:00 UTC));
    // An EPOC-PR's 60 days run from its receipt (EU 2023/1543 art. 11(1)),
    // not from a confirmation.
    assert!(rules
        .deadline(
            RequestKind::ExpeditedPreservation,
            Some(LegalBasis::EuRegulation2023_1543),
            Trigger::PreservationConfirmed,
            t,
        )
        .is_none());
    let d = rules
        .deadline(
            RequestKind::ExpeditedPreservation,
            Some(LegalBasis::EuRegulation2023_1543),
            Trigger::Received,
            t,
        )
        .unwrap();
    assert_eq!(d.due - t, time::Duration::days(60));
    assert_eq!(d.started_at, t);
    assert!(rules
        .deadline(RequestKind::MlaStoredData, None, Trigger::Received, t)
        .is_none());
    assert!(d.is_due_soon(d.due - time::Duration::days(2), &rules));
}

fn any_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::SubmitForApproval),
        Just(Action::ReturnToDraft),
        Just(Action::Approve),
        Just(Action::MarkSent),
        Just(Action::Acknowledge),
        Just(Action::StartExecution),
        Just(Action::ConfirmPreservation),
        Just(Action::RequestMoreInformation),
        Just(Action::ProvideInformation),
        Just(Action::AnswerPartially),
        Just(Action::AnswerCompletely),
        prop::sample::select(RefusalGround::ALL.to_vec())
            .prop_map(|ground| Action::Refuse { ground }),
        Just(Action::Withdraw),
        Just(Action::Expire),
    ]
}

proptest! {
    /// No sequence of commands reaches an invalid state: final states accept
    /// nothing, drafts are never sent, incomplete requests never leave the
    /// draft, and no approval is by anyone who drafted the request or
    /// changed its content since it was last approved — whatever the
    /// sequence of actions and content changes by whichever people.
    #[test]
    fn no_sequence_reaches_an_invalid_state(
        kind in prop::sample::select(RequestKind::ALL.to_vec()),
        incoming in any::<bool>(),
        steps in prop::collection::vec((prop::option::weighted(0.8, any_action()), 0usize..4, any::<bool>(), any::<u8>()), 0..48),
    ) {
        let direction = if incoming { Direction::Incoming } else { Direction::Outgoing };
        let people = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
        let drafter = people[0];
        let mut state = RequestState::initial(direction);
        let mut authorship = Authorship::drafted(Some(drafter));
        // Everyone who touched the content since the last approval, kept
        // here independently of `Authorship`.
        let mut touched = vec![drafter];
        for (action, who, complete, role_bits) in steps {
            let Some(action) = action else {
                // A content change: only a draft's content may change.
                if state == RequestState::Draft {
                    authorship.changed(people[who]);
                    if !touched.contains(&people[who]) { touched.push(people[who]); }
                }
                continue;
            };
            let roles = RoleSet::of(&Role::ALL.iter().copied().enumerate().filter(|(i, _)| role_bits & (1 << i) != 0).map(|(_, r)| r).collect::<Vec<_>>());
            let actor = if action == Action::Expire { None } else { Some((people[who], roles)) };
            let m = Move { kind, direction, state, action, actor, authors: authorship.authors(), complete, channel: Channel::Outside };
            if let Ok(next) = next_state(&m) {
                prop_assert!(!state.is_final(), "moved out of final state {state}");
                if next == RequestState::Approved {
                    prop_assert!(actor.is_some_and(|(a, r)| !touched.contains(&a) && r.contains(Role::Approver)));
                    prop_assert!(complete);
                    authorship.approved();
                    touched = vec![drafter];
                }
                if next == RequestState::AwaitingApproval { prop_assert!(complete); }
                if next == RequestState::Sent { prop_assert_eq!(state, RequestState::Approved); }
                if next == RequestState::Preserved { prop_assert!(kind.is_preservation()); }
                if direction == Direction::Incoming {
                    prop_assert!(!matches!(next, RequestState::Draft | RequestState::AwaitingApproval | RequestState::Approved));
                }
                state = next;
            }
        }
    }

    /// The history read back gives the same authors as the changes made.
    #[test]
    fn authorship_from_history_matches_the_changes(
        steps in prop::collection::vec((0usize..4, 0u8..3), 0..30),
    ) {
        let people = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
        let mut live = Authorship::drafted(Some(people[0]));
        let mut history: Vec<(&str, Option<Uuid>)> = vec![("drafted", Some(people[0]))];
        for (who, what) in steps {
            match what {
                0 => { live.changed(people[who]); history.push(("edited", Some(people[who]))); }
                1 => { live.approved(); history.push(("approve", Some(people[who]))); }
                _ => history.push(("submit_for_approval", Some(people[who]))),
            }
        }
        prop_assert_eq!(Authorship::from_history(history), live);
    }

    #[test]
    fn deadlines_never_precede_their_start(
        kind in prop::sample::select(RequestKind::ALL.to_vec()),
        basis in prop::option::of(prop::sample::select(LegalBasis::ALL.to_vec())),
        secs in 0i64..4_000_000_000,
        preservation_days in -10i64..400,
    ) {
        let rules = DeadlineRules { preservation_days, ..DeadlineRules::default() };
        let at = time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        for trigger in Trigger::ALL {
            if let Some(d) = rules.deadline(kind, basis, trigger, at) {
                prop_assert!(d.due >= at);
                prop_assert_eq!(d.started_at, at);
                prop_assert_eq!(d.trigger, trigger);
            }
        }
    }

    #[test]
    fn identifier_parsers_never_panic(s in ".{0,80}") {
        let _ = Identifier::iban(&s);
        let _ = Identifier::imei(&s);
        let _ = Identifier::payment_card(&s);
        let _ = Identifier::url(&s);
        let _ = Identifier::phone(&s);
        let _ = Identifier::crypto(Chain::Bitcoin, &s);
    }
}

fn by_user(
    kind: RequestKind,
    direction: Direction,
    state: RequestState,
    action: Action,
    channel: Channel,
) -> Result<RequestState, TransitionError> {
    next_state(&Move {
        kind,
        direction,
        state,
        action,
        actor: Some((Uuid::new_v4(), RoleSet::of(&Role::ALL))),
        authors: Vec::new(),
        complete: true,
        channel,
    })
}

#[test]
fn once_exchanged_each_side_records_only_its_own_actions() {
    let kind = RequestKind::ExpeditedPreservation;
    // The sending officer cannot acknowledge their own request once it
    // travelled to the peer: the acknowledgement comes from the peer.
    assert_eq!(
        by_user(
            kind,
            Direction::Outgoing,
            RequestState::Sent,
            Action::Acknowledge,
            Channel::Exchanged
        ),
        Err(TransitionError::OtherSide {
            action: "acknowledge"
        })
    );
    // Sent by e-mail, the reply recorded by hand stays possible.
    assert_eq!(
        by_user(
            kind,
            Direction::Outgoing,
            RequestState::Sent,
            Action::Acknowledge,
            Channel::Outside
        ),
        Ok(RequestState::Acknowledged)
    );
    // The requested side cannot withdraw the requester's request.
    assert_eq!(
        by_user(
            kind,
            Direction::Incoming,
            RequestState::Registered,
            Action::Withdraw,
            Channel::Exchanged
        ),
        Err(TransitionError::OtherSide { action: "withdraw" })
    );
    // A peer cannot tell us it acknowledged a request it sent us.
    assert_eq!(
        by_user(
            kind,
            Direction::Incoming,
            RequestState::Registered,
            Action::Acknowledge,
            Channel::Mirrored
        ),
        Err(TransitionError::NotThePeers {
            action: "acknowledge"
        })
    );
    let offered = available_actions(
        kind,
        Direction::Outgoing,
        RequestState::Sent,
        Channel::Exchanged,
    );
    assert_eq!(offered, vec![Action::Withdraw]);
    let offered = available_actions(
        kind,
        Direction::Incoming,
        RequestState::Registered,
        Channel::Exchanged,
    );
    assert!(offered.contains(&Action::Acknowledge) && !offered.contains(&Action::Withdraw));
}

/// The requesting node's "sent" is the requested node's "registered".
fn agreed(s: RequestState) -> RequestState {
    if s == RequestState::Registered {
        RequestState::Sent
    } else {
        s
    }
}

proptest! {
    /// Two registers of one exchanged request — the requesting node's and
    /// the requested node's — agree after any sequence of actions tried by
    /// users on either side, each accepted action mirrored on the other
    /// node (expiry, which each node records from its own clock, aside).
    #[test]
    fn exchanged_registers_always_agree(
        kind in prop::sample::select(RequestKind::ALL.to_vec()),
        steps in prop::collection::vec((any_action(), any::<bool>()), 0..48),
    ) {
        let mut requesting = RequestState::Sent;
        let mut requested = RequestState::Registered;
        for (action, on_requested_side) in steps {
            if action == Action::Expire {
                continue;
            }
            let (direction, mine, theirs) = if on_requested_side {
                (Direction::Incoming, requested, requesting)
            } else {
                (Direction::Outgoing, requesting, requested)
            };
            if let Ok(next) = by_user(kind, direction, mine, action, Channel::Exchanged) {
                prop_assert_eq!(action.side(), Some(Side::of(direction)));
                let other = match direction {
                    Direction::Incoming => Direction::Outgoing,
                    Direction::Outgoing => Direction::Incoming,
                };
                let mirrored = by_user(kind, other, theirs, action, Channel::Mirrored);
                prop_assert!(mirrored.is_ok(), "{} taken on one side but refused on the other: {:?}", action.name(), mirrored);
                let mirrored = mirrored.unwrap_or(theirs);
                if on_requested_side {
                    requested = next;
                    requesting = mirrored;
                } else {
                    requesting = next;
                    requested = mirrored;
                }
            }
            prop_assert_eq!(agreed(requesting), agreed(requested));
        }
    }
}
