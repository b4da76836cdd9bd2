"""The log, transactions, the database pool and migrations, the file store."""
