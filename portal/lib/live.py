"""Live updates over the channel layer: one place builds group names, one sends after commit.

Group names always start with the tenant's schema, so a consumer that joins only groups built from its own
scope's tenant can never receive another tenant's messages.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction

log = logging.getLogger(__name__)


def group_name(schema: str, topic: str) -> str:
    """``<schema>.<topic>`` (channel-layer names allow letters, digits, ``-_.``)."""
    return f"{schema}.{topic}"


def send_after_commit(topic: str, message: dict, *, schema: str | None = None) -> None:
    """Send ``message`` to the current tenant's ``topic`` group once the transaction commits (at once
    outside one). A channel layer that is down loses the live update, never the write."""
    group = group_name(schema or connection.schema_name, topic)

    def send() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(group, message)
        except Exception:  # noqa: BLE001 - live updates are best effort; the page reloads correctly
            log.warning("live update to %s was not sent", group, exc_info=True)

    transaction.on_commit(send)
