-- The read models, projected from the event log by the projector
-- (crates/adapters/src/projection). See docs/READ-MODELS.md.
--
-- Every row keeps `position`: the log position of the last event applied to
-- it. The projector applies an event to a row only if the row's position is
-- lower, so replaying an event changes nothing (STYLE 9). Instants are text,
-- RFC 3339 in UTC with microseconds ("2026-12-01T08:00:00.000000Z"): one
-- fixed width, so they sort and compare as text. `data` holds the domain's
-- own value (a delegation, a booking) as JSON; the other columns are what
-- the queries filter and sort on.

-- How far the projector got. Saved in the same transaction as the rows it
-- covers, so rows and checkpoint never disagree.
CREATE TABLE read_checkpoints
(
    name     text    PRIMARY KEY,
    position integer NOT NULL CHECK (position >= 0)
) STRICT;

-- Delegations by grantor and by delegate (D1-D8). Status and the first day
-- of online revocation are computed when read, from the stage, the dates,
-- the clock (D7 expiry) and the policy (D8).
CREATE TABLE read_delegations
(
    id           text    PRIMARY KEY,
    grantor      text    NOT NULL,
    delegate     text    NOT NULL,
    stage        text    NOT NULL,
    requested_at text    NOT NULL,
    data         text    NOT NULL,
    position     integer NOT NULL
) STRICT;
CREATE INDEX read_delegations_grantor ON read_delegations (grantor, requested_at);
CREATE INDEX read_delegations_delegate ON read_delegations (delegate, requested_at);

-- Bookings (B7 "Le mie prenotazioni", the operator's list by office and
-- day) and the state of their web meeting (M9 waiting room).
CREATE TABLE read_bookings
(
    id            text    PRIMARY KEY,
    booker        text    NOT NULL,
    counter       text    NOT NULL,
    office        text    NOT NULL,
    mode          text    NOT NULL,
    slot_start    text    NOT NULL,
    -- The slot's local (Europe/Rome) date, YYYY-MM-DD.
    slot_date     text    NOT NULL,
    stage         text    NOT NULL,
    meeting_state text    NOT NULL,
    data          text    NOT NULL,
    meeting       text    NOT NULL,
    position      integer NOT NULL
) STRICT;
CREATE INDEX read_bookings_booker ON read_bookings (booker, slot_start);
CREATE INDEX read_bookings_office_day ON read_bookings (office, slot_date, slot_start);

-- B4: the places held in each slot, as the slot ledger holds them (a place
-- is held from PlaceReserved to PlaceReleased).
CREATE TABLE read_slot_places
(
    slot_key   text    NOT NULL,
    booking    text    NOT NULL,
    counter    text    NOT NULL,
    slot_start text    NOT NULL,
    held       integer NOT NULL CHECK (held IN (0, 1)),
    position   integer NOT NULL,
    PRIMARY KEY (slot_key, booking)
) STRICT;
CREATE INDEX read_slot_places_counter ON read_slot_places (counter, slot_start);

-- D9: every event stored on behalf of a grantor, one row per log position.
CREATE TABLE read_audit
(
    position       integer PRIMARY KEY,
    grantor        text    NOT NULL,
    actor          text    NOT NULL,
    action         text    NOT NULL,
    aggregate_type text    NOT NULL,
    aggregate_id   text    NOT NULL,
    at             text,
    channel        text,
    correlation_id text
) STRICT;
CREATE INDEX read_audit_grantor ON read_audit (grantor, position);
