"""The server-error handler (``handler500``): a request that failed because PostgreSQL does not answer is a
503 with ``Retry-After`` (a restart or failover in progress, try again), every other failure stays a 500.

Under daphne the handler often runs on another thread than the request, where ``sys.exc_info()`` is empty,
so when the exception is not at hand (or is a database error that does not say why) the handler asks the
database itself with a fresh connection (closed at once; it fails within ``connect_timeout``). Only failed
requests pay for that probe.
"""

import logging
import sys

from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from portal.rest import error_body, json_500

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
MESSAGE = "The database is not answering right now (a restart or failover); try again in a few seconds."


def server_error(request):
    if not database_unreachable(sys.exc_info()[1]):
        return json_500(request)
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body("unavailable", MESSAGE), status=503)
    else:
        # no context processors: they would ask the database for the user and the tenant
        page = render_to_string("portal/unavailable.html", {"message": MESSAGE, "wait": RETRY_AFTER_SECONDS})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def database_unreachable(error: BaseException | None) -> bool:
    """True when ``error`` (or what it was raised from) is a failure to reach PostgreSQL, or when it is
    another or an unknown database error (a backend may wrap a lost connection in a plain DatabaseError)
    and PostgreSQL does not take a fresh connection now."""
    link, seen = error, set()
    while link is not None and id(link) not in seen:
        if isinstance(link, OperationalError | InterfaceError):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    if error is not None and not isinstance(error, DatabaseError):
        return False
    probe = connections.create_connection("default")
    try:
        probe.ensure_connection()
    except DatabaseError:
        return True
    finally:
        probe.close()
    return False
