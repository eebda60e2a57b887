"""Fetching a render's sources: one at a time (as framefleet did) against six at once, each probed on arrival.

A local HTTP server stands in for a CDN: every response starts after a fixed delay (the round trip and
the server's own time) and is sent at a fixed rate per connection, as a real connection is limited by its
window and the path, not by the server's disk. The timeline uses the render bench's twelve sources (three
b-roll videos, a portrait video, five pictures, a voice-over, music and a logo). Each run starts with an
empty cache, fetches every source, probes it and builds the plan: what a worker does before it draws.

    python bench/fetch_bench.py [--rate MIB_PER_S] [--delay S] [--runs N]
"""

from __future__ import annotations

import argparse
import http.server
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import render_bench as rb

from framefleet.assets.fetch import Fetcher
from framefleet.compositor import prepare, probe
from framefleet.compositor.spec import load_spec
from framefleet.config import Settings
from framefleet.samples import make_all

VIDEOS = ("broll1.mp4", "broll2.mp4", "broll3.mp4", "portrait.mp4")
PICTURES = ("photo.jpg", "product.jpg", "script1.jpg", "script2.jpg", "script3.jpg")
CHUNK = 64 * 1024


class Paced(http.server.BaseHTTPRequestHandler):
    """Serves ``rb.MEDIA``: the first byte after ``delay`` seconds, then ``rate`` bytes a second."""

    delay, rate = 0.1, 8 * 2**20

    def do_GET(self) -> None:
        body = (rb.MEDIA / self.path.lstrip("/")).read_bytes()
        time.sleep(Paced.delay)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        started = time.monotonic()
        for at in range(0, len(body), CHUNK):
            ahead = started + (at + CHUNK) / Paced.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            self.wfile.write(body[at:at + CHUNK])

    def log_message(self, *args: object) -> None:
        pass


def spec(base: str) -> dict[str, Any]:
    clips: list[dict[str, Any]] = [{"type": "video", "src": f"{base}/{name}", "length": 2} for name in VIDEOS]
    clips += [{"type": "image", "src": f"{base}/{name}", "length": 2} for name in PICTURES]
    return {"output": {"width": 1080, "height": 1920, "fps": 30},
            "tracks": [{"clips": [{"type": "image", "src": f"{base}/logo.png", "length": 18}]},
                       {"clips": clips},
                       {"clips": [{"type": "audio", "src": f"{base}/voiceover.wav"}]}],
            "soundtrack": {"src": f"{base}/music.mp3"}}


def fetch_and_plan(raw: dict[str, Any], threads: int) -> float:
    """Seconds from nothing fetched to a plan, with ``threads`` downloads at once and a cold cache."""
    probe.forget()
    with tempfile.TemporaryDirectory(prefix="framefleet-fetchbench-") as cache:
        settings = Settings.from_env({"FRAMEFLEET_CACHE_DIR": cache, "FRAMEFLEET_ALLOW_PRIVATE_URLS": "true",
                                      "FRAMEFLEET_FETCH_CONCURRENCY": str(threads)})
        rendered = load_spec(raw)
        started = time.perf_counter()
        files = prepare.fetch_all(rendered, Fetcher(settings))
        prepare.plan_for(rendered, files, settings)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=8.0, help="MiB a second on each connection")
    parser.add_argument("--delay", type=float, default=0.1, help="seconds before each response's first byte")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (median reported)")
    args = parser.parse_args()
    make_all(rb.MEDIA)
    Paced.delay, Paced.rate = args.delay, args.rate * 2**20
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Paced)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    raw = spec(f"http://127.0.0.1:{server.server_address[1]}")
    total = sum((rb.MEDIA / name).stat().st_size for name in (*VIDEOS, *PICTURES, "logo.png", "voiceover.wav",
                                                               "music.mp3"))
    print(f"12 sources, {total / 2**20:.1f} MiB, each connection {args.rate:g} MiB/s, "
          f"first byte after {args.delay:g} s")
    wide = Settings().fetch_concurrency
    seconds: dict[int, list[float]] = {1: [], wide: []}
    for _ in range(args.runs):  # alternated, so drift in the machine's speed hits both alike
        for threads, runs in seconds.items():
            runs.append(fetch_and_plan(raw, threads))
    server.shutdown()
    one, many = statistics.median(seconds[1]), statistics.median(seconds[wide])
    print(f"  one at a time: {one:6.2f} s   {wide} at once: {many:6.2f} s   speed-up {one / many:.2f}x")
    rb.OUT.mkdir(parents=True, exist_ok=True)
    (rb.OUT / "fetch.json").write_text(json.dumps({"one_at_a_time": seconds[1], "at_once": seconds[wide],
                                                   "threads": wide, "speedup": one / many}, indent=1))


if __name__ == "__main__":
    main()
