//! Node-to-node transport: the outbox and its delivery, the inbox, signed
//! requests between nodes, attachments, and the peers. It knows no
//! feature: what a peer's message means is for the features, which get
//! every accepted message through `AppState::inbound`.

pub mod answer;
pub mod api;
pub mod attachments;
pub mod batch;
pub mod delivery;
pub mod gate;
pub mod inbox;
pub mod outbox;
pub mod peer_document;
pub mod peers;
pub mod refresh;
pub mod refusals;
pub mod settle;
pub mod signed;
