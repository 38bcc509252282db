//! The wire types of the Entraide HTTP API (`/api/v1`), shared by the
//! server, the test kit and any client. Requests reject unknown fields;
//! their values are plain strings that the server parses into domain types,
//! reporting every invalid field at once.

mod clocks;
pub mod schema;

pub use clocks::*;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// RFC 9457 problem details, with a stable machine-readable `code`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI identifying the problem type (`urn:entraide:problem:CODE`).
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable error code, e.g. `validation_failed`, `csrf_rejected`.
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Field-level errors, for `validation_failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The current state, for a refused transition (`409`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_state: Option<String>,
    /// The limit exceeded, in bytes (`upload_too_large`, `quota_exceeded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// JSON path or form field name, e.g. `email`.
    pub field: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    #[schema(value_type = Vec<schema::RoleName>)]
    pub roles: Vec<String>,
    pub totp_enabled: bool,
    /// The interface language chosen, if any.
    #[schema(value_type = Option<schema::LanguageName>)]
    pub locale: Option<String>,
    pub organisation: OrganisationView,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrganisationView {
    pub id: Uuid,
    pub node_id: String,
    pub name: String,
    #[schema(value_type = schema::OrganisationKindName)]
    pub kind: String,
    #[schema(value_type = schema::CountryCodeName)]
    pub country: String,
    pub require_totp: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganisation {
    pub require_totp: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    #[schema(value_type = Vec<schema::RoleName>)]
    pub roles: Vec<String>,
    pub disabled: bool,
    pub totp_enabled: bool,
    /// An administrator reset the password: the user must choose a new one
    /// at next sign-in.
    #[serde(default)]
    pub must_change_password: bool,
    #[serde(with = "time::serde::rfc3339::option", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub locked_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// An administrator's reset of a user's password.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// The password to set (the node's password policy applies); absent:
    /// a temporary one is generated and returned, this once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 12, max_length = 256)]
    pub password: Option<String>,
}

/// A password reset done: the user's sessions ended and they must choose
/// a new password at next sign-in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasswordResetDone {
    /// The generated temporary password, shown only here; absent when the
    /// administrator chose the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_password: Option<String>,
    /// Always true: a new password is required at next sign-in.
    pub must_change_password: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(schema_with = schema::email_address)]
    pub email: String,
    #[schema(schema_with = schema::one_line::<120>)]
    pub display_name: String,
    /// 12 to 256 characters.
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
    #[schema(value_type = Vec<schema::RoleName>)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<schema::RoleName>>)]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// A label to recognise the token by, e.g. "case-management script".
    #[schema(schema_with = schema::one_line::<100>)]
    pub name: String,
    /// The user the token acts for: yourself when absent. Only
    /// administrators may name someone else.
    #[serde(default)]
    pub user_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    /// The token this one was created with, if it was: revoking that token
    /// revokes this one.
    #[serde(default)]
    pub parent_token_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When the token was last used (recorded at most every few minutes,
    /// and at once from a new address).
    #[serde(with = "time::serde::rfc3339::option", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
    /// The client address it was last used from.
    #[serde(default)]
    pub last_used_from: Option<String>,
    /// The `User-Agent` it was last used with (at most 200 characters).
    #[serde(default)]
    pub last_used_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<OffsetDateTime>,
}

/// Returned once, when the token is created: the secret is not stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    pub token: TokenView,
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TotpEnrolment {
    /// Base32 secret to type into an authenticator application.
    pub secret: String,
    /// `otpauth://` URI for authenticator applications.
    pub otpauth_uri: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    pub code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCase {
    /// National case or file number.
    #[schema(schema_with = schema::case_reference)]
    pub reference: String,
    #[schema(schema_with = schema::one_line::<200>)]
    pub title: String,
    #[serde(default)]
    #[schema(schema_with = schema::optional_paragraphs::<10000>)]
    pub summary: String,
}

/// A case as listed: reference and title, no content.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CaseListing {
    pub id: Uuid,
    pub reference: String,
    pub title: String,
    #[schema(value_type = schema::CaseStatusName)]
    pub status: String,
    /// Whether the caller is a member (administrators see every case).
    pub member: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// A case with its content, for members only.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CaseDetail {
    pub id: Uuid,
    pub reference: String,
    pub title: String,
    pub summary: String,
    #[schema(value_type = schema::CaseStatusName)]
    pub status: String,
    pub created_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    pub members: Vec<CaseMemberView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CaseMemberView {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub added_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddCaseMember {
    /// E-mail of the user to add.
    #[schema(schema_with = schema::email_address)]
    pub email: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryView {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    pub actor: String,
    pub actor_id: Option<Uuid>,
    #[schema(value_type = schema::AuditActionName)]
    pub action: String,
    #[schema(value_type = schema::AuditOutcomeName)]
    pub outcome: String,
    pub case_id: Option<Uuid>,
    pub target: Option<String>,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    /// Extra facts (JSON object).
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `before` to get the next (older) page.
    pub next_before: Option<i64>,
}

/// A new request: outgoing drafts are checked only at approval; incoming
/// ones are registered as received. Its OpenAPI schema is
/// [`schema::NewRequestBody`]: one content schema per kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// expedited_preservation, preservation_extension, traffic_data_disclosure,
    /// subscriber_information, production_order, emergency_disclosure,
    /// mla_stored_data, mla_real_time_traffic, mla_interception, police_information.
    pub kind: String,
    /// outgoing (default) or incoming.
    #[serde(default)]
    pub direction: Option<String>,
    /// The request content (header after the T-CY templates, then the body).
    #[serde(default)]
    pub content: serde_json::Value,
    /// Earlier requests of the same case this one follows: the
    /// preservation(s) an MLA request or a production order follows, the
    /// preservation an extension extends.
    #[serde(default)]
    pub follows: Vec<Uuid>,
    /// For an incoming request, when it was received if not now (RFC 3339
    /// with its offset): its deadlines run from then.
    #[serde(default)]
    pub occurred_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestTransition {
    #[schema(value_type = schema::TransitionActionName)]
    pub action: String,
    /// Required for `refuse`, ignored otherwise.
    #[serde(default)]
    #[schema(value_type = Option<schema::RefusalGroundName>)]
    pub ground: Option<String>,
    /// A note kept in the request's history.
    #[serde(default)]
    pub note: Option<String>,
    /// When the event really happened, if not now (RFC 3339 with its
    /// offset, e.g. a preservation confirmed yesterday by telephone): not in
    /// the future, not before the previous event; deadlines run from it.
    /// Not taken by `submit_for_approval`, `return_to_draft`, `approve`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurred_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FindingView {
    /// Path of the field in the request content, e.g. `requesting.time_zone`.
    pub field: String,
    #[schema(value_type = schema::SeverityName)]
    pub severity: String,
    /// Stable code, e.g. `required`, `unbounded_period`.
    pub code: String,
    pub message: String,
    /// The provision that asks for it.
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadlineView {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub due: OffsetDateTime,
    /// The provision the period comes from.
    pub source: String,
    /// The event that started it: `preservation_confirmed`, `received`,
    /// `extended` (an extension moved the end), `enforcing_authority_notified`.
    #[serde(default)]
    #[schema(value_type = Option<schema::DeadlineTriggerName>)]
    pub trigger: Option<String>,
    /// When that event really happened.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<OffsetDateTime>,
    pub due_soon: bool,
    pub past: bool,
    /// A preservation past its end held in force by a request for its data
    /// awaiting its decision (Budapest art. 29(7); Regulation (EU)
    /// 2023/1543 art. 11(2)): it does not lapse.
    #[serde(default)]
    pub pending_decision: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestEventView {
    /// When it was recorded.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// When it really happened, when a time was given for it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurred_at: Option<OffsetDateTime>,
    pub actor: String,
    /// An action (`approve`...) or a record (`drafted`, `edited`,
    /// `document_rendered`...).
    pub action: String,
    #[schema(value_type = Option<schema::RequestStateName>)]
    pub from_state: Option<String>,
    #[schema(value_type = schema::RequestStateName)]
    pub to_state: String,
    /// The other side's action recorded here by hand, from a reply that
    /// came by another channel (the request was not exchanged through
    /// Entraide).
    #[serde(default)]
    pub other_channel: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestView {
    pub id: Uuid,
    pub case_id: Uuid,
    pub reference: String,
    #[schema(value_type = schema::RequestKindName)]
    pub kind: String,
    /// The provision the request type rests on.
    pub article: String,
    #[schema(value_type = schema::DirectionName)]
    pub direction: String,
    #[schema(value_type = schema::RequestStateName)]
    pub state: String,
    #[schema(value_type = Option<schema::LegalBasisName>)]
    pub legal_basis: Option<String>,
    #[schema(value_type = Option<schema::CountryCodeName>)]
    pub requested_country: Option<String>,
    pub counterpart: String,
    #[schema(value_type = schema::RequestContent)]
    pub content: serde_json::Value,
    pub drafted_by: Option<Uuid>,
    pub approved_by: Option<Uuid>,
    /// SHA-256 of the approved content.
    pub approved_digest: Option<String>,
    #[schema(value_type = Option<schema::RefusalGroundName>)]
    pub refusal_ground: Option<String>,
    pub deadline: Option<DeadlineView>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// Completeness and quality checks of the current content.
    pub findings: Vec<FindingView>,
    /// Actions open from the current state.
    #[schema(value_type = Vec<schema::RequestActionName>)]
    pub available_actions: Vec<String>,
    pub events: Vec<RequestEventView>,
    /// The earlier requests of the case it follows (empty in lists).
    #[serde(default)]
    pub follows: Vec<RelatedRequestView>,
    /// The later requests that follow it (empty in lists).
    #[serde(default)]
    pub followed_by: Vec<RelatedRequestView>,
    /// The enforcing authority of a European Production Order, once
    /// notified.
    #[serde(default)]
    pub enforcing_authority: Option<EnforcingAuthorityView>,
}

/// Starts a resumable evidence upload: the metadata now, the bytes with
/// `PATCH /api/v1/evidence/uploads/{id}` (header `Upload-Offset`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvidenceUpload {
    /// The file's name, without `/` or `\` (and not `.` or `..`).
    #[schema(schema_with = schema::one_line::<255>)]
    pub file_name: String,
    /// The exact size in bytes of the file to come.
    pub size: u64,
    #[schema(schema_with = schema::paragraphs::<2000>)]
    pub description: String,
    #[schema(value_type = schema::UploadSourceName)]
    pub source: String,
    /// Not in the future.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub acquired_at: Option<OffsetDateTime>,
    #[serde(default)]
    #[schema(schema_with = schema::optional_one_line::<300>)]
    pub acquired_place: Option<String>,
    /// Who acquired it (name, unit).
    #[serde(default)]
    #[schema(schema_with = schema::optional_one_line::<300>)]
    pub performer: Option<String>,
    /// Warrant or order reference.
    #[serde(default)]
    #[schema(schema_with = schema::optional_one_line::<300>)]
    pub authorisation: Option<String>,
    #[serde(default)]
    #[schema(schema_with = schema::optional_one_line::<64>)]
    pub exhibit_number: Option<String>,
    /// Also compute MD5 and SHA-1.
    #[serde(default)]
    pub legacy_hashes: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EvidenceUploadView {
    pub id: Uuid,
    pub case_id: Uuid,
    pub size: u64,
    /// Bytes received so far: the next `Upload-Offset`.
    pub received: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The item, once the last byte arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<EvidenceItemView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EvidenceItemView {
    pub id: Uuid,
    pub case_id: Uuid,
    pub sha256: String,
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub size: u64,
    pub file_name: String,
    pub description: String,
    #[schema(value_type = schema::EvidenceSourceName)]
    pub source: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub acquired_at: Option<OffsetDateTime>,
    pub acquired_place: Option<String>,
    pub performer: Option<String>,
    pub authorisation: Option<String>,
    pub exhibit_number: Option<String>,
    pub origin: Option<String>,
    #[schema(value_type = schema::EvidenceStateName)]
    pub state: String,
    pub legal_hold: bool,
    /// `YYYY-MM-DD`.
    pub retention_until: Option<String>,
    #[schema(value_type = schema::IntegrityName)]
    pub integrity: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub verified_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub disposed_at: Option<OffsetDateTime>,
    pub disposal_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A custody event with its place in the node's custody log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustodyEventView {
    pub leaf_index: u64,
    pub id: Uuid,
    pub item_id: Option<Uuid>,
    #[schema(value_type = schema::CustodyEventKindName)]
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    /// The exact leaf bytes (JSON).
    pub record: String,
    pub leaf_hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EvidenceDetail {
    pub item: EvidenceItemView,
    pub custody: Vec<CustodyEventView>,
}

/// A signed tree head of the node's custody log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TreeHeadView {
    pub node: String,
    pub tree_size: u64,
    pub root_hash: String,
    pub timestamp_ms: i64,
    pub public_key: String,
    pub fingerprint: String,
    pub signature: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InclusionProofView {
    pub leaf_index: u64,
    pub leaf_hash: String,
    pub tree_size: u64,
    pub proof: Vec<String>,
    pub tree_head: TreeHeadView,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProofView {
    pub from_size: u64,
    pub to_size: u64,
    pub proof: Vec<String>,
}

/// A change to an item's custody: `seal`, `release`, `hold`, `lift_hold`,
/// `retention` (with `retention_until`) or `dispose` (with `reason`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustodyChange {
    #[schema(value_type = schema::CustodyActionName)]
    pub action: String,
    /// For `retention`: `YYYY-MM-DD`, or empty to clear it.
    #[serde(default)]
    pub retention_until: Option<String>,
    /// For `dispose`: why the content is destroyed.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Which items of the case go into a package (all held items if empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageRequest {
    #[serde(default)]
    pub items: Vec<Uuid>,
}

/// One check of a package verification.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VerificationCheckView {
    pub code: String,
    pub subject: String,
    #[schema(value_type = schema::CheckOutcomeName)]
    pub outcome: String,
    pub detail: String,
}

/// The outcome of receiving a package.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PackageImportView {
    pub holds: bool,
    pub package_id: Option<Uuid>,
    pub checks: Vec<VerificationCheckView>,
    pub items: Vec<EvidenceItemView>,
}

/// The result of re-hashing stored evidence.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScrubView {
    pub checked: u64,
    pub intact: u64,
    pub corrupted: Vec<Uuid>,
}

/// This node's identity, to give to the operators of other nodes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NodeIdentityView {
    pub node_id: String,
    pub base_url: String,
    /// SHA-256 of the Ed25519 signing key: what peers check.
    pub signing_fingerprint: String,
    pub encryption_fingerprint: String,
}

/// A peer to add: its address and its signing-key fingerprint, obtained
/// from its operator by another channel.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPeer {
    pub url: String,
    pub fingerprint: String,
}

/// Reads a peer's node document again: from `url` when given (the peer
/// moved), else from the address known for it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerRefresh {
    #[serde(default)]
    pub url: Option<String>,
}

/// Messages made due at once for a peer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliverNow {
    /// How many were waiting for a later attempt.
    pub messages: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerStatus {
    #[schema(value_type = schema::PeerStatusName)]
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PeerView {
    pub node_id: String,
    pub base_url: String,
    pub organisation: String,
    #[schema(value_type = schema::CountryCodeName)]
    pub country: String,
    #[schema(value_type = schema::OrganisationKindName)]
    pub kind: String,
    pub signing_fingerprint: String,
    pub encryption_key: String,
    #[schema(value_type = schema::PeerStatusName)]
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A node document with its signature (`document` is the exact JSON text
/// signed with the node's Ed25519 key).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SignedNodeDocumentView {
    pub document: String,
    pub signature: String,
}

/// A note to a peer's administrators (the first message type; requests,
/// responses and evidence manifests follow).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPeerMessage {
    #[schema(schema_with = schema::not_blank::<10000>)]
    pub text: String,
    /// Hours before the message is given up (default 72).
    #[serde(default)]
    pub expires_in_hours: Option<u32>,
}

/// The answer to `POST /federation/inbox/batch`: one result per envelope
/// sent, in the same order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchReceipts {
    pub results: Vec<BatchResult>,
}

/// An envelope's signed receipt, or the problem that refused it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<BatchProblem>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchProblem {
    /// The stable code the single inbox would answer with.
    pub code: String,
    pub detail: String,
}

impl BatchResult {
    pub fn receipt(receipt: serde_json::Value) -> Self {
        Self {
            receipt: Some(receipt),
            problem: None,
        }
    }

    pub fn problem(code: &str, detail: String) -> Self {
        Self {
            receipt: None,
            problem: Some(BatchProblem {
                code: code.to_owned(),
                detail,
            }),
        }
    }
}

/// A message in the outbox, with its delivery evidence.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutboxMessageView {
    pub message_id: Uuid,
    pub recipient: String,
    pub message_type: String,
    #[schema(value_type = schema::OutboxStatusName)]
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Pending because the recipient has not added this node as a peer yet
    /// (it answered `unknown_sender`): tried again, less and less often,
    /// until it has or the message expires.
    #[serde(default)]
    pub waiting_for_peer: bool,
    /// The recipient's signed delivery receipt (JSON text and signature).
    pub receipt: Option<serde_json::Value>,
    /// The recipient's signed retrieval receipt, once someone opened it.
    pub retrieval_receipt: Option<serde_json::Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InboxMessageView {
    pub message_id: Uuid,
    pub sender: String,
    pub message_type: String,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub retrieved_at: Option<OffsetDateTime>,
    /// The decrypted payload (only when one message is opened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

/// An organisation in the directory: this node or a peer, as its signed
/// node document describes it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DirectoryEntry {
    pub node_id: String,
    pub organisation: String,
    #[schema(value_type = schema::CountryCodeName)]
    pub country: String,
    #[schema(value_type = schema::OrganisationKindName)]
    pub kind: String,
    pub base_url: String,
    /// ISO 639-1 codes of the languages requests are accepted in.
    pub languages: Vec<String>,
    #[schema(value_type = Vec<schema::RequestKindName>)]
    pub request_types: Vec<String>,
    pub office_hours: String,
    pub time_zone: String,
    /// This node itself.
    pub own: bool,
    /// Peers only; this node is `active`.
    #[schema(value_type = schema::PeerStatusName)]
    pub status: String,
    pub signing_fingerprint: String,
}

/// The peer to send an approved request to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendToPeer {
    pub peer: String,
}

/// Evidence of a case to send to a peer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendPackage {
    pub peer: String,
    /// Items to send (all that can be exported if empty).
    #[serde(default)]
    pub items: Vec<Uuid>,
    /// The request (exchanged with that peer) the evidence answers.
    #[serde(default)]
    pub request_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PackageSent {
    pub package_id: Uuid,
}

/// What drafting needs to know about a requested country: the answer of
/// `GET /api/v1/counterparts/{country}` (the domain's `CounterpartInfo`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterpartView {
    #[schema(value_type = schema::CountryCodeName)]
    pub country: String,
    /// Whether the table knows the country at all.
    pub known: bool,
    /// Official languages (ISO 639-1): write the request in one of them, or
    /// check the Party's declarations.
    pub languages: Vec<String>,
    /// The language of the formal document Entraide proposes.
    #[schema(value_type = schema::LanguageName)]
    pub document_language: String,
    /// Channels the request can take.
    pub channels: Vec<String>,
    /// Instruments both States are bound by.
    #[schema(value_type = Vec<schema::LegalBasisName>)]
    pub shared_bases: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use entraide_domain::CountryCode;

    /// `CounterpartView` reads what the server answers.
    #[test]
    fn counterpart_view_is_the_domain_answer() {
        let (fr, ar) = (CountryCode::parse("FR").ok(), CountryCode::parse("AR"));
        let Some(fr) = fr else { panic!("FR") };
        let Ok(ar) = ar else { panic!("AR") };
        let info = entraide_domain::request::counterpart(fr, ar);
        let json = serde_json::to_value(&info).unwrap_or_default();
        let view: Result<CounterpartView, _> = serde_json::from_value(json);
        assert!(view.is_ok(), "{view:?}");
    }
}
