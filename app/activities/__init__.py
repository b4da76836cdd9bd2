"""Activities (docs/api.md §5, docs/architecture.md "Activities"): long-running operations as
streams of the log.

- `service`: the process's runner and the hub that wakes requests waiting for an end;
- `runner`: claims work under a lease, heartbeats, fences, ends each activity exactly once;
- `work_context`: what a running work sees (progress, safe points, the last step);
- `operations`: the works (folder and channel deletion, export, rebuild, events batch);
- `export`: the `channel.export` work;
- `retention`: finished activities kept `activity_retention_days`, keys 24 hours.

An activity's states, records and stream are app/domain/activities.py; its read model
app/read/activities.py; starting, recording and cancelling one app/commands/activities.py; the
HTTP side (`Prefer`, `Idempotency-Key`, `X-Activity`) app/http/activity_answers.py.
"""
