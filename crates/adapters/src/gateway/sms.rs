//! SMS gateways: the development one, which writes each SMS as a JSON line
//! to a file, and a real provider's over HTTP.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use deleghe_domain::booking::Phone;
use serde::{Deserialize, Serialize};

use super::{GatewayError, SmsGateway};
use crate::private_files;

/// The environment variable naming the development gateway's file (docs/APP.md).
pub const SMS_OUTBOX_VAR: &str = "DELEGHE_SMS_OUTBOX";

/// One line of the development gateway's file:
/// `{"to": "+393331234567", "text": "...", "key": "booking:b-1:sms:confirmation"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsLine {
    /// The recipient, normalised (`+39` and digits).
    pub to: String,
    /// The SMS's text as sent, any access code in it filled in (M2).
    pub text: String,
    /// The idempotency key (N6): one line per key.
    pub key: String,
}

/// The development SMS gateway: appends each SMS to a file as one JSON line
/// ([`SmsLine`]), and sends a key at most once.
///
/// It is an idempotent receiver: on opening it reads the keys already in
/// the file, and it skips (successfully) a key it already wrote. So a
/// dispatcher that crashes after the line is written and before it records
/// the SMS as sent, and sends it again on restart, still leaves one line per
/// key: exactly once per key, from at-least-once delivery. One process
/// writes the file at a time; a line is written with one `write` and synced
/// before the send is reported done, and a torn last line (a crash mid-write)
/// is ignored on reading.
///
/// The file holds phone numbers and access codes: it is created with mode
/// 0600, a file found with access for group or others is narrowed to 0600
/// on opening (it is the current user's; another user's is refused), and it
/// is never opened through a symbolic link ([`crate::private_files`]).
pub struct FileSmsGateway {
    path: PathBuf,
    sent: tokio::sync::Mutex<HashSet<String>>,
}

impl FileSmsGateway {
    /// Opens the file at `path`, creating it (mode 0600) if missing,
    /// narrowing it to 0600, and reads the keys in it.
    pub fn open(path: impl Into<PathBuf>) -> std::io::Result<Self> {
        let path = path.into();
        let file = private_files::open(&path, OpenOptions::new().append(true).create(true))?;
        if private_files::narrow(&file, &path)? {
            tracing::warn!(
                file = %path.display(),
                "the SMS file was open to group or others: narrowed to 0600"
            );
        }
        let sent = read_keys(&path)?;
        Ok(Self {
            path,
            sent: tokio::sync::Mutex::new(sent),
        })
    }

    /// The file the SMS are appended to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every well-formed line of the file at `path` (none if it is missing).
    pub fn read_lines(path: &Path) -> std::io::Result<Vec<SmsLine>> {
        let file = match private_files::open(path, OpenOptions::new().read(true)) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(e),
        };
        let mut lines = Vec::new();
        for line in BufReader::new(file).lines() {
            if let Ok(parsed) = serde_json::from_str::<SmsLine>(&line?) {
                lines.push(parsed);
            }
        }
        Ok(lines)
    }
}

fn read_keys(path: &Path) -> std::io::Result<HashSet<String>> {
    Ok(FileSmsGateway::read_lines(path)?
        .into_iter()
        .map(|l| l.key)
        .collect())
}

#[async_trait]
impl SmsGateway for FileSmsGateway {
    async fn send(&self, to: &Phone, text: &str, key: &str) -> Result<(), GatewayError> {
        // Held across the write: one line at a time, and a key checked and
        // recorded as one step.
        let mut sent = self.sent.lock().await;
        if sent.contains(key) {
            tracing::debug!(key, "SMS already written: not sent again");
            return Ok(());
        }
        let line = SmsLine {
            to: to.to_string(),
            text: text.to_owned(),
            key: key.to_owned(),
        };
        let mut bytes = serde_json::to_vec(&line)
            .map_err(|e| GatewayError::Permanent(format!("unencodable SMS: {e}")))?;
        bytes.push(b'\n');
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || append(&path, &bytes))
            .await
            .map_err(|e| GatewayError::Temporary(format!("SMS writer stopped: {e}")))?
            .map_err(|e| GatewayError::Temporary(format!("cannot write the SMS file: {e}")))?;
        sent.insert(key.to_owned());
        Ok(())
    }
}

fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = private_files::open(path, OpenOptions::new().create(true).append(true))?;
    file.write_all(bytes)?;
    file.sync_data()
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A fresh folder, removed at the end of the test.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let path = std::env::temp_dir().join(format!("deleghe-sms-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir(&path).unwrap();
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn mode(path: &Path) -> String {
        let mode = std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode();
        format!("{:o}", mode & 0o777)
    }

    fn phone() -> Phone {
        Phone::parse("+393331234567").unwrap()
    }

    #[tokio::test]
    async fn the_sms_file_is_created_readable_by_its_owner_only() {
        let dir = TempDir::new();
        let path = dir.0.join("sms.jsonl");
        let gateway = FileSmsGateway::open(&path).unwrap();
        gateway.send(&phone(), "Codice: 123", "k-1").await.unwrap();
        assert_eq!(mode(&path), "600");
        assert_eq!(FileSmsGateway::read_lines(&path).unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_sms_file_open_to_others_is_narrowed_to_its_owner() {
        let dir = TempDir::new();
        let path = dir.0.join("sms.jsonl");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let gateway = FileSmsGateway::open(&path).unwrap();
        assert_eq!(mode(&path), "600", "narrowed on opening");
        gateway.send(&phone(), "Codice: 123", "k-1").await.unwrap();
        assert_eq!(mode(&path), "600");
    }

    #[tokio::test]
    async fn an_sms_file_behind_a_symbolic_link_is_refused() {
        let dir = TempDir::new();
        let target = dir.0.join("elsewhere.jsonl");
        let path = dir.0.join("sms.jsonl");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let opened = FileSmsGateway::open(&path);
        assert!(opened.is_err(), "a link was followed");
        // Nor is it followed when the link appears after opening.
        std::fs::remove_file(&path).unwrap();
        let gateway = FileSmsGateway::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let sent = gateway.send(&phone(), "Codice: 123", "k-1").await;
        assert!(sent.is_err(), "written through a link");
        assert!(!target.exists(), "nothing was written through the link");
    }
}

/// No SMS gateway configured: each SMS is refused, and so recorded in the
/// outbox as failed with the reason, instead of waiting for ever.
pub struct DisabledSms;

#[async_trait]
impl SmsGateway for DisabledSms {
    async fn send(&self, _: &Phone, _: &str, key: &str) -> Result<(), GatewayError> {
        tracing::warn!(key, "no SMS gateway is configured: SMS not sent");
        Err(GatewayError::Permanent(
            "no SMS gateway is configured".to_owned(),
        ))
    }
}
