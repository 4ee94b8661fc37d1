"""Base consumer for tenant websockets, and ``/ws/ping/`` which proves tenant and session resolution."""

import structlog
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django_tenants.utils import tenant_context
from structlog.contextvars import bind_contextvars

from portal.lib.live import group_name
from portal.logs import accepted_request_id
from tenants.access import is_public
from tenants.models import Membership

log = structlog.get_logger(__name__)
CLOSE_NOT_FOUND = 4404  # the websocket twin of HTTP 404: no such tenant, or not a member


class TenantConsumer(AsyncJsonWebsocketConsumer):
    """Accepts members of the Host's tenant only; sets ``self.tenant`` and ``self.membership``.

    Database calls run on a worker thread where the schema set here does not apply: every
    database function of a subclass enters ``tenant_context(self.tenant)`` itself.
    """

    async def connect(self):
        # this consumer's task handles every message of the connection: its log lines carry one id
        headers = dict(self.scope.get("headers") or ())
        self.request_id = accepted_request_id(headers.get(b"x-request-id", b"").decode("latin-1"))
        bind_contextvars(request_id=self.request_id, websocket=self.scope.get("path", ""))
        self.tenant = self.scope.get("tenant")
        user = self.scope.get("user")
        if is_public(self.tenant) or user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.membership = await self._membership(user)
        if self.membership is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.accept()
        log.info("websocket accepted", tenant=self.tenant.schema_name, role=self.membership.role)
        await self.on_accepted()

    async def on_accepted(self):
        """Hook for subclasses: join groups, send the initial state."""

    async def websocket_disconnect(self, message):
        log.info("websocket closed", code=message.get("code"))
        await super().websocket_disconnect(message)

    @database_sync_to_async
    def _membership(self, user):
        with tenant_context(self.tenant):
            return Membership.objects.filter(user=user, tenant=self.tenant).first()


class TopicConsumer(TenantConsumer):
    """Joins the tenant's group for ``topic`` (``portal.lib.live``), says ``{"type": "ready"}`` once
    joined (from then on nothing is missed), and leaves the group on disconnect."""

    topic: str = ""
    group: str | None = None

    async def on_accepted(self):
        self.group = group_name(self.tenant.schema_name, self.topic)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json({"type": "ready"})

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)


class PingConsumer(TenantConsumer):
    async def on_accepted(self):
        await self.send_json(self.identity())

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({**self.identity(), "type": "pong"})
        else:
            await self.send_json({"type": "error", "message": 'Send {"type": "ping"}.'})

    def identity(self) -> dict:
        return {
            "type": "hello",
            "tenant": self.tenant.slug,
            "user": self.scope["user"].email,
            "role": self.membership.role,
        }
