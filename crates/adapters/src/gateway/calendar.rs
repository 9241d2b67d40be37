//! N3: calendar notices, posted into the citizen's personal area: the
//! `notices` table of the read side, which `ReadModels::notices_of` lists and
//! where the citizen marks them read, unread or deleted.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deleghe_domain::FiscalCode;

use super::{CalendarGateway, GatewayError};
use crate::readside::{ts, NoticeRow, ReadSide};

/// Posts notices into the read side's `notices` table. The notice's id is the
/// idempotency key and a second post of the same key changes nothing (not
/// even the citizen's marks): exactly once per key.
///
/// On PostgreSQL a post's commit does not wait for the WAL flush: the
/// dispatcher's mark of the row sent, which does, makes it durable (a
/// flush covers every record before it), and a post lost in a crash before
/// that mark is made again, the row being still pending. Posted otherwise
/// than by the dispatcher, a notice is durable within the server's WAL
/// writer delay (three times `wal_writer_delay`, 0.6 s by default) or at
/// the next commit that waits for the flush.
#[derive(Clone)]
pub struct NoticeCalendar {
    side: ReadSide,
}

impl NoticeCalendar {
    /// The calendar on `side`, whose `notices` table it writes.
    pub fn new(side: ReadSide) -> Self {
        Self { side }
    }
}

#[async_trait]
impl CalendarGateway for NoticeCalendar {
    async fn post(
        &self,
        citizen: &FiscalCode,
        title: &str,
        body: &str,
        at: DateTime<Utc>,
        key: &str,
    ) -> Result<(), GatewayError> {
        self.side
            .insert_notice(&NoticeRow {
                id: key.to_owned(),
                citizen: citizen.to_string(),
                title: title.to_owned(),
                body: body.to_owned(),
                posted_at: ts(at),
                is_read: false,
                deleted: false,
            })
            .await
            .map_err(|e| GatewayError::Temporary(e.to_string()))
    }
}
