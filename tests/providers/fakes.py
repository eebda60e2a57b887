"""Local HTTP servers that speak the providers' documented protocols, scripted per test.

A :class:`FakeAPI` answers each (method, path) from a queue of scripted replies (the last one repeats)
and records every request it saw (method, path, headers, body, time), so tests assert what was sent:
the cancel call, the ``Authorization`` header, the multipart fields.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: hold the answer this long (a time-out), or until the server stops
    delay: float = 0.0

    def raw(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        return json.dumps(self.body).encode(), "application/json"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class FakeAPI:
    url: str = ""
    routes: dict[tuple[str, str], list[Reply | Callable[[Seen], Reply]]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def on(self, method: str, path: str, *replies: Reply | Callable[[Seen], Reply]) -> None:
        self.routes[(method, path)] = list(replies)

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]

    def wait_for(self, method: str, path: str, count: int = 1, timeout: float = 20) -> list[Seen]:
        deadline = time.monotonic() + timeout
        while len(self.calls(method, path)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.calls(method, path)

    def answer(self, seen: Seen) -> Reply:
        self.seen.append(seen)
        script = self.routes.get((seen.method, seen.path))
        if not script:
            return Reply(404, {"error": {"message": "no such route", "code": "not_found"}})
        step = script.pop(0) if len(script) > 1 else script[0]
        return step(seen) if callable(step) else step


@contextmanager
def serve() -> Iterator[FakeAPI]:
    api = FakeAPI()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length", 0) or 0)
            body = self.rfile.read(length) if length else b""
            reply = api.answer(Seen(self.command, self.path, dict(self.headers), body, time.monotonic()))
            if reply.delay:
                api.stopping.wait(reply.delay)
            raw, kind = reply.raw()
            try:
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if "Content-Type" not in reply.headers:
                    self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(raw)
            except OSError:
                pass  # the client gave up (a cancel, a time-out): that is the point of some tests

        def do_GET(self) -> None:
            self._any()

        def do_POST(self) -> None:
            self._any()

        def do_DELETE(self) -> None:
            self._any()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        api.stopping.set()
        server.shutdown()
        server.server_close()


def tone(path: Path, seconds: float = 1.0, kind: str = "mp3") -> bytes:
    """A short real sound file (so the worker's probe reads a duration), returned as bytes."""
    codec = ["-c:a", "libmp3lame"] if kind == "mp3" else []
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                    *codec, str(path)], check=True)
    return path.read_bytes()


def picture(path: Path, size: str = "64x48") -> bytes:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c=red:s={size}", "-frames:v", "1",
                    str(path)], check=True)
    return path.read_bytes()


def clip(path: Path, seconds: float = 1.0) -> bytes:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=s=128x72:d={seconds}",
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", str(path)], check=True)
    return path.read_bytes()
