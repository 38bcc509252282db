//! Envelopes as the inbox reads them: the JSON body, the header inside it,
//! the signature check, the validity period, and decryption. The input is
//! tried as a whole envelope, and as a header signed with the sender's key
//! (so the checks after the signature are reached too).
#![no_main]

use entraide_evidence::NodeKey;
use entraide_federation::{Envelope, NodeIdentity};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Keys {
    sender: NodeKey,
    receiver: NodeIdentity,
}

fn keys() -> Option<&'static Keys> {
    static KEYS: OnceLock<Option<Keys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("entraide-fuzz-{}", std::process::id()));
        let receiver = NodeIdentity::load_or_create(&dir, NodeKey::from_seed([2; 32])).ok()?;
        Some(Keys {
            sender: NodeKey::from_seed([1; 32]),
            receiver,
        })
    })
    .as_ref()
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fuzz_target!(|data: &[u8]| {
    let Some(k) = keys() else { return };
    let sender = k.sender.public_key();
    if let Ok(envelope) = serde_json::from_slice::<Envelope>(data) {
        let _ = envelope.peek();
        let _ = k.receiver.open(&envelope, &sender, "fuzz-b", now());
        let _ = k.receiver.decrypt_stored(&envelope);
    }
    // The input as the header, signed: parsing past the signature.
    let text = String::from_utf8_lossy(data);
    let (header, ciphertext) = text.split_once('\u{1}').unwrap_or((&text, "AAAA"));
    let envelope = Envelope {
        header: header.to_owned(),
        ciphertext: ciphertext.to_owned(),
        signature: k.sender.sign(header.as_bytes()),
    };
    let _ = k.receiver.open(&envelope, &sender, "fuzz-b", now());
});
