"""``/ws/worksets/``: every change of the tenant's worksets as it happens, for the list, detail and dashboard.

The socket joins one group, built from its own tenant's schema, so it can only ever hear that tenant.
Messages to the browser:

- ``{"type": "ready"}`` once the socket has joined its group: from then on nothing is missed (a page that
  reconnects catches up here).
- ``{"type": "workset.update", "workset": {...}}`` for every change (``jobs.live.payload``); the
  ``log_tail`` key only for the workset the socket follows.
- ``{"type": "following", "workset": {...}}`` in answer to ``{"type": "follow", "code": "..."}``: the
  workset as it is now; from then on its updates carry their log tail. ``{"type": "unfollow"}`` stops.
- ``{"type": "error", "error": {"code", "message"}}`` for a code not in this tenant or a message not known.
"""

from channels.db import database_sync_to_async
from django_tenants.utils import tenant_context

from jobs import live
from jobs.models import Workset
from portal.consumers import TopicConsumer


class WorksetsConsumer(TopicConsumer):
    topic = live.TOPIC
    following: str | None = None

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "follow":
            await self.follow(content.get("code"))
        elif kind == "unfollow":
            self.following = None
        else:
            await self.error("unknown_message", 'Send {"type": "follow", "code": "<workset code>"}.')

    async def follow(self, code) -> None:
        current = await self.current(code) if isinstance(code, str) else None
        if current is None:
            await self.error("not_found", "No such workset in this tenant.")
            return
        self.following = code
        await self.send_json({"type": "following", "workset": current})

    async def workset_update(self, event):
        """A change announced by ``jobs.live.announce``: log tails go only to the socket following it."""
        workset = dict(event["workset"])
        if workset.get("code") != self.following:
            workset.pop("log_tail", None)
        await self.send_json({"type": "workset.update", "workset": workset})

    async def error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "error": {"code": code, "message": message}})

    @database_sync_to_async
    def current(self, code: str) -> dict | None:
        with tenant_context(self.tenant):
            workset = Workset.objects.visible_to(self.membership).filter(code=code).first()
            return live.payload(workset) if workset else None
