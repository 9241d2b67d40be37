//! `serve`: the HTTP app and, in the same process, the workers that read the
//! event log (the flow runner that finishes what a crash interrupted, and
//! the read side's workers), until SIGTERM or Ctrl-C. Shutdown is graceful:
//! the listener stops accepting, requests in flight finish, then the workers
//! are told to stop and awaited.

use std::future::Future;
use std::pin::Pin;

use deleghe_adapters::gateway::FileSmsGateway;
use deleghe_adapters::system::Intervals;
use deleghe_adapters::{Repository, System};
use deleghe_domain::Policy;

use crate::auth::JwtKeys;
use crate::config::{self, dev_files, Config, JwtKey};
use crate::counters::Counters;
use crate::state::{AppState, StateConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How often the workers look for work, and how long they get to stop:
/// the library's defaults (the log every half second, the documents no
/// event refers to every hour, ten seconds to stop).
pub fn intervals() -> Intervals {
    Intervals::default()
}

/// Opens the store of `url`, applying its migrations.
pub async fn connect(url: &str) -> Result<Repository, BoxError> {
    Ok(Repository::connect(url).await?)
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        _ = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}

/// Everything `serve` builds before it listens.
pub async fn build(config: &Config) -> Result<AppState, BoxError> {
    if config.uses_dev_dir() {
        dev_files::ensure_dir(&config.dev_dir)?;
    }
    let secret = match &config.jwt {
        JwtKey::Given(secret) => secret.clone(),
        JwtKey::DevFile => {
            let (secret, generated) = dev_files::key_or_generate(&config.dev_dir)?;
            let file = config.dev_dir.join(dev_files::KEY_FILE);
            if generated {
                tracing::warn!(
                    file = %file.display(),
                    "--dev: generated a random JWT key (not shown) in this file, where \
                     `deleghe token` reads it and later starts reuse it"
                );
            } else {
                tracing::warn!(
                    file = %file.display(),
                    "--dev: signing with the development JWT key of this file (not shown)"
                );
            }
            secret
        }
    };
    if let Some(path) = &config.sms_outbox {
        // Checked here, to stop with a message that says which file.
        FileSmsGateway::open(path).map_err(|e| {
            format!(
                "the SMS file ({}, --sms-outbox or --dev): {e}",
                config::ENV_SMS_OUTBOX
            )
        })?;
    }
    let counters = match &config.counters {
        Some(path) => Counters::from_file(path)?,
        None => Counters::builtin(),
    };
    if !counters.has_web_meeting_counter() {
        tracing::warn!(
            "no counter deleghe-web-meeting is configured: web meetings cannot be booked"
        );
    }
    let repository = connect(&config.database_url).await?;
    Ok(AppState::open(StateConfig {
        repository,
        policy: config.policy.clone(),
        keys: JwtKeys::new(&secret).with_rules(config.tokens.clone()),
        counters,
        dev_clock: config.dev_clock,
        sms_outbox: config.sms_outbox.clone(),
        io: config.io.clone(),
        sms_provider: config.sms_provider.clone(),
        timeouts: crate::Timeouts::default(),
        failpoint: None,
    })
    .await?)
}

/// `deleghe serve`: listens until `shutdown` resolves, then stops gracefully.
pub async fn serve(
    config: Config,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
) -> Result<(), BoxError> {
    if config.dev {
        tracing::warn!(
            "--dev: development mode: a development JWT key unless DELEGHE_JWT_SECRET is set, \
             settable clock at /dev/clock, SMS written to a file"
        );
    }
    if config.dev_clock {
        tracing::warn!(
            "development clock enabled: PUT /dev/clock (operators only) sets the app's time"
        );
    }
    match (&config.sms_provider, &config.sms_outbox) {
        (Some(_), _) => tracing::info!("SMS gateway: the provider of DELEGHE_SMS_URL"),
        (None, Some(path)) => tracing::info!(
            file = %path.display(),
            "SMS gateway: one JSON line per SMS in this file"
        ),
        (None, None) => tracing::warn!(
            "no SMS gateway is configured (DELEGHE_SMS_URL and DELEGHE_SMS_TOKEN, or \
             DELEGHE_SMS_OUTBOX): every SMS will be recorded as failed, not sent"
        ),
    }
    let state = build(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    tracing::info!(
        store = store_kind(&config.database_url),
        counters = state.counters().all().len(),
        "deleghe listening on http://{}",
        listener.local_addr()?
    );
    run(listener, state, shutdown).await
}

/// Serves `state` on `listener` with the workers until `shutdown` resolves;
/// then lets requests in flight finish and stops the workers.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use deleghe_app::AppState;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let address = listener.local_addr()?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let server = tokio::spawn(deleghe_app::server::run(
///     listener,
///     AppState::for_tests(false).await,
///     Box::pin(async move {
///         let _ = stopped.await;
///     }),
/// ));
/// let mut socket = tokio::net::TcpStream::connect(address).await?;
/// socket
///     .write_all(b"GET /health/ready HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
///     .await?;
/// let mut answer = String::new();
/// socket.read_to_string(&mut answer).await?;
/// // Ready: the store answers and the workers it started are running.
/// assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
/// stop.send(()).unwrap();
/// server.await??;
/// # Ok(())
/// # }
/// ```
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
) -> Result<(), BoxError> {
    let workers = state.system().workers(intervals());
    state.watch_workers(workers.health());
    let upkeep = crate::metrics::spawn_upkeep();
    let timeouts = state.timeouts();
    let served = crate::connections::serve(listener, crate::app(state), timeouts, shutdown).await;
    tracing::info!("no more requests in flight; stopping the workers");
    upkeep.abort();
    workers.stop().await;
    tracing::info!("stopped");
    Ok(served?)
}

/// The kind of store, for logs (a URL may hold a password).
pub fn store_kind(url: &str) -> &'static str {
    if url.starts_with("postgres") {
        "postgres"
    } else if url.starts_with("sqlite") {
        "sqlite"
    } else {
        "memory"
    }
}

/// `deleghe rebuild-read-models`: drops the read models and folds them again
/// from the whole log.
pub async fn rebuild_read_models(repository: &Repository, policy: Policy) -> Result<(), BoxError> {
    let system = System::builder(policy).on(repository.clone()).await?;
    let replayed = system.rebuild_read_models().await?;
    tracing::info!(events = replayed, "read models rebuilt from the log");
    Ok(())
}
