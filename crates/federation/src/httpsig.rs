//! HTTP message signatures (RFC 9421, the subset nodes use): the request's
//! method, target URI and one header field that binds the body are signed
//! with the sender's Ed25519 key, with creation and expiry times and the
//! sender's node id as key id. The body is bound by its `Content-Digest`
//! (RFC 9530, SHA-256 of the body), or — for attachment chunks, sealed with
//! an AEAD whose tag already authenticates every byte — by that tag
//! (`Chunk-Tag`), so that megabytes are not hashed twice more per chunk.
//!
//! Everything but the body can be checked from the headers alone
//! (`verify_signature`): a receiver knows who signed a request, and that
//! the signature is fresh, before it reads a byte of the body; the body is
//! then checked against the field the signature covers (`check_body`).
//! Each signature carries a random `nonce`, so that two requests are never
//! signed alike — even the same body sent twice in one second — and a
//! receiver can refuse a signature it has seen before (`signature_id`).

use base64::Engine;
use entraide_evidence::{NodeKey, PublicKey};
use sha2::{Digest, Sha256};

/// How long a signed request stays valid.
pub const VALIDITY_SECONDS: i64 = 300;
/// The longest validity a received signature may claim (`expires` minus
/// `created`): a receiver remembers the signatures it has seen until they
/// expire, so the window must be short.
pub const MAX_VALIDITY_SECONDS: i64 = 2 * VALIDITY_SECONDS;
/// How far ahead of the receiver's clock a sender's may be.
pub const CLOCK_SKEW_SECONDS: i64 = 300;

/// The header field that ties a signed request to its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyBinding {
    /// `Content-Digest`: the SHA-256 of the body (RFC 9530).
    ContentDigest,
    /// `Chunk-Tag`: the 16-byte authentication tag that ends a body sealed
    /// with an AEAD. Whoever changes the body without the key cannot make
    /// the receiver's opening succeed; whoever changes the tag breaks the
    /// signature.
    ChunkTag,
}

/// Bytes of an AEAD tag (AES-GCM, ChaCha20-Poly1305).
const TAG_BYTES: usize = 16;

impl BodyBinding {
    /// The header field's name, as covered by the signature.
    pub fn header(self) -> &'static str {
        match self {
            BodyBinding::ContentDigest => "content-digest",
            BodyBinding::ChunkTag => "chunk-tag",
        }
    }

    /// The field's value for `body`.
    pub fn value(self, body: &[u8]) -> String {
        match self {
            BodyBinding::ContentDigest => content_digest(body),
            BodyBinding::ChunkTag => format!(
                ":{}:",
                base64::engine::general_purpose::STANDARD
                    .encode(&body[body.len().saturating_sub(TAG_BYTES)..])
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// The value of the field that binds the body (`BodyBinding`).
    pub body_field: String,
    pub signature_input: String,
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpSigError {
    #[error(
        "the request is not signed (Signature-Input, Signature and Content-Digest or Chunk-Tag are required)"
    )]
    Missing,
    #[error("the request signature is malformed: {0}")]
    Malformed(&'static str),
    #[error("the body does not match its Content-Digest or Chunk-Tag")]
    DigestMismatch,
    #[error("the request signature has expired or is not yet valid")]
    OutOfTime,
    #[error("the request signature does not match the sender's key")]
    BadSignature,
}

pub fn content_digest(body: &[u8]) -> String {
    format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body))
    )
}

fn covered(binding: BodyBinding) -> String {
    format!("(\"@method\" \"@target-uri\" \"{}\");", binding.header())
}

fn params(binding: BodyBinding, created: i64, expires: i64, keyid: &str, nonce: &str) -> String {
    format!(
        "{}created={created};expires={expires};keyid=\"{keyid}\";alg=\"ed25519\";nonce=\"{nonce}\"",
        covered(binding)
    )
}

fn base(binding: BodyBinding, method: &str, target_uri: &str, field: &str, params: &str) -> String {
    format!(
        "\"@method\": {}\n\"@target-uri\": {target_uri}\n\"{}\": {field}\n\"@signature-params\": {params}",
        method.to_ascii_uppercase(),
        binding.header()
    )
}

/// The headers that sign a request, its body bound by `Content-Digest`.
pub fn sign(
    key: &NodeKey,
    keyid: &str,
    method: &str,
    target_uri: &str,
    body: &[u8],
    now_unix: i64,
) -> SignatureHeaders {
    sign_bound(
        BodyBinding::ContentDigest,
        key,
        keyid,
        method,
        target_uri,
        body,
        now_unix,
    )
}

/// The headers that sign a request, its body bound by `binding`.
pub fn sign_bound(
    binding: BodyBinding,
    key: &NodeKey,
    keyid: &str,
    method: &str,
    target_uri: &str,
    body: &[u8],
    now_unix: i64,
) -> SignatureHeaders {
    let field = binding.value(body);
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let p = params(
        binding,
        now_unix,
        now_unix + VALIDITY_SECONDS,
        keyid,
        &nonce,
    );
    let signature_hex = key.sign(base(binding, method, target_uri, &field, &p).as_bytes());
    let raw = hex::decode(signature_hex).unwrap_or_default();
    SignatureHeaders {
        body_field: field,
        signature_input: format!("sig1={p}"),
        signature: format!(
            "sig1=:{}:",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ),
    }
}

/// The key id a signed request names (to find the sender's pinned key).
pub fn keyid(signature_input: &str) -> Result<String, HttpSigError> {
    let start = signature_input
        .find("keyid=\"")
        .ok_or(HttpSigError::Malformed("no keyid"))?
        + "keyid=\"".len();
    let rest = &signature_input[start..];
    let end = rest.find('"').ok_or(HttpSigError::Malformed("keyid"))?;
    Ok(rest[..end].to_owned())
}

fn number(params: &str, name: &str) -> Result<i64, HttpSigError> {
    let tag = format!(";{name}=");
    let start = params
        .find(&tag)
        .ok_or(HttpSigError::Malformed("created or expires missing"))?
        + tag.len();
    params[start..]
        .split(';')
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or(HttpSigError::Malformed("created or expires"))
}

/// Checks a signed request, its body bound by `Content-Digest`, against
/// the sender's pinned key.
pub fn verify(
    key: &PublicKey,
    method: &str,
    target_uri: &str,
    headers: &SignatureHeaders,
    body: &[u8],
    now_unix: i64,
) -> Result<(), HttpSigError> {
    verify_bound(
        BodyBinding::ContentDigest,
        key,
        method,
        target_uri,
        headers,
        body,
        now_unix,
    )
}

/// Checks a signed request, its body bound by `binding`, against the
/// sender's pinned key.
pub fn verify_bound(
    binding: BodyBinding,
    key: &PublicKey,
    method: &str,
    target_uri: &str,
    headers: &SignatureHeaders,
    body: &[u8],
    now_unix: i64,
) -> Result<(), HttpSigError> {
    check_body(binding, headers, body)?;
    verify_signature(binding, key, method, target_uri, headers, now_unix).map(|_| ())
}

/// What a request's `Signature-Input` says, read before anything is
/// checked against a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParams {
    pub keyid: String,
    /// Unix seconds.
    pub created: i64,
    pub expires: i64,
}

/// Reads the parameters of a `Signature-Input` made for `binding`.
pub fn signature_params(
    binding: BodyBinding,
    signature_input: &str,
) -> Result<SignatureParams, HttpSigError> {
    let p = signature_input
        .strip_prefix("sig1=")
        .ok_or(HttpSigError::Malformed("label"))?;
    if !p.starts_with(&covered(binding)) {
        return Err(HttpSigError::Malformed("covered components"));
    }
    Ok(SignatureParams {
        keyid: keyid(p)?,
        created: number(p, "created")?,
        expires: number(p, "expires")?,
    })
}

/// Whether a signature is valid at `now_unix`: created no later than the
/// allowed clock skew ahead, not expired, and valid for no longer than
/// `MAX_VALIDITY_SECONDS` — so a signature is never accepted more than
/// that long after it was made, and a receiver need remember it no longer.
pub fn check_time(p: &SignatureParams, now_unix: i64) -> Result<(), HttpSigError> {
    // Checked: a negative `created` with a far `expires` must not overflow
    // (a panic in debug builds, and in release a wrapped difference that
    // passed for a short validity).
    let validity = p.expires.checked_sub(p.created).unwrap_or(i64::MAX);
    if now_unix.saturating_add(CLOCK_SKEW_SECONDS) < p.created
        || now_unix > p.expires
        || !(1..=MAX_VALIDITY_SECONDS).contains(&validity)
    {
        return Err(HttpSigError::OutOfTime);
    }
    Ok(())
}

/// Checks everything the signature covers but the body itself — method,
/// target, the field that binds the body, the parameters and their times —
/// against the sender's key. A receiver can do this from the headers, and
/// refuse a request before it reads its body; `check_body` then checks the
/// body against the field.
pub fn verify_signature(
    binding: BodyBinding,
    key: &PublicKey,
    method: &str,
    target_uri: &str,
    headers: &SignatureHeaders,
    now_unix: i64,
) -> Result<SignatureParams, HttpSigError> {
    let params = signature_params(binding, &headers.signature_input)?;
    check_time(&params, now_unix)?;
    let p = headers
        .signature_input
        .strip_prefix("sig1=")
        .ok_or(HttpSigError::Malformed("label"))?;
    let raw = signature_bytes(&headers.signature)?;
    if key.verify(
        base(binding, method, target_uri, &headers.body_field, p).as_bytes(),
        &hex::encode(raw),
    ) {
        Ok(params)
    } else {
        Err(HttpSigError::BadSignature)
    }
}

/// Checks a body against the field of the headers that binds it.
pub fn check_body(
    binding: BodyBinding,
    headers: &SignatureHeaders,
    body: &[u8],
) -> Result<(), HttpSigError> {
    if binding.value(body) == headers.body_field {
        Ok(())
    } else {
        Err(HttpSigError::DigestMismatch)
    }
}

fn signature_bytes(signature: &str) -> Result<Vec<u8>, HttpSigError> {
    let sig = signature
        .strip_prefix("sig1=:")
        .and_then(|s| s.strip_suffix(':'))
        .ok_or(HttpSigError::Malformed("signature"))?;
    base64::engine::general_purpose::STANDARD
        .decode(sig)
        .map_err(|_| HttpSigError::Malformed("signature encoding"))
}

/// What a receiver remembers of a signature to refuse it a second time:
/// the SHA-256 (hex) of the signature's bytes, not of the header's text,
/// so that another spelling of the same signature is the same signature.
pub fn signature_id(signature: &str) -> Result<String, HttpSigError> {
    Ok(hex::encode(Sha256::digest(signature_bytes(signature)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_is_bound_by_its_tag_and_not_by_a_digest() {
        let key = NodeKey::from_seed([9; 32]);
        let pk = key.public_key();
        let uri = "https://ar.example/federation/attachments/x/0";
        let body: Vec<u8> = (0..100u8).collect();
        let h = sign_bound(BodyBinding::ChunkTag, &key, "fr", "PUT", uri, &body, 1_000);
        assert!(h.signature_input.contains("\"chunk-tag\""));
        let check = |binding, body: &[u8]| verify_bound(binding, &pk, "PUT", uri, &h, body, 1_010);
        assert_eq!(check(BodyBinding::ChunkTag, &body), Ok(()));
        // A change before the tag is for the AEAD to find; a change in the
        // tag breaks the binding.
        let mut changed = body.clone();
        changed[0] ^= 1;
        assert_eq!(check(BodyBinding::ChunkTag, &changed), Ok(()));
        changed[99] ^= 1;
        assert_eq!(
            check(BodyBinding::ChunkTag, &changed),
            Err(HttpSigError::DigestMismatch)
        );
        // A signature made for one binding is not accepted for the other.
        let digest_signed = SignatureHeaders {
            body_field: content_digest(&body),
            ..h.clone()
        };
        assert_eq!(
            verify_bound(
                BodyBinding::ContentDigest,
                &pk,
                "PUT",
                uri,
                &digest_signed,
                &body,
                1_010
            ),
            Err(HttpSigError::Malformed("covered components"))
        );
        // Shorter than a tag: bound by what there is, opened by nobody.
        assert_eq!(BodyBinding::ChunkTag.value(b"ab"), ":YWI=:");
    }

    #[test]
    fn a_signature_is_checked_from_the_headers_before_the_body() {
        let key = NodeKey::from_seed([9; 32]);
        let pk = key.public_key();
        let uri = "https://ar.example/federation/inbox";
        let h = sign(&key, "fr-pc247", "POST", uri, b"{}", 1_000);
        let p = verify_signature(BodyBinding::ContentDigest, &pk, "POST", uri, &h, 1_010).unwrap();
        assert_eq!(
            (p.keyid.as_str(), p.created, p.expires),
            ("fr-pc247", 1_000, 1_300)
        );
        // The body is checked apart, against the field the signature covers.
        assert_eq!(check_body(BodyBinding::ContentDigest, &h, b"{}"), Ok(()));
        assert_eq!(
            check_body(BodyBinding::ContentDigest, &h, b"{ }"),
            Err(HttpSigError::DigestMismatch)
        );
        // The same request signed twice in the same second: two signatures.
        let again = sign(&key, "fr-pc247", "POST", uri, b"{}", 1_000);
        assert_ne!(again.signature, h.signature);
        assert_ne!(signature_id(&again.signature), signature_id(&h.signature));
        assert_eq!(
            signature_id(&h.signature).unwrap(),
            signature_id(&h.signature.clone()).unwrap()
        );
        assert!(signature_id("sig1=:not base64!:").is_err());
    }

    #[test]
    fn the_validity_window_is_bounded() {
        let p = |created, expires| SignatureParams {
            keyid: "fr-pc247".into(),
            created,
            expires,
        };
        assert_eq!(check_time(&p(1_000, 1_300), 1_000), Ok(()));
        // Created a little ahead (clock skew) is taken; far ahead is not.
        assert_eq!(check_time(&p(1_200, 1_500), 1_000), Ok(()));
        assert_eq!(
            check_time(&p(1_400, 1_700), 1_000),
            Err(HttpSigError::OutOfTime)
        );
        // Expired; valid for too long; expiring before it was created.
        assert_eq!(
            check_time(&p(1_000, 1_300), 1_301),
            Err(HttpSigError::OutOfTime)
        );
        assert_eq!(
            check_time(&p(1_000, 1_000 + MAX_VALIDITY_SECONDS + 1), 1_000),
            Err(HttpSigError::OutOfTime)
        );
        assert_eq!(
            check_time(&p(1_000, 1_000), 1_000),
            Err(HttpSigError::OutOfTime)
        );
        assert_eq!(
            check_time(&p(1_000, 900), 950),
            Err(HttpSigError::OutOfTime)
        );
        assert_eq!(
            check_time(&p(i64::MIN, i64::MAX), 0),
            Err(HttpSigError::OutOfTime)
        );
    }

    #[test]
    fn signed_requests_verify_and_changes_fail() {
        let key = NodeKey::from_seed([9; 32]);
        let uri = "https://ar.example/federation/inbox";
        let h = sign(&key, "fr-pc247", "POST", uri, b"{}", 1_000);
        assert_eq!(keyid(&h.signature_input).unwrap(), "fr-pc247");
        let pk = key.public_key();
        assert_eq!(verify(&pk, "POST", uri, &h, b"{}", 1_010), Ok(()));
        assert_eq!(
            verify(&pk, "POST", uri, &h, b"{ }", 1_010),
            Err(HttpSigError::DigestMismatch)
        );
        assert_eq!(
            verify(
                &pk,
                "POST",
                "https://other.example/federation/inbox",
                &h,
                b"{}",
                1_010
            ),
            Err(HttpSigError::BadSignature)
        );
        assert_eq!(
            verify(&pk, "POST", uri, &h, b"{}", 2_000),
            Err(HttpSigError::OutOfTime)
        );
        // Times far apart do not overflow the validity computation.
        let far = SignatureHeaders {
            signature_input: format!(
                "sig1=(\"@method\" \"@target-uri\" \"content-digest\");created={};expires={};keyid=\"fr-pc247\";alg=\"ed25519\"",
                i64::MIN,
                i64::MAX
            ),
            ..h.clone()
        };
        assert_eq!(
            verify(&pk, "POST", uri, &far, b"{}", 1_010),
            Err(HttpSigError::OutOfTime)
        );
        let other = NodeKey::from_seed([8; 32]).public_key();
        assert_eq!(
            verify(&other, "POST", uri, &h, b"{}", 1_010),
            Err(HttpSigError::BadSignature)
        );
    }
}
