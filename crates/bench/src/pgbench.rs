//! Baseline (b): the database's own limit for the transaction a command
//! makes (read the stream, then `BEGIN; INSERT; COMMIT`), measured by
//! PostgreSQL's `pgbench` running `bench/pgbench/command.sql` with prepared
//! statements, as sqlx sends them.

use std::path::Path;
use std::process::Command;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;

use crate::stats::Sample;

/// Runs `script` with `clients` clients for `seconds` against the database of
/// `url`, in `schema`; per-transaction latencies come from pgbench's log
/// (`-l`), written in `work` and removed.
pub fn run(
    pgbench: &str,
    script: &Path,
    url: &str,
    schema: &str,
    clients: usize,
    seconds: u64,
    work: &Path,
) -> Result<Sample, String> {
    // Each run names its streams apart from every earlier run's (the
    // script's `:slice`), on tables that keep every slice's rows.
    static SLICE: AtomicU64 = AtomicU64::new(1);
    let slice = SLICE.fetch_add(1, Ordering::Relaxed);
    let options = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
    let prefix = work.join(format!("pgbench-{schema}-{clients}"));
    let output = Command::new(pgbench)
        .env("PGOPTIONS", format!("-c search_path={schema}"))
        .args(["-n", "-M", "prepared", "-D"])
        .arg(format!("slice={slice}"))
        .arg("-f")
        .arg(script)
        .args(["-c", &clients.to_string()])
        .args(["-j", &clients.min(2).to_string()])
        .args(["-T", &seconds.to_string()])
        .arg("-l")
        .arg(format!("--log-prefix={}", prefix.display()))
        .args(["-h", options.get_host()])
        .args(["-p", &options.get_port().to_string()])
        .args(["-U", options.get_username()])
        .arg(options.get_database().unwrap_or(options.get_username()))
        .current_dir(work)
        .output()
        .map_err(|e| format!("cannot run {pgbench}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let tps = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .ok_or_else(|| format!("no tps in pgbench's output: {stdout}"))?;
    let failed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of failed transactions: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);

    // Log lines: client_id transaction_no time script_no time_epoch time_us,
    // `time` being the transaction's latency in microseconds.
    let mut latencies = Vec::new();
    let name = prefix
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    for entry in std::fs::read_dir(work).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if !file.starts_with(&format!("{name}.")) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).map_err(|e| e.to_string())?;
        for line in text.lines() {
            if let Some(us) = line
                .split_whitespace()
                .nth(2)
                .and_then(|t| t.parse::<u64>().ok())
            {
                latencies.push(Duration::from_micros(us));
            }
        }
        let _ = std::fs::remove_file(entry.path());
    }
    latencies.sort_unstable();
    // pgbench's tps excludes connection set-up; express it as ops over a
    // wall time that gives the same rate.
    let ops = latencies.len() as u64;
    let elapsed = if tps > 0.0 {
        Duration::from_secs_f64(ops as f64 / tps)
    } else {
        Duration::from_secs(seconds)
    };
    Ok(Sample {
        ops,
        errors: failed,
        first_error: None,
        elapsed,
        latencies,
        ..Sample::default()
    })
}
