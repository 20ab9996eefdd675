"""The warehouse: PostgreSQL connection and embedded server, migrations, COPY loaders, the pull ledger,
the landing store of report documents and the Postgres-backed rate limiter (see docs/architecture.md)."""
