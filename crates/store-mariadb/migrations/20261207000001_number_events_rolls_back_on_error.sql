-- `number_events()` again, with a handler: a statement of it that fails
-- without InnoDB rolling the transaction back (a lock wait timed out, 1205)
-- left the transaction it opened open on the connection, holding what it
-- had locked, and the pool lent the connection again; appends made on it
-- after would have stayed uncommitted. Now it rolls back and reports the
-- error. Otherwise as in 20261204000001_schema.sql.
DROP PROCEDURE IF EXISTS number_events;

CREATE PROCEDURE number_events()
MODIFIES SQL DATA
BEGIN
    DECLARE head BIGINT;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        ROLLBACK;
        RESIGNAL;
    END;
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
