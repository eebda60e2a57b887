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

from framefleet import logs
from framefleet.assets.netguard import open_connection, resolve
from framefleet.errors import FetchError, Problem, SpecError
from framefleet.queue.jobs import Job

EVENT_TYPES = {"completed": "job.completed", "failed": "job.failed", "canceled": "job.canceled",
               "expired": "job.failed"}


#: Longest webhook URL accepted at submit (browsers and proxies start failing beyond about this).
MAX_URL_LENGTH = 2048


class DeliveryFailed(Exception):
    """The endpoint did not answer 2xx in time; the actor retries unless ``permanent`` (a URL that now
    points at a private address, or is not one we can post to: no retry can change that)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def shown(url: str) -> str:
    """``scheme://host/path`` of a webhook URL: what logs and errors may show (its query string often
    carries the receiver's token, its user info a password)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def check_url(url: Any, *, allow_private: bool) -> None:
    """Refuse, at submit, a webhook URL no delivery could use: not http(s), credentials in it, no host, or a
    host that resolves to a loopback, private or reserved address (unless private URLs are allowed).

    Raises :class:`SpecError` naming ``webhook``; the message never repeats the URL's query string."""
    problem = _url_problem(url, allow_private=allow_private)
    if problem:
        raise SpecError([Problem("webhook", problem)], what="job")


def _url_problem(url: Any, *, allow_private: bool, resolve_host: bool = True) -> str | None:
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        return f"must be an http:// or https:// URL of at most {MAX_URL_LENGTH} characters"
    if any(ord(c) <= 0x20 or ord(c) == 0x7f for c in url) or not url.isascii():
        return "must be an ASCII URL without spaces or control characters (percent-encode the rest)"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    if "@" in parts.netloc:
        return "must not carry credentials (user:password@); receivers check the signature header instead"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "has an invalid port"
    if resolve_host:
        try:
            resolve(parts.hostname, port, allow_private=allow_private)
        except FetchError as exc:
            return exc.message
    return None


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
    problem = _url_problem(url, allow_private=allow_private, resolve_host=False)
    if problem:  # checked at submit; a job stored before that check may still hold one
        raise DeliveryFailed(problem, permanent=True)
    try:
        conn = open_connection(url, timeout=timeout, allow_private=allow_private)
    except Exception as exc:
        raise DeliveryFailed(logs.redact(str(exc))) from None
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", path, body=body, headers={
            "Content-Type": "application/json", "User-Agent": "framefleet-webhooks",
            "X-Framefleet-Signature": signature(secret, body, int(time.time())),
        })
        status = conn.getresponse().status
    except FetchError as exc:
        # The guard refused the address dialled: the host resolves to a private address now (it was
        # public at submit). No retry will make that URL acceptable; a name that does not resolve may.
        raise DeliveryFailed(exc.message, permanent="could not be resolved" not in exc.message) from None
    except Exception as exc:
        raise DeliveryFailed(logs.redact(f"{type(exc).__name__}: {exc}")) from None
    finally:
        conn.close()
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status}")
    return status


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
