-- Side effects: the outbox of notifications (N1-N6), the calendar notices
-- they deliver (N3), and the documents of web meetings (M6).
-- See docs/READ-MODELS.md.

-- One row per idempotency key (N6), written by the projector in the same
-- transaction as the read models, so exactly once per event. The dispatcher
-- claims due rows for a lease, sends them, and marks them sent.
CREATE TABLE outbox
(
    key             text    PRIMARY KEY,
    -- sms | calendar | io
    channel         text    NOT NULL,
    -- a phone number (sms) or a fiscal code (calendar, io)
    recipient       text    NOT NULL,
    title           text    NOT NULL,
    body            text    NOT NULL,
    due_at          text    NOT NULL,
    -- pending | sent | withdrawn | failed
    status          text    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'withdrawn', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at text    NOT NULL,
    -- A dispatcher's claim: who, and until when (a crashed one's claim lapses).
    claim           text,
    claimed_until   text,
    last_error      text,
    sent_at         text,
    -- The log position of the event that scheduled it.
    position        integer NOT NULL
) STRICT;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- N3: the notices of the citizen's personal area ("scadenze"), written by
-- the calendar gateway when the outbox delivers them. The citizen's marks
-- (read, deleted) live here, so a rebuild of the read models leaves the
-- table alone.
CREATE TABLE notices
(
    id        text    PRIMARY KEY,
    citizen   text    NOT NULL,
    title     text    NOT NULL,
    body      text    NOT NULL,
    posted_at text    NOT NULL,
    is_read   integer NOT NULL DEFAULT 0 CHECK (is_read IN (0, 1)),
    deleted   integer NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
) STRICT;
CREATE INDEX notices_citizen ON notices (citizen, posted_at);

-- M6: documents by content (SHA-256, lowercase hex), never inside events.
CREATE TABLE documents
(
    sha256  text    PRIMARY KEY,
    content blob    NOT NULL,
    size    integer NOT NULL
) STRICT;
