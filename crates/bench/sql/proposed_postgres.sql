-- The events table as docs/PERFORMANCE.md proposes it for PostgreSQL: no
-- trigger at commit. Writers insert with `position` NULL; `inserted` keeps
-- the insertion order; readers number the committed, unnumbered rows in
-- batches before they read (the SQL is in docs/PERFORMANCE.md). Used only to
-- measure what writers would pay: (a'') and (b'') of the load tool.
CREATE TABLE events
(
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    payload        json                         NOT NULL,
    metadata       json                         NOT NULL,
    inserted       bigint GENERATED ALWAYS AS IDENTITY,
    position       bigint UNIQUE CHECK (position > 0),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
