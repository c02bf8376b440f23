"""Persistence: the engine (SQLite in WAL mode by default, PostgreSQL by URL), tables and migrations."""
