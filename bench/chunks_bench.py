"""Chunked renders: one 120 s 1080x1920 timeline on 1 worker, then split across N workers at once.

Each configuration starts its own ``framefleet worker`` processes (one render thread each) on a real
redis-server started here, with results in a local folder, and times one job from ``submit`` to
``completed``. The unsplit run uses ``chunks=1``; each split run ``chunks=N`` on N workers (2 and 4 by
default), and the speed-up of each against the unsplit run is printed. On a 2-core machine the workers
share the same cores, so expect little gain: the figure that matters is the split on a machine (or a
fleet) with a core budget per worker, e.g. 4 workers on a 16-core host (target: 3x or more).

``--share`` sizes each split worker's ffmpeg for its share of the cores, as the processes of one pod
are sized; by default each sizes for the whole machine. On 2 cores, 2 workers took 54.6 s shared and
49.3 s unshared, against 48.4 and 49.1 s for one worker: with one job split in two, the worker that
finishes first leaves its cores idle unless the other may use them.

    python bench/chunks_bench.py [--workers 2 4] [--seconds 120] [--share]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from framefleet.client import Client
from framefleet.config import Settings
from framefleet.samples import make_all
from framefleet.worker.process import share_cores
from tests.fleettools import RedisServer, Worker, free_port

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
MEDIA = OUT / "media"
W, H, FPS = 1080, 1920, 30


def spec(seconds: float) -> dict[str, Any]:
    sources = ["broll1.mp4", "broll2.mp4", "broll3.mp4", "portrait.mp4"]
    cut = 4.0
    clips = [{"type": "video", "src": sources[n % len(sources)], "trim": (n * 1.7) % 4, "length": cut,
              "volume": 0} for n in range(int(seconds // cut))]
    words = [{"text": f"word{n}", "start": round(n * 0.4, 3), "end": round(n * 0.4 + 0.35, 3)}
             for n in range(int(seconds / 0.4))]
    return {
        "output": {"width": W, "height": H, "fps": FPS, "duration": seconds},
        "tracks": [{"clips": clips},
                   {"clips": [{"type": "text", "text": f"Part {n + 1}", "start": n * 30.0, "length": 3,
                               "position": "top", "style": {"size": 90, "bold": True}}
                              for n in range(int(seconds // 30))]},
                   {"clips": [{"type": "captions", "style": "bold-pop", "words": words}]}],
        "soundtrack": {"src": "music.mp3", "volume": 0.5},
    }


def run(env: dict[str, str], workers: int, chunks: int, raw: dict[str, Any], *, share: bool = False) -> dict[str, Any]:
    """One job on ``workers`` worker processes. With ``share``, each of a split run sizes its ffmpeg for its
    share of the machine's cores, as the processes of one pod do; otherwise each sizes for them all, and
    a worker whose chunk is done leaves its cores to the others."""
    cores = {"FRAMEFLEET_FFMPEG_CORES": str(share_cores(Settings(), workers).ffmpeg_cores)} if share else {}
    started = [Worker(env, "render", **cores) for _ in range(workers)]
    try:
        with Client(Settings.from_env(env)) as client:
            began = time.perf_counter()
            job = client.submit(raw, chunks=chunks)
            done = client.wait(job["id"], timeout=3600, poll=0.1)
            wall = time.perf_counter() - began
    finally:
        for worker in started:
            worker.stop()
    if done["status"] != "completed":
        raise SystemExit(f"job failed: {done['error']}")
    return {"workers": workers, "chunks": chunks, "seconds": wall, "duration": done["result"]["duration"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4],
                        help="workers (and chunks) of each split run")
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the timeline")
    parser.add_argument("--share", action="store_true",
                        help="size each split worker's ffmpeg for its share of the cores, not for all of them")
    args = parser.parse_args()
    make_all(MEDIA)
    work = Path(tempfile.mkdtemp(prefix="framefleet-chunkbench-"))
    redis = RedisServer(free_port(), work)
    redis.start()
    try:
        env = {**os.environ, "FRAMEFLEET_BROKER_URL": redis.url, "FRAMEFLEET_STORAGE_URL": f"file://{work}/results",
               "FRAMEFLEET_LOCAL_ROOT": str(MEDIA), "FRAMEFLEET_CACHE_DIR": str(work / "cache"),
               "PYTHONUNBUFFERED": "1"}
        raw = spec(args.seconds)
        for clip in raw["tracks"][0]["clips"]:
            clip["src"] = str(MEDIA / clip["src"])
        raw["soundtrack"]["src"] = str(MEDIA / raw["soundtrack"]["src"])
        cores = os.cpu_count()
        print(f"timeline: {args.seconds:.0f} s at {W}x{H}, {FPS} fps, {len(raw['tracks'][0]['clips'])} cuts, "
              f"titles, captions, music; {cores} cores")
        one = run(env, 1, 1, raw)
        split = [run(env, n, n, raw, share=args.share) for n in args.workers]
    finally:
        redis.stop()
    for r in (one, *split):
        print(f"{r['workers']} worker(s), {r['chunks']} chunk(s): {r['seconds']:7.1f} s   "
              f"{r['duration'] / r['seconds']:5.2f}x realtime")
    for r in split:
        n = r["workers"]
        target = "   (target >= 3x with 4 cores a worker)" if n == 4 else ""
        print(f"speed-up 1 -> {n} workers = {one['seconds'] / r['seconds']:.2f}x   "
              f"({(cores or 1) / n:g} cores a worker on this {cores}-core machine){target}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "chunks.json").write_text(json.dumps({"one": one, "split": split, "cores": cores, "share": args.share},
                                                indent=2))


if __name__ == "__main__":
    main()
