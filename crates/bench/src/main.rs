//! `deleghe-load`: drives the library on SQLite and on PostgreSQL at several
//! concurrencies and prints, per scenario, operations per second and p50/p99
//! latency, each beside its baselines, measured in the same run:
//! (a) a trivial aggregate on bare cqrs-es + postgres-es / sqlite-es
//! ([`bare`]); (b) the database's own limit for the same transaction shape,
//! through `pgbench` and `bench/pgbench/command.sql` ([`pgbench`]).
//!
//! Then, over a log of a million events made by the domain and bulk-loaded
//! ([`log`]): the time to load one aggregate with 10,000 and with 1,000,000
//! events stored, the projector's catch-up beside its floor (the same rows
//! written alone, [`floor`]; the pair measured on three copies of the log,
//! the median reported) and a full read-model rebuild.
//!
//! `docs/PERFORMANCE.md` says how to run it (`bash bench/run.sh`), what each
//! figure means, and records one run. It prints figures; it passes or fails
//! nothing (its exit status says only whether it could run).

mod bare;
mod fixtures;
mod floor;
mod log;
mod pgbench;
mod scenarios;
mod stats;

use std::error::Error;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use clap::{Parser, ValueEnum};
use deleghe_adapters::documents::{DatabaseDocuments, DocumentStore};
use deleghe_adapters::gateway::FileSmsGateway;
use deleghe_adapters::projection::ReadSide;
use deleghe_adapters::projection::{Projector, ProjectorTimes};
use deleghe_adapters::system::{Intervals, System};
use deleghe_adapters::{Deleghe, Repository};
use deleghe_domain::document::{DocumentKind, DocumentRef};
use deleghe_domain::{FiscalCode, Policy};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Executor};

use crate::log::{Generator, Target};
use crate::scenarios::OpFuture;
use crate::stats::Sample;

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

/// Measures the deleghe library against bare cqrs-es and pgbench.
///
/// Every figure is printed with its ratio to the baselines measured in the
/// same run. Targets and method: docs/PERFORMANCE.md. The default run takes
/// about a quarter of an hour on two cores; --quick takes about two minutes
/// and is a smoke test, not a run to record.
#[derive(Parser, Debug)]
#[command(name = "deleghe-load", version)]
struct Args {
    /// Short run: one slice of 1 s per measurement and a log of 50,000 events.
    #[arg(long)]
    quick: bool,
    /// Seconds per slice of a measurement (pgbench: rounded up) [default:
    /// 1.5, or 1 with --quick].
    #[arg(long)]
    seconds: Option<f64>,
    /// Slices per measurement, taken in turn across the scenarios of one
    /// concurrency; the rate printed is the median of the slices' rates
    /// [default: 5, or 1 with --quick].
    #[arg(long)]
    rounds: Option<u32>,
    /// Events in the log for load time, catch-up and rebuild
    /// [default: 1000000, or 50000 with --quick].
    #[arg(long)]
    log_events: Option<u64>,
    /// Catch-ups of the log, each on a copy of its own, each followed by
    /// its floor; the pair with the median ratio is reported, and every
    /// ratio noted [default: 3, or 1 with --quick].
    #[arg(long)]
    catch_ups: Option<u32>,
    /// Concurrency levels: how many tasks issue commands at once.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    concurrency: Vec<usize>,
    /// The PostgreSQL database to measure in (created if missing); the
    /// schemas bench_commands, bench_bare, bench_log and bench_log_small are dropped and made
    /// anew, and dropped at the end.
    #[arg(
        long,
        env = "DELEGHE_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/deleghe_bench"
    )]
    postgres: String,
    /// Which stores to measure.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    stores: Vec<Store>,
    /// Which parts to run: the commands at each concurrency, and the log
    /// (aggregate load time, projector catch-up, rebuild).
    #[arg(long, value_delimiter = ',', default_value = "commands,log")]
    parts: Vec<Part>,
    /// Which command scenarios to run (all by default).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "bare,bare-ours,pgbench,single,registration,registration-statements,counter-registration,counter-registration-workers,booking,revocation"
    )]
    scenarios: Vec<Only>,
    /// The pgbench program (baseline b); skipped with a note if it cannot run.
    #[arg(long, default_value = "pgbench")]
    pgbench: String,
    /// The pgbench script of baseline (b).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/pgbench/command.sql"))]
    pgbench_script: PathBuf,
    /// Folder for the SQLite files and pgbench's logs [default: a new
    /// temporary folder, removed at the end].
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Store {
    Sqlite,
    Postgres,
}

impl fmt::Display for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Store::Sqlite => "sqlite",
            Store::Postgres => "postgres",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    Commands,
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Only {
    Bare,
    /// The bare aggregate through our repository and schema (a').
    BareOurs,
    Pgbench,
    Single,
    Registration,
    /// The online registration's reads and append through the store port
    /// alone, no rules (c).
    RegistrationStatements,
    /// What `POST /v1/counter/delegations` does, through the library.
    CounterRegistration,
    /// The same, on a store of its own with the app's background workers
    /// running on it (projector, flow runner, outbox dispatcher), as `deleghe
    /// serve` runs them.
    CounterRegistrationWorkers,
    Booking,
    Revocation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Bare,
    BareOurs,
    PgbenchBare,
    PgbenchOurs,
    Single,
    Registration,
    RegistrationStatements,
    CounterRegistration,
    CounterRegistrationWorkers,
    Booking,
    Revocation,
    LoadSmall,
    LoadLarge,
    CatchUp,
    FloorInsert,
    FloorCopy,
    Rebuild,
}

impl Scenario {
    fn label(self) -> &'static str {
        match self {
            Scenario::Bare => "(a) bare cqrs-es command",
            Scenario::BareOurs => "(a') bare, on our store",
            Scenario::PgbenchBare => "(b) pgbench, bare table",
            Scenario::PgbenchOurs => "(b') pgbench, our table",
            Scenario::Single => "single-aggregate command",
            Scenario::Registration => "online registration (flow)",
            Scenario::RegistrationStatements => "(c) its reads + append alone",
            Scenario::CounterRegistration => "counter registration (flow)",
            Scenario::CounterRegistrationWorkers => "workers + counter reg.",
            Scenario::Booking => "booking (flow)",
            Scenario::Revocation => "revocation (flow)",
            Scenario::LoadSmall => "aggregate load, 10k stored",
            Scenario::LoadLarge => "aggregate load, full log",
            Scenario::CatchUp => "projector catch-up",
            Scenario::FloorInsert => "floor: same rows, INSERT",
            Scenario::FloorCopy => "floor: same rows, COPY",
            Scenario::Rebuild => "read-model rebuild",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Scenario::LoadSmall | Scenario::LoadLarge => "loads/s",
            Scenario::CatchUp | Scenario::Rebuild => "events/s",
            Scenario::FloorInsert | Scenario::FloorCopy => "rows/s",
            _ => "ops/s",
        }
    }
}

struct Line {
    store: Store,
    scenario: Scenario,
    concurrency: usize,
    sample: Sample,
}

#[derive(Default)]
struct Report {
    lines: Vec<Line>,
    notes: Vec<String>,
}

impl Report {
    fn find(&self, store: Store, scenario: Scenario, concurrency: usize) -> Option<&Sample> {
        self.lines
            .iter()
            .find(|l| l.store == store && l.scenario == scenario && l.concurrency == concurrency)
            .map(|l| &l.sample)
    }

    fn best(&self, store: Store, scenario: Scenario) -> Option<&Sample> {
        self.lines
            .iter()
            .filter(|l| l.store == store && l.scenario == scenario)
            .map(|l| &l.sample)
            .max_by(|a, b| a.rate().total_cmp(&b.rate()))
    }

    /// The catch-up's rows written a second against floor `floor` (that
    /// floor's rows over the catch-up's time), and its ratio to the floor's
    /// rate.
    fn against(&self, store: Store, floor: Scenario) -> Option<(f64, f64)> {
        let floor = self.find(store, floor, 0)?;
        let catch_up = self.find(store, Scenario::CatchUp, 0)?;
        let rows = floor.ops as f64 / catch_up.elapsed.as_secs_f64().max(1e-9);
        Some((rows, rows / floor.rate().max(1e-9)))
    }

    /// [`Report::against`] the faster of the floor's two measures
    /// (multi-row INSERT; on PostgreSQL also COPY): the lower ratio.
    fn against_floor(&self, store: Store) -> Option<(f64, f64)> {
        [Scenario::FloorInsert, Scenario::FloorCopy]
            .into_iter()
            .filter_map(|s| self.against(store, s))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Prints a note at once (on stderr) and again at the end.
    fn note(&mut self, note: String) {
        eprintln!("{note}");
        self.notes.push(note);
    }

    /// Prints a line as soon as it is measured, and keeps it.
    fn add(&mut self, store: Store, scenario: Scenario, concurrency: usize, sample: Sample) {
        let line = Line {
            store,
            scenario,
            concurrency,
            sample,
        };
        println!("{}", self.format(&line));
        self.lines.push(line);
    }

    fn format(&self, l: &Line) -> String {
        let s = &l.sample;
        let latency = match l.scenario {
            Scenario::CatchUp | Scenario::Rebuild | Scenario::FloorInsert | Scenario::FloorCopy => {
                format!("{:>22}", format!("{:.1} s in all", s.elapsed.as_secs_f64()))
            }
            _ => format!("{:>9} {:>9}", ms(s.quantile(0.5)), ms(s.quantile(0.99))),
        };
        let conc = match l.scenario {
            Scenario::LoadSmall
            | Scenario::LoadLarge
            | Scenario::CatchUp
            | Scenario::FloorInsert
            | Scenario::FloorCopy
            | Scenario::Rebuild => "-".to_owned(),
            _ => l.concurrency.to_string(),
        };
        let mut text = format!(
            "{:<8} {:<28} {:>4} {:>10.0} {:<8} {}",
            l.store,
            l.scenario.label(),
            conc,
            s.rate(),
            l.scenario.unit(),
            latency
        );
        let ratios = self.ratios(l);
        if !ratios.is_empty() {
            text.push_str("  ");
            text.push_str(&ratios.join(", "));
        }
        if s.exhausted {
            text.push_str("  [ran out of prepared work: not a figure to record]");
        }
        if s.errors > 0 {
            text.push_str(&format!(
                "  [{} errors, first: {}]",
                s.errors,
                s.first_error.as_deref().unwrap_or("?")
            ));
        }
        text
    }

    /// The line's figure over each baseline measured at its concurrency.
    fn ratios(&self, l: &Line) -> Vec<String> {
        let mut out = Vec::new();
        let rate = l.sample.rate();
        let over = |base: Option<&Sample>, name: &str| {
            base.filter(|b| b.rate() > 0.0)
                .map(|b| format!("{:.2}x {name}", rate / b.rate()))
        };
        match l.scenario {
            Scenario::Single
            | Scenario::Registration
            | Scenario::CounterRegistration
            | Scenario::CounterRegistrationWorkers
            | Scenario::Booking
            | Scenario::Revocation => {
                if l.scenario == Scenario::CounterRegistrationWorkers {
                    out.extend(over(
                        self.find(l.store, Scenario::CounterRegistration, l.concurrency),
                        "counter registration",
                    ));
                }
                if l.scenario == Scenario::CounterRegistration {
                    out.extend(over(
                        self.find(l.store, Scenario::Registration, l.concurrency),
                        "online registration",
                    ));
                }
                if l.scenario == Scenario::Registration {
                    out.extend(over(
                        self.find(l.store, Scenario::RegistrationStatements, l.concurrency),
                        "its reads + append alone",
                    ));
                }
                out.extend(over(
                    self.find(l.store, Scenario::Bare, l.concurrency),
                    "bare",
                ));
                if l.store == Store::Postgres {
                    out.extend(over(
                        self.find(l.store, Scenario::PgbenchBare, l.concurrency),
                        "pgbench",
                    ));
                    out.extend(over(
                        self.find(l.store, Scenario::PgbenchOurs, l.concurrency),
                        "pgbench(our table)",
                    ));
                }
            }
            Scenario::BareOurs | Scenario::RegistrationStatements => {
                out.extend(over(
                    self.find(l.store, Scenario::Bare, l.concurrency),
                    "bare",
                ));
            }
            Scenario::PgbenchOurs => {
                out.extend(over(
                    self.find(l.store, Scenario::PgbenchBare, l.concurrency),
                    "pgbench(bare table)",
                ));
            }
            Scenario::CatchUp | Scenario::Rebuild => {
                out.extend(over(
                    self.find(l.store, Scenario::Single, 1),
                    "single command c=1",
                ));
                out.extend(over(
                    self.best(l.store, Scenario::Single),
                    "best single command",
                ));
                out.extend(over(
                    self.best(l.store, Scenario::Bare),
                    "best bare command",
                ));
                if l.scenario == Scenario::CatchUp {
                    if let Some((rows, ratio)) = self.against_floor(l.store) {
                        out.push(format!("{rows:.0} rows/s written, {ratio:.2}x the floor"));
                    }
                }
            }
            Scenario::FloorInsert | Scenario::FloorCopy => {
                // The catch-up's rate of the same rows, over this one.
                if let Some((rows, ratio)) = self.against(l.store, l.scenario) {
                    out.push(format!("catch-up {rows:.0} rows/s: {ratio:.2}x this"));
                }
            }
            Scenario::LoadLarge => {
                if let Some(small) = self.find(l.store, Scenario::LoadSmall, 0) {
                    let p50 = l.sample.quantile(0.5).as_secs_f64()
                        / small.quantile(0.5).as_secs_f64().max(1e-9);
                    let mean = l.sample.mean().as_secs_f64() / small.mean().as_secs_f64().max(1e-9);
                    out.push(format!(
                        "time {p50:.2}x (p50), {mean:.2}x (mean) the 10k figure"
                    ));
                }
            }
            _ => {}
        }
        out
    }

    fn print(&self, plan: &Plan) {
        println!();
        println!(
            "== all figures ({} s per measurement; latencies in ms) ==",
            plan.seconds
        );
        println!(
            "{:<8} {:<28} {:>4} {:>10} {:<8} {:>9} {:>9}  ratios",
            "store", "scenario", "conc", "rate", "unit", "p50", "p99"
        );
        for l in &self.lines {
            println!("{}", self.format(l));
        }
        println!();
        println!("== targets (ratios of this run) ==");
        for store in [Store::Postgres, Store::Sqlite] {
            for &c in &plan.concurrency {
                let single = self.find(store, Scenario::Single, c);
                if let (Some(s), Some(b)) = (single, self.find(store, Scenario::Bare, c)) {
                    target(
                        &format!("{store}: single command >= 1.0x bare cqrs-es, c={c}"),
                        s.rate() / b.rate(),
                        1.0,
                    );
                }
                if let (Some(s), Some(p)) = (single, self.find(store, Scenario::PgbenchBare, c)) {
                    target(
                        &format!("{store}: single command >= 0.8x pgbench, c={c}"),
                        s.rate() / p.rate(),
                        0.8,
                    );
                }
                if let (Some(r), Some(b)) = (
                    self.find(store, Scenario::Registration, c),
                    self.find(store, Scenario::Bare, c),
                ) {
                    target(
                        &format!("{store}: online registration >= 0.9x bare command, c={c}"),
                        r.rate() / b.rate(),
                        0.9,
                    );
                }
                if let (Some(r), Some(f)) = (
                    self.find(store, Scenario::Registration, c),
                    self.find(store, Scenario::RegistrationStatements, c),
                ) {
                    target(
                        &format!(
                            "{store}: or, its floor: online registration >= 0.9x its reads + \
                             append alone (c), c={c}"
                        ),
                        r.rate() / f.rate(),
                        0.9,
                    );
                }
            }
            // One projector is one sequential stream of work: against one
            // client issuing commands (c=1), and against the best rate any
            // number of clients reached.
            if let (Some(p), Some(s)) = (
                self.find(store, Scenario::CatchUp, 0),
                self.find(store, Scenario::Single, 1),
            ) {
                target(
                    &format!("{store}: projector catch-up >= 20x the single-command rate, c=1"),
                    p.rate() / s.rate(),
                    20.0,
                );
            }
            if let (Some(p), Some(s)) = (
                self.find(store, Scenario::CatchUp, 0),
                self.best(store, Scenario::Single),
            ) {
                target(
                    &format!("{store}: projector catch-up >= 20x the best single-command rate"),
                    p.rate() / s.rate(),
                    20.0,
                );
            }
            // Or, where the database's own row writes are the floor: the
            // same rows written alone, measured in the same run.
            // Against each measure of the floor: the multi-row INSERT, and
            // on PostgreSQL COPY, which cannot skip a key already there as
            // the catch-up's outbox and audit writes must.
            for (scenario, how) in [
                (Scenario::FloorInsert, "multi-row INSERT"),
                (Scenario::FloorCopy, "COPY"),
            ] {
                if let Some((_, ratio)) = self.against(store, scenario) {
                    target(
                        &format!(
                            "{store}: projector catch-up >= 0.7x the floor of its row writes ({how})"
                        ),
                        ratio,
                        0.7,
                    );
                }
            }
            if let (Some(large), Some(small)) = (
                self.find(store, Scenario::LoadLarge, 0),
                self.find(store, Scenario::LoadSmall, 0),
            ) {
                let ratio =
                    large.quantile(0.5).as_secs_f64() / small.quantile(0.5).as_secs_f64().max(1e-9);
                println!(
                    "  {:<72} {:>6.2}x  {}",
                    format!("{store}: aggregate load, full log <= 1.5x 10k (p50)"),
                    ratio,
                    if ratio <= 1.5 { "met" } else { "missed" }
                );
            }
        }
        println!("  (pure decisions: cargo bench -p deleghe-bench --bench decisions; HTTP: bench/http.sh)");
        for note in &self.notes {
            println!("note: {note}");
        }
    }
}

fn target(name: &str, ratio: f64, at_least: f64) {
    println!(
        "  {name:<72} {ratio:>6.2}x  {}",
        if ratio >= at_least { "met" } else { "missed" }
    );
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// What the arguments ask for, defaults filled in.
struct Plan {
    seconds: f64,
    rounds: u32,
    warmup: Duration,
    log_events: u64,
    catch_ups: u32,
    load_samples: usize,
    concurrency: Vec<usize>,
    postgres: String,
    pgbench: String,
    pgbench_script: PathBuf,
    work: PathBuf,
    only: Vec<Only>,
}

impl Plan {
    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }
}

fn with_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}schema={schema}")
}

/// jemalloc, for Rust's allocations and SQLite's alike: with the
/// system's allocator, memory that one thread allocates and another frees
/// (the projector's read-ahead, sqlx's SQLite threads) cost the catch-up
/// 15–30 % (docs/PERFORMANCE.md, docs/DEPENDENCIES.md).
#[cfg(all(unix, not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let work = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("deleghe-load-{}", std::process::id())),
    };
    std::fs::create_dir_all(&work)?;
    let plan = Plan {
        seconds: args.seconds.unwrap_or(if args.quick { 1.0 } else { 1.5 }),
        rounds: args.rounds.unwrap_or(if args.quick { 1 } else { 5 }),
        warmup: Duration::from_secs_f64(if args.quick { 0.3 } else { 1.0 }),
        log_events: args
            .log_events
            .unwrap_or(if args.quick { 50_000 } else { 1_000_000 }),
        catch_ups: args
            .catch_ups
            .unwrap_or(if args.quick { 1 } else { 3 })
            .max(1),
        load_samples: if args.quick { 500 } else { 3000 },
        concurrency: args.concurrency.clone(),
        postgres: args.postgres.clone(),
        pgbench: args.pgbench.clone(),
        pgbench_script: args.pgbench_script.clone(),
        work: work.clone(),
        only: args.scenarios.clone(),
    };
    let mut report = Report::default();

    print_machine(&plan, &args).await;
    println!(
        "{:<8} {:<28} {:>4} {:>10} {:<8} {:>9} {:>9}  ratios",
        "store", "scenario", "conc", "rate", "unit", "p50 ms", "p99 ms"
    );
    for store in [Store::Sqlite, Store::Postgres] {
        if !args.stores.contains(&store) {
            continue;
        }
        if store == Store::Postgres {
            ensure_database(&plan.postgres).await?;
            drop_schemas(&plan.postgres).await?;
        }
        if args.parts.contains(&Part::Commands) {
            commands(store, &plan, &mut report).await?;
        }
        if args.parts.contains(&Part::Log) {
            event_log(store, &plan, &mut report).await?;
        }
        if store == Store::Postgres {
            drop_schemas(&plan.postgres).await?;
        }
    }
    report.print(&plan);
    if args.work_dir.is_none() {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(())
}

async fn print_machine(plan: &Plan, args: &Args) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "?".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("deleghe-load: {cores} cores, {model}, {memory}");
    if args.stores.contains(&Store::Postgres) {
        let version = async {
            let mut conn = PgConnection::connect(&server_url(&plan.postgres)?).await?;
            let v: String = sqlx::query_scalar("SHOW server_version")
                .fetch_one(&mut conn)
                .await?;
            let s: String = sqlx::query_scalar("SHOW synchronous_commit")
                .fetch_one(&mut conn)
                .await?;
            Ok::<_, sqlx::Error>(format!("PostgreSQL {v}, synchronous_commit={s}"))
        }
        .await
        .unwrap_or_else(|e| format!("PostgreSQL unreachable: {e}"));
        println!("{version}");
    }
    println!(
        "{} x {} s per measurement after {:.1} s of warm-up; concurrency {:?}; log of {} events",
        plan.rounds,
        plan.seconds,
        plan.warmup.as_secs_f64(),
        plan.concurrency,
        plan.log_events
    );
    println!();
}

/// The URL of the server's `postgres` database (to create ours).
fn server_url(url: &str) -> Result<String, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?;
    Ok(format!(
        "postgres://{}@{}:{}/postgres",
        options.get_username(),
        options.get_host(),
        options.get_port()
    ))
}

async fn ensure_database(url: &str) -> Result<()> {
    let options = PgConnectOptions::from_str(url)?;
    let name = options
        .get_database()
        .unwrap_or(options.get_username())
        .to_owned();
    let mut conn = PgConnectOptions::from_str(url)?
        .database("postgres")
        .connect()
        .await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut conn)
        .await?;
    if exists.is_none() {
        conn.execute(format!("CREATE DATABASE \"{}\"", name.replace('"', "")).as_str())
            .await?;
    }
    conn.close().await?;
    Ok(())
}

async fn drop_schemas(url: &str) -> Result<()> {
    let mut conn = PgConnection::connect(url).await?;
    conn.execute(
        "DROP SCHEMA IF EXISTS bench_commands CASCADE; DROP SCHEMA IF EXISTS bench_bare CASCADE; \
         DROP SCHEMA IF EXISTS bench_log CASCADE; DROP SCHEMA IF EXISTS bench_log_small CASCADE; \
         DROP SCHEMA IF EXISTS bench_log_copy CASCADE; \
         DROP SCHEMA IF EXISTS bench_floor CASCADE; DROP SCHEMA IF EXISTS bench_desk CASCADE",
    )
    .await?;
    conn.close().await?;
    Ok(())
}

type SharedOp = Arc<dyn Fn() -> OpFuture + Send + Sync>;

enum Job {
    Op(SharedOp),
    /// pgbench's script in this schema.
    Pgbench(&'static str),
}

/// The store `name` of this run: the SQLite file `{name}.db` in the work
/// folder, or the PostgreSQL schema `bench_{name}`.
async fn open_store(
    store: Store,
    plan: &Plan,
    name: &str,
) -> Result<Repository, deleghe_adapters::connect::ConnectError> {
    match store {
        Store::Sqlite => {
            let file = plan.work.join(format!("{name}.db"));
            Repository::connect(&format!("sqlite://{}", file.display())).await
        }
        Store::Postgres => {
            Repository::connect(&with_schema(&plan.postgres, &format!("bench_{name}"))).await
        }
    }
}

/// The command scenarios and their baselines, at each concurrency.
async fn commands(store: Store, plan: &Plan, report: &mut Report) -> Result<()> {
    let repository = open_store(store, plan, "commands").await?;
    let service = Arc::new(Deleghe::new(repository.clone(), Policy::default()));

    // Delegations registered two months ago, for the revocations: written by
    // the fast path, 10,000 a second of measuring at each concurrency, more
    // than any store here revokes (SQLite revoked 4,267 a second at c4 on
    // 2026-12-06 and ran out of the 3,000 a second prepared then at c16; a
    // measurement that runs out says so on its line).
    let levels = plan.concurrency.len() as f64;
    let seconds = plan.seconds * plan.rounds as f64 + plan.warmup.as_secs_f64();
    let wanted = (10_000.0 * seconds * levels) as u64;
    let pool: scenarios::RevocationPool = Arc::new(Mutex::new(Vec::new()));
    if plan.only.contains(&Only::Revocation) {
        let target = match store {
            Store::Sqlite => Target::Sqlite(repository.sqlite_pool().expect("a SQLite store")),
            Store::Postgres => Target::Postgres {
                url: &plan.postgres,
                schema: "bench_commands",
            },
        };
        let after = log::last_position(&target).await?;
        let mut generator = Generator::new(after, Utc::now() - chrono::Duration::days(60));
        let at = Utc::now() - chrono::Duration::days(60);
        let mut entries = Vec::new();
        let started = Instant::now();
        log::bulk_load(&target, wanted * 3, |out| {
            entries.push(generator.registration(at, false, out));
        })
        .await?;
        eprintln!(
            "{store}: {} active delegations for the revocations written in {:.1} s",
            entries.len(),
            started.elapsed().as_secs_f64()
        );
        // Revoked from the newest: each stream is hit once.
        *pool.lock().expect("not poisoned") = entries;
    }

    let counter = Arc::new(fixtures::counter());
    let slots = Arc::new(fixtures::slots(&counter, 3000));
    let next_slot = Arc::new(AtomicUsize::new(0));

    let bare: SharedOp = match store {
        Store::Sqlite => {
            let cqrs = bare::sqlite(&plan.work.join("bare.db")).await?;
            Arc::new(scenarios::bare(Arc::new(cqrs)))
        }
        Store::Postgres => {
            let cqrs = bare::postgres(&plan.postgres, "bench_bare").await?;
            Arc::new(scenarios::bare(Arc::new(cqrs)))
        }
    };

    // The same trivial aggregate through our repository, on our schema: what
    // the schema and repository cost, apart from the service.
    let bare_ours = Arc::new(cqrs_es::CqrsFramework::new(
        cqrs_es::persist::PersistedEventStore::new_event_store(repository.clone()),
        vec![],
        (),
    ));

    // Every scenario of one concurrency is measured in `rounds` slices,
    // taken in turn (bare, ours, pgbench, ...), so that a slow spell of a
    // shared machine weighs on all of them alike rather than on one.
    let mut jobs: Vec<(Scenario, Job)> = Vec::new();
    let wants = |only: Only| plan.only.contains(&only);
    if wants(Only::Bare) {
        jobs.push((Scenario::Bare, Job::Op(bare)));
    }
    if wants(Only::BareOurs) {
        jobs.push((
            Scenario::BareOurs,
            Job::Op(Arc::new(scenarios::bare(bare_ours.clone()))),
        ));
    }
    if store == Store::Postgres && wants(Only::Pgbench) {
        jobs.push((Scenario::PgbenchBare, Job::Pgbench("bench_bare")));
        jobs.push((Scenario::PgbenchOurs, Job::Pgbench("bench_commands")));
    }
    if wants(Only::Single) {
        let op = scenarios::single_command(service.clone());
        jobs.push((Scenario::Single, Job::Op(Arc::new(op))));
    }
    if wants(Only::Registration) {
        let op = scenarios::registration(service.clone());
        jobs.push((Scenario::Registration, Job::Op(Arc::new(op))));
    }
    if wants(Only::RegistrationStatements) {
        let template = scenarios::registration_template(&service, &repository).await?;
        let op = scenarios::registration_statements(repository.clone(), Arc::new(template));
        jobs.push((Scenario::RegistrationStatements, Job::Op(Arc::new(op))));
    }
    let desk = if wants(Only::CounterRegistration) {
        let desk = counter_desk(&service, &repository).await?;
        report.note(format!(
            "{store}: {}",
            events_per_registration(&service, &repository, &desk).await?
        ));
        let op = scenarios::counter_registration(desk.clone());
        jobs.push((Scenario::CounterRegistration, Job::Op(Arc::new(op))));
        Some(desk)
    } else {
        None
    };
    // The counter registration again, with the app's workers at work on its
    // store: a store of its own, so that they work on these registrations
    // only; after each slice, outside its time, they are let finish what it
    // left them, so that they take no time from the next scenario's slice.
    let deployed = if wants(Only::CounterRegistrationWorkers) {
        let desk_repository = open_store(store, plan, "desk").await?;
        let sms = FileSmsGateway::open(plan.work.join(format!("{store}-sms.jsonl")))?;
        let system = System::builder(Policy::default())
            .sms(Arc::new(sms))
            .on(desk_repository.clone())
            .await?;
        let workers = system.workers(Intervals::default());
        let desk = counter_desk(system.service(), &desk_repository).await?;
        let op = scenarios::counter_registration(desk);
        jobs.push((Scenario::CounterRegistrationWorkers, Job::Op(Arc::new(op))));
        Some((system, workers))
    } else {
        None
    };
    if wants(Only::Booking) {
        let op = scenarios::booking(service.clone(), counter, slots, next_slot);
        jobs.push((Scenario::Booking, Job::Op(Arc::new(op))));
    }
    if wants(Only::Revocation) {
        let op = scenarios::revocation(service.clone(), pool.clone());
        jobs.push((Scenario::Revocation, Job::Op(Arc::new(op))));
    }

    for &c in &plan.concurrency {
        let mut samples: Vec<Option<Sample>> = vec![Some(Sample::default()); jobs.len()];
        for round in 0..plan.rounds {
            for (i, (scenario, job)) in jobs.iter().enumerate() {
                let slice = match job {
                    Job::Op(op) => {
                        if *scenario == Scenario::CounterRegistration {
                            // The scenarios before this slice appended without
                            // reading the log's head; on PostgreSQL the first
                            // head read would number all of their events
                            // (`number_events()`) inside this slice, where the
                            // app's workers keep the log numbered as it grows;
                            // and, autovacuum being off on the server here, the
                            // numbering's dead rows would stay in the index of
                            // the rows left to number, which every head read
                            // scans: vacuumed, as autovacuum would.
                            repository.log_head().await?;
                            if store == Store::Postgres {
                                let mut conn = PgConnection::connect(&plan.postgres).await?;
                                conn.execute("VACUUM bench_commands.events").await?;
                                conn.close().await?;
                            }
                        }
                        let op = op.clone();
                        let call = move || op();
                        if round == 0 {
                            stats::run(c, plan.warmup, call.clone()).await;
                            if let (Scenario::CounterRegistration, Some(desk)) = (scenario, &desk) {
                                desk.phases.reset();
                            }
                        }
                        let slice = stats::run(c, plan.duration(), call).await;
                        if let (Scenario::CounterRegistrationWorkers, Some((system, _))) =
                            (scenario, &deployed)
                        {
                            let drained = workers_drained(system).await?;
                            if round + 1 == plan.rounds {
                                report.note(format!(
                                    "{store} workers + counter registration, c={c}: after a slice \
                                     the workers needed {:.1} s more to finish its notifications \
                                     and read models",
                                    drained.as_secs_f64()
                                ));
                            }
                        }
                        Ok(slice)
                    }
                    Job::Pgbench(schema) => {
                        let (program, script, url, work, schema) = (
                            plan.pgbench.clone(),
                            plan.pgbench_script.clone(),
                            plan.postgres.clone(),
                            plan.work.clone(),
                            *schema,
                        );
                        let seconds = plan.seconds.ceil().max(1.0) as u64;
                        tokio::task::spawn_blocking(move || {
                            pgbench::run(&program, &script, &url, schema, c, seconds, &work)
                        })
                        .await?
                    }
                };
                match (slice, &mut samples[i]) {
                    (Ok(slice), Some(sample)) => sample.merge(slice),
                    (Ok(_), None) => {}
                    (Err(e), sample) => {
                        *sample = None;
                        let note = format!("{} skipped: {e}", scenario.label());
                        eprintln!("{note}");
                        if !report.notes.contains(&note) {
                            report.notes.push(note);
                        }
                    }
                }
            }
        }
        if let Some(desk) = &desk {
            let online = jobs
                .iter()
                .zip(&samples)
                .find(|((s, _), _)| *s == Scenario::Registration)
                .and_then(|(_, sample)| sample.as_ref());
            report.note(counter_phases(store, c, desk, online));
        }
        for ((scenario, _), sample) in jobs.iter().zip(samples) {
            if let Some(sample) = sample {
                report.add(store, *scenario, c, sample);
            }
        }
    }
    if let Some((system, workers)) = deployed {
        workers.stop().await;
        if let Some(pool) = system.repository().sqlite_pool() {
            pool.close().await;
        }
    }
    if let Some(pool) = repository.sqlite_pool() {
        pool.close().await;
    }
    Ok(())
}

/// Waits until `system`'s workers have done everything the log and the
/// outbox hold (read models applied, flows examined, notifications sent or
/// withdrawn); how long that took.
async fn workers_drained(system: &System) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let progress = system.progress().await?;
        if progress.projector_lag_events() == 0
            && progress.runner_lag_events() == 0
            && progress.read_side.outbox_pending == 0
        {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(300) {
            return Err(format!("the workers did not drain in 300 s: {progress:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The counter desk of `bench/http.sh` on `repository`: the app's document
/// store (`DatabaseDocuments` on the read side, as `System` opens it) and the
/// two documents its registrations name, uploaded once by the operator (a
/// form AA08 and an identity document, blank one-page PDFs) and recorded as
/// theirs (D11), as `POST /v1/counter/documents` does.
async fn counter_desk(
    service: &Arc<Deleghe>,
    repository: &Repository,
) -> Result<scenarios::CounterDesk> {
    let side = ReadSide::open(repository).await?;
    let documents: Arc<dyn DocumentStore> = Arc::new(DatabaseDocuments::new(side));
    let mut digests = Vec::new();
    for (kind, label) in [
        (DocumentKind::Aa08, "aa08"),
        (DocumentKind::IdentityDocument, "identity"),
    ] {
        let pdf = fixtures::blank_pdf(label);
        let sha256 = documents.put(&pdf).await?;
        let document = DocumentRef {
            kind,
            sha256: sha256.clone(),
            bytes: pdf.len() as u64,
        };
        service
            .record_upload(document, &fixtures::operator())
            .await?;
        digests.push(sha256);
    }
    Ok(scenarios::CounterDesk {
        service: service.clone(),
        documents,
        repository: repository.clone(),
        policy: Policy::default(),
        digests: Arc::new(digests),
        phases: Arc::default(),
    })
}

/// How many events one online and one counter registration append (the
/// log's head before and after each, nothing else running).
async fn events_per_registration(
    service: &Arc<Deleghe>,
    repository: &Repository,
    desk: &scenarios::CounterDesk,
) -> Result<String> {
    let failed = |e: stats::OpError| format!("a registration failed: {e:?}");
    let head = repository.log_head().await?;
    scenarios::registration(service.clone())()
        .await
        .map_err(failed)?;
    let online = repository.log_head().await?;
    scenarios::counter_registration(desk.clone())()
        .await
        .map_err(failed)?;
    let counter = repository.log_head().await?;
    desk.phases.reset();
    Ok(format!(
        "one counter registration appends {} events, one online registration {}",
        counter - online,
        online - head
    ))
}

/// Where the counter registrations of concurrency `c` spent their time, by
/// phase, beside the online registration's mean latency.
fn counter_phases(
    store: Store,
    c: usize,
    desk: &scenarios::CounterDesk,
    online: Option<&Sample>,
) -> String {
    let (ops, [uploads, documents, register, answer]) = desk.phases.means();
    let online = online
        .map(|s| format!("; online registration {} in all", ms(s.mean())))
        .unwrap_or_default();
    format!(
        "{store} counter registration, c={c}, mean per operation over {ops}: each document \
         looked up as the operator's upload {}, checked stored {}, register_delegation {}, the answer (view, log \
         head) {} (ms){online}",
        ms(uploads),
        ms(documents),
        ms(register),
        ms(answer),
    )
}

/// Aggregate load time with 10,000 and with all the log's events stored,
/// then the projector's catch-up over the log, its floor (the same rows
/// written alone: [`floor`]) and a full rebuild.
///
/// The two sizes are two stores: one with the log's first 10,000 events,
/// one with all of them (the same first 10,000, then the rest). Their loads
/// are measured in turn, a slice of each per round, so that a busy spell of
/// the shared machine falls on both alike.
async fn event_log(store: Store, plan: &Plan, report: &mut Report) -> Result<()> {
    let open = |name: &'static str| open_store(store, plan, name);
    let target = |repository, schema| log_target(store, repository, &plan.postgres, schema);
    let start = Utc.with_ymd_and_hms(2029, 6, 1, 8, 0, 0).unwrap();

    let small = open("log_small").await?;
    let mut small_log = Generator::new(0, start);
    let small_events = plan.log_events.min(10_000);
    log::bulk_load(&target(&small, "bench_log_small"), small_events, |out| {
        small_log.next_story(out)
    })
    .await?;

    let repository = open("log").await?;
    let mut generator = Generator::new(0, start);
    let started = Instant::now();
    let written = log::bulk_load(&target(&repository, "bench_log"), plan.log_events, |out| {
        generator.next_story(out)
    })
    .await?;
    eprintln!(
        "{store}: {written} events in the log (last position {}), written by the fast path in \
         {:.1} s; {small_events} in the small store",
        generator.last_position(),
        started.elapsed().as_secs_f64()
    );
    let (small_sample, large_sample) = load_times(
        [
            (
                &Deleghe::new(small.clone(), Policy::default()),
                &small_log.grantors,
            ),
            (
                &Deleghe::new(repository.clone(), Policy::default()),
                &generator.grantors,
            ),
        ],
        plan.load_samples,
        plan.rounds as usize,
    )
    .await?;
    report.add(store, Scenario::LoadSmall, 0, small_sample);
    report.add(store, Scenario::LoadLarge, 0, large_sample);
    if let Some(pool) = small.sqlite_pool() {
        pool.close().await;
    }

    // The PostgreSQL server here runs with autovacuum off (a test server).
    // Without it the read tables are never analysed, and the plans sqlx's
    // prepared statements get while the tables are empty stay for good (see
    // docs/PERFORMANCE.md, "The outbox's withdrawal"). Do what autovacuum
    // would: vacuum and analyse them every 30 s while the projector works.
    let maintenance = (store == Store::Postgres).then(|| {
        let url = plan.postgres.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(30)).await;
                if let Ok(mut conn) = PgConnection::connect(&url).await {
                    // The first log, and the copy being caught up, if any
                    // (a schema that is not there is an error, ignored).
                    for schema in ["bench_log", "bench_log_copy"] {
                        let _ = conn.execute(autovacuum(schema).as_str()).await;
                    }
                    let _ = conn.close().await;
                }
            }
        })
    });
    let side = ReadSide::open(&repository).await?;
    let projector = || Projector::new(repository.clone(), side.clone(), Policy::default());
    // The catch-up and its floor, measured one after the other, moved by a
    // fifth from run to run of the same binary on this shared machine: the
    // pair is measured `catch_ups` times, each on a copy of the log of its
    // own (the same events, loaded again), and the pair of the median ratio
    // is reported.
    let mut pairs = vec![catch_up_pair(store, plan, &repository, &projector(), "bench_log").await?];
    for round in 2..=plan.catch_ups {
        let copy = open("log_copy").await?;
        let mut copied = Generator::new(0, start);
        let copy_target = log_target(store, &copy, &plan.postgres, "bench_log_copy");
        log::bulk_load(&copy_target, plan.log_events, |out| copied.next_story(out)).await?;
        let copy_side = ReadSide::open(&copy).await?;
        let copy_projector = Projector::new(copy.clone(), copy_side, Policy::default());
        let pair = catch_up_pair(store, plan, &copy, &copy_projector, "bench_log_copy").await;
        drop(copy_projector);
        forget_store(store, plan, &copy, "log_copy").await?;
        eprintln!(
            "{store}: catch-up and floor, round {round} of {}",
            plan.catch_ups
        );
        pairs.push(pair?);
    }
    report_catch_up(store, pairs, report);
    let rebuilding = projector();
    settle(&repository, &plan.postgres).await?;
    let wal = WalStats::read(store, &plan.postgres).await;
    let started = Instant::now();
    let replayed = rebuilding.rebuild().await?;
    let elapsed = started.elapsed();
    report.add(
        store,
        Scenario::Rebuild,
        0,
        Sample::single(replayed as u64, elapsed),
    );
    report.note(format!(
        "{store} rebuild, {}",
        where_the_time_went(&rebuilding.times(), elapsed)
    ));
    if let Some(note) = WalStats::since(wal, store, &plan.postgres, replayed).await {
        report.note(format!("{store} rebuild, {note}"));
    }
    if let Some(task) = maintenance {
        task.abort();
    }
    if let Some(pool) = repository.sqlite_pool() {
        pool.close().await;
    }
    Ok(())
}

/// One catch-up of the log in `repository` (schema `schema` on
/// PostgreSQL) from its start, and its floor: what it did and took.
struct Pair {
    applied: usize,
    elapsed: Duration,
    times: ProjectorTimes,
    wal: Option<String>,
    floor: floor::Floor,
}

impl Pair {
    /// The catch-up's rate of the floor's rows over the floor's rate of
    /// them: the faster of its two measures (multi-row INSERT; on
    /// PostgreSQL also COPY).
    fn ratio(&self) -> f64 {
        let fastest = self
            .floor
            .copy
            .map_or(self.floor.insert, |copy| copy.min(self.floor.insert));
        fastest.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
    }
}

async fn catch_up_pair(
    store: Store,
    plan: &Plan,
    repository: &Repository,
    projector: &Projector,
    schema: &str,
) -> Result<Pair> {
    settle(repository, &plan.postgres).await?;
    let wal = WalStats::read(store, &plan.postgres).await;
    let started = Instant::now();
    let applied = projector.catch_up().await?;
    let elapsed = started.elapsed();
    let wal = WalStats::since(wal, store, &plan.postgres, applied).await;
    let times = projector.times();
    let floor = catch_up_floor(store, plan, repository, schema, times.batches).await?;
    Ok(Pair {
        applied,
        elapsed,
        times,
        wal,
        floor,
    })
}

/// Reports the pair of the median ratio (of an even number, the lower
/// middle one) and notes every ratio.
fn report_catch_up(store: Store, mut pairs: Vec<Pair>, report: &mut Report) {
    let ratios: Vec<String> = pairs.iter().map(|p| format!("{:.2}", p.ratio())).collect();
    pairs.sort_by(|a, b| a.ratio().total_cmp(&b.ratio()));
    let median = pairs.swap_remove((pairs.len() - 1) / 2);
    let Pair {
        applied,
        elapsed,
        times,
        wal,
        floor,
    } = median;
    report.add(
        store,
        Scenario::CatchUp,
        0,
        Sample::single(applied as u64, elapsed),
    );
    report.note(format!(
        "{store} catch-up, {}",
        where_the_time_went(&times, elapsed)
    ));
    if let Some(note) = wal {
        report.note(format!("{store} catch-up, {note}"));
    }
    report.add(
        store,
        Scenario::FloorInsert,
        0,
        Sample::single(floor.rows, floor.insert),
    );
    if let Some(copy) = floor.copy {
        report.add(
            store,
            Scenario::FloorCopy,
            0,
            Sample::single(floor.rows, copy),
        );
    }
    report.note(format!(
        "{store} floor of the catch-up: its {} rows ({}) written again alone into empty tables \
         of the same schema, in {} transactions (the catch-up's batches){}",
        floor.rows,
        floor.tables(),
        floor.transactions,
        if store == Store::Postgres {
            ", synchronous_commit off in each as in the catch-up's"
        } else {
            ""
        }
    ));
    if ratios.len() > 1 {
        report.note(format!(
            "{store} catch-up over its floor, in the order measured (the first on the log, the \
             others each on a copy of it): {} (the median pair is above)",
            ratios.join(", ")
        ));
    }
}

/// The floor of the catch-up just made on `repository`: the same rows
/// written alone into a second store of the same schema ([`floor`]), new
/// for each measure.
async fn catch_up_floor(
    store: Store,
    plan: &Plan,
    repository: &Repository,
    schema: &str,
    batches: u64,
) -> Result<floor::Floor> {
    let batches = batches as usize;
    let to = open_store(store, plan, "floor").await?;
    let measured = match store {
        Store::Sqlite => floor::sqlite(repository, &to, batches).await,
        Store::Postgres => {
            floor::postgres(&plan.postgres, schema, &to, "bench_floor", batches).await
        }
    };
    forget_store(store, plan, &to, "floor").await?;
    measured
}

/// Closes store `name` and removes it (its SQLite files, or its
/// PostgreSQL schema), so that the next one of that name starts empty.
async fn forget_store(
    store: Store,
    plan: &Plan,
    repository: &Repository,
    name: &str,
) -> Result<()> {
    match store {
        Store::Sqlite => {
            if let Some(pool) = repository.sqlite_pool() {
                pool.close().await;
            }
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(plan.work.join(format!("{name}.db{suffix}")));
            }
        }
        Store::Postgres => {
            if let Some(pool) = repository.postgres_pool() {
                pool.close().await;
            }
            let mut conn = PgConnection::connect(&plan.postgres).await?;
            conn.execute(format!("DROP SCHEMA IF EXISTS bench_{name} CASCADE").as_str())
                .await?;
            conn.close().await?;
        }
    }
    Ok(())
}

/// The projector's time by phase, per batch: the applying side (log,
/// prefetch, apply, waiting for the write before) and the writing side
/// (begin, write, commit), which overlap in a pipelined catch-up, against
/// the wall time of a batch.
fn where_the_time_went(t: &ProjectorTimes, elapsed: Duration) -> String {
    let batches = t.batches.max(1) as f64;
    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0 / batches);
    format!(
        "{} batches of {:.0} events, {} ms a batch; per batch, applying: waiting for the log \
         {}, prefetch {}, apply {}, waiting for the write before {}; writing: begin {}, \
         write {}, commit {} (ms)",
        t.batches,
        t.events as f64 / batches,
        ms(elapsed),
        ms(t.waiting_for_log),
        ms(t.prefetch),
        ms(t.apply),
        ms(t.waiting_for_write),
        ms(t.begin),
        ms(t.write),
        ms(t.commit),
    )
}

/// Where the fast path writes the log of `repository`.
fn log_target<'a>(
    store: Store,
    repository: &'a Repository,
    url: &'a str,
    schema: &'a str,
) -> Target<'a> {
    match store {
        Store::Sqlite => Target::Sqlite(repository.sqlite_pool().expect("a SQLite store")),
        Store::Postgres => Target::Postgres { url, schema },
    }
}

/// Writes the database's dirty pages out before a timed part of the log
/// (PostgreSQL `CHECKPOINT`; SQLite a WAL checkpoint that empties the WAL),
/// so that no part pays for the writes of the one before it (the bulk load
/// of the log, or the catch-up before the rebuild): without it, where the
/// server's own checkpoint fell moved the PostgreSQL catch-up by up to a
/// third from run to run.
async fn settle(repository: &Repository, postgres: &str) -> Result<()> {
    if let Some(pool) = repository.sqlite_pool() {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await?;
    } else {
        let mut conn = PgConnection::connect(postgres).await?;
        conn.execute("CHECKPOINT").await?;
        conn.close().await?;
    }
    Ok(())
}

/// What the PostgreSQL server wrote, server-wide (`pg_stat_wal`,
/// `pg_stat_bgwriter`): to say how much of a part of the log was the
/// server's own writing.
#[derive(Clone, Copy)]
struct WalStats {
    bytes: f64,
    full_page_images: i64,
    backend_buffer_writes: i64,
}

impl WalStats {
    async fn read(store: Store, postgres: &str) -> Option<Self> {
        if store != Store::Postgres {
            return None;
        }
        let mut conn = PgConnection::connect(postgres).await.ok()?;
        let (bytes, full_page_images, backend_buffer_writes): (f64, i64, i64) = sqlx::query_as(
            "SELECT w.wal_bytes::float8, w.wal_fpi, b.buffers_backend \
               FROM pg_stat_wal w, pg_stat_bgwriter b",
        )
        .fetch_one(&mut conn)
        .await
        .ok()?;
        let _ = conn.close().await;
        Some(Self {
            bytes,
            full_page_images,
            backend_buffer_writes,
        })
    }

    /// What was written since `before`, per event of `events`.
    async fn since(
        before: Option<Self>,
        store: Store,
        postgres: &str,
        events: usize,
    ) -> Option<String> {
        let (before, after) = (before?, Self::read(store, postgres).await?);
        let events = events.max(1) as f64;
        Some(format!(
            "server-wide during it, per event: {:.0} bytes of WAL, {:.2} full-page images, \
             {:.2} buffers written out by backends (shared_buffers full)",
            (after.bytes - before.bytes) / events,
            (after.full_page_images - before.full_page_images) as f64 / events,
            (after.backend_buffer_writes - before.backend_buffer_writes) as f64 / events,
        ))
    }
}

/// What autovacuum would do to the log schema's read side.
/// What autovacuum would do to the read-side tables of the log's schema.
fn autovacuum(schema: &str) -> String {
    format!(
        "VACUUM (ANALYZE) {schema}.read_checkpoints, {schema}.read_delegations, \
         {schema}.read_bookings, {schema}.read_slot_places, {schema}.read_audit, {schema}.outbox"
    )
}

/// Loads `n` grantors of each store, picked at random among its
/// `grantors`, one at a time: `rounds` slices of `n / rounds` loads, the
/// stores in turn (after a tenth as many to warm each up). Checks that each
/// grantor has its delegation.
async fn load_times(
    stores: [(&Deleghe, &Vec<FiscalCode>); 2],
    n: usize,
    rounds: usize,
) -> Result<(Sample, Sample)> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut pick = |grantors: &[FiscalCode]| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        grantors[(state >> 33) as usize % grantors.len()].clone()
    };
    let mut latencies = [Vec::with_capacity(n), Vec::with_capacity(n)];
    let rounds = rounds.max(1);
    for (service, grantors) in stores {
        for _ in 0..n / 10 {
            service.grantor(&pick(grantors)).await?;
        }
    }
    for _ in 0..rounds {
        for (k, (service, grantors)) in stores.iter().enumerate() {
            for _ in 0..n / rounds {
                let grantor = pick(grantors);
                let began = Instant::now();
                let loaded = service.grantor(&grantor).await?;
                latencies[k].push(began.elapsed());
                if loaded.delegations().is_empty() {
                    return Err(format!("grantor {grantor} loaded without its delegation").into());
                }
            }
        }
    }
    let [small, large] = latencies.map(|mut latencies| {
        latencies.sort_unstable();
        Sample {
            ops: latencies.len() as u64,
            elapsed: latencies.iter().sum(),
            latencies,
            ..Sample::default()
        }
    });
    Ok((small, large))
}
