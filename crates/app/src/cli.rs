//! The command line: `serve`, `migrate`, `rebuild-read-models`, `token`.
//! Flags override the environment variables of docs/APP.md; the values are
//! checked by [`crate::config`] before anything starts.

use std::path::PathBuf;

use chrono::{Duration, Utc};
use clap::{Args, Parser, Subcommand};
use deleghe_domain::FiscalCode;

use crate::auth::{AuthMethod, JwtKeys, Role, TokenRequest};
use crate::config::{self, Config, Flags};
use crate::counters::Counters;

/// INPS digital-identity delegations: the HTTP app and its tools.
#[derive(Debug, Parser)]
#[command(name = "deleghe", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API, with the flow runner and the read side's workers.
    Serve(ServeArgs),
    /// Create or update the store's schema, then exit.
    Migrate(StoreArgs),
    /// Rebuild every read model from the event log, then exit.
    RebuildReadModels(StoreArgs),
    /// Print a development bearer token for a fiscal code and role.
    Token(TokenArgs),
}

/// The store a maintenance subcommand works on.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Store URL [env: DELEGHE_DATABASE_URL] [default: sqlite://deleghe.sqlite]
    #[arg(long)]
    pub database_url: Option<String>,
}

/// The flags of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Development mode: signs with the development JWT key of your private
    /// development folder, generated on the first start (unless
    /// DELEGHE_JWT_SECRET is set), enables the settable clock (operators
    /// only, on a loopback address only) and the SMS file gateway.
    #[arg(long)]
    pub dev: bool,
    /// Address to bind [env: DELEGHE_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long)]
    pub listen: Option<String>,
    /// Store URL [env: DELEGHE_DATABASE_URL] [default: sqlite://deleghe.sqlite]
    #[arg(long)]
    pub database_url: Option<String>,
    /// Enable /dev/clock for operators, on a loopback address only
    /// [env: DELEGHE_DEV_CLOCK=1]
    #[arg(long)]
    pub dev_clock: bool,
    /// File the development SMS gateway appends to [env: DELEGHE_SMS_OUTBOX]
    #[arg(long)]
    pub sms_outbox: Option<PathBuf>,
    /// JSON list of offices' counters replacing the built-in one [env: DELEGHE_COUNTERS]
    #[arg(long)]
    pub counters: Option<PathBuf>,
    /// JSON object of policy values by name, replacing the defaults [env: DELEGHE_POLICY]
    #[arg(long)]
    pub policy: Option<PathBuf>,
}

impl From<ServeArgs> for Flags {
    fn from(a: ServeArgs) -> Self {
        Flags {
            database_url: a.database_url,
            listen: a.listen,
            dev: a.dev,
            dev_clock: a.dev_clock,
            sms_outbox: a.sms_outbox,
            counters: a.counters,
            policy: a.policy,
            dev_dir: None,
        }
    }
}

/// The flags of `token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The fiscal code (`sub`).
    pub fiscal_code: String,
    /// `citizen` or `operator`.
    #[arg(long, value_enum, default_value = "citizen")]
    pub role: Role,
    /// How the citizen signed in (citizens).
    #[arg(long, value_enum, default_value = "spid")]
    pub auth: AuthMethod,
    /// The operator's office (operators).
    #[arg(long, default_value = "DCM NAPOLI")]
    pub office: String,
    /// Minutes until the token expires, at most DELEGHE_TOKEN_MAX_MINUTES
    /// [default: that maximum, 720 unless set]
    #[arg(long)]
    pub minutes: Option<i64>,
}

/// The `token` subcommand: signs with DELEGHE_JWT_SECRET, else with the key
/// a running `serve --dev` generated (checked as `serve` checks it), a token
/// with `iat`, living at most DELEGHE_TOKEN_MAX_MINUTES, carrying the
/// DELEGHE_TOKEN_ISSUER and DELEGHE_TOKEN_AUDIENCE when set.
pub fn token(args: TokenArgs) -> Result<String, String> {
    let sub = FiscalCode::parse(&args.fiscal_code)
        .map_err(|e| format!("invalid fiscal code {:?}: {e}", args.fiscal_code))?;
    let rules = config::token_rules(config::env_var).map_err(|e| e.to_string())?;
    let minutes = args.minutes.unwrap_or(rules.max_minutes);
    if minutes <= 0 {
        return Err("--minutes must be positive".into());
    }
    if minutes > rules.max_minutes {
        return Err(format!(
            "--minutes is {minutes}: a token lives at most {} minutes ({})",
            rules.max_minutes,
            config::ENV_TOKEN_MAX_MINUTES
        ));
    }
    if args.role == Role::Operator {
        // The app refuses an office none of its counters is in.
        let counters = match config::env_var(config::ENV_COUNTERS) {
            Some(path) => Counters::from_file(std::path::Path::new(&path))?,
            None => Counters::builtin(),
        };
        if !counters.offices().contains(&args.office) {
            return Err(format!(
                "--office is {:?}: not one of the configured offices ({})",
                args.office,
                counters
                    .offices()
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let secret = config::token_secret().map_err(|e| e.to_string())?;
    let now = Utc::now();
    let request = TokenRequest {
        sub,
        role: args.role,
        auth: (args.role == Role::Citizen).then_some(args.auth),
        office: (args.role == Role::Operator).then_some(args.office),
        act_for: None,
        issued_at: now,
        expires_at: now + Duration::minutes(minutes),
    };
    JwtKeys::new(&secret)
        .with_rules(rules)
        .issue(&request)
        .map_err(|e| e.to_string())
}

/// Runs a command line; the error is what to print before exiting with 1.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use clap::Parser;
/// use deleghe_app::cli::{run, Cli};
///
/// // Creates the schema of a store (here one in memory), then returns.
/// let cli = Cli::try_parse_from(["deleghe", "migrate", "--database-url", "memory:"]).unwrap();
/// run(cli).await.unwrap();
/// // A bad value is refused by name.
/// let cli = Cli::try_parse_from(["deleghe", "migrate", "--database-url", "mysql://x"]).unwrap();
/// assert!(run(cli).await.is_err());
/// # }
/// ```
pub async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => {
            let config = Config::load(args.into()).map_err(|e| e.to_string())?;
            crate::server::serve(config, Box::pin(crate::server::shutdown_signal()))
                .await
                .map_err(|e| e.to_string())
        }
        Command::Migrate(args) => {
            let url = store_url(args)?;
            crate::server::connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!(store = crate::server::store_kind(&url), "schema up to date");
            Ok(())
        }
        Command::RebuildReadModels(args) => {
            let url = store_url(args)?;
            let repository = crate::server::connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            // The notifications a rebuild recomputes use the policy in force.
            let policy = config::policy(config::env_var(config::ENV_POLICY).map(PathBuf::from))
                .map_err(|e| e.to_string())?;
            crate::server::rebuild_read_models(&repository, policy)
                .await
                .map_err(|e| e.to_string())
        }
        Command::Token(args) => {
            println!("{}", token(args)?);
            Ok(())
        }
    }
}

fn store_url(args: StoreArgs) -> Result<String, String> {
    config::database_url(
        args.database_url
            .or_else(|| config::env_var(config::ENV_DATABASE_URL)),
    )
    .map_err(|e| e.to_string())
}
