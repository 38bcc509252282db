//! Receipts as the outbox reads them from a peer's answer (and from a
//! retrieval-receipt message): the signed wrapper, then the receipt inside,
//! also when the signature is good.
#![no_main]

use entraide_evidence::NodeKey;
use entraide_federation::{Receipt, SignedReceipt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = NodeKey::from_seed([3; 32]);
    let public = key.public_key();
    if let Ok(signed) = serde_json::from_slice::<SignedReceipt>(data) {
        let _ = signed.verify(&public);
    }
    let _ = serde_json::from_slice::<Receipt>(data);
    let text = String::from_utf8_lossy(data).into_owned();
    let signed = SignedReceipt {
        signature: key.sign(text.as_bytes()),
        receipt: text,
    };
    if let Some(r) = signed.verify(&public) {
        // What a node does with a good one: sign it again, read it back.
        let again = r.sign(&key);
        assert_eq!(again.verify(&public), Some(r));
    }
});
