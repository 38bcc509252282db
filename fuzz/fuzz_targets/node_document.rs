//! Node documents as `entraide peer add` reads them: the signed wrapper,
//! the document, its signing key, signature and fingerprint. The input is
//! tried as a whole signed document, and as a document text signed with a
//! key it names (`KEY` in the input stands for that key, `FP` for its
//! fingerprint), so the checks after the signature are reached too.
#![no_main]

use entraide_evidence::NodeKey;
use entraide_federation::SignedNodeDocument;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = NodeKey::from_seed([4; 32]);
    let fingerprint = key.fingerprint();
    if let Ok(signed) = serde_json::from_slice::<SignedNodeDocument>(data) {
        let _ = signed.verify(&fingerprint);
        let _ = signed.verify("");
    }
    let text = String::from_utf8_lossy(data)
        .replace("KEY", &key.public_key().to_hex())
        .replace("FP", &fingerprint);
    let signed = SignedNodeDocument {
        signature: key.sign(text.as_bytes()),
        document: text,
    };
    if let Ok(doc) = signed.verify(&fingerprint) {
        let _ = doc.signing_key();
        let _ = doc.next_signing_key();
        let _ = doc.encryption_key();
    }
});
