//! Boots real Entraide nodes for tests, on `127.0.0.1:0` with a temporary
//! data directory, on SQLite or (when `ENTRAIDE_TEST_DATABASE_URL` is set) on
//! a fresh PostgreSQL database, and drives them over HTTP like a client or a
//! browser would.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use entraide_domain::{
    CountryCode, DisplayName, Email, LockoutPolicy, NewPassword, NodeId, OrganisationKind,
    OrganisationName, Role, RoleSet, SessionPolicy,
};
use entraide_server::account::service::create_token;
use entraide_server::admin::service::{create_user, initialise_node, NewNode};
use entraide_server::app::audit::Actor;
use entraide_server::app::config::Settings;
use entraide_server::{open_store, Node, RunningNode};
use entraide_store::Store;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT_LANGUAGE, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tempfile::TempDir;
use uuid::Uuid;

pub mod smtp;
pub use smtp::{ReceivedMail, SmtpServer};

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL server named by `ENTRAIDE_TEST_DATABASE_URL`, if any.
    pub fn postgres() -> Option<Backend> {
        std::env::var("ENTRAIDE_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(Backend::Postgres)
    }
}

/// Runs a test body on SQLite, and generates the PostgreSQL twin that says
/// it skipped when no server is configured.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() -> anyhow::Result<()> {
                    super::$name($crate::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() -> anyhow::Result<()> {
                    match $crate::Backend::postgres() {
                        Some(backend) => super::$name(backend).await,
                        None => {
                            eprintln!("skipped: set ENTRAIDE_TEST_DATABASE_URL to run this test on PostgreSQL");
                            Ok(())
                        }
                    }
                }
            }
        )*
    };
}

/// Knobs a test may turn before the node starts.
#[derive(Clone)]
pub struct Options {
    pub sessions: SessionPolicy,
    pub lockout: LockoutPolicy,
    pub sign_in_attempts_per_minute: u32,
    pub reminders: Option<entraide_server::app::config::Reminders>,
    /// Evidence content on S3-compatible storage instead of the data directory.
    pub s3: Option<entraide_server::app::config::S3Settings>,
    /// The node's id (default `test-node`).
    pub node_id: Option<String>,
    /// The organisation's kind (default: central authority).
    pub org_kind: Option<OrganisationKind>,
    /// Metrics access, connections per address, upload sizes and quotas.
    pub edge: entraide_server::app::edge::EdgeSettings,
    /// Serve HTTPS with this certificate and key (PEM files); `url` then
    /// still says `http://`: build the `https://` address from `addr`.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Federation settings (body read deadline, reads per address...).
    pub federation: entraide_server::app::config::FederationSettings,
    /// The SMTP server mail goes through (`SmtpServer::settings`).
    pub smtp: Option<entraide_server::app::mail::SmtpSettings>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sessions: SessionPolicy::default(),
            lockout: LockoutPolicy::default(),
            sign_in_attempts_per_minute: 1_000,
            reminders: None,
            s3: None,
            node_id: None,
            org_kind: None,
            edge: Default::default(),
            tls: None,
            federation: Default::default(),
            smtp: None,
        }
    }
}

pub struct TestNode {
    pub addr: SocketAddr,
    /// Where `/metrics` is served when `edge.metrics_listen` was given.
    pub metrics_addr: Option<SocketAddr>,
    /// The node's state, to call its operations directly (e.g. with a clock).
    pub state: entraide_server::app::state::AppState,
    pub url: String,
    pub store: Arc<dyn Store>,
    pub database_url: String,
    pub admin_email: String,
    _dir: TempDir,
    running: Option<RunningNode>,
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop();
        }
    }
}

async fn fresh_postgres(base: &str) -> Result<String> {
    use sqlx::Connection;
    let name = format!("entraide_test_{}", Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(base)
        .await
        .with_context(|| "cannot reach ENTRAIDE_TEST_DATABASE_URL")?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    let (prefix, _) = base
        .rsplit_once('/')
        .ok_or_else(|| anyhow!("ENTRAIDE_TEST_DATABASE_URL has no database name"))?;
    Ok(format!("{prefix}/{name}"))
}

pub async fn spawn_node(backend: Backend) -> Result<TestNode> {
    spawn_node_with(backend, Options::default()).await
}

pub async fn spawn_node_with(backend: Backend, options: Options) -> Result<TestNode> {
    let dir = tempfile::tempdir()?;
    let database_url = match &backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("entraide.db").display()),
        Backend::Postgres(base) => fresh_postgres(base).await?,
    };
    let node_id =
        NodeId::parse(options.node_id.as_deref().unwrap_or("test-node")).map_err(|e| anyhow!(e))?;
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        node_id: node_id.clone(),
        listen: "127.0.0.1:0".parse()?,
        database_url: database_url.clone(),
        database_max_connections: None,
        blob_dir: dir.path().join("blobs"),
        public_url: None,
        tls: options.tls.clone(),
        sessions: options.sessions,
        lockout: options.lockout,
        sign_in_attempts_per_minute: options.sign_in_attempts_per_minute,
        reminders: options.reminders,
        deadlines: Default::default(),
        s3: options.s3.clone(),
        federation: options.federation.clone(),
        edge: options.edge.clone(),
        smtp: options.smtp.clone(),
    };
    let store = open_store(&database_url).await?;
    let admin_email = "admin@test.example".to_string();
    initialise_node(
        store.as_ref(),
        NewNode {
            node_id,
            org_name: OrganisationName::parse("Test central authority").map_err(|e| anyhow!(e))?,
            org_kind: options
                .org_kind
                .unwrap_or(OrganisationKind::CentralAuthority),
            country: CountryCode::parse("FR").map_err(|e| anyhow!(e))?,
            admin_email: Email::parse(&admin_email).map_err(|e| anyhow!(e))?,
            admin_name: DisplayName::parse("Test Admin").map_err(|e| anyhow!(e))?,
            admin_password: NewPassword::parse(PASSWORD).map_err(|e| anyhow!(e))?,
        },
    )
    .await?;
    let node = Node::with_store(settings, store.clone())?;
    let state = node.state.clone();
    let running = node.start().await?;
    let addr = running.addr;
    Ok(TestNode {
        addr,
        metrics_addr: running.metrics_addr,
        state,
        url: format!("http://{addr}"),
        store,
        database_url,
        admin_email,
        _dir: dir,
        running: Some(running),
    })
}

/// A user created for a test, with an API token.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: Uuid,
    pub email: String,
    pub token: String,
}

impl TestNode {
    /// Creates a user with these roles (directly, as the CLI would) and an
    /// API token for them.
    pub async fn user(&self, local: &str, roles: &[Role]) -> Result<TestUser> {
        let email = format!("{local}@test.example");
        let id = create_user(
            self.store.as_ref(),
            &Actor::command_line(),
            Email::parse(&email).map_err(|e| anyhow!(e))?,
            DisplayName::parse(&format!("User {local}")).map_err(|e| anyhow!(e))?,
            NewPassword::parse(PASSWORD).map_err(|e| anyhow!(e))?,
            RoleSet::of(roles),
        )
        .await?;
        let (_, token) =
            create_token(self.store.as_ref(), &Actor::command_line(), id, "tests").await?;
        Ok(TestUser { id, email, token })
    }

    pub async fn admin(&self) -> Result<TestUser> {
        let email = Email::parse(&self.admin_email).map_err(|e| anyhow!(e))?;
        let user = self
            .store
            .user_by_email(&email)
            .await?
            .ok_or_else(|| anyhow!("no admin"))?;
        let (_, token) = create_token(
            self.store.as_ref(),
            &Actor::command_line(),
            user.id,
            "tests",
        )
        .await?;
        Ok(TestUser {
            id: user.id,
            email: self.admin_email.clone(),
            token,
        })
    }

    pub fn api(&self, token: Option<&str>) -> Api {
        Api {
            base: self.url.clone(),
            token: token.map(str::to_owned),
            client: reqwest::Client::new(),
        }
    }

    pub fn browser(&self) -> Result<Browser> {
        Browser::new(&self.url, None)
    }

    /// Stops serving (the node is "down"); its data stays.
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    /// Serves again on the same address, with the same data.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await;
        let mut settings = (*self.state.settings).clone();
        settings.listen = self.addr;
        let node = Node::with_store(settings, self.store.clone())?;
        self.state = node.state.clone();
        let running = node.start().await?;
        self.metrics_addr = running.metrics_addr;
        self.running = Some(running);
        Ok(())
    }

    /// A second replica of this node: the same data directory and database,
    /// its own listener and workers (stopped when dropped).
    pub async fn replica(&self) -> Result<Replica> {
        let mut settings = (*self.state.settings).clone();
        settings.listen = "127.0.0.1:0".parse()?;
        let store = open_store(&self.database_url).await?;
        let node = Node::with_store(settings, store)?;
        let state = node.state.clone();
        let running = node.start().await?;
        Ok(Replica {
            state,
            running: Some(running),
        })
    }
}

/// Another replica of a test node.
pub struct Replica {
    pub state: entraide_server::app::state::AppState,
    running: Option<RunningNode>,
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop();
        }
    }
}

/// A JSON API client.
pub struct Api {
    pub base: String,
    pub token: Option<String>,
    client: reqwest::Client,
}

/// A response, with its body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
    /// The body as received (downloads).
    pub bytes: Vec<u8>,
}

impl Reply {
    /// The problem `code`, for error responses.
    pub fn code(&self) -> &str {
        self.json.get("code").and_then(Value::as_str).unwrap_or("")
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn into_reply(res: reqwest::Response) -> Result<Reply> {
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.bytes().await?.to_vec();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        headers,
        text,
        json,
        bytes,
    })
}

impl Api {
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Reply> {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        into_reply(req.send().await?).await
    }

    /// Sends a raw body with a content type (for malformed-input tests).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Reply> {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(t) = &self.token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        into_reply(req.send().await?).await
    }

    pub async fn get(&self, path: &str) -> Result<Reply> {
        self.call(Method::GET, path, None).await
    }

    /// Sends a raw body with extra headers (uploads, packages).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply> {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .body(body);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(t) = &self.token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        into_reply(req.send().await?).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Reply> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Reply> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Reply> {
        self.call(Method::DELETE, path, None).await
    }
}

/// A browser: cookies kept, redirects not followed (tests look at them).
pub struct Browser {
    pub base: String,
    client: reqwest::Client,
}

impl Browser {
    pub fn new(base: &str, accept_language: Option<&str>) -> Result<Self> {
        let mut headers = HeaderMap::new();
        if let Some(lang) = accept_language {
            headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_str(lang)?);
        }
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()?;
        Ok(Self {
            base: base.to_owned(),
            client,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Reply> {
        into_reply(
            self.client
                .get(format!("{}{path}", self.base))
                .send()
                .await?,
        )
        .await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Result<Reply> {
        into_reply(
            self.client
                .post(format!("{}{path}", self.base))
                .form(form)
                .send()
                .await?,
        )
        .await
    }

    /// Posts a multipart form (file uploads).
    pub async fn post_multipart(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> Result<Reply> {
        into_reply(
            self.client
                .post(format!("{}{path}", self.base))
                .multipart(form)
                .send()
                .await?,
        )
        .await
    }

    /// The CSRF token of the first form on a page.
    pub async fn csrf(&self, path: &str) -> Result<String> {
        let page = self.get(path).await?;
        csrf_in(&page.text)
            .ok_or_else(|| anyhow!("no CSRF token on {path} ({}): {}", page.status, page.text))
    }

    /// Signs in with a password; returns the sign-in response (303 when accepted).
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<Reply> {
        let csrf = self.csrf("/signin").await?;
        self.post_form(
            "/signin",
            &[
                ("email", email),
                ("password", password),
                ("csrf", &csrf),
                ("next", "/"),
            ],
        )
        .await
    }
}

pub fn csrf_in(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let rest = &html[start..];
    Some(rest[..rest.find('"')?].to_owned())
}

pub fn location(reply: &Reply) -> &str {
    reply
        .headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The TOTP code for a base32 secret at a Unix time.
pub fn totp_code(secret: &str, unix_time: u64) -> Result<String> {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .map_err(|e| anyhow!("{e:?}"))?;
    let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "t".into())?;
    Ok(totp.generate(unix_time))
}
