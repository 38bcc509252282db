//! A batch as `POST /federation/inbox/batch` reads it: split into lines,
//! each line read as an envelope and checked as the single inbox does.
#![no_main]

use entraide_evidence::NodeKey;
use entraide_federation::envelope::batch_lines;
use entraide_federation::{Envelope, NodeIdentity};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn receiver() -> Option<&'static NodeIdentity> {
    static RECEIVER: OnceLock<Option<NodeIdentity>> = OnceLock::new();
    RECEIVER
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("entraide-fuzz-batch-{}", std::process::id()));
            NodeIdentity::load_or_create(&dir, NodeKey::from_seed([2; 32])).ok()
        })
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Some(receiver) = receiver() else { return };
    let sender = NodeKey::from_seed([1; 32]).public_key();
    let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    for line in batch_lines(data) {
        if let Ok(envelope) = serde_json::from_slice::<Envelope>(line) {
            let _ = envelope.peek();
            let _ = receiver.open(&envelope, &sender, "fuzz-b", now);
        }
    }
});
