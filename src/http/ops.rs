//! Endpoints for operators: liveness, readiness and Prometheus metrics.

use std::time::Duration;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};

use super::endpoint::Endpoint;
use crate::state::AppState;
use crate::telemetry::{Metrics, registry};

/// 200 while the process runs.
pub const HEALTHZ: &str = "/healthz";
/// 200 when the database answers and signing keys are loaded, else 503.
pub const READYZ: &str = "/readyz";
/// The Prometheus text exposition.
pub const METRICS: &str = "/metrics";

/// How long readiness waits for the database.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Mounts the health endpoints.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new(HEALTHZ).get(healthz).done())
        .service(Endpoint::new(READYZ).get(readyz).done());
}

/// Mounts `/metrics` (on the main server, or alone on the metrics address).
pub fn configure_metrics(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new(METRICS).get(metrics).done());
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body("ok")
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = tokio::time::timeout(PING_TIMEOUT, state.provider.db().ping()).await;
    let reason = match database {
        Err(_) => Some("database: no answer in time"),
        Ok(false) => Some("database: unavailable"),
        Ok(true) if state.provider.keys().keys().is_empty() => Some("keys: none loaded"),
        Ok(true) => None,
    };
    if let Some(reason) = reason {
        tracing::warn!(reason, "not ready");
    }
    let mut response = match reason {
        None => HttpResponse::Ok(),
        Some(_) => HttpResponse::ServiceUnavailable(),
    };
    let body = match reason {
        None => serde_json::json!({ "status": "ready" }),
        Some(reason) => serde_json::json!({ "status": "not_ready", "reason": reason }),
    };
    response.insert_header((CACHE_CONTROL, "no-store")).json(body)
}

async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, registry::CONTENT_TYPE))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(metrics.render())
}
