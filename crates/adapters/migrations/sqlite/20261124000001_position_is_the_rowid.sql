-- `position` becomes the table's INTEGER PRIMARY KEY, an alias of the rowid.
--
-- Until now the trigger `events_numbered` rewrote every event right after
-- its insert (`position = max(position) + 1`): two writes of the row and of
-- an index per event. SQLite hands out a rowid alias itself as max + 1 on
-- insert (events are never deleted, so no number comes back), one writer at
-- a time, so positions still follow commit order; and VACUUM never
-- renumbers an explicit INTEGER PRIMARY KEY. The stream key stays unique:
-- its violation (extended code 2067) is the optimistic concurrency, mapped
-- to a conflict in `Repository::persist`.

DROP TRIGGER events_numbered;

CREATE TABLE events_by_position
(
    position       integer PRIMARY KEY,
    aggregate_type text                          NOT NULL,
    aggregate_id   text                          NOT NULL,
    sequence       integer CHECK (sequence >= 0) NOT NULL,
    event_type     text                          NOT NULL,
    event_version  text                          NOT NULL,
    payload        text                          NOT NULL,
    metadata       text                          NOT NULL,
    UNIQUE (aggregate_type, aggregate_id, sequence)
) STRICT;

INSERT INTO events_by_position
       (position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM events
 ORDER BY position;

DROP TABLE events;
ALTER TABLE events_by_position RENAME TO events;
