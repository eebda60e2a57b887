"""Concurrency and rate per provider and type, across the whole fleet (Dramatiq's rate limiters).

With a Redis broker (or ``FRAMEFLEET_STATE_URL``) the counters live in Redis, so ``concurrency = 4``
means four requests in flight on all workers together; with ``memory://`` they hold in this process.
A generation that finds its limit full is not waited for on a thread: the job is parked and tried again
shortly (see :mod:`framefleet.worker.generate`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dramatiq.rate_limits import ConcurrentRateLimiter, WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend, StubBackend

from framefleet.config import Settings
from framefleet.provider_config import ProviderConfig

_backends: dict[str, Any] = {}
_lock = threading.Lock()


def backend(settings: Settings) -> Any:
    url = settings.state_url or settings.broker_url
    key = url if url.startswith(("redis://", "rediss://")) else "memory"
    with _lock:
        if key not in _backends:
            _backends[key] = RedisBackend(url=url) if key != "memory" else StubBackend()  # type: ignore[no-untyped-call]
        return _backends[key]


@contextmanager
def slot(settings: Settings, config: ProviderConfig) -> Iterator[bool]:
    """Yields True while this request holds a concurrency slot and a place in this minute's rate, False
    (holding nothing) when either is full."""
    name = f"framefleet-provider-{config.type}-{config.provider}"
    store = backend(settings)
    window = WindowRateLimiter(store, f"{name}-rate", limit=config.rate_per_minute,  # type: ignore[no-untyped-call]
                               window=60)
    ttl = int((config.timeout * config.retries + 120) * 1000)
    running = ConcurrentRateLimiter(store, f"{name}-running", limit=config.concurrency, ttl=ttl)  # type: ignore[no-untyped-call]
    with running.acquire(raise_on_failure=False) as free:
        if not free:
            yield False
            return
        with window.acquire(raise_on_failure=False) as allowed:
            yield bool(allowed)
