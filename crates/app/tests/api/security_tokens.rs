//! Regression tests of the findings of a hostile probe of the running app:
//! token lifetimes and claims, operators' offices, the development clock,
//! the `token` subcommand, weak keys, and the development files.

use std::path::{Path, PathBuf};
use std::process::Command;

use deleghe_app::state::TEST_SECRET;

use crate::support::cf;

// ------------------------------------------------------------ the binary

/// A fresh folder, removed at the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("deleghe-sec-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A random key of 32 bytes, hex-encoded: what `openssl rand -hex 32` gives.
fn strong_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `deleghe ARGS` with nothing of the caller's environment that the app
/// reads, its temporary folder in `tmp`.
fn deleghe(tmp: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deleghe"));
    c.args(args)
        .env("TMPDIR", tmp)
        .env("RUST_LOG", "warn")
        .env_remove("XDG_RUNTIME_DIR");
    for (name, _) in std::env::vars() {
        if name.starts_with("DELEGHE_") {
            c.env_remove(name);
        }
    }
    c
}

fn run(mut c: Command) -> (bool, String, String) {
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_token_command_refuses_weak_keys() {
    let tmp = TempDir::new();
    for weak in [
        "a".repeat(32),
        // 32 hex digits: 16 bytes of key.
        strong_key()[..32].to_owned(),
        TEST_SECRET.to_owned(),
        "0123456789abcdef0123456789abcdef".to_owned(),
    ] {
        let mut c = deleghe(&tmp.0, &["token", &cf(1042)]);
        c.env("DELEGHE_JWT_SECRET", &weak);
        let (ok, token, err) = run(c);
        assert!(!ok, "a token was signed with a weak key: {token}");
        assert!(err.contains("DELEGHE_JWT_SECRET"), "{err}");
        assert!(!err.contains(&weak), "the key is not echoed: {err}");
    }
}
