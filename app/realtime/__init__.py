"""Realtime push (docs/api.md §7): one fan-out per process following the log (`service`), served
over Server-Sent Events (`GET /stream`) and WebSocket (`GET /ws`) (`routes`)."""
