//! Every statement the adapters run on their own, beside those of sqlite-es
//! and postgres-es (which keep theirs) and the migrations (which create the
//! schema). One submodule per dialect; the statements mean the same in both.

/// Statements for SQLite (`?` placeholders).
pub mod sqlite {
    /// The log after a position, in commit order: `(after, limit)`.
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
    /// $2 limit)`.
    pub const READ_LOG: &str = "
SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM events
 WHERE position > $1
 ORDER BY position
 LIMIT $2";

    /// Every event of one aggregate type, in commit order: `($1 aggregate_type)`.
    pub const EVENTS_OF_TYPE: &str = "
SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM events
 WHERE aggregate_type = $1 AND position IS NOT NULL
 ORDER BY position";

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
