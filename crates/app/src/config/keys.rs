//! Whether a string may serve as the HS256 key of the bearer tokens.
//!
//! A key is refused when it is:
//!
//! - **short**: fewer than [`MIN_KEY_BYTES`] bytes *of key material*. A key
//!   is measured by the alphabet it is written in, as the encoding of random
//!   bytes: all hex digits count 4 bits a character (`openssl rand -hex 32`
//!   gives 64 characters, 32 bytes; a 32-character hex string is only 16);
//!   else all characters of base64, standard or URL-safe, with at most two
//!   `=` of padding, count 6 bits a character (`openssl rand -base64 32`
//!   gives 44 characters, 32 bytes); any other string counts its bytes.
//! - **trivially weak**: fewer than [`MIN_DISTINCT_CHARS`] distinct
//!   characters (one character repeated, `abab...`), or a shorter string
//!   repeated (`secretsecretsecret...`, a period of at most half its length).
//! - **published**: one of [`KNOWN_KEYS`], the keys this repository shows in
//!   its tests, examples, scripts and docs. A test scans the repository's
//!   text files for strings used as keys and fails if one is not listed
//!   here, so a key added to the repository later is refused too.
//!
//! These checks catch mistakes (a placeholder, a test key, a short hex
//! string), not every weak password: generate the key with
//! `openssl rand -hex 32`. A [`KeyWeakness`] says what is wrong without
//! the key.

use std::collections::HashSet;

/// Shortest accepted key, in bytes of key material.
pub const MIN_KEY_BYTES: usize = 32;
/// Fewest distinct characters a key may have.
pub const MIN_DISTINCT_CHARS: usize = 8;

/// Every key the repository shows, in tests, examples, scripts or docs:
/// published, so never a key to sign with.
pub const KNOWN_KEYS: &[&str] = &[
    // crates/app/src/state.rs: the key of AppState::for_tests and the app tests.
    "test-secret-test-secret-test-secret!",
    // Unit tests of crates/app/src/auth.rs and config.rs.
    "0123456789abcdef0123456789abcdef",
    "another key of at least 32 bytes!!",
    "top-secret-value",
    "short",
    // crates/app/tests/api/delegations.rs: a foreign key.
    "some-other-key-some-other-key-0000",
];

/// What is wrong with a key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyWeakness {
    /// Too little key material.
    #[error(
        "holds {bytes} bytes of key material ({how}): an HS256 key needs at least {MIN_KEY_BYTES}"
    )]
    Short {
        /// The bytes of key material found.
        bytes: usize,
        /// How they were counted (hex, base64, bytes).
        how: &'static str,
    },
    #[error(
        "is trivially weak ({why}): a key is {MIN_KEY_BYTES} random bytes or more, \
         e.g. `openssl rand -hex 32`"
    )]
    /// Trivially weak, as `why` says.
    Trivial {
        /// Few distinct characters, a repeated string...
        why: &'static str,
    },
    #[error(
        "is a key published in this repository (a test or example key): \
         generate your own, e.g. `openssl rand -hex 32`"
    )]
    /// A key this repository shows.
    Published,
}

/// Checks `key` (see the module's documentation).
pub fn check(key: &str) -> Result<(), KeyWeakness> {
    let (bytes, how) = key_material(key);
    if bytes < MIN_KEY_BYTES {
        return Err(KeyWeakness::Short { bytes, how });
    }
    let distinct: HashSet<char> = key.chars().collect();
    if distinct.len() < MIN_DISTINCT_CHARS {
        return Err(KeyWeakness::Trivial {
            why: "fewer than 8 distinct characters",
        });
    }
    if shortest_period(key.as_bytes()) <= key.len() / 2 {
        return Err(KeyWeakness::Trivial {
            why: "a shorter string repeated",
        });
    }
    if KNOWN_KEYS.contains(&key.trim()) {
        return Err(KeyWeakness::Published);
    }
    Ok(())
}

/// How many bytes of key material `key` holds, and how it was read.
pub fn key_material(key: &str) -> (usize, &'static str) {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '-' | '_');
    let unpadded = key.trim_end_matches('=');
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_hexdigit()) {
        (key.len() / 2, "read as hex: 4 bits a character")
    } else if !unpadded.is_empty()
        && key.len() - unpadded.len() <= 2
        && unpadded.chars().all(is_b64)
    {
        (unpadded.len() * 6 / 8, "read as base64: 6 bits a character")
    } else {
        (key.len(), "one byte a byte")
    }
}

/// The smallest `p > 0` such that `s[i] == s[i + p]` for every `i`.
fn shortest_period(s: &[u8]) -> usize {
    (1..s.len())
        .find(|&p| s.iter().zip(&s[p..]).all(|(a, b)| a == b))
        .unwrap_or(s.len())
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn random(n: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; n];
        getrandom::fill(&mut bytes).unwrap();
        bytes
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn keys_are_measured_by_their_alphabet() {
        assert_eq!(key_material(&hex(&random(32))).0, 32);
        assert_eq!(key_material(&hex(&random(16))).0, 16);
        // `openssl rand -base64 32`: 43 characters and one `=`.
        assert_eq!(
            key_material(&format!("{}=", "Ab3+".repeat(10) + "Ab3")).0,
            32
        );
        assert_eq!(key_material(&"Zz9_".repeat(11)).0, 33);
        assert_eq!(
            key_material("a passphrase with spaces, 39 bytes long").0,
            39
        );
    }

    #[test]
    fn strong_random_keys_pass() {
        for _ in 0..100 {
            check(&hex(&random(32))).unwrap();
        }
        check("correct horse battery staple, and then some more words").unwrap();
    }

    #[test]
    fn weak_keys_say_what_is_wrong() {
        assert!(matches!(
            check(&hex(&random(16))),
            Err(KeyWeakness::Short { bytes: 16, .. })
        ));
        assert!(matches!(
            check(&"x".repeat(40)),
            Err(KeyWeakness::Short { .. })
        ));
        assert!(matches!(
            check(&"x!".repeat(40)),
            Err(KeyWeakness::Trivial { .. })
        ));
        let part = hex(&random(10));
        assert!(matches!(
            check(&format!("{part}{part}{part}{}", &part[..5])),
            Err(KeyWeakness::Trivial { .. })
        ));
        for known in KNOWN_KEYS {
            assert!(check(known).is_err(), "{known}");
        }
        assert_eq!(
            check(" test-secret-test-secret-test-secret!\n"),
            Err(KeyWeakness::Published)
        );
    }

    /// Every string the repository's text files use as a JWT key: assigned
    /// to DELEGHE_JWT_SECRET (shell, env files, docs, or the `env` lookups of
    /// tests), given to `Secret::new` or `from_secret`, or a `const` named
    /// `KEY` or `..._SECRET` / `..._KEY`.
    fn keys_in_the_repository() -> Vec<(String, PathBuf)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut found = Vec::new();
        let mut folders = vec![root];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let entry = entry.unwrap();
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                let kind = entry.file_type().unwrap();
                if name.starts_with('.') || name == "target" {
                    continue;
                }
                if kind.is_dir() {
                    folders.push(path);
                } else if kind.is_file() {
                    // Text files only: anything else does not read as UTF-8.
                    if let Ok(text) = std::fs::read_to_string(&path) {
                        for key in keys_in(&text) {
                            found.push((key, path.clone()));
                        }
                    }
                }
            }
        }
        found
    }

    /// The string literals `text` uses as keys (see above).
    fn keys_in(text: &str) -> Vec<String> {
        // The markers are put together at run time, so that the scan of this
        // very file does not read them as keys.
        let var = ["DELEGHE", "JWT", "SECRET"].join("_");
        let calls = [
            format!("{}::new(", "Secret"),
            format!("{}_secret(", "from"),
            format!("({},", "ENV_JWT_SECRET"),
            format!("(\"{var}\","),
        ];
        let assignments = [format!("{var}="), format!("{var}: ")];
        let mut keys = Vec::new();
        let quoted = |rest: &str| -> Option<String> {
            let rest = rest.trim_start();
            let rest = rest.strip_prefix('b').unwrap_or(rest);
            let rest = rest.strip_prefix('"')?;
            let literal = &rest[..rest.find('"')?];
            (!literal.contains('\n')).then(|| literal.to_owned())
        };
        // A call's argument may be on the next line (rustfmt puts it there).
        for marker in &calls {
            for (at, _) in text.match_indices(marker.as_str()) {
                keys.extend(quoted(&text[at + marker.len()..]));
            }
        }
        for line in text.lines() {
            for marker in &assignments {
                for (at, _) in line.match_indices(marker.as_str()) {
                    let rest = &line[at + marker.len()..];
                    let value = match rest.chars().next() {
                        Some(q @ ('"' | '\'')) => {
                            rest[1..].split(q).next().unwrap_or_default().to_owned()
                        }
                        _ => rest
                            .split(|c: char| c.is_whitespace() || c == '`' || c == ';')
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    };
                    // A value the shell computes ($(...), $VAR) is not a key.
                    if !value.is_empty() && !value.starts_with('$') {
                        keys.push(value);
                    }
                }
            }
            let t = line.trim_start();
            let t = t.strip_prefix("pub ").unwrap_or(t);
            if let Some(rest) = t.strip_prefix("const ") {
                if let Some((name, value)) = rest.split_once(": &str =") {
                    let name = name.trim();
                    let named_as_key = name == "KEY"
                        || ((name.ends_with("_SECRET") || name.ends_with("_KEY"))
                            && !name.starts_with("ENV_"));
                    if named_as_key {
                        keys.extend(quoted(value));
                    }
                }
            }
        }
        keys
    }

    #[test]
    fn the_scan_finds_keys_however_they_are_written() {
        // Built at run time, so that the scan of this very file finds none.
        let var = ["DELEGHE", "JWT", "SECRET"].join("_");
        let text = format!(
            "export {var}=k1\n\
             {var}='k2' deleghe serve\n\
             \x20 {var}: \"k3\"\n\
             let s = Secret::new(\n    {q}k4{q},\n);\n\
             EncodingKey::from_secret(b{q}k5{q})\n\
             env(&[(ENV_JWT_SECRET, {q}k6{q})])\n\
             pub const TEST_SECRET: &str = {q}k7{q};\n\
             const KEY: &str = {q}k8{q};\n\
             {var}=$(openssl rand -hex 32)\n\
             pub const ENV_JWT_SECRET: &str = {q}{var}{q};\n",
            q = '"'
        );
        let mut found = keys_in(&text);
        found.sort();
        assert_eq!(found, ["k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"]);
    }

    #[test]
    fn every_key_in_the_repository_is_known_and_refused() {
        let found = keys_in_the_repository();
        assert!(
            found.iter().any(|(k, _)| k == crate::state::TEST_SECRET),
            "the scan finds the test key: {found:?}"
        );
        for (key, path) in &found {
            assert!(
                KNOWN_KEYS.contains(&key.as_str()),
                "{} uses a key that is not in KNOWN_KEYS (crates/app/src/config/keys.rs): \
                 add it there, so that the app refuses it: {key:?}",
                path.display()
            );
            assert!(check(key).is_err(), "{key:?}");
        }
    }
}
