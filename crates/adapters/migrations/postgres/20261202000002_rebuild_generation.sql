-- How many rebuilds the read models of a checkpoint have been through. A
-- rebuild rewrites the rows and leaves the position where it was; a
-- projector that carries rows from one batch to the next (the pipelined
-- catch-up) checks the generation with the position before each batch, and
-- starts again from the stored rows when another process rebuilt them.
ALTER TABLE read_checkpoints ADD COLUMN generation bigint NOT NULL DEFAULT 0;
