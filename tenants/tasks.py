from django.db import connection

from portal.celery import app


@app.task(name="tenants.ping_task", acks_late=True)
def ping_task() -> dict:
    """Proves the worker path: returns (and the result backend records) the schema it ran in."""
    return {"schema": connection.schema_name}
