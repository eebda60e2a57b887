"""One HTTP server per pod on ``FRAMEFLEET_METRICS_PORT``: ``/metrics``, ``/healthz``, ``/readyz``.

``/metrics`` adds up every worker process's samples and asks the broker for each queue's depth at scrape
time. ``/readyz`` is ready when the broker (and job state) answer, ffmpeg is installed and storage takes
a write; results are cached for a few seconds so probes stay cheap.
"""

from __future__ import annotations

import http.server
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

READY_CACHE_SECONDS = 5.0


class QueueDepth(Collector):
    """``framefleet_queue_depth{queue}``: messages waiting, read from the broker when scraped."""

    def __init__(self, depth: Callable[[str], int], queues: list[str]) -> None:
        self.depth, self.queues = depth, queues

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("framefleet_queue_depth", "Messages waiting in each queue.", labels=["queue"])
        for queue in self.queues:
            try:
                family.add_metric([queue], float(self.depth(queue)))
            except Exception:  # a broker blip: leave the series out of this scrape
                log.debug("queue depth for %s unavailable", queue, exc_info=True)
        yield family


def queue_depth(broker: Any) -> Callable[[str], int]:
    """How to count a queue's waiting messages on this broker."""
    if hasattr(broker, "do_qsize"):
        return lambda queue: int(broker.do_qsize(queue))
    if hasattr(broker, "get_queue_message_counts"):
        return lambda queue: int(sum(broker.get_queue_message_counts(queue)[:1]))
    return lambda queue: len(getattr(broker, "queues", {}).get(queue, ()))


class Readiness:
    def __init__(self, checks: dict[str, Callable[[], None]]) -> None:
        self.checks = checks
        self._cached: tuple[float, bool, dict[str, str]] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> tuple[bool, dict[str, str]]:
        with self._lock:
            now = time.monotonic()
            if self._cached and now - self._cached[0] < READY_CACHE_SECONDS:
                return self._cached[1], self._cached[2]
            report: dict[str, str] = {}
            for name, check in self.checks.items():
                try:
                    check()
                    report[name] = "ok"
                except Exception as exc:
                    report[name] = f"failing: {type(exc).__name__}"
            ok = all(v == "ok" for v in report.values())
            self._cached = (now, ok, report)
            return ok, report


def readiness(broker_ping: Callable[[], None], storage_check: Callable[[], None], ffmpeg: str,
              extra: dict[str, Callable[[], None]] | None = None) -> Readiness:
    def ffmpeg_present() -> None:
        if shutil.which(ffmpeg) is None:
            raise FileNotFoundError(ffmpeg)

    return Readiness({"broker": broker_ping, "ffmpeg": ffmpeg_present, "storage": storage_check, **(extra or {})})


def serve(port: int, *, ready: Readiness, collectors: list[Collector], host: str = "0.0.0.0"
          ) -> http.server.ThreadingHTTPServer:
    """Start the server on a daemon thread and return it (``shutdown()`` to stop)."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    for collector in collectors:
        registry.register(collector)

    class Handler(http.server.BaseHTTPRequestHandler):
        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._send(200, b'{"status": "ok"}\n', "application/json")
            elif path == "/readyz":
                ok, report = ready()
                body = json.dumps({"status": "ready" if ok else "not ready", "checks": report}).encode()
                self._send(200 if ok else 503, body + b"\n", "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="framefleet-metrics", daemon=True).start()
    return server
