"""Dramatiq's message metrics, under Dramatiq's own metric names, safe with several processes.

Dramatiq ships a Prometheus middleware, but it starts an HTTP server of its own on framefleet's port;
this one records the same series into the pod's shared registry instead.
"""

from __future__ import annotations

import time
from typing import Any

from dramatiq.middleware import Middleware
from prometheus_client import Counter, Gauge, Histogram

LABELS = ["queue_name", "actor_name"]
MESSAGES = Counter("dramatiq_messages", "Messages processed.", LABELS)
ERRORS = Counter("dramatiq_message_errors", "Messages whose actor raised.", LABELS)
RETRIES = Counter("dramatiq_message_retries", "Messages enqueued again for a retry.", LABELS)
REJECTS = Counter("dramatiq_message_rejects", "Messages dead-lettered.", LABELS)
IN_PROGRESS = Gauge("dramatiq_messages_inprogress", "Messages being processed.", LABELS,
                    multiprocess_mode="livesum")
DURATION = Histogram("dramatiq_message_duration_milliseconds", "Time spent processing a message.", LABELS,
                     buckets=(5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000,
                              900000, 1800000, 3600000))


class MessageMetrics(Middleware):
    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    @staticmethod
    def _labels(message: Any) -> tuple[str, str]:
        return message.queue_name, message.actor_name

    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        if int(message.options.get("retries", 0)) > 0 and message.options.get("traceback"):
            RETRIES.labels(*self._labels(message)).inc()

    def before_process_message(self, broker: Any, message: Any) -> None:
        IN_PROGRESS.labels(*self._labels(message)).inc()
        self._started[message.message_id] = time.monotonic()

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        labels = self._labels(message)
        started = self._started.pop(message.message_id, None)
        if started is not None:
            IN_PROGRESS.labels(*labels).dec()
            DURATION.labels(*labels).observe((time.monotonic() - started) * 1000)
        MESSAGES.labels(*labels).inc()
        if exception is not None:
            ERRORS.labels(*labels).inc()

    after_skip_message = after_process_message

    def after_nack(self, broker: Any, message: Any) -> None:
        REJECTS.labels(*self._labels(message)).inc()
