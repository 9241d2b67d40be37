//! M6: the documents uploaded in web meetings, stored by content. Events
//! carry only a [`DocumentRef`](deleghe_domain::document::DocumentRef) (kind,
//! SHA-256, length), never the bytes; the bytes live here, under their
//! SHA-256 (lowercase hex), so storing the same file twice stores it once.
//!
//! Two stores behind one port, [`DocumentStore`]:
//! - [`DiskDocuments`]: files in a folder, `ROOT/ab/abcdef…` (the first two
//!   hex digits fan the files out), each written to a temporary file, synced
//!   and renamed into place, so a reader never sees half a document;
//! - [`DatabaseDocuments`]: the `documents` table of the read side's database
//!   (`BLOB` on SQLite, `bytea` on PostgreSQL; a map on the in-memory read
//!   side).
//!
//! Both check what they return against its digest: a corrupted file is an
//! error, not a document.
//!
//! A document is stored just before the event that refers to it is
//! committed, so a crash, a refused command or a lost race between the two
//! leaves a document nothing refers to. [`DocumentStore::sweep`] removes
//! those once they are older than a grace period, and [`DocumentSweep`] runs
//! it periodically: which documents events refer to is a read model the
//! projector writes (`read_document_refs`, see `projection::apply`), so the
//! sweep first brings it to the end of the log. A document stored again is
//! young again: a file uploaded anew is not swept between its upload and
//! the event that refers to it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use deleghe_adapters::documents::{DiskDocuments, DocumentStore};
//!
//! let root = std::env::temp_dir().join(format!("deleghe-doc-{}", std::process::id()));
//! let store = DiskDocuments::new(&root);
//! let sha = store.put(b"%PDF-1.7\n...%%EOF\n").await?;
//! assert_eq!(sha.len(), 64);
//! assert_eq!(store.get(&sha).await?.as_deref(), Some(&b"%PDF-1.7\n...%%EOF\n"[..]));
//! assert_eq!(store.get(&"0".repeat(64)).await?, None);
//! # std::fs::remove_dir_all(&root)?;
//! # Ok(())
//! # }
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deleghe_domain::document::sha256_hex;

use crate::clock::Clock;
use crate::error::ServiceError;
use crate::projection::Projector;
use crate::readside::{ts, ReadSide};

/// Stores documents by content.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// Stores `bytes` (once, however many times it is put); returns their
    /// SHA-256, lowercase hex.
    async fn put(&self, bytes: &[u8]) -> Result<String, ServiceError>;

    /// The document with digest `sha256`, if stored. Anything but 64
    /// lowercase hex digits names no document.
    async fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, ServiceError>;

    /// Whether the document with digest `sha256` is stored, without reading
    /// it (what D11's check of a registration's evidence needs: a document
    /// of megabytes is not read and hashed again for each registration
    /// naming it; [`DocumentStore::get`] checks the content when it is
    /// served). The default reads it.
    async fn contains(&self, sha256: &str) -> Result<bool, ServiceError> {
        Ok(self.get(sha256).await?.is_some())
    }

    /// How many documents are stored, and how many bytes they hold.
    async fn usage(&self) -> Result<DocumentUsage, ServiceError>;

    /// Removes every document stored (put, the last time) before
    /// `stored_before` that no event refers to, by the references the
    /// projector wrote to the read side; returns what it removed. The
    /// references must be up to date with the log: [`DocumentSweep`]
    /// catches the projector up first.
    async fn sweep(&self, stored_before: DateTime<Utc>) -> Result<DocumentUsage, ServiceError>;
}

/// What a [`DocumentStore`] holds (or a sweep removed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DocumentUsage {
    /// Documents stored.
    pub documents: u64,
    /// Their bytes, in all.
    pub bytes: u64,
}

impl DocumentUsage {
    /// This, and one more document of `bytes`.
    fn plus(self, bytes: u64) -> Self {
        Self {
            documents: self.documents + 1,
            bytes: self.bytes + bytes,
        }
    }
}

/// Whether `text` is a SHA-256 as this module writes them. Checked before
/// any use as a file name or key: nothing else reaches the disk.
fn is_digest(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn verified(sha256: &str, bytes: Vec<u8>) -> Result<Vec<u8>, ServiceError> {
    if sha256_hex(&bytes) == sha256 {
        Ok(bytes)
    } else {
        Err(ServiceError::Corrupt(
            format!("stored document {sha256} does not match its digest").into(),
        ))
    }
}

fn io_error(error: std::io::Error) -> ServiceError {
    ServiceError::Unavailable(Box::new(error))
}

/// Documents as files under a folder. A file's modification time is when
/// it was stored (the wall clock's).
#[derive(Clone)]
pub struct DiskDocuments {
    root: PathBuf,
    /// Where the references to documents are read, for the sweep.
    references: Option<ReadSide>,
}

impl DiskDocuments {
    /// Documents under `root` (created on the first `put`). Until
    /// [`DiskDocuments::referred_to_from`] says where the references are,
    /// the sweep removes nothing.
    pub fn new(root: impl AsRef<Path>) -> Self {
        Self {
            root: root.as_ref().to_path_buf(),
            references: None,
        }
    }

    /// The sweep reads which documents events refer to from `side`.
    pub fn referred_to_from(mut self, side: ReadSide) -> Self {
        self.references = Some(side);
        self
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.root.join(&sha256[..2]).join(sha256)
    }
}

#[async_trait]
impl DocumentStore for DiskDocuments {
    async fn put(&self, bytes: &[u8]) -> Result<String, ServiceError> {
        let sha256 = sha256_hex(bytes);
        let path = self.path(&sha256);
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|e| ServiceError::Unavailable(Box::new(e)))?
            .map_err(io_error)?;
        Ok(sha256)
    }

    async fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, ServiceError> {
        if !is_digest(sha256) {
            return Ok(None);
        }
        let path = self.path(sha256);
        let read = tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .map_err(|e| ServiceError::Unavailable(Box::new(e)))?;
        match read {
            Ok(bytes) => verified(sha256, bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn contains(&self, sha256: &str) -> Result<bool, ServiceError> {
        if !is_digest(sha256) {
            return Ok(false);
        }
        let path = self.path(sha256);
        blocking(move || path.try_exists()).await
    }

    async fn usage(&self) -> Result<DocumentUsage, ServiceError> {
        let root = self.root.clone();
        let files = blocking(move || stored_files(&root)).await?;
        Ok(files.iter().fold(DocumentUsage::default(), |usage, file| {
            usage.plus(file.bytes)
        }))
    }

    async fn sweep(&self, stored_before: DateTime<Utc>) -> Result<DocumentUsage, ServiceError> {
        let Some(side) = &self.references else {
            tracing::warn!("the documents on disk know no read side: nothing is swept");
            return Ok(DocumentUsage::default());
        };
        let before = SystemTime::from(stored_before);
        let root = self.root.clone();
        let files = blocking(move || stored_files(&root)).await?;
        let mut removed = DocumentUsage::default();
        for file in files.into_iter().filter(|f| f.modified < before) {
            if side.document_referenced(&file.sha256).await? {
                continue;
            }
            // Stored again since it was listed: young again, kept. (Between
            // this look and the removal a `put` can still come: the grace
            // period is what covers it, as on the database.)
            let path = file.path.clone();
            let gone = blocking(move || {
                let removed = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .and_then(|modified| {
                        if modified >= before {
                            return Ok(false);
                        }
                        std::fs::remove_file(&path).map(|()| true)
                    });
                match removed {
                    // Another sweep was first.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                    other => other,
                }
            })
            .await?;
            if gone {
                removed = removed.plus(file.bytes);
            }
        }
        Ok(removed)
    }
}

/// Runs `f` where blocking is allowed; an I/O error is the store unavailable.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Unavailable(Box::new(e)))?
        .map_err(io_error)
}

/// A document file.
struct StoredFile {
    path: PathBuf,
    sha256: String,
    bytes: u64,
    /// When it was stored (written, or stored again).
    modified: SystemTime,
}

/// Every document file under `root` (`ROOT/ab/abcdef…`). Temporary files,
/// and anything not named by a digest, are not documents.
fn stored_files(root: &Path) -> std::io::Result<Vec<StoredFile>> {
    let mut found = Vec::new();
    let folders = match std::fs::read_dir(root) {
        Ok(folders) => folders,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for folder in folders {
        let folder = folder?;
        if !folder.file_type()?.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(folder.path())? {
            let file = file?;
            let name = file.file_name();
            let metadata = file.metadata()?;
            match name.to_str() {
                Some(sha256) if metadata.is_file() && is_digest(sha256) => found.push(StoredFile {
                    path: file.path(),
                    sha256: sha256.to_owned(),
                    bytes: metadata.len(),
                    modified: metadata.modified()?,
                }),
                _ => {}
            }
        }
    }
    Ok(found)
}

/// Writes `bytes` at `path` through a temporary file in the same folder,
/// synced, then renamed: the file at `path` is whole or absent. A file
/// already there has the same content (same digest) and is kept, stored
/// again now (its modification time moved on, for the sweep).
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    match std::fs::File::options().append(true).open(path) {
        Ok(file) => return file.set_modified(SystemTime::now()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let folder = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(folder)?;
    let temporary = folder.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Documents in the `documents` table, beside the events and the references
/// to them, each with the instant it was stored (by its clock).
#[derive(Clone)]
pub struct DatabaseDocuments {
    side: ReadSide,
    clock: Clock,
}

impl DatabaseDocuments {
    /// The documents of `side`, stored at real time.
    pub fn new(side: ReadSide) -> Self {
        Self {
            side,
            clock: Arc::new(Utc::now),
        }
    }

    /// Reads the instant a document is stored at from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

#[async_trait]
impl DocumentStore for DatabaseDocuments {
    async fn put(&self, bytes: &[u8]) -> Result<String, ServiceError> {
        let sha256 = sha256_hex(bytes);
        let stored_at = ts((self.clock)());
        self.side.put_document(&sha256, bytes, &stored_at).await?;
        Ok(sha256)
    }

    async fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, ServiceError> {
        if !is_digest(sha256) {
            return Ok(None);
        }
        match self.side.document(sha256).await? {
            Some(bytes) => verified(sha256, bytes).map(Some),
            None => Ok(None),
        }
    }

    async fn contains(&self, sha256: &str) -> Result<bool, ServiceError> {
        if !is_digest(sha256) {
            return Ok(false);
        }
        self.side.document_stored(sha256).await
    }

    async fn usage(&self) -> Result<DocumentUsage, ServiceError> {
        let (documents, bytes) = self.side.document_usage().await?;
        Ok(DocumentUsage {
            documents: u64::try_from(documents).unwrap_or_default(),
            bytes: u64::try_from(bytes).unwrap_or_default(),
        })
    }

    /// One statement: the look-up of the references and the delete are
    /// one, and a document stored again meanwhile is judged as it is now.
    async fn sweep(&self, stored_before: DateTime<Utc>) -> Result<DocumentUsage, ServiceError> {
        let sizes = self.side.sweep_documents(&ts(stored_before)).await?;
        Ok(sizes
            .into_iter()
            .fold(DocumentUsage::default(), |removed, size| {
                removed.plus(u64::try_from(size).unwrap_or_default())
            }))
    }
}

/// How long a document nothing refers to is kept by default: a day, far
/// longer than an upload takes to be referred to by its event, so a sweep
/// never races an upload in flight.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 60 * 60);

/// Removes, periodically, the documents no event refers to once they are
/// older than a grace period ([`DEFAULT_GRACE`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use deleghe_adapters::System;
/// use deleghe_domain::Policy;
///
/// let system = System::builder(Policy::default()).open("memory:").await?;
/// let store = system.documents();
/// store.put(b"%PDF-1.7 nobody refers to this").await?;
/// let sweep = system.sweep();
/// // Younger than a day: kept.
/// assert_eq!(sweep.step().await?.documents, 0);
/// assert_eq!(store.usage().await?.documents, 1);
/// # Ok(())
/// # }
/// ```
pub struct DocumentSweep {
    store: Arc<dyn DocumentStore>,
    projector: Projector,
    grace: Duration,
    clock: Clock,
}

impl DocumentSweep {
    /// Sweeps `store`, whose references `projector` writes (the two on the
    /// same read side), with the [`DEFAULT_GRACE`] and real time.
    pub fn new(store: Arc<dyn DocumentStore>, projector: Projector) -> Self {
        Self {
            store,
            projector,
            grace: DEFAULT_GRACE,
            clock: Arc::new(Utc::now),
        }
    }

    /// Keeps a document nothing refers to for `grace` after it was stored.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Reads the time from `clock` (the store's clock).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// One sweep: brings the references to documents up to the end of the
    /// log (the projector catches up), then removes the documents stored
    /// more than the grace period ago that no event refers to. Returns what
    /// it removed.
    pub async fn step(&self) -> Result<DocumentUsage, ServiceError> {
        self.projector.catch_up().await?;
        let grace = chrono::Duration::from_std(self.grace)
            .map_err(|e| ServiceError::Unavailable(Box::new(e)))?;
        let Some(stored_before) = (self.clock)().checked_sub_signed(grace) else {
            return Ok(DocumentUsage::default());
        };
        self.store.sweep(stored_before).await
    }

    /// Runs until `shutdown` turns true, sweeping at once and then every
    /// `every`.
    pub async fn run(self, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            match self.step().await {
                Ok(removed) if removed.documents > 0 => tracing::info!(
                    documents = removed.documents,
                    bytes = removed.bytes,
                    "removed documents no event refers to"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "document sweep will retry"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SettableClock;

    /// Records, as the projector does, that an event refers to `sha256`.
    async fn refer_to(side: &ReadSide, sha256: &str) {
        let mut held = side.hold().await.unwrap();
        let mut tx = held.begin().await.unwrap();
        tx.batch().refer_to_document(sha256, 1);
        tx.commit().await.unwrap();
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[tokio::test]
    async fn m6_the_database_sweep_removes_only_old_documents_nothing_refers_to() {
        let side = ReadSide::in_memory().await.unwrap();
        let clock = SettableClock::fixed(at("2026-12-01T08:00:00Z"));
        let store = DatabaseDocuments::new(side.clone()).with_clock(clock.as_clock());
        let orphan = store.put(b"orphan").await.unwrap();
        let referred = store.put(b"referred to").await.unwrap();
        let again = store.put(b"stored again").await.unwrap();
        refer_to(&side, &referred).await;
        clock.set(Some(at("2026-12-03T08:00:00Z")));
        store.put(b"stored again").await.unwrap();
        let young = store.put(b"young").await.unwrap();

        let removed = store.sweep(at("2026-12-02T08:00:00Z")).await.unwrap();
        assert_eq!(
            removed,
            DocumentUsage {
                documents: 1,
                bytes: 6
            }
        );
        assert_eq!(store.get(&orphan).await.unwrap(), None);
        assert!(!store.contains(&orphan).await.unwrap());
        for kept in [&referred, &again, &young] {
            assert!(store.get(kept).await.unwrap().is_some());
            assert!(store.contains(kept).await.unwrap());
        }
        // Stored again with an earlier clock (a clock set back): its
        // instant stays the later one.
        clock.set(Some(at("2026-11-01T08:00:00Z")));
        store.put(b"young").await.unwrap();
        let removed = store.sweep(at("2026-12-02T08:00:00Z")).await.unwrap();
        assert_eq!(removed, DocumentUsage::default());
        assert_eq!(store.usage().await.unwrap().documents, 3);
    }

    #[tokio::test]
    async fn m6_the_disk_sweep_removes_only_old_files_nothing_refers_to() {
        let root = std::env::temp_dir().join(format!("deleghe-sweep-{}", uuid::Uuid::new_v4()));
        let side = ReadSide::in_memory().await.unwrap();
        let blind = DiskDocuments::new(&root);
        let disk = DiskDocuments::new(&root).referred_to_from(side.clone());
        let day_ago = SystemTime::now() - Duration::from_secs(24 * 60 * 60);
        let age = |sha: &str| {
            std::fs::File::options()
                .append(true)
                .open(disk.path(sha))
                .unwrap()
                .set_modified(day_ago)
                .unwrap();
        };
        let orphan = disk.put(b"orphan").await.unwrap();
        let referred = disk.put(b"referred to").await.unwrap();
        let again = disk.put(b"stored again").await.unwrap();
        let young = disk.put(b"young").await.unwrap();
        for sha in [&orphan, &referred, &again] {
            age(sha);
        }
        refer_to(&side, &referred).await;
        disk.put(b"stored again").await.unwrap();
        let an_hour_ago = Utc::now() - chrono::Duration::hours(1);

        // Without the references, nothing can be judged unreferenced.
        assert_eq!(
            blind.sweep(an_hour_ago).await.unwrap(),
            DocumentUsage::default()
        );
        let removed = disk.sweep(an_hour_ago).await.unwrap();
        assert_eq!(
            removed,
            DocumentUsage {
                documents: 1,
                bytes: 6
            }
        );
        assert_eq!(disk.get(&orphan).await.unwrap(), None);
        assert!(!disk.contains(&orphan).await.unwrap());
        for kept in [&referred, &again, &young] {
            assert!(disk.get(kept).await.unwrap().is_some());
            assert!(disk.contains(kept).await.unwrap());
        }
        assert_eq!(disk.usage().await.unwrap().documents, 3);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test]
    async fn m6_documents_are_stored_once_by_content_and_checked_on_reading() {
        let root = std::env::temp_dir().join(format!("deleghe-docs-{}", uuid::Uuid::new_v4()));
        let disk = DiskDocuments::new(&root);
        let side = ReadSide::in_memory().await.unwrap();
        let database = DatabaseDocuments::new(side);
        let stores: [&dyn DocumentStore; 2] = [&disk, &database];
        for store in stores {
            let pdf = b"%PDF-1.7\n1 0 obj\n%%EOF\n";
            let sha = store.put(pdf).await.unwrap();
            assert_eq!(sha, sha256_hex(pdf));
            assert_eq!(
                store.put(pdf).await.unwrap(),
                sha,
                "same content, same name"
            );
            assert_eq!(store.get(&sha).await.unwrap().as_deref(), Some(&pdf[..]));
            assert_eq!(store.get(&"a".repeat(64)).await.unwrap(), None);
            assert_eq!(store.get("../../etc/passwd").await.unwrap(), None);
            // D11's check of a registration's evidence: stored or not, unread.
            assert!(store.contains(&sha).await.unwrap());
            assert!(!store.contains(&"a".repeat(64)).await.unwrap());
            assert!(!store.contains("../../etc/passwd").await.unwrap());
            assert!(!store.contains("").await.unwrap());
            assert_eq!(
                store.usage().await.unwrap(),
                DocumentUsage {
                    documents: 1,
                    bytes: pdf.len() as u64
                }
            );
        }
        // A file changed on disk is reported, not served.
        let sha = disk.put(b"original").await.unwrap();
        std::fs::write(disk.path(&sha), b"tampered").unwrap();
        assert!(matches!(
            disk.get(&sha).await,
            Err(ServiceError::Corrupt(_))
        ));
        let leftovers: Vec<_> = std::fs::read_dir(root.join(&sha[..2]))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left behind");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
