//! Typed configuration, read once at start (docs/CONVENTIONS.md, habit 11): each value comes from
//! its command-line flag, else its environment variable (docs/APP.md,
//! "Configuration"), else its default, and is validated here, with a message that names
//! the variable and says what is expected. Secrets are kept in [`Secret`],
//! whose `Debug` and `Display` never show them.

pub mod dev_files;
pub mod keys;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use deleghe_domain::Policy;

use crate::auth::{TokenRules, DEFAULT_TOKEN_MAX_MINUTES};

/// Default store: an SQLite file in the working folder (the library's default).
pub use deleghe_adapters::repository::DEFAULT_DATABASE_URL;
/// Default address to bind.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Shortest accepted HS256 key, in bytes of key material ([`keys`]).
pub const MIN_SECRET_BYTES: usize = keys::MIN_KEY_BYTES;

pub use deleghe_adapters::repository::DATABASE_URL_VAR as ENV_DATABASE_URL;
/// The address to bind (`--listen`).
pub const ENV_LISTEN: &str = "DELEGHE_LISTEN";
/// The HS256 key; never on a command line.
pub const ENV_JWT_SECRET: &str = "DELEGHE_JWT_SECRET";
/// `1` enables `/dev/clock` (`--dev-clock`).
pub const ENV_DEV_CLOCK: &str = "DELEGHE_DEV_CLOCK";
/// The development SMS gateway's file (`--sms-outbox`).
pub const ENV_SMS_OUTBOX: &str = "DELEGHE_SMS_OUTBOX";
/// A JSON file of counters replacing the built-in ones (`--counters`).
pub const ENV_COUNTERS: &str = "DELEGHE_COUNTERS";
/// A JSON file of policy values by name (`--policy`).
pub const ENV_POLICY: &str = "DELEGHE_POLICY";
/// The SMS provider's URL.
pub const ENV_SMS_URL: &str = "DELEGHE_SMS_URL";
/// The SMS provider's bearer token.
pub const ENV_SMS_TOKEN: &str = "DELEGHE_SMS_TOKEN";

/// N1, N2, N4: a real SMS provider over HTTP, both or neither of
/// `DELEGHE_SMS_URL` and `DELEGHE_SMS_TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsProvider {
    /// Where each SMS is posted (http or https).
    pub url: String,
    /// The provider's bearer token.
    pub token: Secret,
}
/// N5: the IO API's base URL.
pub const ENV_IO_URL: &str = "DELEGHE_IO_URL";
/// N5: the service's subscription key.
pub const ENV_IO_KEY: &str = "DELEGHE_IO_KEY";

/// N5: the IO app gateway, both or neither of `DELEGHE_IO_URL` and
/// `DELEGHE_IO_KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoSettings {
    /// The IO API's base URL (http or https).
    pub url: String,
    /// The service's subscription key.
    pub key: Secret,
}
/// The longest life of a token, in minutes.
pub const ENV_TOKEN_MAX_MINUTES: &str = "DELEGHE_TOKEN_MAX_MINUTES";
/// The `iss` tokens must carry.
pub const ENV_TOKEN_ISSUER: &str = "DELEGHE_TOKEN_ISSUER";
/// The `aud` tokens must carry.
pub const ENV_TOKEN_AUDIENCE: &str = "DELEGHE_TOKEN_AUDIENCE";
/// `text` or `json`.
pub const ENV_LOG_FORMAT: &str = "DELEGHE_LOG_FORMAT";

/// How the log is written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One line of text per record (the default; colours on a terminal).
    Text,
    /// One JSON object per line, for a log collector: `timestamp`,
    /// `level`, `target`, `fields` (the message among them) and `spans`.
    Json,
}

impl LogFormat {
    /// `DELEGHE_LOG_FORMAT`: `text` (also when unset or empty) or `json`;
    /// anything else is refused, naming the variable and what it takes.
    pub fn from_env_value(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim) {
            None | Some("") | Some("text") => Ok(Self::Text),
            Some("json") => Ok(Self::Json),
            Some(other) => Err(format!(
                "{ENV_LOG_FORMAT} is {other:?}: it takes `text` or `json`"
            )),
        }
    }
}
/// The largest `DELEGHE_TOKEN_MAX_MINUTES` accepted: a week.
pub const MAX_TOKEN_MAX_MINUTES: i64 = 7 * 24 * 60;

/// A value that must never reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A configuration value that is wrong, with what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Where the JWT key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtKey {
    /// `DELEGHE_JWT_SECRET`.
    Given(Secret),
    /// `--dev` without a secret: the key file of the development folder,
    /// generated there if missing ([`dev_files`]).
    DevFile,
}

/// What `serve` runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The store (`DELEGHE_DATABASE_URL`).
    pub database_url: String,
    /// The address to bind.
    pub listen: SocketAddr,
    /// The key tokens are signed with, checked.
    pub jwt: JwtKey,
    /// What tokens must satisfy, and what the app's own carry.
    pub tokens: TokenRules,
    /// `--dev`: development conveniences, announced on start.
    pub dev: bool,
    /// `PUT /dev/clock` and the rest of `/dev/*` (otherwise 404).
    pub dev_clock: bool,
    /// The development SMS gateway's file (one JSON line per SMS).
    pub sms_outbox: Option<PathBuf>,
    /// Offices and counters; none: the built-in default.
    pub counters: Option<PathBuf>,
    /// The current user's development folder ([`dev_files`]).
    pub dev_dir: PathBuf,
    /// N5: the IO app gateway; none: IO messages are not sent.
    pub io: Option<IoSettings>,
    /// The SMS provider; beside it there is no SMS file.
    pub sms_provider: Option<SmsProvider>,
    /// Every number and switch the rules use: `DELEGHE_POLICY`'s file, or
    /// the rule book's defaults.
    pub policy: Policy,
}

/// What the command line gave (each `None` falls back to the environment).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--listen`.
    pub listen: Option<String>,
    /// `--dev`.
    pub dev: bool,
    /// `--dev-clock`.
    pub dev_clock: bool,
    /// `--sms-outbox`.
    pub sms_outbox: Option<PathBuf>,
    /// `--counters`.
    pub counters: Option<PathBuf>,
    /// `--policy`.
    pub policy: Option<PathBuf>,
    /// The development folder, instead of the current user's (tests).
    pub dev_dir: Option<PathBuf>,
}

/// Reads one environment variable; empty counts as unset.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Config {
    /// From the process's flags and environment.
    pub fn load(flags: Flags) -> Result<Self, ConfigError> {
        Self::from_sources(flags, env_var)
    }

    /// From `flags` and an environment lookup (tests pass their own).
    pub fn from_sources(
        flags: Flags,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let database_url = database_url(flags.database_url.or_else(|| env(ENV_DATABASE_URL)))?;
        let listen_text = flags
            .listen
            .or_else(|| env(ENV_LISTEN))
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr = listen_text.trim().parse().map_err(|_| {
            ConfigError(format!(
                "{ENV_LISTEN} (or --listen) is {listen_text:?}: expected an address and port such as 127.0.0.1:8080"
            ))
        })?;
        let dev_clock = flags.dev
            || flags.dev_clock
            || match env(ENV_DEV_CLOCK) {
                None => false,
                Some(v) => parse_bool(&v).ok_or_else(|| {
                    ConfigError(format!("{ENV_DEV_CLOCK} is {v:?}: expected 1 or 0"))
                })?,
            };
        if dev_clock && !listen.ip().is_loopback() {
            // Whoever reaches the app could move every rule's deadline.
            return Err(ConfigError(format!(
                "the development clock ({ENV_DEV_CLOCK}=1, --dev-clock or --dev) is on, and \
                 {ENV_LISTEN} (or --listen) is {listen}, not a loopback address: with the \
                 development clock on, listen on 127.0.0.1 or [::1] only"
            )));
        }
        let jwt = match env(ENV_JWT_SECRET) {
            Some(secret) => JwtKey::Given(jwt_secret(secret)?),
            None if flags.dev => JwtKey::DevFile,
            None => {
                return Err(ConfigError(format!(
                    "{ENV_JWT_SECRET} is not set: the app needs an HS256 key of at least {MIN_SECRET_BYTES} bytes \
                     (e.g. `export {ENV_JWT_SECRET}=$(openssl rand -hex 32)`), or run `serve --dev`, which generates one"
                )))
            }
        };
        let tokens = token_rules(&env)?;
        let dev_dir = flags.dev_dir.unwrap_or_else(|| dev_files::dev_dir(&env));
        let sms_provider = sms_provider(&env)?;
        let given_outbox = flags
            .sms_outbox
            .or_else(|| env(ENV_SMS_OUTBOX).map(PathBuf::from));
        if given_outbox.is_some() && sms_provider.is_some() {
            return Err(ConfigError(format!(
                "{ENV_SMS_OUTBOX} (or --sms-outbox) and {ENV_SMS_URL} are both set: \
                 SMS go either to the development file or to the provider"
            )));
        }
        // `--dev` writes SMS to its file, unless a provider sends them.
        let sms_outbox = given_outbox.or_else(|| {
            (flags.dev && sms_provider.is_none()).then(|| dev_dir.join(dev_files::SMS_FILE))
        });
        let counters = flags
            .counters
            .or_else(|| env(ENV_COUNTERS).map(PathBuf::from));
        if let Some(path) = &counters {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "{ENV_COUNTERS} (or --counters) is {}: no such file (expected a JSON list of counters)",
                    path.display()
                )));
            }
        }
        Ok(Self {
            database_url,
            listen,
            jwt,
            tokens,
            dev: flags.dev,
            dev_clock,
            sms_outbox,
            counters,
            dev_dir,
            io: io_settings(&env)?,
            sms_provider,
            policy: policy(flags.policy.or_else(|| env(ENV_POLICY).map(PathBuf::from)))?,
        })
    }

    /// Whether `serve` keeps a file in the development folder: the key of
    /// `--dev`, or the SMS file there.
    pub fn uses_dev_dir(&self) -> bool {
        self.jwt == JwtKey::DevFile
            || self
                .sms_outbox
                .as_ref()
                .is_some_and(|p| p.parent() == Some(self.dev_dir.as_path()))
    }
}

/// `DELEGHE_TOKEN_MAX_MINUTES`, `DELEGHE_TOKEN_ISSUER`,
/// `DELEGHE_TOKEN_AUDIENCE`: the rules of `serve` and of the `token`
/// subcommand.
pub fn token_rules(env: impl Fn(&str) -> Option<String>) -> Result<TokenRules, ConfigError> {
    let max_minutes = match env(ENV_TOKEN_MAX_MINUTES) {
        None => DEFAULT_TOKEN_MAX_MINUTES,
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|m| (1..=MAX_TOKEN_MAX_MINUTES).contains(m))
            .ok_or_else(|| {
                ConfigError(format!(
                    "{ENV_TOKEN_MAX_MINUTES} is {v:?}: expected a number of minutes from 1 to {MAX_TOKEN_MAX_MINUTES}"
                ))
            })?,
    };
    Ok(TokenRules {
        max_minutes,
        issuer: env(ENV_TOKEN_ISSUER).map(|v| v.trim().to_owned()),
        audience: env(ENV_TOKEN_AUDIENCE).map(|v| v.trim().to_owned()),
    })
}

/// `DELEGHE_SMS_URL` and `DELEGHE_SMS_TOKEN`: both (the URL an http or
/// https one) or neither.
fn sms_provider(env: &impl Fn(&str) -> Option<String>) -> Result<Option<SmsProvider>, ConfigError> {
    let Some((url, token)) = both(env, ENV_SMS_URL, ENV_SMS_TOKEN, "the SMS provider")? else {
        return Ok(None);
    };
    web_url(ENV_SMS_URL, &url)?;
    Ok(Some(SmsProvider {
        url,
        token: Secret::new(token),
    }))
}

/// Two variables that go together: both values, or none; one alone names
/// the other.
fn both(
    env: &impl Fn(&str) -> Option<String>,
    first: &str,
    second: &str,
    what: &str,
) -> Result<Option<(String, String)>, ConfigError> {
    match (env(first), env(second)) {
        (None, None) => Ok(None),
        (Some(a), Some(b)) => Ok(Some((a.trim().to_owned(), b.trim().to_owned()))),
        (Some(_), None) => Err(ConfigError(format!(
            "{first} is set but {second} is not: {what} needs both"
        ))),
        (None, Some(_)) => Err(ConfigError(format!(
            "{second} is set but {first} is not: {what} needs both"
        ))),
    }
}

/// An http or https URL with a host.
fn web_url(name: &str, url: &str) -> Result<(), ConfigError> {
    let web = url.parse::<axum::http::Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()
    });
    if web {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "{name} is {url:?}: expected an http or https URL with a host"
        )))
    }
}

/// The policy of `DELEGHE_POLICY` (or `--policy`), checked; without one, the
/// rule book's defaults. The message names the file and the setting.
pub fn policy(file: Option<PathBuf>) -> Result<Policy, ConfigError> {
    let Some(path) = file else {
        return Ok(Policy::default());
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ConfigError(format!(
            "{ENV_POLICY} (or --policy) is {}: cannot read it ({e})",
            path.display()
        ))
    })?;
    Policy::from_json(&text).map_err(|e| {
        ConfigError(format!(
            "{ENV_POLICY} (or --policy) is {}: {e}",
            path.display()
        ))
    })
}

/// `DELEGHE_IO_URL` and `DELEGHE_IO_KEY`: both (the URL an http or https
/// one) or neither.
fn io_settings(env: &impl Fn(&str) -> Option<String>) -> Result<Option<IoSettings>, ConfigError> {
    let Some((url, key)) = both(env, ENV_IO_URL, ENV_IO_KEY, "the IO gateway")? else {
        return Ok(None);
    };
    web_url(ENV_IO_URL, &url)?;
    Ok(Some(IoSettings {
        url,
        key: Secret::new(key),
    }))
}

/// The store URL of `migrate` and `rebuild-read-models`.
pub fn database_url(given: Option<String>) -> Result<String, ConfigError> {
    let url = given
        .map(|u| u.trim().to_owned())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    let known = ["memory:", "sqlite:", "postgres://", "postgresql://"];
    if known.iter().any(|p| url.starts_with(p)) {
        Ok(url)
    } else {
        // The URL may hold a password: show only its scheme.
        let scheme = url.split(':').next().unwrap_or_default();
        Err(ConfigError(format!(
            "{ENV_DATABASE_URL} (or --database-url) has scheme {scheme:?}: expected sqlite://FILE, postgres://... or memory:"
        )))
    }
}

/// `DELEGHE_JWT_SECRET`, checked by [`keys::check`] (the message never
/// holds the key).
fn jwt_secret(secret: String) -> Result<Secret, ConfigError> {
    keys::check(&secret).map_err(|weak| ConfigError(format!("{ENV_JWT_SECRET} {weak}")))?;
    Ok(Secret(secret))
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The key the `token` subcommand signs with: `DELEGHE_JWT_SECRET`, else the
/// one `serve --dev` keeps in the current user's development folder; both
/// checked as `serve` checks them.
pub fn token_secret() -> Result<Secret, ConfigError> {
    if let Some(secret) = env_var(ENV_JWT_SECRET) {
        return jwt_secret(secret);
    }
    dev_files::existing_key(&dev_files::dev_dir(env_var))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_need_a_secret_unless_dev() {
        let e = Config::from_sources(Flags::default(), env(&[])).unwrap_err();
        assert!(e.0.contains("DELEGHE_JWT_SECRET"), "{e}");
        let dev = Config::from_sources(
            Flags {
                dev: true,
                ..Flags::default()
            },
            env(&[]),
        )
        .unwrap();
        assert_eq!(dev.jwt, JwtKey::DevFile);
        assert!(dev.dev_clock);
        assert_eq!(dev.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(dev.listen.to_string(), DEFAULT_LISTEN);
        // The current user's development folder, never a shared one.
        let uid = deleghe_adapters::private_files::current_uid();
        assert_eq!(
            dev.dev_dir,
            std::path::Path::new(&format!("/tmp/deleghe-dev-{uid}"))
        );
        assert_eq!(dev.sms_outbox, Some(dev.dev_dir.join("sms.jsonl")));
        assert!(dev.uses_dev_dir());
    }

    #[test]
    fn the_dev_clock_is_off_by_default() {
        let key = strong_key();
        let c = Config::from_sources(Flags::default(), env(&[(ENV_JWT_SECRET, &key)])).unwrap();
        assert!(!c.dev_clock);
        assert!(c.sms_outbox.is_none());
    }

    #[test]
    fn flags_override_the_environment() {
        let key = strong_key();
        let c = Config::from_sources(
            Flags {
                listen: Some("0.0.0.0:9000".into()),
                ..Flags::default()
            },
            env(&[(ENV_JWT_SECRET, &key), (ENV_LISTEN, "127.0.0.1:1")]),
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
    }

    #[test]
    fn bad_values_are_named_with_what_is_expected() {
        let key = strong_key();
        let bad_listen = Config::from_sources(
            Flags::default(),
            env(&[(ENV_JWT_SECRET, &key), (ENV_LISTEN, "localhost")]),
        )
        .unwrap_err();
        assert!(bad_listen.0.contains("DELEGHE_LISTEN"), "{bad_listen}");
        let short =
            Config::from_sources(Flags::default(), env(&[(ENV_JWT_SECRET, "short")])).unwrap_err();
        assert!(short.0.contains("at least 32"), "{short}");
        assert!(
            !short.0.contains("short\""),
            "the secret is not echoed: {short}"
        );
        let clock = Config::from_sources(
            Flags::default(),
            env(&[(ENV_JWT_SECRET, &key), (ENV_DEV_CLOCK, "maybe")]),
        )
        .unwrap_err();
        assert!(clock.0.contains("DELEGHE_DEV_CLOCK"), "{clock}");
        let url = Config::from_sources(
            Flags::default(),
            env(&[
                (ENV_JWT_SECRET, &key),
                (ENV_DATABASE_URL, "mysql://u:pw@h/db"),
            ]),
        )
        .unwrap_err();
        assert!(
            url.0.contains("\"mysql\"") && !url.0.contains("pw"),
            "{url}"
        );
    }

    fn random(n: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; n];
        getrandom::fill(&mut bytes).unwrap();
        bytes
    }

    /// A random key of 32 bytes, hex-encoded (`openssl rand -hex 32`).
    fn strong_key() -> String {
        random(32).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Standard base64, padded (`openssl rand -base64 N`).
    fn base64(bytes: &[u8]) -> String {
        const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |n, b| n << 8 | u32::from(*b)) << (8 * (3 - chunk.len()));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn weak_keys_are_refused_naming_the_variable_never_the_key() {
        let strong = strong_key();
        for weak in [
            "a".repeat(32),
            "a".repeat(64),
            "ab".repeat(24),
            // 32 hex digits are 16 bytes of key.
            strong[..32].to_owned(),
            // 40 characters of base64 are 30 bytes.
            base64(&random(30)),
            // A shorter key repeated.
            strong[..20].repeat(4),
        ] {
            let e = Config::from_sources(Flags::default(), env(&[(ENV_JWT_SECRET, &weak)]))
                .expect_err(&format!("a weak key was accepted: {weak}"));
            assert!(e.0.contains(ENV_JWT_SECRET), "{e}");
            assert!(!e.0.contains(&weak), "the key is echoed: {e}");
        }
        for good in [strong.clone(), base64(&random(32))] {
            Config::from_sources(Flags::default(), env(&[(ENV_JWT_SECRET, &good)]))
                .unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    #[test]
    fn the_dev_clock_is_refused_on_an_address_that_is_not_loopback() {
        let key = strong_key();
        let on = |listen: &str, dev: bool, dev_clock: bool, clock_env: Option<&str>| {
            let mut pairs = vec![(ENV_JWT_SECRET, key.as_str()), (ENV_LISTEN, listen)];
            if let Some(v) = clock_env {
                pairs.push((ENV_DEV_CLOCK, v));
            }
            Config::from_sources(
                Flags {
                    dev,
                    dev_clock,
                    ..Flags::default()
                },
                |k| {
                    pairs
                        .iter()
                        .find(|(n, _)| *n == k)
                        .map(|(_, v)| v.to_string())
                },
            )
        };
        for (dev, dev_clock, clock_env) in [
            (true, false, None),
            (false, true, None),
            (false, false, Some("1")),
        ] {
            for listen in ["0.0.0.0:8080", "192.168.1.10:8080", "[::]:8080"] {
                let e = on(listen, dev, dev_clock, clock_env)
                    .expect_err(&format!("dev clock on {listen} was accepted"));
                for name in [ENV_DEV_CLOCK, "--dev", ENV_LISTEN, "--listen"] {
                    assert!(e.0.contains(name), "{name}: {e}");
                }
            }
            for listen in ["127.0.0.1:8080", "127.0.0.2:9000", "[::1]:8080"] {
                on(listen, dev, dev_clock, clock_env).unwrap();
            }
        }
        // Without the dev clock, any address.
        on("0.0.0.0:8080", false, false, None).unwrap();
    }

    #[test]
    fn token_rules_come_from_the_environment() {
        let key = strong_key();
        let c = Config::from_sources(Flags::default(), env(&[(ENV_JWT_SECRET, &key)])).unwrap();
        assert_eq!(c.tokens, TokenRules::default());
        assert_eq!(c.tokens.max_minutes, 720);
        let c = Config::from_sources(
            Flags::default(),
            env(&[
                (ENV_JWT_SECRET, &key),
                (ENV_TOKEN_MAX_MINUTES, "60"),
                (ENV_TOKEN_ISSUER, "https://idp.example.invalid"),
                (ENV_TOKEN_AUDIENCE, " deleghe "),
            ]),
        )
        .unwrap();
        assert_eq!(
            c.tokens,
            TokenRules {
                max_minutes: 60,
                issuer: Some("https://idp.example.invalid".into()),
                audience: Some("deleghe".into()),
            }
        );
        for bad in ["0", "-5", "ten", "10081", "99999999999999999999"] {
            let e = Config::from_sources(
                Flags::default(),
                env(&[(ENV_JWT_SECRET, &key), (ENV_TOKEN_MAX_MINUTES, bad)]),
            )
            .unwrap_err();
            assert!(e.0.contains(ENV_TOKEN_MAX_MINUTES), "{e}");
        }
    }

    #[test]
    fn the_io_gateway_needs_both_variables_and_a_web_url() {
        let key = strong_key();
        let with = |pairs: &[(&str, &str)]| {
            let mut all = vec![(ENV_JWT_SECRET, key.as_str())];
            all.extend_from_slice(pairs);
            Config::from_sources(Flags::default(), env(&all))
        };
        assert_eq!(with(&[]).unwrap().io, None);
        let io = with(&[(ENV_IO_URL, "https://io.example"), (ENV_IO_KEY, "k-123")])
            .unwrap()
            .io
            .unwrap();
        assert_eq!(io.url, "https://io.example");
        assert_eq!(io.key.expose(), "k-123");
        let half = with(&[(ENV_IO_URL, "https://io.example")]).unwrap_err();
        assert!(half.0.contains(ENV_IO_KEY), "{half}");
        let other = with(&[(ENV_IO_KEY, "k-123")]).unwrap_err();
        assert!(other.0.contains(ENV_IO_URL), "{other}");
        let bad = with(&[(ENV_IO_URL, "ftp://io.example"), (ENV_IO_KEY, "k-1")]).unwrap_err();
        assert!(bad.0.contains("http or https"), "{bad}");
        assert!(!bad.0.contains("k-1"), "the key is not echoed: {bad}");
    }

    #[test]
    fn a_policy_file_sets_the_rules_numbers_and_bad_ones_stop_the_app() {
        let dir = std::env::temp_dir().join(format!("deleghe-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let key = strong_key();
        let load = |path: &std::path::Path| {
            let path = path.display().to_string();
            Config::from_sources(
                Flags::default(),
                env(&[(ENV_JWT_SECRET, &key), (ENV_POLICY, &path)]),
            )
        };
        let five = file(
            "five.json",
            r#"{"max_ordinary_delegations_per_delegate": 5}"#,
        );
        let policy = load(&five).unwrap().policy;
        assert_eq!(policy.max_ordinary_delegations_per_delegate, 5);
        assert_eq!(
            policy.max_active_bookings,
            Policy::default().max_active_bookings
        );
        let unknown = file("unknown.json", r#"{"cap": 5}"#);
        let e = load(&unknown).unwrap_err();
        assert!(e.0.contains("DELEGHE_POLICY") && e.0.contains("cap"), "{e}");
        let zero = file("zero.json", r#"{"max_active_bookings": 0}"#);
        let e = load(&zero).unwrap_err();
        assert!(e.0.contains("max_active_bookings"), "{e}");
        let e = load(&dir.join("missing.json")).unwrap_err();
        assert!(e.0.contains("cannot read"), "{e}");
        let without = Config::from_sources(Flags::default(), env(&[(ENV_JWT_SECRET, &key)]));
        assert_eq!(without.unwrap().policy, Policy::default());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sms_go_to_a_provider_or_to_the_file_never_both() {
        let key = strong_key();
        let provider = [
            (ENV_SMS_URL, "https://sms.example/v1/messages"),
            (ENV_SMS_TOKEN, "t-123"),
        ];
        let mut pairs = vec![(ENV_JWT_SECRET, key.as_str())];
        pairs.extend_from_slice(&provider);
        let c = Config::from_sources(Flags::default(), env(&pairs)).unwrap();
        let p = c.sms_provider.unwrap();
        assert_eq!(p.url, "https://sms.example/v1/messages");
        assert_eq!(p.token.expose(), "t-123");
        assert!(c.sms_outbox.is_none());
        // --dev's file gives way to a provider...
        let dev = Config::from_sources(
            Flags {
                dev: true,
                ..Flags::default()
            },
            env(&pairs),
        )
        .unwrap();
        assert!(dev.sms_outbox.is_none() && dev.sms_provider.is_some());
        // ...but a file named beside a provider is a mistake.
        let mut both = pairs.clone();
        both.push((ENV_SMS_OUTBOX, "/tmp/sms.jsonl"));
        let e = Config::from_sources(Flags::default(), env(&both)).unwrap_err();
        assert!(
            e.0.contains(ENV_SMS_OUTBOX) && e.0.contains(ENV_SMS_URL),
            "{e}"
        );
        let half = Config::from_sources(
            Flags::default(),
            env(&[(ENV_JWT_SECRET, &key), (ENV_SMS_URL, "https://sms.example")]),
        )
        .unwrap_err();
        assert!(half.0.contains(ENV_SMS_TOKEN), "{half}");
        let bad = Config::from_sources(
            Flags::default(),
            env(&[
                (ENV_JWT_SECRET, &key),
                (ENV_SMS_URL, "sms.example"),
                (ENV_SMS_TOKEN, "t-123"),
            ]),
        )
        .unwrap_err();
        assert!(
            bad.0.contains("http or https") && !bad.0.contains("t-123"),
            "{bad}"
        );
    }

    #[test]
    fn secrets_are_never_printed() {
        let s = Secret::new("top-secret-value");
        assert!(!format!("{s:?} {s}").contains("top-secret"));
    }
}
