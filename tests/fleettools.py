"""Real parts for the fleet tests: a redis-server on a free port, a webhook receiver that checks signatures
the way the product docs tell customers to, ``framefleet worker`` subprocesses, and a look for ffmpeg.
The fixtures that start them live in ``tests/conftest.py``."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.proctree import ffmpeg_under

SECRET = "whsec_test"


def wait_until(predicate: Any, timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it gives something truthy (returned), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)  # the polling interval: the condition is checked, never assumed
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RedisServer:
    port: int
    dir: Path
    #: Append-only, fsync on every write, as production Redis runs; off where only speed is measured.
    persist: bool = True
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # With persistence a restart keeps the queue and the job state, as in production.
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else ["--appendonly", "no"]
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", *persistence, "--dir", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def verify(secret: str, raw_body: bytes, header: str, tol: int = 300) -> bool:
    """The receiver's check from the product docs: HMAC-SHA256 of "{t}.{raw_body}", 300 s tolerance."""
    p = dict(kv.split("=", 1) for kv in header.split(","))
    if abs(time.time() - int(p["t"])) > tol:
        return False
    mac = hmac.new(secret.encode(), f'{p["t"]}.'.encode() + raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, p["v1"])


@dataclass
class Receiver:
    url: str
    fail_first: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    bad_signatures: int = 0

    def wait_for(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events


@contextlib.contextmanager
def receiver_server() -> Iterator[Receiver]:
    """A webhook endpoint on a free port that checks signatures as customers are told to, and can fail the
    first ``fail_first`` deliveries."""
    state = Receiver(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.attempts += 1
            if not verify(SECRET, body, self.headers.get("X-Framefleet-Signature", "t=0,v1=x")):
                state.bad_signatures += 1
                self.send_response(400)
            elif state.attempts <= state.fail_first:
                self.send_response(500)
            else:
                state.events.append(json.loads(body))
                self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class Worker:
    """A real ``framefleet worker`` subprocess."""

    def __init__(self, env: dict[str, str], *queues: str, threads: int = 1, processes: int = 1, **extra: str) -> None:
        args = [sys.executable, "-m", "framefleet", "worker", "--threads", str(threads), "--processes", str(processes)]
        if queues:
            args += ["--queues", *queues]
        self.metrics_port = int(extra.pop("FRAMEFLEET_METRICS_PORT", 0) or free_port())
        extra["FRAMEFLEET_METRICS_PORT"] = str(self.metrics_port)
        self.proc = subprocess.Popen(args, env={**env, **extra}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.log: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.log.append(line)
                if "worker ready" in line:
                    ready.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not ready.wait(30):
            self.stop()
            raise RuntimeError("worker did not start:\n" + "".join(self.log))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ffmpeg(self) -> list[int]:
        """The ffmpeg processes this worker runs now (its own; never another program's)."""
        return ffmpeg_under(self.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        if self.proc.stderr:
            self.proc.stderr.close()
