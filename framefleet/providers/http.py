"""The one HTTP helper every remote provider uses: guarded, timed, retried, cancelable, and discreet.

- Each request dials through the network guard (:mod:`framefleet.assets.netguard`); a provider's base
  URL reaches private addresses only when the operator says so (``allow_private`` in its table).
- ``timeout`` bounds each request as a whole (a server trickling bytes cannot hold a worker), and a
  cancel shuts the socket down at once: the HTTP call is abandoned, not waited for.
- 429 honours ``Retry-After`` (short waits in place, long ones hand the job back with that delay);
  5xx, resets and time-outs retry with exponential backoff; any other 4xx fails at once.
- Messages name the provider and the HTTP status only: never the key, the URL's query or the body the
  provider sent back (which may echo the prompt or hold account details); ``detail`` goes to the log.
"""

from __future__ import annotations

import email.utils
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from framefleet.assets.netguard import Watchdog, open_connection
from framefleet.errors import Canceled, FetchError, ProviderError, ProviderUnavailable
from framefleet.flags import Flag
from framefleet.metrics import definitions as m
from framefleet.provider_config import ProviderConfig

log = logging.getLogger(__name__)

#: A JSON answer larger than this is not an answer we asked for.
MAX_JSON_BYTES = 16 * 1024 * 1024
#: A 429 asking us to wait up to this long is waited out in place; a longer one hands the job back.
INLINE_WAIT = 10.0
BACKOFF_START, BACKOFF_MAX = 0.5, 8.0
_TICK = 0.1
#: Words in a refusal's error code or type that mean "the content was refused", not "the request is wrong".
_POLICY = ("content_policy", "safety", "moderation", "nsfw", "policy_violation", "flagged")


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes


def retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date), None when absent or odd."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), 86_400))
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when - (time.time() if now is None else now), 86_400.0))


def _refusal_code(body: bytes) -> str:
    """The ``code``/``type`` words of a JSON error body, lowercased, for policy detection only."""
    try:
        data = json.loads(body[:65536])
    except ValueError:
        return ""
    error = data.get("error", data.get("detail", data)) if isinstance(data, dict) else data
    if isinstance(error, dict):
        return " ".join(str(error.get(k, "")) for k in ("code", "type", "status")).lower()
    return ""


class ProviderHTTP:
    """HTTP for one provider and job type; ``headers`` carry its credentials."""

    def __init__(self, config: ProviderConfig, *, cancel: Flag, headers: Mapping[str, str]) -> None:
        self.config, self.cancel, self.headers = config, cancel, dict(headers)
        self.name = config.provider

    @classmethod
    def for_config(cls, config: ProviderConfig, *, cancel: Flag) -> ProviderHTTP:
        """With the key in the header the provider expects: ``xi-api-key`` for ElevenLabs, ``Authorization:
        Bearer`` for the others (OpenAI and its copies, Replicate); none when no key is configured."""
        key = config.api_key
        if not key:
            return cls(config, cancel=cancel, headers={})
        header = {"xi-api-key": key} if config.provider == "elevenlabs" else {"Authorization": f"Bearer {key}"}
        return cls(config, cancel=cancel, headers=header)

    # -- public -------------------------------------------------------------------------------------

    def json(self, method: str, path: str, body: Any = None) -> Any:
        """Send ``body`` as JSON, return the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        answer = self.call(method, path, data, "application/json" if data is not None else None)
        return self.decode(answer)

    def multipart(self, path: str, fields: Mapping[str, str | list[str]], file: tuple[str, Path, str]) -> Any:
        """POST ``multipart/form-data`` (a field given a list repeats, as ``name[]=a&name[]=b``)."""
        boundary = f"framefleet-{secrets.token_hex(12)}"
        parts: list[bytes] = []
        for name, value in fields.items():
            for item in value if isinstance(value, list) else [value]:
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{item}\r\n'
                             .encode())
        field_name, path_on_disk, kind = file
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; '
                     f'filename="{path_on_disk.name}"\r\nContent-Type: {kind}\r\n\r\n'.encode()
                     + path_on_disk.read_bytes() + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        answer = self.call("POST", path, b"".join(parts), f"multipart/form-data; boundary={boundary}")
        return self.decode(answer)

    def download(self, method: str, path: str, body: Any, sink: Path, *, max_bytes: int) -> str:
        """Send JSON (or nothing), stream the binary answer into ``sink``; returns its content type."""
        data = None if body is None else json.dumps(body).encode()
        with sink.open("wb") as out:
            answer = self.call(method, path, data, "application/json" if data is not None else None,
                               sink=out, max_bytes=max_bytes)
        return answer.content_type

    def decode(self, answer: Answer) -> Any:
        try:
            return json.loads(answer.body)
        except ValueError:
            raise ProviderError(f"{self.name} sent an answer that is not JSON",
                                detail=f"{self.config.type}: {answer.body[:200]!r}") from None

    # -- the loop -----------------------------------------------------------------------------------

    def call(self, method: str, path: str, data: bytes | None, content_type: str | None, *,
             sink: BinaryIO | None = None, max_bytes: int = MAX_JSON_BYTES) -> Answer:
        """One request with its retries; raises from the error tree."""
        url = path if path.startswith(("http://", "https://")) else f"{self.config.base_url}{path}"
        backoff = BACKOFF_START
        attempts = self.config.retries
        for attempt in range(1, attempts + 1):
            if self.cancel.is_set():
                raise Canceled("the job was canceled")
            outcome, answer, wait = self._attempt(method, url, data, content_type, sink=sink,
                                                  max_bytes=max_bytes)
            if answer is not None and outcome == "ok":
                return answer
            last = attempt == attempts
            if outcome == "rate_limited":
                m.RATE_LIMIT_WAITS.labels(self.name, self.config.type, "provider").inc()
                wait = backoff if wait is None else wait
                if wait > INLINE_WAIT or last:
                    m.RATE_LIMIT_SECONDS.labels(self.name, self.config.type).inc(wait)
                    raise ProviderUnavailable(f"{self.name} is rate limiting requests; the job will try again",
                                              retry_after=max(wait, 1.0))
            elif last:
                raise ProviderUnavailable(f"{self.name} did not answer in time or failed "
                                          f"({'time-out' if outcome == 'timeout' else 'server error'}); "
                                          "the job will try again", detail=f"{self.config.type} {outcome}")
            else:
                wait = backoff
            log.info("%s %s: %s, trying again in %.1f s", self.name, self.config.type, outcome, wait)
            if sink is not None:
                sink.seek(0)
                sink.truncate()
            self._sleep(wait)
            if outcome == "rate_limited":
                m.RATE_LIMIT_SECONDS.labels(self.name, self.config.type).inc(wait)
            backoff = min(backoff * 2, BACKOFF_MAX)
        raise AssertionError("unreachable")

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self.cancel.is_set():
                raise Canceled("the job was canceled")
            time.sleep(min(_TICK, left))

    def _attempt(self, method: str, url: str, data: bytes | None, content_type: str | None, *,
                 sink: BinaryIO | None, max_bytes: int) -> tuple[str, Answer | None, float | None]:
        """(outcome, answer, retry-after): outcome ``ok``, ``rate_limited``, ``server_error`` or ``timeout``;
        a refusal raises :class:`ProviderError` at once."""
        started = time.monotonic()
        watch = Watchdog(self.config.timeout, self.cancel, tick=_TICK, name="provider-request-watch")
        outcome = "failed"
        try:
            status, kind, body, after = self._exchange(method, url, data, content_type, sink=sink,
                                                       max_bytes=max_bytes, watch=watch)
            outcome = self._outcome(status, body)
            return outcome, Answer(status, kind, body), retry_after(after)
        except OSError as exc:
            if watch.reason == "canceled" or self.cancel.is_set():
                outcome = "canceled"
                raise Canceled("the job was canceled") from None
            outcome = "timeout"
            log.info("%s %s request failed: %s", self.name, self.config.type, type(exc).__name__)
            return outcome, None, None
        except FetchError as exc:  # the guard refused the configured address: the operator must fix it
            outcome = "refused"
            raise ProviderError(f"{self.name} cannot be reached from this worker", detail=exc.message) from None
        except ProviderError:
            outcome = "refused"
            raise
        finally:
            watch.close()
            m.PROVIDER_REQUESTS.labels(self.name, self.config.type, outcome).inc()
            m.PROVIDER_SECONDS.labels(self.name, self.config.type).observe(time.monotonic() - started)

    def _outcome(self, status: int, body: bytes) -> str:
        if 200 <= status < 300:
            return "ok"
        if status == 429:
            return "rate_limited"
        if status >= 500 or status == 408:
            return "server_error"
        code = _refusal_code(body)
        log.info("%s %s refused: HTTP %d %s", self.name, self.config.type, status, code[:100])
        if any(word in code for word in _POLICY):
            raise ProviderError(f"the {self.config.type} request was refused by {self.name}'s content policy")
        if status in (401, 403):
            raise ProviderError(f"{self.name} refused this worker's credentials (HTTP {status})")
        raise ProviderError(f"{self.name} refused the {self.config.type} request (HTTP {status})")

    def _exchange(self, method: str, url: str, data: bytes | None, content_type: str | None, *,
                  sink: BinaryIO | None, max_bytes: int, watch: Watchdog) -> tuple[int, str, bytes, str | None]:
        parts = urlsplit(url)
        conn = open_connection(url, timeout=self.config.timeout, allow_private=self.config.allow_private)
        try:
            conn.connect()
            watch.sock = conn.sock
            headers = {"User-Agent": "framefleet", "Accept": "*/*", **self.headers}
            if content_type:
                headers["Content-Type"] = content_type
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request(method, target, body=data, headers=headers)
            response = conn.getresponse()
            kind = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
            ok = 200 <= response.status < 300
            limit = max_bytes if ok else 65536
            body = bytearray()
            total = 0
            while chunk := response.read1(1 << 16):
                total += len(chunk)
                if total > limit:
                    if not ok:
                        break
                    raise ProviderError(f"{self.name} sent more than {limit} bytes")
                if ok and sink is not None:
                    sink.write(chunk)
                else:
                    body += chunk
            if watch.reason is not None:  # a shut-down socket reads as a clean, short end of file
                raise TimeoutError(watch.reason)
            length = response.getheader("Content-Length")
            if ok and length and length.isdigit() and total < int(length):
                raise TimeoutError("answer ended early")
            return response.status, kind, bytes(body), response.getheader("Retry-After")
        finally:
            watch.sock = None
            conn.close()
