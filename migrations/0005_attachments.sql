-- Attachments: the files of events live in a content-addressed store on disk (app/files.py),
-- named by their SHA-256; `events.attachments` (0004) says which event holds which file. A blob
-- may be shared by several events (same content), so it is removed only once no event refers to
-- it any more. This migration gives the garbage collector (app/file_gc.py) what it needs.

-- Serves the collector's question "does any event still refer to this blob?" without scanning
-- every event: only events that hold files are indexed (the partial predicate), by the hashes
-- of their files. The collector's query repeats the expression and the predicate exactly.
CREATE INDEX events_attachment_hashes ON events
    USING gin (jsonb_path_query_array(attachments, '$.*.sha256'))
    WHERE attachments <> '{}'::jsonb;

-- Blobs that may have lost their last reference. Not a read model (rebuild leaves it alone): a
-- work list of the file store, drained by the collector after the commits that filled it.
--   * Rows with not_before = 0 come from the trigger below, in the same transaction as the
--     change that dropped the reference (so a rolled back change queues nothing).
--   * Rows with a later not_before are an upload's intent, written before the blob is put in
--     place: if the process dies before its transaction commits, the collector still finds the
--     blob once the lease has passed. The upload deletes its own rows when it is done.
CREATE TABLE file_gc_queue (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sha256      text NOT NULL,
    not_before  double precision NOT NULL DEFAULT 0   -- seconds since the epoch
);
-- Serves the collector's scan for due rows.
CREATE INDEX file_gc_queue_due ON file_gc_queue (not_before);

-- Whatever projection removes an event row or changes its files (event, folder or channel
-- deleted for good, attachment removed), the hashes it let go of are queued here, atomically
-- with that change. A trigger rather than code in each projection: it cannot be forgotten by a
-- new way of deleting events, and it costs nothing for events without files (WHEN clause).
CREATE FUNCTION queue_released_event_files() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO file_gc_queue (sha256)
        SELECT DISTINCT a.value ->> 'sha256' FROM jsonb_each(OLD.attachments) a
        WHERE a.value ->> 'sha256' IS NOT NULL;
    ELSE
        INSERT INTO file_gc_queue (sha256)
        SELECT DISTINCT a.value ->> 'sha256' FROM jsonb_each(OLD.attachments) a
        WHERE a.value ->> 'sha256' IS NOT NULL
          AND NOT jsonb_path_query_array(NEW.attachments, '$.*.sha256')
                  @> jsonb_build_array(a.value -> 'sha256');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_release_files_on_delete AFTER DELETE ON events
    FOR EACH ROW WHEN (OLD.attachments <> '{}'::jsonb)
    EXECUTE FUNCTION queue_released_event_files();

CREATE TRIGGER events_release_files_on_update AFTER UPDATE ON events
    FOR EACH ROW WHEN (OLD.attachments <> '{}'::jsonb AND OLD.attachments IS DISTINCT FROM NEW.attachments)
    EXECUTE FUNCTION queue_released_event_files();
