//! The law's clocks against real nodes: a preservation held in force by a
//! pending MLA request (Budapest art. 29(7)), an EU extension counted from
//! the current end (Regulation (EU) 2023/1543 art. 11(1)), the enforcing
//! authority's 96-hour window for an emergency order (art. 10(4)), and the
//! time an event really happened, bounded and starting the clock.

use anyhow::Result;
use entraide_domain::Role;
use entraide_testkit::{on_both_backends, spawn_node, Backend, TestNode, TestUser};
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::requests::complete_preservation;

/// An officer and an approver of one case.
struct Case {
    officer: TestUser,
    approver: TestUser,
    id: String,
}

async fn case(node: &TestNode, reference: &str) -> Result<Case> {
    case_of(node, reference, "").await
}

/// A case whose users' e-mail addresses start with `who`.
async fn case_of(node: &TestNode, reference: &str, who: &str) -> Result<Case> {
    let officer = node
        .user(&format!("{who}officer"), &[Role::Officer])
        .await?;
    let approver = node
        .user(&format!("{who}approver"), &[Role::Approver])
        .await?;
    let o = node.api(Some(&officer.token));
    let c = o
        .post(
            "/api/v1/cases",
            &json!({"reference": reference, "title": "Clocks"}),
        )
        .await?;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    let id = c.json["id"].as_str().unwrap().to_owned();
    o.post(
        &format!("/api/v1/cases/{id}/members"),
        &json!({"email": approver.email}),
    )
    .await?;
    Ok(Case {
        officer,
        approver,
        id,
    })
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

fn instant(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().unwrap_or_default(), &Rfc3339)
        .unwrap_or_else(|_| panic!("not an instant: {v}"))
}

/// Posts an action (with `extra` fields) on request `id` as `who`.
async fn act(
    node: &TestNode,
    who: &TestUser,
    id: &str,
    action: &str,
    extra: Value,
) -> Result<entraide_testkit::Reply> {
    let mut body = json!({"action": action});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    node.api(Some(&who.token))
        .post(&format!("/api/v1/requests/{id}/transitions"), &body)
        .await
}

/// Drafts a request of `kind` in the case (following `follows`), has it
/// approved and marked sent; returns its view.
async fn sent(
    node: &TestNode,
    c: &Case,
    kind: &str,
    content: Value,
    follows: &[&str],
) -> Result<Value> {
    let r = node
        .api(Some(&c.officer.token))
        .post(
            &format!("/api/v1/cases/{}/requests", c.id),
            &json!({"kind": kind, "content": content, "follows": follows}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_str().unwrap().to_owned();
    approve_and_send(node, c, &id).await
}

async fn approve_and_send(node: &TestNode, c: &Case, id: &str) -> Result<Value> {
    let s = act(node, &c.officer, id, "submit_for_approval", json!({})).await?;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    let a = act(node, &c.approver, id, "approve", json!({})).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let m = act(node, &c.officer, id, "mark_sent", json!({})).await?;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    Ok(m.json)
}

/// A confirmed preservation: sent, and the requested side's replies
/// recorded by hand (not exchanged through Entraide).
async fn preserved(node: &TestNode, c: &Case, content: Value) -> Result<Value> {
    let p = sent(node, c, "expedited_preservation", content, &[]).await?;
    let id = p["id"].as_str().unwrap().to_owned();
    for a in ["acknowledge", "confirm_preservation"] {
        let r = act(node, &c.officer, &id, a, json!({})).await?;
        assert_eq!(r.status, StatusCode::OK, "{a}: {}", r.text);
    }
    Ok(node
        .api(Some(&c.officer.token))
        .get(&format!("/api/v1/requests/{id}"))
        .await?
        .json)
}

fn mla_content() -> Value {
    let mut c = entraide_proto::schema::complete_example(
        entraide_domain::request::RequestKind::MlaStoredData,
    )["content"]
        .clone();
    c["requesting"]["organisation"] = json!("Test central authority");
    c
}

/// Runs `sql` with `bind` values on the node's own database, beside its
/// store (to put a period's end in the past without waiting for it).
async fn set_millis(node: &TestNode, column: &str, id: &str, at: OffsetDateTime) -> Result<()> {
    let id = uuid::Uuid::parse_str(id)?;
    let ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
    let sql = format!("UPDATE requests SET {column} = $1 WHERE id = $2");
    if node.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&node.database_url).await?;
        sqlx::query(&sql).bind(ms).bind(id).execute(&pool).await?;
    } else {
        let pool = sqlx::PgPool::connect(&node.database_url).await?;
        sqlx::query(&sql).bind(ms).bind(id).execute(&pool).await?;
    }
    Ok(())
}

/// The figures served equal those computed afresh from the requests.
async fn statistics_agree(node: &TestNode) -> Result<Value> {
    let analyst = node.user("analyst", &[Role::Analyst]).await?;
    let now = OffsetDateTime::now_utc();
    let served = node
        .api(Some(&analyst.token))
        .get("/api/v1/statistics")
        .await?
        .json;
    let rows = node
        .store
        .request_stat_rows(now - Duration::days(400), now + Duration::days(1))
        .await?;
    let direct = serde_json::to_value(entraide_domain::request::compute_statistics(&rows))?;
    assert_eq!(served, direct);
    Ok(served)
}

on_both_backends!(a_preservation_with_a_pending_mla_request_does_not_lapse);

async fn a_preservation_with_a_pending_mla_request_does_not_lapse(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let c = case(&node, "CLK-1").await?;
    let o = node.api(Some(&c.officer.token));
    let p = preserved(&node, &c, complete_preservation()).await?;
    let p_id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(p["deadline"]["source"], "Budapest art. 29(7)");
    assert_eq!(p["deadline"]["trigger"], "preservation_confirmed");
    // A second preservation that no MLA request follows.
    let lone = preserved(&node, &c, complete_preservation()).await?;
    let lone_id = lone["id"].as_str().unwrap().to_owned();
    let after_the_end = OffsetDateTime::now_utc() + Duration::days(61);

    // The MLA request follows the first; drafted, it holds nothing yet.
    let draft = o
        .post(
            &format!("/api/v1/cases/{}/requests", c.id),
            &json!({"kind": "mla_stored_data", "content": mla_content(), "follows": [p_id]}),
        )
        .await?;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.text);
    assert_eq!(draft.json["follows"][0]["reference"], p["reference"]);
    let mla_id = draft.json["id"].as_str().unwrap().to_owned();
    let overdue: Vec<_> = node
        .store
        .overdue_preservations(after_the_end)
        .await?
        .into_iter()
        .map(|r| r.id.to_string())
        .collect();
    assert!(overdue.contains(&p_id) && overdue.contains(&lone_id));

    // Sent: the preservation continues pending the decision on it.
    approve_and_send(&node, &c, &mla_id).await?;
    let swept = entraide_server::requests::expire_overdue(&node.state, after_the_end).await?;
    assert_eq!(swept, 1, "only the preservation no MLA request follows");
    let p = o.get(&format!("/api/v1/requests/{p_id}")).await?.json;
    assert_eq!(p["state"], "preserved");
    assert_eq!(p["deadline"]["pending_decision"], true);
    assert_eq!(p["followed_by"][0]["id"], mla_id.as_str());
    assert_eq!(p["followed_by"][0]["pending_decision"], true);
    let lone = o.get(&format!("/api/v1/requests/{lone_id}")).await?.json;
    assert_eq!(lone["state"], "expired");
    // Both request pages show the link; the preservation's, why it holds.
    let web = node.browser()?;
    web.sign_in(&c.officer.email, entraide_testkit::PASSWORD)
        .await?;
    let page = web.get(&format!("/requests/{p_id}")).await?.text;
    assert!(
        page.contains("In force pending a decision")
            && page.contains(&format!("/requests/{mla_id}")),
        "{page}"
    );
    let page = web.get(&format!("/requests/{mla_id}")).await?.text;
    assert!(page.contains(&format!("/requests/{p_id}")), "{page}");

    // Decided: the period counts again, and it lapses — but an MLA request
    // came before it did, so it is not "expired before MLA".
    for a in ["acknowledge", "answer_completely"] {
        let r = act(&node, &c.officer, &mla_id, a, json!({})).await?;
        assert_eq!(r.status, StatusCode::OK, "{a}: {}", r.text);
    }
    let swept = entraide_server::requests::expire_overdue(&node.state, after_the_end).await?;
    assert_eq!(swept, 1);
    let p = o.get(&format!("/api/v1/requests/{p_id}")).await?.json;
    assert_eq!(p["state"], "expired");
    let s = statistics_agree(&node).await?;
    assert_eq!(s["by_outcome"]["expired"], 2);
    assert_eq!(s["preservations_expired"], 1, "{s}");

    // What an MLA request may follow is checked.
    let wrong = o
        .post(
            &format!("/api/v1/cases/{}/requests", c.id),
            &json!({"kind": "police_information", "follows": [p_id]}),
        )
        .await?;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.json["errors"][0]["field"], "follows[0]");
    assert_eq!(wrong.json["errors"][0]["code"], "follows_kind_mismatch");
    let other = case_of(&node, "CLK-1-OTHER", "other-").await?;
    let elsewhere = node
        .api(Some(&other.officer.token))
        .post(
            &format!("/api/v1/cases/{}/requests", other.id),
            &json!({"kind": "mla_stored_data", "follows": [p_id]}),
        )
        .await?;
    assert_eq!(elsewhere.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(elsewhere.json["errors"][0]["code"], "follows_not_in_case");
    Ok(())
}

on_both_backends!(an_eu_extension_adds_thirty_days_to_the_current_end);

async fn an_eu_extension_adds_thirty_days_to_the_current_end(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let c = case(&node, "CLK-2").await?;
    let o = node.api(Some(&c.officer.token));
    let mut content = complete_preservation();
    content["legal_basis"] = json!("eu_regulation_2023_1543");
    // An EPOC-PR's 60 days run from its receipt (art. 11(1)), here its
    // sending: no confirmation needed.
    let p = sent(&node, &c, "expedited_preservation", content, &[]).await?;
    let p_id = p["id"].as_str().unwrap().to_owned();
    // As stored (to the millisecond).
    let p = o.get(&format!("/api/v1/requests/{p_id}")).await?.json;
    assert_eq!(p["deadline"]["trigger"], "received");
    assert_eq!(
        p["deadline"]["source"],
        "Regulation (EU) 2023/1543 art. 11(1)"
    );
    let received = instant(&p["deadline"]["started_at"]);
    let first_end = instant(&p["deadline"]["due"]);
    assert_eq!(first_end - received, Duration::days(60));

    // Extended early (today, day 0): thirty days more than the current end,
    // not thirty days from today.
    let e = o
        .post(&format!("/api/v1/requests/{p_id}/extension"), &json!({}))
        .await?;
    assert_eq!(e.status, StatusCode::CREATED, "{}", e.text);
    assert_eq!(e.json["follows"][0]["id"], p_id.as_str());
    let e_id = e.json["id"].as_str().unwrap().to_owned();
    let e = approve_and_send(&node, &c, &e_id).await?;
    assert!(
        e["deadline"].is_null(),
        "the extension moves the preservation's clock: {e}"
    );
    let p = o.get(&format!("/api/v1/requests/{p_id}")).await?.json;
    let new_end = instant(&p["deadline"]["due"]);
    assert_eq!(new_end, first_end + Duration::days(30));
    assert_eq!(p["deadline"]["trigger"], "extended");
    assert_eq!(
        p["deadline"]["source"],
        "Regulation (EU) 2023/1543 art. 11(1)"
    );
    // It took effect when it was sent (received): today.
    let effect = instant(&p["deadline"]["started_at"]);
    let sending = instant(&e["events"].as_array().unwrap().last().unwrap()["at"]);
    assert!(
        (effect - sending).abs() < Duration::seconds(5),
        "{effect} {sending}"
    );
    let history: Vec<&str> = p["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(history.contains(&"extended"), "{history:?}");
    assert_eq!(p["followed_by"][0]["id"], e_id.as_str());

    // Once the preservation ended, an extension is refused: only a new
    // preservation can be requested.
    set_millis(
        &node,
        "deadline_due",
        &p_id,
        OffsetDateTime::now_utc() - Duration::days(1),
    )
    .await?;
    let late = o
        .post(&format!("/api/v1/requests/{p_id}/extension"), &json!({}))
        .await?;
    assert_eq!(late.status, StatusCode::CREATED, "{}", late.text);
    let late_id = late.json["id"].as_str().unwrap().to_owned();
    act(
        &node,
        &c.officer,
        &late_id,
        "submit_for_approval",
        json!({}),
    )
    .await?;
    act(&node, &c.approver, &late_id, "approve", json!({})).await?;
    let refused = act(&node, &c.officer, &late_id, "mark_sent", json!({})).await?;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.code(), "preservation_already_ended");
    let still = o.get(&format!("/api/v1/requests/{late_id}")).await?.json;
    assert_eq!(
        still["state"], "approved",
        "nothing of the refused step is written"
    );
    Ok(())
}

/// A complete emergency EPOC (Regulation (EU) 2023/1543 art. 10(4)).
fn emergency_content() -> Value {
    let mut c = entraide_proto::schema::complete_example(
        entraide_domain::request::RequestKind::EmergencyDisclosure,
    )["content"]
        .clone();
    c["legal_basis"] = json!("eu_regulation_2023_1543");
    c["requesting"]["organisation"] = json!("Test central authority");
    c
}

on_both_backends!(an_emergency_epoc_carries_the_96_hour_objection_window);

async fn an_emergency_epoc_carries_the_96_hour_objection_window(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let c = case(&node, "CLK-3").await?;
    let o = node.api(Some(&c.officer.token));
    let draft = o
        .post(
            &format!("/api/v1/cases/{}/requests", c.id),
            &json!({"kind": "emergency_disclosure", "content": emergency_content()}),
        )
        .await?;
    let id = draft.json["id"].as_str().unwrap().to_owned();
    let notify = |body: Value| {
        let o = node.api(Some(&c.officer.token));
        let path = format!("/api/v1/requests/{id}/enforcing-authority");
        async move { o.post(&path, &body).await }
    };
    // Notified with the order, when it is transmitted (art. 8(1)).
    assert_eq!(notify(json!({})).await?.code(), "order_not_sent");
    let order = approve_and_send(&node, &c, &id).await?;
    // The addressee's 8 hours run from receipt (art. 10(4)).
    assert_eq!(
        instant(&order["deadline"]["due"]) - instant(&order["deadline"]["started_at"]),
        Duration::hours(8)
    );
    let future = rfc3339(OffsetDateTime::now_utc() + Duration::days(1));
    let r = notify(json!({"occurred_at": future})).await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["errors"][0]["code"], "event_time_in_future");
    let r = notify(json!({"note": "EPOC sent to the enforcing authority"})).await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let e = &r.json["enforcing_authority"];
    let notified = instant(&e["notified_at"]);
    let window = &e["objection_window"];
    assert_eq!(instant(&window["due"]) - notified, Duration::hours(96));
    assert_eq!(window["source"], "Regulation (EU) 2023/1543 art. 10(4)");
    assert_eq!(window["trigger"], "enforcing_authority_notified");
    assert_eq!(instant(&window["started_at"]), notified);
    assert_eq!(e["suspensive"], false, "art. 8(4): not in emergencies");
    assert_eq!(r.json["state"], "sent", "a record beside the order's life");
    assert_eq!(notify(json!({})).await?.code(), "already_notified");

    // Its objection, with its effect.
    let object = |id: String, body: Value| {
        let o = node.api(Some(&c.officer.token));
        async move {
            o.post(&format!("/api/v1/requests/{id}/objection"), &body)
                .await
        }
    };
    let r = object(id.clone(), json!({"effect": "conditions"})).await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["errors"][0]["field"], "conditions");
    let r = object(
        id.clone(),
        json!({"effect": "conditions", "conditions": "Use limited to locating the person"}),
    )
    .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let answer = &r.json["enforcing_authority"]["objection"];
    assert_eq!(answer["effect"], "conditions");
    assert_eq!(answer["late"], false);
    assert_eq!(answer["conditions"], "Use limited to locating the person");
    assert_eq!(
        answer["source"],
        "Regulation (EU) 2023/1543 arts. 10(4), 12(4)"
    );
    assert_eq!(
        object(id.clone(), json!({"effect": "none"})).await?.code(),
        "objection_already_recorded"
    );
    let web = node.browser()?;
    web.sign_in(&c.officer.email, entraide_testkit::PASSWORD)
        .await?;
    let page = web.get(&format!("/requests/{id}")).await?.text;
    assert!(
        page.contains("Window to object ends")
            && page.contains("Regulation (EU) 2023/1543 art. 10(4)")
            && page.contains("Use limited to locating the person"),
        "{page}"
    );

    // An objection after the window is recorded, marked late.
    let second = sent(&node, &c, "emergency_disclosure", emergency_content(), &[]).await?;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let r = node
        .api(Some(&c.officer.token))
        .post(
            &format!("/api/v1/requests/{second_id}/enforcing-authority"),
            &json!({}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    set_millis(
        &node,
        "objection_due",
        &second_id,
        OffsetDateTime::now_utc() - Duration::hours(1),
    )
    .await?;
    let r = object(second_id.clone(), json!({"effect": "delete_or_restrict"})).await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["enforcing_authority"]["objection"]["late"], true);

    // Only a European Production Order this node issued is notified.
    let p = sent(
        &node,
        &c,
        "expedited_preservation",
        complete_preservation(),
        &[],
    )
    .await?;
    let r = node
        .api(Some(&c.officer.token))
        .post(
            &format!(
                "/api/v1/requests/{}/enforcing-authority",
                p["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "not_a_european_production_order");
    Ok(())
}

on_both_backends!(an_event_time_is_bounded_and_starts_the_clock);

async fn an_event_time_is_bounded_and_starts_the_clock(backend: Backend) -> Result<()> {
    let node = spawn_node(backend).await?;
    let c = case(&node, "CLK-4").await?;
    let o = node.api(Some(&c.officer.token));
    // Times are kept to the millisecond: whole seconds compare exactly.
    let now = OffsetDateTime::now_utc().replace_nanosecond(0)?;
    // A preservation request received by e-mail three days ago, registered
    // today.
    let mut content = complete_preservation();
    content["requesting"]["organisation"] =
        json!("Unidad Fiscal Especializada en Ciberdelincuencia");
    content["requesting"]["country"] = json!("AR");
    let received = now - Duration::days(3);
    let r = o
        .post(
            &format!("/api/v1/cases/{}/requests", c.id),
            &json!({"kind": "expedited_preservation", "direction": "incoming",
                    "content": content, "occurred_at": rfc3339(received)}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_str().unwrap().to_owned();
    assert_eq!(instant(&r.json["events"][0]["occurred_at"]), received);
    let acknowledged = now - Duration::days(2);
    let r = act(
        &node,
        &c.officer,
        &id,
        "acknowledge",
        json!({"occurred_at": rfc3339(acknowledged)}),
    )
    .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Not in the future, not before the previous event, with its offset.
    let refused = |occurred_at: String| {
        act(
            &node,
            &c.officer,
            &id,
            "confirm_preservation",
            json!({"occurred_at": occurred_at}),
        )
    };
    for (given, code) in [
        (rfc3339(now + Duration::days(1)), "event_time_in_future"),
        (
            rfc3339(now - Duration::days(4)),
            "event_time_before_previous",
        ),
        ("2026-11-24T18:30:00".to_owned(), "invalid_datetime"),
    ] {
        let r = refused(given.clone()).await?;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{given}: {}",
            r.text
        );
        assert_eq!(r.json["errors"][0]["field"], "occurred_at");
        assert_eq!(r.json["errors"][0]["code"], code, "{given}");
    }
    assert_eq!(
        o.get(&format!("/api/v1/requests/{id}")).await?.json["state"],
        "acknowledged",
        "nothing recorded"
    );

    // Confirmed yesterday by telephone (given in the caller's own zone):
    // the sixty days run from yesterday.
    let yesterday = now - Duration::days(1);
    let local = yesterday.to_offset(time::UtcOffset::from_hms(-3, 0, 0)?);
    let r = act(
        &node,
        &c.officer,
        &id,
        "confirm_preservation",
        json!({"occurred_at": rfc3339(local)}),
    )
    .await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let d = &r.json["deadline"];
    assert_eq!(instant(&d["started_at"]), yesterday);
    assert_eq!(instant(&d["due"]), yesterday + Duration::days(60));
    assert_eq!(d["trigger"], "preservation_confirmed");
    assert_eq!(d["source"], "Budapest art. 29(7)");
    let last = r.json["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["occurred_at"], rfc3339(yesterday), "kept in UTC");
    assert!(instant(&last["at"]) >= now, "recorded now, beside it");
    // The page shows when it happened beside when it was recorded.
    let web = node.browser()?;
    web.sign_in(&c.officer.email, entraide_testkit::PASSWORD)
        .await?;
    let page = web.get(&format!("/requests/{id}")).await?.text;
    assert!(
        page.contains("recorded") && page.contains("Preservation confirmed"),
        "{page}"
    );
    assert!(
        page.contains("started by: preservation confirmed"),
        "{page}"
    );

    // Approving happens when recorded; a draft is drafted now.
    let draft = o
        .post(
            &format!("/api/v1/cases/{}/requests", c.id),
            &json!({"kind": "expedited_preservation", "content": complete_preservation(),
                    "occurred_at": rfc3339(received)}),
        )
        .await?;
    assert_eq!(draft.json["errors"][0]["code"], "event_time_not_applicable");
    let draft = o
        .post(
            &format!("/api/v1/cases/{}/requests", c.id),
            &json!({"kind": "expedited_preservation", "content": complete_preservation()}),
        )
        .await?;
    let draft_id = draft.json["id"].as_str().unwrap().to_owned();
    let r = act(
        &node,
        &c.officer,
        &draft_id,
        "submit_for_approval",
        json!({"occurred_at": rfc3339(now)}),
    )
    .await?;
    assert_eq!(r.json["errors"][0]["code"], "event_time_not_applicable");

    // An emergency order received two hours ago: its eight hours run from
    // then (Regulation (EU) 2023/1543 art. 10(4)).
    let mut order = emergency_content();
    order["requesting"]["country"] = json!("DE");
    let two_hours_ago = now - Duration::hours(2);
    let r = o
        .post(
            &format!("/api/v1/cases/{}/requests", c.id),
            &json!({"kind": "emergency_disclosure", "direction": "incoming",
                    "content": order, "occurred_at": rfc3339(two_hours_ago)}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        instant(&r.json["deadline"]["due"]),
        two_hours_ago + Duration::hours(8)
    );
    assert_eq!(r.json["deadline"]["trigger"], "received");
    Ok(())
}

on_both_backends!(a_follow_up_sent_to_a_peer_follows_the_preservation_there);

/// The MLA request follows the preservation at the requested node too:
/// registered in its case, linked to its own copy of the preservation,
/// which it keeps in force there.
async fn a_follow_up_sent_to_a_peer_follows_the_preservation_there(backend: Backend) -> Result<()> {
    use super::federation::{pin, spawn_named, wait_for};
    let a = spawn_named(backend.clone(), "fr-pc247").await?;
    let b = spawn_named(backend, "ar-ufeci").await?;
    pin(&a, &b).await?;
    pin(&b, &a).await?;
    let c = case(&a, "CLK-5").await?;
    let o = a.api(Some(&c.officer.token));
    let duty = b.user("duty", &[Role::Officer]).await?;
    let bo = b.api(Some(&duty.token));
    let p = o
        .post(
            &format!("/api/v1/cases/{}/requests", c.id),
            &json!({"kind": "expedited_preservation", "content": complete_preservation()}),
        )
        .await?;
    let p_id = p.json["id"].as_str().unwrap().to_owned();
    approve_and_send_to_peer(&a, &c, &p_id).await?;
    let arrived = |kind: &'static str| {
        let bo = &bo;
        wait_for(move || async move {
            let list = bo.get("/api/v1/requests").await?.json;
            Ok(list
                .as_array()
                .and_then(|l| l.iter().find(|r| r["kind"] == kind).cloned()))
        })
    };
    let p_b = arrived("expedited_preservation").await?;
    let p_b_id = p_b["id"].as_str().unwrap().to_owned();
    for action in ["acknowledge", "confirm_preservation"] {
        let r = act(&b, &duty, &p_b_id, action, json!({})).await?;
        assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.text);
    }

    // The MLA request follows the preservation, here and there.
    let m = o
        .post(
            &format!("/api/v1/cases/{}/requests", c.id),
            &json!({"kind": "mla_stored_data", "content": mla_content(), "follows": [p_id]}),
        )
        .await?;
    assert_eq!(m.status, StatusCode::CREATED, "{}", m.text);
    let m_id = m.json["id"].as_str().unwrap().to_owned();
    let sent = approve_and_send_to_peer(&a, &c, &m_id).await?;
    assert_eq!(sent["follows"][0]["id"], p_id.as_str());
    let m_b = arrived("mla_stored_data").await?;
    let m_b_id = m_b["id"].as_str().unwrap().to_owned();
    assert_eq!(
        m_b["case_id"], p_b["case_id"],
        "registered in the case it follows"
    );
    let m_b = bo.get(&format!("/api/v1/requests/{m_b_id}")).await?.json;
    assert_eq!(m_b["follows"][0]["id"], p_b_id.as_str());
    let p_b = bo.get(&format!("/api/v1/requests/{p_b_id}")).await?.json;
    assert_eq!(p_b["followed_by"][0]["id"], m_b_id.as_str());
    assert_eq!(p_b["followed_by"][0]["pending_decision"], true);
    // Received and awaiting its decision: the preservation holds there.
    let later = OffsetDateTime::now_utc() + Duration::days(61);
    assert_eq!(
        entraide_server::requests::expire_overdue(&b.state, later).await?,
        0
    );
    let web = b.browser()?;
    web.sign_in(&duty.email, entraide_testkit::PASSWORD).await?;
    let page = web.get(&format!("/requests/{m_b_id}")).await?.text;
    assert!(page.contains(&format!("/requests/{p_b_id}")), "{page}");
    Ok(())
}

/// Has request `id` approved and sends it to the peer `ar-ufeci`.
async fn approve_and_send_to_peer(node: &TestNode, c: &Case, id: &str) -> Result<Value> {
    let s = act(node, &c.officer, id, "submit_for_approval", json!({})).await?;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    let r = act(node, &c.approver, id, "approve", json!({})).await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sent = node
        .api(Some(&c.officer.token))
        .post(
            &format!("/api/v1/requests/{id}/send"),
            &json!({"peer": "ar-ufeci"}),
        )
        .await?;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    Ok(sent.json)
}
