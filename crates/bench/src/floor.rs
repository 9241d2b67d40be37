//! The floor of the projector's catch-up: the database's own cost of the
//! rows the catch-up wrote, measured in the same run (issue 20: "where the
//! database's own row writes are the floor, a same-run measure of that
//! floor ... and the catch-up >= 0.7x it").
//!
//! After the catch-up, every row of the read-side tables it writes (the
//! read models, the document references, the outbox, and its checkpoint
//! row) is read back, and written again into empty tables of the same
//! schema with the same indexes: a second store made by the same
//! migrations (PostgreSQL: the schema `bench_floor` of the same database;
//! SQLite: a new file, opened with the same pragmas by
//! `Repository::connect`). The writes are timed, and nothing else:
//!
//! - **what it includes**: the statements that insert the rows (multi-row
//!   `INSERT … VALUES` with bound parameters, in chunks cut as the
//!   library's own statements are: on SQLite at most 256 rows, on
//!   PostgreSQL as many as its limit on parameters allows; on PostgreSQL also `COPY …
//!   FROM STDIN` in text format, the faster of the two being the floor),
//!   their index entries, and the commits. The rows are written in as many
//!   transactions as the catch-up had batches, each with its share of
//!   every table, in the order the tables hold them; on PostgreSQL each
//!   transaction turns `synchronous_commit` off, as the catch-up's do.
//! - **what it excludes**, which the catch-up pays: reading and decoding
//!   the log, folding the events into the read models (the prefetch of the
//!   rows a batch lacks, the apply, the encoding of what changed), and the
//!   catch-up's conflict handling (`ON CONFLICT … DO UPDATE`) and rewrites:
//!   a row the log changed several times (a delegation registered then
//!   revoked, a booking then cancelled) was written by the catch-up each
//!   time, in different batches, but is written once here, as it ended up;
//!   likewise the checkpoint, which the catch-up moves every batch.
//!
//! The floor's rate is rows a second; the catch-up's, over the same rows,
//! is those rows over the catch-up's wall time.

use std::time::{Duration, Instant};

use deleghe_adapters::Repository;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Executor, Row};

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// The tables the catch-up writes (the read models, the document
/// references, the outbox, and the checkpoint).
pub const TABLES: [&str; 7] = [
    "read_checkpoints",
    "read_delegations",
    "read_bookings",
    "read_slot_places",
    "read_audit",
    "read_document_refs",
    "outbox",
];

/// Bound parameters a statement may carry: PostgreSQL's protocol limit,
/// and SQLite's (`SQLITE_MAX_VARIABLE_NUMBER` since 3.32).
const PG_PARAMETERS: usize = 65_535;
const SQLITE_PARAMETERS: usize = 32_766;
/// The most rows the library's SQLite statements take (`MOST_ROWS` of its
/// SQLite dialect): one statement of the rows of a whole batch was slower.
const SQLITE_MOST_ROWS: usize = 256;

/// `rows` cut as the library's dialects cut them: chunks of `most`, then
/// the powers of two that make up the rest, so that a statement has few
/// texts, each prepared once.
fn chunks<T>(mut rows: &[T], most: usize) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let n = if rows.len() >= most {
            most
        } else {
            1 << rows.len().ilog2()
        };
        let (chunk, rest) = rows.split_at(n);
        rows = rest;
        Some(chunk)
    })
}

/// What a floor measured.
pub struct Floor {
    /// Rows written, in all.
    pub rows: u64,
    /// Rows per table, in the order of [`TABLES`].
    pub per_table: Vec<(&'static str, u64)>,
    /// Transactions the rows were written in.
    pub transactions: usize,
    /// The time multi-row `INSERT`s took.
    pub insert: Duration,
    /// The time `COPY` took (PostgreSQL only).
    pub copy: Option<Duration>,
}

impl Floor {
    /// Rows per table, as `name rows, …`.
    pub fn tables(&self) -> String {
        self.per_table
            .iter()
            .map(|(name, rows)| format!("{name} {rows}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Json,
    Int,
    Bool,
}

enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
}

/// One table's rows, read back.
struct Table {
    name: &'static str,
    columns: Vec<(String, Kind)>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// Slice `i` of the rows cut into `n` contiguous slices of (nearly) equal size.
    fn slice(&self, i: usize, n: usize) -> &[Vec<Cell>] {
        let len = self.rows.len();
        &self.rows[i * len / n..(i + 1) * len / n]
    }

    /// `INSERT INTO schema.name (…) VALUES (…), …` for `rows` rows.
    fn insert(&self, schema: Option<&str>, rows: usize, pg: bool) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| n.as_str()).collect();
        let table = match schema {
            Some(schema) => format!("{schema}.{}", self.name),
            None => self.name.to_owned(),
        };
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
        let mut n = 0;
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for (c, (_, kind)) in self.columns.iter().enumerate() {
                if c > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                if pg {
                    sql.push_str(&format!("${n}"));
                    if *kind == Kind::Json {
                        sql.push_str("::jsonb");
                    }
                } else {
                    sql.push('?');
                }
            }
            sql.push(')');
        }
        sql
    }

    /// The most rows a statement carries under a limit of `parameters`.
    fn most(&self, parameters: usize) -> usize {
        (parameters / self.columns.len().max(1)).max(1)
    }

    /// The rows in `COPY`'s text format, and where each row starts.
    fn copy_text(&self) -> (Vec<u8>, Vec<usize>) {
        let mut text = Vec::new();
        let mut starts = Vec::with_capacity(self.rows.len() + 1);
        for row in &self.rows {
            starts.push(text.len());
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    text.push(b'\t');
                }
                match cell {
                    Cell::Text(None) | Cell::Int(None) | Cell::Bool(None) => {
                        text.extend_from_slice(b"\\N")
                    }
                    Cell::Text(Some(s)) => {
                        for b in s.bytes() {
                            match b {
                                b'\\' => text.extend_from_slice(b"\\\\"),
                                b'\n' => text.extend_from_slice(b"\\n"),
                                b'\r' => text.extend_from_slice(b"\\r"),
                                b'\t' => text.extend_from_slice(b"\\t"),
                                b => text.push(b),
                            }
                        }
                    }
                    Cell::Int(Some(n)) => text.extend_from_slice(n.to_string().as_bytes()),
                    Cell::Bool(Some(b)) => text.push(if *b { b't' } else { b'f' }),
                }
            }
            text.push(b'\n');
        }
        starts.push(text.len());
        (text, starts)
    }
}

/// As many transactions as the catch-up had batches (at least one).
fn transactions_for(batches: usize) -> usize {
    batches.max(1)
}

/// PostgreSQL: the rows of `from` (a schema the catch-up wrote) into the
/// empty tables of `to` (made by the migrations), by multi-row `INSERT`
/// and by `COPY`, each after [`crate::settle`] and into emptied tables, in
/// `batches` transactions.
pub async fn postgres(
    url: &str,
    from: &str,
    to: &Repository,
    to_schema: &str,
    batches: usize,
) -> Result<Floor> {
    let mut conn = PgConnection::connect(url).await?;
    let mut tables = Vec::new();
    for name in TABLES {
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
              WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        )
        .bind(from)
        .bind(name)
        .fetch_all(&mut conn)
        .await?;
        let columns: Vec<(String, Kind)> = columns
            .into_iter()
            .map(|(column, data_type)| {
                let kind = match data_type.as_str() {
                    "jsonb" | "json" => Kind::Json,
                    "bigint" | "integer" => Kind::Int,
                    "boolean" => Kind::Bool,
                    _ => Kind::Text,
                };
                (column, kind)
            })
            .collect();
        let select = columns
            .iter()
            .map(|(c, k)| match k {
                Kind::Json => format!("{c}::text"),
                _ => c.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!("SELECT {select} FROM {from}.{name}"))
            .fetch_all(&mut conn)
            .await?;
        let rows = rows
            .iter()
            .map(|row| {
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, kind))| {
                        Ok(match kind {
                            Kind::Text | Kind::Json => Cell::Text(row.try_get(i)?),
                            Kind::Int => Cell::Int(row.try_get(i)?),
                            Kind::Bool => Cell::Bool(row.try_get(i)?),
                        })
                    })
                    .collect::<Result<Vec<Cell>, sqlx::Error>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        tables.push(Table {
            name,
            columns,
            rows,
        });
    }
    let transactions = transactions_for(batches);
    let empty = format!(
        "TRUNCATE {}",
        TABLES.map(|t| format!("{to_schema}.{t}")).join(", ")
    );

    // Multi-row INSERT.
    conn.execute(empty.as_str()).await?;
    crate::settle(to, url).await?;
    let started = Instant::now();
    for k in 0..transactions {
        conn.execute("BEGIN").await?;
        conn.execute("SET LOCAL synchronous_commit = off").await?;
        for table in &tables {
            let most = table.most(PG_PARAMETERS);
            for rows in chunks(table.slice(k, transactions), most) {
                let sql = table.insert(Some(to_schema), rows.len(), true);
                let mut query = sqlx::query(&sql);
                for cell in rows.iter().flatten() {
                    query = match cell {
                        Cell::Text(v) => query.bind(v.as_deref()),
                        Cell::Int(v) => query.bind(*v),
                        Cell::Bool(v) => query.bind(*v),
                    };
                }
                query.execute(&mut conn).await?;
            }
        }
        conn.execute("COMMIT").await?;
    }
    let insert = started.elapsed();

    // COPY, the rows in its text format (made before the clock starts).
    let texts: Vec<(Vec<u8>, Vec<usize>)> = tables.iter().map(Table::copy_text).collect();
    conn.execute(empty.as_str()).await?;
    crate::settle(to, url).await?;
    let started = Instant::now();
    for k in 0..transactions {
        conn.execute("BEGIN").await?;
        conn.execute("SET LOCAL synchronous_commit = off").await?;
        for (table, (text, starts)) in tables.iter().zip(&texts) {
            let n = table.rows.len();
            let (a, b) = (k * n / transactions, (k + 1) * n / transactions);
            if a == b {
                continue;
            }
            let mut copy = conn
                .copy_in_raw(&format!("COPY {to_schema}.{} FROM STDIN", table.name))
                .await?;
            copy.send(&text[starts[a]..starts[b]]).await?;
            copy.finish().await?;
        }
        conn.execute("COMMIT").await?;
    }
    let copy = started.elapsed();
    conn.close().await?;
    Ok(floor(&tables, transactions, insert, Some(copy)))
}

/// SQLite: the rows of the store the catch-up wrote (`from`) into the empty
/// tables of `to` (a new file, made by the migrations), by multi-row
/// `INSERT`, after [`crate::settle`], in `batches` transactions.
pub async fn sqlite(from: &Repository, to: &Repository, batches: usize) -> Result<Floor> {
    let source = from.sqlite_pool().ok_or("a SQLite store")?;
    let mut tables = Vec::new();
    for name in TABLES {
        let columns: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT name, type FROM pragma_table_info('{name}')"
        ))
        .fetch_all(source)
        .await?;
        let columns: Vec<(String, Kind)> = columns
            .into_iter()
            .map(|(column, declared)| {
                let kind = if declared.eq_ignore_ascii_case("INTEGER") {
                    Kind::Int
                } else {
                    Kind::Text
                };
                (column, kind)
            })
            .collect();
        let select = columns
            .iter()
            .map(|(c, _)| c.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!("SELECT {select} FROM {name}"))
            .fetch_all(source)
            .await?;
        let rows = rows
            .iter()
            .map(|row| {
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, kind))| {
                        Ok(match kind {
                            Kind::Int => Cell::Int(row.try_get(i)?),
                            _ => Cell::Text(row.try_get(i)?),
                        })
                    })
                    .collect::<Result<Vec<Cell>, sqlx::Error>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        tables.push(Table {
            name,
            columns,
            rows,
        });
    }
    let transactions = transactions_for(batches);
    let pool = to.sqlite_pool().ok_or("a SQLite store")?;
    let mut conn: SqliteConnection = pool.acquire().await?.detach();
    for name in TABLES {
        conn.execute(format!("DELETE FROM {name}").as_str()).await?;
    }
    crate::settle(to, "").await?;
    let started = Instant::now();
    for k in 0..transactions {
        conn.execute("BEGIN IMMEDIATE").await?;
        for table in &tables {
            let most = table.most(SQLITE_PARAMETERS).min(SQLITE_MOST_ROWS);
            for rows in chunks(table.slice(k, transactions), most) {
                let sql = table.insert(None, rows.len(), false);
                let mut query = sqlx::query(&sql);
                for cell in rows.iter().flatten() {
                    query = match cell {
                        Cell::Text(v) => query.bind(v.as_deref()),
                        Cell::Int(v) => query.bind(*v),
                        Cell::Bool(v) => query.bind(*v),
                    };
                }
                query.execute(&mut conn).await?;
            }
        }
        conn.execute("COMMIT").await?;
    }
    let insert = started.elapsed();
    conn.close().await?;
    Ok(floor(&tables, transactions, insert, None))
}

fn floor(tables: &[Table], transactions: usize, insert: Duration, copy: Option<Duration>) -> Floor {
    let per_table: Vec<_> = tables
        .iter()
        .map(|t| (t.name, t.rows.len() as u64))
        .collect();
    Floor {
        rows: per_table.iter().map(|(_, n)| n).sum(),
        per_table,
        transactions,
        insert,
        copy,
    }
}
