//! What the transport hands over to the features. The transport
//! (`federation`) knows no feature: it checks and stores a peer's
//! envelopes and handles its own kinds of message (receipts, key
//! rotations, attachments); for every other kind it asks whoever the node
//! was assembled with (`crate::inbound`) whether to take it, and then
//! delivers it.
//!
//! Generic over the state `S` so that this file need not name the state,
//! which holds the dispatcher (`AppState::inbound`).

use async_trait::async_trait;
use entraide_federation::EnvelopeHeader;
use entraide_store::Peer;

use crate::app::error::AppResult;

#[async_trait]
pub trait InboundMessages<S: Sync>: Send + Sync {
    /// Before a message from `sender` is stored: an error refuses it (the
    /// peer gets the problem instead of a receipt, and the refusal is
    /// audited). The payload is read here with the same parser that will
    /// apply it, so that content the API would refuse is refused to the
    /// peer alike — same code, same field — and never stored.
    async fn admit(
        &self,
        app: &S,
        sender: &Peer,
        header: &EnvelopeHeader,
        payload: &[u8],
    ) -> AppResult<()>;

    /// Once the message is stored and its receipt signed: what it does
    /// here. An error leaves it in the inbox, audited as not applied.
    async fn deliver(&self, app: &S, header: &EnvelopeHeader, payload: &[u8]) -> AppResult<()>;
}
