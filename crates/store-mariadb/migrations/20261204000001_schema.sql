-- The whole schema of the MariaDB / MySQL store, in one migration: the event
-- log (the table mysql-es reads and writes, plus `position` and `inserted`),
-- the checkpoints, the read models, the outbox, the notices and the
-- documents. docs/STORES.md explains each table; this file says only what
-- MariaDB does its own way.
--
-- Keys and the columns the read side orders by are `utf8mb4_bin`: compared
-- and ordered byte by byte, as PostgreSQL's COLLATE "C" and SQLite do.

CREATE TABLE events
(
    aggregate_type VARCHAR(255) COLLATE utf8mb4_bin NOT NULL,
    aggregate_id   VARCHAR(255) COLLATE utf8mb4_bin NOT NULL,
    sequence       BIGINT       NOT NULL CHECK (sequence >= 0),
    event_type     TEXT         NOT NULL,
    event_version  TEXT         NOT NULL,
    payload        JSON         NOT NULL,
    metadata       JSON         NOT NULL,
    -- The place in the global log, given by `number_events()` once the row
    -- has committed; NULL until then.
    position       BIGINT       NULL UNIQUE CHECK (position > 0),
    -- Insertion order, which the numbering follows.
    inserted       BIGINT       NOT NULL AUTO_INCREMENT UNIQUE,
    -- Optimistic concurrency: a second writer of the same sequence gets a
    -- duplicate key (1062), reported as a conflict.
    PRIMARY KEY (aggregate_type, aggregate_id, sequence),
    KEY events_unnumbered (position, inserted),
    KEY events_of_type (aggregate_type, position)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The last position handed out; its one row is the numberers' lock.
CREATE TABLE log_head
(
    only_row TINYINT PRIMARY KEY CHECK (only_row = 1),
    position BIGINT  NOT NULL CHECK (position >= 0)
) ENGINE = InnoDB;
INSERT INTO log_head (only_row, position) VALUES (1, 0);

-- Gives the committed, unnumbered events the positions after `log_head`, in
-- insertion order. One numberer at a time (the row lock on `log_head`).
-- Under READ COMMITTED (every connection of the store runs in it) the
-- update numbers only rows whose insert has committed: a row a slower
-- transaction commits later gets a later position, at a later call, so a
-- reader that has read up to a position never finds an event below it.
CREATE PROCEDURE number_events()
MODIFIES SQL DATA
BEGIN
    DECLARE head BIGINT;
    IF EXISTS (SELECT 1 FROM events WHERE position IS NULL LIMIT 1) THEN
        START TRANSACTION;
        SELECT position INTO head FROM log_head WHERE only_row = 1 FOR UPDATE;
        SET @deleghe_next = head;
        UPDATE events SET position = (@deleghe_next := @deleghe_next + 1)
         WHERE position IS NULL
         ORDER BY inserted;
        UPDATE log_head SET position = @deleghe_next WHERE only_row = 1;
        COMMIT;
    END IF;
END;

CREATE TABLE checkpoints
(
    name     VARCHAR(191) COLLATE utf8mb4_bin PRIMARY KEY,
    position BIGINT NOT NULL CHECK (position >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE read_checkpoints
(
    name       VARCHAR(191) COLLATE utf8mb4_bin PRIMARY KEY,
    position   BIGINT NOT NULL CHECK (position >= 0),
    generation BIGINT NOT NULL DEFAULT 0
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE read_delegations
(
    id           VARCHAR(191) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    grantor      VARCHAR(191) COLLATE utf8mb4_bin NOT NULL,
    delegate     VARCHAR(191) COLLATE utf8mb4_bin NOT NULL,
    stage        VARCHAR(64)  COLLATE utf8mb4_bin NOT NULL,
    requested_at VARCHAR(64)  COLLATE utf8mb4_bin NOT NULL,
    data         LONGTEXT     NOT NULL,
    position     BIGINT       NOT NULL,
    KEY read_delegations_grantor (grantor, requested_at),
    KEY read_delegations_delegate (delegate, requested_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE read_bookings
(
    id            VARCHAR(191) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    booker        VARCHAR(191) COLLATE utf8mb4_bin NOT NULL,
    counter       VARCHAR(191) COLLATE utf8mb4_bin NOT NULL,
    office        VARCHAR(191) COLLATE utf8mb4_bin NOT NULL,
    mode          VARCHAR(64)  COLLATE utf8mb4_bin NOT NULL,
    slot_start    VARCHAR(64)  COLLATE utf8mb4_bin NOT NULL,
    slot_date     VARCHAR(16)  COLLATE utf8mb4_bin NOT NULL,
    stage         VARCHAR(64)  COLLATE utf8mb4_bin NOT NULL,
    meeting_state VARCHAR(64)  COLLATE utf8mb4_bin NOT NULL,
    data          LONGTEXT     NOT NULL,
    meeting       LONGTEXT     NOT NULL,
    position      BIGINT       NOT NULL,
    KEY read_bookings_booker (booker, slot_start),
    KEY read_bookings_office_day (office, slot_date, slot_start),
    KEY read_bookings_to_settle (stage, slot_start)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE read_slot_places
(
    slot_key   VARCHAR(191) COLLATE utf8mb4_bin NOT NULL,
    booking    VARCHAR(191) COLLATE utf8mb4_bin NOT NULL,
    counter    VARCHAR(191) COLLATE utf8mb4_bin NOT NULL,
    slot_start VARCHAR(64)  COLLATE utf8mb4_bin NOT NULL,
    held       BOOLEAN      NOT NULL,
    position   BIGINT       NOT NULL,
    PRIMARY KEY (slot_key, booking),
    KEY read_slot_places_counter (counter, slot_start)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE read_audit
(
    position       BIGINT PRIMARY KEY,
    grantor        VARCHAR(191) COLLATE utf8mb4_bin NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    aggregate_type TEXT NOT NULL,
    aggregate_id   TEXT NOT NULL,
    at             TEXT,
    channel        TEXT,
    correlation_id TEXT,
    KEY read_audit_grantor (grantor, position)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE read_document_refs
(
    sha256   VARCHAR(64) COLLATE utf8mb4_bin PRIMARY KEY,
    position BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE outbox
(
    `key`           VARCHAR(191) COLLATE utf8mb4_bin PRIMARY KEY,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    due_at          TEXT NOT NULL,
    status          VARCHAR(16) COLLATE utf8mb4_bin NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'withdrawn', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    claim           VARCHAR(191) COLLATE utf8mb4_bin,
    claimed_until   VARCHAR(64) COLLATE utf8mb4_bin,
    last_error      TEXT,
    sent_at         TEXT,
    position        BIGINT NOT NULL,
    KEY outbox_due (status, next_attempt_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE notices
(
    id        VARCHAR(191) COLLATE utf8mb4_bin PRIMARY KEY,
    citizen   VARCHAR(191) COLLATE utf8mb4_bin NOT NULL,
    title     TEXT    NOT NULL,
    body      TEXT    NOT NULL,
    posted_at VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    is_read   BOOLEAN NOT NULL DEFAULT FALSE,
    deleted   BOOLEAN NOT NULL DEFAULT FALSE,
    KEY notices_citizen (citizen, posted_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE documents
(
    sha256    VARCHAR(64) COLLATE utf8mb4_bin PRIMARY KEY,
    content   LONGBLOB NOT NULL,
    size      BIGINT   NOT NULL,
    stored_at VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    KEY documents_stored_at (stored_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
