"""The Redis channel layer, with its blocking pop shorter than redis-py's read timeout.

channels_redis waits for a message with ``BZPOPMIN … 5`` while redis-py 8 gives up reading a reply after 5 s
by default: whichever comes first decides, so an idle socket's receive now and then ended in ``TimeoutError``
and daphne closed the websocket (channels_redis#422). Popping for 2 s leaves the reply 3 s to arrive; an idle
receive simply asks again, as channels_redis does after every empty pop.

That loop ("pop again while nothing came") must still end when its task is cancelled (a socket closing): a
cancellation that arrives while redis-py is busy can be absorbed below us, and the loop would go on popping
for ever, so an empty pop of a task being cancelled raises ``CancelledError`` itself.
"""

import asyncio

from channels_redis.core import RedisChannelLayer as Base


class RedisChannelLayer(Base):
    brpop_timeout = 2

    async def _brpop_with_clean(self, index, channel, timeout):
        member = await super()._brpop_with_clean(index, channel, timeout)
        task = asyncio.current_task()
        if member is None and task is not None and task.cancelling():
            raise asyncio.CancelledError
        return member
