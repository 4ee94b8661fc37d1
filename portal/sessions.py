"""Django's database sessions (``SESSION_ENGINE``), except when PostgreSQL stops answering while a session
is saved at the end of a request: Django reports that as ``UpdateError`` ("the session was deleted
meanwhile"), which its middleware answers with 400 Bad Request. Here the database's own error is raised
instead, so the request answers 503 like every other request during the outage (``portal.outage``); a
session really deleted meanwhile is still an ``UpdateError``."""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import UpdateError


class SessionStore(db.SessionStore):
    def save(self, must_create=False):
        from portal.outage import database_unreachable  # it imports DRF, which needs the settings

        try:
            return super().save(must_create=must_create)
        except UpdateError as error:
            if error.__context__ is not None and database_unreachable(error.__context__):
                raise error.__context__ from None
            raise
