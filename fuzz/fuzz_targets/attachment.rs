//! What a node reads of an attachment from another node: the manifest
//! (decrypted from its envelope, then checked) and the sealed chunks
//! opened with its key. The input is split at its first newline into a
//! manifest and a chunk; the chunk is also tried under a well-formed
//! manifest's key, so that opening is reached whatever the manifest.
#![no_main]

use entraide_federation::attachment::{content_key, open_chunk, Manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (manifest, chunk) = data.split_at(split);
    let id = uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
    if let Ok(opened) = Manifest::parse(manifest) {
        let _ = opened.manifest.chunk_len(opened.chunks);
        let _ = open_chunk(&opened.key, id, 0, chunk.to_vec());
    }
    if let Some(key) = content_key(&"07".repeat(32)) {
        let index = chunk.first().copied().map_or(0, u32::from);
        let _ = open_chunk(&key, id, index, chunk.to_vec());
    }
});
