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
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics::SharedString;
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

/// Counts and times a request by the route it matched (`route`, its
/// template; "unmatched" if none), its method and its answer's status.
/// Run by [`crate::app`]'s route layer, for every route.
pub fn record(route: Option<&MatchedPath>, method: &Method, status: StatusCode, took: Duration) {
    let route = route.map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = method_label(method);
    metrics::counter!("deleghe_http_requests_total",
        "route" => route.clone(), "method" => method.clone(), "status" => status_label(status))
    .increment(1);
    metrics::histogram!("deleghe_http_request_duration_seconds",
        "route" => route, "method" => method)
    .record(took.as_secs_f64());
}

/// The method's label: a standard method's name, without an allocation;
/// `other` for any other, so that no client can add labels (the router
/// answers 405 to those before this layer, `security_http` tests it).
pub(crate) fn method_label(method: &Method) -> SharedString {
    match *method {
        Method::GET => SharedString::const_str("GET"),
        Method::POST => SharedString::const_str("POST"),
        Method::PUT => SharedString::const_str("PUT"),
        Method::DELETE => SharedString::const_str("DELETE"),
        Method::HEAD => SharedString::const_str("HEAD"),
        Method::OPTIONS => SharedString::const_str("OPTIONS"),
        Method::PATCH => SharedString::const_str("PATCH"),
        _ => SharedString::const_str("other"),
    }
}

/// The status's label, without an allocation for the usual ones.
fn status_label(status: StatusCode) -> SharedString {
    match status.as_u16() {
        200 => SharedString::const_str("200"),
        201 => SharedString::const_str("201"),
        202 => SharedString::const_str("202"),
        204 => SharedString::const_str("204"),
        other => SharedString::from_owned(other.to_string()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_is_labelled_by_its_name_or_as_other() {
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
            Method::PATCH,
        ] {
            assert_eq!(&*method_label(&method), method.as_str());
        }
        for made_up in ["PROBE", "TRACE", "CONNECT", "get"] {
            let method = Method::from_bytes(made_up.as_bytes()).unwrap();
            assert_eq!(&*method_label(&method), "other", "{made_up}");
        }
    }

    #[test]
    fn a_status_is_labelled_by_its_code() {
        for code in [
            200, 201, 202, 204, 303, 400, 401, 403, 404, 405, 408, 409, 422, 500, 503,
        ] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(&*status_label(status), code.to_string());
        }
    }
}
