//! The drafting form's fields and request content, both ways.
//!
//! Reading the form is a thin mapping: the fields become the content's JSON
//! (`to_json`), which the domain's one parser reads
//! ([`parse_request_content`]), the same that reads the API's JSON and a
//! peer's message; a refusal is shown beside the input it comes from. The
//! form checks nothing itself. What it adds are conveniences of a form:
//! text is trimmed, phone lists are split on `,` `;` and new lines, empty
//! rows are skipped, the marking defaults to new, an empty country or legal
//! basis is absent, a number input holding anything but a whole number is
//! out of range (so refused with the domain's code for that field), each
//! identifier row's single "value" input goes to its type's JSON field, and
//! a payment card number is masked before it is read ([`Identifier::payment_card`]):
//! a full number typed into the form is never stored, and never travels.

use std::collections::HashMap;

use entraide_domain::request::{
    parse_request_content, ContentError, Identifier, Marking, RequestContent,
};
use entraide_domain::ParseError;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::app::i18n::Tr;
use crate::web::forms::{FormErrors, PairsForm};

pub const OFFENCE_ROWS: usize = 3;
pub const DATA_ROWS: usize = 3;
pub const IDENTIFIER_ROWS: usize = 4;

/// The values of the drafting form, keyed by content path
/// (`requesting.organisation`, `identifiers[0].value`...).
#[derive(Default)]
pub struct FormValues(HashMap<String, String>);

impl FormValues {
    pub fn get(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or("")
    }

    pub fn at(&self, list: &str, i: &usize, field: &str) -> &str {
        self.get(&format!("{list}[{i}].{field}"))
    }

    pub fn is(&self, key: &str, value: &str) -> bool {
        self.get(key) == value
    }

    pub fn is_at(&self, list: &str, i: &usize, field: &str, value: &str) -> bool {
        self.at(list, i, field) == value
    }

    pub(crate) fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    pub(crate) fn from_content(c: &RequestContent) -> Self {
        let mut v = FormValues::default();
        v.set("case_number", &c.case_number);
        v.set(
            "marking",
            match c.marking {
                Marking::New => "new",
                Marking::Extension => "extension",
                Marking::FollowUp => "follow_up",
            },
        );
        v.set("previous_reference", &c.previous_reference);
        for (prefix, contact) in [("requesting", &c.requesting), ("requested", &c.requested)] {
            v.set(format!("{prefix}.organisation"), &contact.organisation);
            v.set(
                format!("{prefix}.country"),
                contact.country.map(|c| c.to_string()).unwrap_or_default(),
            );
            v.set(format!("{prefix}.person"), &contact.person);
            v.set(format!("{prefix}.address"), &contact.address);
            v.set(format!("{prefix}.phones"), contact.phones.join(", "));
            v.set(format!("{prefix}.email"), &contact.email);
            v.set(format!("{prefix}.office_hours"), &contact.office_hours);
            v.set(format!("{prefix}.time_zone"), &contact.time_zone);
            v.set(format!("{prefix}.reply_channel"), &contact.reply_channel);
        }
        v.set("confirmation_contact", &c.confirmation_contact);
        v.set("investigative_authority", &c.investigative_authority);
        v.set("prosecution_office", &c.prosecution_office);
        v.set("domestic_legal_basis", &c.domestic_legal_basis);
        v.set(
            "legal_basis",
            c.legal_basis.map(|b| b.as_str()).unwrap_or(""),
        );
        for (i, o) in c.offences.iter().enumerate() {
            v.set(format!("offences[{i}].description"), &o.description);
            v.set(format!("offences[{i}].provision"), &o.provision);
            v.set(format!("offences[{i}].penalty"), &o.penalty);
        }
        v.set("facts", &c.facts);
        for (i, d) in c.data.iter().enumerate() {
            v.set(format!("data[{i}].category"), d.category.as_str());
            v.set(format!("data[{i}].description"), &d.description);
            v.set(
                format!("data[{i}].relationship_to_offence"),
                &d.relationship_to_offence,
            );
        }
        for (i, id) in c.identifiers.iter().enumerate() {
            let (kind, value, port, at, service) = identifier_fields(id);
            v.set(format!("identifiers[{i}].type"), kind);
            v.set(format!("identifiers[{i}].value"), value);
            v.set(format!("identifiers[{i}].port"), port);
            v.set(format!("identifiers[{i}].at"), at);
            v.set(format!("identifiers[{i}].service"), service);
        }
        let rfc = |t: Option<OffsetDateTime>| {
            t.and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
        };
        v.set("period_from", rfc(c.period_from));
        v.set("period_to", rfc(c.period_to));
        v.set("custodian", &c.custodian);
        v.set("necessity", &c.necessity);
        v.set(
            "mla_to_follow",
            match c.mla_to_follow {
                Some(true) => "yes",
                Some(false) => "no",
                None => "",
            },
        );
        v.set("emergency_facts", &c.emergency_facts);
        v.set("emergency_link", &c.emergency_link);
        v.set(
            "collection_days",
            c.collection_days.map(|d| d.to_string()).unwrap_or_default(),
        );
        v.set("special_instructions", &c.special_instructions);
        v.set("confidential", if c.confidential { "on" } else { "" });
        v
    }

    pub(crate) fn from_pairs(pairs: &PairsForm) -> Self {
        let mut v = FormValues::default();
        for (k, val) in &pairs.0 {
            if k != "csrf" {
                v.set(k.clone(), val.clone());
            }
        }
        v
    }
}

/// An identifier as the form's row shows it: type, value, port, time and
/// service (the service of an account, the blockchain of an address).
fn identifier_fields(id: &Identifier) -> (&'static str, String, String, String, String) {
    let e = String::new;
    match id {
        Identifier::IpAddress { address, port, at } => (
            "ip_address",
            address.to_string(),
            port.map(|p| p.to_string()).unwrap_or_default(),
            at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            e(),
        ),
        Identifier::Email { address } => ("email", address.to_string(), e(), e(), e()),
        Identifier::Phone { number } => ("phone", number.clone(), e(), e(), e()),
        Identifier::Url { url } => ("url", url.clone(), e(), e(), e()),
        Identifier::Domain { name } => ("domain", name.clone(), e(), e(), e()),
        Identifier::Account { service, handle } => {
            ("account", handle.clone(), e(), e(), service.clone())
        }
        Identifier::Imei { value } => ("imei", value.clone(), e(), e(), e()),
        Identifier::Imsi { value } => ("imsi", value.clone(), e(), e(), e()),
        Identifier::CryptoAddress { chain, address } => (
            "crypto_address",
            address.clone(),
            e(),
            e(),
            chain.as_str().to_owned(),
        ),
        Identifier::Iban { value } => ("iban", value.clone(), e(), e(), e()),
        Identifier::PaymentCard { masked } => ("payment_card", masked.clone(), e(), e(), e()),
    }
}

/// Reads the drafting form into request content with the domain's parser;
/// every refused field is reported beside its input, in the reader's
/// language (`tr.error(code, ...)`).
///
/// The parser stops at the first refusal; to report every refused field at
/// once, as a form should, the refused part (the list row, or the field) is
/// left out and the rest read again, until the rest is accepted.
pub fn parse_form(tr: &Tr, v: &FormValues) -> Result<RequestContent, FormErrors> {
    let (mut value, mut rows, masking) = to_json(v);
    let mut errors = FormErrors::default();
    // The first refusal of an input is the one shown.
    let show = |errors: &mut FormErrors, input: Option<String>, code: &str, message: &str| {
        let text = tr.error(code, message);
        match input {
            Some(input) => {
                errors.by_field.entry(input).or_insert(text);
            }
            None => {
                errors.general.get_or_insert(text);
            }
        }
    };
    for (input, e) in masking {
        show(&mut errors, Some(input), e.code, &e.message);
    }
    // Each round leaves out a part of the content, so this ends; the bound
    // is only a guard.
    for _ in 0..256 {
        match parse_request_content(value.clone()) {
            Ok(content) => {
                return if errors.any() {
                    Err(errors)
                } else {
                    Ok(content)
                };
            }
            Err(e) => {
                let input = rows.input(&e.field);
                show(&mut errors, input, &e.code, &form_wording(&e));
                if !rows.leave_out(&mut value, &e.field) {
                    break;
                }
            }
        }
    }
    if !errors.any() {
        errors.general = Some(tr.error("invalid_content", "the form could not be read"));
    }
    Err(errors)
}

/// The form's own wording for a refusal the domain words for JSON (a
/// missing field): the select left on its empty choice.
fn form_wording(e: &ContentError) -> String {
    let last = e.field.rsplit('.').next().unwrap_or("");
    match (e.code.as_str(), last) {
        ("required", "type") => "choose the type of identifier".into(),
        ("required", "category") => "choose the category of data".into(),
        _ => e.message.clone(),
    }
}

/// Which form row each element of the content's lists came from (empty
/// rows are skipped, so `identifiers[0]` may be the form's third row).
#[derive(Debug, Default)]
struct Rows {
    offences: Vec<usize>,
    data: Vec<usize>,
    identifiers: Vec<usize>,
}

impl Rows {
    fn list(&mut self, name: &str) -> Option<&mut Vec<usize>> {
        match name {
            "offences" => Some(&mut self.offences),
            "data" => Some(&mut self.data),
            "identifiers" => Some(&mut self.identifiers),
            _ => None,
        }
    }

    /// The form input of a content path: the row of a list element, and
    /// for an identifier the input its JSON field comes from (the row's
    /// `value` but for `at`, `port`, `service`, the blockchain (`chain`,
    /// typed into `service`) and `type`). `None` for the whole content.
    fn input(&mut self, path: &str) -> Option<String> {
        if path.is_empty() {
            return None;
        }
        let Some((list, j, field)) = split_list_path(path) else {
            return Some(path.to_owned());
        };
        let Some(row) = self.list(list).and_then(|rows| rows.get(j).copied()) else {
            return Some(path.to_owned());
        };
        let input = match (list, field) {
            ("identifiers", "at" | "port" | "service" | "type") => field,
            ("identifiers", "chain") => "service",
            ("identifiers", _) => "value",
            (_, "") => "description",
            (_, f) => f,
        };
        Some(format!("{list}[{row}].{input}"))
    }

    /// Leaves out of `value` the part of the content `path` names: the list
    /// element (and its row) for a path in a list, else the field. False
    /// when there is nothing to leave out.
    fn leave_out(&mut self, value: &mut Value, path: &str) -> bool {
        if let Some((list, j, _)) = split_list_path(path) {
            let removed = value
                .get_mut(list)
                .and_then(Value::as_array_mut)
                .filter(|a| j < a.len())
                .map(|a| a.remove(j))
                .is_some();
            if removed {
                if let Some(rows) = self.list(list).filter(|r| j < r.len()) {
                    rows.remove(j);
                }
            }
            return removed;
        }
        let mut parts: Vec<&str> = path.split('.').collect();
        let Some(last) = parts.pop() else {
            return false;
        };
        let mut at = value;
        for p in parts {
            match at.get_mut(p) {
                Some(next) => at = next,
                None => return false,
            }
        }
        at.as_object_mut().and_then(|o| o.remove(last)).is_some()
    }
}

/// `identifiers[2].value` → (`identifiers`, 2, `value`); `data[0]` →
/// (`data`, 0, ``); `None` when the path is not in a list.
fn split_list_path(path: &str) -> Option<(&str, usize, &str)> {
    let (list, rest) = path.split_once('[')?;
    let (index, rest) = rest.split_once(']')?;
    let j = index.parse().ok()?;
    let field = rest.strip_prefix('.').unwrap_or(rest);
    let field = field.split(['.', '[']).next().unwrap_or("");
    Some((list, j, field))
}

/// A number input: the number, or -1 (out of range of every number field
/// of the content, so refused with the field's own code) for any text that
/// is not a whole number.
fn number(text: &str) -> Value {
    json!(text.parse::<i64>().unwrap_or(-1))
}

/// The form's fields as the content's JSON, the rows each list element
/// came from, and the refusals of the masking of card numbers (by input).
fn to_json(v: &FormValues) -> (Value, Rows, Vec<(String, ParseError)>) {
    let text = |key: &str| v.get(key).trim().to_owned();
    let mut rows = Rows::default();
    let mut masking = Vec::new();
    let mut c = Map::new();
    let mut put = |key: &str, value: Value| {
        c.insert(key.to_owned(), value);
    };
    for key in [
        "case_number",
        "previous_reference",
        "confirmation_contact",
        "investigative_authority",
        "prosecution_office",
        "domestic_legal_basis",
        "facts",
        "custodian",
        "necessity",
        "emergency_facts",
        "emergency_link",
        "special_instructions",
    ] {
        put(key, json!(text(key)));
    }
    put(
        "marking",
        json!(match v.get("marking") {
            "extension" => "extension",
            "follow_up" => "follow_up",
            _ => "new",
        }),
    );
    for prefix in ["requesting", "requested"] {
        let f = |name: &str| text(&format!("{prefix}.{name}"));
        let mut contact = Map::new();
        for name in [
            "organisation",
            "person",
            "address",
            "email",
            "office_hours",
            "time_zone",
            "reply_channel",
        ] {
            contact.insert(name.to_owned(), json!(f(name)));
        }
        let country = f("country");
        if !country.is_empty() {
            contact.insert("country".into(), json!(country));
        }
        let phones: Vec<&str> = v
            .get(&format!("{prefix}.phones"))
            .split([',', '\n', ';'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        contact.insert("phones".into(), json!(phones));
        put(prefix, Value::Object(contact));
    }
    let basis = text("legal_basis");
    if !basis.is_empty() {
        put("legal_basis", json!(basis));
    }
    let mut offences = Vec::new();
    for i in 0..OFFENCE_ROWS {
        let f = |name: &str| v.at("offences", &i, name).trim();
        let (description, provision, penalty) = (f("description"), f("provision"), f("penalty"));
        if description.is_empty() && provision.is_empty() && penalty.is_empty() {
            continue;
        }
        rows.offences.push(i);
        offences
            .push(json!({"description": description, "provision": provision, "penalty": penalty}));
    }
    put("offences", json!(offences));
    let mut data = Vec::new();
    for i in 0..DATA_ROWS {
        let description = v.at("data", &i, "description").trim();
        let relationship = v.at("data", &i, "relationship_to_offence").trim();
        if description.is_empty() && relationship.is_empty() {
            continue;
        }
        let mut d = json!({"description": description, "relationship_to_offence": relationship});
        let category = v.at("data", &i, "category").trim();
        if !category.is_empty() {
            d["category"] = json!(category);
        }
        rows.data.push(i);
        data.push(d);
    }
    put("data", json!(data));
    let mut identifiers = Vec::new();
    for i in 0..IDENTIFIER_ROWS {
        let value = v.at("identifiers", &i, "value").trim();
        if value.is_empty() {
            continue;
        }
        let other = |name: &str| v.at("identifiers", &i, name).trim();
        let kind = other("type");
        let id = match kind {
            "ip_address" => {
                let mut id = json!({"type": kind, "address": value});
                if !other("port").is_empty() {
                    id["port"] = number(other("port"));
                }
                if !other("at").is_empty() {
                    id["at"] = json!(other("at"));
                }
                id
            }
            "email" => json!({"type": kind, "address": value}),
            "phone" => json!({"type": kind, "number": value}),
            "url" => json!({"type": kind, "url": value}),
            "domain" => json!({"type": kind, "name": value}),
            "account" => json!({"type": kind, "service": other("service"), "handle": value}),
            "crypto_address" => json!({"type": kind, "chain": other("service"), "address": value}),
            // Masked here, so that the full number goes no further; the
            // parser then checks the masked form as it does any other.
            "payment_card" => match Identifier::payment_card(value) {
                Ok(Identifier::PaymentCard { masked }) => json!({"type": kind, "masked": masked}),
                Ok(_) => continue,
                Err(e) => {
                    masking.push((format!("identifiers[{i}].value"), e));
                    continue;
                }
            },
            // No type chosen: refused by the parser as `required`.
            "" => json!({"value": value}),
            _ => json!({"type": kind, "value": value}),
        };
        rows.identifiers.push(i);
        identifiers.push(id);
    }
    put("identifiers", json!(identifiers));
    for key in ["period_from", "period_to"] {
        let t = text(key);
        if !t.is_empty() {
            put(key, json!(t));
        }
    }
    let days = text("collection_days");
    if !days.is_empty() {
        put("collection_days", number(&days));
    }
    match v.get("mla_to_follow") {
        "yes" => put("mla_to_follow", json!(true)),
        "no" => put("mla_to_follow", json!(false)),
        _ => {}
    }
    put("confidential", json!(v.get("confidential") == "on"));
    (Value::Object(c), rows, masking)
}

#[cfg(test)]
mod tests {
    use super::*;
    use entraide_domain::Locale;

    fn tr(locale: Locale) -> Tr {
        let i18n = std::sync::Arc::new(crate::app::i18n::I18n::load().unwrap());
        Tr::new(i18n, locale)
    }

    fn form(fields: &[(&str, &str)]) -> FormValues {
        let mut v = FormValues::default();
        for (k, val) in fields {
            v.set(*k, *val);
        }
        v
    }

    #[test]
    fn the_form_reads_back_what_it_shows() {
        let tr = tr(Locale::Fr);
        let mut v = FormValues::default();
        v.set("requested.country", "ar");
        v.set("identifiers[0].type", "ip_address");
        v.set("identifiers[0].value", "203.0.113.5");
        v.set("identifiers[0].port", "51000");
        v.set("identifiers[0].at", "2026-11-20T04:10:00+01:00");
        v.set("identifiers[1].type", "iban");
        v.set("identifiers[1].value", "FR76 3000 6000 0112 3456 7890 189");
        v.set("period_from", "2026-11-18");
        v.set("mla_to_follow", "yes");
        let c = parse_form(&tr, &v).unwrap();
        assert_eq!(c.identifiers.len(), 2);
        assert_eq!(c.mla_to_follow, Some(true));
        let again = FormValues::from_content(&c);
        assert_eq!(again.get("identifiers[0].at"), "2026-11-20T03:10:00Z");
        assert_eq!(parse_form(&tr, &again).unwrap(), c);
        // Bad values are named by their field, in French.
        v.set("identifiers[0].at", "");
        v.set("identifiers[1].value", "FR00 1234");
        let e = parse_form(&tr, &v).unwrap_err();
        assert!(
            e.get("identifiers[0].at")
                .is_some_and(|m| m.contains("fuseau") || m.contains("heure")),
            "{:?}",
            e.get("identifiers[0].at")
        );
        assert!(e.get("identifiers[1].value").is_some());
    }

    #[test]
    fn every_refused_field_is_shown_beside_its_input() {
        let tr = tr(Locale::En);
        let v = form(&[
            ("requesting.country", "UK"),
            ("legal_basis", "treaty"),
            ("data[1].description", "Logs"),
            // Row 0 empty: the content's identifiers[0] is row 1.
            ("identifiers[1].type", "phone"),
            ("identifiers[1].value", "01 23 45 67 89"),
            ("identifiers[2].type", "ip_address"),
            ("identifiers[2].value", "203.0.113.5"),
            ("identifiers[2].port", "http"),
            ("identifiers[2].at", "2026-11-20T03:10:00Z"),
            ("identifiers[3].type", "crypto_address"),
            ("identifiers[3].value", "D8x"),
            ("identifiers[3].service", "dogecoin"),
            ("period_to", "2026-11-20T03:10:00"),
            ("collection_days", "many"),
            ("facts", &"x".repeat(20_001)),
        ]);
        let e = parse_form(&tr, &v).unwrap_err();
        let expect = [
            ("requesting.country", "invalid_country"),
            ("legal_basis", "invalid_legal_basis"),
            ("data[1].category", "required"),
            ("identifiers[1].value", "invalid_phone"),
            ("identifiers[2].port", "invalid_port"),
            ("identifiers[3].service", "invalid_chain"),
            ("period_to", "invalid_datetime"),
            ("collection_days", "invalid_days"),
            ("facts", "too_long"),
        ];
        for (input, code) in expect {
            let shown = e
                .get(input)
                .unwrap_or_else(|| panic!("{input}: {:?}", e.by_field));
            if tr.has(&format!("error-{}", code.replace('_', "-"))) {
                assert_eq!(shown, &tr.error(code, ""), "{input}");
            }
        }
        assert_eq!(e.by_field.len(), expect.len(), "{:?}", e.by_field);
        assert_eq!(
            e.get("data[1].category").unwrap(),
            "choose the category of data"
        );
    }

    #[test]
    fn the_form_keeps_its_conveniences() {
        let tr = tr(Locale::En);
        let v = form(&[
            ("marking", "whatever"),
            (
                "requesting.phones",
                " +33 1 23 45 67 89 ;\n+33 6 00 00 00 00, ",
            ),
            ("requested.country", " "),
            ("offences[2].description", "  Fraud  "),
            ("identifiers[1].type", "account"),
            ("identifiers[1].value", "@someone"),
            ("identifiers[1].service", "ExampleSocial"),
            ("identifiers[2].type", "payment_card"),
            ("identifiers[2].value", "4111 1111 1111 1111"),
            ("identifiers[3].type", "crypto_address"),
            (
                "identifiers[3].value",
                "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
            ),
            ("identifiers[3].service", "Bitcoin"),
            ("mla_to_follow", "maybe"),
        ]);
        let c = parse_form(&tr, &v).unwrap();
        assert_eq!(c.marking, Marking::New);
        assert_eq!(
            c.requesting.phones,
            vec!["+33 1 23 45 67 89", "+33 6 00 00 00 00"]
        );
        assert_eq!(c.requested.country, None);
        assert_eq!(c.offences.len(), 1);
        assert_eq!(c.offences[0].description, "Fraud");
        assert_eq!(c.mla_to_follow, None);
        // A full card number typed into the form is kept masked only.
        assert_eq!(
            c.identifiers[1],
            Identifier::PaymentCard {
                masked: "411111******1111".into()
            }
        );
        assert!(!serde_json::to_string(&c)
            .unwrap()
            .contains("4111111111111111"));
        // A card the masking refuses is shown beside its input.
        let v = form(&[
            ("identifiers[0].type", "payment_card"),
            ("identifiers[0].value", "4111 1111 1111 1112"),
        ]);
        let e = parse_form(&tr, &v).unwrap_err();
        assert_eq!(
            e.get("identifiers[0].value"),
            Some(&tr.error("invalid_card", ""))
        );
        // No type chosen for a value: the form's wording.
        let v = form(&[("identifiers[0].value", "x")]);
        let e = parse_form(&tr, &v).unwrap_err();
        assert_eq!(
            e.get("identifiers[0].type").map(String::as_str),
            Some("choose the type of identifier")
        );
    }
}
