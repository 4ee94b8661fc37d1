"""``/ws/profiles/``: every change of the tenant's profiles (parse state and progress) as it happens.

Messages to the browser: ``{"type": "ready"}`` once joined, then ``{"type": "profile.update",
"profile": {code, state, progress, error, …}}`` (``analysis.live.payload``). The group is built from the
socket's own tenant, so it only ever hears that tenant's profiles.
"""

from analysis import cost_live, live
from portal.consumers import TopicConsumer


class ProfilesConsumer(TopicConsumer):
    topic = live.TOPIC

    async def profile_update(self, event):
        await self.send_json({"type": "profile.update", "profile": event["profile"]})


class CostsConsumer(TopicConsumer):
    """``/ws/costs/``: ``ingest.update`` (``analysis.cost_live.payload``) and ``costs.changed`` messages."""

    topic = cost_live.TOPIC

    async def ingest_update(self, event):
        await self.send_json({"type": "ingest.update", "ingest": event["ingest"]})

    async def costs_changed(self, event):
        await self.send_json({"type": "costs.changed", "start": event["start"], "end": event["end"]})
