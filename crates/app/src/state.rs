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
use deleghe_adapters::documents::{
    DatabaseDocuments, DocumentStore, DocumentSweep, DocumentUsage, DEFAULT_GRACE,
};
use deleghe_adapters::gateway::{
    async_trait, DisabledIo, FileSmsGateway, GatewayError, Gateways, HttpIoGateway, HttpSmsGateway,
    IoGateway, NoticeCalendar, SmsGateway,
};
use deleghe_adapters::outbox::{DispatchReport, Dispatcher};
use deleghe_adapters::projection::{BookingView, DelegationView, Projector, ReadModels};
use deleghe_adapters::readside::ReadSide;
use deleghe_adapters::{upcast, Deleghe, Repository, ServiceError, SettableClock};
use deleghe_domain::booking::{Booking, BookingId, BookingStatus, Phone};
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
use crate::Timeouts;

/// The app's shared state; cloning shares it.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    service: Arc<Deleghe>,
    clock: SettableClock,
    side: ReadSide,
    read: ReadModels,
    projector: Projector,
    documents: Arc<dyn DocumentStore>,
    /// M6: the uploads being parsed, at most [`PDF_PARSERS`] at once.
    pdf_parsers: Arc<Semaphore>,
    gateways: Gateways,
    keys: JwtKeys,
    counters: Counters,
    dev_clock: bool,
    timeouts: Timeouts,
}

/// How to build an [`AppState`].
pub struct StateConfig {
    pub repository: Repository,
    pub policy: Policy,
    pub keys: JwtKeys,
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
}

/// No SMS gateway configured: each SMS is refused, and so recorded as
/// failed with the reason, instead of waiting for ever.
struct NoSms;

#[async_trait]
impl SmsGateway for NoSms {
    async fn send(&self, _: &Phone, _: &str, key: &str) -> Result<(), GatewayError> {
        tracing::warn!(
            key,
            "no SMS gateway is configured (DELEGHE_SMS_URL or DELEGHE_SMS_OUTBOX): SMS not sent"
        );
        Err(GatewayError::Permanent(
            "no SMS gateway is configured".to_owned(),
        ))
    }
}

impl AppState {
    /// The rules on `repository` and its read side, reading time from a
    /// [`SettableClock`] that reads real time until `PUT /dev/clock` sets it.
    pub async fn open(config: StateConfig) -> Result<Self, ServiceError> {
        let clock = SettableClock::new();
        let repository = config.repository;
        let policy = config.policy;
        let service =
            Arc::new(Deleghe::new(repository.clone(), policy.clone()).with_clock(clock.as_clock()));
        // Opened once and shared (in memory, it is the only copy).
        let side = ReadSide::open(&repository).await?;
        let read = ReadModels::new(side.clone(), policy.clone()).with_clock(clock.as_clock());
        let projector = Projector::new(repository, side.clone(), upcast::upcasters(), policy);
        let sms: Arc<dyn SmsGateway> = match (&config.sms_provider, &config.sms_outbox) {
            (Some(provider), _) => Arc::new(
                HttpSmsGateway::new(&provider.url, provider.token.expose())
                    .map_err(|e| ServiceError::Unavailable(Box::new(e)))?,
            ),
            (None, Some(path)) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| ServiceError::Unavailable(Box::new(e)))?;
                }
                Arc::new(
                    FileSmsGateway::open(path)
                        .map_err(|e| ServiceError::Unavailable(Box::new(e)))?,
                )
            }
            (None, None) => Arc::new(NoSms),
        };
        let io: Arc<dyn IoGateway> = match &config.io {
            Some(io) => Arc::new(
                HttpIoGateway::new(&io.url, io.key.expose())
                    .map_err(|e| ServiceError::Unavailable(Box::new(e)))?,
            ),
            None => Arc::new(DisabledIo),
        };
        let gateways = Gateways {
            sms,
            io,
            calendar: Arc::new(NoticeCalendar::new(side.clone())),
        };
        Ok(Self(Arc::new(Inner {
            service,
            documents: Arc::new(DatabaseDocuments::new(side.clone()).with_clock(clock.as_clock())),
            clock,
            pdf_parsers: Arc::new(Semaphore::new(PDF_PARSERS)),
            side,
            read,
            projector,
            gateways,
            keys: config.keys,
            counters: config.counters,
            dev_clock: config.dev_clock,
            timeouts: config.timeouts,
        })))
    }

    pub fn service(&self) -> &Arc<Deleghe> {
        &self.0.service
    }

    pub fn repository(&self) -> &Repository {
        self.0.service.repository()
    }

    pub fn policy(&self) -> &Policy {
        self.0.service.policy()
    }

    pub fn clock(&self) -> &SettableClock {
        &self.0.clock
    }

    /// The instant every command of a request carries.
    pub fn now(&self) -> DateTime<Utc> {
        self.0.clock.now()
    }

    pub fn keys(&self) -> &JwtKeys {
        &self.0.keys
    }

    pub fn counters(&self) -> &Counters {
        &self.0.counters
    }

    pub fn side(&self) -> &ReadSide {
        &self.0.side
    }

    pub fn documents(&self) -> &Arc<dyn DocumentStore> {
        &self.0.documents
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

    pub fn gateways(&self) -> &Gateways {
        &self.0.gateways
    }

    pub fn dev_clock_enabled(&self) -> bool {
        self.0.dev_clock
    }

    pub fn timeouts(&self) -> Timeouts {
        self.0.timeouts
    }

    /// The read models, brought up to the end of the log first, so that a
    /// query sees every command answered before it.
    pub async fn read(&self) -> Result<&ReadModels, ServiceError> {
        self.0.projector.catch_up().await?;
        Ok(&self.0.read)
    }

    /// The outbox dispatcher of this app: its gateways, its clock, and the
    /// keys that fill in the access codes of the messages (M10).
    pub fn dispatcher(&self) -> Dispatcher {
        Dispatcher::new(self.0.side.clone(), self.0.gateways.clone())
            .with_clock(self.0.clock.as_clock())
            .with_access_codes(self.0.keys.access_codes().clone())
    }

    /// What the dispatcher worker does, once: projects the log, then sends
    /// every notification due now (SMS, IO, calendar notices).
    pub async fn deliver_due(&self) -> Result<DispatchReport, ServiceError> {
        self.0.projector.catch_up().await?;
        self.dispatcher().drain().await
    }

    /// M6: the sweep of the documents no event refers to, on this state's
    /// store, clock and read side, keeping each for [`DEFAULT_GRACE`] (a day)
    /// after it was stored. The `serve` workers run it every
    /// [`crate::server::SWEEP_EVERY`].
    pub fn document_sweep(&self) -> DocumentSweep {
        let projector = Projector::new(
            self.repository().clone(),
            self.0.side.clone(),
            upcast::upcasters(),
            self.policy().clone(),
        );
        DocumentSweep::new(Arc::clone(&self.0.documents), projector)
            .with_grace(DEFAULT_GRACE)
            .with_clock(self.0.clock.as_clock())
    }

    /// What the sweep worker does, once: returns what it removed.
    pub async fn sweep_documents(&self) -> Result<DocumentUsage, ServiceError> {
        self.document_sweep().step().await
    }

    /// D9: the delegation through which `delegate` may act for `grantor`
    /// now (the library's rule, `Deleghe::acting_delegation`); the refusal
    /// names the grantor.
    pub async fn check_acting_for(
        &self,
        delegate: &FiscalCode,
        grantor: &FiscalCode,
    ) -> Result<Delegation, AppError> {
        match self.0.service.acting_delegation(delegate, grantor).await {
            Err(ServiceError::Rule(Refusal::Delegation(DelegationError::NoActiveDelegation))) => {
                Err(AppError::NoActiveDelegation(grantor.to_string()))
            }
            other => Ok(other?),
        }
    }

    /// The view of a delegation as clients see it.
    pub fn delegation_view(&self, d: &Delegation) -> DelegationView {
        DelegationView::of(d, self.now(), self.policy())
    }

    /// A registered delegation by id (one still in its registration flow,
    /// or refused by a rule, was never registered: 404).
    pub async fn delegation(&self, id: &str) -> Result<DelegationView, AppError> {
        let missing = || AppError::not_found(format!("delegation {id}"));
        let id = DelegationId::parse(id).map_err(|_| missing())?;
        match self.read().await?.delegation(&id).await? {
            Some(d) if !matches!(d.status, Status::Pending | Status::Refused) => Ok(d),
            _ => Err(missing()),
        }
    }

    /// A booking by id, from its booker's stream (a refused request was
    /// never a booking: 404).
    pub async fn booking(&self, id: &str) -> Result<Booking, AppError> {
        let missing = || AppError::not_found(format!("booking {id}"));
        let id = BookingId::parse(id).map_err(|_| missing())?;
        let view = self.read().await?.booking(&id).await?.ok_or_else(missing)?;
        if view.status == BookingStatus::Refused {
            return Err(missing());
        }
        self.0
            .service
            .booker(&view.booker)
            .await?
            .booking(&id)
            .cloned()
            .ok_or_else(missing)
    }

    /// The view of a booking as clients see it, with its meeting's state.
    pub async fn booking_view(&self, b: &Booking) -> Result<BookingView, AppError> {
        let meeting = if b.mode == Mode::WebMeeting {
            self.0.service.meeting(&b.id).await?
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
        })
        .await
        .expect("an in-memory app")
    }
}
