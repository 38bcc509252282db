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
    /// An administrator reset the password: the user must choose a new one
    /// before their session admits anything else.
    pub must_change_password: bool,
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

/// A self-service password reset link. Only the SHA-256 of the secret in
/// the link is stored.
#[derive(Debug, Clone)]
pub struct PasswordReset {
    pub token_hash: String,
    pub user_id: Uuid,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

/// A mail in the outbox: queued, then sent by whichever replica claims it.
#[derive(Clone)]
pub struct OutboxMail {
    pub id: Uuid,
    /// What the mail is for (`password_reset`...), for operators.
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    /// Plain text; emptied once the mail is sent or given up on.
    pub body: String,
    /// Queueing a second mail with the same key queues nothing.
    pub dedup_key: Option<String>,
    pub status: MailStatus,
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    /// Not sent by then: given up on (a reset link would have expired).
    pub expires_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
}

/// The body may hold a secret link: never printed.
impl std::fmt::Debug for OutboxMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// Where a mail of the outbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailStatus {
    Pending,
    Sent,
    /// Refused by the server for good, retried too often, or expired.
    Failed,
}

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Sent, Self::Failed]
            .into_iter()
            .find(|m| m.as_str() == s)
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
    /// The second factor was passed in this session (at sign-in, or by
    /// enrolling one in it); false for a session that never needed one.
    pub second_factor_done: bool,
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
    /// The token this one was created with; revoking it revokes this one.
    /// `None` when created in a signed-in session or at the command line.
    pub parent_token_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
    /// When it was last used (written at most once per few minutes).
    pub last_used_at: Option<OffsetDateTime>,
    /// The client address it was last used from.
    pub last_used_from: Option<String>,
    /// The `User-Agent` it was last used with, bounded.
    pub last_used_agent: Option<String>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// How many tokens a token may descend from: a token created with a token
/// created with a token... at most this deep. Bounds the walk up a token's
/// lineage that every API call makes.
pub const MAX_TOKEN_GENERATIONS: i32 = 8;

/// A presented token, the user it acts for, and whether its lineage is live.
#[derive(Debug, Clone)]
pub struct TokenInUse {
    pub token: ApiToken,
    pub user: User,
    /// False when a token it descends from is revoked (even if the cascade
    /// that revokes descendants was somehow missed), or when it descends
    /// from more than `MAX_TOKEN_GENERATIONS` tokens.
    pub lineage_live: bool,
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
    /// The peer node holding the other side of the request, once it was
    /// exchanged through Entraide (read from its link; never written here).
    pub exchanged_with: Option<String>,
    /// What started the deadline, and when that event really happened.
    pub deadline_trigger: Option<entraide_domain::request::Trigger>,
    pub deadline_started_at: Option<OffsetDateTime>,
    /// The enforcing authority of a European Production Order this node
    /// issued, once notified (Regulation (EU) 2023/1543 arts. 8, 10, 12).
    pub enforcing: Option<EnforcingAuthority>,
    /// A request for its data following it (directly or through an
    /// extension of it) was sent or received and awaits its decision: a
    /// preservation stays in force past its end (Budapest art. 29(7)).
    /// Read from the links between requests; never written here.
    pub pending_decision: bool,
}

/// The enforcing authority's notification of an order and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct EnforcingAuthority {
    /// When it was notified (received: the notification travels with the
    /// order, art. 8(1)).
    pub notified_at: OffsetDateTime,
    /// The end of its window to object, and the provision it comes from.
    pub window_due: OffsetDateTime,
    pub window_source: String,
    pub objection: Option<Objection>,
}

/// What the enforcing authority answered, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Objection {
    pub effect: entraide_domain::request::ObjectionEffect,
    pub at: OffsetDateTime,
    /// The conditions it set (`ObjectionEffect::Conditions`).
    pub conditions: Option<String>,
}

impl CooperationRequest {
    /// How a user's action reaches this register: on a request exchanged
    /// with a peer, only this side's own actions (the other side's come
    /// from its node).
    pub fn channel(&self) -> entraide_domain::request::Channel {
        match self.exchanged_with {
            Some(_) => entraide_domain::request::Channel::Exchanged,
            None => entraide_domain::request::Channel::Outside,
        }
    }
}

/// One step in the history of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestEvent {
    pub id: i64,
    pub request_id: Uuid,
    /// When it was recorded here.
    pub at: OffsetDateTime,
    /// When it really happened, when a time was given for it (a reply
    /// received by telephone yesterday, recorded today).
    pub occurred_at: Option<OffsetDateTime>,
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
    /// The earlier requests of its case a new request follows (written
    /// with its creation only).
    pub follows: Vec<Uuid>,
    /// The preservation an extension moves with this step.
    pub extends: Option<Box<Extended>>,
}

/// A preservation's end moved by an extension: the preservation as read
/// (written only if its state and end are still those), as it becomes, and
/// the event recording it in its history.
#[derive(Debug, Clone)]
pub struct Extended {
    pub previous: CooperationRequest,
    pub next: CooperationRequest,
    pub event: RequestEvent,
}
