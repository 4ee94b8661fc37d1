"""``/ws/profiles/``: every change of the tenant's profiles (parse state and progress) as it happens.

Messages to the browser: ``{"type": "ready"}`` once joined, then ``{"type": "profile.update",
"profile": {code, state, progress, error, …}}`` (``analysis.live.payload``). The group is built from the
socket's own tenant, so it only ever hears that tenant's profiles.
"""

from analysis import live
from portal.consumers import TopicConsumer


class ProfilesConsumer(TopicConsumer):
    topic = live.TOPIC

    async def profile_update(self, event):
        await self.send_json({"type": "profile.update", "profile": event["profile"]})
