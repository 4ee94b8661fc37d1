"""HTTP and websockets in one ASGI app, served by daphne."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - needs the app registry loaded above
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from portal.lib.origin import WebsocketOriginMiddleware  # noqa: E402
from portal.routing import websocket_urlpatterns  # noqa: E402
from portal.websocket import TenantHostMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            WebsocketOriginMiddleware(
                TenantHostMiddleware(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
            )
        ),
    }
)
