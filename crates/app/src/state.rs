//! What every handler shares: the rules on their store, the read side (read
//! models, documents, outbox gateways), the clock, the JWT key, the counters.
//!
//! Commands go to [`Deleghe`]; queries go to the [`ReadModels`], which the
//! projector writes from the event log. Before answering a query the app
//! brings the read models up to the end of the log ([`AppState::read`]), so
//! a client reads what it has just written; the projector worker does the
//! same in the background for the outbox.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use deleghe_adapters::documents::{DocumentStore, DocumentUsage};
use deleghe_adapters::gateway::{FileSmsGateway, Gateways, HttpIoGateway, HttpSmsGateway};
use deleghe_adapters::outbox::{DispatchReport, Dispatcher};
use deleghe_adapters::projection::{BookingView, DelegationView, ReadModels};
use deleghe_adapters::service::Failpoint;
use deleghe_adapters::system::{OpenError, WorkerHealth};
use deleghe_adapters::{Deleghe, Repository, ServiceError, SettableClock, System};
use deleghe_domain::booking::{Booking, BookingId, BookingStage};
use deleghe_domain::delegation::{Delegation, DelegationError, DelegationId, Status};
use deleghe_domain::document::PdfDocument;
use deleghe_domain::flows::Refusal;
use deleghe_domain::meeting::Meeting;
use deleghe_domain::schedule::Mode;
use deleghe_domain::{FiscalCode, Policy};
use tokio::sync::Semaphore;

use crate::auth::JwtKeys;
use crate::config::{IoSettings, Secret, SmsProvider};
use crate::counters::Counters;
use crate::error::AppError;
use crate::position::MinPosition;
use crate::Timeouts;

/// The app's shared state; cloning shares it.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    /// The rules on their store, put together by the library's composition
    /// root: service, read side, projector, documents, gateways.
    system: System,
    clock: SettableClock,
    /// M6: the uploads being parsed, at most [`PDF_PARSERS`] at once.
    pdf_parsers: Arc<Semaphore>,
    keys: JwtKeys,
    counters: Counters,
    dev_clock: bool,
    timeouts: Timeouts,
    /// The workers' liveness, once `serve` has started them.
    workers: std::sync::OnceLock<WorkerHealth>,
}

/// How to build an [`AppState`].
pub struct StateConfig {
    /// The store, migrated.
    pub repository: Repository,
    /// Every number and switch the rules use.
    pub policy: Policy,
    /// The key that checks and mints tokens, with its rules.
    pub keys: JwtKeys,
    /// The offices' counters.
    pub counters: Counters,
    /// Enables `/dev/*` (the settable clock).
    pub dev_clock: bool,
    /// The development SMS gateway's file; none: SMS are not sent.
    pub sms_outbox: Option<PathBuf>,
    /// How long a request's head, body and whole may take.
    pub timeouts: Timeouts,
    /// N5: the IO app gateway; none: IO messages are not sent.
    pub io: Option<IoSettings>,
    /// N1, N2, N4: the SMS provider (instead of `sms_outbox`).
    pub sms_provider: Option<SmsProvider>,
    /// Tests only: where the service stops its flows, as a crash would
    /// (`SystemBuilder::failpoint`); `None` in any deployment.
    pub failpoint: Option<Failpoint>,
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
    ServiceError::Unavailable(Box::new(e))
}

impl AppState {
    /// The rules on `repository` and its read side, reading time from a
    /// [`SettableClock`] that reads real time until `PUT /dev/clock` sets it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use deleghe_adapters::Repository;
    /// use deleghe_app::auth::JwtKeys;
    /// use deleghe_app::config::Secret;
    /// use deleghe_app::counters::Counters;
    /// use deleghe_app::state::TEST_SECRET;
    /// use deleghe_app::{AppState, StateConfig, Timeouts};
    /// use deleghe_domain::Policy;
    ///
    /// let state = AppState::open(StateConfig {
    ///     repository: Repository::memory(),
    ///     policy: Policy::default(),
    ///     // In a deployment: the key of DELEGHE_JWT_SECRET, checked by `config`.
    ///     keys: JwtKeys::new(&Secret::new(TEST_SECRET)),
    ///     counters: Counters::builtin(),
    ///     dev_clock: false,
    ///     sms_outbox: None,
    ///     timeouts: Timeouts::default(),
    ///     io: None,
    ///     sms_provider: None,
    ///     failpoint: None,
    /// })
    /// .await?;
    /// assert!(state.counters().get("deleghe-web-meeting").is_some());
    /// assert!(!state.dev_clock_enabled());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn open(config: StateConfig) -> Result<Self, ServiceError> {
        let clock = SettableClock::new();
        // The metrics recorder, before the first command is counted.
        crate::metrics::handle();
        let mut builder = System::builder(config.policy)
            .clock(clock.as_clock())
            .access_codes(config.keys.access_codes().clone());
        if let Some(failpoint) = config.failpoint {
            builder = builder.failpoint(failpoint);
        }
        match (&config.sms_provider, &config.sms_outbox) {
            (Some(provider), _) => {
                builder = builder.sms(Arc::new(
                    HttpSmsGateway::new(&provider.url, provider.token.expose())
                        .map_err(unavailable)?,
                ));
            }
            (None, Some(path)) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(unavailable)?;
                }
                builder = builder.sms(Arc::new(FileSmsGateway::open(path).map_err(unavailable)?));
            }
            (None, None) => {}
        }
        if let Some(io) = &config.io {
            builder = builder.io(Arc::new(
                HttpIoGateway::new(&io.url, io.key.expose()).map_err(unavailable)?,
            ));
        }
        let system = builder.on(config.repository).await.map_err(|e| match e {
            OpenError::ReadSide(e) => e,
            other => unavailable(other),
        })?;
        Ok(Self(Arc::new(Inner {
            system,
            clock,
            pdf_parsers: Arc::new(Semaphore::new(PDF_PARSERS)),
            keys: config.keys,
            counters: config.counters,
            dev_clock: config.dev_clock,
            timeouts: config.timeouts,
            workers: std::sync::OnceLock::new(),
        })))
    }

    /// Keeps the liveness of the workers `serve` started, for
    /// `GET /health/ready` (set once; a second call is ignored).
    pub fn watch_workers(&self, health: WorkerHealth) {
        let _ = self.0.workers.set(health);
    }

    /// The workers that have stopped; empty when none runs in this process.
    pub fn stopped_workers(&self) -> Vec<&'static str> {
        self.0
            .workers
            .get()
            .map(WorkerHealth::stopped)
            .unwrap_or_default()
    }

    /// The library's composition root under this app.
    pub fn system(&self) -> &System {
        &self.0.system
    }

    /// The library's commands and queries.
    pub fn service(&self) -> &Arc<Deleghe> {
        self.0.system.service()
    }

    /// The store.
    pub fn repository(&self) -> &Repository {
        self.0.system.repository()
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        self.0.system.policy()
    }

    /// The app's clock: real time, unless the development clock set it.
    pub fn clock(&self) -> &SettableClock {
        &self.0.clock
    }

    /// The instant every command of a request carries.
    pub fn now(&self) -> DateTime<Utc> {
        self.0.clock.now()
    }

    /// The token key, and the access codes' (M2).
    pub fn keys(&self) -> &JwtKeys {
        &self.0.keys
    }

    /// The configured counters.
    pub fn counters(&self) -> &Counters {
        &self.0.counters
    }

    /// Where uploaded documents are kept (M6, D11).
    pub fn documents(&self) -> &Arc<dyn DocumentStore> {
        self.0.system.documents()
    }

    /// M6: judges an uploaded file ([`PdfDocument::parse`]) on a blocking
    /// thread, so that parsing never holds up the async workers, and at most
    /// [`PDF_PARSERS`] files at once, so that hostile files (each bounded by
    /// the parser's limits) take at most that many threads' time; the
    /// others wait their turn.
    pub async fn parse_pdf(&self, bytes: Bytes) -> Result<PdfDocument, AppError> {
        let turn = Arc::clone(&self.0.pdf_parsers)
            .acquire_owned()
            .await
            .map_err(|e| AppError::Internal(format!("the PDF parsers are closed: {e}")))?;
        let max = self.policy().max_document_bytes;
        let judged = tokio::task::spawn_blocking(move || {
            // Held until the parse ends, even if the request gave up waiting.
            let _turn = turn;
            PdfDocument::parse(&bytes, max)
        })
        .await
        .map_err(|e| AppError::Internal(format!("the PDF parser failed: {e}")))?;
        Ok(judged?)
    }

    /// SMS, IO and calendar: where the outbox sends.
    pub fn gateways(&self) -> &Gateways {
        self.0.system.gateways()
    }

    /// Whether `/dev/clock` is served.
    pub fn dev_clock_enabled(&self) -> bool {
        self.0.dev_clock
    }

    /// The request deadlines.
    pub fn timeouts(&self) -> Timeouts {
        self.0.timeouts
    }

    /// The read models once they have applied the log up to `at` (what a
    /// write answered with: ADR 0014), waiting at most the read wait; at
    /// once, as the projector left them, if `at` names no position.
    pub async fn read(&self, at: MinPosition) -> Result<&ReadModels, ServiceError> {
        self.0
            .system
            .read_models_at(at.0, self.0.timeouts.read_wait)
            .await
    }

    /// The outbox dispatcher of this app: its gateways, its clock, and the
    /// keys that fill in the access codes of the messages (M10).
    pub fn dispatcher(&self) -> Dispatcher {
        self.0.system.dispatcher()
    }

    /// What the dispatcher worker does, once: projects the log, then sends
    /// every notification due now (SMS, IO, calendar notices).
    pub async fn deliver_due(&self) -> Result<DispatchReport, ServiceError> {
        self.0.system.caught_up().await?;
        self.dispatcher().drain().await
    }

    /// What B8's timer does, once: marks missed the bookings whose slot
    /// ended unserved `missed_after_minutes` ago; returns how many.
    pub async fn settle_bookings(&self) -> Result<usize, ServiceError> {
        self.0.system.booking_timer().step().await
    }

    /// What the sweep worker does, once (M6: documents no event refers to,
    /// stored more than a day before): returns what it removed.
    pub async fn sweep_documents(&self) -> Result<DocumentUsage, ServiceError> {
        self.0.system.sweep().step().await
    }

    /// D9: the delegation through which `delegate` may act for `grantor`
    /// now (the library's rule, `Deleghe::acting_delegation`); the refusal
    /// names the grantor.
    pub(crate) async fn check_acting_for(
        &self,
        delegate: &FiscalCode,
        grantor: &FiscalCode,
    ) -> Result<Delegation, AppError> {
        match self.service().acting_delegation(delegate, grantor).await {
            Err(ServiceError::Rule(Refusal::Delegation(DelegationError::NoActiveDelegation))) => {
                Err(AppError::NoActiveDelegation(grantor.to_string()))
            }
            other => Ok(other?),
        }
    }

    /// The view of a delegation as clients see it.
    pub(crate) fn delegation_view(&self, d: &Delegation) -> DelegationView {
        DelegationView::of(d, self.now(), self.policy())
    }

    /// Whose stream holds delegation `id`. The read models know it once
    /// they have projected it, and it never changes; one they do not know
    /// yet is looked for again after a catch-up, so that a client finds
    /// what it has just written without naming a position (ADR 0014).
    async fn grantor_of(&self, id: &DelegationId) -> Result<Option<FiscalCode>, ServiceError> {
        let models = self.read(MinPosition::default()).await?;
        if let Some(found) = models.delegation(id).await? {
            return Ok(Some(found.grantor));
        }
        let models = self.0.system.caught_up().await?;
        Ok(models.delegation(id).await?.map(|found| found.grantor))
    }

    /// A registered delegation by id (one still in its registration flow,
    /// or refused by a rule, was never registered: 404), as its grantor's
    /// stream holds it now.
    pub(crate) async fn delegation(&self, id: &str) -> Result<DelegationView, AppError> {
        let missing = || AppError::not_found(format!("delegation {id}"));
        let found = self.delegation_outcome(id).await?;
        if matches!(found.status, Status::Pending | Status::Refused) {
            return Err(missing());
        }
        Ok(found)
    }

    /// A delegation by id whatever its stage, for a client polling the
    /// outcome of its request (`Location` of a 202): the registered
    /// delegation, or `pending` while its flow is under way, or the refusing
    /// rule's own error. 404 if nothing was ever asked under that id.
    pub(crate) async fn delegation_outcome(&self, id: &str) -> Result<DelegationView, AppError> {
        let missing = || AppError::not_found(format!("delegation {id}"));
        let id = DelegationId::parse(id).map_err(|_| missing())?;
        let grantor = self.grantor_of(&id).await?.ok_or_else(missing)?;
        let stored = self.service().grantor(&grantor).await?;
        let delegation = stored.delegation(&id).ok_or_else(missing)?;
        Ok(self.delegation_view(delegation))
    }

    /// What [`Self::delegation_outcome`] found, once the caller may see
    /// it: the view if registered; otherwise why not (the library's
    /// [`deleghe_adapters::service::settled_delegation`], on the stored one).
    pub(crate) async fn settled_delegation(
        &self,
        d: DelegationView,
    ) -> Result<DelegationView, AppError> {
        if !matches!(d.status, Status::Pending | Status::Refused) {
            return Ok(d);
        }
        let stored = self.service().grantor(&d.grantor).await?;
        let delegation = stored
            .delegation(&d.id)
            .cloned()
            .ok_or_else(|| AppError::not_found(format!("delegation {}", d.id)))?;
        let settled = deleghe_adapters::service::settled_delegation(delegation)?;
        Ok(self.delegation_view(&settled))
    }

    /// A booking by id, from its booker's stream (a refused request was
    /// never a booking, and a pending one is not one yet: 404).
    pub(crate) async fn booking(&self, id: &str) -> Result<Booking, AppError> {
        let b = self.booking_outcome(id).await?;
        match b.stage {
            BookingStage::Pending | BookingStage::Refused { .. } => {
                Err(AppError::not_found(format!("booking {id}")))
            }
            _ => Ok(b),
        }
    }

    /// A booking by id whatever its stage, from its booker's stream (the
    /// outcome of a request a 202 answered, which
    /// [`deleghe_adapters::service::settled_booking`] reads); 404 if nothing
    /// was asked under that id.
    pub(crate) async fn booking_outcome(&self, id: &str) -> Result<Booking, AppError> {
        let missing = || AppError::not_found(format!("booking {id}"));
        let id = BookingId::parse(id).map_err(|_| missing())?;
        // Whose stream: as for a delegation, a booking not projected yet
        // is looked for again after a catch-up.
        let view = match self
            .read(MinPosition::default())
            .await?
            .booking(&id)
            .await?
        {
            Some(view) => view,
            None => self
                .0
                .system
                .caught_up()
                .await?
                .booking(&id)
                .await?
                .ok_or_else(missing)?,
        };
        self.service()
            .booker(&view.booker)
            .await?
            .booking(&id)
            .cloned()
            .ok_or_else(missing)
    }

    /// The view of a booking as clients see it, with its meeting's state.
    pub(crate) async fn booking_view(&self, b: &Booking) -> Result<BookingView, AppError> {
        let meeting = if b.mode == Mode::WebMeeting {
            self.service().meeting(&b.id).await?
        } else {
            Meeting::default()
        };
        Ok(BookingView::of(b, &meeting, self.now()))
    }
}

/// M6: how many uploads are parsed at once (one per core of the machine the
/// app is sized for).
pub const PDF_PARSERS: usize = 2;

/// The JWT key of [`AppState::for_tests`].
pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret!";

impl AppState {
    /// An app in memory with the built-in counters and [`TEST_SECRET`]:
    /// for tests and examples.
    pub async fn for_tests(dev_clock: bool) -> Self {
        Self::open(StateConfig {
            repository: Repository::memory(),
            policy: Policy::default(),
            keys: JwtKeys::new(&Secret::new(TEST_SECRET)),
            counters: Counters::builtin(),
            dev_clock,
            sms_outbox: None,
            timeouts: Timeouts::default(),
            io: None,
            sms_provider: None,
            failpoint: None,
        })
        .await
        .expect("an in-memory app")
    }
}
