//! [`ReadModels`]: every query the app serves from the read side, the same on
//! every store.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use deleghe_domain::booking::BookingId;
use deleghe_domain::delegation::DelegationId;
use deleghe_domain::schedule::{free_slots, Counter, OfficeId, ScheduleError};
use deleghe_domain::{FiscalCode, Policy};
use serde::Serialize;
use serde_json::Value;

use super::views::{BookingView, DelegationView, NoticeView, SlotAvailability, WaitingRoomEntry};
use super::CHECKPOINT;
use crate::clock::Clock;
use crate::error::ServiceError;
use crate::readside::{ts, AuditEntry, OutboxEntry, ReadSide};

/// Why a query with arguments could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The date range is reversed or too long (`invalid_request`).
    #[error(transparent)]
    Range(#[from] ScheduleError),
    #[error(transparent)]
    /// The store failed.
    Store(#[from] ServiceError),
}

impl QueryError {
    /// The stable code of the HTTP contract.
    pub fn code(&self) -> &str {
        match self {
            Self::Range(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

/// The read models of one store. Status, actions and free places are
/// computed when read, with the clock and the policy.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use deleghe_adapters::System;
/// use deleghe_domain::{FiscalCode, Policy};
///
/// let system = System::builder(Policy::default()).open("memory:").await?;
/// let service = system.service();
/// // ... commands through `service` ...
/// let read = system.caught_up().await?;
/// let grantor = FiscalCode::parse("RSSMRA85T10A562S")?;
/// assert!(read.delegations_by_grantor(&grantor).await?.is_empty());
/// # drop(service);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ReadModels {
    side: ReadSide,
    policy: Policy,
    clock: Clock,
}

/// Every read-model row, with the position each applied and the checkpoint:
/// what a rebuild must reproduce exactly.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadModelDump {
    /// The position of the last event the read models reflect.
    pub checkpoint: i64,
    /// The delegation rows, by id.
    pub delegations: Vec<Value>,
    /// The booking rows, each with its web meeting, by id.
    pub bookings: Vec<Value>,
    /// B4: the places bookings hold in slots, by slot key, then booking.
    pub slot_places: Vec<Value>,
    /// D9: the audit trail, by position.
    pub audit: Vec<Value>,
    /// M6, D11: the documents the events refer to.
    pub document_refs: Vec<Value>,
}

fn values<T: Serialize>(rows: &[T]) -> Result<Vec<Value>, ServiceError> {
    rows.iter()
        .map(|r| serde_json::to_value(r).map_err(|e| ServiceError::Corrupt(Box::new(e))))
        .collect()
}

impl ReadModels {
    /// The read models on `side`, with the real clock.
    pub fn new(side: ReadSide, policy: Policy) -> Self {
        Self {
            side,
            policy,
            clock: Arc::new(Utc::now),
        }
    }

    /// Computes statuses, actions and free places at `clock`'s time instead of
    /// real time.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The position of the last event the read models reflect.
    pub async fn checkpoint(&self) -> Result<i64, ServiceError> {
        self.side.checkpoint(CHECKPOINT).await
    }

    // ------------------------------------------------------------ delegations

    /// One delegation, whatever its stage (a registration still in flight is
    /// `pending`, one a rule refused is `refused`).
    pub async fn delegation(
        &self,
        id: &DelegationId,
    ) -> Result<Option<DelegationView>, ServiceError> {
        let now = (self.clock)();
        Ok(self
            .side
            .delegation(id.as_str())
            .await?
            .map(|row| DelegationView::of(&row.delegation, now, &self.policy)))
    }

    /// The delegations a grantor gave, oldest first: those registered (any
    /// status since), not those in flight or refused.
    pub async fn delegations_by_grantor(
        &self,
        grantor: &FiscalCode,
    ) -> Result<Vec<DelegationView>, ServiceError> {
        let now = (self.clock)();
        let rows = self.side.delegations_by_grantor(grantor.as_str()).await?;
        Ok(rows
            .iter()
            .map(|row| DelegationView::of(&row.delegation, now, &self.policy))
            .collect())
    }

    /// The delegations a delegate received, oldest first (as by grantor).
    pub async fn delegations_by_delegate(
        &self,
        delegate: &FiscalCode,
    ) -> Result<Vec<DelegationView>, ServiceError> {
        let now = (self.clock)();
        let rows = self.side.delegations_by_delegate(delegate.as_str()).await?;
        Ok(rows
            .iter()
            .map(|row| DelegationView::of(&row.delegation, now, &self.policy))
            .collect())
    }

    // ------------------------------------------------------------ bookings

    /// One booking, whatever its stage.
    pub async fn booking(&self, id: &BookingId) -> Result<Option<BookingView>, ServiceError> {
        let now = (self.clock)();
        Ok(self
            .side
            .booking(id.as_str())
            .await?
            .map(|row| BookingView::of(&row.booking, &row.meeting, now)))
    }

    /// B7 "Le mie prenotazioni": a citizen's bookings by slot, refused ones left out.
    pub async fn bookings_of(
        &self,
        citizen: &FiscalCode,
    ) -> Result<Vec<BookingView>, ServiceError> {
        let now = (self.clock)();
        let rows = self.side.bookings_of(citizen.as_str()).await?;
        Ok(rows
            .iter()
            .map(|row| BookingView::of(&row.booking, &row.meeting, now))
            .collect())
    }

    /// The operator's list: every booking at `office` on the local `date`,
    /// by slot, refused ones left out.
    pub async fn bookings_by_office_day(
        &self,
        office: &OfficeId,
        date: NaiveDate,
    ) -> Result<Vec<BookingView>, ServiceError> {
        let now = (self.clock)();
        let rows = self
            .side
            .bookings_by_office_day(office.as_str(), &date.to_string())
            .await?;
        Ok(rows
            .iter()
            .map(|row| BookingView::of(&row.booking, &row.meeting, now))
            .collect())
    }

    /// B3, B4: the slots `counter` offers on the local dates `from` to `to`
    /// (both included), each with its free places: the counter's capacity
    /// minus the places held in the slot (B4's ledger, as projected).
    pub async fn slot_availability(
        &self,
        counter: &Counter,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<SlotAvailability>, QueryError> {
        let slots = counter.slots_between(from, to)?;
        let (Some(first), Some(last)) = (slots.first(), slots.last()) else {
            return Ok(vec![]);
        };
        let held: HashMap<String, i64> = self
            .side
            .places_held(counter.id.as_str(), &ts(first.start), &ts(last.start))
            .await?
            .into_iter()
            .collect();
        let taken = |slot: &deleghe_domain::schedule::Slot| {
            held.get(&ts(slot.start))
                .map_or(0, |n| u32::try_from(*n).unwrap_or(u32::MAX))
        };
        Ok(free_slots(counter, from, to, taken)?
            .iter()
            .map(|(slot, free)| SlotAvailability::of(slot, *free))
            .collect())
    }

    /// M9: the web-meeting bookings at `office` on the local `date` (not
    /// cancelled), by slot, each in its waiting-room state.
    pub async fn waiting_room(
        &self,
        office: &OfficeId,
        date: NaiveDate,
    ) -> Result<Vec<WaitingRoomEntry>, ServiceError> {
        let rows = self
            .side
            .waiting_room(office.as_str(), &date.to_string())
            .await?;
        Ok(rows
            .iter()
            .map(|row| WaitingRoomEntry::of(&row.booking, &row.meeting))
            .collect())
    }

    // ------------------------------------------------------------ notices

    /// N3: a citizen's calendar notices, newest first, deleted ones left out.
    pub async fn notices_of(&self, citizen: &FiscalCode) -> Result<Vec<NoticeView>, ServiceError> {
        self.side
            .notices_of(citizen.as_str())
            .await?
            .into_iter()
            .map(NoticeView::of)
            .collect()
    }

    /// Marks a citizen's notice read; `false` if the citizen has no such notice.
    pub async fn mark_notice_read(
        &self,
        citizen: &FiscalCode,
        id: &str,
    ) -> Result<bool, ServiceError> {
        self.side.set_notice_read(citizen.as_str(), id, true).await
    }

    /// N3: marks a citizen's notice unread; `false` if the citizen has no such notice.
    pub async fn mark_notice_unread(
        &self,
        citizen: &FiscalCode,
        id: &str,
    ) -> Result<bool, ServiceError> {
        self.side.set_notice_read(citizen.as_str(), id, false).await
    }

    /// N3: deletes a citizen's notice; `false` if the citizen has no such notice.
    pub async fn delete_notice(
        &self,
        citizen: &FiscalCode,
        id: &str,
    ) -> Result<bool, ServiceError> {
        self.side.delete_notice(citizen.as_str(), id).await
    }

    // ------------------------------------------------------------ audit

    /// D9: every action taken on behalf of `grantor`, in log order: who, for
    /// whom, what, when.
    pub async fn audit_trail(&self, grantor: &FiscalCode) -> Result<Vec<AuditEntry>, ServiceError> {
        self.side.audit_of(grantor.as_str()).await
    }

    // ------------------------------------------------------------ operations

    /// Every outbox row, in the order their events were logged.
    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>, ServiceError> {
        self.side.outbox().await
    }

    /// Every read-model row (not the outbox, notices or documents), for
    /// comparing a live projection with a rebuild.
    pub async fn dump(&self) -> Result<ReadModelDump, ServiceError> {
        Ok(ReadModelDump {
            checkpoint: self.checkpoint().await?,
            delegations: values(&self.side.all_delegations().await?)?,
            bookings: values(&self.side.all_bookings().await?)?,
            slot_places: values(&self.side.all_places().await?)?,
            audit: values(&self.side.all_audit().await?)?,
            document_refs: values(&self.side.all_document_refs().await?)?,
        })
    }
}
