use entraide_domain::evidence::{CustodyEventKind, EvidenceSource, EvidenceState, Integrity};
use entraide_domain::request::{
    Direction, LegalBasis, RefusalGround, RequestContent, RequestKind, RequestState,
};
use entraide_domain::{
    AuditAction, AuditOutcome, CaseReference, CaseStatus, CaseSummary, CaseTitle, CountryCode,
    DisplayName, Email, NodeId, OrganisationKind, OrganisationName, RoleSet,
};
use entraide_federation::kinds::{MessageKind, OutboxStatus, PeerStatus};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct Organisation {
    pub id: Uuid,
    pub node_id: NodeId,
    pub name: OrganisationName,
    pub kind: OrganisationKind,
    pub country: CountryCode,
    /// Whether every user must sign in with a TOTP second factor.
    pub require_totp: bool,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub email: Email,
    pub display_name: DisplayName,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub roles: RoleSet,
    pub created_at: OffsetDateTime,
}

#[derive(Clone)]
pub struct User {
    pub id: Uuid,
    pub email: Email,
    pub display_name: DisplayName,
    pub password_hash: String,
    pub roles: RoleSet,
    pub disabled: bool,
    pub failed_sign_ins: u32,
    pub locked_until: Option<OffsetDateTime>,
    /// Base32 TOTP secret; enforced only once `totp_enabled`.
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub locale: Option<String>,
    /// SHA-256 of the secret in the user's calendar-feed address.
    pub calendar_key_hash: Option<String>,
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("roles", &self.roles)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A server-side session. Only the SHA-256 of the cookie value is stored.
#[derive(Clone)]
pub struct Session {
    pub id_hash: String,
    pub user_id: Uuid,
    pub csrf_token: String,
    /// Password checked, TOTP code still awaited.
    pub second_factor_pending: bool,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub client_ip: Option<String>,
}

/// An API bearer token. Only the SHA-256 of the token is stored.
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub token_hash: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub id: Uuid,
    pub reference: CaseReference,
    pub title: CaseTitle,
    pub summary: CaseSummary,
    pub status: CaseStatus,
    pub created_by: Uuid,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct CaseMember {
    pub user_id: Uuid,
    pub email: Email,
    pub display_name: DisplayName,
    pub added_by: Uuid,
    pub added_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    pub at: OffsetDateTime,
    pub actor_id: Option<Uuid>,
    /// E-mail of the actor, or a description ("anonymous", "cli").
    pub actor: String,
    pub action: AuditAction,
    pub outcome: AuditOutcome,
    pub case_id: Option<Uuid>,
    /// What was acted upon (a user's e-mail, a token name, a case reference).
    pub target: Option<String>,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    /// Extra facts as compact JSON; never secrets or evidence content.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: OffsetDateTime,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub action: String,
    pub outcome: String,
    pub case_id: Option<Uuid>,
    pub target: Option<String>,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Substring of the actor's e-mail or description.
    pub actor: Option<String>,
    /// Exact action, or a prefix ending with '.' ("case.").
    pub action: Option<String>,
    pub outcome: Option<AuditOutcome>,
    pub case_id: Option<Uuid>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    /// Keyset pagination: entries with a smaller id.
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// A cooperation request, sent or received, in a case.
#[derive(Debug, Clone, PartialEq)]
pub struct CooperationRequest {
    pub id: Uuid,
    pub case_id: Uuid,
    /// Our reference, unique on the node ("PC247-2026-0117/R1").
    pub reference: String,
    pub kind: RequestKind,
    pub direction: Direction,
    pub state: RequestState,
    pub legal_basis: Option<LegalBasis>,
    /// The other side's country: requested (outgoing) or requesting
    /// (incoming).
    pub requested_country: Option<CountryCode>,
    /// The other side: requested authority (outgoing) or requesting one.
    pub counterpart: String,
    pub content: RequestContent,
    pub drafted_by: Option<Uuid>,
    pub approved_by: Option<Uuid>,
    /// SHA-256 of the content the approver approved.
    pub approved_digest: Option<String>,
    pub refusal_ground: Option<RefusalGround>,
    pub deadline_due: Option<OffsetDateTime>,
    pub deadline_source: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
    pub acknowledged_at: Option<OffsetDateTime>,
    pub first_data_at: Option<OffsetDateTime>,
    pub closed_at: Option<OffsetDateTime>,
}

/// One step in the history of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestEvent {
    pub id: i64,
    pub request_id: Uuid,
    pub at: OffsetDateTime,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub detail: String,
}

#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub case_id: Option<Uuid>,
    pub state: Option<RequestState>,
    pub kind: Option<RequestKind>,
    pub direction: Option<Direction>,
    /// Only requests with a deadline before this instant.
    pub due_before: Option<OffsetDateTime>,
    pub limit: u32,
}

/// A file held as evidence in a case: its hashes, where it came from and
/// where it stands. The content lives in the blob store under `sha256`.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceItem {
    pub id: Uuid,
    pub case_id: Uuid,
    /// SHA-256, lower-case hexadecimal.
    pub sha256: String,
    /// MD5 and SHA-1 for E01-era tooling, when asked for at ingest.
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub size: u64,
    pub file_name: String,
    pub description: String,
    pub source: EvidenceSource,
    pub acquired_at: Option<OffsetDateTime>,
    pub acquired_place: Option<String>,
    pub performer: Option<String>,
    /// The warrant or order that authorised the acquisition.
    pub authorisation: Option<String>,
    pub exhibit_number: Option<String>,
    /// For received items: the sending node and package.
    pub origin: Option<String>,
    pub state: EvidenceState,
    pub legal_hold: bool,
    pub retention_until: Option<Date>,
    pub integrity: Integrity,
    pub verified_at: Option<OffsetDateTime>,
    pub disposed_at: Option<OffsetDateTime>,
    pub disposal_reason: Option<String>,
    /// None for items ingested by the node operator from the command line.
    pub created_by: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A custody event about to be appended to the custody log. `record` is
/// the canonical JSON of the event, the exact bytes of the Merkle leaf;
/// `leaf_hash` is `SHA-256(0x00 || record)` in hexadecimal.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCustodyEvent {
    pub id: Uuid,
    pub case_id: Uuid,
    pub item_id: Option<Uuid>,
    pub kind: CustodyEventKind,
    pub at: OffsetDateTime,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub record: String,
    pub leaf_hash: String,
}

/// A custody event as stored, with its position in the custody log.
#[derive(Debug, Clone, PartialEq)]
pub struct CustodyEvent {
    pub leaf_index: u64,
    pub event: NewCustodyEvent,
}

/// A tree head of the node's custody log, signed with the node's key.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTreeHead {
    pub tree_size: u64,
    pub root_hash: String,
    pub signed_at: OffsetDateTime,
    pub signature: String,
    pub public_key: String,
    /// Whether it went out in a package (others may hold it).
    pub exported: bool,
}

/// A tree head of another node's custody log, as seen in a package.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignTreeHead {
    pub public_key: String,
    pub tree_size: u64,
    pub root_hash: String,
    pub node_id: String,
    /// None for heads proven only by a consistency proof.
    pub signed_at: Option<OffsetDateTime>,
    pub signature: Option<String>,
    pub received_at: OffsetDateTime,
}

/// A resumable upload in progress: bytes received so far and the
/// metadata (JSON) the item will get when the last byte arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceUpload {
    pub id: Uuid,
    pub case_id: Uuid,
    pub created_by: Uuid,
    pub created_at: OffsetDateTime,
    pub size: u64,
    pub received: u64,
    pub metadata: String,
}

/// One change to the custody log, queued to be written with others in a
/// single transaction (group commit).
#[derive(Debug, Clone)]
pub enum CustodyJob {
    CreateItem {
        item: Box<EvidenceItem>,
        events: Vec<NewCustodyEvent>,
        audit: Box<NewAuditEntry>,
    },
    UpdateItem {
        item: Box<EvidenceItem>,
        events: Vec<NewCustodyEvent>,
        audit: Option<Box<NewAuditEntry>>,
    },
    Append {
        events: Vec<NewCustodyEvent>,
        audit: Option<Box<NewAuditEntry>>,
    },
}

/// Another node, with the keys pinned when it was added.
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    pub node_id: String,
    pub base_url: String,
    pub organisation: String,
    pub country: String,
    pub kind: String,
    /// Ed25519, hexadecimal.
    pub signing_key: String,
    pub signing_fingerprint: String,
    /// X25519, hexadecimal.
    pub encryption_key: String,
    /// The signed node document as received.
    pub document: String,
    pub signature: String,
    pub status: PeerStatus,
    pub added_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The key the peer announced it moves to (a rotation), if any.
    pub next_signing_key: Option<String>,
    /// Until when the pinned key stays valid during a rotation.
    pub key_valid_until: Option<OffsetDateTime>,
}

/// A message waiting for (or done with) delivery to a peer.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub message_id: Uuid,
    pub recipient: String,
    pub message_type: MessageKind,
    /// The envelope JSON, as sent.
    pub envelope: String,
    pub status: OutboxStatus,
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    /// The recipient's signed delivery receipt.
    pub receipt: Option<String>,
    /// The recipient's signed retrieval receipt (someone opened it).
    pub retrieval_receipt: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
}

/// A message received from a peer, kept as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxMessage {
    pub message_id: Uuid,
    pub sender: String,
    pub message_type: MessageKind,
    pub envelope: String,
    /// The signed delivery receipt returned (again, for a duplicate).
    pub receipt: String,
    pub received_at: OffsetDateTime,
    pub retrieved_at: Option<OffsetDateTime>,
    pub retrieved_by: Option<String>,
}

/// A request's link to its other side at a peer.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestLink {
    pub request_id: Uuid,
    pub peer_node: String,
    /// The peer's id for the request, when known.
    pub peer_request_id: Option<Uuid>,
    pub at: OffsetDateTime,
}

/// What a business step writes beside its own change, in the same
/// transaction (a transactional outbox): a request marked sent and the
/// message that sends it are committed together or not at all.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    /// A case opened for the change (a request received from a peer), with
    /// its creator as first member and its audit entry; written first.
    pub new_case: Option<(Case, NewAuditEntry)>,
    pub links: Vec<RequestLink>,
    /// Messages queued for peers, each with its "accepted for sending"
    /// audit entry.
    pub outbox: Vec<(OutboxMessage, NewAuditEntry)>,
    /// The received message this change applies (marked applied).
    pub applies_inbox: Option<Uuid>,
}
