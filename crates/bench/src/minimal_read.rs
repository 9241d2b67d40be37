//! The limit of the stack for the app's read (issue 20, figure (d) of
//! bench/http.sh): a minimal axum + sqlx server answering
//! `GET /v1/delegations?grantor=…` with the very `SELECT` the app's read
//! model runs (`deleghe_adapters::sql::queries::DELEGATIONS_BY_GRANTOR`),
//! on sqlx's connections lent from a deadpool pool of the app's size, as
//! the app's store lends them (ADR 0021: no ping as a connection is lent
//! or goes back, where sqlx's own pool pings each one going back), the
//! rows' JSON written as the app's list (`{"items": [...]}`). What it
//! leaves out is what the app adds: the token's check, the library's types,
//! its logs and metrics, and the checks the store's pool makes before a
//! loan (none costs a round trip on a connection in use).
//!
//!     deleghe-minimal-read --database-url URL --listen 127.0.0.1:PORT
//!     deleghe-minimal-read --print-query     (the SELECT, for pgbench)

use std::net::SocketAddr;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use clap::Parser;
use deadpool::managed::{self, Metrics, RecycleResult};
use deleghe_adapters::sql::queries::DELEGATIONS_BY_GRANTOR;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgConnection, Row};

#[derive(Parser)]
#[command(about = "The minimal axum + sqlx read of bench/http.sh")]
struct Args {
    /// The PostgreSQL database, with `?schema=` naming the read models'.
    #[arg(long, required_unless_present = "print_query")]
    database_url: Option<String>,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8099")]
    listen: SocketAddr,
    /// Prints the SELECT and exits.
    #[arg(long)]
    print_query: bool,
    /// Pool size (the app's PostgreSQL pool).
    #[arg(long, default_value_t = 10)]
    connections: u32,
}

/// Opens the pool's connections; lends them again as they are.
struct Connect(PgConnectOptions);

impl managed::Manager for Connect {
    type Type = PgConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<PgConnection, sqlx::Error> {
        self.0.connect().await
    }

    async fn recycle(&self, _: &mut PgConnection, _: &Metrics) -> RecycleResult<sqlx::Error> {
        Ok(())
    }
}

type Pool = managed::Pool<Connect>;

#[derive(serde::Deserialize)]
struct ByGrantor {
    grantor: String,
}

async fn list(State(pool): State<Pool>, Query(q): Query<ByGrantor>) -> impl IntoResponse {
    let mut conn = match pool.get().await {
        Ok(conn) => conn,
        Err(error) => return (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    };
    let rows = match sqlx::query(DELEGATIONS_BY_GRANTOR)
        .bind(&q.grantor)
        .fetch_all(&mut *conn)
        .await
    {
        Ok(rows) => rows,
        Err(error) => return (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    };
    let mut body = String::from("{\"items\":[");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(row.get::<&str, _>("data"));
    }
    body.push_str("]}");
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if args.print_query {
        println!("{}", DELEGATIONS_BY_GRANTOR.trim());
        return Ok(());
    }
    let url = args.database_url.expect("required unless --print-query");
    // `?schema=` as the app reads it: the search path of every connection.
    let (base, schema) = match url.split_once("?schema=") {
        Some((base, schema)) => (base.to_owned(), Some(schema.to_owned())),
        None => (url.clone(), None),
    };
    let mut options: PgConnectOptions = base.parse()?;
    if let Some(schema) = schema {
        options = options.options([("search_path", schema)]);
    }
    let pool = Pool::builder(Connect(options))
        .max_size(args.connections as usize)
        .build()?;
    let app = Router::new()
        .route("/v1/delegations", get(list))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
