"""Read models: one module per model, each with `apply` handlers registered by record type.

Projections depend only on the record (never on the clock or on request state), so replaying
the log into empty tables gives back exactly the live tables.
"""

from projections import (  # noqa: F401  (registers the handlers)
    accounts,
    activities,
    attachments,
    channels,
    events,
    feed,
    folders,
    tokens,
)
from projections.registry import apply, apply_many, tables

__all__ = ["apply", "apply_many", "tables"]
