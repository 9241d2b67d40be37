-- ADR 0014: a commit that appends to the log wakes the projectors of every
-- process listening on channel `deleghe_log` (`LISTEN`), instead of their
-- next poll. One notification per appending transaction (PostgreSQL folds
-- duplicates), sent at its commit; the payload names the schema, so that a
-- listener may ignore the logs of other schemas of the same database.
CREATE OR REPLACE FUNCTION notify_append() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('deleghe_log', current_schema());
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify_append
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION notify_append();
