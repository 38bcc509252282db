//! The request operations without HTTP: a node's state on a SQLite store in
//! a temporary directory, users and a case made through their services,
//! and the operations called with principals — no server, no caller.

use std::sync::Arc;

use entraide_domain::request::{Action, Direction, RequestKind, RequestState};
use entraide_domain::{
    CaseReference, CaseSummary, CaseTitle, CountryCode, DisplayName, Email, NewPassword, NodeId,
    OrganisationKind, OrganisationName, Role, RoleSet,
};
use serde_json::json;

use super::service;
use crate::admin::service::{create_user, initialise_node, NewNode};
use crate::app::audit::Actor;
use crate::app::config::Settings;
use crate::app::error::AppError;
use crate::app::principal::{Principal, RequestContext};
use crate::app::state::AppState;
use crate::node::Node;

struct Fixture {
    state: AppState,
    _dir: tempfile::TempDir,
}

async fn node() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("entraide.db").display());
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        node_id: NodeId::parse("fr-unit").unwrap(),
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: database_url.clone(),
        database_max_connections: None,
        blob_dir: dir.path().join("blobs"),
        public_url: None,
        tls: None,
        sessions: Default::default(),
        lockout: Default::default(),
        sign_in_attempts_per_minute: 10,
        reminders: None,
        deadlines: Default::default(),
        s3: None,
        federation: Default::default(),
        edge: Default::default(),
        smtp: None,
    };
    let store: Arc<dyn entraide_store::Store> =
        crate::node::open_store(&database_url).await.unwrap();
    initialise_node(
        store.as_ref(),
        NewNode {
            node_id: NodeId::parse("fr-unit").unwrap(),
            org_name: OrganisationName::parse("Unit central authority").unwrap(),
            org_kind: OrganisationKind::CentralAuthority,
            country: CountryCode::parse("FR").unwrap(),
            admin_email: Email::parse("admin@unit.example").unwrap(),
            admin_name: DisplayName::parse("Admin").unwrap(),
            admin_password: NewPassword::parse("a-long-password-for-units").unwrap(),
        },
    )
    .await
    .unwrap();
    let state = Node::with_store(settings, store).unwrap().state;
    Fixture { state, _dir: dir }
}

async fn user(state: &AppState, local: &str, roles: &[Role]) -> Principal {
    let email = Email::parse(&format!("{local}@unit.example")).unwrap();
    create_user(
        state.store.as_ref(),
        &Actor::command_line(),
        email.clone(),
        DisplayName::parse(local).unwrap(),
        NewPassword::parse("a-long-password-for-units").unwrap(),
        RoleSet::of(roles),
    )
    .await
    .unwrap();
    let stored = state.store.user_by_email(&email).await.unwrap().unwrap();
    Principal::user(stored, RequestContext::default())
}

fn complete_preservation() -> serde_json::Value {
    json!({
        "requesting": {"person": "J. Martin", "phones": ["+33123456789"], "time_zone": "Europe/Paris", "office_hours": "24/7"},
        "requested": {"organisation": "Unidad Fiscal", "country": "AR"},
        "domestic_legal_basis": "Code de procédure pénale art. 60-1",
        "legal_basis": "budapest_convention",
        "offences": [{"description": "Fraudulent access", "provision": "Code pénal art. 323-1"}],
        "facts": "Files of a hospital group were encrypted after remote desktop access from an address in the requested State.",
        "data": [{"category": "traffic", "description": "Connection logs", "relationship_to_offence": "The address logged in"}],
        "identifiers": [{"type": "ip_address", "address": "203.0.113.5", "port": 51000, "at": "2026-11-20T04:10:00+01:00"}],
        "period_from": "2026-11-18T00:00:00Z",
        "period_to": "2026-11-20T06:00:00Z",
        "custodian": "ExampleHost S.A.",
        "necessity": "Logs are kept 30 days only",
        "mla_to_follow": true
    })
}

/// A case the officer opens and the approver joins.
async fn case(state: &AppState, officer: &Principal, approver: &Principal) -> uuid::Uuid {
    let creator = officer.signed_in().unwrap().id;
    let c = crate::cases::service::create_case(
        state.store.as_ref(),
        &officer.actor(),
        creator,
        CaseReference::parse("UNIT-1").unwrap(),
        CaseTitle::parse("Hospital ransomware").unwrap(),
        CaseSummary::parse("").unwrap(),
    )
    .await
    .unwrap();
    let email = approver.signed_in().unwrap().email.to_string();
    crate::cases::service::add_member(state, officer, c.id, &email)
        .await
        .unwrap();
    c.id
}

#[tokio::test]
async fn drafted_submitted_approved_by_another_without_http() {
    let f = node().await;
    let officer = user(&f.state, "officer", &[Role::Officer]).await;
    let approver = user(&f.state, "approver", &[Role::Approver, Role::Officer]).await;
    let case_id = case(&f.state, &officer, &approver).await;
    let content = service::parse_content(complete_preservation()).unwrap();
    let r = service::create(
        &f.state,
        &officer,
        case_id,
        RequestKind::ExpeditedPreservation,
        Direction::Outgoing,
        content,
    )
    .await
    .unwrap();
    assert_eq!(r.state, RequestState::Draft);
    assert_eq!(r.drafted_by, officer.user_id());
    // Prefilled from the drafter and the organisation.
    assert_eq!(r.content.requesting.email, "officer@unit.example");
    assert_eq!(r.content.requesting.organisation, "Unit central authority");

    let r = service::transition(&f.state, &officer, r.id, Action::SubmitForApproval, None)
        .await
        .unwrap();
    // The drafter may not approve: four eyes.
    let own = service::transition(&f.state, &officer, r.id, Action::Approve, None).await;
    assert!(matches!(
        own,
        Err(AppError::ForbiddenRole | AppError::Transition { .. })
    ));
    let r = service::transition(&f.state, &approver, r.id, Action::Approve, None)
        .await
        .unwrap();
    assert_eq!(r.state, RequestState::Approved);
    assert_eq!(r.approved_by, approver.user_id());
    // Not exchanged with a peer: the move queued nothing.
    assert!(f.state.store.outbox(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_request_registered_for_a_peer_is_recorded_as_the_peer() {
    let f = node().await;
    let officer = user(&f.state, "duty", &[Role::Officer]).await;
    let owner = officer.signed_in().unwrap().clone();
    let (case, case_audit) = crate::cases::service::new_case(
        &Principal::peer("ar-ufeci").actor(),
        owner.id,
        CaseReference::parse("ar-ufeci-R1").unwrap(),
        CaseTitle::parse("From ar-ufeci").unwrap(),
        CaseSummary::parse("").unwrap(),
    );
    let message_id = uuid::Uuid::now_v7();
    let peer_request_id = uuid::Uuid::now_v7();
    let r = service::register_received(
        &f.state,
        &Principal::peer("ar-ufeci"),
        service::Intake {
            case,
            case_audit: Some(case_audit),
            peer_node: "ar-ufeci".into(),
            peer_request_id,
            message_id,
            follows: Vec::new(),
        },
        RequestKind::ExpeditedPreservation,
        service::parse_content(complete_preservation()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(r.direction, Direction::Incoming);
    assert_eq!(r.drafted_by, None);
    let events = f.state.store.request_events(r.id).await.unwrap();
    assert_eq!(events[0].actor, "node:ar-ufeci");
    assert_eq!(events[0].actor_id, None);
    assert_eq!(
        f.state
            .store
            .request_by_link("ar-ufeci", peer_request_id)
            .await
            .unwrap(),
        Some(r.id)
    );
    // The case exists, owned by the duty officer, who can read the request.
    let mine = service::member_request(&f.state, &officer, r.id)
        .await
        .unwrap();
    assert_eq!(mine.id, r.id);
}

#[tokio::test]
async fn content_is_refused_by_the_domain_with_its_code_and_path() {
    let mut bad = complete_preservation();
    bad["identifiers"] = json!([{"type": "iban", "value": "FR76 3000 6000 0112 3456 7890 188"}]);
    match service::parse_content(bad) {
        Err(AppError::Validation(errors)) => {
            assert_eq!(errors[0].code, "invalid_iban");
            assert_eq!(errors[0].field, "content.identifiers[0].value");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_approver_who_changed_the_content_may_not_approve_it() {
    let f = node().await;
    let officer = user(&f.state, "officer", &[Role::Officer]).await;
    let approver = user(&f.state, "approver", &[Role::Approver, Role::Officer]).await;
    let second = user(&f.state, "second", &[Role::Approver]).await;
    let case_id = case(&f.state, &officer, &approver).await;
    let email = second.signed_in().unwrap().email.to_string();
    crate::cases::service::add_member(&f.state, &officer, case_id, &email)
        .await
        .unwrap();
    let r = service::create(
        &f.state,
        &officer,
        case_id,
        RequestKind::ExpeditedPreservation,
        Direction::Outgoing,
        service::parse_content(complete_preservation()).unwrap(),
    )
    .await
    .unwrap();
    service::transition(&f.state, &officer, r.id, Action::SubmitForApproval, None)
        .await
        .unwrap();
    // The attack: the approver returns it to draft, rewrites it, submits
    // it and approves it.
    service::transition(&f.state, &approver, r.id, Action::ReturnToDraft, None)
        .await
        .unwrap();
    let mut rewritten = service::member_request(&f.state, &approver, r.id)
        .await
        .unwrap()
        .content;
    rewritten.facts = "Rewritten by the approver.".into();
    service::update_content(&f.state, &approver, r.id, rewritten)
        .await
        .unwrap();
    service::transition(&f.state, &approver, r.id, Action::SubmitForApproval, None)
        .await
        .unwrap();
    let own = service::transition(&f.state, &approver, r.id, Action::Approve, None).await;
    assert!(
        matches!(
            own,
            Err(AppError::Transition {
                code: "four_eyes",
                ..
            })
        ),
        "{own:?}"
    );
    // Someone who neither drafted nor changed it may.
    let r = service::transition(&f.state, &second, r.id, Action::Approve, None)
        .await
        .unwrap();
    assert_eq!(r.approved_by, second.user_id());
}
