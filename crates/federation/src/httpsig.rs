//! HTTP message signatures (RFC 9421, the subset nodes use): the request's
//! method, target URI and `Content-Digest` (RFC 9530, SHA-256 of the body)
//! are signed with the sender's Ed25519 key, with creation and expiry times
//! and the sender's node id as key id.

use base64::Engine;
use entraide_evidence::{NodeKey, PublicKey};
use sha2::{Digest, Sha256};

/// How long a signed request stays valid.
pub const VALIDITY_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    pub content_digest: String,
    pub signature_input: String,
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpSigError {
    #[error(
        "the request is not signed (Signature-Input, Signature and Content-Digest are required)"
    )]
    Missing,
    #[error("the request signature is malformed: {0}")]
    Malformed(&'static str),
    #[error("the body does not match its Content-Digest")]
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

fn params(created: i64, expires: i64, keyid: &str) -> String {
    format!(
        "(\"@method\" \"@target-uri\" \"content-digest\");created={created};expires={expires};keyid=\"{keyid}\";alg=\"ed25519\""
    )
}

fn base(method: &str, target_uri: &str, digest: &str, params: &str) -> String {
    format!(
        "\"@method\": {}\n\"@target-uri\": {target_uri}\n\"content-digest\": {digest}\n\"@signature-params\": {params}",
        method.to_ascii_uppercase()
    )
}

/// The headers that sign a request.
pub fn sign(
    key: &NodeKey,
    keyid: &str,
    method: &str,
    target_uri: &str,
    body: &[u8],
    now_unix: i64,
) -> SignatureHeaders {
    let digest = content_digest(body);
    let p = params(now_unix, now_unix + VALIDITY_SECONDS, keyid);
    let signature_hex = key.sign(base(method, target_uri, &digest, &p).as_bytes());
    let raw = hex::decode(signature_hex).unwrap_or_default();
    SignatureHeaders {
        content_digest: digest,
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

/// Checks a signed request against the sender's pinned key.
pub fn verify(
    key: &PublicKey,
    method: &str,
    target_uri: &str,
    headers: &SignatureHeaders,
    body: &[u8],
    now_unix: i64,
) -> Result<(), HttpSigError> {
    if content_digest(body) != headers.content_digest {
        return Err(HttpSigError::DigestMismatch);
    }
    let p = headers
        .signature_input
        .strip_prefix("sig1=")
        .ok_or(HttpSigError::Malformed("label"))?;
    if !p.starts_with("(\"@method\" \"@target-uri\" \"content-digest\");") {
        return Err(HttpSigError::Malformed("covered components"));
    }
    let created = number(p, "created")?;
    let expires = number(p, "expires")?;
    // Checked: a negative `created` with a far `expires` must not overflow
    // (a panic in debug builds, and in release a wrapped difference that
    // passed for a short validity).
    let validity = expires.checked_sub(created).unwrap_or(i64::MAX);
    if now_unix.saturating_add(300) < created || now_unix > expires || validity > 3600 {
        return Err(HttpSigError::OutOfTime);
    }
    let sig = headers
        .signature
        .strip_prefix("sig1=:")
        .and_then(|s| s.strip_suffix(':'))
        .ok_or(HttpSigError::Malformed("signature"))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .map_err(|_| HttpSigError::Malformed("signature encoding"))?;
    if key.verify(
        base(method, target_uri, &headers.content_digest, p).as_bytes(),
        &hex::encode(raw),
    ) {
        Ok(())
    } else {
        Err(HttpSigError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
