-- Number the log when it is read, not under a lock at commit.
--
-- Until now a deferred trigger numbered each transaction's events at commit
-- under the one-row `log_head` lock, held until the commit was durable:
-- commits of events followed one another, each waiting for the WAL flush of
-- the one before, and group commit could not batch them. Now writers only
-- insert (`position` NULL, `inserted` from an identity); whoever reads the
-- log first calls `number_events()`, which numbers, under the same lock, the
-- rows that have committed and are not numbered yet. docs/STORES.md gives
-- the argument that no reader can skip an event.

DROP TRIGGER events_numbered_at_commit ON events;
DROP FUNCTION number_events_at_commit();

-- Insertion order. Within a stream it follows `sequence`: an event is
-- inserted after the one before it committed, or in the same transaction.
ALTER TABLE events ADD COLUMN inserted bigint GENERATED ALWAYS AS IDENTITY;

-- The rows waiting for a position: committed ones are numbered at the next
-- read, so this index stays small.
CREATE INDEX events_unnumbered ON events (inserted) WHERE position IS NULL;

-- Gives the committed, unnumbered events the positions after `log_head`, in
-- insertion order; returns how many. One numberer at a time (the row lock
-- on `log_head`); each statement below sees what had committed when it
-- started, so rows a slower transaction commits later get later positions.
CREATE FUNCTION number_events() RETURNS bigint
    LANGUAGE plpgsql
    SET search_path FROM CURRENT
AS $$
DECLARE
    numbered bigint;
BEGIN
    -- Idle readers poll: nothing to number, no lock.
    PERFORM 1 FROM events WHERE position IS NULL LIMIT 1;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    PERFORM 1 FROM log_head FOR UPDATE;
    WITH pending AS (
        SELECT aggregate_type, aggregate_id, sequence,
               row_number() OVER (ORDER BY inserted) AS n
          FROM events
         WHERE position IS NULL
    )
    UPDATE events e
       SET position = h.position + p.n
      FROM pending p, log_head h
     WHERE (e.aggregate_type, e.aggregate_id, e.sequence)
         = (p.aggregate_type, p.aggregate_id, p.sequence);
    GET DIAGNOSTICS numbered = ROW_COUNT;
    UPDATE log_head SET position = position + numbered;
    -- Losing this commit in a crash loses nothing: a reader that acts on
    -- these positions commits after it, and a later commit's flush carries
    -- every earlier WAL record; unflushed, the rows are numbered again.
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN numbered;
END
$$;
