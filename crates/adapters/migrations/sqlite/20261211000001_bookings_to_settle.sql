-- B8: the confirmed bookings whose slot has started, which the timer marks
-- missed `missed_after_minutes` after their slot ends unserved.
CREATE INDEX read_bookings_to_settle ON read_bookings (stage, slot_start);
