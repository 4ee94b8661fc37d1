from django.urls import path

from analysis.consumers import CostsConsumer, ProfilesConsumer
from chat import routing as chat_routing
from jobs.consumers import WorksetsConsumer
from portal.consumers import PingConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
    path("ws/worksets/", WorksetsConsumer.as_asgi()),
    path("ws/profiles/", ProfilesConsumer.as_asgi()),
    path("ws/costs/", CostsConsumer.as_asgi()),
    *chat_routing.websocket_urlpatterns,
]
