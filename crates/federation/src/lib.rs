//! Federation between nodes: who a node is, and how another node learns it
//! safely. This first part holds the node's identity (its Ed25519 signing
//! key, shared with the custody log, and an X25519 key for encryption to
//! it) and the **node document**: a signed description of the node (id,
//! organisation, country, kind, address, keys with their validity,
//! languages, request types accepted, office hours) served at
//! `/.well-known/entraide/node`. A peer is added by fetching that document
//! and checking the signing key's fingerprint, given out of band, before
//! its keys are pinned.

pub mod attachment;
pub mod document;
pub mod envelope;
pub mod httpsig;
pub mod identity;
pub mod kinds;

pub use document::{
    DocumentError, FieldProblem, KeyEntry, KeyUse, NodeDocument, PeerDetails, SignedNodeDocument,
    WELL_KNOWN_PATH,
};
pub use envelope::{Envelope, EnvelopeError, EnvelopeHeader, Outgoing, Receipt, SignedReceipt};
pub use identity::{NodeIdentity, ENCRYPTION_KEY_FILE};
pub use kinds::{MessageKind, OutboxStatus, PeerStatus, ReceiptStatus, UnknownValue};
