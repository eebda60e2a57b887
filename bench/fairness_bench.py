"""Fair shares (issue 11): how long a small tenant's new render waits behind another tenant's backlog,
with fair shares (the default) and without (FRAMEFLEET_FAIR=false: one first-in-first-out queue).

One worker with one thread, a backlog of N short renders from tenant "big", then one render from tenant
"small"; the figure is the small job's wait (from submit to start) in each mode, side by side.

    python bench/fairness_bench.py [--backlog 40]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from framefleet.client import Client
from framefleet.config import Settings
from framefleet.queue.stores import open_store
from framefleet.samples import make_all
from tests.fleettools import RedisServer, Worker, free_port


def spec() -> dict[str, Any]:
    return {"output": {"width": 320, "height": 240},
            "tracks": [{"clips": [{"type": "video", "src": "broll1.mp4", "length": 1.0}]}]}


def run(env: dict[str, str], backlog: int) -> tuple[float, float, int]:
    """(the small job's wait, one render's time on average, backlog jobs that started before it)."""
    worker = Worker(env, "render")
    try:
        store = open_store(env["FRAMEFLEET_BROKER_URL"])
        with Client(Settings.from_env(env)) as client:
            big = [client.submit(spec(), tenant="big")["id"] for _ in range(backlog)]
            small = client.submit(spec(), tenant="small")["id"]
            client.wait(small, timeout=3600, poll=0.1)
            jobs = {job_id: store.get(job_id) for job_id in big}
            mine = store.get(small)
            assert mine is not None and mine.started_at is not None
            wait = mine.started_at - mine.created_at
            ran = [j for j in jobs.values() if j is not None and j.finished_at and j.started_at]
            render = sum(j.finished_at - j.started_at for j in ran) / max(1, len(ran))  # type: ignore[operator]
            ahead = sum(1 for j in ran if j.started_at < mine.started_at)  # type: ignore[operator]
            for job_id in big:
                client.cancel(job_id, tenant="big")  # the rest of the backlog is not the point
            return wait, render, ahead
    finally:
        worker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="framefleet-fair-"))
    media = work / "media"
    make_all(media)
    results = {}
    for fair in ("true", "false"):
        redis = RedisServer(free_port(), work / f"redis-{fair}")
        redis.start()
        try:
            env = {**os.environ, "FRAMEFLEET_BROKER_URL": redis.url, "FRAMEFLEET_FAIR": fair,
                   "FRAMEFLEET_STORAGE_URL": f"file://{work}/out-{fair}", "FRAMEFLEET_LOCAL_ROOT": str(media),
                   "FRAMEFLEET_CACHE_DIR": str(work / "cache"), "PYTHONUNBUFFERED": "1"}
            results[fair] = run(env, args.backlog)
        finally:
            redis.stop()
    (fair_wait, render, fair_ahead), (fifo_wait, _, fifo_ahead) = results["true"], results["false"]
    print(f"fairness: a backlog of {args.backlog} renders from one tenant, one worker thread, "
          f"{render:.2f} s per render")
    print(f"  small tenant's wait, fair shares: {fair_wait:6.2f} s ({fair_ahead} of the backlog started first, "
          f"{fair_wait / render:.1f} renders' time)")
    print(f"  small tenant's wait, one FIFO:    {fifo_wait:6.2f} s ({fifo_ahead} of the backlog started first)")
    print(f"  ratio FIFO / fair: {fifo_wait / max(fair_wait, 1e-3):.1f}x")
    return 0 if fair_wait <= 3 * render + 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
