"""What every entry point served over HTTP shares (REST, SSE and WebSocket, the compat
dialects): the caller's credential, JSON bodies and answers."""
