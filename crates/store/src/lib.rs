//! Storage traits, one per aggregate, and the records they hold. The node
//! talks to storage only through these traits; `entraide-store-sqlite` and
//! `entraide-store-postgres` implement them, each with its own migrations.
//!
//! Every method that changes something takes the audit entry that records
//! the change, and writes both in one transaction: a change is never stored
//! without its audit entry, nor the other way round.

mod records;
#[doc(hidden)]
pub mod sql;

pub use async_trait::async_trait;
pub use entraide_federation::kinds::{MessageKind, OutboxStatus, PeerStatus};
pub use records::*;

use entraide_domain::request::{CountKey, Measure, StatRow};
use entraide_domain::{Email, RoleSet};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the string names the field.
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("not found")]
    NotFound,
    /// A stored value no longer parses as a domain value.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Counts and duration histograms (whole hours) of requests.
#[derive(Debug, Default, Clone)]
pub struct StatAggregates {
    pub counts: Vec<(CountKey, u64)>,
    pub durations: Vec<(Measure, i64, u64)>,
    /// Preservations that lapsed with no request for their data sent or
    /// received by then (`StatRow::lapsed_without_follow_up`), counted from
    /// the requests themselves.
    pub preservations_lapsed: u64,
}

#[async_trait]
pub trait OrganisationStore: Send + Sync {
    /// The organisation that runs this node.
    async fn own_organisation(&self) -> StoreResult<Organisation>;
    async fn create_own_organisation(&self, organisation: &Organisation) -> StoreResult<()>;
    async fn set_require_totp(&self, require: bool, audit: &NewAuditEntry) -> StoreResult<()>;
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(&self, user: &NewUser, audit: &NewAuditEntry) -> StoreResult<()>;
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn set_roles(&self, id: Uuid, roles: RoleSet, audit: &NewAuditEntry) -> StoreResult<()>;
    /// Disabling a user also ends their sessions.
    async fn set_disabled(
        &self,
        id: Uuid,
        disabled: bool,
        audit: &NewAuditEntry,
    ) -> StoreResult<()>;
    async fn record_sign_in_failure(
        &self,
        id: Uuid,
        failures: u32,
        locked_until: Option<OffsetDateTime>,
        audit: &NewAuditEntry,
    ) -> StoreResult<()>;
    async fn record_sign_in_success(&self, id: Uuid) -> StoreResult<()>;
    /// Stores a TOTP secret being enrolled (not yet required at sign-in).
    async fn set_pending_totp_secret(&self, id: Uuid, secret: &str) -> StoreResult<()>;
    async fn enable_totp(&self, id: Uuid, audit: &NewAuditEntry) -> StoreResult<()>;
    /// Records that the TOTP code of time step `step` was used; false when
    /// that step (or a later one) was already used: a code works once.
    async fn consume_totp_step(&self, id: Uuid, step: i64) -> StoreResult<bool>;
    async fn set_locale(&self, id: Uuid, locale: &str) -> StoreResult<()>;
    /// Sets (or clears) the SHA-256 of the user's calendar-feed secret.
    async fn set_calendar_key(
        &self,
        id: Uuid,
        key_hash: Option<&str>,
        audit: &NewAuditEntry,
    ) -> StoreResult<()>;
    async fn user_by_calendar_key(&self, key_hash: &str) -> StoreResult<Option<User>>;
    /// Replaces the password hash (the user chose it: no change is required
    /// any more), ends every other session of the user and voids their
    /// reset links.
    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &str,
        keep_session: Option<&str>,
        audit: &NewAuditEntry,
    ) -> StoreResult<()>;
    /// An administrator's reset: the password hash replaced, a change
    /// required at next sign-in, the lock lifted, every session ended and
    /// every reset link voided. `NotFound` when there is no such user.
    async fn set_temporary_password(
        &self,
        id: Uuid,
        hash: &str,
        audit: &NewAuditEntry,
    ) -> StoreResult<()>;
    /// Removes the user's second factor (secret, enrolment, last code used)
    /// and ends their sessions: they enrol again where one is required.
    /// `NotFound` when there is no such user.
    async fn reset_second_factor(&self, id: Uuid, audit: &NewAuditEntry) -> StoreResult<()>;
}

/// Self-service password reset links (their hashes).
#[async_trait]
pub trait PasswordResetStore: Send + Sync {
    /// Stores the link and queues the mail that carries it, with the audit
    /// entry, in one transaction; unless `limit` links were already made
    /// for the user since `since`: false then, nothing written. Counted
    /// under a lock on the user's row, so that requests arriving together
    /// cannot all pass the limit.
    async fn create_password_reset(
        &self,
        reset: &PasswordReset,
        mail: &OutboxMail,
        audit: &NewAuditEntry,
        since: OffsetDateTime,
        limit: u64,
    ) -> StoreResult<bool>;
    async fn password_reset(&self, token_hash: &str) -> StoreResult<Option<PasswordReset>>;
    /// Uses the link if it is unused and unexpired at `now`: sets the
    /// password hash (no change required, lock lifted), ends the user's
    /// sessions and voids their other links, with the audit entry, in one
    /// transaction. False, nothing written, when the link was used (also
    /// by a concurrent request) or has expired.
    async fn complete_password_reset(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
        password_hash: &str,
        audit: &NewAuditEntry,
    ) -> StoreResult<bool>;
    /// Forgets links that expired before `before`; how many.
    async fn forget_password_resets(&self, before: OffsetDateTime) -> StoreResult<u64>;
}

/// Mail to send, sent once across replicas and retried (`mail_outbox`).
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Queues a mail; false (nothing queued) when one with the same
    /// `dedup_key` already was.
    async fn enqueue_mail(&self, mail: &OutboxMail) -> StoreResult<bool>;
    /// Up to `limit` pending mails due at `now` and not claimed, oldest
    /// first, each claimed until `lease_until`: no other replica takes them
    /// while the claim holds.
    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMail>>;
    /// Sent: the body is emptied.
    async fn mail_sent(&self, id: Uuid, at: OffsetDateTime) -> StoreResult<()>;
    /// Failed for now: tried again at `next_attempt_at`.
    async fn mail_retry(
        &self,
        id: Uuid,
        attempts: u32,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> StoreResult<()>;
    /// Given up on: the body is emptied.
    async fn mail_failed(&self, id: Uuid, error: &str) -> StoreResult<()>;
    /// Newest first.
    async fn mail_outbox(&self, limit: u32) -> StoreResult<Vec<OutboxMail>>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: &Session) -> StoreResult<()>;
    async fn session(&self, id_hash: &str) -> StoreResult<Option<Session>>;
    async fn touch_session(&self, id_hash: &str, at: OffsetDateTime) -> StoreResult<()>;
    /// Marks the second factor passed in this session (no longer pending).
    async fn complete_second_factor(&self, id_hash: &str) -> StoreResult<()>;
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
    async fn delete_sessions_older_than(
        &self,
        created_before: OffsetDateTime,
        seen_before: OffsetDateTime,
    ) -> StoreResult<u64>;
}

/// Writes the audit entry of a revocation once the store knows which
/// derived tokens were revoked with the token (their ids, possibly none).
pub type RevocationAudit<'a> = &'a (dyn Fn(&[Uuid]) -> NewAuditEntry + Send + Sync);

#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Creates the token with its audit entry. A token derived from
    /// another (`parent_token_id`) is created only if that token and every
    /// token it descends from are live and the lineage is at most
    /// `MAX_TOKEN_GENERATIONS` deep, checked in the writing transaction
    /// after taking the lineage's lock (see `revoke_token`); returns false,
    /// writing nothing, otherwise.
    async fn create_token(&self, token: &ApiToken, audit: &NewAuditEntry) -> StoreResult<bool>;
    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>>;
    /// The token, the user it acts for and whether every token it descends
    /// from is live, in one round trip (every API request starts with this).
    async fn token_with_user(&self, token_hash: &str) -> StoreResult<Option<TokenInUse>>;
    async fn token_by_id(&self, id: Uuid) -> StoreResult<Option<ApiToken>>;
    async fn tokens_for_user(&self, user_id: Uuid) -> StoreResult<Vec<ApiToken>>;
    /// Revokes the token and every live token derived from it, directly or
    /// not, in one transaction with the audit entry `audit` builds from the
    /// derived tokens revoked. Returns those, or `None` (nothing written)
    /// when the token was already revoked.
    async fn revoke_token(
        &self,
        id: Uuid,
        at: OffsetDateTime,
        audit: RevocationAudit<'_>,
    ) -> StoreResult<Option<Vec<Uuid>>>;
    /// Records a use of the token: when, and from which address and user
    /// agent (already bounded by the caller).
    async fn touch_token(
        &self,
        id: Uuid,
        at: OffsetDateTime,
        from: Option<&str>,
        agent: Option<&str>,
    ) -> StoreResult<()>;
}

#[async_trait]
pub trait CaseStore: Send + Sync {
    /// Creates the case with its creator as first member.
    async fn create_case(&self, case: &Case, audit: &NewAuditEntry) -> StoreResult<()>;
    async fn case_by_id(&self, id: Uuid) -> StoreResult<Option<Case>>;
    async fn cases_for_member(&self, user_id: Uuid) -> StoreResult<Vec<Case>>;
    async fn all_cases(&self) -> StoreResult<Vec<Case>>;
    async fn is_case_member(&self, case_id: Uuid, user_id: Uuid) -> StoreResult<bool>;
    async fn case_members(&self, case_id: Uuid) -> StoreResult<Vec<CaseMember>>;
    async fn add_case_member(
        &self,
        case_id: Uuid,
        user_id: Uuid,
        added_by: Uuid,
        at: OffsetDateTime,
        audit: &NewAuditEntry,
    ) -> StoreResult<()>;
    /// Returns false when the user was not a member.
    async fn remove_case_member(
        &self,
        case_id: Uuid,
        user_id: Uuid,
        audit: &NewAuditEntry,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait RequestStore: Send + Sync {
    /// Stores a new request with the first event of its history, and
    /// `effects` (the case opened for it, its link to the peer, messages),
    /// in one transaction.
    ///
    /// The store allocates the request's reference, `{case reference}/R{n}`
    /// with `n` the next number of the case's sequence, in that transaction
    /// (concurrent creators in one case wait for each other, never collide):
    /// `request.reference` is not read, the audit entry's `target` is set to
    /// the reference, which is returned.
    async fn create_request(
        &self,
        request: &CooperationRequest,
        event: &RequestEvent,
        audit: &NewAuditEntry,
        effects: &Effects,
    ) -> StoreResult<String>;
    async fn request_by_id(&self, id: Uuid) -> StoreResult<Option<CooperationRequest>>;
    /// Requests in the cases `member` belongs to, newest first.
    async fn requests_for_member(
        &self,
        member: Uuid,
        filter: &RequestFilter,
    ) -> StoreResult<Vec<CooperationRequest>>;
    /// Every request of the node (for the operator's command line).
    async fn all_requests(&self, filter: &RequestFilter) -> StoreResult<Vec<CooperationRequest>>;
    async fn request_by_reference(
        &self,
        reference: &str,
    ) -> StoreResult<Option<CooperationRequest>>;
    /// Writes the request's new state and fields if it is still in
    /// `expected_state` (false otherwise: someone else moved it first), with
    /// the event, the audit entry and `effects` (the messages the change
    /// sends, links), in one transaction: all of it or nothing.
    ///
    /// `previous` is the request as read before the change (its state is the
    /// one expected): the statistics aggregates move from its figures to the
    /// new ones.
    async fn update_request(
        &self,
        previous: &CooperationRequest,
        request: &CooperationRequest,
        event: &RequestEvent,
        audit: &NewAuditEntry,
        effects: &Effects,
    ) -> StoreResult<bool>;
    async fn request_events(&self, request_id: Uuid) -> StoreResult<Vec<RequestEvent>>;
    /// Open requests whose deadline falls before `horizon` and for which no
    /// reminder was sent; each returned one is marked as reminded at `now`
    /// (one replica only gets it).
    async fn claim_reminders(
        &self,
        now: OffsetDateTime,
        horizon: OffsetDateTime,
    ) -> StoreResult<Vec<CooperationRequest>>;
    /// Makes a reminder due again (its delivery failed).
    async fn release_reminder(&self, id: Uuid) -> StoreResult<()>;
    /// Preservations in force whose period ended before `before` and that
    /// no pending request for their data holds open (Budapest art. 29(7);
    /// the rule of `clocks::FollowUp::keeps_in_force`).
    async fn overdue_preservations(
        &self,
        before: OffsetDateTime,
    ) -> StoreResult<Vec<CooperationRequest>>;
    /// The requests that follow `id` (an MLA request following a
    /// preservation...), oldest first.
    async fn requests_following(&self, id: Uuid) -> StoreResult<Vec<CooperationRequest>>;
    /// The requests `id` follows, oldest first.
    async fn requests_followed(&self, id: Uuid) -> StoreResult<Vec<CooperationRequest>>;
    /// What the statistics need of every request created in `[from, to)`.
    async fn request_stat_rows(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> StoreResult<Vec<StatRow>>;
    /// Pre-aggregated counts and duration histograms of the requests created
    /// on days `[from_day, to_day)` (days since the Unix epoch, UTC).
    async fn request_statistics(&self, from_day: i64, to_day: i64) -> StoreResult<StatAggregates>;
    /// Recomputes the aggregates from the requests (after a bulk import, or
    /// to repair); returns the number of requests counted.
    async fn rebuild_request_statistics(&self) -> StoreResult<u64>;
}

/// Evidence items and the custody log. Every change to an item is written
/// with its custody events (and audit entry) in one transaction; custody
/// events get consecutive leaf indices (one writer at a time, also across
/// replicas), and nothing in the log is ever changed or deleted.
#[async_trait]
pub trait EvidenceStore: Send + Sync {
    /// Stores a new item with its first custody events; returns their leaf
    /// indices.
    async fn create_evidence_item(
        &self,
        item: &EvidenceItem,
        events: &[NewCustodyEvent],
        audit: &NewAuditEntry,
    ) -> StoreResult<Vec<u64>>;
    async fn evidence_item(&self, id: Uuid) -> StoreResult<Option<EvidenceItem>>;
    /// Oldest first.
    async fn evidence_in_case(&self, case_id: Uuid) -> StoreResult<Vec<EvidenceItem>>;
    /// Every item of the node (scrub), oldest first.
    async fn all_evidence(&self) -> StoreResult<Vec<EvidenceItem>>;
    /// Items still holding content with this hash (not disposed of).
    async fn count_live_evidence_with_hash(&self, sha256: &str) -> StoreResult<u64>;
    /// Writes the item's new state with its custody events and optional
    /// audit entry; returns the events' leaf indices.
    async fn update_evidence_item(
        &self,
        item: &EvidenceItem,
        events: &[NewCustodyEvent],
        audit: Option<&NewAuditEntry>,
    ) -> StoreResult<Vec<u64>>;
    /// Appends custody events (with an optional audit entry) that change no
    /// item, such as a download or a refused package.
    async fn append_custody_events(
        &self,
        events: &[NewCustodyEvent],
        audit: Option<&NewAuditEntry>,
    ) -> StoreResult<Vec<u64>>;
    /// Writes several jobs in one transaction, each in its own savepoint:
    /// a job that fails (an exhibit number taken, say) leaves the others
    /// written. Returns each job's leaf indices or error.
    async fn apply_custody_jobs(
        &self,
        jobs: &[CustodyJob],
    ) -> StoreResult<Vec<StoreResult<Vec<u64>>>>;
    async fn custody_events_for_item(&self, item_id: Uuid) -> StoreResult<Vec<CustodyEvent>>;
    async fn custody_events_for_case(&self, case_id: Uuid) -> StoreResult<Vec<CustodyEvent>>;
    /// Leaf hashes (hex) from `from` on, at most `limit`, in order.
    async fn custody_leaf_hashes(&self, from: u64, limit: u64) -> StoreResult<Vec<String>>;
    async fn custody_log_size(&self) -> StoreResult<u64>;
    /// Keeps a signed tree head (one per size; a second one for the same
    /// size is ignored).
    async fn store_tree_head(&self, head: &StoredTreeHead) -> StoreResult<()>;
    async fn latest_tree_head(&self) -> StoreResult<Option<StoredTreeHead>>;
    async fn tree_head(&self, tree_size: u64) -> StoreResult<Option<StoredTreeHead>>;
    /// Tree heads that went out in packages, oldest first.
    async fn exported_tree_heads(&self) -> StoreResult<Vec<StoredTreeHead>>;
    async fn mark_tree_head_exported(&self, tree_size: u64) -> StoreResult<()>;
    /// Tree heads seen from the node holding `public_key`, smallest first.
    async fn foreign_tree_heads(&self, public_key: &str) -> StoreResult<Vec<ForeignTreeHead>>;
    async fn store_foreign_tree_head(&self, head: &ForeignTreeHead) -> StoreResult<()>;
    async fn create_upload(&self, upload: &EvidenceUpload) -> StoreResult<()>;
    async fn upload(&self, id: Uuid) -> StoreResult<Option<EvidenceUpload>>;
    /// Moves the received count from `from` to `to`; false when another
    /// writer moved it first.
    async fn advance_upload(&self, id: Uuid, from: u64, to: u64) -> StoreResult<bool>;
    async fn delete_upload(&self, id: Uuid) -> StoreResult<()>;
    /// Bytes of evidence held (items not disposed of) and promised (the
    /// declared sizes of unfinished uploads), in one case or, with `None`,
    /// in the whole node: what quotas are measured against.
    async fn evidence_bytes(&self, case_id: Option<Uuid>) -> StoreResult<u64>;
}

/// The other nodes this node knows.
#[async_trait]
pub trait PeerStore: Send + Sync {
    /// Fails with a conflict when the node or its key is already a peer.
    async fn add_peer(&self, peer: &Peer, audit: &NewAuditEntry) -> StoreResult<()>;
    async fn peers(&self) -> StoreResult<Vec<Peer>>;
    async fn peer(&self, node_id: &str) -> StoreResult<Option<Peer>>;
    /// False when there is no such peer.
    async fn set_peer_status(
        &self,
        node_id: &str,
        status: PeerStatus,
        at: OffsetDateTime,
        audit: &NewAuditEntry,
    ) -> StoreResult<bool>;
    /// Records a key rotation the peer announced.
    async fn set_peer_next_key(
        &self,
        node_id: &str,
        next_key: &str,
        valid_until: OffsetDateTime,
        audit: &NewAuditEntry,
    ) -> StoreResult<()>;
    /// Makes the announced key the pinned one (the old one is refused from
    /// then on).
    async fn promote_peer_key(
        &self,
        node_id: &str,
        fingerprint: &str,
        at: OffsetDateTime,
        audit: &NewAuditEntry,
    ) -> StoreResult<()>;
    /// False when there is no such peer.
    async fn remove_peer(&self, node_id: &str, audit: &NewAuditEntry) -> StoreResult<bool>;
    /// Replaces what is known of a peer (address, organisation, keys, its
    /// document as received; not its status nor when it was added) after
    /// its document was read again. False when there is no such peer; a
    /// conflict when another peer holds the signing key.
    async fn refresh_peer(&self, peer: &Peer, audit: &NewAuditEntry) -> StoreResult<bool>;
}

/// Messages to and from peers.
#[async_trait]
pub trait MessageStore: Send + Sync {
    async fn enqueue_outbox(&self, m: &OutboxMessage, audit: &NewAuditEntry) -> StoreResult<()>;
    async fn outbox_message(&self, id: Uuid) -> StoreResult<Option<OutboxMessage>>;
    /// Several small messages at once, in the order of `ids`: those missing
    /// or whose envelope is longer than `max_envelope` bytes are left out
    /// (never read).
    async fn outbox_messages(
        &self,
        ids: &[Uuid],
        max_envelope: usize,
    ) -> StoreResult<Vec<OutboxMessage>>;
    /// Newest first.
    async fn outbox(&self, limit: u32) -> StoreResult<Vec<OutboxMessage>>;
    /// For each peer (at most `peers`) whose oldest pending message is due
    /// and not claimed: that message and up to `per_peer - 1` of the
    /// pending messages after it, all claimed until `lease_until`. Holding
    /// the claim on a peer's oldest pending message is what lets one
    /// replica deliver that peer's messages, in order: no other replica
    /// claims anything for the peer until the claims are released or run
    /// out. Returned as (message id, recipient), by peer and in order.
    async fn claim_outbox(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        peers: u32,
        per_peer: u32,
    ) -> StoreResult<Vec<(Uuid, String)>>;
    /// Gives back the claims (taken until `lease_until`) on a peer's
    /// messages still pending, for the next round.
    async fn release_outbox(&self, recipient: &str, lease_until: OffsetDateTime)
        -> StoreResult<()>;
    async fn outbox_delivered(
        &self,
        id: Uuid,
        receipt: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Several messages delivered (their receipts), in one transaction.
    async fn outbox_delivered_many(
        &self,
        delivered: &[(Uuid, String)],
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn outbox_retry(
        &self,
        id: Uuid,
        attempts: u32,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> StoreResult<()>;
    async fn outbox_dead(&self, id: Uuid, reason: &str, audit: &NewAuditEntry) -> StoreResult<()>;
    /// Makes the pending messages to `recipient` that wait for a later
    /// attempt due at `now` (not those claimed by a replica right now);
    /// how many.
    async fn outbox_due_now(&self, recipient: &str, now: OffsetDateTime) -> StoreResult<u64>;
    async fn outbox_retrieved(&self, id: Uuid, receipt: &str) -> StoreResult<bool>;
    /// Stores a received message; returns the stored one (with its
    /// original receipt) when the id was seen before.
    async fn insert_inbox(
        &self,
        m: &InboxMessage,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<InboxMessage>>;
    /// Stores several received messages in one transaction, in order; for
    /// each, the stored one when its id was seen before (in an earlier
    /// transaction or earlier in this batch), as `insert_inbox`.
    async fn insert_inbox_many(
        &self,
        items: &[(InboxMessage, NewAuditEntry)],
    ) -> StoreResult<Vec<Option<InboxMessage>>>;
    async fn inbox_message(&self, id: Uuid) -> StoreResult<Option<InboxMessage>>;
    /// Records that a received message was applied (false if it already was).
    async fn mark_inbox_applied(&self, id: Uuid, at: OffsetDateTime) -> StoreResult<bool>;
    /// Whether a received message was applied.
    async fn inbox_applied(&self, id: Uuid) -> StoreResult<bool>;
    /// Received messages stored but not applied (the node stopped in
    /// between), oldest first.
    async fn unapplied_inbox(&self, limit: u32) -> StoreResult<Vec<InboxMessage>>;
    /// Newest first.
    async fn inbox(&self, limit: u32) -> StoreResult<Vec<InboxMessage>>;
    /// Links a request to its other side at a peer (upsert; the peer's id
    /// may be learnt later).
    async fn link_request(
        &self,
        request_id: Uuid,
        peer_node: &str,
        peer_request_id: Option<Uuid>,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// The peer and the peer's request id of a linked request.
    async fn request_link(&self, request_id: Uuid) -> StoreResult<Option<(String, Option<Uuid>)>>;
    /// Our request whose other side is `peer_request_id` at `peer_node`.
    async fn request_by_link(
        &self,
        peer_node: &str,
        peer_request_id: Uuid,
    ) -> StoreResult<Option<Uuid>>;
    /// Records the first opening; false when it was already opened.
    async fn mark_retrieved(
        &self,
        id: Uuid,
        by: &str,
        at: OffsetDateTime,
        audit: &NewAuditEntry,
    ) -> StoreResult<bool>;
}

/// A knowledge document as stored: the columns used to find it and the
/// whole document as JSON (`entraide_knowledge::Document`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnowledgeRow {
    pub id: String,
    pub unit: String,
    pub kind: String,
    pub instrument: Option<String>,
    pub jurisdiction: String,
    pub position: i64,
    pub body: String,
}

/// The knowledge repository. The database is the source of truth; the
/// search index is rebuilt from it whenever the generation moves on.
#[async_trait]
pub trait KnowledgeStore: Send + Sync {
    /// Replaces every document of each of `units` by `rows` (which must all
    /// belong to those units), with the audit entry, in one transaction;
    /// returns the new generation. An identifier already used by another
    /// unit is a conflict and nothing changes.
    async fn replace_knowledge(
        &self,
        units: &[String],
        rows: &[KnowledgeRow],
        audit: &NewAuditEntry,
    ) -> StoreResult<i64>;
    async fn knowledge_generation(&self) -> StoreResult<i64>;
    async fn knowledge_document(&self, id: &str) -> StoreResult<Option<KnowledgeRow>>;
    /// The articles of an instrument, in order.
    async fn knowledge_articles(&self, instrument: &str) -> StoreResult<Vec<KnowledgeRow>>;
    async fn knowledge_of_kind(&self, kind: &str) -> StoreResult<Vec<KnowledgeRow>>;
    /// Documents with an identifier after `after`, in identifier order.
    async fn knowledge_page(&self, after: &str, limit: i64) -> StoreResult<Vec<KnowledgeRow>>;
    /// Documents per kind.
    async fn knowledge_counts(&self) -> StoreResult<Vec<(String, i64)>>;
}

/// The audit log is append-only: there is no method to change or delete an
/// entry, and both databases refuse UPDATE and DELETE on it by trigger.
#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<()>;
    /// Newest first.
    async fn audit_entries(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;
}

/// The signatures of federation requests accepted, until they expire: a
/// request whose signature was seen before is a replay.
#[async_trait]
pub trait SignatureStore: Send + Sync {
    /// Records the signature (its SHA-256) of a request from `sender`,
    /// valid until `expires_at`; false when it was recorded before — the
    /// request is a replay. Atomic: of two identical requests arriving at
    /// once, only one is recorded.
    async fn record_signature(
        &self,
        signature_sha256: &str,
        sender: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Forgets the signatures expired before `now` (no request carrying
    /// them is accepted any more); how many.
    async fn forget_signatures_expired(&self, now: OffsetDateTime) -> StoreResult<u64>;
}

/// Everything a node stores.
#[async_trait]
pub trait Store:
    OrganisationStore
    + UserStore
    + SessionStore
    + TokenStore
    + CaseStore
    + AuditStore
    + RequestStore
    + EvidenceStore
    + PeerStore
    + MessageStore
    + KnowledgeStore
    + SignatureStore
    + PasswordResetStore
    + MailStore
{
    /// Whether the database answers (readiness).
    async fn ping(&self) -> StoreResult<()>;
    /// "sqlite" or "postgres".
    fn backend(&self) -> &'static str;
}

/// Milliseconds since the Unix epoch: how both databases store instants.
pub fn to_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub fn from_millis(ms: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {ms}: {e}")))
}
