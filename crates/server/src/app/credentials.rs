//! Credentials: Argon2id passwords, API tokens (SHA-256 at rest: they are
//! high-entropy), session identifiers, CSRF tokens and TOTP (RFC 6238)
//! second factors.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use entraide_domain::NewPassword;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use totp_rs::{Secret, TOTP};

use crate::app::error::AppError;

/// Argon2id with the OWASP-recommended 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Argon2id is deliberately slow: keep it off the async workers.
pub async fn hash_password(password: NewPassword) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_password_blocking(&password))
        .await
        .map_err(|e| AppError::Internal(format!("hashing task failed: {e}")))?
}

pub async fn verify_password(hash: String, candidate: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || verify_password_blocking(&hash, &candidate))
        .await
        .map_err(|e| AppError::Internal(format!("verification task failed: {e}")))
}

fn hash_password_blocking(password: &NewPassword) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
}

/// Constant work whether or not the hash parses: a sign-in for an unknown
/// e-mail costs the same as one with a wrong password.
fn verify_password_blocking(stored_hash: &str, candidate: &str) -> bool {
    match PasswordHash::new(stored_hash) {
        Ok(parsed) => argon2()
            .verify_password(candidate.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, checked against when the e-mail is unknown.
pub fn decoy_hash() -> String {
    let mut bytes = [0u8; 24];
    OsRng.fill_bytes(&mut bytes);
    let candidate = hex::encode(bytes);
    NewPassword::parse(&candidate)
        .ok()
        .and_then(|p| hash_password_blocking(&p).ok())
        .unwrap_or_default()
}

pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub fn sha256_hex(data: &str) -> String {
    hex::encode(Sha256::digest(data.as_bytes()))
}

pub const TOKEN_PREFIX: &str = "ent_";

/// A new API token: the secret shown once, and the hash that is stored.
pub fn new_api_token() -> (String, String) {
    let secret = format!("{TOKEN_PREFIX}{}", random_token(32));
    let hash = sha256_hex(&secret);
    (secret, hash)
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new 160-bit TOTP secret, base32-encoded.
pub fn new_totp_secret() -> String {
    let mut bytes = [0u8; 20];
    OsRng.fill_bytes(&mut bytes);
    Secret::Raw(bytes.to_vec()).to_encoded().to_string()
}

fn totp(secret_base32: &str, account: &str, issuer: &str) -> Result<TOTP, AppError> {
    let bytes = Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .map_err(|e| AppError::Internal(format!("stored TOTP secret is invalid: {e:?}")))?;
    TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some(issuer.to_owned()),
        account.to_owned(),
    )
    .map_err(|e| AppError::Internal(format!("TOTP set-up failed: {e}")))
}

pub fn totp_uri(secret_base32: &str, account: &str, issuer: &str) -> Result<String, AppError> {
    Ok(totp(secret_base32, account, issuer)?.get_url())
}

/// Checks a 6-digit code at `unix_time`, allowing one 30-second step of
/// clock drift either way. Returns the time step that matched, so the
/// caller can refuse a code that was already used (RFC 6238 §5.2).
pub fn verify_totp(
    secret_base32: &str,
    code: &str,
    unix_time: u64,
) -> Result<Option<u64>, AppError> {
    let code = code.trim().replace(' ', "");
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Ok(None);
    }
    let t = totp(secret_base32, "user", "Entraide")?;
    for step in [
        unix_time / 30,
        (unix_time / 30).saturating_sub(1),
        unix_time / 30 + 1,
    ] {
        if constant_time_eq(t.generate(step * 30).as_bytes(), code.as_bytes()) {
            return Ok(Some(step));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify() {
        let p = NewPassword::parse("a long enough passphrase").unwrap();
        let h = hash_password_blocking(&p).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password_blocking(&h, "a long enough passphrase"));
        assert!(!verify_password_blocking(&h, "a long enough passphrasE"));
        assert!(!verify_password_blocking("not a hash", "x"));
    }

    #[test]
    fn tokens_are_prefixed_and_hashed() {
        let (secret, hash) = new_api_token();
        assert!(secret.starts_with(TOKEN_PREFIX));
        assert_eq!(hash, sha256_hex(&secret));
        assert_eq!(hash.len(), 64);
    }

    #[test]
    fn totp_matches_rfc6238_and_tolerates_one_step() {
        // RFC 6238 appendix B: SHA-1 secret "12345678901234567890", T = 59 s
        // gives 94287082 (8 digits); the 6-digit code is its last six.
        let secret = Secret::Raw(b"12345678901234567890".to_vec())
            .to_encoded()
            .to_string();
        assert_eq!(verify_totp(&secret, "287082", 59).unwrap(), Some(1));
        assert_eq!(verify_totp(&secret, "287082", 59 + 30).unwrap(), Some(1));
        assert_eq!(verify_totp(&secret, "287082", 59 + 90).unwrap(), None);
        assert_eq!(verify_totp(&secret, "28708", 59).unwrap(), None);
    }
}
