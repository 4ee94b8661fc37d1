"""kombu's filesystem transport with atomic writes: the single-machine broker (no REDIS_URL).

kombu writes a message file in place while holding an advisory lock, but its reader moves files
with ``rename``, which ignores such locks: a worker polling at the wrong moment takes an empty
file and dies on ``JSONDecodeError``. Here a message is written under a name the reader skips and
renamed into the queue folder only when complete (``os.replace`` is atomic on one filesystem).

Binding a queue has the same flaw: kombu creates an exchange's table file empty and only then locks it, so
a second process binding at that moment (four ``runyard dispatch`` starting at once) reads "" and dies on
``JSONDecodeError``. Here the empty table is put in place whole first.
"""

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

PARTIAL_PREFIX = ".partial-"  # kombu reads only files named "<stamp>_<uuid>.<queue>.msg"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, PARTIAL_PREFIX + name)
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _restore(self, message):
        """Put back a message whose worker died, marked redelivered where Celery reads it (its
        ``delivery_info``, as the Redis transport does; kombu marks only the payload): a task then
        takes over the row its first delivery claimed (``analysis.tasks``)."""
        message.properties.setdefault("delivery_info", {})["redelivered"] = True
        super()._restore(message)

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        table = self._exchange_file(exchange)
        if not table.exists():
            self.control_folder.mkdir(exist_ok=True)
            partial = table.with_name(f"{PARTIAL_PREFIX}{uuid.uuid4()}-{table.name}")
            partial.write_text("[]")
            try:
                os.link(partial, table)  # atomic; fails if another process put its table first, which stays
            except FileExistsError:
                pass
            finally:
                partial.unlink()
        super()._queue_bind(exchange, routing_key, pattern, queue)  # reads, locks and extends the table


class Transport(filesystem.Transport):
    Channel = Channel
