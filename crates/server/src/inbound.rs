//! Messages from peers, handed over by the transport once checked and
//! stored, dispatched to the features by message type. The transport's own
//! kinds (receipts, key rotations, attachments) never come here; a kind no
//! feature takes (a note for administrators) is only kept in the inbox.

use async_trait::async_trait;
use entraide_federation::EnvelopeHeader;
use entraide_store::Peer;

use crate::app::error::AppResult;
use crate::app::inbound::InboundMessages;
use crate::app::state::AppState;
use crate::evidence::exchange::{self as evidence, PACKAGE_MESSAGE_TYPE};
use crate::requests::exchange::{self as requests, REQUEST_MESSAGE_TYPE};
use crate::requests::updates::REQUEST_UPDATE_MESSAGE_TYPE;

/// The features that take messages from peers.
pub struct Features;

#[async_trait]
impl InboundMessages<AppState> for Features {
    async fn admit(&self, app: &AppState, sender: &Peer, header: &EnvelopeHeader) -> AppResult<()> {
        match header.message_type.as_str() {
            REQUEST_MESSAGE_TYPE => requests::admit_request(app, sender).await,
            _ => Ok(()),
        }
    }

    async fn deliver(
        &self,
        app: &AppState,
        header: &EnvelopeHeader,
        payload: &[u8],
    ) -> AppResult<()> {
        match header.message_type.as_str() {
            REQUEST_MESSAGE_TYPE => requests::register(app, header, payload).await,
            REQUEST_UPDATE_MESSAGE_TYPE => requests::mirror(app, header, payload).await,
            PACKAGE_MESSAGE_TYPE => evidence::receive_package(app, header, payload).await,
            _ => Ok(()),
        }
    }
}
