"""``FRAMEFLEET_BROKER_URL`` → a Dramatiq broker, with framefleet's middleware.

One code path for all three: ``memory://`` (Dramatiq's stub broker, consumed by an in-process worker),
``redis://`` and ``amqp://``. The Redis broker is tuned so a job held by a worker that died (SIGKILL,
OOM, node loss) is handed to another worker within about a minute, where Dramatiq's defaults can take
far longer: a short heartbeat time-out, frequent queue maintenance, and a heartbeat thread that keeps
a busy worker alive while a long render holds its only prefetched message.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware

from framefleet.errors import BadInput

log = logging.getLogger(__name__)

QUEUES = ("render", "render_gpu", "generate", "webhooks")
#: A Redis worker silent this long (ms) is dead; its unacknowledged messages go back on the queue.
HEARTBEAT_TIMEOUT_MS = 15_000
#: Per million broker commands, how many also run queue maintenance (requeueing dead workers' messages).
MAINTENANCE_CHANCE = 100_000
HEARTBEAT_INTERVAL = 3.0


class RedisHeartbeat(Middleware):
    """Keeps a worker's Redis heartbeat fresh while every consumer is busy.

    Dramatiq's Redis consumers only touch Redis when they fetch; with one prefetched message per render
    thread, a worker rendering for longer than the heartbeat time-out would look dead and its job would
    run twice. A small thread issues a cheap command per queue instead.
    """

    def __init__(self, interval: float = HEARTBEAT_INTERVAL) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        queues = sorted(getattr(worker, "queues", None) or broker.get_declared_queues())

        def beat() -> None:
            while not self._stop.wait(self.interval):
                for queue in queues:
                    try:
                        broker.do_qsize(queue)
                    except Exception:  # a Redis blip: the consumers reconnect, so does the next beat
                        log.debug("heartbeat to Redis failed", exc_info=True)

        self._thread = threading.Thread(target=beat, name="framefleet-heartbeat", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()


def make_broker(url: str) -> dramatiq.Broker:
    """A broker for ``url``; raises :class:`BadInput` for an unknown scheme."""
    if url.startswith("memory://"):
        broker: dramatiq.Broker = StubBroker()
        broker.emit_after("process_boot")
    elif url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=url, heartbeat_timeout=HEARTBEAT_TIMEOUT_MS, maintenance_chance=MAINTENANCE_CHANCE)
        broker.add_middleware(RedisHeartbeat())
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url)
    else:
        raise BadInput(f"FRAMEFLEET_BROKER_URL must be memory://, redis:// or amqp://, got {url!r}")
    for queue in QUEUES:
        broker.declare_queue(queue)
    return broker
