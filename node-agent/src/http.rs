//! The HTTP endpoints: `/metrics`, `/healthz` (the process serves) and `/readyz` (the state
//! directory is readable and every configured switch answers).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;

use crate::metrics::{Format, Sources};

/// What the handlers share.
#[derive(Debug)]
pub struct App {
    /// The registry (its collector reads `sources` at each scrape).
    pub registry: Registry,
    /// The same sources, for readiness.
    pub sources: Arc<Sources>,
}

/// The router.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(app)
}

async fn metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let format = Format::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    // The scrape reads files: off the async workers.
    let encoded = tokio::task::spawn_blocking(move || format.encode(&app.registry)).await;
    match encoded {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, format.content_type())], body).into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding failed: {e}\n"),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("scrape failed: {e}\n"),
        )
            .into_response(),
    }
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    let sources = app.sources.clone();
    let not_ready = tokio::task::spawn_blocking(move || {
        let mut why = Vec::new();
        if let Err(e) = std::fs::read_dir(&sources.state_dir) {
            why.push(format!(
                "state directory {}: {e}",
                sources.state_dir.display()
            ));
        }
        if let Some(v) = &sources.ovs
            && !v.read().unwrap_or_else(|p| p.into_inner()).reachable
        {
            why.push("OVSDB does not answer".to_owned());
        }
        if let Some(v) = &sources.vpp
            && !v.reachable.load(std::sync::atomic::Ordering::Relaxed)
        {
            why.push("VPP does not answer".to_owned());
        }
        why
    })
    .await
    .unwrap_or_else(|e| vec![format!("readiness check failed: {e}")]);
    if not_ready.is_empty() {
        (StatusCode::OK, "ready\n".to_owned()).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", not_ready.join("\n")),
        )
            .into_response()
    }
}
