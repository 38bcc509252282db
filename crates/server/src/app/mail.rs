//! E-mail over SMTP: the `[smtp]` settings. Sending is `app::mailer`.
//!
//! In `entraide.toml` (or `ENTRAIDE_SMTP__HOST`...):
//!
//! ```toml
//! [smtp]
//! host = "smtp.example.org"
//! tls = "starttls"           # "none", "starttls" (default) or "tls"
//! port = 587                 # default: 25, 587 or 465 after `tls`
//! username = "entraide"      # with password_file, or neither
//! password_file = "smtp-password"
//! from = "Entraide <entraide@example.org>"
//! ```

use std::path::Path;

use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};

use crate::app::edge::InvalidSetting;

/// `[smtp]` as written in the configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The SMTP server (a relay of the organisation).
    pub host: String,
    /// Default: 25 without TLS, 587 with STARTTLS, 465 with TLS.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: SmtpTls,
    /// Authenticate as this user (with `password_file`).
    #[serde(default)]
    pub username: Option<String>,
    /// The file holding the SMTP password (first line), relative to the
    /// data directory: the password itself is never in the configuration.
    #[serde(default)]
    pub password_file: Option<String>,
    /// The sender: `entraide@example.org` or `Entraide <entraide@example.org>`.
    pub from: String,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP: only for a relay on the same machine or private network.
    None,
    /// Plain connection upgraded with STARTTLS, which is required.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// Keys of `[smtp]`, for `ENTRAIDE_SMTP__*` variables.
pub const SMTP_KEYS: &[&str] = &["host", "port", "tls", "username", "password_file", "from"];

/// The checked SMTP settings.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// User name and password.
    pub credentials: Option<(String, String)>,
    pub from: String,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.credentials.as_ref().map(|(u, _)| u))
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpSettings {
    /// Plain SMTP to `host:port`, without authentication (a local relay;
    /// the tests' server).
    pub fn plain(host: &str, port: u16, from: &str) -> Self {
        Self {
            host: host.to_owned(),
            port,
            tls: SmtpTls::None,
            credentials: None,
            from: from.to_owned(),
        }
    }
}

fn invalid(key: &str, message: impl Into<String>) -> InvalidSetting {
    InvalidSetting {
        key: format!("smtp.{key}"),
        message: message.into(),
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl SmtpConfig {
    /// Checks the settings; reads the password file (relative to `data_dir`).
    pub fn check(&self, data_dir: &Path) -> Result<SmtpSettings, InvalidSetting> {
        let host = self.host.trim();
        if host.is_empty() || host.contains(['/', ' ', '@']) {
            return Err(invalid("host", "give the SMTP server's name or address"));
        }
        if self.port == Some(0) {
            return Err(invalid("port", "0 is not a port"));
        }
        self.from.parse::<Mailbox>().map_err(|e| {
            invalid(
                "from",
                format!(
                    "'{}' is not an address like Entraide <entraide@example.org>: {e}",
                    self.from
                ),
            )
        })?;
        let credentials = match (&self.username, &self.password_file) {
            (None, None) => None,
            (Some(user), Some(file)) => {
                if user.trim().is_empty() {
                    return Err(invalid("username", "must not be empty"));
                }
                // Never send a password in clear across a network.
                if self.tls == SmtpTls::None && !is_loopback(host) {
                    return Err(invalid(
                        "tls",
                        "authentication needs \"starttls\" or \"tls\" (the password would cross the network in clear)",
                    ));
                }
                let path = if Path::new(file).is_absolute() {
                    Path::new(file).to_path_buf()
                } else {
                    data_dir.join(file)
                };
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    invalid(
                        "password_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                let password = text.lines().next().unwrap_or_default().to_owned();
                if password.is_empty() {
                    return Err(invalid(
                        "password_file",
                        format!("{} holds no password", path.display()),
                    ));
                }
                Some((user.clone(), password))
            }
            (Some(_), None) => return Err(invalid("password_file", "give it with username")),
            (None, Some(_)) => return Err(invalid("username", "give it with password_file")),
        };
        let port = self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        });
        Ok(SmtpSettings {
            host: host.to_owned(),
            port,
            tls: self.tls,
            credentials,
            from: self.from.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> SmtpConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn ports_follow_the_protection() {
        let dir = tempfile::tempdir().unwrap();
        let s = config("host = \"smtp.example.org\"\nfrom = \"Entraide <e@example.org>\"\n")
            .check(dir.path())
            .unwrap();
        assert_eq!((s.tls, s.port), (SmtpTls::Starttls, 587));
        let s = config("host = \"smtp.example.org\"\ntls = \"tls\"\nfrom = \"e@example.org\"\n")
            .check(dir.path())
            .unwrap();
        assert_eq!(s.port, 465);
    }

    #[test]
    fn a_password_is_read_from_its_file_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret-pass\n").unwrap();
        let s = config(
            "host = \"smtp.example.org\"\nusername = \"node\"\npassword_file = \"pw\"\nfrom = \"e@example.org\"\n",
        )
        .check(dir.path())
        .unwrap();
        assert_eq!(s.credentials, Some(("node".into(), "s3cret-pass".into())));
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn refused_settings_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let e = config("host = \"smtp.example.org\"\nfrom = \"not an address\"\n")
            .check(dir.path())
            .unwrap_err();
        assert_eq!(e.key, "smtp.from");
        let e = config("host = \"smtp.example.org\"\nusername = \"u\"\nfrom = \"e@example.org\"\n")
            .check(dir.path())
            .unwrap_err();
        assert_eq!(e.key, "smtp.password_file");
        std::fs::write(dir.path().join("pw"), "x\n").unwrap();
        let e = config(
            "host = \"smtp.example.org\"\ntls = \"none\"\nusername = \"u\"\npassword_file = \"pw\"\nfrom = \"e@example.org\"\n",
        )
        .check(dir.path())
        .unwrap_err();
        assert_eq!(e.key, "smtp.tls");
        assert!(config(
            "host = \"127.0.0.1\"\ntls = \"none\"\nusername = \"u\"\npassword_file = \"pw\"\nfrom = \"e@example.org\"\n",
        )
        .check(dir.path())
        .is_ok());
    }

    #[test]
    fn the_section_is_read_from_the_file_and_the_environment() {
        use crate::app::config::{NodeConfig, CONFIG_FILE};
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "node_id = \"fr-node\"\n[smtp]\nhost = \"smtp.example.org\"\nfrom = \"e@example.org\"\n",
        )
        .unwrap();
        let env = vec![
            ("ENTRAIDE_SMTP__TLS".to_string(), "tls".to_string()),
            ("ENTRAIDE_SMTP__PORT".to_string(), "2465".to_string()),
        ];
        let settings = NodeConfig::load(dir.path(), env.into_iter())
            .unwrap()
            .settings(dir.path())
            .unwrap();
        let smtp = settings.smtp.unwrap();
        assert_eq!(
            (smtp.host.as_str(), smtp.tls, smtp.port),
            ("smtp.example.org", SmtpTls::Tls, 2465)
        );
        let env = vec![("ENTRAIDE_SMTP__PASWORD".to_string(), "x".to_string())];
        assert!(NodeConfig::load(dir.path(), env.into_iter()).is_err());
    }
}
