//! Property-based fuzzing of what arrives from the network: envelopes,
//! node documents, receipts and HTTP signature headers. Whatever the bytes,
//! parsing and checking never panic, and nothing altered is accepted.
//! (`cargo test -p entraide-federation --test fuzz`; raise the number of
//! cases with PROPTEST_CASES=100000 for a longer run.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use entraide_evidence::NodeKey;
use entraide_federation::envelope::{seal, Outgoing};
use entraide_federation::httpsig::{self, SignatureHeaders};
use entraide_federation::{Envelope, NodeIdentity, SignedNodeDocument, SignedReceipt};
use proptest::prelude::*;

fn fixtures() -> (NodeKey, NodeIdentity, Envelope, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let sender = NodeKey::from_seed([11; 32]);
    let recipient = NodeIdentity::load_or_create(dir.path(), NodeKey::from_seed([12; 32])).unwrap();
    let (_, env) = seal(
        &sender,
        &recipient.encryption_public_hex(),
        &Outgoing {
            sender: "fr-pc247",
            recipient: "ar-ufeci",
            message_type: entraide_federation::MessageKind::Request,
            in_reply_to: None,
            lifetime: time::Duration::hours(1),
            payload: b"{\"kind\":\"expedited_preservation\"}",
        },
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    (sender, recipient, env, dir)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let (sender, recipient, _, _dir) = fixtures();
        if let Ok(env) = serde_json::from_slice::<Envelope>(&bytes) {
            let _ = env.peek();
            let _ = recipient.open(&env, &sender.public_key(), "ar-ufeci", time::OffsetDateTime::now_utc());
        }
        if let Ok(doc) = serde_json::from_slice::<SignedNodeDocument>(&bytes) {
            let _ = doc.verify(&sender.fingerprint());
        }
        if let Ok(r) = serde_json::from_slice::<SignedReceipt>(&bytes) {
            let _ = r.verify(&sender.public_key());
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let _ = httpsig::keyid(&text);
        for line in entraide_federation::envelope::batch_lines(&bytes) {
            if let Ok(env) = serde_json::from_slice::<Envelope>(line) {
                let _ = recipient.open(&env, &sender.public_key(), "ar-ufeci", time::OffsetDateTime::now_utc());
            }
        }
        if let Ok(opened) = entraide_federation::attachment::Manifest::parse(&bytes) {
            let _ = opened.manifest.chunk_len(opened.chunks);
        }
        if let Some(key) = entraide_federation::attachment::content_key(&"07".repeat(32)) {
            let _ = entraide_federation::attachment::open_chunk(&key, uuid::Uuid::nil(), 0, bytes.clone());
        }
        for binding in [httpsig::BodyBinding::ContentDigest, httpsig::BodyBinding::ChunkTag] {
            let _ = httpsig::verify_bound(
                binding,
                &sender.public_key(),
                "PUT",
                "https://ar.example/federation/attachments/x/0",
                &SignatureHeaders { body_field: text.clone(), signature_input: text.clone(), signature: text.clone() },
                &bytes,
                1_000,
            );
        }
    }

    #[test]
    fn any_change_to_an_envelope_is_refused(field in 0usize..3, at in any::<usize>(), byte in any::<u8>()) {
        let (sender, recipient, env, _dir) = fixtures();
        let mut changed = env.clone();
        let target = match field {
            0 => &mut changed.header,
            1 => &mut changed.ciphertext,
            _ => &mut changed.signature,
        };
        let mut raw = target.clone().into_bytes();
        if raw.is_empty() {
            return Ok(());
        }
        let i = at % raw.len();
        let replacement = if byte.is_ascii_alphanumeric() { byte } else { b'A' + byte % 26 };
        // Hexadecimal is read case-insensitively: a case change is no change.
        prop_assume!(!raw[i].eq_ignore_ascii_case(&replacement));
        raw[i] = replacement;
        *target = String::from_utf8(raw).unwrap();
        let opened = recipient.open(&changed, &sender.public_key(), "ar-ufeci", time::OffsetDateTime::now_utc());
        prop_assert!(opened.is_err(), "an altered envelope was accepted");
    }
}
