//! Node configuration: `entraide.toml` in the data directory, overridden by
//! `ENTRAIDE_*` environment variables (`ENTRAIDE_LISTEN`,
//! `ENTRAIDE_DATABASE_URL`, `ENTRAIDE_SECURITY__SESSION_IDLE_MINUTES`: a
//! double underscore separates a section from its key). Everything is
//! checked at start-up and an error names the offending key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use entraide_domain::{LockoutPolicy, NodeId, SessionPolicy};
use serde::{Deserialize, Serialize};

pub const CONFIG_FILE: &str = "entraide.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid setting `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("unknown environment variable {0}: no such setting")]
    UnknownVariable(String),
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub node_id: String,
    #[serde(default = "default_listen")]
    pub listen: String,
    /// `sqlite://PATH` (default, relative to the data directory) or
    /// `postgres://...`.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// Size of the database connection pool (default: 8 on SQLite; on
    /// PostgreSQL twice the number of cores, between 4 and 32).
    #[serde(default)]
    pub database_max_connections: Option<u32>,
    #[serde(default = "default_blob_dir")]
    pub blob_dir: String,
    /// The address people and other nodes use to reach this node: links in
    /// e-mails and reminders, and the address its node document announces,
    /// which peers record when they add it and send to from then on (behind
    /// a reverse proxy, the proxy's `https://` address). Without it, the
    /// address the node listens on.
    #[serde(default)]
    pub public_url: Option<String>,
    /// The bearer token a scraper presents to read `/metrics` (at least 16
    /// characters; better given as ENTRAIDE_METRICS_TOKEN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_token: Option<String>,
    /// A separate address serving only `/metrics` (e.g. 127.0.0.1:9100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<String>,
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    #[serde(default)]
    pub security: SecurityConfig,
    #[serde(default)]
    pub reminders: Option<RemindersConfig>,
    /// Evidence content on S3-compatible object storage instead of
    /// `blob_dir` (which then only stages ingests).
    #[serde(default)]
    pub s3: Option<S3Config>,
    /// What the node document tells other nodes.
    #[serde(default)]
    pub federation: FederationConfig,
    /// Deadline durations, overridable per counterpart country or
    /// arrangement (`[deadlines.countries.AR] preservation_days = 90`).
    #[serde(default)]
    pub deadlines: DeadlinesConfig,
    /// Connections per address, header timeout, upload sizes and quotas.
    #[serde(default)]
    pub limits: crate::app::edge::LimitsConfig,
    /// Sending e-mail (password reset links); none without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<crate::app::mail::SmtpConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeadlinesConfig {
    #[serde(flatten)]
    pub default: entraide_domain::request::DeadlineRules,
    #[serde(default)]
    pub countries: std::collections::BTreeMap<String, entraide_domain::request::DeadlineRules>,
}

/// The checked deadline rules: the default and those agreed with particular
/// counterparts.
#[derive(Debug, Clone, Default)]
pub struct Deadlines {
    pub default: entraide_domain::request::DeadlineRules,
    pub countries: std::collections::HashMap<
        entraide_domain::CountryCode,
        entraide_domain::request::DeadlineRules,
    >,
}

impl Deadlines {
    pub fn for_country(
        &self,
        country: Option<entraide_domain::CountryCode>,
    ) -> entraide_domain::request::DeadlineRules {
        country
            .and_then(|c| self.countries.get(&c).copied())
            .unwrap_or(self.default)
    }
}

fn check_rules(key: &str, r: &entraide_domain::request::DeadlineRules) -> Result<(), ConfigError> {
    for (name, v, max) in [
        ("preservation_days", r.preservation_days, 3650),
        (
            "domestic_preservation_days",
            r.domestic_preservation_days,
            3650,
        ),
        ("eu_preservation_days", r.eu_preservation_days, 3650),
        (
            "eu_preservation_extension_days",
            r.eu_preservation_extension_days,
            3650,
        ),
        ("eu_production_days", r.eu_production_days, 3650),
        ("emergency_hours", r.emergency_hours, 24 * 30),
        ("cets224_provider_days", r.cets224_provider_days, 3650),
        ("due_soon_hours", r.due_soon_hours, 24 * 90),
        (
            "enforcing_objection_hours",
            r.enforcing_objection_hours,
            24 * 30,
        ),
        ("enforcing_refusal_days", r.enforcing_refusal_days, 3650),
    ] {
        if !(1..=max).contains(&v) {
            return Err(invalid(
                &format!("{key}.{name}"),
                format!("{v} is outside 1..={max}"),
            ));
        }
    }
    Ok(())
}

/// What this node tells other nodes about itself (its node document).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationConfig {
    /// Languages requests may be written in (ISO 639-1).
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    /// Request kinds accepted (default: all).
    #[serde(default)]
    pub request_types: Option<Vec<String>>,
    #[serde(default = "default_office_hours")]
    pub office_hours: String,
    /// IANA time zone, e.g. `Europe/Paris`.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// How long the body of a request from another node may take to
    /// arrive, in seconds (1 to 600); slower is answered 408.
    #[serde(default = "default_body_read_timeout")]
    pub body_read_timeout_seconds: u32,
    /// Requests from other nodes whose bodies are read at once from one
    /// client address (1 to 1024); more are answered 429.
    #[serde(default = "default_body_reads_per_address")]
    pub body_reads_per_address: u32,
    /// Refused requests from other nodes are audited once per client
    /// address and reason over this many seconds (1 to 3600), with a count.
    #[serde(default = "default_refusal_summary")]
    pub refusal_summary_seconds: u32,
    /// A message a peer refuses because it has not added this node yet
    /// (`unknown_sender`) is tried again after this many seconds, then
    /// twice as long each time...
    #[serde(default = "default_peer_wait_first")]
    pub peer_wait_first_seconds: u32,
    /// ...up to this many seconds between attempts, until it expires.
    #[serde(default = "default_peer_wait_max")]
    pub peer_wait_max_seconds: u32,
}

impl Default for FederationConfig {
    fn default() -> Self {
        Self {
            languages: default_languages(),
            request_types: None,
            office_hours: default_office_hours(),
            time_zone: default_time_zone(),
            body_read_timeout_seconds: default_body_read_timeout(),
            body_reads_per_address: default_body_reads_per_address(),
            refusal_summary_seconds: default_refusal_summary(),
            peer_wait_first_seconds: default_peer_wait_first(),
            peer_wait_max_seconds: default_peer_wait_max(),
        }
    }
}

fn default_peer_wait_first() -> u32 {
    60
}

fn default_peer_wait_max() -> u32 {
    3600
}

fn default_body_read_timeout() -> u32 {
    30
}

fn default_body_reads_per_address() -> u32 {
    8
}

fn default_refusal_summary() -> u32 {
    60
}

fn seconds(n: u32) -> std::time::Duration {
    std::time::Duration::from_secs(u64::from(n))
}

fn default_languages() -> Vec<String> {
    vec!["en".into()]
}

fn default_office_hours() -> String {
    "24/7".into()
}

fn default_time_zone() -> String {
    "UTC".into()
}

/// The checked federation settings.
#[derive(Debug, Clone)]
pub struct FederationSettings {
    pub languages: Vec<String>,
    pub request_types: Vec<String>,
    pub office_hours: String,
    pub time_zone: String,
    /// How long a federation request's body may take to arrive.
    pub body_read_timeout: std::time::Duration,
    /// Federation requests whose bodies are read at once per address.
    pub body_reads_per_address: u32,
    /// Refusals are audited once per address and reason per interval.
    pub refusal_summary_interval: std::time::Duration,
    /// Waiting for a peer to add this node: the first delay, doubled at
    /// each attempt up to `peer_wait_max`.
    pub peer_wait_first: std::time::Duration,
    pub peer_wait_max: std::time::Duration,
}

impl Default for FederationSettings {
    fn default() -> Self {
        Self {
            languages: default_languages(),
            request_types: entraide_domain::request::RequestKind::ALL
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
            office_hours: default_office_hours(),
            time_zone: default_time_zone(),
            body_read_timeout: seconds(default_body_read_timeout()),
            body_reads_per_address: default_body_reads_per_address(),
            refusal_summary_interval: seconds(default_refusal_summary()),
            peer_wait_first: std::time::Duration::from_secs(default_peer_wait_first().into()),
            peer_wait_max: std::time::Duration::from_secs(default_peer_wait_max().into()),
        }
    }
}

/// S3-compatible object storage for evidence content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// `https://s3.eu-west-3.amazonaws.com`, `http://127.0.0.1:9000`...
    pub endpoint: String,
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    pub access_key_id: String,
    /// Better given as ENTRAIDE_S3__SECRET_ACCESS_KEY than in the file.
    pub secret_access_key: String,
    /// Path-style addresses (`endpoint/bucket/key`), as most self-hosted
    /// servers want; false for virtual-host style.
    #[serde(default = "default_true")]
    pub path_style: bool,
}

fn default_region() -> String {
    "us-east-1".into()
}

fn default_true() -> bool {
    true
}

/// The checked object-storage settings.
#[derive(Clone)]
pub struct S3Settings {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub path_style: bool,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

/// Deadline reminders posted to a webhook (JSON, signed with HMAC-SHA256
/// in `X-Entraide-Signature` when a secret is set).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemindersConfig {
    pub webhook_url: String,
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// How long before a deadline the reminder goes out.
    #[serde(default = "default_remind_hours")]
    pub hours_before: u32,
}

fn default_remind_hours() -> u32 {
    7 * 24
}

/// The checked reminder settings.
#[derive(Debug, Clone)]
pub struct Reminders {
    pub webhook_url: String,
    pub webhook_secret: Option<String>,
    pub lead: time::Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert_file: String,
    pub key_file: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    #[serde(default = "default_idle")]
    pub session_idle_minutes: u32,
    #[serde(default = "default_absolute")]
    pub session_absolute_hours: u32,
    #[serde(default = "default_max_failures")]
    pub lockout_max_failures: u32,
    #[serde(default = "default_lockout_minutes")]
    pub lockout_minutes: u32,
    /// Sign-in attempts accepted per client address and minute.
    #[serde(default = "default_attempts")]
    pub sign_in_attempts_per_minute: u32,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            session_idle_minutes: default_idle(),
            session_absolute_hours: default_absolute(),
            lockout_max_failures: default_max_failures(),
            lockout_minutes: default_lockout_minutes(),
            sign_in_attempts_per_minute: default_attempts(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_database_url() -> String {
    "sqlite://entraide.db".into()
}
fn default_blob_dir() -> String {
    "blobs".into()
}
fn default_idle() -> u32 {
    30
}
fn default_absolute() -> u32 {
    12
}
fn default_max_failures() -> u32 {
    5
}
fn default_lockout_minutes() -> u32 {
    15
}
fn default_attempts() -> u32 {
    30
}

/// The configuration once checked: paths resolved, values typed.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub node_id: NodeId,
    pub listen: SocketAddr,
    pub database_url: String,
    pub database_max_connections: Option<u32>,
    pub blob_dir: PathBuf,
    pub public_url: Option<String>,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub sessions: SessionPolicy,
    pub lockout: LockoutPolicy,
    pub sign_in_attempts_per_minute: u32,
    pub reminders: Option<Reminders>,
    pub deadlines: Deadlines,
    pub s3: Option<S3Settings>,
    pub federation: FederationSettings,
    /// Metrics access, connection limits, upload sizes and quotas.
    pub edge: crate::app::edge::EdgeSettings,
    /// The SMTP server mail goes through; `None`: no mail is sent (and no
    /// self-service password reset is offered).
    pub smtp: Option<crate::app::mail::SmtpSettings>,
}

/// Variables that belong to tooling rather than to the node settings.
const NOT_SETTINGS: [&str; 4] = [
    "ENTRAIDE_LOG",
    "ENTRAIDE_DATA_DIR",
    "ENTRAIDE_LOG_FORMAT",
    "ENTRAIDE_TEST_",
];

impl NodeConfig {
    pub fn new(node_id: &NodeId, database_url: Option<String>) -> Self {
        Self {
            node_id: node_id.to_string(),
            listen: default_listen(),
            database_url: database_url.unwrap_or_else(default_database_url),
            database_max_connections: None,
            blob_dir: default_blob_dir(),
            public_url: None,
            metrics_token: None,
            metrics_listen: None,
            tls: None,
            security: SecurityConfig::default(),
            reminders: None,
            s3: None,
            federation: FederationConfig::default(),
            deadlines: DeadlinesConfig::default(),
            limits: crate::app::edge::LimitsConfig::default(),
            smtp: None,
        }
    }

    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string_pretty(self).map_err(|e| invalid("*", e.to_string()))
    }

    /// Reads `entraide.toml` from `data_dir` and applies the environment.
    pub fn load(
        data_dir: &Path,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let path = data_dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
            path: path.clone(),
            message: e.to_string(),
        })?;
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix("ENTRAIDE_") else {
                continue;
            };
            if NOT_SETTINGS.iter().any(|p| name.starts_with(p)) {
                continue;
            }
            let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(raw));
            set_path(&mut table, &keys, value)
                .map_err(|()| ConfigError::UnknownVariable(name.clone()))?;
        }
        let merged = toml::to_string(&table).map_err(|e| invalid("*", e.to_string()))?;
        toml::from_str(&merged).map_err(|e| {
            match e.span().and_then(|span| key_at(&merged, span.start)) {
                Some(key) => invalid(
                    &key,
                    format!(
                        "{} (in {} or ENTRAIDE_* variables)",
                        e.message(),
                        path.display()
                    ),
                ),
                None => ConfigError::Syntax {
                    path: path.clone(),
                    message: e.message().to_owned(),
                },
            }
        })
    }

    pub fn settings(&self, data_dir: &Path) -> Result<Settings, ConfigError> {
        let node_id = NodeId::parse(&self.node_id).map_err(|e| invalid("node_id", e.message))?;
        let listen: SocketAddr = self.listen.parse().map_err(|_| {
            invalid(
                "listen",
                format!("'{}' is not an address like 127.0.0.1:8080", self.listen),
            )
        })?;
        let database_url = resolve_database_url(&self.database_url, data_dir)?;
        let tls = match &self.tls {
            None => None,
            Some(t) => {
                let cert = resolve(data_dir, &t.cert_file);
                let key = resolve(data_dir, &t.key_file);
                if !cert.is_file() {
                    return Err(invalid(
                        "tls.cert_file",
                        format!("{} does not exist", cert.display()),
                    ));
                }
                if !key.is_file() {
                    return Err(invalid(
                        "tls.key_file",
                        format!("{} does not exist", key.display()),
                    ));
                }
                Some((cert, key))
            }
        };
        // Checked as peers check the address this node's document
        // announces: what passes here passes there.
        let public_url = match &self.public_url {
            Some(url) => Some(
                entraide_domain::NodeUrl::parse(url)
                    .map_err(|e| invalid("public_url", e.message))?
                    .to_string(),
            ),
            None => None,
        };
        let s = &self.security;
        let range = |key: &str, v: u32, lo: u32, hi: u32| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(invalid(key, format!("{v} is outside {lo}..={hi}")))
            }
        };
        range(
            "security.session_idle_minutes",
            s.session_idle_minutes,
            1,
            24 * 60,
        )?;
        range(
            "security.session_absolute_hours",
            s.session_absolute_hours,
            1,
            24 * 7,
        )?;
        range(
            "security.lockout_max_failures",
            s.lockout_max_failures,
            1,
            100,
        )?;
        range("security.lockout_minutes", s.lockout_minutes, 1, 24 * 60)?;
        range(
            "security.sign_in_attempts_per_minute",
            s.sign_in_attempts_per_minute,
            1,
            10_000,
        )?;
        check_rules("deadlines", &self.deadlines.default)?;
        let mut countries = std::collections::HashMap::new();
        for (code, rules) in &self.deadlines.countries {
            let key = format!("deadlines.countries.{code}");
            let country =
                entraide_domain::CountryCode::parse(code).map_err(|e| invalid(&key, e.message))?;
            check_rules(&key, rules)?;
            countries.insert(country, *rules);
        }
        let edge = crate::app::edge::EdgeSettings::check(
            self.metrics_token.as_deref(),
            self.metrics_listen.as_deref(),
            &self.limits,
        )
        .map_err(|e| invalid(&e.key, e.message))?;
        let smtp = match &self.smtp {
            None => None,
            Some(c) => Some(c.check(data_dir).map_err(|e| invalid(&e.key, e.message))?),
        };
        Ok(Settings {
            smtp,
            edge,
            deadlines: Deadlines {
                default: self.deadlines.default,
                countries,
            },
            data_dir: data_dir.to_path_buf(),
            node_id,
            listen,
            database_url,
            database_max_connections: self.database_max_connections,
            blob_dir: resolve(data_dir, &self.blob_dir),
            public_url,
            tls,
            sessions: SessionPolicy {
                idle: time::Duration::minutes(i64::from(s.session_idle_minutes)),
                absolute: time::Duration::hours(i64::from(s.session_absolute_hours)),
            },
            lockout: LockoutPolicy {
                max_failures: s.lockout_max_failures,
                lock_for: time::Duration::minutes(i64::from(s.lockout_minutes)),
            },
            sign_in_attempts_per_minute: s.sign_in_attempts_per_minute,
            federation: {
                let f = &self.federation;
                for l in &f.languages {
                    if !(l.len() == 2 && l.chars().all(|c| c.is_ascii_lowercase())) {
                        return Err(invalid(
                            "federation.languages",
                            format!("'{l}' is not an ISO 639-1 code such as fr or en"),
                        ));
                    }
                }
                let request_types = match &f.request_types {
                    None => FederationSettings::default().request_types,
                    Some(list) => {
                        for k in list {
                            k.parse::<entraide_domain::request::RequestKind>()
                                .map_err(|e| invalid("federation.request_types", e.message))?;
                        }
                        list.clone()
                    }
                };
                range(
                    "federation.peer_wait_first_seconds",
                    f.peer_wait_first_seconds,
                    1,
                    3600,
                )?;
                range(
                    "federation.peer_wait_max_seconds",
                    f.peer_wait_max_seconds,
                    f.peer_wait_first_seconds,
                    24 * 3600,
                )?;
                range(
                    "federation.body_read_timeout_seconds",
                    f.body_read_timeout_seconds,
                    1,
                    600,
                )?;
                range(
                    "federation.body_reads_per_address",
                    f.body_reads_per_address,
                    1,
                    1024,
                )?;
                range(
                    "federation.refusal_summary_seconds",
                    f.refusal_summary_seconds,
                    1,
                    3600,
                )?;
                FederationSettings {
                    languages: f.languages.clone(),
                    request_types,
                    office_hours: f.office_hours.clone(),
                    time_zone: f.time_zone.clone(),
                    body_read_timeout: seconds(f.body_read_timeout_seconds),
                    body_reads_per_address: f.body_reads_per_address,
                    refusal_summary_interval: seconds(f.refusal_summary_seconds),
                    peer_wait_first: std::time::Duration::from_secs(
                        f.peer_wait_first_seconds.into(),
                    ),
                    peer_wait_max: std::time::Duration::from_secs(f.peer_wait_max_seconds.into()),
                }
            },
            s3: match &self.s3 {
                None => None,
                Some(c) => {
                    if !(c.endpoint.starts_with("https://") || c.endpoint.starts_with("http://")) {
                        return Err(invalid(
                            "s3.endpoint",
                            "must start with https:// or http://",
                        ));
                    }
                    for (key, value) in [
                        ("s3.bucket", &c.bucket),
                        ("s3.access_key_id", &c.access_key_id),
                        ("s3.secret_access_key", &c.secret_access_key),
                    ] {
                        if value.trim().is_empty() {
                            return Err(invalid(key, "must not be empty"));
                        }
                    }
                    Some(S3Settings {
                        endpoint: c.endpoint.clone(),
                        bucket: c.bucket.clone(),
                        region: c.region.clone(),
                        access_key_id: c.access_key_id.clone(),
                        secret_access_key: c.secret_access_key.clone(),
                        path_style: c.path_style,
                    })
                }
            },
            reminders: match &self.reminders {
                None => None,
                Some(r) => {
                    if !(r.webhook_url.starts_with("https://")
                        || r.webhook_url.starts_with("http://"))
                    {
                        return Err(invalid(
                            "reminders.webhook_url",
                            "must start with https:// (or http:// on a private network)",
                        ));
                    }
                    range("reminders.hours_before", r.hours_before, 1, 24 * 90)?;
                    Some(Reminders {
                        webhook_url: r.webhook_url.clone(),
                        webhook_secret: r.webhook_secret.clone().filter(|s| !s.is_empty()),
                        lead: time::Duration::hours(i64::from(r.hours_before)),
                    })
                }
            },
        })
    }
}

/// The dotted key (`security.lockout_minutes`) written at byte `offset`.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = text.get(line_start..)?.lines().next()?;
    let key = line.split('=').next()?.trim();
    if key.is_empty() || key.starts_with('[') {
        return None;
    }
    let section = before
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('['))
        .map(|l| l.trim().trim_matches(['[', ']']).to_owned());
    Some(match section {
        Some(s) => format!("{s}.{key}"),
        None => key.to_owned(),
    })
}

fn resolve(data_dir: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        data_dir.join(path)
    }
}

/// `sqlite://relative.db` is resolved against the data directory.
pub fn resolve_database_url(url: &str, data_dir: &Path) -> Result<String, ConfigError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(invalid("database_url", "sqlite:// needs a file path"));
        }
        Ok(format!("sqlite://{}", resolve(data_dir, path).display()))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url.to_owned())
    } else {
        Err(invalid(
            "database_url",
            "must start with sqlite:// or postgres:// (the password, if any, is not shown here)",
        ))
    }
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), ()> {
    const SECTIONS: [(&str, &[&str]); 8] = [
        (
            "",
            &[
                "node_id",
                "listen",
                "database_url",
                "database_max_connections",
                "blob_dir",
                "public_url",
                "metrics_token",
                "metrics_listen",
            ],
        ),
        ("limits", crate::app::edge::LIMITS_KEYS),
        ("smtp", crate::app::mail::SMTP_KEYS),
        ("tls", &["cert_file", "key_file"]),
        (
            "federation",
            &[
                "languages",
                "request_types",
                "office_hours",
                "time_zone",
                "body_read_timeout_seconds",
                "body_reads_per_address",
                "refusal_summary_seconds",
                "peer_wait_first_seconds",
                "peer_wait_max_seconds",
            ],
        ),
        (
            "s3",
            &[
                "endpoint",
                "bucket",
                "region",
                "access_key_id",
                "secret_access_key",
                "path_style",
            ],
        ),
        (
            "reminders",
            &["webhook_url", "webhook_secret", "hours_before"],
        ),
        (
            "security",
            &[
                "session_idle_minutes",
                "session_absolute_hours",
                "lockout_max_failures",
                "lockout_minutes",
                "sign_in_attempts_per_minute",
            ],
        ),
    ];
    match keys {
        [key] if SECTIONS[0].1.contains(&key.as_str()) => {
            table.insert(key.clone(), value);
            Ok(())
        }
        [section, key]
            if SECTIONS
                .iter()
                .any(|(s, ks)| !s.is_empty() && s == section && ks.contains(&key.as_str())) =>
        {
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => {
                    t.insert(key.clone(), value);
                    Ok(())
                }
                _ => Err(()),
            }
        }
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) {
        std::fs::write(dir.join(CONFIG_FILE), text).unwrap();
    }

    #[test]
    fn object_storage_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "node_id = \"fr-lab\"\n[s3]\nendpoint = \"http://127.0.0.1:9000\"\nbucket = \"evidence\"\naccess_key_id = \"lab\"\nsecret_access_key = \"from-file\"\n",
        );
        let env = vec![(
            "ENTRAIDE_S3__SECRET_ACCESS_KEY".to_owned(),
            "from-env".to_owned(),
        )];
        let settings = NodeConfig::load(dir.path(), env.into_iter())
            .unwrap()
            .settings(dir.path())
            .unwrap();
        let s3 = settings.s3.unwrap();
        assert_eq!(s3.secret_access_key, "from-env");
        assert_eq!(s3.region, "us-east-1");
        assert!(s3.path_style);
        assert!(
            !format!("{s3:?}").contains("from-env"),
            "the secret is never printed"
        );
        write(
            dir.path(),
            "node_id = \"fr-lab\"\n[s3]\nendpoint = \"ftp://x\"\nbucket = \"b\"\naccess_key_id = \"a\"\nsecret_access_key = \"s\"\n",
        );
        let err = NodeConfig::load(dir.path(), std::iter::empty())
            .unwrap()
            .settings(dir.path())
            .unwrap_err();
        assert!(err.to_string().contains("s3.endpoint"), "{err}");
    }

    #[test]
    fn inbound_federation_limits_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "node_id = \"fr-node\"\n[federation]\nbody_reads_per_address = 3\n",
        );
        let env = vec![(
            "ENTRAIDE_FEDERATION__BODY_READ_TIMEOUT_SECONDS".to_string(),
            "5".to_string(),
        )];
        let s = NodeConfig::load(dir.path(), env.into_iter())
            .unwrap()
            .settings(dir.path())
            .unwrap();
        let f = s.federation;
        assert_eq!(f.body_read_timeout, std::time::Duration::from_secs(5));
        assert_eq!(f.body_reads_per_address, 3);
        assert_eq!(
            f.refusal_summary_interval,
            std::time::Duration::from_secs(60)
        );
        write(
            dir.path(),
            "node_id = \"fr-node\"\n[federation]\nrefusal_summary_seconds = 0\n",
        );
        let err = NodeConfig::load(dir.path(), std::iter::empty())
            .unwrap()
            .settings(dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("federation.refusal_summary_seconds"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "node_id = \"fr-node\"\nlisten = \"127.0.0.1:9000\"\n",
        );
        let env = vec![
            ("ENTRAIDE_LISTEN".to_string(), "127.0.0.1:9100".to_string()),
            (
                "ENTRAIDE_SECURITY__LOCKOUT_MINUTES".to_string(),
                "3".to_string(),
            ),
            (
                "ENTRAIDE_TEST_DATABASE_URL".to_string(),
                "postgres://x".to_string(),
            ),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let cfg = NodeConfig::load(dir.path(), env.into_iter()).unwrap();
        let s = cfg.settings(dir.path()).unwrap();
        assert_eq!(s.listen.port(), 9100);
        assert_eq!(s.lockout.lock_for, time::Duration::minutes(3));
        assert!(s.database_url.ends_with("entraide.db"));
    }

    #[test]
    fn deadlines_per_counterpart_country() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "node_id = \"fr-node\"\n[deadlines]\npreservation_days = 70\n[deadlines.countries.AR]\npreservation_days = 90\n",
        );
        let s = NodeConfig::load(dir.path(), std::iter::empty())
            .unwrap()
            .settings(dir.path())
            .unwrap();
        let ar = entraide_domain::CountryCode::parse("AR").ok();
        let br = entraide_domain::CountryCode::parse("BR").ok();
        assert_eq!(s.deadlines.for_country(ar).preservation_days, 90);
        assert_eq!(s.deadlines.for_country(br).preservation_days, 70);
        assert_eq!(s.deadlines.for_country(None).emergency_hours, 8);

        write(
            dir.path(),
            "node_id = \"fr-node\"\n[deadlines.countries.XX]\npreservation_days = 90\n",
        );
        let err = NodeConfig::load(dir.path(), std::iter::empty())
            .unwrap()
            .settings(dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("deadlines.countries.XX"), "{err}");
        write(
            dir.path(),
            "node_id = \"fr-node\"\n[deadlines]\nemergency_hours = 0\n",
        );
        let err = NodeConfig::load(dir.path(), std::iter::empty())
            .unwrap()
            .settings(dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("deadlines.emergency_hours"), "{err}");
    }

    #[test]
    fn errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "node_id = \"fr-node\"\nlisten = \"nowhere\"\n");
        let err = NodeConfig::load(dir.path(), std::iter::empty())
            .unwrap()
            .settings(dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`listen`"), "{err}");

        write(
            dir.path(),
            "node_id = \"fr-node\"\nlisen = \"127.0.0.1:1\"\n",
        );
        let err = NodeConfig::load(dir.path(), std::iter::empty())
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");

        write(dir.path(), "node_id = \"fr-node\"\n");
        let env = vec![("ENTRAIDE_LISTN".to_string(), "x".to_string())];
        let err = NodeConfig::load(dir.path(), env.into_iter())
            .unwrap_err()
            .to_string();
        assert!(err.contains("ENTRAIDE_LISTN"), "{err}");

        let env = vec![(
            "ENTRAIDE_SECURITY__LOCKOUT_MINUTES".to_string(),
            "soon".to_string(),
        )];
        let err = NodeConfig::load(dir.path(), env.into_iter())
            .unwrap_err()
            .to_string();
        assert!(err.contains("lockout_minutes"), "{err}");
    }

    #[test]
    fn metrics_access_and_limits_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "node_id = \"fr-node\"\nmetrics_listen = \"127.0.0.1:9100\"\n[limits]\nconnections_per_address = 16\ncase_quota_bytes = 1000\n",
        );
        let env = vec![
            (
                "ENTRAIDE_METRICS_TOKEN".to_owned(),
                "a-token-from-the-environment".to_owned(),
            ),
            (
                "ENTRAIDE_LIMITS__MAX_UPLOAD_BYTES".to_owned(),
                "1048576".to_owned(),
            ),
        ];
        let config = NodeConfig::load(dir.path(), env.into_iter()).unwrap();
        let edge = config.settings(dir.path()).unwrap().edge;
        assert!(edge.is_metrics_token("a-token-from-the-environment"));
        assert_eq!(edge.metrics_listen, Some("127.0.0.1:9100".parse().unwrap()));
        assert_eq!(edge.connections_per_address, 16);
        assert_eq!(edge.max_upload_bytes, 1_048_576);
        assert_eq!(edge.case_quota_bytes, Some(1000));
        assert_eq!(edge.node_quota_bytes, None);
        // What `init` writes reads back the same.
        let written = NodeConfig::new(&NodeId::parse("fr-node").unwrap(), None)
            .to_toml()
            .unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), written).unwrap();
        let again = NodeConfig::load(dir.path(), std::iter::empty())
            .unwrap()
            .settings(dir.path())
            .unwrap()
            .edge;
        assert!(again.metrics_token.is_none() && again.metrics_listen.is_none());
        assert_eq!(again.connections_per_address, 64);
        let env = vec![(
            "ENTRAIDE_LIMITS__CONNECTIONS_PER_ADDRESS".to_owned(),
            "0".to_owned(),
        )];
        let err = NodeConfig::load(dir.path(), env.into_iter())
            .unwrap()
            .settings(dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("limits.connections_per_address"), "{err}");
    }
}
