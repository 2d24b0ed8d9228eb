"""The spend history: the system of record beside Redis (docs/history.md).

`emit` and `events` (the stream's format) need nothing beyond Redis, so the worker uses them
without the `history` extra; the rest (schema, migrations, archiver, reports, forget) need
SQLAlchemy and are imported only by the processes that open the database.
"""
