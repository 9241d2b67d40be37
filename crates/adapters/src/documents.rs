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
//!   (`BLOB` on SQLite, `bytea` on PostgreSQL).
//!
//! Both check what they return against its digest: a corrupted file is an
//! error, not a document.
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

use async_trait::async_trait;
use deleghe_domain::document::sha256_hex;

use crate::error::ServiceError;
use crate::readside::ReadSide;

/// Stores documents by content.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// Stores `bytes` (once, however many times it is put); returns their
    /// SHA-256, lowercase hex.
    async fn put(&self, bytes: &[u8]) -> Result<String, ServiceError>;

    /// The document with digest `sha256`, if stored. Anything but 64
    /// lowercase hex digits names no document.
    async fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, ServiceError>;

    /// How many documents are stored, and how many bytes they hold.
    async fn usage(&self) -> Result<DocumentUsage, ServiceError>;
}

/// What a [`DocumentStore`] holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DocumentUsage {
    /// Documents stored.
    pub documents: u64,
    /// Their bytes, in all.
    pub bytes: u64,
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

/// Documents as files under a folder.
#[derive(Debug, Clone)]
pub struct DiskDocuments {
    root: PathBuf,
}

impl DiskDocuments {
    /// Documents under `root` (created on the first `put`).
    pub fn new(root: impl AsRef<Path>) -> Self {
        Self {
            root: root.as_ref().to_path_buf(),
        }
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

    async fn usage(&self) -> Result<DocumentUsage, ServiceError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut usage = DocumentUsage::default();
            for (_, size) in stored_files(&root)? {
                usage.documents += 1;
                usage.bytes += size;
            }
            Ok(usage)
        })
        .await
        .map_err(|e| ServiceError::Unavailable(Box::new(e)))?
        .map_err(io_error)
    }
}

/// Every document file under `root` (`ROOT/ab/abcdef…`), with its size.
/// Temporary files, and anything not named by a digest, are not documents.
fn stored_files(root: &Path) -> std::io::Result<Vec<(PathBuf, u64)>> {
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
            if metadata.is_file() && name.to_str().is_some_and(is_digest) {
                found.push((file.path(), metadata.len()));
            }
        }
    }
    Ok(found)
}

/// Writes `bytes` at `path` through a temporary file in the same folder,
/// synced, then renamed: the file at `path` is whole or absent. A file
/// already there has the same content (same digest) and is kept.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
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

/// Documents in the `documents` table, beside the events.
#[derive(Clone)]
pub struct DatabaseDocuments {
    side: ReadSide,
}

impl DatabaseDocuments {
    pub fn new(side: ReadSide) -> Self {
        Self { side }
    }
}

#[async_trait]
impl DocumentStore for DatabaseDocuments {
    async fn put(&self, bytes: &[u8]) -> Result<String, ServiceError> {
        let sha256 = sha256_hex(bytes);
        self.side.put_document(&sha256, bytes).await?;
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

    async fn usage(&self) -> Result<DocumentUsage, ServiceError> {
        let (documents, bytes) = self.side.document_usage().await?;
        Ok(DocumentUsage {
            documents: u64::try_from(documents).unwrap_or_default(),
            bytes: u64::try_from(bytes).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
