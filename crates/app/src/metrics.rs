//! `GET /metrics`: the Prometheus text format, rendered by
//! `metrics-exporter-prometheus` from the `metrics` facade that the library
//! and this app record into.
//!
//! - `deleghe_commands_total{command, outcome}` and
//!   `deleghe_command_duration_seconds{command}`: every command the service
//!   decides (`command` as the audit trail names it, e.g.
//!   `delegation.request`; `outcome` one of `ok`, `refused`, `conflict`,
//!   `error`);
//! - `deleghe_http_requests_total{route, method, status}` and
//!   `deleghe_http_request_duration_seconds{route, method}`: requests by the
//!   route they matched (its template, never the ids in the path);
//! - `deleghe_checkpoint_position{worker}`: the last log position the
//!   projector and the flow runner have done, read when scraped.
//!
//! docs/OPERATIONS.md says what each means.

use std::sync::OnceLock;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use deleghe_adapters::system::Progress;

use crate::error::AppError;
use crate::state::AppState;

/// The process's recorder, installed on first use (one per process: the
/// `metrics` facade has one global recorder).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is global already (an embedder's): render an
            // empty one rather than fail.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// Drains the recorder's histogram samples into their summaries every few
/// seconds, until aborted. The exporter does this only when scraped
/// (`render`) or when its upkeep runs; `install_recorder` starts no upkeep
/// of its own, so a deployment nobody scrapes would keep every request's
/// and every command's duration sample in memory.
pub fn spawn_upkeep() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            handle().run_upkeep();
        }
    })
}

/// Counts and times each request by the route it matched.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("deleghe_http_requests_total",
        "route" => route.clone(), "method" => method.clone(), "status" => status)
    .increment(1);
    metrics::histogram!("deleghe_http_request_duration_seconds",
        "route" => route, "method" => method)
    .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`, for a Prometheus scraper.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses(
        (status = 200, description = "the metrics, Prometheus text format 0.0.4", content_type = "text/plain"),
        (status = 503, description = "the store is unreachable", body = crate::dto::Problem, content_type = "application/problem+json"),
    ))]
pub async fn render(State(state): State<AppState>) -> Result<Response, AppError> {
    record_progress(&state.system().progress().await?);
    let mut response = Body::from(handle().render()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

/// The gauges of [`deleghe_adapters::system::Progress`], set at each scrape.
#[allow(clippy::cast_precision_loss)]
fn record_progress(progress: &Progress) {
    metrics::gauge!("deleghe_log_head_position").set(progress.log_head as f64);
    for (worker, position) in [
        ("projector", progress.projector_position),
        ("flow runner", progress.runner_position),
    ] {
        metrics::gauge!("deleghe_checkpoint_position", "worker" => worker).set(position as f64);
    }
    metrics::gauge!("deleghe_projector_lag_events").set(progress.projector_lag_events() as f64);
    metrics::gauge!("deleghe_projector_lag_seconds").set(progress.projector_lag_seconds);
    metrics::gauge!("deleghe_runner_lag_events").set(progress.runner_lag_events() as f64);
    let side = &progress.read_side;
    metrics::gauge!("deleghe_flows_pending", "flow" => "delegation")
        .set(side.delegations_pending as f64);
    metrics::gauge!("deleghe_flows_pending", "flow" => "booking").set(side.bookings_pending as f64);
    metrics::gauge!("deleghe_outbox_backlog").set(side.outbox_pending as f64);
    metrics::gauge!("deleghe_outbox_failed").set(side.outbox_failed as f64);
}
