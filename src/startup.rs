//! Building and running the service: `Application::build` binds the listener and wires
//! everything; `run_until_stopped` serves until a signal arrives.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

use crate::clock::SharedClock;
use crate::config::{Settings, is_loopback_url};
use crate::crypto::{KeyError, KeySet};
use crate::dingtalk::DingTalk;
use crate::identity::UpstreamError;
use crate::oidc::Provider;
use crate::state::{AppState, InAppPage};
use crate::store::{Db, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot bind {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("client registry: {0}")]
    Clients(String),
    #[error("DingTalk client: {0}")]
    DingTalk(#[from] UpstreamError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// More routes served by the same server (the demo mounts the simulator and the demo app).
pub type ExtraRoutes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

pub struct Application {
    port: u16,
    server: Server,
    db: Db,
}

impl Application {
    /// Binds `settings.server.listen` and builds the service.
    pub async fn build(settings: &Settings, clock: SharedClock) -> Result<Self, StartupError> {
        let address = settings.server.listen.clone();
        let listener =
            TcpListener::bind(&address).map_err(|source| StartupError::Bind { address, source })?;
        Self::build_on(settings, clock, listener, None).await
    }

    /// Builds the service on an already bound listener (tests bind port 0 first).
    pub async fn build_on(
        settings: &Settings,
        clock: SharedClock,
        listener: TcpListener,
        extra: Option<ExtraRoutes>,
    ) -> Result<Self, StartupError> {
        let db = Db::connect(&settings.database.url, settings.database.max_connections).await?;
        db.migrate().await?;
        let keys = Arc::new(KeySet::load_or_generate(&settings.keys.dir)?);
        let dingtalk = DingTalk::new(
            &settings.dingtalk,
            settings.identity.department_cache_ttl,
            clock.clone(),
        )?;
        let provider =
            Provider::new(settings, db.clone(), keys, clock).map_err(StartupError::Clients)?;
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
        };
        let state = web::Data::new(AppState {
            provider,
            dingtalk,
            secure_cookies,
            in_app_page,
        });
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            let extra = extra.clone();
            App::new()
                .wrap(actix_web::middleware::from_fn(crate::http::log_request))
                .app_data(state.clone())
                .configure(crate::http::configure)
                .configure(move |cfg| {
                    if let Some(extra) = &extra {
                        extra(cfg);
                    }
                })
        })
        .listen(listener)?
        .run();
        Ok(Self { port, server, db })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish and closes the database.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.db.close().await;
        result
    }
}
