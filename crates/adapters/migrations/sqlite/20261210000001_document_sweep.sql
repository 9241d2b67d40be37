-- M6: documents that no event refers to are removed by a sweep, once older
-- than a grace period (docs/READ-MODELS.md, "Documents").
--
-- `documents.stored_at`: when the document was last stored (`put` again of
-- the same content moves it on), RFC 3339 UTC text with microseconds like
-- every instant here. The documents already stored get this migration's
-- instant: none of them is removed before a whole grace period from now.
ALTER TABLE documents ADD COLUMN stored_at text;
UPDATE documents SET stored_at = strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z';
CREATE INDEX documents_stored_at ON documents (stored_at);

-- The documents the events refer to, by SHA-256: a read model, written by
-- the projector from the events that carry a document's digest (a meeting's
-- `DocumentAttached`), emptied and refilled by a rebuild. `position` is the
-- log position of the first such event.
CREATE TABLE read_document_refs
(
    sha256   text    PRIMARY KEY,
    position integer NOT NULL
) STRICT;

-- The events already projected refer to documents too: their digests are
-- read from the log here (payload `{"DocumentAttached": {"document":
-- {"sha256": ...}}}`, version 1.0, the only one there has been). Events
-- stored after the checkpoint are the projector's, as usual.
INSERT INTO read_document_refs (sha256, position)
SELECT json_extract(payload, '$.DocumentAttached.document.sha256'), min(position)
  FROM events
 WHERE aggregate_type = 'meeting' AND event_type = 'DocumentAttached'
   AND json_extract(payload, '$.DocumentAttached.document.sha256') IS NOT NULL
 GROUP BY 1;
