//! Building and running the service: `Application::build` binds the listener and wires
//! everything; `run_until_stopped` serves until SIGTERM or SIGINT, then shuts down gracefully.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::backchannel::Backchannel;
use crate::changes::Watcher;
use crate::clock::SharedClock;
use crate::config::{DatabaseSettings, EventMode, Settings, is_loopback_url};
use crate::crypto::KeyError;
use crate::dingtalk::DingTalk;
use crate::dingtalk::events::{StreamClient, StreamTiming};
use crate::identity::UpstreamError;
use crate::jobs::{Pace, Worker};
use crate::keyring::{Keyring, KeyringError};
use crate::membership::{EventHandler, HttpPush, Inbox, Reconciler};
use crate::oidc::Provider;
use crate::state::{AppState, InAppPage};
use crate::store::{Db, DbOptions, StoreError};
use crate::tasks::Tasks;
use crate::telemetry::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot bind {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("signing keys: {0}")]
    Keyring(#[from] KeyringError),
    #[error("client registry: {0}")]
    Clients(String),
    #[error("events: {0}")]
    Events(String),
    #[error("DingTalk client: {0}")]
    DingTalk(#[from] UpstreamError),
    #[error("HTTP client: {0}")]
    Http(reqwest::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// More routes served by the same server (the demo mounts the simulator and the demo app).
pub type ExtraRoutes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

pub struct Application {
    port: u16,
    server: Server,
    /// The separate `/metrics` server (`metrics.listen`) and its port.
    metrics_server: Option<(Server, u16)>,
    db: Db,
    /// The signing keys, reloaded from the database every upkeep round.
    keyring: Arc<Keyring>,
    provider: Arc<Provider>,
    /// Client reloads, housekeeping, key upkeep, the job worker and the watcher of changes.
    tasks: Tasks,
    /// How many changes made elsewhere this instance has acted on.
    changes_handled: tokio::sync::watch::Receiver<u64>,
    shutdown_timeout: u64,
    signals: StopSignals,
}

/// Connects to the configured database with a pool of at most `max_connections`.
pub async fn open_database(settings: &DatabaseSettings, max_connections: u32) -> Result<Db, StoreError> {
    let options = DbOptions {
        max_connections,
        acquire_timeout: Duration::from_millis(settings.acquire_timeout_ms),
    };
    Db::connect_with(&settings.connect_url(), &options).await
}

/// The admin service for the command line: the same database and keys as the servers, no HTTP.
pub async fn admin_service(settings: &Settings, clock: SharedClock) -> Result<crate::admin::Admin, StartupError> {
    let db = open_database(&settings.database, 2).await?;
    db.migrate().await?;
    let keyring = Arc::new(Keyring::open(settings, db.clone(), clock.clone()).await?);
    let jwks = crate::client_jwks::HttpJwks::new().map_err(|e| StartupError::Http(e.without_url()))?;
    let provider = Provider::new(
        settings,
        db,
        keyring.key_set(),
        clock,
        Arc::new(Metrics::new()),
        Arc::new(jwks),
    )
    .map_err(StartupError::Clients)?;
    provider
        .reload_clients()
        .await
        .map_err(|e| StartupError::Clients(e.to_string()))?;
    Ok(crate::admin::Admin::new(
        Arc::new(provider),
        settings.clients.clone(),
        keyring,
    ))
}

impl Application {
    /// Binds `settings.server.listen` and builds the service.
    pub async fn build(settings: &Settings, clock: SharedClock) -> Result<Self, StartupError> {
        let address = settings.server.listen.clone();
        let listener = TcpListener::bind(&address).map_err(|source| StartupError::Bind { address, source })?;
        Self::build_on(settings, clock, listener, None).await
    }

    /// Builds the service on an already bound listener (tests bind port 0 first).
    pub async fn build_on(
        settings: &Settings,
        clock: SharedClock,
        listener: TcpListener,
        extra: Option<ExtraRoutes>,
    ) -> Result<Self, StartupError> {
        Self::build_with(settings, clock, listener, extra, Background::default()).await
    }

    /// Builds the service with its background tasks paced by `background` (tests drive them).
    pub async fn build_with(
        settings: &Settings,
        clock: SharedClock,
        listener: TcpListener,
        extra: Option<ExtraRoutes>,
        background: Background,
    ) -> Result<Self, StartupError> {
        let db = crate::startup::open_database(&settings.database, settings.database.pool_size()).await?;
        db.migrate().await?;
        // Listening first, then what has changed so far: the keys and clients loaded below are at
        // least this recent, and every later change is heard or seen.
        let changes_seen = crate::changes::Start::now(&db).await?;
        let keyring = Arc::new(Keyring::open(settings, db.clone(), clock.clone()).await?);
        let keys = keyring.key_set();
        let metrics = Arc::new(Metrics::new());
        let dingtalk = DingTalk::new(
            &settings.dingtalk,
            settings.identity.department_cache_ttl,
            clock.clone(),
            metrics.clone(),
        )?;
        let provider = Provider::new(
            settings,
            db.clone(),
            keys,
            clock.clone(),
            metrics.clone(),
            Arc::new(crate::client_jwks::HttpJwks::new().map_err(|e| StartupError::Http(e.without_url()))?),
        )
        .map_err(StartupError::Clients)?;
        let secure_cookies = url::Url::parse(&settings.server.issuer)
            .map(|u| !(u.scheme() == "http" && is_loopback_url(&u)))
            .unwrap_or(true);
        let d = &settings.dingtalk;
        let in_app_page = InAppPage {
            corp_id: d.corp_id.clone(),
            client_id: d.client_id.clone(),
            jsapi_url: d.jsapi_url.clone(),
            open_auth_script_url: d.open_auth_script_url.clone(),
            open_auth_scope: d.open_auth_scope.clone(),
            frame_ancestors: d.in_app_frame_ancestors.trim().to_owned(),
        };
        let limits = web::Data::new(crate::http::Limits::new(
            &settings.limits,
            clock.clone(),
            metrics.clone(),
        ));
        let max_body = usize::try_from(settings.limits.max_body_bytes).unwrap_or(usize::MAX);
        let provider = Arc::new(provider);
        let inbox = Inbox::new(db.clone(), clock.clone(), metrics.clone());
        let http_push = match settings.events.mode {
            EventMode::Http => Some(
                HttpPush::new(
                    &settings.events,
                    &d.client_id,
                    &d.corp_id,
                    inbox.clone(),
                    provider.clone(),
                )
                .map_err(|e| StartupError::Events(e.to_string()))?,
            ),
            EventMode::Stream | EventMode::Off => None,
        };
        let state = web::Data::new(AppState {
            provider,
            dingtalk: Arc::new(dingtalk),
            inbox,
            http_push,
            secure_cookies,
            in_app_page,
            metrics: metrics.clone(),
        });
        let metrics = web::Data::from(metrics);
        let shutdown_timeout = settings.server.shutdown_timeout;
        let metrics_server = match settings.metrics.separate_listen() {
            Some(address) => Some(metrics_server(address, metrics.clone(), shutdown_timeout)?),
            None => None,
        };
        let metrics_here = metrics_server.is_none();
        let signals = StopSignals::listen()?;
        let port = listener.local_addr()?.port();
        let provider = state.provider.clone();
        state
            .provider
            .reload_clients()
            .await
            .map_err(|e| StartupError::Clients(e.to_string()))?;
        if settings.events.reconcile_every > 0 {
            crate::membership::ensure_reconciliation(&db, clock.now(), settings.events.reconcile_every).await?;
        }
        let (tasks, changes_handled) =
            start_background(&state, &keyring, db.clone(), settings, background, changes_seen)?;
        let server = HttpServer::new(move || {
            let extra = extra.clone();
            App::new()
                .wrap(actix_web::middleware::from_fn(crate::http::cors))
                .wrap(actix_web::middleware::from_fn(crate::http::bound_query))
                .wrap(crate::http::security_headers())
                .wrap(actix_web::middleware::from_fn(crate::http::log_request))
                .app_data(state.clone())
                .app_data(metrics.clone())
                .app_data(limits.clone())
                // Bodies are read whole into memory: never more than this.
                .app_data(web::PayloadConfig::new(max_body))
                .app_data(web::FormConfig::default().limit(max_body))
                .app_data(web::JsonConfig::default().limit(max_body))
                .configure(crate::http::configure)
                .configure(crate::http::ops::configure)
                .configure(move |cfg| {
                    if metrics_here {
                        crate::http::ops::configure_metrics(cfg);
                    }
                })
                .configure(move |cfg| {
                    if let Some(extra) = &extra {
                        extra(cfg);
                    }
                })
        })
        .shutdown_timeout(shutdown_timeout)
        .disable_signals()
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            metrics_server,
            db,
            keyring,
            provider,
            tasks,
            changes_handled,
            shutdown_timeout,
            signals,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the separate `/metrics` server, when `metrics.listen` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(_, port)| *port)
    }

    /// The database this application uses.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The signing keys; [`Keyring::reload`] picks up a rotation at once instead of at the next
    /// upkeep round.
    pub fn keyring(&self) -> Arc<Keyring> {
        self.keyring.clone()
    }

    /// The provider, for driving what the background tasks otherwise do on their own
    /// ([`Provider::reload_clients`], [`Provider::job_waker`]).
    pub fn provider(&self) -> Arc<Provider> {
        self.provider.clone()
    }

    /// Grows by one for every change made elsewhere (clients, keys) this instance acted on.
    pub fn changes_handled(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes_handled.clone()
    }

    /// Serves until SIGTERM or SIGINT; then accepts no more connections, gives in-flight
    /// requests `server.shutdown_timeout` seconds to finish, stops the background tasks and
    /// closes the database.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let mut handles = vec![self.server.handle()];
        let metrics_server = self.metrics_server.map(|(server, _)| {
            handles.push(server.handle());
            tokio::spawn(server)
        });
        let stopper = tokio::spawn(stop_on_signal(self.signals, handles.clone(), self.shutdown_timeout));
        let result = self.server.await;
        // The main server may also stop by itself: the metrics server goes with it.
        for handle in handles {
            handle.stop(true).await;
        }
        if let Some(task) = metrics_server {
            let _ = task.await;
        }
        stopper.abort();
        self.tasks.stop(Duration::from_secs(self.shutdown_timeout.max(1))).await;
        self.db.close().await;
        if result.is_ok() {
            tracing::info!("dingo stopped cleanly");
        }
        result
    }
}

/// How often the background tasks run (tests set them long and drive the tasks themselves).
#[derive(Debug, Clone)]
pub struct Background {
    /// How often the versions of what changes (clients, keys) are compared; on PostgreSQL
    /// changes are also heard at once. A full reload of the managed clients runs every
    /// `reload_clients` besides, as a safety net.
    pub changes_poll: Duration,
    pub reload_clients: Duration,
    /// Expired rows are purged and the gauges refreshed.
    pub housekeeping: Duration,
    /// How the job workers (back-channel logouts, organisation events) pace themselves.
    pub jobs: Pace,
    /// How often the reconciliation's worker looks whether its round is due.
    pub reconcile_pace: Pace,
    /// The Stream client's backoff and drain time (its other clocks are settings).
    pub stream: StreamTiming,
}

impl Default for Background {
    fn default() -> Self {
        Self {
            changes_poll: Duration::from_secs(1),
            reload_clients: Duration::from_secs(300),
            housekeeping: Duration::from_secs(60),
            jobs: Pace::default(),
            reconcile_pace: Pace {
                poll: Duration::from_secs(30),
                ..Pace::default()
            },
            stream: StreamTiming::default(),
        }
    }
}

/// Starts the supervised background tasks.
fn start_background(
    state: &web::Data<AppState>,
    keyring: &Arc<Keyring>,
    db: Db,
    settings: &Settings,
    background: Background,
    changes_seen: crate::changes::Start,
) -> Result<(Tasks, tokio::sync::watch::Receiver<u64>), StartupError> {
    let mut tasks = Tasks::new();
    let db_for_changes = db.clone();
    let provider = state.provider.clone();
    // Clients managed with `dingo clients …` (or another instance) take effect on every
    // instance within a second: the watcher of changes; and, whatever happens, at this reload.
    tasks.every(background.reload_clients, true, move || {
        let provider = provider.clone();
        async move {
            if let Err(e) = provider.reload_clients().await {
                tracing::warn!(cause = %e, "cannot reload the managed clients");
            }
        }
    });
    let (clock, metrics) = (state.provider.clock().clone(), state.metrics.clone());
    let audit_retention = settings.audit.retention_days * 86_400;
    let purging = db.clone();
    tasks.every(background.housekeeping, false, move || {
        let (db, clock, metrics) = (purging.clone(), clock.clone(), metrics.clone());
        async move { crate::housekeeping::run_once(&db, &clock, &metrics, audit_retention).await }
    });
    let upkept = keyring.clone();
    // The first round after one interval: opening the keyring has just done the same work.
    tasks.every(Duration::from_secs(settings.keys.reload_every), true, move || {
        let keyring = upkept.clone();
        async move {
            if let Err(e) = keyring.upkeep().await {
                tracing::warn!(cause = %e, "signing keys: upkeep failed; the keys loaded before stay in use");
            }
        }
    });
    let handler = Backchannel::new(state.provider.clone()).map_err(|e| StartupError::Http(e.without_url()))?;
    let db_for_reconcile = db.clone();
    let worker = Worker::new(
        db.clone(),
        state.provider.clock().clone(),
        state.metrics.clone(),
        handler,
        background.jobs.clone(),
    );
    let wake = state.provider.job_waker();
    tasks.spawn(move |stop| worker.run(wake, stop));
    // Each worker has its own waker: a notification wakes one waiter only.
    let events = Worker::new(
        db,
        state.provider.clock().clone(),
        state.metrics.clone(),
        EventHandler::new(state.provider.clone(), state.dingtalk.clone()),
        background.jobs,
    );
    let wake = state.inbox.waker();
    tasks.spawn(move |stop| events.run(wake, stop));
    if settings.events.mode == EventMode::Stream {
        let e = &settings.events;
        let timing = StreamTiming {
            ping_after: Duration::from_secs(e.stream_ping_after),
            pong_timeout: Duration::from_secs(e.stream_pong_timeout),
            silence: Duration::from_secs(e.stream_silence),
            ttl: Duration::from_secs(e.stream_ttl),
            ..background.stream.clone()
        };
        let client = StreamClient::new(
            state.dingtalk.clone(),
            state.inbox.clone(),
            timing,
            state.metrics.clone(),
        )
        .map_err(StartupError::Events)?;
        tasks.spawn(move |stop| client.run(stop));
    }
    let every = settings.events.reconcile_every;
    if every > 0 {
        let reconciler = Worker::new(
            db_for_reconcile,
            state.provider.clock().clone(),
            state.metrics.clone(),
            Reconciler::new(state.provider.clone(), state.dingtalk.clone(), every),
            // One round at a time, leased for longer than a round of a large organisation takes.
            Pace {
                concurrency: 1,
                lease: Duration::from_secs(3600),
                ..background.reconcile_pace
            },
        );
        let wake = Arc::new(tokio::sync::Notify::new());
        tasks.spawn(move |stop| reconciler.run(wake, stop));
    }
    let watcher = Watcher::new(
        db_for_changes,
        state.provider.clone(),
        keyring.clone(),
        background.changes_poll,
        changes_seen,
    );
    let handled = watcher.handled();
    tasks.spawn(move |stop| watcher.run(stop));
    Ok((tasks, handled))
}

/// A server for `/metrics` alone, on `address`.
fn metrics_server(
    address: &str,
    metrics: web::Data<Metrics>,
    shutdown_timeout: u64,
) -> Result<(Server, u16), StartupError> {
    let listener = TcpListener::bind(address).map_err(|source| StartupError::Bind {
        address: address.to_owned(),
        source,
    })?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .configure(crate::http::ops::configure_metrics)
    })
    .workers(1)
    .shutdown_timeout(shutdown_timeout)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok((server, port))
}

/// SIGTERM and SIGINT, listened for from start-up on: from then on neither kills the process.
struct StopSignals {
    terminate: Signal,
    interrupt: Signal,
}

impl StopSignals {
    fn listen() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// The name of the first of the two signals to arrive.
    async fn first(mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}

/// Waits for SIGTERM or SIGINT, then stops every server gracefully.
async fn stop_on_signal(signals: StopSignals, handles: Vec<ServerHandle>, shutdown_timeout: u64) {
    let name = signals.first().await;
    tracing::info!(
        signal = name,
        shutdown_timeout,
        "stopping: no new connections, in-flight requests may finish"
    );
    for handle in handles {
        handle.stop(true).await;
    }
}
