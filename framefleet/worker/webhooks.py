"""Signed webhooks (SPEC §5): the event, its signature, and one delivery attempt.

Retries belong to the ``webhooks`` actor (exponential backoff, the event id unchanged); each attempt is
signed afresh, so the timestamp in the signature is always current for the receiver's tolerance check.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

from framefleet.assets.netguard import open_connection
from framefleet.queue.jobs import Job

EVENT_TYPES = {"completed": "job.completed", "failed": "job.failed", "canceled": "job.canceled",
               "expired": "job.failed"}


class DeliveryFailed(Exception):
    """The endpoint did not answer 2xx in time; the actor retries."""


def event(job: Job) -> dict[str, Any]:
    """The event for a job's terminal status; its id is derived from the job, so a job finished twice
    (at-least-once delivery) sends the same event id and receivers dedupe it."""
    result = job.result or {}
    return {
        "id": f"evt_{job.id}_{job.status}",
        "type": EVENT_TYPES[job.status],
        "created": int(job.finished_at or time.time()),
        "data": {
            "job_id": job.id, "status": job.status, "type": job.type,
            "result_url": result.get("url"), "thumbnail_url": result.get("thumbnail_url"),
            "error": job.error, "metadata": job.metadata,
        },
    }


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def deliver(url: str, body: bytes, *, secret: str, timeout: float, allow_private: bool) -> int:
    """POST once; returns the status code, raises :class:`DeliveryFailed` for anything but 2xx."""
    parts = urlsplit(url)
    try:
        conn = open_connection(url, timeout=timeout, allow_private=allow_private)
    except Exception as exc:
        raise DeliveryFailed(str(exc)) from None
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", path, body=body, headers={
            "Content-Type": "application/json", "User-Agent": "framefleet-webhooks",
            "X-Framefleet-Signature": signature(secret, body, int(time.time())),
        })
        status = conn.getresponse().status
    except Exception as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status}")
    return status


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
