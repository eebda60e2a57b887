"""The metrics of SPEC §6, defined once. Base units, ``_total`` counters, buckets from seconds to an hour.

The collectors are created when a process boots (:func:`create`, called by the worker right after it
has set up the pod's shared metrics folder) or on first use, never by importing this module: prometheus
decides where a metric keeps its samples when the metric is made, so a metric made at import, before the
folder was set, would be missing from the pod's exposition.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge, Histogram

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)
SPEED_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20)

if TYPE_CHECKING:  # what the metrics are; they are made by create(), not by importing this module
    JOBS: Counter
    FAILURES: Counter
    IN_PROGRESS: Gauge
    STAGE_SECONDS: Histogram
    QUEUE_WAIT: Histogram
    SPEED: Histogram
    CHUNKS: Counter
    WEBHOOKS: Counter
    LAST_SUCCESS: Gauge
    PROVIDER_REQUESTS: Counter
    PROVIDER_SECONDS: Histogram
    PROVIDER_FAILURES: Counter
    RATE_LIMIT_WAITS: Counter
    RATE_LIMIT_SECONDS: Counter


def _create() -> dict[str, Any]:
    """Every metric, created once: at worker boot (after the multiprocess folder is set) or first use."""
    return {
        "JOBS": Counter("framefleet_jobs", "Jobs that reached a terminal status.", ["type", "status"]),
        "FAILURES": Counter("framefleet_job_failures", "Failed jobs by error code.", ["type", "code"]),
        "IN_PROGRESS": Gauge("framefleet_jobs_in_progress", "Jobs running now.", ["type"], multiprocess_mode="livesum"),
        "STAGE_SECONDS": Histogram("framefleet_stage_duration_seconds", "Seconds spent per stage of a job.",
                                  ["stage", "encoder"], buckets=DURATION_BUCKETS),
        "QUEUE_WAIT": Histogram("framefleet_queue_wait_seconds", "Seconds from enqueue to start.", ["queue"],
                               buckets=DURATION_BUCKETS),
        "SPEED": Histogram("framefleet_render_speed_ratio", "Output seconds rendered per wall second.", ["encoder"],
                          buckets=SPEED_BUCKETS),
        "CHUNKS": Counter("framefleet_chunks", "Chunks of split renders by outcome (completed, failed, canceled, "
                         "retried).", ["status"]),
        "WEBHOOKS": Counter("framefleet_webhook_deliveries", "Webhook delivery attempts by outcome.", ["outcome"]),
        "LAST_SUCCESS": Gauge("framefleet_last_success_timestamp_seconds", "Unix time of the last completed job.",
                             multiprocess_mode="max"),

        # Generation providers (SPEC §10): every HTTP request (or local run) by outcome, its latency, jobs that
        # failed by error code, and the waits that rate limits imposed (ours across the fleet, or the provider's 429).
        "PROVIDER_REQUESTS": Counter("framefleet_provider_requests", "Provider requests by outcome (ok, retried, "
                                     "rate_limited, refused, failed, timeout, canceled).",
                                     ["provider", "type", "outcome"]),
        "PROVIDER_SECONDS": Histogram("framefleet_provider_request_duration_seconds", "Seconds per provider request.",
                                     ["provider", "type"], buckets=DURATION_BUCKETS),
        "PROVIDER_FAILURES": Counter("framefleet_provider_failures", "Generation jobs that failed, by provider and "
                                    "error code.", ["provider", "type", "code"]),
        "RATE_LIMIT_WAITS": Counter("framefleet_provider_rate_limit_waits", "Times a generation waited for a rate "
                                   "limit: the fleet's own (fleet) or the provider's 429 (provider).",
                                   ["provider", "type", "source"]),
        "RATE_LIMIT_SECONDS": Counter("framefleet_provider_rate_limit_wait_seconds", "Seconds generations were put "
                                     "off by rate limits.", ["provider", "type"]),
    }


_made: dict[str, Any] = {}
_lock = threading.Lock()


def create() -> None:
    """Make every metric now (idempotent)."""
    with _lock:
        if not _made:
            _made.update(_create())


def __getattr__(name: str) -> Any:
    if not name.isupper():
        raise AttributeError(name)
    create()
    try:
        return _made[name]
    except KeyError:
        raise AttributeError(name) from None
