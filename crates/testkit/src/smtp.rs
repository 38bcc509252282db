//! A real SMTP server for tests: `scripts/smtp_sink.py` (aiosmtpd) run with
//! the Python named by `ENTRAIDE_TEST_AIOSMTPD` (`.ci/run` installs it in a
//! virtual environment and sets it). Every mail it accepts is written,
//! decoded, as a JSON file in a temporary directory, where the test reads
//! it.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use entraide_server::app::mail::SmtpSettings;
use serde::Deserialize;
use tempfile::TempDir;

/// The variable naming the Python that has aiosmtpd.
pub const AIOSMTPD_VAR: &str = "ENTRAIDE_TEST_AIOSMTPD";

/// A mail as the server received it.
#[derive(Debug, Clone, Deserialize)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub message_id: String,
}

impl ReceivedMail {
    /// The first address in the body starting with `prefix`, up to the
    /// end of its line.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let start = self.body.find(prefix)?;
        let rest = &self.body[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        Some(rest[..end].to_owned())
    }
}

/// The running server; stopped when dropped.
pub struct SmtpServer {
    pub port: u16,
    dir: TempDir,
    child: Child,
}

impl SmtpServer {
    /// Starts the server, or says why the test is skipped and returns
    /// `None` when `ENTRAIDE_TEST_AIOSMTPD` is not set (CI sets it).
    pub fn start() -> Result<Option<Self>> {
        let Some(python) = std::env::var_os(AIOSMTPD_VAR).filter(|p| !p.is_empty()) else {
            eprintln!(
                "skipped: set {AIOSMTPD_VAR} to a Python with aiosmtpd (as .ci/run does) to run this test against a real SMTP server"
            );
            return Ok(None);
        };
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp_sink.py");
        let dir = tempfile::tempdir()?;
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", Path::new(&python).display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Ok(port) = line.trim().parse::<u16>() else {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let _ = child.wait();
            bail!("the SMTP server did not start: {err}");
        };
        Ok(Some(Self { port, dir, child }))
    }

    /// Settings sending to this server (plain SMTP on 127.0.0.1).
    pub fn settings(&self) -> SmtpSettings {
        SmtpSettings::plain("127.0.0.1", self.port, "Entraide <entraide@test.example>")
    }

    /// Every mail received so far.
    pub fn mails(&self) -> Result<Vec<ReceivedMail>> {
        let mut mails = Vec::new();
        for entry in std::fs::read_dir(self.dir.path())? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                mails.push(serde_json::from_slice(&std::fs::read(&path)?)?);
            }
        }
        Ok(mails)
    }

    /// The mails received for `to`.
    pub fn mails_to(&self, to: &str) -> Result<Vec<ReceivedMail>> {
        Ok(self
            .mails()?
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .collect())
    }

    /// Waits until `count` mails for `to` have arrived (the node sends in
    /// the background), at most 30 seconds.
    pub async fn wait_for(&self, to: &str, count: usize) -> Result<Vec<ReceivedMail>> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mails = self.mails_to(to)?;
            if mails.len() >= count {
                return Ok(mails);
            }
            if Instant::now() > deadline {
                bail!(
                    "{} mail(s) for {to} after 30 s, expected {count}",
                    mails.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
