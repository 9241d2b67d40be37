//! The development files of `serve --dev` and the `token` subcommand: the
//! generated JWT key (`jwt-secret`) and the SMS file (`sms.jsonl`), in a
//! folder of the current user's own:
//!
//! - `$XDG_RUNTIME_DIR/deleghe` when `XDG_RUNTIME_DIR` is set (an absolute
//!   path: the per-user runtime folder of systemd, mode 0700);
//! - else `$TMPDIR/deleghe-dev-UID` (`/tmp` without `TMPDIR`), UID the
//!   effective user id.
//!
//! The folder is created with mode 0700 and refused, saying why and where,
//! if it is a symbolic link, not a directory, another user's, or open to
//! group or others ([`deleghe_adapters::private_files`]). The key file is
//! created with mode 0600 and reused at every start while it is there and
//! valid, so that tokens survive a restart; a key file that is a link, open
//! to others or weak is refused (remove it and a new one is generated). The
//! SMS file is created 0600, and narrowed to 0600 if found wider
//! ([`deleghe_adapters::gateway::FileSmsGateway`]).

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use deleghe_adapters::private_files;

use super::{keys, ConfigError, Secret};

/// The file of the development key, in the development folder.
pub const KEY_FILE: &str = "jwt-secret";
/// The development SMS gateway's file, in the development folder.
pub const SMS_FILE: &str = "sms.jsonl";

/// The current user's development folder, from `XDG_RUNTIME_DIR` or
/// `TMPDIR` as `env` gives them (see the module's documentation).
pub fn dev_dir(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    let absolute = |v: String| Some(PathBuf::from(v.trim())).filter(|p| p.is_absolute());
    match env("XDG_RUNTIME_DIR").and_then(absolute) {
        Some(runtime) => runtime.join("deleghe"),
        None => env("TMPDIR")
            .and_then(absolute)
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join(format!("deleghe-dev-{}", private_files::current_uid())),
    }
}

fn files_error(e: std::io::Error) -> ConfigError {
    ConfigError(format!("development files: {e}"))
}

/// Creates the development folder `dir` if missing (mode 0700) and checks it.
pub fn ensure_dir(dir: &Path) -> Result<(), ConfigError> {
    private_files::ensure_dir(dir).map_err(files_error)
}

/// The development key in `dir`: the one there if present and valid, else
/// a new random one written there (mode 0600). `true` if it was generated.
pub fn key_or_generate(dir: &Path) -> Result<(Secret, bool), ConfigError> {
    ensure_dir(dir)?;
    if let Some(secret) = read_key(dir)? {
        return Ok((secret, false));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ConfigError(format!("no randomness for the development key: {e}")))?;
    let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(KEY_FILE);
    let io = |e: std::io::Error| {
        ConfigError(format!(
            "cannot write the development key {}: {e}",
            path.display()
        ))
    };
    // Written whole to a new name, then linked into place: a reader never
    // sees half a key, and of two servers starting at once one key wins.
    let fresh = dir.join(format!(".{KEY_FILE}.{}", uuid::Uuid::new_v4().simple()));
    let written = private_files::open(&fresh, OpenOptions::new().write(true).create_new(true))
        .and_then(|mut f| {
            f.write_all(key.as_bytes())?;
            f.sync_all()
        });
    let linked = written.and_then(|()| std::fs::hard_link(&fresh, &path));
    let _ = std::fs::remove_file(&fresh);
    match linked {
        Ok(()) => Ok((Secret::new(key), true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let secret = read_key(dir)?.ok_or_else(|| io(e))?;
            Ok((secret, false))
        }
        Err(e) => Err(io(e)),
    }
}

/// The development key `serve --dev` left in `dir` (the `token` subcommand).
pub fn existing_key(dir: &Path) -> Result<Secret, ConfigError> {
    let missing = || {
        ConfigError(format!(
            "{} is not set and no development key is at {} (start `serve --dev` first)",
            super::ENV_JWT_SECRET,
            dir.join(KEY_FILE).display()
        ))
    };
    if !private_files::check_dir(dir).map_err(files_error)? {
        return Err(missing());
    }
    read_key(dir)?.ok_or_else(missing)
}

/// The key file of `dir`, checked; `None` if there is none.
fn read_key(dir: &Path) -> Result<Option<Secret>, ConfigError> {
    let path = dir.join(KEY_FILE);
    let refused = |what: String| {
        ConfigError(format!(
            "development files: {what}; remove {}, and `serve --dev` generates a new key",
            path.display()
        ))
    };
    let mut file = match private_files::open(&path, OpenOptions::new().read(true)) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(refused(e.to_string())),
    };
    // A key others could read may be known: refused, not narrowed.
    private_files::check_file(&file, &path).map_err(|e| refused(e.to_string()))?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| refused(format!("the key cannot be read ({e})")))?;
    let key = text.trim();
    keys::check(key).map_err(|weak| refused(format!("the key {weak}")))?;
    Ok(Some(Secret::new(key)))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A fresh folder, removed at the end of the test: the development
    /// folder of a test is `TempDir::dev()`, never the real one.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let path = std::env::temp_dir().join(format!("deleghe-devf-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir(&path).unwrap();
            Self(path)
        }

        fn dev(&self) -> PathBuf {
            self.0.join("dev")
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

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_folder_is_the_users_own() {
        let uid = private_files::current_uid();
        assert_eq!(
            dev_dir(env(&[
                ("XDG_RUNTIME_DIR", "/run/user/1000"),
                ("TMPDIR", "/t")
            ])),
            Path::new("/run/user/1000/deleghe")
        );
        assert_eq!(
            dev_dir(env(&[("TMPDIR", "/var/tmp")])),
            Path::new(&format!("/var/tmp/deleghe-dev-{uid}"))
        );
        assert_eq!(
            dev_dir(env(&[("XDG_RUNTIME_DIR", "relative")])),
            Path::new(&format!("/tmp/deleghe-dev-{uid}"))
        );
    }

    #[test]
    fn the_key_is_generated_private_once_then_reused() {
        let tmp = TempDir::new();
        let dir = tmp.dev();
        let (first, generated) = key_or_generate(&dir).unwrap();
        assert!(generated);
        assert_eq!(mode(&dir), "700");
        assert_eq!(mode(&dir.join(KEY_FILE)), "600");
        keys::check(first.expose()).unwrap();
        let (again, generated) = key_or_generate(&dir).unwrap();
        assert!(!generated);
        assert_eq!(again, first);
        assert_eq!(existing_key(&dir).unwrap(), first);
        // Nothing else is left in the folder.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [KEY_FILE]);
    }

    #[test]
    fn no_key_no_token() {
        let tmp = TempDir::new();
        let e = existing_key(&tmp.dev()).unwrap_err();
        assert!(e.0.contains("serve --dev"), "{e}");
        assert!(!tmp.dev().exists(), "the token subcommand creates nothing");
    }

    #[test]
    fn a_key_file_others_could_read_or_replace_is_refused() {
        let tmp = TempDir::new();
        let dir = tmp.dev();
        let (secret, _) = key_or_generate(&dir).unwrap();
        let file = dir.join(KEY_FILE);

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = key_or_generate(&dir).unwrap_err();
        assert!(e.0.contains("644") && e.0.contains("remove"), "{e}");
        assert!(!e.0.contains(secret.expose()), "the key is not shown: {e}");
        assert!(existing_key(&dir).is_err());

        std::fs::remove_file(&file).unwrap();
        let elsewhere = tmp.0.join("elsewhere");
        std::fs::write(&elsewhere, secret.expose()).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
        let e = key_or_generate(&dir).unwrap_err();
        assert!(e.0.contains("symbolic link"), "{e}");

        std::fs::remove_file(&file).unwrap();
        std::fs::write(&file, "a".repeat(64)).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = key_or_generate(&dir).unwrap_err();
        assert!(e.0.contains("trivially weak"), "{e}");
    }

    #[test]
    fn a_folder_others_could_tamper_with_is_refused() {
        let tmp = TempDir::new();
        let dir = tmp.dev();
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = key_or_generate(&dir).unwrap_err();
        assert!(
            e.0.contains("group or others") && e.0.contains(&*dir.to_string_lossy()),
            "{e}"
        );
        assert!(!dir.join(KEY_FILE).exists());
        let e = existing_key(&dir).unwrap_err();
        assert!(e.0.contains("group or others"), "{e}");
    }
}
