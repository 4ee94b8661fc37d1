"""Websocket helpers for tests of live pages: a communicator on a tenant's host, opened and joined."""

from channels.testing import WebsocketCommunicator

from portal.asgi import application


def live_socket(path: str, tenant_slug: str, cookie: str | None) -> WebsocketCommunicator:
    host = f"{tenant_slug}.localhost".encode()
    headers = [(b"host", host), (b"origin", b"http://" + host)]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def open_live_socket(path: str, tenant_slug: str, cookie: str) -> WebsocketCommunicator:
    """Connected and joined: the consumer's ``ready`` has arrived, so nothing sent later is missed."""
    communicator = live_socket(path, tenant_slug, cookie)
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from() == {"type": "ready"}
    return communicator
