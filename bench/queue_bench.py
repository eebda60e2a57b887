"""Queue benchmark: tiny jobs through a real Redis with one worker process.

Starts a private redis-server and one ``framefleet worker`` process, then
  1. paced: submits jobs one at a time (below capacity) and reports enqueue-to-start latency p50/p99,
     which is the framework's overhead: broker round trip, polling, claiming the job;
  2. burst: submits all jobs at once and reports jobs per second through the whole pipeline.
The jobs are ``media`` generations of a 1 KiB local file, so the work itself is next to nothing.

    python bench/queue_bench.py [--jobs 500] [--poll-ms 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--poll-ms", type=int, default=100, help="FRAMEFLEET_POLL_MS for the worker")
    parser.add_argument("--pace-ms", type=float, default=20.0, help="gap between paced submissions")
    args = parser.parse_args()
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is needed (make test installs it)")

    work = Path(tempfile.mkdtemp(prefix="framefleet-qbench-"))
    (work / "media").mkdir()
    (work / "media" / "tiny.bin").write_bytes(os.urandom(1024))
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL)
    env = {**os.environ, "FRAMEFLEET_BROKER_URL": f"redis://127.0.0.1:{port}/0",
           "FRAMEFLEET_STORAGE_URL": f"file://{work}/out", "FRAMEFLEET_LOCAL_ROOT": str(work / "media"),
           "FRAMEFLEET_CACHE_DIR": str(work / "cache"), "FRAMEFLEET_POLL_MS": str(args.poll_ms)}
    time.sleep(0.3)
    worker = subprocess.Popen([sys.executable, "-m", "framefleet", "worker", "--queues", "generate", "webhooks"],
                              env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stderr is not None
        for line in worker.stderr:
            if "worker ready" in line:
                break
        os.environ.update(env)
        from framefleet.client import Client
        from framefleet.config import Settings

        with Client(Settings.from_env(env)) as client:
            payload = {"src": "tiny.bin"}
            paced = []
            for _ in range(args.jobs):
                paced.append(client.submit(payload, type="media")["id"])
                time.sleep(args.pace_ms / 1000)
            jobs = [client.wait(j, timeout=120) for j in paced]
            waits = sorted((ts(j["started_at"]) - ts(j["created_at"])) * 1000 for j in jobs)
            failed = sum(j["status"] != "completed" for j in jobs)

            started = time.perf_counter()
            burst = [client.submit(payload, type="media")["id"] for _ in range(args.jobs)]
            enqueued = time.perf_counter() - started
            for job_id in burst:
                client.wait(job_id, timeout=300, poll=0.05)
            elapsed = time.perf_counter() - started
        print(f"{args.jobs} paced jobs (one every {args.pace_ms:.0f} ms), 1 worker process, poll {args.poll_ms} ms:")
        print(f"  enqueue-to-start latency  p50 {statistics.median(waits):7.1f} ms   "
              f"p99 {waits[int(len(waits) * 0.99) - 1]:7.1f} ms   ({failed} failed)")
        print(f"{args.jobs} jobs at once: enqueued in {enqueued:.2f} s, all done in {elapsed:.2f} s "
              f"= {args.jobs / elapsed:.0f} jobs/s")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        redis.terminate()
        redis.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
