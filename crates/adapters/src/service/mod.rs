//! [`Deleghe`]: the rules running on a store. It executes one command on one
//! aggregate (loading it from its events, deciding, appending with optimistic
//! concurrency, retrying a bounded number of times on conflict) and drives
//! the flows of [`deleghe_domain::flows`] to their end, inline, for the
//! request that starts them. What a crash interrupts, [`crate::runner`]
//! finishes from the log.
//!
//! Layout: this module is the facade (one method per thing a caller does);
//! `flow` drives a flow step by step, the same code for every aggregate;
//! `exec` runs one command on one aggregate, with its retries and D12's
//! guard.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventStore;
use deleghe_domain::booking::{
    Booker, BookerCommand, Booking, BookingId, RequestBooking, SlotLedger,
};
use deleghe_domain::contacts::{CitizenContacts, ContactsCommand};
use deleghe_domain::delegation::{
    Delegate, Delegation, DelegationError, DelegationId, Grantor, GrantorCommand,
    RequestDelegation, RevocationChannel, Stage,
};
use deleghe_domain::document::DocumentRef;
use deleghe_domain::flows::{Command, Event, Refusal};
use deleghe_domain::meeting::{Meeting, MeetingCommand};
use deleghe_domain::notification::Contact;
use deleghe_domain::pin::{PinAccount, PinCommand, PinEvent};
use deleghe_domain::uploads::{Uploads, UploadsCommand};
use deleghe_domain::{FiscalCode, Policy};

mod exec;
mod flow;

pub use flow::FlowReport;

use exec::{check_issuer, load, Exec};

use crate::clock::Clock;
use crate::error::{ServiceError, Unsettled};
use crate::metadata::Metadata;
use crate::repository::Repository;

/// A hook the tests use to stop a flow between two steps, as a crash would.
/// It is asked before every step; `true` stops the flow there.
pub type Failpoint = Arc<dyn Fn(&Command) -> bool + Send + Sync>;

/// The rules, running on one store.
pub struct Deleghe {
    repository: Repository,
    policy: Policy,
    clock: Clock,
    max_attempts: usize,
    failpoint: Option<Failpoint>,
    grantors: PersistedEventStore<Repository, Grantor>,
    delegates: PersistedEventStore<Repository, Delegate>,
    bookers: PersistedEventStore<Repository, Booker>,
    slots: PersistedEventStore<Repository, SlotLedger>,
    meetings: PersistedEventStore<Repository, Meeting>,
    pins: PersistedEventStore<Repository, PinAccount>,
    contacts: PersistedEventStore<Repository, CitizenContacts>,
    uploads: PersistedEventStore<Repository, Uploads>,
}

impl Deleghe {
    /// The rules on `repository`, with the real clock.
    pub fn new(repository: Repository, policy: Policy) -> Self {
        Self {
            grantors: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(crate::upcast::upcasters()),
            delegates: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(crate::upcast::upcasters()),
            bookers: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(crate::upcast::upcasters()),
            slots: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(crate::upcast::upcasters()),
            meetings: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(crate::upcast::upcasters()),
            pins: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(crate::upcast::upcasters()),
            contacts: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(crate::upcast::upcasters()),
            uploads: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(crate::upcast::upcasters()),
            repository,
            policy,
            clock: Arc::new(Utc::now),
            max_attempts: 10,
            failpoint: None,
        }
    }

    /// An in-memory instance, for embedding and tests.
    pub fn in_memory(policy: Policy) -> Self {
        Self::new(Repository::memory(), policy)
    }

    /// Reads the time from `clock` wherever the service needs it itself: the
    /// follow-up steps of flows, and D9's checks of a delegate acting for a
    /// grantor.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How many times a command is tried when concurrent updates win.
    pub fn with_max_attempts(mut self, attempts: usize) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Tests only: stop flows where `failpoint` says, as a crash would.
    pub fn with_failpoint(mut self, failpoint: Failpoint) -> Self {
        self.failpoint = Some(failpoint);
        self
    }

    /// The policy every command is decided under.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The store the aggregates are loaded from and appended to.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// The time now, by this service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    // ------------------------------------------------------------ commands

    /// Executes one command on its aggregate: load, decide, append; a lost
    /// optimistic-concurrency race is retried on the reloaded state. The
    /// events are durable when it returns.
    pub async fn execute(
        &self,
        command: &Command,
        meta: &Metadata,
    ) -> Result<Vec<Event>, ServiceError> {
        check_issuer(command, meta)?;
        let step = self.execute_step(command, meta, false, None);
        Ok(self.repository.holding(step).await??.events)
    }

    /// Runs `first` and every step that follows from it, to the flow's end.
    /// A refusal of `first` itself is returned as an error (nothing was
    /// stored); refusals of later steps are in the report, compensated.
    pub async fn run(&self, first: Command, meta: &Metadata) -> Result<FlowReport, ServiceError> {
        match self.run_partial(first, meta).await? {
            (report, None) => Ok(report),
            (_, Some(interrupted)) => Err(interrupted),
        }
    }

    /// Like [`Deleghe::run`], but a failure after `first` was stored (a lost
    /// race, an unreachable store) comes back beside what was done, not
    /// instead of it: the flow's outcome may already be settled, and the
    /// runner finishes the remaining steps from the log.
    pub async fn run_partial(
        &self,
        first: Command,
        meta: &Metadata,
    ) -> Result<(FlowReport, Option<ServiceError>), ServiceError> {
        // One connection for the whole flow (`Repository::holding`).
        self.repository
            .holding(self.run_partial_held(first, meta))
            .await?
    }

    /// Runs `commands` and every step that follows from them, to the end: a
    /// step a rule refuses is compensated as the flow says. Used inline
    /// by [`Deleghe::run`] and by the runner that resumes flows from the log.
    pub async fn drive(
        &self,
        commands: Vec<Command>,
        correlation_id: &str,
    ) -> Result<FlowReport, ServiceError> {
        let drive = async {
            let mut report = FlowReport::default();
            let mut unflushed = false;
            let driven = self
                .drive_into(commands, correlation_id, &mut report, &mut unflushed)
                .await;
            if unflushed {
                self.repository.flush().await?;
            }
            driven.map(|()| report)
        };
        self.repository.holding(drive).await?
    }

    // ------------------------------------------------------------ delegations

    /// Registers a delegation under D1–D7 and returns it, active or awaiting
    /// confirmation; a rule's refusal (including D2 on the delegate) is an error.
    pub async fn register_delegation(
        &self,
        request: RequestDelegation,
        meta: &Metadata,
    ) -> Result<Delegation, ServiceError> {
        let grantor = request.grantor.clone();
        let id = request.id.clone();
        let (report, _interrupted) = self
            .run_partial(
                Command::Grantor {
                    id: grantor.clone(),
                    command: request.issued_by(meta.issuer()),
                },
                meta,
            )
            .await?;
        let settled = |state: &Grantor| {
            state
                .delegation(&id)
                .filter(|d| d.stage != Stage::Pending)
                .cloned()
        };
        let kept = report
            .kept_state::<Grantor>(grantor.as_str())
            .and_then(settled);
        // Unsettled as this flow left it (another driver took a step): load.
        let delegation = match kept {
            Some(delegation) => delegation,
            None => self
                .grantor(&grantor)
                .await?
                .delegation(&id)
                .cloned()
                .ok_or_else(|| Refusal::from(DelegationError::NotFound(id.clone())))?,
        };
        // The answer is the stored outcome: once it is settled, steps left
        // undone by an interruption (a seat's release) are the runner's.
        settled_delegation(delegation)
    }

    /// A command on one of a grantor's delegations (confirm, reject, revoke),
    /// with what follows it; returns the delegation after.
    pub async fn delegation_command(
        &self,
        grantor: &FiscalCode,
        command: GrantorCommand,
        meta: &Metadata,
    ) -> Result<Delegation, ServiceError> {
        let id = command
            .delegation_id()
            .cloned()
            .ok_or(ServiceError::Misuse(
                "delegation_command is for a command on one delegation",
            ))?;
        // What follows (a seat's release) may be left to the runner.
        self.run_partial(
            Command::Grantor {
                id: grantor.clone(),
                command,
            },
            meta,
        )
        .await?;
        self.grantor(grantor)
            .await?
            .delegation(&id)
            .cloned()
            .ok_or_else(|| Refusal::from(DelegationError::NotFound(id)).into())
    }

    /// D8: revocation, online by the grantor or at a counter.
    pub async fn revoke_delegation(
        &self,
        grantor: &FiscalCode,
        id: &DelegationId,
        channel: RevocationChannel,
        at: DateTime<Utc>,
        meta: &Metadata,
    ) -> Result<Delegation, ServiceError> {
        let command = GrantorCommand::Revoke {
            id: id.clone(),
            channel,
            at,
            by: meta.issuer(),
        };
        self.delegation_command(grantor, command, meta).await
    }

    /// D9: the delegation through which `delegate` may act for `grantor`
    /// now, read from the grantor's stream (the authority, not a read
    /// model); `no_active_delegation` otherwise. Commands a delegate issues
    /// are judged again with the command itself (D12, ADR 0007): this is
    /// for what is not a command (reading, opening an act-as session).
    pub async fn acting_delegation(
        &self,
        delegate: &FiscalCode,
        grantor: &FiscalCode,
    ) -> Result<Delegation, ServiceError> {
        let state = self.grantor(grantor).await?;
        let d = state
            .acting_delegation(delegate, self.now())
            .map_err(Refusal::from)?;
        Ok(d.clone())
    }

    /// The delegations `code` has given (D1), loaded from the grantor's stream:
    /// the authority, not a read model. Empty if nothing is stored.
    pub async fn grantor(&self, code: &FiscalCode) -> Result<Grantor, ServiceError> {
        load(&self.grantors, code.as_str()).await
    }

    /// The seats `code` holds as a delegate (D2), loaded from their stream;
    /// empty if nothing is stored.
    pub async fn delegate(&self, code: &FiscalCode) -> Result<Delegate, ServiceError> {
        load(&self.delegates, code.as_str()).await
    }

    // ------------------------------------------------------------ bookings

    /// Books a slot under B1–B6 and returns the confirmed booking.
    pub async fn book(
        &self,
        request: RequestBooking,
        meta: &Metadata,
    ) -> Result<Booking, ServiceError> {
        let booker = request.booker.clone();
        let id = request.id.clone();
        let (report, _interrupted) = self
            .run_partial(
                Command::Booker {
                    id: booker.clone(),
                    command: BookerCommand::Request(Box::new(request)),
                },
                meta,
            )
            .await?;
        let kept = report
            .kept_state::<Booker>(booker.as_str())
            .and_then(|state| state.booking(&id))
            .filter(|b| b.stage != deleghe_domain::booking::BookingStage::Pending)
            .cloned();
        // Unsettled as this flow left it (another driver took a step): load.
        let booking = match kept {
            Some(booking) => booking,
            None => self
                .booker(&booker)
                .await?
                .booking(&id)
                .cloned()
                .ok_or_else(|| {
                    Refusal::from(deleghe_domain::booking::BookingError::NotFound(id.clone()))
                })?,
        };
        // As for delegations, the answer is the stored outcome.
        settled_booking(booking)
    }

    /// A command on one of a citizen's bookings (cancel, served, missed).
    pub async fn booking_command(
        &self,
        booker: &FiscalCode,
        id: &BookingId,
        command: BookerCommand,
        meta: &Metadata,
    ) -> Result<Booking, ServiceError> {
        // What follows (a place's release) may be left to the runner.
        self.run_partial(
            Command::Booker {
                id: booker.clone(),
                command,
            },
            meta,
        )
        .await?;
        self.booker(booker)
            .await?
            .booking(id)
            .cloned()
            .ok_or_else(|| {
                Refusal::from(deleghe_domain::booking::BookingError::NotFound(id.clone())).into()
            })
    }

    /// A citizen's bookings (B1, B2), loaded from their stream; empty if
    /// nothing is stored.
    pub async fn booker(&self, code: &FiscalCode) -> Result<Booker, ServiceError> {
        load(&self.bookers, code.as_str()).await
    }

    /// B4: the places held in one slot, loaded from the stream `key`
    /// ([`slot_key`](deleghe_domain::booking::slot_key)); empty if nothing is
    /// stored.
    pub async fn slot(&self, key: &str) -> Result<SlotLedger, ServiceError> {
        load(&self.slots, key).await
    }

    // ------------------------------------------------------------ meetings

    /// A command on a web meeting, with what follows it (M7: completion runs
    /// the registration and records its outcome); returns the meeting after.
    ///
    /// A command refused by a rule whose refusal is recorded (M10: a wrong
    /// access code, counted toward the lock) stores its events and then
    /// answers that refusal.
    pub async fn meeting_command(
        &self,
        booking: &BookingId,
        command: MeetingCommand,
        meta: &Metadata,
    ) -> Result<Meeting, ServiceError> {
        let report = self
            .run(
                Command::Meeting {
                    id: booking.clone(),
                    command,
                },
                meta,
            )
            .await?;
        let recorded = report.events.iter().find_map(|e| match e {
            Event::Meeting(e) => e.refusal(),
            _ => None,
        });
        if let Some(refusal) = recorded {
            return Err(Refusal::from(refusal).into());
        }
        self.meeting(booking).await
    }

    /// The web meeting of `booking`, loaded from its stream (the booking's id);
    /// not yet joined if nothing is stored.
    pub async fn meeting(&self, booking: &BookingId) -> Result<Meeting, ServiceError> {
        load(&self.meetings, booking.as_str()).await
    }

    // ------------------------------------------------------------ PIN

    /// P1–P3: a command on a citizen's telephone PIN; returns the events.
    pub async fn pin_command(
        &self,
        citizen: &FiscalCode,
        command: PinCommand,
        meta: &Metadata,
    ) -> Result<Vec<PinEvent>, ServiceError> {
        if let PinCommand::IssuePin { by, .. } = &command {
            if *by != meta.issuer() {
                return Err(ServiceError::Misuse(
                    "the command's issuer is not the metadata's actor",
                ));
            }
        }
        let run = Exec::new(
            citizen.as_str(),
            &command,
            &self.policy,
            meta,
            self.max_attempts,
            &|_| false,
        );
        Ok(self.repository.holding(run.on(&self.pins)).await??.events)
    }

    /// P1–P3: a citizen's telephone PIN, loaded from their stream; none issued
    /// if nothing is stored.
    pub async fn pin_account(&self, citizen: &FiscalCode) -> Result<PinAccount, ServiceError> {
        load(&self.pins, citizen.as_str()).await
    }

    // ------------------------------------------------------------ contacts

    /// N7: a change of a citizen's contacts; returns them as they are now.
    /// D12: only the citizen in person changes them.
    pub async fn change_contacts(
        &self,
        citizen: &FiscalCode,
        command: ContactsCommand,
        meta: &Metadata,
    ) -> Result<CitizenContacts, ServiceError> {
        let ContactsCommand::Change { by, .. } = &command;
        if *by != meta.issuer() {
            return Err(ServiceError::Misuse(
                "the command's issuer is not the metadata's actor",
            ));
        }
        let run = Exec::new(
            citizen.as_str(),
            &command,
            &self.policy,
            meta,
            self.max_attempts,
            &|_| false,
        );
        self.repository.holding(run.on(&self.contacts)).await??;
        self.contacts(citizen).await
    }

    /// N7: a citizen's contacts (none set: no mobile, no IO messages).
    pub async fn contacts(&self, citizen: &FiscalCode) -> Result<CitizenContacts, ServiceError> {
        load(&self.contacts, citizen.as_str()).await
    }
}

impl Deleghe {
    // ------------------------------------------------------------ uploads

    /// D11: records that the metadata's actor uploaded `document` (stored
    /// beforehand, after M6's checks), on the stream of that uploader and
    /// document (ADR 0016); returns that stream's state, the document as it
    /// is recorded now. D12: a delegate acting for someone uploads nothing.
    pub async fn record_upload(
        &self,
        document: DocumentRef,
        meta: &Metadata,
    ) -> Result<Uploads, ServiceError> {
        let by = meta.issuer();
        if Uploads::stream_id(&by).is_none() {
            return Err(ServiceError::Misuse("the system uploads no documents"));
        }
        let stream = Uploads::stream_of(&by, &document.sha256)
            .ok_or(ServiceError::Misuse("a document is named by its SHA-256"))?;
        let command = UploadsCommand::Record {
            document,
            by,
            at: self.now(),
        };
        let run = Exec::new(
            &stream,
            &command,
            &self.policy,
            meta,
            self.max_attempts,
            &|_| false,
        );
        Ok(self.repository.holding(run.on(&self.uploads)).await??.state)
    }

    /// D11: the document `sha256` as `uploader` uploaded it, if they did:
    /// read from the stream of that uploader and document (ADR 0016), a few
    /// events whatever else they uploaded; for a document recorded before
    /// that stream existed, from the uploader's one stream of old. None for
    /// the system, or for what is not a digest.
    pub async fn uploaded(
        &self,
        uploader: &deleghe_domain::Issuer,
        sha256: &str,
    ) -> Result<Option<DocumentRef>, ServiceError> {
        let (Some(stream), Some(of_old)) = (
            Uploads::stream_of(uploader, sha256),
            Uploads::stream_id(uploader),
        ) else {
            return Ok(None);
        };
        if let Some(document) = load(&self.uploads, &stream).await?.document(sha256) {
            return Ok(Some(document.clone()));
        }
        Ok(load(&self.uploads, &of_old)
            .await?
            .document(sha256)
            .cloned())
    }
}

/// N7: where the outbox finds, when it sends a notification, how a citizen
/// can be reached: the contacts they keep at that moment.
#[async_trait::async_trait]
pub trait ContactBook: Send + Sync {
    /// The citizen's contacts now (none set: no mobile, no IO messages).
    async fn contact(&self, citizen: &FiscalCode) -> Result<Contact, ServiceError>;
}

#[async_trait::async_trait]
impl ContactBook for Deleghe {
    async fn contact(&self, citizen: &FiscalCode) -> Result<Contact, ServiceError> {
        Ok(self.contacts(citizen).await?.contact().clone())
    }
}

/// A registration's answer from its stored outcome: the delegation once
/// registered (or awaiting confirmation, or ended since); `Pending` while
/// its flow is under way (the runner finishes it, D10); otherwise the rule's
/// own refusal, whoever decided it first.
pub fn settled_delegation(delegation: Delegation) -> Result<Delegation, ServiceError> {
    match &delegation.stage {
        Stage::Pending => Err(ServiceError::Pending(Unsettled::Delegation {
            grantor: delegation.grantor.clone(),
            id: delegation.id.clone(),
        })),
        Stage::Refused {
            refusal: Some(refusal),
            ..
        } => Err(Refusal::from(refusal.clone()).into()),
        Stage::Refused { reason, .. } => Err(ServiceError::RefusedEarlier(reason.clone())),
        _ => Ok(delegation),
    }
}

/// A booking request's answer from its stored outcome, as
/// [`settled_delegation`] for registrations.
pub fn settled_booking(booking: Booking) -> Result<Booking, ServiceError> {
    use deleghe_domain::booking::BookingStage;
    match &booking.stage {
        BookingStage::Pending => Err(ServiceError::Pending(Unsettled::Booking {
            booker: booking.booker.clone(),
            id: booking.id.clone(),
        })),
        BookingStage::Refused {
            refusal: Some(refusal),
            ..
        } => Err(Refusal::from(refusal.clone()).into()),
        BookingStage::Refused { reason, .. } => Err(ServiceError::RefusedEarlier(reason.clone())),
        _ => Ok(booking),
    }
}

#[cfg(test)]
mod tests {
    use deleghe_domain::document::{DocumentKind, DocumentRef};
    use deleghe_domain::uploads::{Uploads, UploadsCommand};
    use deleghe_domain::{Issuer, Policy};

    use super::exec::Exec;
    use super::Deleghe;
    use crate::metadata::Metadata;

    fn document(kind: DocumentKind, c: char) -> DocumentRef {
        DocumentRef {
            kind,
            sha256: c.to_string().repeat(64),
            bytes: 100,
        }
    }

    /// An embedder's policy is the one the service decides with, and the
    /// one it tells its callers (the app's counters and limits read it).
    #[test]
    fn the_service_keeps_the_policy_it_was_given() {
        let policy = Policy {
            max_ordinary_delegations_per_delegate: 1,
            ..Policy::default()
        };
        assert_ne!(policy, Policy::default());
        let service = Deleghe::in_memory(policy.clone());
        assert_eq!(service.policy(), &policy);
    }

    /// D11, ADR 0016: an upload is found on its own stream; one recorded on
    /// the uploader's one stream of old (before ADR 0016) is still found;
    /// another uploader's is not, nor what is not a digest.
    #[tokio::test]
    async fn d11_an_upload_is_found_on_its_stream_or_on_the_uploaders_stream_of_old() {
        let service = Deleghe::in_memory(Policy::default());
        let operator = deleghe_domain::Actor::Operator("BNCGNN80A41F205A@DCM NAPOLI".into());
        let meta = Metadata::new(operator, "counter");
        let by = meta.issuer();
        let new = document(DocumentKind::Aa08, 'a');
        let recorded = service.record_upload(new.clone(), &meta).await.unwrap();
        assert_eq!(recorded.documents(), std::slice::from_ref(&new));
        // As an older build recorded it: on the uploader's one stream.
        let old = document(DocumentKind::IdentityDocument, 'b');
        let of_old = Uploads::stream_id(&by).unwrap();
        let command = UploadsCommand::Record {
            document: old.clone(),
            by: by.clone(),
            at: service.now(),
        };
        Exec::new(&of_old, &command, service.policy(), &meta, 1, &|_| false)
            .on(&service.uploads)
            .await
            .unwrap();

        assert_eq!(
            service.uploaded(&by, &new.sha256).await.unwrap(),
            Some(new.clone())
        );
        assert_eq!(service.uploaded(&by, &old.sha256).await.unwrap(), Some(old));
        assert_eq!(service.uploaded(&by, &"c".repeat(64)).await.unwrap(), None);
        let someone_else = Issuer::operator("RSSMRA85T10A562S@DCM ROMA");
        assert_eq!(
            service.uploaded(&someone_else, &new.sha256).await.unwrap(),
            None
        );
        assert_eq!(
            service
                .uploaded(&Issuer::system(), &new.sha256)
                .await
                .unwrap(),
            None
        );
        assert_eq!(service.uploaded(&by, "not a digest").await.unwrap(), None);
        // The new upload is on a stream of its own, not the one of old.
        let stream = Uploads::stream_of(&by, &new.sha256).unwrap();
        assert_eq!(
            service.repository().read_log(0, 10).await.unwrap()[0]
                .event
                .aggregate_id,
            stream
        );
    }
}
