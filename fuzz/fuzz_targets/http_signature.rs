//! The RFC 9421 request signature the inbox checks: `Signature-Input`
//! (key id, covered components, created, expires), `Signature` and
//! `Content-Digest` or `Chunk-Tag`. The input is split on newlines into those three
//! headers and the body.
#![no_main]

use entraide_evidence::NodeKey;
use entraide_federation::httpsig::{self, BodyBinding, SignatureHeaders};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let signature_input = parts.next().unwrap_or_default().to_owned();
    let signature = parts.next().unwrap_or_default().to_owned();
    let digest = parts.next().unwrap_or_default().to_owned();
    let body = parts.next().unwrap_or_default().as_bytes().to_vec();
    let _ = httpsig::keyid(&signature_input);
    let key = NodeKey::from_seed([5; 32]).public_key();
    let target = "https://b.example/federation/inbox";
    for binding in [BodyBinding::ContentDigest, BodyBinding::ChunkTag] {
        for body_field in [digest.clone(), binding.value(&body)] {
            let headers = SignatureHeaders {
                body_field,
                signature_input: signature_input.clone(),
                signature: signature.clone(),
            };
            let _ = httpsig::verify_bound(
                binding,
                &key,
                "POST",
                target,
                &headers,
                &body,
                1_800_000_000,
            );
        }
    }
});
