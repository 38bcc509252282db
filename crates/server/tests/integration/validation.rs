//! One validation path: the same invalid request content is refused with
//! the same code, named by the same field, through the three doors a
//! request comes in by: the API, the web form, and a request message from
//! a pinned peer.
//!
//! Field paths: the API answers `content.<path>` (`content.identifiers[0].value`);
//! a peer's request message with such content is refused by the inbox before
//! it is stored, with the same problem (code and `content.<path>`), and the
//! refusal is audited at the receiver; the form shows the message beside the input, whose name is the same path
//! without `content.`, except that an identifier's single "value" input
//! stands for its type's JSON field (`number` for a phone, `masked` for a
//! card): `identifiers[0].value` on the form for `identifiers[0].number`.

use anyhow::Result;
use entraide_domain::{Locale, Role};
use entraide_server::app::i18n::Tr;
use entraide_testkit::{on_both_backends, Backend, Browser, TestNode, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::federation::{pin, spawn_named};
use super::requests::complete_preservation;

/// One invalid input, as JSON (API and peer) and as typed into the form.
struct Case {
    what: &'static str,
    /// The identifier in the content's JSON.
    json: Value,
    /// The identifier row of the form (row 0), without the CSRF token.
    form: &'static [(&'static str, &'static str)],
    /// The refusal's code, the same at every door.
    code: &'static str,
    /// The field in the content (the API says `content.` before it).
    path: &'static str,
    /// The form input the message is shown beside.
    input: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            what: "an IBAN with a wrong check digit",
            json: json!({"type": "iban", "value": "FR76 3000 6000 0112 3456 7890 188"}),
            form: &[
                ("identifiers[0].type", "iban"),
                ("identifiers[0].value", "FR76 3000 6000 0112 3456 7890 188"),
            ],
            code: "invalid_iban",
            path: "identifiers[0].value",
            input: "identifiers[0].value",
        },
        Case {
            what: "an IMEI failing its Luhn check",
            json: json!({"type": "imei", "value": "490154203237519"}),
            form: &[
                ("identifiers[0].type", "imei"),
                ("identifiers[0].value", "490154203237519"),
            ],
            code: "invalid_imei",
            path: "identifiers[0].value",
            input: "identifiers[0].value",
        },
        Case {
            what: "a phone number that is not E.164",
            json: json!({"type": "phone", "number": "01 23 45 67 89"}),
            form: &[
                ("identifiers[0].type", "phone"),
                ("identifiers[0].value", "01 23 45 67 89"),
            ],
            code: "invalid_phone",
            path: "identifiers[0].number",
            input: "identifiers[0].value",
        },
        Case {
            what: "an IP address used at a time without its offset",
            json: json!({"type": "ip_address", "address": "203.0.113.5", "at": "2026-11-20T03:10:00"}),
            form: &[
                ("identifiers[0].type", "ip_address"),
                ("identifiers[0].value", "203.0.113.5"),
                ("identifiers[0].at", "2026-11-20T03:10:00"),
            ],
            code: "invalid_datetime",
            path: "identifiers[0].at",
            input: "identifiers[0].at",
        },
    ]
}

/// A full card number: refused in JSON (API, peer); masked by the form.
const FULL_CARD: &str = "4111 1111 1111 1111";

/// `identifiers[0].at` → `identifiers-0-at` (the form's HTML id).
fn html_id(input: &str) -> String {
    input.replace(['[', '.'], "-").replace(']', "")
}

/// The inbox's answer is `to`'s signed receipt, `delivered`.
fn delivered(to: &TestNode, reply: &entraide_testkit::Reply) -> bool {
    serde_json::from_value::<entraide_federation::SignedReceipt>(reply.json.clone())
        .ok()
        .and_then(|s| s.verify(&to.state.identity.signing_public()))
        .is_some_and(|r| r.status == entraide_federation::ReceiptStatus::Delivered)
}

/// POSTs an envelope to `to`'s inbox, the request signed by `from`.
async fn post_envelope(
    from: &TestNode,
    to: &TestNode,
    body: &[u8],
) -> Result<entraide_testkit::Reply> {
    let binding = entraide_federation::httpsig::BodyBinding::ContentDigest;
    let target = format!("{}/federation/inbox", to.url);
    let sig = entraide_federation::httpsig::sign_bound(
        binding,
        &from.state.identity.signing,
        from.state.settings.node_id.as_str(),
        "POST",
        &target,
        body,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    );
    to.api(None)
        .send(
            reqwest::Method::POST,
            "/federation/inbox",
            &[
                ("content-type", "application/json"),
                (binding.header(), &sig.body_field),
                ("signature-input", &sig.signature_input),
                ("signature", &sig.signature),
            ],
            body.to_vec(),
        )
        .await
}

/// `from` sends `to` a `request` message with this content, as a peer
/// does; the inbox's answer.
async fn send_request(
    from: &TestNode,
    to: &TestNode,
    request_id: uuid::Uuid,
    content: &Value,
) -> Result<entraide_testkit::Reply> {
    let payload = serde_json::to_vec(&json!({
        "request_id": request_id, "reference": format!("PC247-{request_id}"),
        "kind": "expedited_preservation", "content": content,
    }))?;
    let (_, envelope) = entraide_federation::envelope::seal(
        &from.state.identity.signing,
        &to.state.identity.encryption_public_hex(),
        &entraide_federation::Outgoing {
            sender: from.state.settings.node_id.as_str(),
            recipient: to.state.settings.node_id.as_str(),
            message_type: entraide_federation::MessageKind::Request,
            in_reply_to: None,
            lifetime: time::Duration::hours(1),
            payload: &payload,
        },
        time::OffsetDateTime::now_utc(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    post_envelope(from, to, serde_json::to_string(&envelope)?.as_bytes()).await
}

/// The newest refusal audited at `node` (`federation.refused`).
async fn last_refusal(node: &TestNode) -> Result<String> {
    let entries = node
        .store
        .audit_entries(&entraide_store::AuditFilter {
            action: Some("federation.refused".into()),
            limit: 1,
            ..Default::default()
        })
        .await?;
    Ok(entries
        .first()
        .map(|e| e.detail.clone())
        .unwrap_or_default())
}

/// How many requests the API lists.
async fn stored(api: &entraide_testkit::Api) -> Result<usize> {
    Ok(api
        .get("/api/v1/requests")
        .await?
        .json
        .as_array()
        .map_or(0, Vec::len))
}

/// The preservation content of the other tests with one identifier.
fn content_with(identifier: &Value) -> Value {
    let mut content = complete_preservation();
    content["identifiers"] = json!([identifier]);
    content
}

on_both_backends!(the_same_invalid_content_is_refused_alike_by_the_api_the_form_and_a_peer);

async fn the_same_invalid_content_is_refused_alike_by_the_api_the_form_and_a_peer(
    backend: Backend,
) -> Result<()> {
    // fr-pc247 (a) sends requests to ar-ufeci (b), which pinned it; b's
    // officer drafts there through the API and the form.
    let a = spawn_named(backend.clone(), "fr-pc247").await?;
    let b = spawn_named(backend, "ar-ufeci").await?;
    pin(&b, &a).await?;
    let officer = b.user("officer", &[Role::Officer]).await?;
    let api = b.api(Some(&officer.token));
    let case = api
        .post(
            "/api/v1/cases",
            &json!({"reference": "VAL-1", "title": "One validation path"}),
        )
        .await?;
    assert_eq!(case.status, StatusCode::CREATED, "{}", case.text);
    let case_id = case.json["id"].as_str().unwrap_or_default().to_owned();
    let browser = Browser::new(&b.url, Some("en"))?;
    browser.sign_in(&officer.email, PASSWORD).await?;
    let action =
        format!("/cases/{case_id}/requests?kind=expedited_preservation&direction=outgoing");
    let csrf = browser
        .csrf(&format!(
            "/cases/{case_id}/requests/new?kind=expedited_preservation"
        ))
        .await?;
    let tr = Tr::new(b.state.i18n.clone(), Locale::En);

    for case in cases() {
        let what = case.what;
        let field = format!("content.{}", case.path);

        // (a) The API: 422 problem+json naming the field and the code.
        let r = api
            .post(
                &format!("/api/v1/cases/{case_id}/requests"),
                &json!({"kind": "expedited_preservation", "content": content_with(&case.json)}),
            )
            .await?;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            r.text
        );
        assert!(
            r.content_type().starts_with("application/problem+json"),
            "{what}"
        );
        assert_eq!(r.code(), "validation_failed", "{what}");
        assert_eq!(r.json["errors"][0]["code"], case.code, "{what}: {}", r.text);
        assert_eq!(
            r.json["errors"][0]["field"],
            field.as_str(),
            "{what}: {}",
            r.text
        );

        // (b) The form: back with the code's message beside the input.
        let mut form = vec![("csrf", csrf.as_str()), ("facts", "Ransomware")];
        form.extend_from_slice(case.form);
        let r = browser.post_form(&action, &form).await?;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
        let id = html_id(case.input);
        // (The English messages of these codes hold nothing the page escapes.)
        let message = tr.error(case.code, "no translation");
        assert_ne!(
            message, "no translation",
            "{what}: {} is translated",
            case.code
        );
        let beside = format!("<p class=\"field-error\" id=\"{id}-error\">{message}</p>");
        assert!(r.text.contains(&beside), "{what}: {beside} not in the page");
        assert!(
            r.text.contains(&format!("aria-describedby=\"{id}-error\"")),
            "{what}: the input points at its message"
        );

        // (c) A peer's request message: refused by the inbox before it is
        // stored, with the API's problem, audited here; nothing registered.
        let request_id = uuid::Uuid::new_v4();
        let r = send_request(&a, &b, request_id, &content_with(&case.json)).await?;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            r.text
        );
        assert!(!delivered(&b, &r), "{what}: {}", r.text);
        assert_eq!(r.code(), "validation_failed", "{what}");
        assert_eq!(r.json["errors"][0]["code"], case.code, "{what}: {}", r.text);
        assert_eq!(
            r.json["errors"][0]["field"],
            field.as_str(),
            "{what}: {}",
            r.text
        );
        let refusal = last_refusal(&b).await?;
        assert!(refusal.contains("validation_failed"), "{what}: {refusal}");
        assert!(
            refusal.contains(&format!("{field}: "))
                && refusal.contains(&format!("({})", case.code)),
            "{what}: {field} ({}) not in {refusal}",
            case.code
        );
        assert_eq!(
            b.store.request_by_link("fr-pc247", request_id).await?,
            None,
            "{what}"
        );
    }
    assert_eq!(stored(&api).await?, 0, "nothing refused was stored");
    assert!(
        b.store.inbox(100).await?.is_empty(),
        "a refused message is not kept in the inbox"
    );
    assert!(
        b.store.all_cases().await?.len() == 1,
        "no case opened for a refused message"
    );

    // A full card number. In JSON, from the API or a peer: refused, its
    // digits never repeated.
    let card = json!({"type": "payment_card", "masked": FULL_CARD});
    let digits = FULL_CARD.replace(' ', "");
    let r = api
        .post(
            &format!("/api/v1/cases/{case_id}/requests"),
            &json!({"kind": "expedited_preservation", "content": content_with(&card)}),
        )
        .await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["errors"][0]["code"], "card_number_unmasked");
    assert_eq!(
        r.json["errors"][0]["field"],
        "content.identifiers[0].masked"
    );
    assert!(!r.text.contains(&digits) && !r.text.contains(FULL_CARD));
    let request_id = uuid::Uuid::new_v4();
    let r = send_request(&a, &b, request_id, &content_with(&card)).await?;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["errors"][0]["code"], "card_number_unmasked");
    assert_eq!(
        r.json["errors"][0]["field"],
        "content.identifiers[0].masked"
    );
    assert!(!r.text.contains(&digits) && !r.text.contains(FULL_CARD));
    let refusal = last_refusal(&b).await?;
    assert!(
        refusal.contains("content.identifiers[0].masked: ")
            && refusal.contains("(card_number_unmasked)"),
        "{refusal}"
    );
    assert!(
        !refusal.contains(&digits) && !refusal.contains(FULL_CARD),
        "{refusal}"
    );
    assert_eq!(b.store.request_by_link("fr-pc247", request_id).await?, None);
    assert_eq!(stored(&api).await?, 0);
    // In the form: masked before it is read; only the masked form is kept.
    let r = browser
        .post_form(
            &action,
            &[
                ("csrf", &csrf),
                ("facts", "Card fraud"),
                ("identifiers[0].type", "payment_card"),
                ("identifiers[0].value", FULL_CARD),
            ],
        )
        .await?;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = entraide_testkit::location(&r).to_owned();
    let id = page.trim_start_matches("/requests/").to_owned();
    let shown = api.get(&format!("/api/v1/requests/{id}")).await?;
    assert_eq!(
        shown.json["content"]["identifiers"],
        json!([{"type": "payment_card", "masked": "411111******1111"}]),
        "{}",
        shown.text
    );
    assert!(!shown.text.contains(&digits));
    let kept = b
        .store
        .request_by_id(uuid::Uuid::parse_str(&id)?)
        .await?
        .expect("stored");
    let kept = serde_json::to_string(&kept.content)?;
    assert!(
        kept.contains("411111******1111") && !kept.contains(&digits),
        "{kept}"
    );

    // The same message with valid content is registered: the refusals
    // above were the content's.
    let request_id = uuid::Uuid::new_v4();
    let r = send_request(&a, &b, request_id, &complete_preservation()).await?;
    assert!(delivered(&b, &r), "{}", r.text);
    assert!(b
        .store
        .request_by_link("fr-pc247", request_id)
        .await?
        .is_some());
    Ok(())
}
