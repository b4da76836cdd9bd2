-- Serves the lower time bound of a time-range event query (app/event_store.py `query_events`).
--
-- Measured on 1,000,000 events in one channel (notes: issue3-explain.txt): a `fromTime`/`toTime`
-- query over one day 200 days back took 1.6 s. An event meets the range when `time <= toTime`
-- and its end `>= fromTime`; only the first is a range of `events_time`, so the scan walked
-- from `toTime` down to the channel's first event, filtering every row on its end (the LIMIT
-- never stops it: fewer rows match than the limit). The query now also says
-- `time >= least(fromTime - longest period's duration, earliest running period's start)`, a
-- bound every matching event meets (a mark ends at its time, a finished period at time +
-- duration, a running one is taken from its start), which makes the scan a closed range (1 ms).
-- This index answers "the longest period's duration" with one step of a backward scan; the
-- earliest running start comes from `events_running` (0004).
CREATE INDEX events_period_duration ON events (user_id, channel_id, duration)
    WHERE kind = 'period';
