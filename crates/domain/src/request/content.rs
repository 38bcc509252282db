//! What a request says: the common header of the Council of Europe T-CY
//! templates (2018) and the body whose required parts depend on the kind.
//! A draft may be incomplete; `checks::assess` says what is missing before
//! approval.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::identifier::Identifier;
use super::kind::{DataCategory, LegalBasis};
use crate::CountryCode;

/// Status line of the T-CY templates: new, extension or follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Marking {
    #[default]
    New,
    Extension,
    FollowUp,
}

/// An authority (or provider) with the people and means to reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Contact {
    pub organisation: String,
    pub country: Option<CountryCode>,
    pub person: String,
    pub address: String,
    pub phones: Vec<String>,
    pub email: String,
    pub office_hours: String,
    /// IANA time zone of the office, e.g. Europe/Paris: deadlines and
    /// "call back at 9:00" mean nothing without it.
    pub time_zone: String,
    /// Preferred means of reply (24/7 network, e-mail, Entraide...).
    pub reply_channel: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Offence {
    pub description: String,
    /// The provision of the requesting State's law, e.g. "Code pénal art. 323-1".
    pub provision: String,
    /// Maximum penalty, when known.
    pub penalty: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataRequested {
    pub category: DataCategory,
    pub description: String,
    /// How these data relate to the offence (art. 29(2)(c)).
    #[serde(default)]
    pub relationship_to_offence: String,
}

/// Deserialising checks every field as the web form does (identifiers
/// through their constructors, country, legal basis, dates, lengths): see
/// `request::parse`, which also gives the path and code of a refusal.
/// Serialisation is the derived one, field by field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(try_from = "super::parse::RawRequestContent<Identifier>")]
pub struct RequestContent {
    // ---- header (T-CY templates)
    pub case_number: String,
    pub marking: Marking,
    /// Reference of the request this one extends or follows up.
    pub previous_reference: String,
    pub requesting: Contact,
    pub requested: Contact,
    pub confirmation_contact: String,
    pub investigative_authority: String,
    /// Prosecution office or court, with its case numbers.
    pub prosecution_office: String,
    pub domestic_legal_basis: String,
    pub legal_basis: Option<LegalBasis>,
    // ---- body
    pub offences: Vec<Offence>,
    pub facts: String,
    pub data: Vec<DataRequested>,
    pub identifiers: Vec<Identifier>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub period_from: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub period_to: Option<OffsetDateTime>,
    /// Custodian of the data or location of the system (art. 29(2)(d));
    /// for an order to a provider, its name and address (CETS 224 art. 7(4)).
    pub custodian: String,
    /// Why the data must be preserved (art. 29(2)(e)).
    pub necessity: String,
    /// That a request for search, seizure or disclosure will follow
    /// (art. 29(2)(f)).
    pub mla_to_follow: Option<bool>,
    /// Facts showing a significant and imminent risk to the life or safety
    /// of a person (CETS 224 art. 9; EU 2023/1543 art. 3(18)).
    pub emergency_facts: String,
    /// How the data requested relate to that emergency.
    pub emergency_link: String,
    /// Duration of real-time collection or interception, in days.
    pub collection_days: Option<u32>,
    /// Time frame and manner of return, special instructions (CETS 224 art. 7(4)).
    pub special_instructions: String,
    /// Whether the requesting authority asks for confidentiality.
    pub confidential: bool,
}

impl RequestContent {
    /// SHA-256 of the canonical JSON of the content: an approval is bound to
    /// this exact content, and the request cannot change after it.
    pub fn digest(&self) -> String {
        let json = serde_json_canonical(self);
        hex::encode(Sha256::digest(json.as_bytes()))
    }
}

/// Serde's field order is the declaration order, which is stable; there
/// are no maps in the content, so the serialisation is canonical.
fn serde_json_canonical(content: &RequestContent) -> String {
    serde_json::to_string(content).unwrap_or_default()
}
