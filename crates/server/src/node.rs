//! Assembles the node: store, router, middleware; serves over HTTP or TLS.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::middleware::from_fn_with_state;
use axum::Router;
use entraide_store::{Store, StoreError};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::config::Settings;
use crate::app::i18n::I18n;
use crate::app::metrics::Metrics;
use crate::app::state::{AppState, Coalescer, Throttle};
use crate::http::listener::{self, ConnectionLimiter};
use crate::http::{self, GuardState};
use crate::routes;
use crate::web::errors;

/// Opens the store named by the URL: `sqlite://...` or `postgres://...`.
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_store_with(url, None).await
}

/// Opens the store with a given connection-pool size.
pub async fn open_store_with(
    url: &str,
    max_connections: Option<u32>,
) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            entraide_store_postgres::PostgresStore::connect_with(url, max_connections).await?,
        ))
    } else if url.starts_with("sqlite://") {
        Ok(Arc::new(
            entraide_store_sqlite::SqliteStore::connect_with(url, max_connections).await?,
        ))
    } else {
        Err(StoreError::Database(
            "the database URL must start with sqlite:// or postgres://".into(),
        ))
    }
}

/// Default body limit; routes that take files set their own.
pub const BODY_LIMIT: usize = 64 * 1024;

pub struct Node {
    pub state: AppState,
}

impl Node {
    pub async fn new(settings: Settings) -> Result<Self, StartError> {
        let store =
            open_store_with(&settings.database_url, settings.database_max_connections).await?;
        Self::with_store(settings, store)
    }

    pub fn with_store(settings: Settings, store: Arc<dyn Store>) -> Result<Self, StartError> {
        let i18n = I18n::load().map_err(StartError::Translations)?;
        let secure_cookies = settings.tls.is_some()
            || settings
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"));
        let custody = crate::evidence::Custody::open(
            &settings.data_dir,
            &settings.blob_dir,
            settings.node_id.as_str(),
            settings.s3.as_ref(),
        )?;
        let identity = entraide_federation::NodeIdentity::load_or_create(
            &settings.data_dir,
            entraide_evidence::NodeKey::load(
                &settings.data_dir.join(crate::evidence::NODE_KEY_FILE),
            )
            .map_err(crate::evidence::CustodyStartError::Key)?,
        )
        .map_err(crate::evidence::CustodyStartError::Key)?;
        let knowledge =
            crate::knowledge::Knowledge::open(&settings.data_dir.join("knowledge-index"))
                .map_err(|e| StartError::Knowledge(e.to_string()))?;
        let federation_client = crate::federation::signed::federation_client(None)
            .map_err(|e| StartError::Http(e.to_string()))?;
        let state = AppState {
            knowledge: Arc::new(knowledge),
            identity: Arc::new(identity),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            mail_wake: Arc::new(tokio::sync::Notify::new()),
            reset_throttle: Arc::new(Throttle::new(
                crate::account::recovery::RESETS_PER_ADDRESS_AND_HOUR,
                Duration::from_secs(3600),
            )),
            incoming_attachments: Arc::default(),
            refusals: Arc::default(),
            body_reads: Arc::default(),
            inbound: Arc::new(crate::inbound::Features),
            federation_client,
            bound: Arc::new(std::sync::OnceLock::new()),
            custody: Arc::new(custody),
            store,
            sign_in_throttle: Arc::new(Throttle::new(
                settings.sign_in_attempts_per_minute,
                Duration::from_secs(60),
            )),
            settings: Arc::new(settings),
            i18n: Arc::new(i18n),
            metrics: Arc::new(Metrics::new()),
            token_use: Arc::new(Coalescer::new(Duration::from_secs(300))),
            session_touch: Arc::new(Coalescer::new(Duration::from_secs(60))),
            decoy_hash: Arc::new(crate::app::credentials::decoy_hash()),
            secure_cookies,
        };
        Ok(Self { state })
    }

    pub fn router(&self) -> Router {
        build_router(self.state.clone())
    }

    /// Binds and serves in the background; returns the bound address.
    pub async fn start(self) -> Result<RunningNode, StartError> {
        let addr = self.state.settings.listen;
        let tls = self.state.settings.tls.clone();
        let store = self.state.store.clone();
        let sessions = self.state.settings.sessions;
        let edge = self.state.settings.edge.clone();
        // One count per client address across the node's listeners.
        let limiter = ConnectionLimiter::new(edge.connections_per_address);
        let router = self.router();
        let metrics_router = metrics_router(self.state.clone());
        // Every minute: preservations whose period ended are recorded as
        // expired; every ten minutes, expired sessions are deleted.
        // The search index follows the database: rebuilt at start when it
        // is missing or older, then checked every minute (another replica
        // may have imported).
        let knowledge_state = self.state.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::knowledge::ensure_index(&knowledge_state).await {
                tracing::warn!(error = %e, "building the knowledge index failed");
            }
        });
        let app_state = self.state.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            let mut round: u64 = 0;
            loop {
                tick.tick().await;
                let now = time::OffsetDateTime::now_utc();
                if let Err(e) = crate::requests::expire_overdue(&app_state, now).await {
                    tracing::warn!(error = %e, "deadline sweep failed");
                }
                if let Err(e) = crate::requests::reminders::send_due(&app_state, now).await {
                    tracing::warn!(error = %e, "deadline reminders failed");
                }
                // Received messages stored but not applied (the node stopped
                // in between, or its database failed): applied now. The
                // first tick is at start.
                match crate::federation::inbox::apply_pending(&app_state).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(applied = n, "received messages applied after a stop"),
                    Err(e) => {
                        tracing::warn!(error = %e, "applying pending received messages failed")
                    }
                }
                // Refusals counted over the interval written as one row each;
                // signatures past their expiry forgotten.
                crate::federation::refusals::sweep(&app_state, now).await;
                // A signed tree head of the custody log whenever it grew.
                if let Err(e) = app_state.custody.sign_if_grown(&app_state.store).await {
                    tracing::warn!(error = %e, "signing the custody tree head failed");
                }
                if round.is_multiple_of(10) {
                    if let Err(e) = store
                        .delete_sessions_older_than(now - sessions.absolute, now - sessions.idle)
                        .await
                    {
                        tracing::warn!(error = %e, "session sweep failed");
                    }
                }
                round += 1;
            }
        });
        let bound = self.state.bound.clone();
        let outbox = crate::federation::delivery::start_worker(self.state.clone());
        let mail = crate::app::mailer::start_worker(
            self.state.store.clone(),
            self.state.settings.smtp.as_ref(),
            self.state.mail_wake.clone(),
        );
        let scheme = if tls.is_some() { "https" } else { "http" };
        // `/metrics` on its own address, plain HTTP: meant for a loopback or
        // private address that only the scraper reaches. Bound first, so
        // that a taken address stops the start before anything is served.
        let metrics_listener = match edge.metrics_listen {
            None => None,
            Some(metrics_addr) => Some(bind(metrics_addr).await?),
        };
        let (local_addr, task) = match tls {
            None => {
                let (listener, local) = bind(addr).await?;
                let task = tokio::spawn(listener::serve(
                    listener,
                    router,
                    limiter.clone(),
                    edge.header_read_timeout,
                ));
                (local, task)
            }
            Some((cert, key)) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                    .await
                    .map_err(StartError::Tls)?;
                let std_listener = std::net::TcpListener::bind(addr)
                    .map_err(|source| StartError::Listen { addr, source })?;
                std_listener
                    .set_nonblocking(true)
                    .map_err(|source| StartError::Listen { addr, source })?;
                let local = std_listener
                    .local_addr()
                    .map_err(|source| StartError::Listen { addr, source })?;
                let per_address = listener::PerAddress::new(limiter.clone());
                let mut server = axum_server::from_tcp_rustls(std_listener, config)
                    .map(|tls| tls.acceptor(per_address));
                listener::tune(server.http_builder(), edge.header_read_timeout);
                let app = router.into_make_service_with_connect_info::<SocketAddr>();
                let task = tokio::spawn(async move {
                    if let Err(e) = server.serve(app).await {
                        tracing::error!(error = %e, "server stopped");
                    }
                });
                (local, task)
            }
        };
        let _ = bound.set(format!("{scheme}://{local_addr}"));
        let metrics = metrics_listener.map(|(l, local)| {
            let task = tokio::spawn(listener::serve(
                l,
                metrics_router,
                limiter,
                edge.header_read_timeout,
            ));
            (local, task)
        });
        Ok(RunningNode {
            addr: local_addr,
            metrics_addr: metrics.as_ref().map(|(a, _)| *a),
            metrics: metrics.map(|(_, t)| t),
            task,
            sweeper,
            outbox,
            mail,
        })
    }
}

pub struct RunningNode {
    pub addr: SocketAddr,
    /// Where `/metrics` is served when `metrics_listen` is configured.
    pub metrics_addr: Option<SocketAddr>,
    metrics: Option<JoinHandle<()>>,
    task: JoinHandle<()>,
    sweeper: JoinHandle<()>,
    outbox: JoinHandle<()>,
    /// The mail worker, when SMTP is configured.
    mail: Option<JoinHandle<()>>,
}

impl RunningNode {
    /// Serves until the task ends (or forever).
    pub async fn wait(self) {
        let _ = self.task.await;
        self.sweeper.abort();
        self.outbox.abort();
        if let Some(m) = self.mail {
            m.abort();
        }
        if let Some(m) = self.metrics {
            m.abort();
        }
    }

    pub fn stop(self) {
        self.task.abort();
        self.sweeper.abort();
        self.outbox.abort();
        if let Some(m) = self.mail {
            m.abort();
        }
        if let Some(m) = self.metrics {
            m.abort();
        }
    }
}

pub fn build_router(state: AppState) -> Router {
    let mut rules = HashMap::new();
    let mut api_routes: Router<AppState> = Router::new();
    let mut ui_routes: Router<AppState> = Router::new();
    for (spec, method_router) in routes::table() {
        rules.insert((spec.method.clone(), spec.path), spec.rule);
        if spec.is_api {
            api_routes = api_routes.route(spec.path, method_router);
        } else {
            ui_routes = ui_routes.route(spec.path, method_router);
        }
    }
    let guard_state = GuardState {
        app: state.clone(),
        rules: Arc::new(rules),
    };
    let api_routes = api_routes
        .route_layer(from_fn_with_state(guard_state.clone(), http::guard))
        .fallback(http::api_not_found);
    let ui_routes = ui_routes
        .route_layer(from_fn_with_state(guard_state, http::guard))
        .layer(from_fn_with_state(state.clone(), errors::render_errors));
    let tls = state.settings.tls.is_some();
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(api_routes)
        .merge(ui_routes)
        .fallback(errors::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(http::refuse_unknown_methods))
        .layer(from_fn_with_state(state.clone(), http::record_metrics))
        .layer(from_fn_with_state(tls, http::security_headers))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // The method as its metrics label: an invented one is `other`.
                let method = crate::app::metrics::method_label(req.method());
                tracing::info_span!("request", method, path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(axum::middleware::from_fn(http::sanitise_request_id))
        .with_state(state)
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| StartError::Listen { addr, source })?;
    Ok((listener, local))
}

/// What the `metrics_listen` address serves: `/metrics` and nothing else.
fn metrics_router(state: AppState) -> Router {
    let tls = state.settings.tls.is_some();
    Router::new()
        .route(
            "/metrics",
            axum::routing::get(http::health::metrics_on_own_address),
        )
        .fallback(http::api_not_found)
        .layer(from_fn_with_state(tls, http::security_headers))
        .with_state(state)
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] StoreError),
    #[error("translations: {0}")]
    Translations(String),
    #[error("evidence: {0}")]
    Custody(#[from] crate::evidence::CustodyStartError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS certificate or key: {0}")]
    Tls(std::io::Error),
    #[error("knowledge index: {0}")]
    Knowledge(String),
    #[error("HTTP client: {0}")]
    Http(String),
}
