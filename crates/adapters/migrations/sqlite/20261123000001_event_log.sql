-- The event log of every aggregate, and the checkpoints of its readers.
-- See docs/STORES.md for why each column is there.

-- The table sqlite-es reads and writes (same columns as its migration), plus
-- `position`: the event's place in the global log, in commit order.
CREATE TABLE events
(
    aggregate_type text                          NOT NULL,
    aggregate_id   text                          NOT NULL,
    sequence       integer CHECK (sequence >= 0) NOT NULL,
    event_type     text                          NOT NULL,
    event_version  text                          NOT NULL,
    payload        text                          NOT NULL,
    metadata       text                          NOT NULL,
    -- Set by `events_numbered` right after the insert, in the same statement.
    -- Not the implicit rowid: VACUUM may renumber the rowids of a table
    -- without an INTEGER PRIMARY KEY, and readers keep positions for ever.
    position       integer CHECK (position > 0),
    -- Optimistic concurrency: a second writer of the same sequence gets a
    -- primary-key violation (extended code 1555), which sqlite-es reports as
    -- a conflict.
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
) STRICT;

CREATE UNIQUE INDEX events_position ON events (position);

-- SQLite lets one writer at a time hold the database from its first write to
-- its commit, so numbering at insert time is numbering in commit order.
CREATE TRIGGER events_numbered
    AFTER INSERT ON events
    FOR EACH ROW WHEN NEW.position IS NULL
BEGIN
    UPDATE events
       SET position = (SELECT coalesce(max(position), 0) + 1 FROM events)
     WHERE rowid = NEW.rowid;
END;

-- How far each named reader of the log (runner, projector, dispatcher) got.
CREATE TABLE checkpoints
(
    name     text    PRIMARY KEY,
    position integer NOT NULL CHECK (position >= 0)
) STRICT;
