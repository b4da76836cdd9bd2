-- Serves the period rules (app/events.py, `Neighbours`): the periods of a channel beginning
-- inside a span, and the latest one beginning before it, are two range scans of this index.
-- Marks and trashed events never take part in the rules, so they are left out of it.
CREATE INDEX events_periods ON events (user_id, channel_id, time)
    WHERE kind = 'period' AND NOT trashed;

-- Serves the event query (app/event_store.py `query_events`): the latest N events of a channel,
-- or a time range in order, with the id as the tie-break of equal times, straight from the
-- index (0004's `events_time` lacked the tie-break, which cost a sort step).
DROP INDEX events_time;
CREATE INDEX events_time ON events (user_id, channel_id, time DESC, event_id DESC);
