"""Job stores: ``memory`` for one process, ``redis`` for a fleet; the same contract tests run on both."""

from __future__ import annotations

from framefleet.queue.jobs import JobStore


def open_store(broker_url: str) -> JobStore:
    """The store that goes with a broker: Redis for ``redis://``, in-memory for ``memory://``.

    With RabbitMQ the state still needs Redis: ``FRAMEFLEET_STATE_URL`` (read by the caller) names it.
    """
    if broker_url.startswith(("redis://", "rediss://", "unix://")):
        from framefleet.queue.stores.redis import RedisJobStore

        return RedisJobStore.from_url(broker_url)
    from framefleet.queue.stores.memory import MemoryJobStore

    return MemoryJobStore()
