//! Messages from peers, handed over by the transport once checked and
//! stored, dispatched to the features by kind of message. The transport's
//! own kinds (receipts, key rotations, attachments) never come here; a kind
//! no feature takes (a note for administrators) is only kept in the inbox.

use async_trait::async_trait;
use entraide_federation::{EnvelopeHeader, MessageKind};
use entraide_store::Peer;

use crate::app::error::AppResult;
use crate::app::inbound::InboundMessages;
use crate::app::state::AppState;
use crate::evidence::exchange as evidence;
use crate::requests::exchange as requests;

/// The features that take messages from peers.
pub struct Features;

#[async_trait]
impl InboundMessages<AppState> for Features {
    async fn admit(
        &self,
        app: &AppState,
        sender: &Peer,
        header: &EnvelopeHeader,
        payload: &[u8],
    ) -> AppResult<()> {
        match header.message_type {
            MessageKind::Request => requests::admit_request(app, sender, payload).await,
            MessageKind::RequestUpdate
            | MessageKind::EvidencePackage
            | MessageKind::Note
            | MessageKind::KeyRotation
            | MessageKind::Receipt
            | MessageKind::Attachment => Ok(()),
        }
    }

    async fn deliver(
        &self,
        app: &AppState,
        header: &EnvelopeHeader,
        payload: &[u8],
    ) -> AppResult<()> {
        match header.message_type {
            MessageKind::Request => requests::register(app, header, payload).await,
            MessageKind::RequestUpdate => requests::mirror(app, header, payload).await,
            MessageKind::EvidencePackage => evidence::receive_package(app, header, payload).await,
            MessageKind::Note
            | MessageKind::KeyRotation
            | MessageKind::Receipt
            | MessageKind::Attachment => Ok(()),
        }
    }
}
