//! Web pages for cooperation requests: the list with the "expiring soon"
//! view, the drafting form (one page, sections per kind, checks shown beside
//! the fields), the request page with its history and actions.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use entraide_domain::request::{
    assess, available_actions, Chain, Contact, DataCategory, DataRequested, DeadlineRules,
    Direction, Identifier, LegalBasis, Marking, Offence, RefusalGround, RequestContent,
    RequestKind, Severity,
};
use entraide_domain::{CountryCode, Locale, Role, RoleSet};
use entraide_store::CooperationRequest;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::http::caller::Caller;
use crate::app::error::{AppError, AppResult};
use crate::app::i18n::Tr;
use crate::requests;
use crate::app::state::AppState;
use crate::web::forms::{check_csrf, see_other, FormErrors, PairsForm};
use crate::web::page::{fmt_time, page, render, render_status, Nav};

pub const OFFENCE_ROWS: usize = 3;
pub const DATA_ROWS: usize = 3;
pub const IDENTIFIER_ROWS: usize = 4;

pub const IDENTIFIER_TYPES: [&str; 11] = [
    "ip_address",
    "email",
    "phone",
    "url",
    "domain",
    "account",
    "imei",
    "imsi",
    "crypto_address",
    "iban",
    "payment_card",
];

pub struct RequestRow {
    pub id: Uuid,
    pub reference: String,
    pub kind_label: String,
    pub direction_label: String,
    pub state: String,
    pub state_label: String,
    pub counterpart: String,
    pub deadline: String,
    pub due_soon: bool,
    pub past_due: bool,
    pub updated: String,
}

pub fn request_row(tr: &Tr, r: &CooperationRequest) -> RequestRow {
    let now = OffsetDateTime::now_utc();
    RequestRow {
        id: r.id,
        reference: r.reference.clone(),
        kind_label: tr.t(&format!("rq-kind-{}", r.kind.as_str())),
        direction_label: tr.t(&format!("rq-direction-{}", r.direction.as_str())),
        state: r.state.as_str().to_owned(),
        state_label: tr.t(&format!("rq-state-{}", r.state.as_str())),
        counterpart: r.counterpart.clone(),
        deadline: r.deadline_due.map(fmt_time).unwrap_or_default(),
        due_soon: r
            .deadline_due
            .is_some_and(|d| DeadlineRules::default().is_due_soon(d, now)),
        past_due: r.deadline_due.is_some_and(|d| d <= now) && !r.state.is_final(),
        updated: fmt_time(r.updated_at),
    }
}

pub fn kind_options(tr: &Tr) -> Vec<(String, String)> {
    RequestKind::ALL
        .iter()
        .map(|k| {
            (
                k.as_str().to_owned(),
                tr.t(&format!("rq-kind-{}", k.as_str())),
            )
        })
        .collect()
}

fn options<T: Copy>(
    tr: &Tr,
    prefix: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|v| (name(*v).to_owned(), tr.t(&format!("{prefix}{}", name(*v)))))
        .collect()
}

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

    fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    fn from_content(c: &RequestContent) -> Self {
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

    fn from_pairs(pairs: &PairsForm) -> Self {
        let mut v = FormValues::default();
        for (k, val) in &pairs.0 {
            if k != "csrf" {
                v.set(k.clone(), val.clone());
            }
        }
        v
    }
}

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
            serde_json::to_value(chain)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        ),
        Identifier::Iban { value } => ("iban", value.clone(), e(), e(), e()),
        Identifier::PaymentCard { masked } => ("payment_card", masked.clone(), e(), e(), e()),
    }
}

/// RFC 3339 with its offset, or a date alone (midnight UTC).
fn parse_instant(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| {
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(s, &fmt)
                .ok()
                .map(|d| d.midnight().assume_utc())
        })
}

/// Reads the drafting form into request content; every unreadable field is
/// reported by its path, in the reader's language.
pub fn parse_form(tr: &Tr, v: &FormValues) -> Result<RequestContent, FormErrors> {
    let mut errors = FormErrors::default();
    let mut err = |field: &str, code: &str, fallback: &str| {
        errors
            .by_field
            .entry(field.to_owned())
            .or_insert_with(|| tr.error(code, fallback));
    };
    let contact = |prefix: &str, err: &mut dyn FnMut(&str, &str, &str)| {
        let country_field = format!("{prefix}.country");
        let country = match v.get(&country_field).trim() {
            "" => None,
            c => match CountryCode::parse(c) {
                Ok(c) => Some(c),
                Err(e) => {
                    err(&country_field, e.code, &e.message);
                    None
                }
            },
        };
        Contact {
            organisation: v.get(&format!("{prefix}.organisation")).trim().to_owned(),
            country,
            person: v.get(&format!("{prefix}.person")).trim().to_owned(),
            address: v.get(&format!("{prefix}.address")).trim().to_owned(),
            phones: v
                .get(&format!("{prefix}.phones"))
                .split([',', '\n', ';'])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            email: v.get(&format!("{prefix}.email")).trim().to_owned(),
            office_hours: v.get(&format!("{prefix}.office_hours")).trim().to_owned(),
            time_zone: v.get(&format!("{prefix}.time_zone")).trim().to_owned(),
            reply_channel: v.get(&format!("{prefix}.reply_channel")).trim().to_owned(),
        }
    };
    let requesting = contact("requesting", &mut err);
    let requested = contact("requested", &mut err);
    let legal_basis = match v.get("legal_basis") {
        "" => None,
        b => match b.parse::<LegalBasis>() {
            Ok(b) => Some(b),
            Err(e) => {
                err("legal_basis", e.code, &e.message);
                None
            }
        },
    };
    let marking = match v.get("marking") {
        "extension" => Marking::Extension,
        "follow_up" => Marking::FollowUp,
        _ => Marking::New,
    };
    let offences = (0..OFFENCE_ROWS)
        .map(|i| Offence {
            description: v.at("offences", &i, "description").trim().to_owned(),
            provision: v.at("offences", &i, "provision").trim().to_owned(),
            penalty: v.at("offences", &i, "penalty").trim().to_owned(),
        })
        .filter(|o| !(o.description.is_empty() && o.provision.is_empty() && o.penalty.is_empty()))
        .collect();
    let mut data = Vec::new();
    for i in 0..DATA_ROWS {
        let description = v.at("data", &i, "description").trim();
        let relationship = v.at("data", &i, "relationship_to_offence").trim();
        if description.is_empty() && relationship.is_empty() {
            continue;
        }
        let category = match v.at("data", &i, "category") {
            "subscriber" => DataCategory::Subscriber,
            "identification_only" => DataCategory::IdentificationOnly,
            "traffic" => DataCategory::Traffic,
            "content" => DataCategory::Content,
            _ => {
                err(
                    &format!("data[{i}].category"),
                    "required",
                    "choose the category of data",
                );
                continue;
            }
        };
        data.push(DataRequested {
            category,
            description: description.to_owned(),
            relationship_to_offence: relationship.to_owned(),
        });
    }
    let mut identifiers = Vec::new();
    for i in 0..IDENTIFIER_ROWS {
        let value = v.at("identifiers", &i, "value").trim();
        if value.is_empty() {
            continue;
        }
        let field = |f: &str| format!("identifiers[{i}].{f}");
        let parsed = match v.at("identifiers", &i, "type") {
            "ip_address" => {
                let port = match v.at("identifiers", &i, "port").trim() {
                    "" => None,
                    p => match p.parse::<u16>() {
                        Ok(p) => Some(p),
                        Err(_) => {
                            err(
                                &field("port"),
                                "invalid_port",
                                "the port is a number from 0 to 65535",
                            );
                            continue;
                        }
                    },
                };
                let at_text = v.at("identifiers", &i, "at").trim();
                let at = if at_text.is_empty() {
                    None
                } else {
                    match OffsetDateTime::parse(
                        at_text,
                        &time::format_description::well_known::Rfc3339,
                    ) {
                        Ok(t) => Some(t),
                        Err(_) => {
                            err(
                                &field("at"),
                                "invalid_datetime",
                                "use a date and time with its zone, e.g. 2026-11-20T03:10:00Z",
                            );
                            continue;
                        }
                    }
                };
                Identifier::ip(value, port, at).map_err(|e| {
                    let f = if e.code == "ip_without_time" {
                        field("at")
                    } else {
                        field("value")
                    };
                    (f, e)
                })
            }
            "email" => entraide_domain::Email::parse(value)
                .map(|address| Identifier::Email { address })
                .map_err(|e| (field("value"), e)),
            "phone" => Identifier::phone(value).map_err(|e| (field("value"), e)),
            "url" => Identifier::url(value).map_err(|e| (field("value"), e)),
            "domain" => Identifier::domain(value).map_err(|e| (field("value"), e)),
            "account" => Identifier::account(v.at("identifiers", &i, "service"), value)
                .map_err(|e| (field("service"), e)),
            "imei" => Identifier::imei(value).map_err(|e| (field("value"), e)),
            "imsi" => Identifier::imsi(value).map_err(|e| (field("value"), e)),
            "crypto_address" => {
                let chain = serde_json::from_value::<Chain>(serde_json::Value::String(
                    v.at("identifiers", &i, "service").trim().to_lowercase(),
                ));
                match chain {
                    Ok(chain) => Identifier::crypto(chain, value).map_err(|e| (field("value"), e)),
                    Err(_) => {
                        err(
                            &field("service"),
                            "invalid_chain",
                            "name the blockchain (bitcoin, ethereum...)",
                        );
                        continue;
                    }
                }
            }
            "iban" => Identifier::iban(value).map_err(|e| (field("value"), e)),
            "payment_card" => Identifier::payment_card(value).map_err(|e| (field("value"), e)),
            _ => {
                err(&field("type"), "required", "choose the type of identifier");
                continue;
            }
        };
        match parsed {
            Ok(id) => identifiers.push(id),
            Err((f, e)) => err(&f, e.code, &e.message),
        }
    }
    let mut instant = |key: &str| match v.get(key).trim() {
        "" => None,
        s => match parse_instant(s) {
            Some(t) => Some(t),
            None => {
                err(
                    key,
                    "invalid_datetime",
                    "use a date (2026-11-20) or a date and time with its zone",
                );
                None
            }
        },
    };
    let period_from = instant("period_from");
    let period_to = instant("period_to");
    let collection_days = match v.get("collection_days").trim() {
        "" => None,
        d => match d.parse::<u32>() {
            Ok(d) if d <= 366 => Some(d),
            _ => {
                err(
                    "collection_days",
                    "invalid_days",
                    "give a number of days from 1 to 366",
                );
                None
            }
        },
    };
    let content = RequestContent {
        case_number: v.get("case_number").trim().to_owned(),
        marking,
        previous_reference: v.get("previous_reference").trim().to_owned(),
        requesting,
        requested,
        confirmation_contact: v.get("confirmation_contact").trim().to_owned(),
        investigative_authority: v.get("investigative_authority").trim().to_owned(),
        prosecution_office: v.get("prosecution_office").trim().to_owned(),
        domestic_legal_basis: v.get("domestic_legal_basis").trim().to_owned(),
        legal_basis,
        offences,
        facts: v.get("facts").trim().to_owned(),
        data,
        identifiers,
        period_from,
        period_to,
        custodian: v.get("custodian").trim().to_owned(),
        necessity: v.get("necessity").trim().to_owned(),
        mla_to_follow: match v.get("mla_to_follow") {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
        emergency_facts: v.get("emergency_facts").trim().to_owned(),
        emergency_link: v.get("emergency_link").trim().to_owned(),
        collection_days,
        special_instructions: v.get("special_instructions").trim().to_owned(),
        confidential: v.get("confidential") == "on",
    };
    let too_long = [
        "facts",
        "necessity",
        "emergency_facts",
        "emergency_link",
        "special_instructions",
    ]
    .into_iter()
    .find(|k| v.get(k).chars().count() > 20_000);
    if let Some(k) = too_long {
        err(
            k,
            "too_long",
            "this text is too long (at most 20,000 characters)",
        );
    }
    if errors.any() {
        Err(errors)
    } else {
        Ok(content)
    }
}

/// Findings of the checks, as messages beside the fields (errors and
/// warnings), in the reader's language.
fn findings_by_field(
    tr: &Tr,
    kind: RequestKind,
    content: &RequestContent,
) -> (FormErrors, Vec<FindingRow>) {
    let mut errors = FormErrors::default();
    let mut rows = Vec::new();
    for f in assess(kind, content) {
        let message = finding_message(tr, f.code, &f.field, &f.message);
        if f.severity == Severity::Error {
            errors
                .by_field
                .entry(f.field.clone())
                .or_insert_with(|| message.clone());
        }
        rows.push(FindingRow {
            anchor: field_id(&f.field),
            label: field_label(tr, &f.field),
            message,
            source: f.source.to_owned(),
            error: f.severity == Severity::Error,
        });
    }
    (errors, rows)
}

pub struct FindingRow {
    pub anchor: String,
    pub label: String,
    pub message: String,
    pub source: String,
    pub error: bool,
}

fn finding_message(tr: &Tr, code: &str, _field: &str, fallback: &str) -> String {
    let id = format!("finding-{}", code.replace('_', "-"));
    let m = tr.t(&id);
    if m == id {
        fallback.to_owned()
    } else {
        m
    }
}

/// `identifiers[0].port` → `identifiers-0-port` (an HTML id).
pub fn field_id(path: &str) -> String {
    path.replace(['[', '.'], "-").replace(']', "")
}

/// The translated label of a content path.
fn field_label(tr: &Tr, path: &str) -> String {
    let generic: String = path
        .split('.')
        .map(|p| p.split('[').next().unwrap_or(p))
        .collect::<Vec<_>>()
        .join("-")
        .replace('_', "-");
    let row = path
        .split('[')
        .nth(1)
        .and_then(|s| s.split(']').next())
        .and_then(|n| n.parse::<usize>().ok());
    let label = tr.t(&format!("rq-field-{generic}"));
    match row {
        Some(n) => format!("{label} ({})", n + 1),
        None => label,
    }
}

// ------------------------------------------------------------------ pages

#[derive(Template)]
#[template(path = "requests.html")]
struct RequestsPage {
    tr: Tr,
    nav: Nav,
    rows: Vec<RequestRow>,
    expiring: bool,
    state: String,
    kind: String,
    direction: String,
    states: Vec<(String, String)>,
    kinds: Vec<(String, String)>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    expiring: Option<String>,
    state: Option<String>,
    kind: Option<String>,
    direction: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let p = page(&app, &caller, locale.0, "/requests").await?;
    let expiring = q.expiring.is_some();
    let query = requests::api::RequestQuery {
        state: q.state.clone(),
        kind: q.kind.clone(),
        direction: q.direction.clone(),
        due_within_days: expiring.then_some(7),
        ..Default::default()
    };
    let filter = query.filter()?;
    let list = app
        .store
        .requests_for_member(caller.user.id, &filter)
        .await?;
    let view = RequestsPage {
        rows: list
            .iter()
            .filter(|r| !expiring || !r.state.is_final())
            .map(|r| request_row(&p.tr, r))
            .collect(),
        expiring,
        state: q.state.unwrap_or_default(),
        kind: q.kind.unwrap_or_default(),
        direction: q.direction.unwrap_or_default(),
        states: options(
            &p.tr,
            "rq-state-",
            &entraide_domain::request::RequestState::ALL,
            |s| s.as_str(),
        ),
        kinds: kind_options(&p.tr),
        tr: p.tr,
        nav: p.nav,
    };
    Ok(render(&view))
}

#[derive(Template)]
#[template(path = "request_form.html")]
struct RequestFormPage {
    tr: Tr,
    nav: Nav,
    /// Where the form posts.
    action: String,
    kind_label: String,
    article: String,
    title: String,
    v: FormValues,
    errors: FormErrors,
    legal_bases: Vec<(String, String)>,
    categories: Vec<(String, String)>,
    identifier_types: Vec<(String, String)>,
    offence_rows: Vec<usize>,
    data_rows: Vec<usize>,
    identifier_rows: Vec<usize>,
    show_preservation: bool,
    show_emergency: bool,
    show_collection: bool,
}

impl RequestFormPage {
    fn row_id(&self, list: &str, i: &usize, field: &str) -> String {
        field_id(&format!("{list}[{i}].{field}"))
    }

    fn row_legend(&self, key: &str, i: &usize) -> String {
        self.tr.tn(key, "n", i64::try_from(*i).unwrap_or(0) + 1)
    }

    fn row_error(&self, list: &str, i: &usize, field: &str) -> Option<&String> {
        self.errors.get(&format!("{list}[{i}].{field}"))
    }
}

fn form_page(
    p: crate::web::page::Page,
    action: String,
    kind: RequestKind,
    direction: Direction,
    v: FormValues,
    errors: FormErrors,
) -> RequestFormPage {
    let tr = &p.tr;
    RequestFormPage {
        action,
        kind_label: tr.t(&format!("rq-kind-{}", kind.as_str())),
        article: kind.article().to_owned(),
        title: tr.t(if direction == Direction::Outgoing {
            "rq-new-outgoing"
        } else {
            "rq-new-incoming"
        }),
        v,
        errors,
        legal_bases: options(tr, "rq-basis-", &LegalBasis::ALL, |b| b.as_str()),
        categories: options(tr, "rq-category-", &DataCategory::ALL, |c| c.as_str()),
        identifier_types: IDENTIFIER_TYPES
            .iter()
            .map(|t| ((*t).to_owned(), tr.t(&format!("rq-identifier-{t}"))))
            .collect(),
        offence_rows: (0..OFFENCE_ROWS).collect(),
        data_rows: (0..DATA_ROWS).collect(),
        identifier_rows: (0..IDENTIFIER_ROWS).collect(),
        show_preservation: kind.is_preservation()
            || matches!(
                kind,
                RequestKind::MlaRealTimeTraffic | RequestKind::MlaInterception
            ),
        show_emergency: kind == RequestKind::EmergencyDisclosure,
        show_collection: matches!(
            kind,
            RequestKind::MlaRealTimeTraffic | RequestKind::MlaInterception
        ),
        tr: p.tr,
        nav: p.nav,
    }
}

#[derive(Deserialize)]
pub struct NewQuery {
    kind: Option<String>,
    direction: Option<String>,
}

fn kind_and_direction(
    kind: Option<&str>,
    direction: Option<&str>,
) -> AppResult<(RequestKind, Direction)> {
    let kind = kind
        .unwrap_or("")
        .parse::<RequestKind>()
        .map_err(|e| AppError::BadRequest {
            code: e.code,
            detail: e.message,
        })?;
    let direction = match direction {
        Some("incoming") => Direction::Incoming,
        _ => Direction::Outgoing,
    };
    Ok((kind, direction))
}

pub async fn new_form(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(case_id): Path<Uuid>,
    Query(q): Query<NewQuery>,
) -> AppResult<Response> {
    let (kind, direction) = kind_and_direction(q.kind.as_deref(), q.direction.as_deref())?;
    let (case, access) = crate::cases::service::case_access(&app, &caller.principal(), case_id).await?;
    if !access.reads_content() {
        return Err(AppError::NotCaseMember);
    }
    let mut content = RequestContent {
        case_number: case.reference.to_string(),
        ..RequestContent::default()
    };
    if direction == Direction::Outgoing {
        let org = app.store.own_organisation().await?;
        content.requesting.organisation = org.name.to_string();
        content.requesting.country = Some(org.country);
        content.requesting.person = caller.user.display_name.to_string();
        content.requesting.email = caller.user.email.to_string();
    }
    let p = page(&app, &caller, locale.0, "/requests").await?;
    let action = format!(
        "/cases/{case_id}/requests?kind={}&direction={}",
        kind.as_str(),
        direction.as_str()
    );
    let view = form_page(
        p,
        action,
        kind,
        direction,
        FormValues::from_content(&content),
        FormErrors::default(),
    );
    Ok(render(&view))
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(case_id): Path<Uuid>,
    Query(q): Query<NewQuery>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let (kind, direction) = kind_and_direction(q.kind.as_deref(), q.direction.as_deref())?;
    let v = FormValues::from_pairs(&form);
    let tr = Tr::new(app.i18n.clone(), locale.0);
    match parse_form(&tr, &v) {
        Ok(content) => {
            let r = requests::create(&app, &caller.principal(), case_id, kind, direction, content).await?;
            Ok(see_other(&format!("/requests/{}", r.id)))
        }
        Err(errors) => {
            let p = page(&app, &caller, locale.0, "/requests").await?;
            let action = format!(
                "/cases/{case_id}/requests?kind={}&direction={}",
                kind.as_str(),
                direction.as_str()
            );
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &form_page(p, action, kind, direction, v, errors),
            ))
        }
    }
}

pub async fn edit_form(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let r = requests::member_request(&app, &caller.principal(), id).await?;
    let p = page(&app, &caller, locale.0, "/requests").await?;
    let (errors, _) = findings_by_field(&p.tr, r.kind, &r.content);
    let mut view = form_page(
        p,
        format!("/requests/{id}/edit"),
        r.kind,
        r.direction,
        FormValues::from_content(&r.content),
        errors,
    );
    view.title = view.tr.t1("rq-edit-title", "reference", &r.reference);
    Ok(render(&view))
}

pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let v = FormValues::from_pairs(&form);
    let tr = Tr::new(app.i18n.clone(), locale.0);
    match parse_form(&tr, &v) {
        Ok(content) => {
            requests::update_content(&app, &caller.principal(), id, content).await?;
            Ok(see_other(&format!("/requests/{id}")))
        }
        Err(errors) => {
            let r = requests::member_request(&app, &caller.principal(), id).await?;
            let p = page(&app, &caller, locale.0, "/requests").await?;
            let mut view = form_page(
                p,
                format!("/requests/{id}/edit"),
                r.kind,
                r.direction,
                v,
                errors,
            );
            view.title = view.tr.t1("rq-edit-title", "reference", &r.reference);
            Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, &view))
        }
    }
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    tr: Tr,
    nav: Nav,
    r: RequestRow,
    case_id: Uuid,
    article: String,
    editable: bool,
    findings: Vec<FindingRow>,
    has_errors: bool,
    actions: Vec<(String, String)>,
    can_refuse: bool,
    grounds: Vec<(String, String)>,
    sections: Vec<(String, Vec<(String, String)>)>,
    events: Vec<EventRow>,
    approved_digest: String,
    deadline_source: String,
    message: Option<String>,
    can_extend: bool,
    incoming: bool,
    counterpart: Option<CounterpartBox>,
    /// Peers accepting this kind, when the request can be sent to one.
    send_peers: Vec<(String, String)>,
    /// The peer holding the other side, once exchanged.
    linked_peer: String,
}

/// The requested country as drafting sees it.
pub struct CounterpartBox {
    country: String,
    known: bool,
    languages: String,
    channels: Vec<String>,
    bases: Vec<String>,
    /// From the knowledge repository: instruments binding both States
    /// today, what to check, the central authority, and the full helper.
    kn_instruments: Vec<String>,
    kn_warnings: Vec<String>,
    kn_authority: String,
    helper_href: String,
}

fn counterpart_box(tr: &Tr, ours: CountryCode, theirs: CountryCode) -> CounterpartBox {
    let info = entraide_domain::request::counterpart(ours, theirs);
    CounterpartBox {
        country: theirs.to_string(),
        known: info.known,
        languages: info
            .languages
            .iter()
            .map(|l| {
                let id = format!("language-{l}");
                if tr.has(&id) {
                    tr.t(&id)
                } else {
                    l.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        channels: info
            .channels
            .iter()
            .map(|c| tr.t(&format!("rq-channel-{c}")))
            .collect(),
        bases: info
            .shared_bases
            .iter()
            .map(|b| tr.t(&format!("rq-basis-{}", b.as_str())))
            .collect(),
        kn_instruments: Vec::new(),
        kn_warnings: Vec::new(),
        kn_authority: String::new(),
        helper_href: String::new(),
    }
}

/// The legal-basis helper's answer for a request being drafted.
async fn with_legal_basis(
    app: &AppState,
    tr: &Tr,
    mut b: CounterpartBox,
    ours: CountryCode,
    theirs: CountryCode,
    kind: &str,
) -> AppResult<CounterpartBox> {
    let measure = crate::knowledge::measure_for(kind);
    let q = entraide_knowledge::helper::HelperQuestion {
        requesting: ours.as_str().to_owned(),
        requested: theirs.as_str().to_owned(),
        offence: None,
        measure,
        on: time::OffsetDateTime::now_utc().date(),
    };
    let a = crate::knowledge::legal_basis(app, &q).await?;
    let lang = tr.locale.as_str();
    b.kn_instruments = a
        .instruments
        .iter()
        .filter(|i| i.binds_both)
        .map(|i| entraide_knowledge::pick(&i.title, lang).to_owned())
        .collect();
    b.kn_warnings = a
        .warnings
        .iter()
        .filter(|w| **w != "dual-criminality-unknown")
        .map(|w| tr.t(&format!("kn-warning-{w}")))
        .collect();
    b.kn_authority = a.mla.map(|m| m.central_authority).unwrap_or_default();
    b.helper_href = format!(
        "/knowledge/helper?requesting={}&requested={}&measure={}",
        ours.as_str(),
        theirs.as_str(),
        measure.map(|m| m.as_str()).unwrap_or_default()
    );
    Ok(b)
}

pub struct EventRow {
    at: String,
    actor: String,
    action: String,
}

fn describe(tr: &Tr, r: &CooperationRequest) -> Vec<(String, Vec<(String, String)>)> {
    let c = &r.content;
    let contact = |x: &Contact| {
        let mut parts = vec![x.organisation.clone()];
        if let Some(cc) = x.country {
            parts.push(cc.to_string());
        }
        for s in [
            &x.person,
            &x.address,
            &x.email,
            &x.office_hours,
            &x.time_zone,
        ] {
            if !s.is_empty() {
                parts.push(s.clone());
            }
        }
        if !x.phones.is_empty() {
            parts.push(x.phones.join(", "));
        }
        parts.retain(|p| !p.is_empty());
        parts.join(" · ")
    };
    let f = |k: &str| tr.t(&format!("rq-field-{k}"));
    let mut header = vec![
        (f("case-number"), c.case_number.clone()),
        (f("requesting"), contact(&c.requesting)),
        (f("requested"), contact(&c.requested)),
        (f("domestic-legal-basis"), c.domestic_legal_basis.clone()),
        (
            f("legal-basis"),
            c.legal_basis
                .map(|b| tr.t(&format!("rq-basis-{}", b.as_str())))
                .unwrap_or_default(),
        ),
        (f("previous-reference"), c.previous_reference.clone()),
        (
            f("investigative-authority"),
            c.investigative_authority.clone(),
        ),
        (f("prosecution-office"), c.prosecution_office.clone()),
    ];
    header.retain(|(_, v)| !v.is_empty());
    let mut body = vec![
        (
            f("offences"),
            c.offences
                .iter()
                .map(|o| format!("{} ({})", o.description, o.provision))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        (f("facts"), c.facts.clone()),
        (
            f("data"),
            c.data
                .iter()
                .map(|d| {
                    format!(
                        "[{}] {} — {}",
                        tr.t(&format!("rq-category-{}", d.category.as_str())),
                        d.description,
                        d.relationship_to_offence
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        (
            f("identifiers"),
            c.identifiers
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        (
            f("period-from"),
            match (c.period_from, c.period_to) {
                (None, None) => String::new(),
                (a, b) => format!(
                    "{} → {}",
                    a.map(fmt_time).unwrap_or_else(|| "…".into()),
                    b.map(fmt_time).unwrap_or_else(|| "…".into())
                ),
            },
        ),
        (f("custodian"), c.custodian.clone()),
        (f("necessity"), c.necessity.clone()),
        (
            f("mla-to-follow"),
            match c.mla_to_follow {
                Some(true) => tr.t("yes"),
                Some(false) => tr.t("no"),
                None => String::new(),
            },
        ),
        (f("emergency-facts"), c.emergency_facts.clone()),
        (f("emergency-link"), c.emergency_link.clone()),
        (
            f("collection-days"),
            c.collection_days.map(|d| d.to_string()).unwrap_or_default(),
        ),
        (f("special-instructions"), c.special_instructions.clone()),
    ];
    body.retain(|(_, v)| !v.is_empty());
    vec![
        (tr.t("rq-section-header"), header),
        (tr.t("rq-section-body"), body),
    ]
}

async fn request_page(
    app: &AppState,
    caller: &Caller,
    locale: Locale,
    id: Uuid,
    message: Option<String>,
) -> AppResult<RequestPage> {
    let r = requests::member_request(app, &caller.principal(), id).await?;
    requests::audit_read(app, &caller.principal(), &r).await?;
    let p = page(app, caller, locale, "/requests").await?;
    let (_, findings) = findings_by_field(&p.tr, r.kind, &r.content);
    let events = app.store.request_events(id).await?;
    let roles = caller.roles();
    let link = app.store.request_link(r.id).await?;
    let send_peers: Vec<(String, String)> = if link.is_none()
        && r.direction == entraide_domain::request::Direction::Outgoing
        && r.state == entraide_domain::request::RequestState::Approved
        && roles.intersects(entraide_domain::request::Action::MarkSent.roles())
    {
        app.store
            .peers()
            .await?
            .into_iter()
            .filter(|p| p.status == "active")
            .filter(|p| {
                serde_json::from_str::<entraide_federation::NodeDocument>(&p.document)
                    .is_ok_and(|d| d.request_types.iter().any(|t| t == r.kind.as_str()))
            })
            .map(|p| {
                (
                    p.node_id.clone(),
                    format!("{} ({}, {})", p.organisation, p.country, p.node_id),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let actions: Vec<(String, String)> = available_actions(r.kind, r.direction, r.state)
        .into_iter()
        .filter(|a| roles.intersects(a.roles()))
        .filter(|a| !matches!(a, entraide_domain::request::Action::Refuse { .. }))
        // The requesting side withdraws its own request; a received one follows it.
        .filter(|a| {
            !(r.direction == Direction::Incoming
                && *a == entraide_domain::request::Action::Withdraw)
        })
        .map(|a| {
            (
                a.name().to_owned(),
                p.tr.t(&format!("rq-action-{}", a.name())),
            )
        })
        .collect();
    let can_refuse = available_actions(r.kind, r.direction, r.state)
        .iter()
        .any(|a| matches!(a, entraide_domain::request::Action::Refuse { .. }))
        && roles.intersects(RoleSet::of(&[Role::Officer, Role::Approver]));
    Ok(RequestPage {
        r: request_row(&p.tr, &r),
        case_id: r.case_id,
        article: r.kind.article().to_owned(),
        editable: r.state.is_editable()
            && roles.intersects(RoleSet::of(&requests::HANDLES_REQUESTS)),
        has_errors: findings.iter().any(|f| f.error),
        findings,
        actions,
        can_refuse,
        grounds: RefusalGround::ALL
            .iter()
            .filter(|g| g.open_to(r.kind))
            .map(|g| {
                (
                    g.as_str().to_owned(),
                    p.tr.t(&format!("rq-ground-{}", g.as_str())),
                )
            })
            .collect(),
        sections: describe(&p.tr, &r),
        events: events
            .iter()
            .map(|e| EventRow {
                at: fmt_time(e.at),
                actor: e.actor.clone(),
                action: p.tr.t(&format!("rq-event-{}", e.action)),
            })
            .collect(),
        approved_digest: r.approved_digest.clone().unwrap_or_default(),
        deadline_source: r.deadline_source.clone().unwrap_or_default(),
        message,
        incoming: r.direction == Direction::Incoming,
        counterpart: match (r.direction, r.requested_country) {
            (Direction::Outgoing, Some(theirs)) => {
                let ours = app.store.own_organisation().await?.country;
                let b = counterpart_box(&p.tr, ours, theirs);
                Some(with_legal_basis(app, &p.tr, b, ours, theirs, r.kind.as_str()).await?)
            }
            _ => None,
        },
        send_peers,
        linked_peer: link.map(|(p, _)| p).unwrap_or_default(),
        can_extend: r.state.allows_extension(r.kind)
            && roles.intersects(RoleSet::of(&requests::HANDLES_REQUESTS)),
        tr: p.tr,
        nav: p.nav,
    })
}

pub async fn detail(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(render(
        &request_page(&app, &caller, locale.0, id, None).await?,
    ))
}

pub async fn act(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::Extension<Locale>,
    Path(id): Path<Uuid>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let ground = form.one("ground");
    let note = form.one("note");
    let result = match requests::parse_action(
        &form.one("action"),
        Some(ground.as_str()).filter(|g| !g.is_empty()),
    ) {
        Ok(action) => {
            requests::transition(
                &app,
                &caller.principal(),
                id,
                action,
                Some(note.as_str()).filter(|n| !n.is_empty()),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/requests/{id}"))),
        Err(
            err @ (AppError::Transition { .. } | AppError::Incomplete(_) | AppError::Validation(_)),
        ) => {
            let tr = Tr::new(app.i18n.clone(), locale.0);
            let (status, code) = err.status_and_code();
            let message = tr.error(code, &err.to_string());
            Ok(render_status(
                status,
                &request_page(&app, &caller, locale.0, id, Some(message)).await?,
            ))
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "print.html")]
struct PrintPage {
    tr: Tr,
    nav: Nav,
    doc_lang: String,
    blocks: Vec<crate::requests::pdf::Block>,
}

impl PrintPage {
    fn kind(&self, b: &crate::requests::pdf::Block) -> &'static str {
        use crate::requests::pdf::Block;
        match b {
            Block::Title(_) => "title",
            Block::Subtitle(_) => "subtitle",
            Block::Heading(_) => "heading",
            Block::Field(..) => "field",
            Block::Paragraph(_) => "paragraph",
        }
    }

    fn label<'a>(&self, b: &'a crate::requests::pdf::Block) -> &'a str {
        match b {
            crate::requests::pdf::Block::Field(l, _) => l,
            _ => "",
        }
    }

    fn text<'a>(&self, b: &'a crate::requests::pdf::Block) -> &'a str {
        use crate::requests::pdf::Block;
        match b {
            Block::Title(t) | Block::Subtitle(t) | Block::Heading(t) | Block::Paragraph(t) => t,
            Block::Field(_, v) => v,
        }
    }
}

/// Sends an approved request to a peer node.
pub async fn send_to_peer(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    crate::requests::exchange::send_request(&app, &caller.principal(), id, &form.one("peer"))
        .await?;
    Ok(see_other(&format!("/requests/{id}")))
}

pub async fn extension(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    form: PairsForm,
) -> AppResult<Response> {
    check_csrf(&caller, &form.one("csrf"))?;
    let r = requests::prepare_extension(&app, &caller.principal(), id).await?;
    Ok(see_other(&format!("/requests/{}/edit", r.id)))
}

/// The formal document as a print-friendly page.
pub async fn print(
    State(app): State<AppState>,
    caller: Caller,
    locale: axum::extract::Extension<Locale>,
    Path(id): Path<Uuid>,
    Query(q): Query<requests::api::DocumentQuery>,
) -> AppResult<Response> {
    let r = requests::member_request(&app, &caller.principal(), id).await?;
    requests::audit_read(&app, &caller.principal(), &r).await?;
    let doc_locale = q
        .lang
        .as_deref()
        .and_then(Locale::parse)
        .unwrap_or_else(|| requests::document_language(r.requested_country));
    let doc_tr = Tr::new(app.i18n.clone(), doc_locale);
    let doc = requests::formal_document(&app, &doc_tr, &r).await?;
    let p = page(&app, &caller, locale.0, "/requests").await?;
    Ok(render(&PrintPage {
        doc_lang: doc_locale.as_str().to_owned(),
        blocks: doc.blocks,
        tr: p.tr,
        nav: p.nav,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use entraide_domain::request::{Action, RequestState};

    /// Every message the request pages build at run time exists in English
    /// (and therefore, by the i18n test, in French and Spanish).
    #[test]
    fn every_dynamic_message_exists() {
        let i18n = crate::app::i18n::I18n::load().unwrap();
        let mut ids: Vec<String> = Vec::new();
        ids.extend(
            RequestKind::ALL
                .iter()
                .map(|k| format!("rq-kind-{}", k.as_str())),
        );
        ids.extend(
            RequestState::ALL
                .iter()
                .map(|s| format!("rq-state-{}", s.as_str())),
        );
        ids.extend(
            RequestState::ALL
                .iter()
                .map(|s| format!("rq-state-{}", s.as_str())),
        );
        ids.extend(
            LegalBasis::ALL
                .iter()
                .map(|b| format!("rq-basis-{}", b.as_str())),
        );
        ids.extend(
            DataCategory::ALL
                .iter()
                .map(|c| format!("rq-category-{}", c.as_str())),
        );
        ids.extend(
            IDENTIFIER_TYPES
                .iter()
                .map(|t| format!("rq-identifier-{t}")),
        );
        ids.extend(
            RefusalGround::ALL
                .iter()
                .map(|g| format!("rq-ground-{}", g.as_str())),
        );
        let actions = Action::ALL;
        ids.extend(actions.iter().map(|a| format!("rq-action-{}", a.name())));
        ids.extend(actions.iter().map(|a| format!("rq-event-{}", a.name())));
        ids.extend(
            ["rq-event-drafted", "rq-event-registered", "rq-event-edited"].map(String::from),
        );
        ids.extend(
            [
                "network_24_7",
                "central_authority",
                "eu_decentralised_it_system",
            ]
            .map(|c| format!("rq-channel-{c}")),
        );
        // Labels of every field a check can name, and every check's message.
        let tr = Tr::new(std::sync::Arc::new(i18n), Locale::En);
        for kind in RequestKind::ALL {
            for f in assess(kind, &RequestContent::default()) {
                let label = field_label(&tr, &f.field);
                assert!(!label.starts_with("rq-field-"), "no label for {}", f.field);
                ids.push(format!("finding-{}", f.code.replace('_', "-")));
            }
        }
        for id in ids {
            assert_ne!(tr.t(&id), id, "missing message {id}");
        }
    }

    #[test]
    fn the_form_reads_back_what_it_shows() {
        let i18n = std::sync::Arc::new(crate::app::i18n::I18n::load().unwrap());
        let tr = Tr::new(i18n, Locale::Fr);
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
}
