//! Node-to-node transport: the outbox and its delivery, the inbox, signed
//! requests between nodes, attachments, and the peers. It knows no
//! feature: what a peer's message means is for the features, which get
//! every accepted message through `AppState::inbound`.

pub mod api;
pub mod attachments;
pub mod delivery;
pub mod inbox;
pub mod outbox;
pub mod peers;
pub mod signed;
