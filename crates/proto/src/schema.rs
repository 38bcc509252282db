//! The schemas of the OpenAPI document that a derive cannot write: the
//! values of every enumeration (taken from the domain's own lists, so that
//! a new request kind or role shows up in the document by itself), request
//! content with one schema per request kind, and identifiers as a tagged
//! union.
//!
//! The wire types keep plain strings (the server parses them into domain
//! types and reports every refused field at once); their fields point here
//! with `#[schema(value_type = ...)]`. Request content has two faces:
//!
//! * [`RequestContent`]: what the API accepts and returns. Every field is
//!   optional, because a draft may be incomplete; the values are checked
//!   (identifiers, country codes, dates, lengths).
//! * `<Kind>Content` (e.g. `ExpeditedPreservationContent`): the same shape
//!   (`allOf` the above) with the fields that approval requires for that kind
//!   (`required`, non-blank, at least one item...). The list is what
//!   `entraide_domain::request::assess` reports as errors on empty content,
//!   so it follows the checks; the tests hold the two together.
//!
//! [`NewRequest`] is the body that creates a request: a `oneOf` over the
//! kinds, discriminated by `kind`, each with its kind's content.

use std::borrow::Cow;

use entraide_domain::evidence::{CustodyEventKind, EvidenceSource, EvidenceState, Integrity};
use entraide_domain::request::{
    assess, Action, Chain, DataCategory, Direction, LegalBasis, Marking, RefusalGround,
    RequestContent as DomainContent, RequestKind, RequestState, Severity, COLLECTION_DAYS_MAX,
    LONG_TEXT_MAX_CHARS,
};
use entraide_domain::{AuditAction, AuditOutcome, CaseStatus, Locale, OrganisationKind, Role};
use serde_json::{json, Value};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, Discriminator, KnownFormat,
    ObjectBuilder, OneOfBuilder, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

type Schemas = Vec<(String, RefOr<Schema>)>;

// ------------------------------------------------------------ helpers

fn text(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

/// A string that approval needs filled: not empty, not only blanks.
fn non_blank(description: &str) -> ObjectBuilder {
    text(description).min_length(Some(1)).pattern(Some(r"\S"))
}

fn long_text(description: &str) -> ObjectBuilder {
    text(description).max_length(Some(LONG_TEXT_MAX_CHARS))
}

fn nullable(schema: impl Into<RefOr<Schema>>) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(schema)
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

fn reference(name: &str) -> Ref {
    Ref::from_schema_name(name)
}

fn reference_to<T: ToSchema>() -> Ref {
    Ref::from_schema_name(T::name())
}

/// An object that refuses unknown fields, as every request body does.
fn closed_object(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
}

fn list(items: impl Into<RefOr<Schema>>, description: &str) -> ArrayBuilder {
    ArrayBuilder::new()
        .items(items.into())
        .description(Some(description))
}

fn string_enum<'a>(description: &str, values: impl IntoIterator<Item = &'a str>) -> ObjectBuilder {
    text(description).enum_values(Some(values))
}

/// A schema with JSON Schema keywords that utoipa's types do not model
/// (`if`, `then`, `contains`, `not`): OpenAPI 3.1 takes JSON Schema 2020-12
/// whole, and validators honour them; code generators ignore them.
fn raw_keywords(keywords: Value) -> RefOr<Schema> {
    let mut extensions = Extensions::default();
    if let Value::Object(map) = keywords {
        for (k, v) in map {
            extensions.insert(k, v);
        }
    }
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .extensions(Some(extensions))
        .into()
}

fn push<T: ToSchema>(out: &mut Schemas) {
    out.push((T::name().into_owned(), T::schema()));
    T::schemas(out);
}

/// `expedited_preservation` → `ExpeditedPreservation`.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A schema-only type: the value list of an enumeration of the API.
macro_rules! enumeration {
    ($(#[$meta:meta])* $name:ident, $description:expr, $values:expr) => {
        $(#[$meta])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let values: Vec<&'static str> = $values;
                string_enum(&$description, values).into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

// ------------------------------------------------------------ enumerations

/// Each name a request kind's article, for the description.
fn kind_description() -> String {
    let mut d = String::from("The kind of cooperation request, with the provision it rests on:");
    for k in RequestKind::ALL {
        d.push_str(&format!("\n- `{}`: {}", k.as_str(), k.article()));
    }
    d
}

enumeration!(
    /// `RequestKind` of the domain.
    RequestKindName,
    kind_description(),
    RequestKind::ALL.iter().map(|k| k.as_str()).collect()
);

enumeration!(
    /// `LegalBasis` of the domain.
    LegalBasisName,
    "The instrument a request relies on; it decides deadlines and checks.",
    LegalBasis::ALL.iter().map(|b| b.as_str()).collect()
);

enumeration!(
    /// `DataCategory` of the domain.
    DataCategoryName,
    "Category of data (Budapest art. 1(d), 18(3); EU 2023/1543 art. 3). \
     `identification_only`: requested only to identify the user (IP address, source port, time).",
    DataCategory::ALL.iter().map(|c| c.as_str()).collect()
);

/// Every marking, in the domain's order (the match breaks the build when
/// a marking is added and not listed here).
fn markings() -> Vec<&'static str> {
    let name = |m: Marking| match m {
        Marking::New => "new",
        Marking::Extension => "extension",
        Marking::FollowUp => "follow_up",
    };
    [Marking::New, Marking::Extension, Marking::FollowUp]
        .into_iter()
        .map(name)
        .collect()
}

enumeration!(
    /// `Marking` of the domain.
    MarkingName,
    "Status line of the T-CY templates: a new request, an extension or a follow-up \
     (the last two need `previous_reference`). Default `new`.",
    markings()
);

fn directions() -> Vec<&'static str> {
    let all = [Direction::Outgoing, Direction::Incoming];
    // Breaks the build when a direction is added and not listed above.
    let _exhaustive = |d: Direction| match d {
        Direction::Outgoing | Direction::Incoming => (),
    };
    all.iter().map(|d| d.as_str()).collect()
}

enumeration!(
    /// `Direction` of the domain.
    DirectionName,
    "`outgoing`: drafted here and sent to another authority or a provider; \
     `incoming`: received from another authority and registered.",
    directions()
);

enumeration!(
    /// `RequestState` of the domain.
    RequestStateName,
    "Where a request stands. Outgoing: draft → awaiting_approval → approved → sent → \
     acknowledged → in_execution / preserved / more_information_requested → answered_partially / \
     answered / refused / withdrawn / expired. Incoming requests start as `registered`.",
    RequestState::ALL.iter().map(|s| s.as_str()).collect()
);

enumeration!(
    /// `Action` of the domain, by name.
    RequestActionName,
    "What someone does to a request. `refuse` needs a `ground`; `expire` is taken by the node \
     itself when a deadline passes (never accepted in a transition).",
    Action::ALL.iter().map(|a| a.name()).collect()
);

enumeration!(
    /// The actions a caller may ask for in a transition (all but `expire`).
    TransitionActionName,
    "An action to take on a request (`refuse` needs a `ground`). Only the actions listed in the \
     request's `available_actions` are open; any other is a 409 with `current_state`.",
    Action::ALL
        .iter()
        .filter(|a| !matches!(a, Action::Expire))
        .map(|a| a.name())
        .collect()
);

enumeration!(
    /// `Trigger` of the domain: what started a deadline.
    DeadlineTriggerName,
    "The event a deadline runs from: `preservation_confirmed` (Budapest art. 29(7)), `received` \
     (the request or order received; an EU EPOC-PR's 60 days, Regulation (EU) 2023/1543 art. 11(1)), \
     `extended` (an extension moved the preservation's end), `enforcing_authority_notified` (the \
     enforcing authority's window to object, arts. 10(4), 12(1)).",
    entraide_domain::request::Trigger::ALL
        .iter()
        .map(|t| t.as_str())
        .collect()
);

enumeration!(
    /// `ObjectionEffect` of the domain.
    ObjectionEffectName,
    "What the enforcing authority answered an order it was notified of: `none` (no ground raised, \
     Regulation (EU) 2023/1543 art. 10(2)), `delete_or_restrict` (it objects: the data are deleted \
     or their use restricted, art. 10(4), art. 12(2)), `conditions` (the data may be used only under \
     its conditions, art. 10(4), art. 12(4)).",
    entraide_domain::request::ObjectionEffect::ALL
        .iter()
        .map(|e| e.as_str())
        .collect()
);

enumeration!(
    /// `RefusalGround` of the domain.
    RefusalGroundName,
    "Ground of a refusal. Preservation may be refused only for `political_offence`, \
     `essential_interests` or `data_not_available` (Budapest art. 29(3)-(5)).",
    RefusalGround::ALL.iter().map(|g| g.as_str()).collect()
);

enumeration!(
    /// `Role` of the domain.
    RoleName,
    "A user's role: administrator (users, organisation, case membership), officer (drafts and \
     handles requests), approver (validates and signs requests), custodian (evidence and its \
     custody), analyst (statistics, knowledge), auditor (the audit log only).",
    Role::ALL.iter().map(|r| r.as_str()).collect()
);

enumeration!(
    /// `OrganisationKind` of the domain.
    OrganisationKindName,
    "The kind of organisation running a node.",
    OrganisationKind::ALL.iter().map(|k| k.as_str()).collect()
);

fn case_statuses() -> Vec<&'static str> {
    let all = [CaseStatus::Open, CaseStatus::Closed];
    let _exhaustive = |s: CaseStatus| match s {
        CaseStatus::Open | CaseStatus::Closed => (),
    };
    all.iter().map(|s| s.as_str()).collect()
}

enumeration!(
    /// `CaseStatus` of the domain.
    CaseStatusName,
    "Whether a case is open or closed.",
    case_statuses()
);

enumeration!(
    /// `AuditAction` of the domain.
    AuditActionName,
    "What an audit entry records.",
    AuditAction::ALL.iter().map(|a| a.as_str()).collect()
);

fn audit_outcomes() -> Vec<&'static str> {
    let all = [
        AuditOutcome::Success,
        AuditOutcome::Denied,
        AuditOutcome::Failure,
    ];
    let _exhaustive = |o: AuditOutcome| match o {
        AuditOutcome::Success | AuditOutcome::Denied | AuditOutcome::Failure => (),
    };
    all.iter().map(|o| o.as_str()).collect()
}

enumeration!(
    /// `AuditOutcome` of the domain.
    AuditOutcomeName,
    "How the audited action ended.",
    audit_outcomes()
);

enumeration!(
    /// `EvidenceSource` of the domain.
    EvidenceSourceName,
    "Where an evidence item comes from. `received_package` is set by the node for items that \
     arrived in a package; an upload may not claim it.",
    EvidenceSource::ALL.iter().map(|s| s.as_str()).collect()
);

enumeration!(
    /// The sources an upload may give (all but `received_package`).
    UploadSourceName,
    "Where the uploaded evidence comes from.",
    EvidenceSource::ALL
        .iter()
        .filter(|s| !matches!(s, EvidenceSource::ReceivedPackage))
        .map(|s| s.as_str())
        .collect()
);

enumeration!(
    /// `EvidenceState` of the domain.
    EvidenceStateName,
    "Where an item stands: `held` (readable by case members with the right role), `sealed` \
     (content refused until released), `disposed` (only metadata, hashes and custody remain).",
    EvidenceState::ALL.iter().map(|s| s.as_str()).collect()
);

enumeration!(
    /// `Integrity` of the domain.
    IntegrityName,
    "Outcome of the last integrity check of the stored content.",
    Integrity::ALL.iter().map(|i| i.as_str()).collect()
);

enumeration!(
    /// `CustodyEventKind` of the domain.
    CustodyEventKindName,
    "What happened to an item; each event is a leaf of the node's custody log.",
    CustodyEventKind::ALL.iter().map(|k| k.as_str()).collect()
);

/// The custody changes of `POST /api/v1/evidence/{id}/custody`.
pub const CUSTODY_ACTIONS: [&str; 6] = [
    "seal",
    "release",
    "hold",
    "lift_hold",
    "retention",
    "dispose",
];

enumeration!(
    /// A custody change a custodian asks for.
    CustodyActionName,
    "`seal`, `release`, `hold` (legal hold), `lift_hold`, `retention` (with `retention_until`, \
     empty to clear) or `dispose` (with `reason`).",
    CUSTODY_ACTIONS.to_vec()
);

enumeration!(
    /// `Chain` of the domain.
    ChainName,
    "Blockchain of a cryptocurrency address (MISP `coin-address` style).",
    Chain::ALL.iter().map(|c| c.as_str()).collect()
);

fn severities() -> Vec<&'static str> {
    let name = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    [Severity::Error, Severity::Warning]
        .into_iter()
        .map(name)
        .collect()
}

enumeration!(
    /// `Severity` of a finding.
    SeverityName,
    "`error`: the request cannot be approved until it is fixed; `warning`: weak content.",
    severities()
);

enumeration!(
    /// `Locale` of the domain.
    LanguageName,
    "A language of the interface and of formal documents.",
    Locale::ALL.iter().map(|l| l.as_str()).collect()
);

enumeration!(
    /// A peer's status.
    PeerStatusName,
    "`active`: messages are exchanged; `disabled`: nothing is sent or accepted.",
    vec!["active", "disabled"]
);

enumeration!(
    /// Where an outgoing federation message stands.
    OutboxStatusName,
    "`pending`: accepted for sending and retried; `delivered`: the recipient's signed receipt \
     came back; `dead`: given up (expired or refused), see `last_error`.",
    vec!["pending", "delivered", "dead"]
);

enumeration!(
    /// Outcome of one check of a package verification.
    CheckOutcomeName,
    "`passed`, `failed` (the package does not hold) or `notice` (worth knowing, not a failure).",
    vec!["passed", "failed", "notice"]
);

/// ISO 3166-1 alpha-2 country code.
pub struct CountryCodeName;

impl PartialSchema for CountryCodeName {
    fn schema() -> RefOr<Schema> {
        text(
            "ISO 3166-1 alpha-2 country code, an assigned one (e.g. `FR`); accepted in either \
             case, answered in upper case.",
        )
        .pattern(Some("^[A-Za-z]{2}$"))
        .examples([json!("FR")])
        .into()
    }
}

impl ToSchema for CountryCodeName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CountryCode")
    }
}

// ------------------------------------------------------------ rules

mod rules;
pub use rules::*;

// ------------------------------------------------------------ identifiers

struct Variant {
    tag: &'static str,
    schema: &'static str,
    description: &'static str,
    fields: Vec<(&'static str, RefOr<Schema>, bool)>,
    example: Value,
}

fn identifier_variants() -> Vec<Variant> {
    let date_time = || {
        text("When the address was used: RFC 3339 with its offset (`2026-11-20T03:10:00Z`); a time without offset is refused.")
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .into()
    };
    vec![
        Variant {
            tag: "ip_address",
            schema: "IpAddressIdentifier",
            description: "An IP address, useless to a provider without the exact time and, for shared IPv4 \
                          addresses (CGNAT), the source port (a warning when missing).",
            fields: vec![
                (
                    "address",
                    AnyOfBuilder::new()
                        .item(text("IPv4").format(Some(SchemaFormat::Custom("ipv4".into()))))
                        .item(text("IPv6").format(Some(SchemaFormat::Custom("ipv6".into()))))
                        .description(Some("IPv4 or IPv6 address."))
                        .into(),
                    true,
                ),
                (
                    "port",
                    ObjectBuilder::new()
                        // `null`: no port, as an absent one.
                        .schema_type([Type::Integer, Type::Null].into_iter().collect::<SchemaType>())
                        .minimum(Some(0))
                        .maximum(Some(65535))
                        .description(Some("Source port."))
                        .into(),
                    false,
                ),
                ("at", date_time(), true),
            ],
            example: json!({"type": "ip_address", "address": "203.0.113.5", "port": 51000, "at": "2026-11-20T03:10:00Z"}),
        },
        Variant {
            tag: "email",
            schema: "EmailIdentifier",
            description: "An e-mail address.",
            fields: vec![(
                "address",
                text("E-mail address.")
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
                    .into(),
                true,
            )],
            example: json!({"type": "email", "address": "suspect@example.org"}),
        },
        Variant {
            tag: "phone",
            schema: "PhoneIdentifier",
            description: "A telephone number in international form.",
            fields: vec![(
                "number",
                text("E.164: `+` then 8 to 15 digits, the first not 0 (spaces, dots, dashes and brackets are removed).")
                    .into(),
                true,
            )],
            example: json!({"type": "phone", "number": "+33123456789"}),
        },
        Variant {
            tag: "url",
            schema: "UrlIdentifier",
            description: "A web address.",
            fields: vec![(
                "url",
                text("An http(s) URL with a host, at most 2048 characters.")
                    .format(Some(SchemaFormat::Custom("uri".into())))
                    .pattern(Some("^https?://"))
                    .max_length(Some(2048))
                    .into(),
                true,
            )],
            example: json!({"type": "url", "url": "https://example.org/profile/42"}),
        },
        Variant {
            tag: "domain",
            schema: "DomainIdentifier",
            description: "A domain name.",
            fields: vec![(
                "name",
                text("A domain name with at least one dot (stored in lower case, without the final dot).")
                    .max_length(Some(253))
                    .into(),
                true,
            )],
            example: json!({"type": "domain", "name": "example.org"}),
        },
        Variant {
            tag: "account",
            schema: "AccountIdentifier",
            description: "An account at a named service.",
            fields: vec![
                (
                    "service",
                    non_blank("The service, e.g. `ExampleSocial` (at most 100 characters).")
                        .max_length(Some(100))
                        .into(),
                    true,
                ),
                (
                    "handle",
                    non_blank("The handle or user identifier, e.g. `@someone` (at most 200 characters).")
                        .max_length(Some(200))
                        .into(),
                    true,
                ),
            ],
            example: json!({"type": "account", "service": "ExampleSocial", "handle": "@someone"}),
        },
        Variant {
            tag: "imei",
            schema: "ImeiIdentifier",
            description: "A handset's IMEI.",
            fields: vec![(
                "value",
                text("15 digits with a valid Luhn check digit (spaces and dashes are removed).").into(),
                true,
            )],
            example: json!({"type": "imei", "value": "490154203237518"}),
        },
        Variant {
            tag: "imsi",
            schema: "ImsiIdentifier",
            description: "A SIM's IMSI.",
            fields: vec![(
                "value",
                text("14 or 15 digits.").pattern(Some(r"^\s*[0-9]{14,15}\s*$")).into(),
                true,
            )],
            example: json!({"type": "imsi", "value": "208150123456789"}),
        },
        Variant {
            tag: "iban",
            schema: "IbanIdentifier",
            description: "A bank account number.",
            fields: vec![(
                "value",
                text("An IBAN, checked with the ISO 13616 mod-97 rule (spaces are removed).").into(),
                true,
            )],
            example: json!({"type": "iban", "value": "FR7630006000011234567890189"}),
        },
        Variant {
            tag: "crypto_address",
            schema: "CryptoAddressIdentifier",
            description: "A cryptocurrency address, checked for the shape of its chain.",
            fields: vec![
                ("chain", reference_to::<ChainName>().into(), true),
                ("address", text("The address on that chain.").into(), true),
            ],
            example: json!({"type": "crypto_address", "chain": "bitcoin", "address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"}),
        },
        Variant {
            tag: "payment_card",
            schema: "PaymentCardIdentifier",
            description: "A payment card, by its masked number only: a full card number must not travel \
                          and is refused (`card_number_unmasked`).",
            fields: vec![(
                "masked",
                text("The first six and the last four digits, the ones between masked with `*` or `X`.")
                    .pattern(Some("^[0-9]{6}[*Xx]{2,9}[0-9]{4}$"))
                    .into(),
                true,
            )],
            example: json!({"type": "payment_card", "masked": "411111******1111"}),
        },
    ]
}

/// The tag names of the identifiers, in the document's order.
pub fn identifier_types() -> Vec<&'static str> {
    identifier_variants().iter().map(|v| v.tag).collect()
}

/// An identifier named in a request: a union tagged by `type`.
pub struct Identifier;

impl PartialSchema for Identifier {
    fn schema() -> RefOr<Schema> {
        let variants = identifier_variants();
        let mut one_of = OneOfBuilder::new()
            .description(Some(
                "An identifier named in a request, tagged by `type`; each type has its own fields and \
                 checks (shape, checksum where one exists). A field of another type is refused.",
            ))
            .discriminator(Some(Discriminator::with_mapping(
                "type",
                variants
                    .iter()
                    .map(|v| (v.tag, format!("#/components/schemas/{}", v.schema))),
            )));
        for v in &variants {
            one_of = one_of.item(reference(v.schema));
        }
        one_of.into()
    }
}

impl ToSchema for Identifier {
    fn schemas(out: &mut Schemas) {
        push::<ChainName>(out);
        for v in identifier_variants() {
            let mut o = closed_object(v.description)
                .property("type", string_enum("The type of identifier.", [v.tag]))
                .required("type")
                .examples([v.example]);
            for (name, schema, required) in v.fields {
                o = o.property(name, schema);
                if required {
                    o = o.required(name);
                }
            }
            out.push((v.schema.to_owned(), o.into()));
        }
    }
}

// ------------------------------------------------------------ content

/// The fields of a contact, each with its schema; `filled` replaces some
/// (a required field of a complete authority).
fn contact_object(description: &str, filled: Vec<(&'static str, RefOr<Schema>)>) -> ObjectBuilder {
    let plain: Vec<(&'static str, RefOr<Schema>)> = vec![
        ("organisation", text("Name of the authority or provider.").into()),
        ("country", nullable(reference_to::<CountryCodeName>())),
        ("person", text("The person handling the request.").into()),
        ("address", text("Postal address.").into()),
        ("phones", list(text("A telephone number."), "Telephone numbers.").into()),
        ("email", text("E-mail address.").into()),
        ("office_hours", text("Office hours, e.g. `24/7`.").into()),
        (
            "time_zone",
            text("IANA time zone of the office, e.g. `Europe/Paris` or `UTC`: deadlines and \"call back at 9:00\" mean nothing without it.").into(),
        ),
        (
            "reply_channel",
            text("Preferred means of reply (24/7 network, e-mail, Entraide...).").into(),
        ),
    ];
    let mut o = closed_object(description);
    for (name, schema) in plain {
        match filled.iter().find(|(n, _)| *n == name) {
            Some((_, f)) => o = o.property(name, f.clone()).required(name),
            None => o = o.property(name, schema),
        }
    }
    o
}

/// An authority (or provider) and the means to reach it.
pub struct Contact;

impl PartialSchema for Contact {
    fn schema() -> RefOr<Schema> {
        contact_object(
            "An authority (or provider) with the people and means to reach it. Every field may be omitted (empty).",
            Vec::new(),
        )
        .into()
    }
}

impl ToSchema for Contact {
    fn schemas(out: &mut Schemas) {
        push::<CountryCodeName>(out);
    }
}

/// The requesting authority as approval needs it.
pub struct RequestingAuthority;

impl PartialSchema for RequestingAuthority {
    fn schema() -> RefOr<Schema> {
        let filled = vec![
            (
                "organisation",
                non_blank("Name of the requesting authority.").into(),
            ),
            (
                "person",
                non_blank("The person handling the request.").into(),
            ),
            (
                "time_zone",
                text("IANA time zone of the office, such as `Europe/Paris`, or `UTC`.")
                    .max_length(Some(64))
                    .pattern(Some(r"^\s*(UTC|[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)+)\s*$"))
                    .into(),
            ),
        ];
        AllOfBuilder::new()
            .description(Some(
                "The requesting authority, complete: its name, the person handling the request, the \
                 office's time zone, and an e-mail address or a telephone number.",
            ))
            .item(contact_object("The requesting authority.", filled))
            .item(
                AnyOfBuilder::new()
                    .item(
                        ObjectBuilder::new()
                            .schema_type(Type::Object)
                            .required("email")
                            .property("email", non_blank("E-mail address.")),
                    )
                    .item(
                        ObjectBuilder::new()
                            .schema_type(Type::Object)
                            .required("phones")
                            .property(
                                "phones",
                                list(non_blank("A telephone number."), "Telephone numbers.")
                                    .min_items(Some(1)),
                            ),
                    ),
            )
            .into()
    }
}

impl ToSchema for RequestingAuthority {}

/// The requested authority as approval needs it.
pub struct RequestedAuthority;

impl PartialSchema for RequestedAuthority {
    fn schema() -> RefOr<Schema> {
        contact_object(
            "The requested authority or provider, complete: its name and country.",
            vec![
                (
                    "organisation",
                    non_blank("Name of the requested authority or provider.").into(),
                ),
                ("country", reference_to::<CountryCodeName>().into()),
            ],
        )
        .into()
    }
}

impl ToSchema for RequestedAuthority {}

fn offence_object(description: &str, what: ObjectBuilder) -> ObjectBuilder {
    closed_object(description)
        .property("description", what)
        .property(
            "provision",
            text("The provision of the requesting State's law, e.g. \"Code pénal art. 323-1\" (a warning when missing)."),
        )
        .property("penalty", text("Maximum penalty, when known."))
}

/// An offence the request is about.
pub struct Offence;

impl PartialSchema for Offence {
    fn schema() -> RefOr<Schema> {
        offence_object(
            "An offence the request is about. Every field may be omitted (empty).",
            text("What the offence is."),
        )
        .into()
    }
}

impl ToSchema for Offence {}

/// An offence named, as approval needs it.
pub struct NamedOffence;

impl PartialSchema for NamedOffence {
    fn schema() -> RefOr<Schema> {
        offence_object("An offence, named.", non_blank("What the offence is."))
            .required("description")
            .into()
    }
}

impl ToSchema for NamedOffence {}

fn data_object<'a>(
    description: &str,
    categories: impl IntoIterator<Item = &'a str>,
    what: ObjectBuilder,
    link: Option<ObjectBuilder>,
) -> ObjectBuilder {
    let all: Vec<&str> = categories.into_iter().collect();
    let category: RefOr<Schema> = if all.len() == DataCategory::ALL.len() {
        reference_to::<DataCategoryName>().into()
    } else {
        string_enum(
            "Category of data (subscriber information excludes traffic and content data, Budapest art. 18(3): use a production order).",
            all,
        )
        .into()
    };
    let mut o = closed_object(description)
        .property("category", category)
        .property("description", what)
        .required("category")
        .required("description");
    o = match link {
        Some(l) => o.property("relationship_to_offence", l).required("relationship_to_offence"),
        None => o.property(
            "relationship_to_offence",
            text("How these data relate to the offence (Budapest art. 29(2)(c)): required for preservation, a warning otherwise."),
        ),
    };
    o
}

fn all_categories() -> impl Iterator<Item = &'static str> {
    DataCategory::ALL.iter().map(|c| c.as_str())
}

/// Data requested.
pub struct DataRequested;

impl PartialSchema for DataRequested {
    fn schema() -> RefOr<Schema> {
        data_object(
            "Data requested.",
            all_categories(),
            text("What data."),
            None,
        )
        .into()
    }
}

impl ToSchema for DataRequested {
    fn schemas(out: &mut Schemas) {
        push::<DataCategoryName>(out);
    }
}

/// Data requested, described, as approval needs it.
pub struct DescribedData;

impl PartialSchema for DescribedData {
    fn schema() -> RefOr<Schema> {
        data_object(
            "Data requested, described.",
            all_categories(),
            non_blank("What data."),
            None,
        )
        .into()
    }
}

impl ToSchema for DescribedData {}

/// Data to preserve, as approval needs it.
pub struct PreservationData;

impl PartialSchema for PreservationData {
    fn schema() -> RefOr<Schema> {
        data_object(
            "Data to preserve: described, with how they relate to the offence (Budapest art. 29(2)(c)).",
            all_categories(),
            non_blank("What data."),
            Some(non_blank("How these data relate to the offence (Budapest art. 29(2)(c)).")),
        )
        .into()
    }
}

impl ToSchema for PreservationData {}

/// Subscriber information, as approval needs it.
pub struct SubscriberData;

impl PartialSchema for SubscriberData {
    fn schema() -> RefOr<Schema> {
        data_object(
            "Subscriber information: described, and neither traffic nor content data (Budapest art. 18(3)).",
            all_categories().filter(|c| {
                *c != DataCategory::Traffic.as_str() && *c != DataCategory::Content.as_str()
            }),
            non_blank("What data."),
            None,
        )
        .into()
    }
}

impl ToSchema for SubscriberData {}

/// A bound of the period the data cover.
pub struct Instant;

impl PartialSchema for Instant {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .description(Some(
                "An RFC 3339 date and time with its offset (`2026-11-20T03:10:00Z`), or a date alone \
                 (`2026-11-20`, meaning 00:00 UTC). A date and time without offset is refused. \
                 Answers give the date and time.",
            ))
            .item(text("Date and time.").format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
            .item(text("Date.").format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
            .into()
    }
}

impl ToSchema for Instant {}

/// Request content as the API accepts and returns it: any field may be
/// missing (a draft), every value given is checked.
pub struct RequestContent;

impl PartialSchema for RequestContent {
    fn schema() -> RefOr<Schema> {
        let s = |d: &str| text(d);
        closed_object(
            "What a request says: the header of the Council of Europe T-CY templates (2018), then the \
             body whose required parts depend on the kind. Any field may be omitted (a draft may be \
             incomplete; `findings` tell what is missing and approval refuses a request with errors); \
             every value given is checked (identifiers, country codes, dates, lengths). Unknown fields \
             are refused. The per-kind schemas (`ExpeditedPreservationContent`...) say what approval requires.",
        )
        .property("case_number", s("The case or file number."))
        .property("marking", reference_to::<MarkingName>())
        .property("previous_reference", s("Reference of the request this one extends or follows up."))
        .property("requesting", reference_to::<Contact>())
        .property("requested", reference_to::<Contact>())
        .property("confirmation_contact", s("Who confirms the request if asked."))
        .property("investigative_authority", s("The authority conducting the investigation."))
        .property("prosecution_office", s("Prosecution office or court, with its case numbers."))
        .property("domestic_legal_basis", s("The domestic legal basis of the request."))
        .property("legal_basis", nullable(reference_to::<LegalBasisName>()))
        .property("offences", list(reference_to::<Offence>(), "Offences the request is about."))
        .property("facts", long_text("Summary of the facts (a warning under 200 characters)."))
        .property("data", list(reference_to::<DataRequested>(), "Data requested."))
        .property("identifiers", list(reference_to::<Identifier>(), "Identifiers the provider searches by."))
        .property("period_from", nullable(reference_to::<Instant>()))
        .property("period_to", nullable(reference_to::<Instant>()))
        .property(
            "custodian",
            s("Custodian of the data or location of the system (Budapest art. 29(2)(d)); for an order to a provider, its name and address (CETS 224 art. 7(4))."),
        )
        .property("necessity", long_text("Why the data must be preserved (Budapest art. 29(2)(e)) or why real-time collection is necessary."))
        .property(
            "mla_to_follow",
            ObjectBuilder::new()
                .schema_type([Type::Boolean, Type::Null].into_iter().collect::<SchemaType>())
                .description(Some("That a request for search, seizure or disclosure will follow (Budapest art. 29(2)(f)).")),
        )
        .property(
            "emergency_facts",
            long_text("Facts showing a significant and imminent risk to the life or safety of a person (CETS 224 art. 9; EU 2023/1543 art. 3(18))."),
        )
        .property("emergency_link", long_text("How the data requested relate to that emergency."))
        .property(
            "collection_days",
            ObjectBuilder::new()
                .schema_type([Type::Integer, Type::Null].into_iter().collect::<SchemaType>())
                .minimum(Some(0))
                .maximum(Some(COLLECTION_DAYS_MAX))
                .description(Some("Duration of real-time collection or interception, in days (0 counts as missing).")),
        )
        .property(
            "special_instructions",
            long_text("Time frame and manner of return, special instructions (CETS 224 art. 7(4))."),
        )
        .property(
            "confidential",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .description(Some("Whether the requesting authority asks for confidentiality.")),
        )
        .into()
    }
}

impl ToSchema for RequestContent {
    fn schemas(out: &mut Schemas) {
        push::<MarkingName>(out);
        push::<Contact>(out);
        push::<LegalBasisName>(out);
        push::<Offence>(out);
        push::<DataRequested>(out);
        push::<Identifier>(out);
        push::<Instant>(out);
    }
}

/// The top-level content fields approval requires for `kind`, each with
/// the check's message and source: what `assess` reports as errors on
/// empty content (`requesting.person` counts for `requesting`).
pub fn required_fields(kind: RequestKind) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for f in assess(kind, &DomainContent::default()) {
        if f.severity != Severity::Error {
            continue;
        }
        let top = f
            .field
            .split(['.', '['])
            .next()
            .unwrap_or_default()
            .to_owned();
        if !fields.iter().any(|(name, _)| *name == top) {
            fields.push((top, format!("{} ({}).", f.message, f.source)));
        }
    }
    fields
}

/// The schema of a required content field of `kind`: present and filled.
fn required_property(kind: RequestKind, field: &str, why: &str) -> RefOr<Schema> {
    let d = format!("For approval: {why}");
    match field {
        "requesting" => reference_to::<RequestingAuthority>().into(),
        "requested" => reference_to::<RequestedAuthority>().into(),
        "legal_basis" => {
            let mut r = reference_to::<LegalBasisName>();
            r.description = d;
            r.into()
        }
        "mla_to_follow" => ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .enum_values(Some([true]))
            .description(Some(d))
            .into(),
        "collection_days" => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(COLLECTION_DAYS_MAX))
            .description(Some(d))
            .into(),
        "offences" => list(reference_to::<NamedOffence>(), &d)
            .min_items(Some(1))
            .into(),
        "data" => list(data_item(kind), &d).min_items(Some(1)).into(),
        "identifiers" => list(reference_to::<Identifier>(), &d)
            .min_items(Some(1))
            .into(),
        _ => non_blank(&d).into(),
    }
}

/// A data item as approval needs it for `kind`.
fn data_item(kind: RequestKind) -> Ref {
    if kind.is_preservation() {
        reference_to::<PreservationData>()
    } else if kind == RequestKind::SubscriberInformation {
        reference_to::<SubscriberData>()
    } else {
        reference_to::<DescribedData>()
    }
}

/// The name of the content schema of `kind`, e.g. `ExpeditedPreservationContent`.
pub fn content_schema_name(kind: RequestKind) -> String {
    format!("{}Content", pascal(kind.as_str()))
}

/// The name of the create body of `kind`, e.g. `NewExpeditedPreservationRequest`.
pub fn new_request_schema_name(kind: RequestKind) -> String {
    format!("New{}Request", pascal(kind.as_str()))
}

fn kind_content(kind: RequestKind) -> RefOr<Schema> {
    let required = required_fields(kind);
    let mut part = ObjectBuilder::new().schema_type(Type::Object);
    for (field, why) in &required {
        if kind == RequestKind::PoliceInformation && field == "data" {
            // Reported on `data`, but data or identifiers will do: the
            // `anyOf` below.
            continue;
        }
        part = part
            .required(field.as_str())
            .property(field.as_str(), required_property(kind, field, why));
    }
    let mut all = AllOfBuilder::new()
        .description(Some(format!(
            "Content of a `{}` request ({}) complete enough to be approved: the fields listed as \
             required must be present and filled. A draft may lack them (see `RequestContent`).",
            kind.as_str(),
            kind.article()
        )))
        .item(reference_to::<RequestContent>())
        .item(part)
        // Extension and follow-up name the earlier request, whatever the kind.
        .item(raw_keywords(json!({
            "if": {"required": ["marking"], "properties": {"marking": {"enum": ["extension", "follow_up"]}}},
            "then": {
                "required": ["previous_reference"],
                "properties": {"previous_reference": {"type": "string", "minLength": 1, "pattern": "\\S"}}
            }
        })));
    if kind != RequestKind::PoliceInformation {
        // Traffic or content data searched by anything but a timed IP
        // address need the period they cover (data minimisation).
        all = all.item(raw_keywords(json!({
            "if": {
                "required": ["data", "identifiers"],
                "properties": {
                    "data": {"contains": {"properties": {"category": {"enum": ["traffic", "content"]}}}},
                    "identifiers": {"contains": {"not": {"properties": {"type": {"const": "ip_address"}}}}}
                }
            },
            "then": {"required": ["period_from", "period_to"], "properties": {
                "period_from": {"$ref": "#/components/schemas/Instant"},
                "period_to": {"$ref": "#/components/schemas/Instant"}
            }}
        })));
    }
    if kind == RequestKind::PoliceInformation {
        // "Say what information is sought": data or identifiers.
        all = all.item(
            AnyOfBuilder::new()
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::Object)
                        .required("data")
                        .property(
                            "data",
                            list(reference_to::<DataRequested>(), "Data requested.")
                                .min_items(Some(1)),
                        ),
                )
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::Object)
                        .required("identifiers")
                        .property(
                            "identifiers",
                            list(reference_to::<Identifier>(), "Identifiers.").min_items(Some(1)),
                        ),
                ),
        );
    }
    all.into()
}

/// A complete request of `kind`, as the document's example (the tests
/// check that it passes the domain's parsing and checks).
pub fn complete_example(kind: RequestKind) -> Value {
    let mut content = json!({
        "case_number": "PC247-2026-0117",
        "requesting": {
            "organisation": "Point de contact 24/7, Police nationale",
            "country": "FR",
            "person": "Julien Martin",
            "phones": ["+33123456789"],
            "email": "pc247@example.fr",
            "office_hours": "24/7",
            "time_zone": "Europe/Paris",
            "reply_channel": "Entraide"
        },
        "requested": {"organisation": "ExampleHost S.A.", "country": "AR"},
        "domestic_legal_basis": "Code de procédure pénale art. 60-1",
        "legal_basis": "budapest_convention",
        "offences": [{
            "description": "Fraudulent access to an automated data processing system",
            "provision": "Code pénal art. 323-1",
            "penalty": "3 years"
        }],
        "facts": "On 20 November 2026 around 03:10 UTC the files of a regional hospital group were \
                  encrypted; the ransom note points to a leak site. Connection logs show remote desktop \
                  access from an address hosted by a provider in the requested State during the two days \
                  before the attack.",
        "data": [{
            "category": "subscriber",
            "description": "Subscriber and connection data of the hosting account",
            "relationship_to_offence": "The address was used to log in to the hospital's remote desktop gateway"
        }],
        "identifiers": [{"type": "ip_address", "address": "203.0.113.5", "port": 51000, "at": "2026-11-20T03:10:00Z"}],
        "period_from": "2026-11-18T00:00:00Z",
        "period_to": "2026-11-20T06:00:00Z",
        "custodian": "ExampleHost S.A., Buenos Aires"
    });
    let extra = match kind {
        RequestKind::ExpeditedPreservation => json!({
            "necessity": "Logs are kept 30 days by the provider",
            "mla_to_follow": true
        }),
        RequestKind::PreservationExtension => json!({
            "marking": "extension",
            "previous_reference": "PC247-2026-0117/P1",
            "necessity": "Logs are kept 30 days by the provider",
            "mla_to_follow": true
        }),
        RequestKind::TrafficDataDisclosure => json!({"previous_reference": "PC247-2026-0117/P1"}),
        RequestKind::EmergencyDisclosure => json!({
            "emergency_facts": "A person announced on the account that they will kill themself tonight",
            "emergency_link": "The subscriber data identify where the person is"
        }),
        RequestKind::MlaRealTimeTraffic | RequestKind::MlaInterception => json!({
            "collection_days": 30,
            "necessity": "Stored data do not show the current contacts of the suspects"
        }),
        _ => json!({}),
    };
    if let (Value::Object(c), Value::Object(e)) = (&mut content, extra) {
        c.extend(e);
    }
    json!({"kind": kind.as_str(), "direction": "outgoing", "content": content})
}

/// The body that drafts (or registers) a request: one schema per kind,
/// discriminated by `kind`.
pub struct NewRequestBody;

impl PartialSchema for NewRequestBody {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new()
            .description(Some(
                "A new request: `kind`, `direction` (default `outgoing`) and `content`, whose schema \
                 depends on the kind and lists what approval requires. The server also takes a draft \
                 with fields missing (an outgoing draft is checked only at approval, with `422 \
                 request_incomplete` listing what is missing; an incoming request is registered as \
                 received); the values given are always checked (`422 validation_failed`).",
            ))
            .discriminator(Some(Discriminator::with_mapping(
                "kind",
                RequestKind::ALL.iter().map(|k| {
                    (
                        k.as_str(),
                        format!("#/components/schemas/{}", new_request_schema_name(*k)),
                    )
                }),
            )));
        for k in RequestKind::ALL {
            one_of = one_of.item(reference(&new_request_schema_name(k)));
        }
        one_of.into()
    }
}

impl ToSchema for NewRequestBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("NewRequest")
    }

    fn schemas(out: &mut Schemas) {
        push::<RequestKindName>(out);
        push::<DirectionName>(out);
        push::<RequestContent>(out);
        push::<RequestingAuthority>(out);
        push::<RequestedAuthority>(out);
        push::<NamedOffence>(out);
        push::<DescribedData>(out);
        push::<PreservationData>(out);
        push::<SubscriberData>(out);
        for k in RequestKind::ALL {
            out.push((content_schema_name(k), kind_content(k)));
            let body = closed_object(&format!(
                "A new `{}` request ({}).",
                k.as_str(),
                k.article()
            ))
            .property("kind", string_enum("The kind of request.", [k.as_str()]))
            // `null` is the default direction, as an absent one.
            .property("direction", nullable(reference_to::<DirectionName>()))
            .property("content", reference(&content_schema_name(k)))
            .property(
                "follows",
                list(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
                    "Earlier requests of the same case this one follows (an MLA request or a \
                     production order the preservations that keep the data; an extension the one \
                     preservation it extends). At most 20.",
                )
                .max_items(Some(20)),
            )
            .property(
                "occurred_at",
                nullable(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                        .description(Some(
                            "For an incoming request, when it was received if not now (RFC 3339 \
                             with its offset): its deadlines run from then.",
                        )),
                ),
            )
            .required("kind")
            .required("content")
            .examples([complete_example(k)]);
            out.push((new_request_schema_name(k), body.into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entraide_domain::request::{has_errors, parse_request_content};

    fn json_of(schema: RefOr<Schema>) -> Value {
        serde_json::to_value(schema).unwrap_or(Value::Null)
    }

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    }

    fn content_of(body: &Value) -> Value {
        body["content"].clone()
    }

    #[test]
    fn the_content_schema_has_every_field_of_the_domain_content() {
        let domain = serde_json::to_value(DomainContent::default()).unwrap_or(Value::Null);
        let schema = json_of(RequestContent::schema());
        assert_eq!(keys(&domain), keys(&schema["properties"]));
        let contact = serde_json::to_value(entraide_domain::request::Contact::default())
            .unwrap_or(Value::Null);
        assert_eq!(
            keys(&contact),
            keys(&json_of(Contact::schema())["properties"])
        );
        let offence = serde_json::to_value(entraide_domain::request::Offence::default())
            .unwrap_or(Value::Null);
        assert_eq!(
            keys(&offence),
            keys(&json_of(Offence::schema())["properties"])
        );
    }

    #[test]
    fn the_examples_are_complete_requests() {
        for k in RequestKind::ALL {
            let body = complete_example(k);
            let content =
                parse_request_content(content_of(&body)).unwrap_or_else(|e| panic!("{k}: {e}"));
            let findings = assess(k, &content);
            assert!(!has_errors(&findings), "{k}: {findings:?}");
        }
    }

    /// `required` is what `assess` reports: leaving out any required field
    /// of a complete request is an error on that field, leaving out any
    /// other is not.
    #[test]
    fn required_fields_are_what_approval_requires() {
        for k in RequestKind::ALL {
            let required: Vec<String> = required_fields(k).into_iter().map(|(f, _)| f).collect();
            let body = complete_example(k);
            let content = content_of(&body);
            let fields = content.as_object().cloned().unwrap_or_default();
            for field in fields.keys() {
                let mut without = content.clone();
                if let Some(o) = without.as_object_mut() {
                    o.remove(field);
                }
                let parsed = parse_request_content(without).unwrap_or_default();
                let error_on_field = assess(k, &parsed).iter().any(|f| {
                    f.severity == Severity::Error
                        && f.field.split(['.', '[']).next() == Some(field.as_str())
                });
                // Police information needs data or identifiers: either one
                // alone may go.
                let either = k == RequestKind::PoliceInformation
                    && (field == "data" || field == "identifiers");
                assert_eq!(
                    error_on_field,
                    required.contains(field) && !either,
                    "{k}: leaving out `{field}`"
                );
            }
            for field in &required {
                assert!(
                    fields.contains_key(field),
                    "{k}: the example lacks required `{field}`"
                );
            }
        }
    }

    #[test]
    fn identifier_examples_parse_and_every_type_is_listed() {
        let schemas = {
            let mut out = Vec::new();
            Identifier::schemas(&mut out);
            out
        };
        for v in identifier_variants() {
            let content = json!({"identifiers": [v.example]});
            assert!(parse_request_content(content).is_ok(), "{}", v.tag);
            assert!(schemas.iter().any(|(name, _)| name == v.schema));
        }
        // A type the domain refuses is not in the union, and each listed
        // type is one the domain takes.
        let bogus = json!({"identifiers": [{"type": "ipaddr", "address": "203.0.113.5"}]});
        assert!(parse_request_content(bogus).is_err());
        assert_eq!(identifier_types().len(), 11);
    }

    #[test]
    fn preservation_data_need_their_link_and_subscriber_data_their_category() {
        let mut body = complete_example(RequestKind::ExpeditedPreservation);
        body["content"]["data"][0]["relationship_to_offence"] = json!("");
        let c = parse_request_content(content_of(&body)).unwrap_or_default();
        assert!(has_errors(&assess(RequestKind::ExpeditedPreservation, &c)));
        let mut body = complete_example(RequestKind::SubscriberInformation);
        body["content"]["data"][0]["category"] = json!("traffic");
        let c = parse_request_content(content_of(&body)).unwrap_or_default();
        assert!(has_errors(&assess(RequestKind::SubscriberInformation, &c)));
    }

    #[test]
    fn enumerations_are_the_domain_values() {
        for m in markings() {
            assert!(serde_json::from_value::<Marking>(json!(m)).is_ok(), "{m}");
        }
        let serialised: Vec<Value> = [Severity::Error, Severity::Warning]
            .iter()
            .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
            .collect();
        assert_eq!(
            serialised,
            severities().iter().map(|s| json!(s)).collect::<Vec<_>>()
        );
        let kinds = json_of(RequestKindName::schema());
        assert_eq!(
            kinds["enum"].as_array().map(Vec::len),
            Some(RequestKind::ALL.len())
        );
    }
}
