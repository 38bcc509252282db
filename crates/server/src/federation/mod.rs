//! Node-to-node transport: outbox, delivery, inbox, attachments, peers.

pub mod attachments;
pub mod messaging;
pub mod peers;
