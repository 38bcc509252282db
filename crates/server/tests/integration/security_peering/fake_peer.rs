//! A node that is not one, for the peering tests: it serves a signed node
//! document the test writes (forged, or changed as the node moves or rotates
//! its key) and answers every other request from its request line and
//! headers alone — never reading a body — then closes the connection, as a
//! receiver that refuses a request before its body does.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use entraide_evidence::signing::NODE_KEY_PATH;
use entraide_evidence::NodeKey;
use entraide_federation::{NodeDocument, NodeIdentity, SignedNodeDocument, WELL_KNOWN_PATH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

/// How the fake answers a request other than for its document: from the
/// method, the path and the announced body length, a status and its body.
pub type Answer = fn(method: &str, path: &str, content_length: u64) -> (u16, String);

pub struct FakePeer {
    pub url: String,
    /// Its keys live here.
    pub dir: tempfile::TempDir,
    document: Arc<Mutex<String>>,
    task: JoinHandle<()>,
}

impl Drop for FakePeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A problem+json body with `code`.
pub fn problem(status: u16, code: &str) -> (u16, String) {
    let body = serde_json::json!({
        "type": format!("urn:entraide:problem:{code}"), "title": "refused",
        "status": status, "code": code, "detail": "refused by the fake peer",
    });
    (status, body.to_string())
}

impl FakePeer {
    pub async fn start(answer: Answer) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let document = Arc::new(Mutex::new(String::new()));
        let served = document.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let served = served.clone();
                tokio::spawn(async move {
                    let _ = respond(socket, &served, answer).await;
                });
            }
        });
        Ok(Self {
            url,
            dir: tempfile::tempdir()?,
            document,
            task,
        })
    }

    /// Serves `signed` as its node document from now on.
    pub fn serve(&self, signed: &SignedNodeDocument) -> Result<()> {
        let text = serde_json::to_string(signed)?;
        *self
            .document
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))? = text;
        Ok(())
    }

    /// The fake's identity, its signing key kept in its directory.
    pub fn identity(&self) -> Result<NodeIdentity> {
        identity_in(self.dir.path())
    }
}

pub fn identity_in(dir: &Path) -> Result<NodeIdentity> {
    let key = NodeKey::load_or_create(&dir.join(NODE_KEY_PATH))?;
    Ok(NodeIdentity::load_or_create(dir, key)?)
}

/// A document such as a genuine node writes, reached at `url`.
pub fn document(
    identity: &NodeIdentity,
    node_id: &str,
    url: &str,
    now: time::OffsetDateTime,
) -> NodeDocument {
    NodeDocument {
        v: 1,
        node_id: node_id.into(),
        organisation: "Bundeskriminalamt".into(),
        country: "DE".into(),
        kind: "police-cyber-unit".into(),
        base_url: url.into(),
        keys: NodeDocument::keys_of(identity, "2026-01-01T00:00:00Z", now),
        languages: vec!["de".into(), "en".into()],
        request_types: vec!["expedited_preservation".into()],
        office_hours: "24/7".into(),
        time_zone: "Europe/Berlin".into(),
        issued_at: "2026-01-01T00:00:00Z".into(),
    }
}

/// Reads the request line and headers, answers, and closes — whatever
/// body follows is left unread.
async fn respond(
    mut socket: tokio::net::TcpStream,
    document: &Mutex<String>,
    answer: Answer,
) -> Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut words = text.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let content_length = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let (status, body) = if path == WELL_KNOWN_PATH {
        let doc = document
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .clone();
        (200, doc)
    } else {
        answer(method, path, content_length)
    };
    let content_type = if status < 300 {
        "application/json"
    } else {
        "application/problem+json"
    };
    let reply = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(reply.as_bytes()).await?;
    socket.flush().await?;
    // Closed with the body unread, as a receiver refusing early does.
    Ok(())
}
