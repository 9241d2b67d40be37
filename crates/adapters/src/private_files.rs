//! Files and folders only their owner may touch: the development key and
//! the development SMS file hold credentials and personal data (access
//! codes, phone numbers), and live in a temporary folder other users share.
//!
//! - A private folder is created with mode 0700 (its last component only),
//!   and used only if it is not a symbolic link, is a directory, belongs to
//!   the current user, and gives group and others no access at all: else it
//!   is refused, with the reason and the path, never repaired (files may
//!   already have been planted in a folder others could write).
//! - A private file is opened without following a symbolic link
//!   (`O_NOFOLLOW`), created with mode 0600, and must be a regular file of
//!   the current user.
//!
//! Elsewhere than on Unix these are plain file operations.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// "folder /tmp/x is a symbolic link: refusing to use it".
fn refused(kind: &str, path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{kind} {} {what}: refusing to use it", path.display()),
    )
}

#[cfg(unix)]
mod unix {
    use std::fs::{DirBuilder, File, Metadata, OpenOptions};
    use std::io;
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    use std::path::Path;

    use super::refused;

    /// The effective user id of this process.
    pub fn current_uid() -> u32 {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() }
    }

    /// Checks what every private file and folder is: the current user's,
    /// with no access for group or others.
    fn owned_and_closed(meta: &Metadata, kind: &str, path: &Path) -> io::Result<()> {
        let me = current_uid();
        if meta.uid() != me {
            return Err(refused(
                kind,
                path,
                &format!("belongs to user {}, not to you ({me})", meta.uid()),
            ));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(refused(
                kind,
                path,
                &format!("is open to group or others (mode {mode:03o})"),
            ));
        }
        Ok(())
    }

    pub fn check_dir(dir: &Path) -> io::Result<bool> {
        let meta = match std::fs::symlink_metadata(dir) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        if meta.file_type().is_symlink() {
            return Err(refused("folder", dir, "is a symbolic link"));
        }
        if !meta.is_dir() {
            return Err(refused("folder", dir, "is not a directory"));
        }
        owned_and_closed(&meta, "folder", dir)?;
        Ok(true)
    }

    pub fn ensure_dir(dir: &Path) -> io::Result<()> {
        if check_dir(dir)? {
            return Ok(());
        }
        match DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            // Created meanwhile by someone: checked below like any other.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot create the folder {}: {e}", dir.display()),
                ))
            }
        }
        if check_dir(dir)? {
            Ok(())
        } else {
            Err(refused("folder", dir, "vanished as it was created"))
        }
    }

    pub fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
        let file = options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::ELOOP) {
                    refused("file", path, "is a symbolic link")
                } else {
                    e
                }
            })?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(refused("file", path, "is not a regular file"));
        }
        Ok(file)
    }

    pub fn check_file(file: &File, path: &Path) -> io::Result<()> {
        owned_and_closed(&file.metadata()?, "file", path)
    }

    pub fn narrow(file: &File, path: &Path) -> io::Result<bool> {
        use std::os::unix::fs::PermissionsExt;
        let meta = file.metadata()?;
        let me = current_uid();
        if meta.uid() != me {
            return Err(refused(
                "file",
                path,
                &format!("belongs to user {}, not to you ({me})", meta.uid()),
            ));
        }
        if meta.mode() & 0o077 == 0 {
            return Ok(false);
        }
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(true)
    }
}

/// Whether `dir` exists as a private folder (`false`: it does not exist);
/// an error says what is wrong with it, and where.
pub fn check_dir(dir: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    return unix::check_dir(dir);
    #[cfg(not(unix))]
    return Ok(dir.is_dir());
}

/// Creates `dir` as a private folder if it is missing (mode 0700; its
/// parent must exist), and checks it as [`check_dir`] does.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    return unix::ensure_dir(dir);
    #[cfg(not(unix))]
    return std::fs::create_dir_all(dir);
}

/// Opens `path` with `options`, never through a symbolic link, creating it
/// with mode 0600 if `options` create; refuses anything but a regular file.
pub fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    return unix::open(path, options);
    #[cfg(not(unix))]
    return options.open(path);
}

/// Checks that `file`, opened from `path`, is the current user's and gives
/// group and others no access (a key that others could read is refused).
pub fn check_file(file: &File, path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    return unix::check_file(file, path);
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        Ok(())
    }
}

/// Narrows `file`, opened from `path`, to mode 0600 if group or others had
/// any access (it must be the current user's); `true` if it was narrowed.
pub fn narrow(file: &File, path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    return unix::narrow(file, path);
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        Ok(false)
    }
}

/// The effective user id of this process (0 elsewhere than on Unix).
pub fn current_uid() -> u32 {
    #[cfg(unix)]
    return unix::current_uid();
    #[cfg(not(unix))]
    return 0;
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use super::*;

    /// A fresh folder, removed at the end of the test.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let path =
                std::env::temp_dir().join(format!("deleghe-private-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir(&path).unwrap();
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    fn message(e: io::Error) -> String {
        e.to_string()
    }

    #[test]
    fn a_private_folder_is_created_0700_and_checked() {
        let tmp = TempDir::new();
        let dir = tmp.0.join("private");
        assert!(!check_dir(&dir).unwrap());
        ensure_dir(&dir).unwrap();
        assert_eq!(format!("{:o}", mode(&dir)), "700");
        ensure_dir(&dir).unwrap();
        assert!(check_dir(&dir).unwrap());
    }

    #[test]
    fn a_folder_others_could_tamper_with_is_refused_saying_why_and_where() {
        let tmp = TempDir::new();
        let target = tmp.0.join("target");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();

        let link = tmp.0.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = message(ensure_dir(&link).unwrap_err());
        assert!(
            e.contains("symbolic link") && e.contains(&*link.to_string_lossy()),
            "{e}"
        );

        let file = tmp.0.join("file");
        std::fs::write(&file, b"").unwrap();
        let e = message(ensure_dir(&file).unwrap_err());
        assert!(e.contains("not a directory"), "{e}");

        for wide in [0o777, 0o755, 0o750, 0o701] {
            let dir = tmp.0.join(format!("wide-{wide:o}"));
            std::fs::create_dir(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(wide)).unwrap();
            let e = message(ensure_dir(&dir).unwrap_err());
            assert!(
                e.contains("group or others") && e.contains(&format!("{wide:03o}")),
                "{e}"
            );
            assert_eq!(mode(&dir), wide, "refused, not repaired");
        }

        if current_uid() == 0 {
            // Only root can give a folder away to try this.
            let theirs = tmp.0.join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
            let e = message(ensure_dir(&theirs).unwrap_err());
            assert!(e.contains("belongs to user 65534"), "{e}");
        }
    }

    #[test]
    fn private_files_are_created_0600_and_never_opened_through_a_link() {
        let tmp = TempDir::new();
        let path = tmp.0.join("key");
        let file = open(&path, OpenOptions::new().write(true).create_new(true)).unwrap();
        check_file(&file, &path).unwrap();
        assert_eq!(format!("{:o}", mode(&path)), "600");

        let link = tmp.0.join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let e = message(open(&link, OpenOptions::new().read(true)).unwrap_err());
        assert!(e.contains("symbolic link"), "{e}");
        let dangling = tmp.0.join("dangling");
        std::os::unix::fs::symlink(tmp.0.join("nothing"), &dangling).unwrap();
        assert!(open(&dangling, OpenOptions::new().append(true).create(true)).is_err());
        assert!(
            !tmp.0.join("nothing").exists(),
            "not created through the link"
        );

        let e = message(open(&tmp.0, OpenOptions::new().read(true)).unwrap_err());
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_wider_file_is_refused_as_a_key_or_narrowed() {
        let tmp = TempDir::new();
        let path = tmp.0.join("file");
        std::fs::write(&path, b"x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let file = open(&path, OpenOptions::new().read(true)).unwrap();
        let e = message(check_file(&file, &path).unwrap_err());
        assert!(e.contains("group or others") && e.contains("644"), "{e}");
        assert!(narrow(&file, &path).unwrap());
        assert_eq!(format!("{:o}", mode(&path)), "600");
        assert!(!narrow(&file, &path).unwrap());
        check_file(&file, &path).unwrap();
    }
}
