"""The attacks of the security issue, kept as tests: one module per area (activity visibility,
sessions, login throttling, bad input, logs and files), each test named for its finding."""
