-- M6: documents that no event refers to are removed by a sweep, once older
-- than a grace period (docs/READ-MODELS.md, "Documents").
--
-- `documents.stored_at`: when the document was last stored (`put` again of
-- the same content moves it on), RFC 3339 UTC text with microseconds like
-- every instant here. The documents already stored get this migration's
-- instant: none of them is removed before a whole grace period from now.
ALTER TABLE documents ADD COLUMN stored_at text COLLATE "C";
UPDATE documents
   SET stored_at = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
ALTER TABLE documents ALTER COLUMN stored_at SET NOT NULL;
CREATE INDEX documents_stored_at ON documents (stored_at);

-- The documents the events refer to, by SHA-256: a read model, written by
-- the projector from the events that carry a document's digest (a meeting's
-- `DocumentAttached`), emptied and refilled by a rebuild. `position` is the
-- log position of the first such event (0 if it had none yet).
CREATE TABLE read_document_refs
(
    sha256   text COLLATE "C" PRIMARY KEY,
    position bigint NOT NULL
);

-- The events already projected refer to documents too: their digests are
-- read from the log here (payload `{"DocumentAttached": {"document":
-- {"sha256": ...}}}`, version 1.0, the only one there has been). Events
-- stored after the checkpoint are the projector's, as usual.
INSERT INTO read_document_refs (sha256, position)
SELECT payload -> 'DocumentAttached' -> 'document' ->> 'sha256', coalesce(min(position), 0)
  FROM events
 WHERE aggregate_type = 'meeting' AND event_type = 'DocumentAttached'
   AND payload -> 'DocumentAttached' -> 'document' ->> 'sha256' IS NOT NULL
 GROUP BY 1;
