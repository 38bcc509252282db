//! What the node's edge enforces, as configured: who may read `/metrics`,
//! how many connections one client address may hold, how long a client
//! may take to send its request headers, and how much evidence an upload,
//! a case and the node may hold.
//!
//! In `entraide.toml`: `metrics_token` and `metrics_listen` at the top, the
//! rest in `[limits]` (`ENTRAIDE_METRICS_TOKEN`,
//! `ENTRAIDE_LIMITS__MAX_UPLOAD_BYTES`...).

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `[limits]` as written in the configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Connections one client address may hold open at once; more are
    /// closed as soon as they are accepted. Behind a reverse proxy every
    /// connection comes from the proxy: raise it there.
    #[serde(default = "default_connections_per_address")]
    pub connections_per_address: u32,
    /// Seconds a client may take to send a request's headers.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_seconds: u32,
    /// The largest evidence file (or package) accepted, in bytes.
    #[serde(default = "default_max_upload_bytes")]
    pub max_upload_bytes: u64,
    /// Evidence one case may hold, in bytes (0: no quota).
    #[serde(default)]
    pub case_quota_bytes: u64,
    /// Evidence the whole node may hold, in bytes (0: no quota).
    #[serde(default)]
    pub node_quota_bytes: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            connections_per_address: default_connections_per_address(),
            header_read_timeout_seconds: default_header_read_timeout(),
            max_upload_bytes: default_max_upload_bytes(),
            case_quota_bytes: 0,
            node_quota_bytes: 0,
        }
    }
}

fn default_connections_per_address() -> u32 {
    64
}
fn default_header_read_timeout() -> u32 {
    30
}
fn default_max_upload_bytes() -> u64 {
    2 * 1024 * 1024 * 1024
}

/// Keys of `[limits]`, for `ENTRAIDE_LIMITS__*` variables.
pub const LIMITS_KEYS: &[&str] = &[
    "connections_per_address",
    "header_read_timeout_seconds",
    "max_upload_bytes",
    "case_quota_bytes",
    "node_quota_bytes",
];

/// A refused setting: its key and why (`app::config` turns it into its
/// `ConfigError`).
#[derive(Debug)]
pub struct InvalidSetting {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid setting `{}`: {}", self.key, self.message)
    }
}

/// The largest size the database can record (sizes are stored as i64).
const LARGEST_SIZE: u64 = i64::MAX as u64;

/// The checked edge settings.
#[derive(Clone)]
pub struct EdgeSettings {
    /// The bearer token a scraper must present to read `/metrics`. Without
    /// it (and without `metrics_listen`) only administrators may.
    pub metrics_token: Option<String>,
    /// A separate address serving only `/metrics`; the main address then
    /// does not serve it at all.
    pub metrics_listen: Option<SocketAddr>,
    pub connections_per_address: usize,
    pub header_read_timeout: Duration,
    pub max_upload_bytes: u64,
    /// `None`: no quota.
    pub case_quota_bytes: Option<u64>,
    /// `None`: no quota.
    pub node_quota_bytes: Option<u64>,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        let c = LimitsConfig::default();
        Self {
            metrics_token: None,
            metrics_listen: None,
            connections_per_address: c.connections_per_address as usize,
            header_read_timeout: Duration::from_secs(u64::from(c.header_read_timeout_seconds)),
            max_upload_bytes: c.max_upload_bytes,
            case_quota_bytes: None,
            node_quota_bytes: None,
        }
    }
}

impl std::fmt::Debug for EdgeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeSettings")
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "***"))
            .field("metrics_listen", &self.metrics_listen)
            .field("connections_per_address", &self.connections_per_address)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("case_quota_bytes", &self.case_quota_bytes)
            .field("node_quota_bytes", &self.node_quota_bytes)
            .finish()
    }
}

impl EdgeSettings {
    /// Checks the configured values; an error names the key.
    pub fn check(
        metrics_token: Option<&str>,
        metrics_listen: Option<&str>,
        limits: &LimitsConfig,
    ) -> Result<Self, InvalidSetting> {
        let invalid = |key: &str, message: String| InvalidSetting {
            key: key.to_owned(),
            message,
        };
        let metrics_token = match metrics_token.map(str::trim) {
            None | Some("") => None,
            // A short token could be guessed by whoever can reach the node.
            Some(t) if t.len() < 16 => {
                return Err(invalid(
                    "metrics_token",
                    "must be at least 16 characters long".into(),
                ))
            }
            Some(t) => Some(t.to_owned()),
        };
        let metrics_listen = match metrics_listen.map(str::trim) {
            None | Some("") => None,
            Some(a) => Some(a.parse().map_err(|_| {
                invalid(
                    "metrics_listen",
                    format!("'{a}' is not an address like 127.0.0.1:9100"),
                )
            })?),
        };
        let within = |key: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(invalid(key, format!("{v} is outside {lo}..={hi}")))
            }
        };
        let connections = within(
            "limits.connections_per_address",
            u64::from(limits.connections_per_address),
            1,
            1_000_000,
        )?;
        let header_timeout = within(
            "limits.header_read_timeout_seconds",
            u64::from(limits.header_read_timeout_seconds),
            1,
            3600,
        )?;
        let quota =
            |key: &str, v: u64| within(key, v, 0, LARGEST_SIZE).map(|v| Some(v).filter(|v| *v > 0));
        Ok(Self {
            metrics_token,
            metrics_listen,
            connections_per_address: usize::try_from(connections).unwrap_or(usize::MAX),
            header_read_timeout: Duration::from_secs(header_timeout),
            max_upload_bytes: within(
                "limits.max_upload_bytes",
                limits.max_upload_bytes,
                1,
                LARGEST_SIZE,
            )?,
            case_quota_bytes: quota("limits.case_quota_bytes", limits.case_quota_bytes)?,
            node_quota_bytes: quota("limits.node_quota_bytes", limits.node_quota_bytes)?,
        })
    }

    /// Whether `presented` is the metrics token. Both sides are hashed
    /// first so that the comparison takes the same time whatever their
    /// lengths and contents.
    pub fn is_metrics_token(&self, presented: &str) -> bool {
        let Some(token) = &self.metrics_token else {
            return false;
        };
        let a = Sha256::digest(token.as_bytes());
        let b = Sha256::digest(presented.as_bytes());
        crate::app::credentials::constant_time_eq(&a, &b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_name_the_key_and_quotas_of_zero_are_none() {
        let ok = EdgeSettings::check(None, None, &LimitsConfig::default()).unwrap();
        assert_eq!(ok.connections_per_address, 64);
        assert_eq!(ok.max_upload_bytes, 2 * 1024 * 1024 * 1024);
        assert!(ok.case_quota_bytes.is_none() && ok.node_quota_bytes.is_none());
        let err = EdgeSettings::check(Some("short"), None, &LimitsConfig::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("metrics_token"), "{err}");
        let err = EdgeSettings::check(None, Some("nowhere"), &LimitsConfig::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("metrics_listen"), "{err}");
        let huge = LimitsConfig {
            max_upload_bytes: u64::MAX,
            ..Default::default()
        };
        let err = EdgeSettings::check(None, None, &huge)
            .unwrap_err()
            .to_string();
        assert!(err.contains("limits.max_upload_bytes"), "{err}");
    }

    #[test]
    fn the_metrics_token_is_compared_whole() {
        let s = EdgeSettings::check(
            Some("a-long-enough-metrics-token"),
            None,
            &LimitsConfig::default(),
        )
        .unwrap();
        assert!(s.is_metrics_token("a-long-enough-metrics-token"));
        assert!(!s.is_metrics_token("a-long-enough-metrics-toke"));
        assert!(!s.is_metrics_token(""));
        assert!(!format!("{s:?}").contains("a-long-enough"));
        assert!(!EdgeSettings::default().is_metrics_token(""));
    }
}
