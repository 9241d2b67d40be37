//! M6: the documents no event refers to are removed by a sweep once older
//! than a grace period; those a meeting's `DocumentAttached` refers to are
//! kept, through a rebuild of the read models too, and so are the young ones.
//!
//! Every scenario runs in memory and on SQLite, and on PostgreSQL when
//! `DELEGHE_TEST_POSTGRES_URL` is set; the migration that brought the sweep
//! is checked on the SQL stores against a log written before it.

mod support;

use std::sync::Arc;

use chrono::Duration;
use deleghe::adapters::documents::{
    DatabaseDocuments, DocumentStore, DocumentSweep, DocumentUsage, DEFAULT_GRACE,
};
use deleghe::adapters::projection::ReadSide;
use deleghe::adapters::projection::{Projector, ReadModels};
use deleghe::adapters::{Deleghe, Repository, SettableClock};
use deleghe::domain::booking::Booking;
use deleghe::domain::delegation::Evidence;
use deleghe::domain::document::DocumentDigest;
use deleghe::domain::document::{sha256_hex, DocumentKind, DocumentRef};
use deleghe::domain::meeting::{MeetingBooking, MeetingCommand};
use deleghe::domain::Policy;
use support::*;

struct World {
    repository: Repository,
    side: ReadSide,
    clock: SettableClock,
    service: Deleghe,
    store: Arc<DatabaseDocuments>,
}

impl World {
    async fn on(repository: Repository) -> Self {
        let side = ReadSide::open(&repository).await.unwrap();
        let clock = SettableClock::fixed(t0());
        let service =
            Deleghe::new(repository.clone(), Policy::default()).with_clock(clock.as_clock());
        let store = Arc::new(DatabaseDocuments::new(side.clone()).with_clock(clock.as_clock()));
        Self {
            repository,
            side,
            clock,
            service,
            store,
        }
    }

    fn projector(&self) -> Projector {
        Projector::new(
            self.repository.clone(),
            self.side.clone(),
            Policy::default(),
        )
    }

    fn sweep(&self) -> DocumentSweep {
        DocumentSweep::new(self.store.clone(), self.projector()).with_clock(self.clock.as_clock())
    }

    /// A web meeting booked by person 1, joined five minutes before its slot.
    async fn joined_meeting(&self, id: &str) -> Booking {
        let booking = self
            .service
            .book(web_booking(id, 1), &meta(1))
            .await
            .unwrap();
        let at = booking.slot.start - Duration::minutes(5);
        self.clock.set(Some(at));
        self.service
            .meeting_command(
                &booking.id,
                MeetingCommand::Join {
                    booking: MeetingBooking::of(&booking, at).unwrap(),
                    code: access_codes()
                        .digest(&booking.id, access_codes().issue(&booking.id, 0).0.as_str()),
                    at,
                },
                &meta(1),
            )
            .await
            .unwrap();
        booking
    }

    /// Stores `bytes` and attaches them to the meeting, as an upload does.
    async fn attach(&self, booking: &Booking, bytes: &[u8]) -> String {
        let sha256 = self.store.put(bytes).await.unwrap();
        self.service
            .meeting_command(
                &booking.id,
                MeetingCommand::AttachDocument {
                    document: DocumentRef {
                        kind: DocumentKind::Aa08,
                        sha256: sha256.clone(),
                        bytes: bytes.len() as u64,
                    },
                    booking_active: true,
                    at: self.clock.now(),
                },
                &meta(1),
            )
            .await
            .unwrap();
        sha256
    }

    async fn stored(&self, sha256: &str) -> bool {
        self.store.get(sha256).await.unwrap().is_some()
    }

    /// Drops the test's PostgreSQL schema (a scenario that passed leaves
    /// nothing behind; one that failed leaves its schema to look at).
    async fn dispose(self) {
        use deleghe::adapters::sqlx;
        if let Some(pool) = self.repository.postgres_pool() {
            let schema: String = sqlx::query_scalar("SELECT current_schema()")
                .fetch_one(pool)
                .await
                .unwrap();
            if schema.starts_with("t_") {
                // Identifiers cannot be bound; this one is the test's own.
                sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }
}

async fn a_sweep_keeps_what_events_refer_to_and_what_is_young(store: Store) {
    let w = World::on(fresh(&store).await).await;
    // Monday: a document nobody will refer to.
    let orphan = w.store.put(b"orphan").await.unwrap();
    // Tuesday: one a meeting refers to, and one replaced by another (the
    // event that attached it still refers to it).
    let booking = w.joined_meeting("b-sweep").await;
    let first = w.attach(&booking, b"first form").await;
    let second = w.attach(&booking, b"second form").await;
    // And one a delegation's request names as its evidence (D11).
    let evidence = w.store.put(b"identity card").await.unwrap();
    let mut named = request("d-sweep", 3, 4);
    let mut documents = named.evidence.documents().to_vec();
    documents[0].sha256 = DocumentDigest::parse(&evidence).unwrap();
    named.evidence = Evidence::new(documents);
    w.service
        .register_delegation(named, &meta(3))
        .await
        .unwrap();

    // Within the grace period nothing goes, however unreferenced.
    assert_eq!(w.sweep().step().await.unwrap(), DocumentUsage::default());
    assert!(w.stored(&orphan).await);

    // Three days on: a young orphan, and the old orphan is past its grace.
    w.clock.set(Some(t0() + Duration::days(3)));
    let young = w.store.put(b"young orphan").await.unwrap();
    let removed = w.sweep().step().await.unwrap();
    assert_eq!(
        removed,
        DocumentUsage {
            documents: 1,
            bytes: 6
        }
    );
    assert!(!w.stored(&orphan).await);
    for kept in [&first, &second, &evidence, &young] {
        assert!(w.stored(kept).await, "{kept} was swept");
    }

    // A rebuild of the read models rebuilds the references with them.
    let read = ReadModels::new(w.side.clone(), Policy::default());
    let live = read.dump().await.unwrap();
    assert_eq!(live.document_refs.len(), 3, "{:?}", live.document_refs);
    w.projector().rebuild().await.unwrap();
    assert_eq!(read.dump().await.unwrap(), live);
    w.clock.set(Some(t0() + Duration::days(30)));
    let removed = w.sweep().step().await.unwrap();
    assert_eq!(
        removed,
        DocumentUsage {
            documents: 1,
            bytes: 12
        },
        "only the young orphan, grown old"
    );
    for kept in [&first, &second, &evidence] {
        assert!(w.stored(kept).await, "{kept} was swept after a rebuild");
    }
    w.dispose().await;
}

/// The sweep projects the log before it judges: an event stored after the
/// projector last ran still protects its document.
async fn a_sweep_sees_events_not_projected_yet(store: Store) {
    let w = World::on(fresh(&store).await).await;
    let booking = w.joined_meeting("b-late").await;
    w.clock.set(Some(t0() - Duration::days(5)));
    let sha256 = w.store.put(b"stored long before").await.unwrap();
    w.clock.set(Some(booking.slot.start));
    let event_refers = MeetingCommand::AttachDocument {
        document: DocumentRef {
            kind: DocumentKind::IdentityDocument,
            sha256: sha256.clone(),
            bytes: 18,
        },
        booking_active: true,
        at: booking.slot.start,
    };
    w.service
        .meeting_command(&booking.id, event_refers, &meta(1))
        .await
        .unwrap();
    assert_eq!(w.sweep().step().await.unwrap(), DocumentUsage::default());
    assert!(w.stored(&sha256).await);
    assert_eq!(sha256, sha256_hex(b"stored long before"));
    assert_eq!(DEFAULT_GRACE.as_secs(), 24 * 60 * 60);
    w.dispose().await;
}

/// A store migrated from before the sweep: the documents its events
/// already refer to are recorded from the log, and every document already
/// stored gets the migration's instant, so none goes before a whole grace
/// period.
async fn the_migration_records_what_the_log_already_refers_to(store: Store) {
    use deleghe::adapters::sqlx;

    let repository = fresh(&store).await;
    let w = World::on(repository.clone()).await;
    let booking = w.joined_meeting("b-before").await;
    let attached = w.attach(&booking, b"attached before the upgrade").await;
    w.clock.set(Some(t0()));
    let orphan = w.store.put(b"orphan before the upgrade").await.unwrap();
    w.projector().catch_up().await.unwrap();

    // Back to the schema before the migration, as the upgrade finds it.
    const VERSION: i64 = 20261210000001;
    if let Some(pool) = repository.sqlite_pool() {
        for sql in [
            "DROP TABLE read_document_refs",
            "DROP INDEX documents_stored_at",
            "ALTER TABLE documents DROP COLUMN stored_at",
        ] {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = ?")
            .bind(VERSION)
            .execute(pool)
            .await
            .unwrap();
        repository.migrate().await.unwrap();
    } else if let Some(pool) = repository.postgres_pool() {
        for sql in [
            "DROP TABLE read_document_refs",
            "ALTER TABLE documents DROP COLUMN stored_at",
        ] {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
            .bind(VERSION)
            .execute(pool)
            .await
            .unwrap();
        repository.migrate().await.unwrap();
    } else {
        panic!("a SQL store");
    }

    // Real time now: the migration stamped the documents with it.
    let w = World::on(repository).await;
    w.clock.set(None);
    let sweep = w.sweep();
    assert_eq!(sweep.step().await.unwrap(), DocumentUsage::default());
    let a_day_on = chrono::Utc::now() + Duration::days(1) + Duration::minutes(1);
    w.clock.set(Some(a_day_on));
    let removed = w.sweep().step().await.unwrap();
    assert_eq!(removed.documents, 1);
    assert!(!w.stored(&orphan).await);
    assert!(w.stored(&attached).await, "the migration lost a reference");
    w.dispose().await;
}

macro_rules! on_every_store {
    ($($name:ident),*) => {
        mod memory {
            $(#[tokio::test]
              async fn $name() { super::$name(super::Store::Memory).await; })*
        }
        mod sqlite {
            $(#[tokio::test]
              async fn $name() { super::$name(super::Store::Sqlite).await; })*
        }
        mod postgres {
            $(#[tokio::test]
              async fn $name() {
                if let Some(store) = super::postgres_store() {
                    super::$name(store).await;
                }
            })*
        }
        mod mariadb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() {
                if let Some(store) = super::mariadb_store() {
                    super::$name(store).await;
                }
            })*
        }
    };
}

on_every_store!(
    a_sweep_keeps_what_events_refer_to_and_what_is_young,
    a_sweep_sees_events_not_projected_yet
);

mod sqlite_and_postgres {
    #[tokio::test]
    async fn the_migration_records_what_the_log_already_refers_to() {
        super::the_migration_records_what_the_log_already_refers_to(super::Store::Sqlite).await;
    }

    #[tokio::test]
    async fn the_migration_records_what_the_log_already_refers_to_on_postgres() {
        if let Some(store) = super::postgres_store() {
            super::the_migration_records_what_the_log_already_refers_to(store).await;
        }
    }
}
