"""The activity server: an event log in PostgreSQL with projections as read models."""
