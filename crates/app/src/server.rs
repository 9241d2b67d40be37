//! `serve`: the HTTP app and, in the same process, the workers that read the
//! event log (the flow runner that finishes what a crash interrupted, and
//! the read side's workers), until SIGTERM or Ctrl-C. Shutdown is graceful:
//! the listener stops accepting, requests in flight finish, then the workers
//! are told to stop and awaited.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use deleghe_adapters::gateway::FileSmsGateway;
use deleghe_adapters::projection::Projector;
use deleghe_adapters::readside::ReadSide;
use deleghe_adapters::runner::FlowRunner;
use deleghe_adapters::{upcast, Repository};
use deleghe_domain::Policy;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::JwtKeys;
use crate::config::{self, dev_files, Config, JwtKey};
use crate::counters::Counters;
use crate::state::{AppState, StateConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How often the workers look at the log for new events.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// How often the documents no event refers to are swept (M6): those stored
/// more than a day before ([`deleghe_adapters::documents::DEFAULT_GRACE`]).
pub const SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);
/// How long shutdown waits for a worker to finish its step.
pub const WORKER_GRACE: Duration = Duration::from_secs(10);

/// Opens the store of `url`, applying its migrations.
pub async fn connect(url: &str) -> Result<Repository, BoxError> {
    Ok(Repository::connect(url).await?)
}

/// The background workers, stopped together.
pub struct Workers {
    stop: watch::Sender<bool>,
    handles: Vec<(&'static str, JoinHandle<()>)>,
}

impl Workers {
    /// Starts every worker of `state`'s store: the flow runner, the
    /// projector (read models and outbox), the outbox dispatcher, which
    /// sends each notification when it falls due: it is also the reminder
    /// scheduler (N2 reminders wait in the outbox, durably, until due), and
    /// the sweep of the documents no event refers to (M6).
    pub fn start(state: &AppState) -> Self {
        let (stop, stopped) = watch::channel(false);
        let runner = FlowRunner::new(state.service().clone(), upcast::upcasters());
        let projector = Projector::new(
            state.repository().clone(),
            state.side().clone(),
            upcast::upcasters(),
            state.policy().clone(),
        );
        let dispatcher = state.dispatcher();
        let handles = vec![
            (
                "flow runner",
                tokio::spawn(runner.run(POLL_EVERY, stopped.clone())),
            ),
            (
                "projector",
                tokio::spawn(projector.run(POLL_EVERY, stopped.clone())),
            ),
            (
                "outbox dispatcher and reminder scheduler",
                tokio::spawn(dispatcher.run(POLL_EVERY, stopped.clone())),
            ),
            (
                "document sweep",
                tokio::spawn(state.document_sweep().run(SWEEP_EVERY, stopped)),
            ),
        ];
        for (name, _) in &handles {
            tracing::info!(worker = name, "started");
        }
        Self { stop, handles }
    }

    /// Tells every worker to stop and waits for each (at most [`WORKER_GRACE`]).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for (name, handle) in self.handles {
            match tokio::time::timeout(WORKER_GRACE, handle).await {
                Ok(Ok(())) => tracing::info!(worker = name, "stopped"),
                Ok(Err(e)) => tracing::error!(worker = name, error = %e, "worker failed"),
                Err(_) => tracing::warn!(worker = name, "did not stop in time"),
            }
        }
    }
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
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
) -> Result<(), BoxError> {
    let workers = Workers::start(&state);
    let timeouts = state.timeouts();
    let served = crate::connections::serve(listener, crate::app(state), timeouts, shutdown).await;
    tracing::info!("no more requests in flight; stopping the workers");
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
    let side = ReadSide::open(repository).await?;
    let replayed = Projector::new(repository.clone(), side, upcast::upcasters(), policy)
        .rebuild()
        .await?;
    tracing::info!(events = replayed, "read models rebuilt from the log");
    Ok(())
}
