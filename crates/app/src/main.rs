//! `deleghe`: the command-line entry of the HTTP app (see [`deleghe_app::cli`]).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// jemalloc, for Rust's allocations and SQLite's alike: with the
/// system's allocator, memory that one thread allocates and another frees
/// (the projector's read-ahead, sqlx's SQLite threads) cost the catch-up
/// 15–30 % (docs/PERFORMANCE.md, docs/DEPENDENCIES.md).
#[cfg(all(unix, not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // lopdf reports each malformed object of an uploaded file (M6): a
    // hostile upload would flood the log, so it is silent unless asked for.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,lopdf=off"));
    let format = std::env::var(deleghe_app::config::ENV_LOG_FORMAT).ok();
    let format = match deleghe_app::config::LogFormat::from_env_value(format.as_deref()) {
        Ok(format) => format,
        Err(message) => {
            eprintln!("deleghe: {message}");
            return ExitCode::FAILURE;
        }
    };
    // The log's lines go to standard error through a thread of their own,
    // a batch a write: the request threads neither wait for standard
    // error's lock nor make a system call a line (docs/PERFORMANCE.md). No
    // line is dropped while the process runs (a full queue, some megabytes
    // of lines, makes the request thread wait); when the command returns,
    // `written` gives the thread about a second to write what is queued
    // (docs/OPERATIONS.md, "Logs").
    let (writer, written) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(16 * 1024)
        .thread_name("deleghe-log")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        deleghe_app::config::LogFormat::Text => {
            log.with_ansi(std::io::stderr().is_terminal()).init();
        }
        deleghe_app::config::LogFormat::Json => log.json().with_current_span(false).init(),
    }
    let cli = deleghe_app::cli::Cli::parse();
    let outcome = deleghe_app::cli::run(cli).await;
    // The log's last lines before the message below.
    drop(written);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("deleghe: {message}");
            ExitCode::FAILURE
        }
    }
}
