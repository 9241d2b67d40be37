//! Every statement the adapters run on their own, beside those of sqlite-es
//! and postgres-es (which keep theirs) and the migrations (which create the
//! schema). One submodule per dialect; the statements mean the same in both.

/// Statements for SQLite (`?` placeholders).
pub mod sqlite {
    /// The log after a position, in commit order: `(after, limit)`. The
    /// columns in this order are what the reader takes them by.
    pub const READ_LOG: &str = "
SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM events
 WHERE position > ?
 ORDER BY position
 LIMIT ?";

    /// Every event of one aggregate type, in commit order: `(aggregate_type)`.
    pub const EVENTS_OF_TYPE: &str = "
SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM events
 WHERE aggregate_type = ?
 ORDER BY position";

    /// One stream, as sqlite-es reads it: `(aggregate_type, aggregate_id)`.
    pub const STREAM: &str = "
SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM events
 WHERE aggregate_type = ? AND aggregate_id = ?
 ORDER BY sequence";

    /// Appends `n` events, of one stream or several, in one statement (an implicit
    /// transaction: all or none), seven values per event: aggregate_type,
    /// aggregate_id, sequence, event_type, event_version, payload, metadata.
    /// The position is the rowid alias, handed out by SQLite in row order.
    pub fn append(n: usize) -> String {
        let row = "(?, ?, ?, ?, ?, ?, ?)";
        let mut sql = String::from(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata) VALUES ",
        );
        sql.push_str(&vec![row; n.max(1)].join(", "));
        sql
    }

    /// `(name)`.
    pub const CHECKPOINT: &str = "SELECT position FROM checkpoints WHERE name = ?";

    /// `(name, position)`.
    pub const SAVE_CHECKPOINT: &str = "
INSERT INTO checkpoints (name, position) VALUES (?, ?)
    ON CONFLICT (name) DO UPDATE SET position = excluded.position";
}

/// Statements for PostgreSQL (`$n` placeholders).
pub mod postgres {
    /// Numbers the events committed since the last call (see the migration
    /// `number_on_read`); run before [`READ_LOG`] and [`EVENTS_OF_TYPE`].
    /// Positions are handed out only to committed rows, one numberer at a
    /// time, above every position handed out before: no gap can fill in
    /// behind a reader.
    pub const NUMBER_EVENTS: &str = "SELECT number_events()";

    /// The log after a position, in the order it was numbered: `($1 after,
    /// $2 limit)`. Payload and metadata as text, decoded by the reader.
    pub const READ_LOG: &str = "
SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version,
       payload::text AS payload, metadata::text AS metadata
  FROM events
 WHERE position > $1
 ORDER BY position
 LIMIT $2";

    /// One stream, as postgres-es reads it (unnumbered events included):
    /// `($1 aggregate_type, $2 aggregate_id)`.
    pub const STREAM: &str = "
SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version,
       payload::text AS payload, metadata::text AS metadata
  FROM events
 WHERE aggregate_type = $1 AND aggregate_id = $2
 ORDER BY sequence";

    /// Every event of one aggregate type, in commit order: `($1 aggregate_type)`.
    pub const EVENTS_OF_TYPE: &str = "
SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM events
 WHERE aggregate_type = $1 AND position IS NOT NULL
 ORDER BY position";

    /// The append, with `$extra` joined to its rows (see [`APPEND_DEFERRED`]).
    macro_rules! append {
        ($extra:literal) => {
            concat!(
                "
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT e.aggregate_type, e.id, e.sequence, e.event_type, e.event_version, e.payload::json, e.metadata::json
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])
       WITH ORDINALITY AS e (aggregate_type, id, sequence, event_type, event_version, payload, metadata, n)",
                $extra,
                "
 ORDER BY e.n"
            )
        };
    }

    /// Appends a command's events in one statement (an implicit transaction:
    /// all or none), one round trip where postgres-es makes three (`BEGIN`,
    /// an `INSERT` per event, `COMMIT`): `($1 aggregate types, $2 ids,
    /// $3 sequences, $4 event types, $5 versions, $6 payloads, $7 metadata)`,
    /// arrays of equal length, each stream's in sequence order. The events
    /// may belong to several streams: a unique violation on any one of them
    /// stores none.
    pub const APPEND: &str = append!("");

    /// [`APPEND`], committed without waiting for the WAL flush: for a step of
    /// a flow that more steps follow, the last of which waits for it (a
    /// flush covers every WAL record before it).
    pub const APPEND_DEFERRED: &str = append!(
        ",
       (SELECT set_config('synchronous_commit', 'off', true)) AS deferred"
    );

    /// Waits until every commit before it is durable: a transactional WAL
    /// record of no meaning, whose commit is flushed (and with it everything
    /// written before). For a flow whose last commit was deferred.
    pub const FLUSH: &str = "SELECT pg_logical_emit_message(true, 'deleghe', '')";

    /// `($1 name)`.
    pub const CHECKPOINT: &str = "SELECT position FROM checkpoints WHERE name = $1";

    /// `($1 name, $2 position)`.
    pub const SAVE_CHECKPOINT: &str = "
INSERT INTO checkpoints (name, position) VALUES ($1, $2)
    ON CONFLICT (name) DO UPDATE SET position = excluded.position";

    /// Creates the schema named in a `?schema=` URL. `schema` must have passed
    /// [`super::super::valid_schema_name`]: identifiers cannot be bound.
    pub fn create_schema(schema: &str) -> String {
        format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")
    }
}
