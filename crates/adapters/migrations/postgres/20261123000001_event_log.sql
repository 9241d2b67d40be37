-- The event log of every aggregate, and the checkpoints of its readers.
-- See docs/STORES.md for why each column is there.

-- The table postgres-es reads and writes (same columns as its db/init.sql),
-- plus `position`: the event's place in the global log, in commit order.
CREATE TABLE events
(
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    payload        json                         NOT NULL,
    metadata       json                         NOT NULL,
    -- NULL only while the writing transaction is in flight (and so invisible
    -- to every other session): numbered by `number_events_at_commit`.
    position       bigint                       UNIQUE CHECK (position > 0),
    -- Optimistic concurrency: a second writer of the same sequence gets a
    -- unique violation (23505), which postgres-es reports as a conflict.
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

-- The last position handed out. Its single row is the log's commit lock:
-- a committing transaction holds it from numbering its events until its
-- commit is visible, so positions are handed out in commit order.
CREATE TABLE log_head
(
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    position bigint  NOT NULL CHECK (position >= 0)
);
INSERT INTO log_head (position) VALUES (0);

CREATE FUNCTION number_events_at_commit() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path FROM CURRENT
AS $$
DECLARE
    next_position bigint;
BEGIN
    UPDATE log_head SET position = position + 1 RETURNING position INTO next_position;
    UPDATE events SET position = next_position
     WHERE aggregate_type = NEW.aggregate_type
       AND aggregate_id = NEW.aggregate_id
       AND sequence = NEW.sequence;
    RETURN NULL;
END
$$;

-- Deferred: runs for each inserted event when its transaction commits, in
-- insertion order, after every other statement of the transaction.
CREATE CONSTRAINT TRIGGER events_numbered_at_commit
    AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION number_events_at_commit();

-- How far each named reader of the log (runner, projector, dispatcher) got.
CREATE TABLE checkpoints
(
    name     text   PRIMARY KEY,
    position bigint NOT NULL CHECK (position >= 0)
);
