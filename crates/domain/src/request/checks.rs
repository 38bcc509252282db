//! Completeness and quality of a request before approval, in the spirit of
//! the UNODC MLA Request Writer Tool: missing mandatory content is an
//! error (the request cannot be approved); weak content is a warning.

use serde::Serialize;

use super::content::{Marking, RequestContent};
use super::identifier::Identifier;
use super::kind::{DataCategory, RequestKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Path of the field in the request content, e.g. `requesting.time_zone`.
    pub field: String,
    pub severity: Severity,
    /// Stable code, translated by the interface.
    pub code: &'static str,
    pub message: String,
    /// The provision that asks for it.
    pub source: &'static str,
}

/// Below this, a summary of facts rarely lets the other side assess the
/// request (UNODC writer tool practice).
pub const SHORT_FACTS: usize = 200;

struct Checker<'a> {
    findings: Vec<Finding>,
    content: &'a RequestContent,
}

impl Checker<'_> {
    fn push(
        &mut self,
        field: &str,
        severity: Severity,
        code: &'static str,
        source: &'static str,
        message: &str,
    ) {
        self.findings.push(Finding {
            field: field.to_owned(),
            severity,
            code,
            message: message.to_owned(),
            source,
        });
    }

    fn required(&mut self, field: &str, value: &str, source: &'static str, message: &str) {
        if value.trim().is_empty() {
            self.push(field, Severity::Error, "required", source, message);
        }
    }
}

/// All findings for `kind`, errors first.
pub fn assess(kind: RequestKind, c: &RequestContent) -> Vec<Finding> {
    use Severity::{Error, Warning};
    const TCY: &str = "T-CY request templates (2018)";
    let mut k = Checker {
        findings: Vec::new(),
        content: c,
    };

    // Header common to every request.
    k.required(
        "case_number",
        &c.case_number,
        TCY,
        "the case or file number is required",
    );
    k.required(
        "requesting.organisation",
        &c.requesting.organisation,
        TCY,
        "name the requesting authority",
    );
    k.required(
        "requesting.person",
        &c.requesting.person,
        TCY,
        "name the person handling the request",
    );
    if c.requesting.email.trim().is_empty()
        && c.requesting.phones.iter().all(|p| p.trim().is_empty())
    {
        k.push(
            "requesting.email",
            Error,
            "contact_required",
            TCY,
            "give an e-mail address or a telephone number",
        );
    }
    k.required(
        "requesting.time_zone",
        &c.requesting.time_zone,
        TCY,
        "give the requesting office's time zone",
    );
    if !c.requesting.time_zone.trim().is_empty() && !time_zone_shape(&c.requesting.time_zone) {
        k.push(
            "requesting.time_zone",
            Error,
            "invalid_time_zone",
            TCY,
            "use an IANA time zone such as Europe/Paris or UTC",
        );
    }
    k.required(
        "requested.organisation",
        &c.requested.organisation,
        TCY,
        "name the requested authority or provider",
    );
    if c.requested.country.is_none() {
        k.push(
            "requested.country",
            Error,
            "required",
            TCY,
            "give the requested country",
        );
    }
    if kind != RequestKind::PoliceInformation {
        k.required(
            "domestic_legal_basis",
            &c.domestic_legal_basis,
            TCY,
            "give the domestic legal basis",
        );
    }
    if c.legal_basis.is_none() && kind != RequestKind::PoliceInformation {
        k.push(
            "legal_basis",
            Error,
            "required",
            TCY,
            "choose the instrument the request relies on",
        );
    }
    if matches!(c.marking, Marking::Extension | Marking::FollowUp)
        || kind == RequestKind::PreservationExtension
    {
        k.required(
            "previous_reference",
            &c.previous_reference,
            TCY,
            "give the reference of the earlier request",
        );
    }

    // Offence and facts.
    if c.offences.iter().all(|o| o.description.trim().is_empty()) {
        let source = if kind.is_preservation() {
            "Budapest art. 29(2)(b)"
        } else {
            "Budapest art. 27; CETS 224 art. 7(3)"
        };
        k.push(
            "offences",
            Error,
            "required",
            source,
            "name at least one offence",
        );
    }
    for (i, o) in c.offences.iter().enumerate() {
        if !o.description.trim().is_empty() && o.provision.trim().is_empty() {
            k.push(
                &format!("offences[{i}].provision"),
                Warning,
                "provision_missing",
                TCY,
                "cite the provision that defines the offence",
            );
        }
    }
    let facts = c.facts.trim();
    if facts.is_empty() {
        k.push(
            "facts",
            Error,
            "required",
            "Budapest art. 29(2)(b)",
            "summarise the facts",
        );
    } else if facts.chars().count() < SHORT_FACTS {
        k.push("facts", Warning, "facts_too_short", "UNODC MLA Request Writer", "the summary of facts is short: requests are sent back when the facts do not show why the data matter");
    }

    // The data and identifiers.
    let needs_data = !matches!(kind, RequestKind::PoliceInformation);
    if needs_data && c.data.iter().all(|d| d.description.trim().is_empty()) {
        let source = match kind {
            RequestKind::ExpeditedPreservation | RequestKind::PreservationExtension => {
                "Budapest art. 29(2)(c)"
            }
            RequestKind::SubscriberInformation => "CETS 224 art. 7(3)",
            _ => "Budapest art. 31",
        };
        k.push(
            "data",
            Error,
            "required",
            source,
            "describe the data requested",
        );
    }
    for (i, d) in c.data.iter().enumerate() {
        if d.relationship_to_offence.trim().is_empty() {
            let severity = if kind.is_preservation() {
                Error
            } else {
                Warning
            };
            k.push(
                &format!("data[{i}].relationship_to_offence"),
                severity,
                "no_link_to_offence",
                "Budapest art. 29(2)(c)",
                "explain how these data relate to the offence",
            );
        }
    }
    let wants = |cat: DataCategory| c.data.iter().any(|d| d.category == cat);
    let identifies = matches!(
        kind,
        RequestKind::SubscriberInformation
            | RequestKind::ProductionOrder
            | RequestKind::EmergencyDisclosure
            | RequestKind::ExpeditedPreservation
            | RequestKind::MlaRealTimeTraffic
            | RequestKind::MlaInterception
            | RequestKind::TrafficDataDisclosure
    );
    if identifies && c.identifiers.is_empty() {
        k.push(
            "identifiers",
            Error,
            "required",
            kind.article(),
            "give at least one identifier (account, IP address and time, phone number...)",
        );
    }
    for (i, id) in c.identifiers.iter().enumerate() {
        if let Identifier::IpAddress {
            address,
            port: None,
            ..
        } = id
        {
            if address.is_ipv4() {
                k.push(
                    &format!("identifiers[{i}].port"),
                    Warning,
                    "ip_without_port",
                    "provider practice (CGNAT)",
                    "shared IPv4 addresses need the source port to find one subscriber",
                );
            }
        }
    }
    let timed = c.identifiers.iter().all(Identifier::has_time);
    if needs_data && (c.period_from.is_none() || c.period_to.is_none()) && !timed {
        let severity = if wants(DataCategory::Content) || wants(DataCategory::Traffic) {
            Error
        } else {
            Warning
        };
        k.push(
            "period_from",
            severity,
            "unbounded_period",
            "data minimisation (EU 2023/1543 recital 20)",
            "give the period the data cover: an unbounded date range is refused or narrowed",
        );
    }
    if let (Some(from), Some(to)) = (c.period_from, c.period_to) {
        if to < from {
            k.push(
                "period_to",
                Error,
                "invalid_period",
                TCY,
                "the period ends before it starts",
            );
        }
    }

    // Per kind.
    match kind {
        RequestKind::ExpeditedPreservation | RequestKind::PreservationExtension => {
            if c.custodian.trim().is_empty() {
                k.push("custodian", Warning, "custodian_missing", "Budapest art. 29(2)(d)", "give any information identifying the custodian of the data or the location of the system");
            }
            k.required(
                "necessity",
                &c.necessity,
                "Budapest art. 29(2)(e)",
                "explain why the data must be preserved",
            );
            if c.mla_to_follow != Some(true) {
                k.push(
                    "mla_to_follow",
                    Error,
                    "mla_not_announced",
                    "Budapest art. 29(2)(f)",
                    "state that a request for search, seizure or disclosure will follow",
                );
            }
        }
        RequestKind::TrafficDataDisclosure => {
            k.required(
                "previous_reference",
                &c.previous_reference,
                "Budapest art. 30",
                "give the reference of the preservation request",
            );
        }
        RequestKind::SubscriberInformation => {
            k.required(
                "custodian",
                &c.custodian,
                "CETS 224 art. 7(4)",
                "give the provider's name and address",
            );
            if wants(DataCategory::Content) || wants(DataCategory::Traffic) {
                k.push("data", Error, "wrong_category", "Budapest art. 18(3)", "subscriber information excludes traffic and content data: use a production order");
            }
        }
        RequestKind::ProductionOrder => {
            k.required(
                "custodian",
                &c.custodian,
                "Regulation (EU) 2023/1543 art. 9",
                "give the provider's name and address",
            );
        }
        RequestKind::EmergencyDisclosure => {
            k.required("emergency_facts", &c.emergency_facts, "CETS 224 art. 9(1)", "state the facts showing a significant and imminent risk to the life or safety of a person");
            k.required(
                "emergency_link",
                &c.emergency_link,
                "CETS 224 art. 9(3)",
                "explain how the data requested relate to the emergency",
            );
        }
        RequestKind::MlaStoredData => {
            k.required(
                "custodian",
                &c.custodian,
                "Budapest art. 31",
                "give the custodian or location of the data",
            );
        }
        RequestKind::MlaRealTimeTraffic | RequestKind::MlaInterception => {
            if c.collection_days.is_none_or(|d| d == 0) {
                k.push(
                    "collection_days",
                    Error,
                    "required",
                    kind.article(),
                    "give how long the collection should last",
                );
            }
            k.required(
                "necessity",
                &c.necessity,
                kind.article(),
                "explain why real-time collection is necessary",
            );
        }
        RequestKind::PoliceInformation => {
            if c.data.is_empty() && c.identifiers.is_empty() {
                k.push(
                    "data",
                    Error,
                    "required",
                    "police cooperation",
                    "say what information is sought",
                );
            }
        }
    }
    let _ = k.content;
    let mut findings = k.findings;
    findings.sort_by_key(|f| f.severity == Severity::Warning);
    findings
}

/// An IANA-looking time zone name ("Europe/Paris", "America/Argentina/Buenos_Aires", "UTC").
pub fn time_zone_shape(tz: &str) -> bool {
    let tz = tz.trim();
    tz == "UTC"
        || (tz.contains('/')
            && tz.len() <= 64
            && tz.split('/').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
            }))
}

pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}
