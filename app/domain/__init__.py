"""Items and pure decisions: no I/O, no asyncpg, no Starlette."""
