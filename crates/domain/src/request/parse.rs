//! Request content from JSON (API, federation messages, storage) through the
//! same checks as the web form.
//!
//! Parsing reads a private mirror of the content first (`RawRequestContent`,
//! with the checked parts as plain strings) and then builds the content with
//! the domain constructors. Errors therefore come from two places, and
//! neither has to smuggle a code through serde's message string:
//!
//! * the shape of the JSON (wrong type, unknown or missing field), reported
//!   by serde with its path (kept by `serde_path_to_error`) and given a
//!   generic code from serde's message;
//! * the checks, which are ordinary Rust code returning [`ContentError`]
//!   with the constructor's stable code and the path of the field.
//!
//! `RequestContent`'s `Deserialize` goes through the same mirror and the same
//! checks, so `serde_json::from_str::<RequestContent>` (storage, a peer's
//! message) refuses exactly what [`parse_request_content`] refuses; its
//! error message is the [`ContentError`]'s `Display` (`path: message
//! (code)`), but serde keeps no code: use [`parse_request_content`] where
//! the code and path matter (the API).
//!
//! # Field paths
//!
//! Paths are written as `serde_path_to_error` writes them: struct fields
//! joined by `.`, list positions as `[i]` after the list's name, the root as
//! the empty string. Examples: `facts`, `requesting.country`,
//! `data[1].category`, `identifiers[0].value`, `identifiers[2].at`. This is
//! also the form's naming (`FormValues` keys), so one path names one field
//! everywhere.

use std::fmt;

use serde::Deserialize;
use time::OffsetDateTime;

use super::content::{Contact, DataRequested, Marking, Offence, RequestContent};
use super::identifier::{Identifier, RawIdentifier};
use super::kind::{DataCategory, LegalBasis};
use crate::{CountryCode, ParseError};

/// The longest the long free-text fields (`facts`, `necessity`,
/// `emergency_facts`, `emergency_link`, `special_instructions`) may be, in
/// characters. The same limit as the form's.
pub const LONG_TEXT_MAX_CHARS: usize = 20_000;

/// The longest real-time collection or interception that may be asked for
/// (`collection_days`), in days.
pub const COLLECTION_DAYS_MAX: u32 = 366;

/// Why request content was refused: the path of the field (see the module
/// documentation for its form), a stable machine-readable `code` (the UI
/// translates it) and an English `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl ContentError {
    /// The refusal `error` of the field at `field`.
    pub fn new(field: impl Into<String>, error: ParseError) -> Self {
        Self {
            field: field.into(),
            code: error.code.to_owned(),
            message: error.message,
        }
    }

    /// The same refusal seen from the enclosing value: `value` inside
    /// `identifiers[0]` becomes `identifiers[0].value`.
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_owned()
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

impl fmt::Display for ContentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{} ({})", self.message, self.code)
        } else {
            write!(f, "{}: {} ({})", self.field, self.message, self.code)
        }
    }
}

impl std::error::Error for ContentError {}

/// Parses request content from JSON, refusing what the web form refuses,
/// with the path and stable code of the first refused field (in the order
/// of the content's fields). `null` is empty content.
pub fn parse_request_content(value: serde_json::Value) -> Result<RequestContent, ContentError> {
    if value.is_null() {
        return Ok(RequestContent::default());
    }
    let raw: RawRequestContent<RawIdentifier> =
        serde_path_to_error::deserialize(value).map_err(shape_error)?;
    RequestContent::try_from(raw)
}

/// An RFC 3339 date and time with its offset (`2026-11-20T03:10:00Z`,
/// `2026-11-20T04:10:00+01:00`). A time without an offset is refused: the
/// provider would have to guess the zone, and an hour's error finds the
/// wrong subscriber behind a shared address. Code `invalid_datetime`.
pub fn parse_date_time(input: &str) -> Result<OffsetDateTime, ParseError> {
    OffsetDateTime::parse(input.trim(), &time::format_description::well_known::Rfc3339).map_err(
        |_| {
            ParseError::new(
                "invalid_datetime",
                format!(
                    "'{}' is not a date and time with its offset, e.g. 2026-11-20T03:10:00Z",
                    input.trim()
                ),
            )
        },
    )
}

/// A bound of the period of the data: an RFC 3339 date and time with its
/// offset, or a date alone, meaning 00:00 UTC that day (a period is often
/// known only by days; midnight UTC is what the form has always stored).
/// A date and time without an offset is refused. Code `invalid_datetime`.
pub fn parse_instant(input: &str) -> Result<OffsetDateTime, ParseError> {
    let s = input.trim();
    parse_date_time(s).or_else(|_| {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(s, &fmt)
            .map(|d| d.midnight().assume_utc())
            .map_err(|_| {
                ParseError::new(
                    "invalid_datetime",
                    format!(
                        "'{s}' is not a date (2026-11-20) or a date and time with its offset (2026-11-20T03:10:00Z)"
                    ),
                )
            })
    })
}

/// A refusal of the JSON's shape, with a code derived from serde's message.
/// serde only gives text; its messages start with fixed phrases ("missing
/// field", "invalid type"...), which is what is matched here. Anything else
/// is `invalid_content`.
fn shape_error(e: serde_path_to_error::Error<serde_json::Error>) -> ContentError {
    let path = e.path().to_string();
    // serde_path_to_error writes the root as ".".
    let mut field = if path == "." { String::new() } else { path };
    let mut message = e.inner().to_string();
    let code = if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        // The path is the enclosing object's; name the missing field.
        field = if field.is_empty() {
            name.to_owned()
        } else {
            format!("{field}.{name}")
        };
        "required"
    } else if message.starts_with("unknown field") {
        "unknown_field"
    } else if message.starts_with("duplicate field") {
        "duplicate_field"
    } else if message.starts_with("invalid type") {
        "invalid_type"
    } else if message.starts_with("invalid value")
        || message.starts_with("invalid length")
        || message.starts_with("unknown variant")
    {
        "invalid_value"
    } else {
        "invalid_content"
    };
    // serde repeats the refused value ("invalid type: integer `4111...`");
    // for a card field that could be a full card number, which must not
    // reach a log.
    if field == "masked" || field.ends_with(".masked") {
        message = "the masked card number must be a string such as 411111******1111".to_owned();
    }
    ContentError {
        field,
        code: code.to_owned(),
        message,
    }
}

fn long_text(field: &str, text: String) -> Result<String, ContentError> {
    if text.chars().count() > LONG_TEXT_MAX_CHARS {
        Err(ContentError::new(
            field,
            ParseError::new(
                "too_long",
                format!("this text is too long (at most {LONG_TEXT_MAX_CHARS} characters)"),
            ),
        ))
    } else {
        Ok(text)
    }
}

/// `Contact` before its checks: the country as the string given.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawContact {
    organisation: String,
    country: Option<String>,
    person: String,
    address: String,
    phones: Vec<String>,
    email: String,
    office_hours: String,
    time_zone: String,
    reply_channel: String,
}

impl RawContact {
    fn check(self) -> Result<Contact, ContentError> {
        let country = self
            .country
            .map(|c| CountryCode::parse(&c))
            .transpose()
            .map_err(|e| ContentError::new("country", e))?;
        Ok(Contact {
            organisation: self.organisation,
            country,
            person: self.person,
            address: self.address,
            phones: self.phones,
            email: self.email,
            office_hours: self.office_hours,
            time_zone: self.time_zone,
            reply_channel: self.reply_channel,
        })
    }
}

/// `DataRequested` before its checks: the category as the string given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataRequested {
    category: String,
    description: String,
    #[serde(default)]
    relationship_to_offence: String,
}

impl RawDataRequested {
    fn check(self) -> Result<DataRequested, ContentError> {
        Ok(DataRequested {
            category: self
                .category
                .parse::<DataCategory>()
                .map_err(|e| ContentError::new("category", e))?,
            description: self.description,
            relationship_to_offence: self.relationship_to_offence,
        })
    }
}

/// `RequestContent` before its checks: country, legal basis, data category
/// and dates as given, numbers wider than their type so that an
/// out-of-range value gets the domain's code. Same fields, names and
/// defaults as `RequestContent`.
///
/// `I` is how identifiers are read. [`parse_request_content`] reads them raw
/// (`RawIdentifier`) and checks them here, so their refusals keep their code
/// and full path. `RequestContent`'s `Deserialize` reads them as
/// `Identifier`, which checks each one inside serde: a caller using
/// `serde_path_to_error` directly then still sees the refusal under
/// `identifiers[i]` (the same check, only called from another place).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawRequestContent<I> {
    case_number: String,
    marking: Marking,
    previous_reference: String,
    requesting: RawContact,
    requested: RawContact,
    confirmation_contact: String,
    investigative_authority: String,
    prosecution_office: String,
    domestic_legal_basis: String,
    legal_basis: Option<String>,
    offences: Vec<Offence>,
    facts: String,
    data: Vec<RawDataRequested>,
    identifiers: Vec<I>,
    period_from: Option<String>,
    period_to: Option<String>,
    custodian: String,
    necessity: String,
    mla_to_follow: Option<bool>,
    emergency_facts: String,
    emergency_link: String,
    collection_days: Option<i64>,
    special_instructions: String,
    confidential: bool,
}

// Written out because the derive would ask for `I: Default`, which
// `Identifier` is not (an empty list needs no default identifier).
impl<I> Default for RawRequestContent<I> {
    fn default() -> Self {
        Self {
            case_number: String::new(),
            marking: Marking::default(),
            previous_reference: String::new(),
            requesting: RawContact::default(),
            requested: RawContact::default(),
            confirmation_contact: String::new(),
            investigative_authority: String::new(),
            prosecution_office: String::new(),
            domestic_legal_basis: String::new(),
            legal_basis: None,
            offences: Vec::new(),
            facts: String::new(),
            data: Vec::new(),
            identifiers: Vec::new(),
            period_from: None,
            period_to: None,
            custodian: String::new(),
            necessity: String::new(),
            mla_to_follow: None,
            emergency_facts: String::new(),
            emergency_link: String::new(),
            collection_days: None,
            special_instructions: String::new(),
            confidential: false,
        }
    }
}

impl TryFrom<RawRequestContent<RawIdentifier>> for RequestContent {
    type Error = ContentError;
    fn try_from(raw: RawRequestContent<RawIdentifier>) -> Result<Self, Self::Error> {
        raw.check(Identifier::try_from)
    }
}

impl TryFrom<RawRequestContent<Identifier>> for RequestContent {
    type Error = ContentError;
    fn try_from(raw: RawRequestContent<Identifier>) -> Result<Self, Self::Error> {
        raw.check(Ok)
    }
}

impl<I> RawRequestContent<I> {
    /// The checks, in the order of the fields, so that the first refusal
    /// reported is the first bad field of the document. `identifier`
    /// checks one identifier (its refusal's path relative to it).
    fn check(
        self,
        identifier: impl Fn(I) -> Result<Identifier, ContentError>,
    ) -> Result<RequestContent, ContentError> {
        let at = |field: &'static str| move |e: ParseError| ContentError::new(field, e);
        let requesting = self
            .requesting
            .check()
            .map_err(|e| e.within("requesting"))?;
        let requested = self.requested.check().map_err(|e| e.within("requested"))?;
        let legal_basis = self
            .legal_basis
            .map(|b| b.parse::<LegalBasis>())
            .transpose()
            .map_err(at("legal_basis"))?;
        let facts = long_text("facts", self.facts)?;
        let data = self
            .data
            .into_iter()
            .enumerate()
            .map(|(i, d)| d.check().map_err(|e| e.within(&format!("data[{i}]"))))
            .collect::<Result<Vec<_>, _>>()?;
        let identifiers = self
            .identifiers
            .into_iter()
            .enumerate()
            .map(|(i, id)| identifier(id).map_err(|e| e.within(&format!("identifiers[{i}]"))))
            .collect::<Result<Vec<_>, _>>()?;
        let period_from = self
            .period_from
            .as_deref()
            .map(parse_instant)
            .transpose()
            .map_err(at("period_from"))?;
        let period_to = self
            .period_to
            .as_deref()
            .map(parse_instant)
            .transpose()
            .map_err(at("period_to"))?;
        let necessity = long_text("necessity", self.necessity)?;
        let emergency_facts = long_text("emergency_facts", self.emergency_facts)?;
        let emergency_link = long_text("emergency_link", self.emergency_link)?;
        // 0 is let through, as the form always has (stored drafts may hold
        // it): `checks::assess` reports it as missing before approval.
        let collection_days = self
            .collection_days
            .map(|d| {
                u32::try_from(d)
                    .ok()
                    .filter(|d| *d <= COLLECTION_DAYS_MAX)
                    .ok_or_else(|| {
                        ContentError::new(
                            "collection_days",
                            ParseError::new(
                                "invalid_days",
                                format!("give a number of days from 1 to {COLLECTION_DAYS_MAX}"),
                            ),
                        )
                    })
            })
            .transpose()?;
        let special_instructions = long_text("special_instructions", self.special_instructions)?;
        Ok(RequestContent {
            case_number: self.case_number,
            marking: self.marking,
            previous_reference: self.previous_reference,
            requesting,
            requested,
            confirmation_contact: self.confirmation_contact,
            investigative_authority: self.investigative_authority,
            prosecution_office: self.prosecution_office,
            domestic_legal_basis: self.domestic_legal_basis,
            legal_basis,
            offences: self.offences,
            facts,
            data,
            identifiers,
            period_from,
            period_to,
            custodian: self.custodian,
            necessity,
            mla_to_follow: self.mla_to_follow,
            emergency_facts,
            emergency_link,
            collection_days,
            special_instructions,
            confidential: self.confidential,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};
    use time::macros::datetime;

    use super::*;
    use crate::request::tests::complete;
    use crate::request::{Chain, RequestKind};

    /// The content with one identifier, as JSON.
    fn with_identifier(id: Value) -> Value {
        json!({ "identifiers": [id] })
    }

    /// (field, code) of the refusal of `value`.
    fn refusal(value: Value) -> (String, String) {
        match parse_request_content(value) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e) => (e.field, e.code),
        }
    }

    fn is(field: &str, code: &str) -> (String, String) {
        (field.to_owned(), code.to_owned())
    }

    #[test]
    fn invalid_identifiers_are_refused_with_their_code_and_path() {
        let cases = [
            (
                json!({"type": "iban", "value": "FR76 3000 6000 0112 3456 7890 188"}),
                "value",
                "invalid_iban",
            ),
            (
                json!({"type": "imei", "value": "490154203237519"}),
                "value",
                "invalid_imei",
            ),
            (
                json!({"type": "imsi", "value": "20815"}),
                "value",
                "invalid_imsi",
            ),
            (
                json!({"type": "phone", "number": "01 23 45 67 89"}),
                "number",
                "invalid_phone",
            ),
            (
                json!({"type": "ip_address", "address": "203.0.113.5", "port": 443}),
                "at",
                "ip_without_time",
            ),
            (
                json!({"type": "ip_address", "address": "203.0.113.5", "at": "2026-11-20T03:10:00"}),
                "at",
                "invalid_datetime",
            ),
            (
                json!({"type": "ip_address", "address": "203.0.113.5", "at": "2026-11-20"}),
                "at",
                "invalid_datetime",
            ),
            (
                json!({"type": "ip_address", "address": "300.1.1.1", "at": "2026-11-20T03:10:00Z"}),
                "address",
                "invalid_ip",
            ),
            (
                json!({"type": "ip_address", "address": "203.0.113.5", "port": 70000, "at": "2026-11-20T03:10:00Z"}),
                "port",
                "invalid_port",
            ),
            (
                json!({"type": "email", "address": "not an address"}),
                "address",
                "invalid_email",
            ),
            (
                json!({"type": "url", "url": "ftp://example.org"}),
                "url",
                "invalid_url",
            ),
            (
                json!({"type": "domain", "name": "nodot"}),
                "name",
                "invalid_domain",
            ),
            (
                json!({"type": "account", "service": " ", "handle": "@someone"}),
                "service",
                "invalid_account",
            ),
            (
                json!({"type": "account", "service": "ExampleSocial", "handle": ""}),
                "handle",
                "invalid_account",
            ),
            (
                json!({"type": "crypto_address", "chain": "dogecoin", "address": "D8x"}),
                "chain",
                "invalid_chain",
            ),
            (
                json!({"type": "crypto_address", "chain": "bitcoin", "address": "0xdeadbeef"}),
                "address",
                "invalid_crypto_address",
            ),
            (
                json!({"type": "payment_card", "masked": "4111 1111 1111 1111"}),
                "masked",
                "card_number_unmasked",
            ),
            (
                json!({"type": "payment_card", "masked": "411111ab1111"}),
                "masked",
                "invalid_card",
            ),
            (
                json!({"type": "fax", "value": "+33123456789"}),
                "type",
                "invalid_identifier_type",
            ),
            (
                json!({"value": "FR7630006000011234567890189"}),
                "type",
                "required",
            ),
            (json!({"type": "iban"}), "value", "required"),
            (
                json!({"type": "iban", "value": "FR7630006000011234567890189", "port": 1}),
                "port",
                "unknown_field",
            ),
        ];
        for (id, field, code) in cases {
            let got = refusal(with_identifier(id.clone()));
            assert_eq!(got, is(&format!("identifiers[0].{field}"), code), "{id}");
            // The same refusal when an identifier is read on its own.
            let alone = serde_json::from_value::<Identifier>(id.clone());
            assert!(alone.is_err(), "{id}");
        }
    }

    #[test]
    fn the_path_names_the_identifier_that_failed() {
        let content = json!({"identifiers": [
            {"type": "iban", "value": "FR76 3000 6000 0112 3456 7890 189"},
            {"type": "iban", "value": "FR76 3000 6000 0112 3456 7890 188"},
        ]});
        let e = parse_request_content(content).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("identifiers[1].value", "invalid_iban")
        );
        assert_eq!(
            e.to_string(),
            "identifiers[1].value: 'FR76 3000 6000 0112 3456 7890 188' is not a valid IBAN (invalid_iban)"
        );
    }

    #[test]
    fn a_full_card_number_is_refused_whatever_its_form_and_never_repeated() {
        for full in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            // Luhn fails: still a full number.
            "4111111111111112",
            // 13 and 19 digits.
            "4222222222222",
            "6011000990139424000",
        ] {
            let id = json!({"type": "payment_card", "masked": full});
            let e = parse_request_content(with_identifier(id.clone())).unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.code.as_str()),
                ("identifiers[0].masked", "card_number_unmasked"),
                "{full}"
            );
            let digits: String = full.chars().filter(char::is_ascii_digit).collect();
            assert!(!e.to_string().contains(&digits), "{e}");
            assert!(!e.to_string().contains(&digits[..8]), "{e}");
            // Reading an identifier on its own, or the content with serde
            // directly (storage, a peer's message), refuses it too.
            let alone = serde_json::from_value::<Identifier>(id).unwrap_err();
            assert!(
                alone.to_string().contains("card_number_unmasked"),
                "{alone}"
            );
            assert!(serde_json::from_value::<RequestContent>(with_identifier(
                json!({"type": "payment_card", "masked": full})
            ))
            .is_err());
        }
        // A number given where a string is expected is not echoed either.
        let e = parse_request_content(with_identifier(
            json!({"type": "payment_card", "masked": 4111111111111111_u64}),
        ))
        .unwrap_err();
        assert_eq!(e.code, "invalid_type");
        assert!(!e.message.contains("4111111111111111"), "{e}");
        // The form's constructor masks a full number instead.
        assert_eq!(
            Identifier::payment_card("4111 1111 1111 1111"),
            Ok(Identifier::PaymentCard {
                masked: "411111******1111".into()
            })
        );
        // A masked number is accepted (and normalised to `*`).
        let c = parse_request_content(with_identifier(
            json!({"type": "payment_card", "masked": "411111XXXXXX1111"}),
        ))
        .unwrap();
        assert_eq!(
            c.identifiers,
            vec![Identifier::PaymentCard {
                masked: "411111******1111".into()
            }]
        );
    }

    /// One of each type of identifier, as the constructors make them.
    fn every_identifier() -> Vec<Identifier> {
        [
            Identifier::ip(
                "203.0.113.5",
                Some(51000),
                Some(datetime!(2026-11-20 04:10 +01:00)),
            ),
            Identifier::ip("2001:db8::1", None, Some(datetime!(2026-11-20 03:10 UTC))),
            crate::Email::parse("Someone@Example.org").map(|address| Identifier::Email { address }),
            Identifier::phone("+33 1 23 45 67 89"),
            Identifier::url("https://example.org/path?q=1"),
            Identifier::domain("Example.ORG."),
            Identifier::account("ExampleSocial", "@someone"),
            Identifier::imei("49-015420-323751-8"),
            Identifier::imsi("208150123456789"),
            Identifier::crypto(
                Chain::Ethereum,
                "0x52908400098527886E0F7030069857D2E4169EE7",
            ),
            Identifier::crypto(Chain::Bitcoin, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
            Identifier::iban("fr76 3000 6000 0112 3456 7890 189"),
            Identifier::payment_card("4111 1111 1111 1111"),
            Identifier::payment_card("411111******1111"),
        ]
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
    }

    #[test]
    fn valid_content_round_trips_unchanged() {
        let mut contents: Vec<RequestContent> =
            RequestKind::ALL.into_iter().map(complete).collect();
        let mut all = complete(RequestKind::SubscriberInformation);
        all.identifiers = every_identifier();
        contents.push(all);
        contents.push(RequestContent::default());
        for c in contents {
            let value = serde_json::to_value(&c).unwrap();
            let again = parse_request_content(value.clone()).unwrap();
            assert_eq!(again, c);
            // Same bytes, same digest: what was approved stays approved.
            assert_eq!(serde_json::to_value(&again).unwrap(), value);
            assert_eq!(again.digest(), c.digest());
            let text = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<RequestContent>(&text).unwrap(), c);
        }
        for id in every_identifier() {
            let value = serde_json::to_value(&id).unwrap();
            assert_eq!(serde_json::from_value::<Identifier>(value).unwrap(), id);
        }
    }

    #[test]
    fn the_wire_format_is_unchanged() {
        let ids = every_identifier();
        assert_eq!(
            serde_json::to_value(&ids[0]).unwrap(),
            json!({"type": "ip_address", "address": "203.0.113.5", "port": 51000, "at": "2026-11-20T03:10:00Z"})
        );
        assert_eq!(
            serde_json::to_value(&ids[1]).unwrap(),
            json!({"type": "ip_address", "address": "2001:db8::1", "at": "2026-11-20T03:10:00Z"})
        );
        assert_eq!(
            serde_json::to_value(&ids[9]).unwrap(),
            json!({"type": "crypto_address", "chain": "ethereum", "address": "0x52908400098527886E0F7030069857D2E4169EE7"})
        );
        assert_eq!(
            serde_json::to_value(&ids[11]).unwrap(),
            json!({"type": "iban", "value": "FR7630006000011234567890189"})
        );
        assert_eq!(
            serde_json::to_value(&ids[12]).unwrap(),
            json!({"type": "payment_card", "masked": "411111******1111"})
        );
    }

    #[test]
    fn identifiers_from_json_are_normalised_as_the_form_does() {
        let c = parse_request_content(json!({"identifiers": [
            {"type": "ip_address", "address": " 203.0.113.5 ", "at": "2026-11-20T04:10:00+01:00"},
            {"type": "iban", "value": "fr76 3000 6000 0112 3456 7890 189"},
            {"type": "crypto_address", "chain": "Bitcoin", "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"},
            {"type": "ip_address", "address": "203.0.113.6", "port": null, "at": "2026-11-20T03:10:00Z"},
        ]}))
        .unwrap();
        assert_eq!(
            c.identifiers[0],
            Identifier::IpAddress {
                address: "203.0.113.5".parse().unwrap(),
                port: None,
                at: datetime!(2026-11-20 03:10 UTC),
            }
        );
        assert_eq!(
            c.identifiers[1],
            Identifier::Iban {
                value: "FR7630006000011234567890189".into()
            }
        );
        assert!(matches!(
            c.identifiers[2],
            Identifier::CryptoAddress {
                chain: Chain::Bitcoin,
                ..
            }
        ));
    }

    #[test]
    fn dates_need_their_offset() {
        assert_eq!(
            refusal(json!({"period_from": "2026-11-18T00:00:00"})),
            is("period_from", "invalid_datetime")
        );
        assert_eq!(
            refusal(json!({"period_to": "yesterday"})),
            is("period_to", "invalid_datetime")
        );
        // A date alone is a day from 00:00 UTC, as in the form.
        let c = parse_request_content(json!({
            "period_from": "2026-11-18",
            "period_to": "2026-11-20T06:00:00+01:00",
        }))
        .unwrap();
        assert_eq!(c.period_from, Some(datetime!(2026-11-18 00:00 UTC)));
        assert_eq!(c.period_to, Some(datetime!(2026-11-20 06:00 +01:00)));
        assert!(parse_date_time("2026-11-20T03:10:00").is_err());
        assert!(parse_date_time("2026-11-20").is_err());
        assert_eq!(
            parse_date_time(" 2026-11-20T04:10:00+01:00 "),
            Ok(datetime!(2026-11-20 04:10 +01:00))
        );
        assert_eq!(
            parse_instant("2026-11-20T03:10").map_err(|e| e.code),
            Err("invalid_datetime")
        );
    }

    #[test]
    fn the_other_checked_fields() {
        let long = "x".repeat(LONG_TEXT_MAX_CHARS + 1);
        let cases = [
            (
                json!({"requesting": {"country": "UK"}}),
                "requesting.country",
                "invalid_country",
            ),
            (
                json!({"requested": {"country": ""}}),
                "requested.country",
                "invalid_country",
            ),
            (
                json!({"legal_basis": "treaty"}),
                "legal_basis",
                "invalid_legal_basis",
            ),
            (
                json!({"data": [{"category": "metadata", "description": "x"}]}),
                "data[0].category",
                "invalid_data_category",
            ),
            (
                json!({"data": [{"description": "x"}]}),
                "data[0].category",
                "required",
            ),
            (
                json!({"data": [{"category": "traffic"}]}),
                "data[0].description",
                "required",
            ),
            (json!({"facts": long}), "facts", "too_long"),
            (json!({"necessity": long}), "necessity", "too_long"),
            (
                json!({"emergency_facts": long}),
                "emergency_facts",
                "too_long",
            ),
            (
                json!({"emergency_link": long}),
                "emergency_link",
                "too_long",
            ),
            (
                json!({"special_instructions": long}),
                "special_instructions",
                "too_long",
            ),
            (
                json!({"collection_days": 367}),
                "collection_days",
                "invalid_days",
            ),
            (
                json!({"collection_days": -1}),
                "collection_days",
                "invalid_days",
            ),
            (json!({"marking": "urgent"}), "marking", "invalid_value"),
            (
                json!({"confidential": "yes"}),
                "confidential",
                "invalid_type",
            ),
            (
                json!({"offences": [{"description": 1}]}),
                "offences[0].description",
                "invalid_type",
            ),
            (json!({"colour": 1}), "colour", "unknown_field"),
            (
                json!({"requesting": {"fax": "1"}}),
                "requesting.fax",
                "unknown_field",
            ),
            (json!("text"), "", "invalid_type"),
        ];
        for (value, field, code) in cases {
            assert_eq!(refusal(value.clone()), is(field, code), "{value}");
        }
        let c = parse_request_content(json!({
            "facts": "x".repeat(LONG_TEXT_MAX_CHARS),
            "collection_days": 366,
            "requested": {"country": "ar"},
            "legal_basis": "budapest_convention",
        }))
        .unwrap();
        assert_eq!(c.collection_days, Some(366));
        assert_eq!(c.requested.country, CountryCode::parse("AR").ok());
    }

    #[test]
    fn serde_alone_refuses_the_same_and_keeps_the_identifier_path() {
        // What a caller of serde_path_to_error on `RequestContent` (the
        // server before it uses `parse_request_content`) sees.
        let e = serde_path_to_error::deserialize::<_, RequestContent>(with_identifier(
            json!({"type": "ip_address", "address": "203.0.113.5"}),
        ))
        .unwrap_err();
        assert_eq!(e.path().to_string(), "identifiers[0]");
        assert!(e.inner().to_string().contains("ip_without_time"), "{e}");
        let e =
            serde_path_to_error::deserialize::<_, RequestContent>(json!({"facts": 1})).unwrap_err();
        assert_eq!(e.path().to_string(), "facts");
        // Checks outside identifiers are refused at the root, with the path
        // and code in the message.
        let e =
            serde_json::from_value::<RequestContent>(json!({"collection_days": 400})).unwrap_err();
        assert!(e.to_string().starts_with("collection_days: "), "{e}");
        assert!(e.to_string().contains("(invalid_days)"), "{e}");
    }

    #[test]
    fn null_is_empty_content() {
        assert_eq!(
            parse_request_content(Value::Null),
            Ok(RequestContent::default())
        );
        assert_eq!(
            parse_request_content(json!({})),
            Ok(RequestContent::default())
        );
    }

    proptest::proptest! {
        #[test]
        fn no_input_panics_and_no_card_comes_out_unmasked(
            kind in proptest::sample::select(vec![
                "ip_address", "email", "phone", "url", "domain", "imei", "imsi",
                "iban", "payment_card",
            ]),
            s in ".{0,60}",
            digits in "[0-9 -]{0,30}",
        ) {
            let field = match kind {
                "ip_address" | "email" => "address",
                "phone" => "number",
                "url" => "url",
                "domain" => "name",
                "payment_card" => "masked",
                _ => "value",
            };
            for text in [&s, &digits] {
                let id = json!({"type": kind, field: text, "at": "2026-11-20T03:10:00Z"});
                let id = if kind == "ip_address" { id } else { json!({"type": kind, field: text}) };
                if let Ok(c) = parse_request_content(with_identifier(id)) {
                    if let Some(Identifier::PaymentCard { masked }) = c.identifiers.first() {
                        proptest::prop_assert!(masked.contains('*'), "{masked}");
                    }
                }
            }
        }
    }
}
