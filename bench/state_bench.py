"""State at scale (issue 11): the fleet's periodic state work, timed with a million jobs in Redis.

Fills a private redis-server with jobs of several tenants, types and statuses (a sample through the store's
own API, the rest through ``RedisJobStore.load``, which writes the same documents, indexes and counters
through the same code), checks that the counters and indexes agree with what was written, then times what
the fleet does all day, whatever the history:

* ``store.usage()`` and ``store.usage(tenant=...)`` (billing, ``framefleet usage``): counters, not a scan;
* one expiry pass (``endings.expire``, limit 500) that ends the queued jobs past their time to live;
* one lease sweep (``lifecycle.sweep``) that sends jobs whose worker died back to their queue.

Each must take under 50 ms at a million jobs; the same operations at 10,000 jobs show they do not grow.
Each figure is the median of several runs (the jobs an expiry pass or a sweep handled are put back the way
they were between runs, through the store). Webhooks and re-sends go to a Redis list: one round trip, as a
broker enqueue is. Exits 1 when a figure at the large size is over its target.

    python bench/state_bench.py [--jobs 1000000] [--small 10000] [--due-expired 20] [--due-lapsed 20]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from framefleet.config import Settings
from framefleet.queue.jobs import Job, JobStatus
from framefleet.queue.stores.redis import RedisJobStore
from framefleet.storage.local import LocalStorage
from framefleet.worker import endings, lifecycle
from framefleet.worker.runtime import Runtime
from tests.fleettools import RedisServer, free_port

TARGET_MS = 50.0
#: Jobs written through ``create`` and the transitions (the rest through ``load``), so both paths are in
#: the counters the benchmark checks.
API_SAMPLE = 2_000
TENANTS = {"tenant0": 40, "tenant1": 20, "tenant2": 10, "tenant3": 10, "tenant4": 8, "tenant5": 6, "tenant6": 4,
           "tenant7": 2}
STATUSES = {"completed": 900, "failed": 40, "canceled": 15, "expired": 10, "queued": 30, "processing": 5}
TYPES = {"render": 85, "speech_from_text": 10, "image_from_text": 5}
HISTORY = 30 * 86400  # finished jobs are kept this long (the store's retention)
TTL = 86400.0


@dataclass
class Fill:
    """What was written, to check the store's counters and indexes against."""

    by_status: Counter[str] = field(default_factory=Counter)
    by_tenant: Counter[str] = field(default_factory=Counter)
    output_seconds: float = 0.0
    due_expired: list[str] = field(default_factory=list)
    due_lapsed: list[str] = field(default_factory=list)


def spec(rng: random.Random) -> dict[str, Any]:
    """A typical small render spec, so documents are the size real ones are."""
    return {"output": {"width": 1080, "height": 1920, "fps": 30},
            "tracks": [{"clips": [{"type": "video", "src": f"s3://media/clips/{rng.getrandbits(40):x}.mp4",
                                   "length": 8.0, "effect": "zoom_in"}]},
                       {"clips": [{"type": "text", "text": "Summer sale: 30% off everything", "length": 8.0,
                                   "style": "title"}]},
                       {"clips": [{"type": "audio", "src": "s3://media/music/upbeat.mp3", "volume": 0.4}]}]}


def jobs(count: int, now: float, fill: Fill, *, due_expired: int, due_lapsed: int, seed: int = 11) -> Iterator[Job]:
    """``count`` jobs with the mix above: most finished within the retention, a backlog queued within the
    time to live (``due_expired`` of them past it) and some running (``due_lapsed`` on dead workers)."""
    rng = random.Random(seed)
    statuses, types, tenants = (list(d) for d in (STATUSES, TYPES, TENANTS))
    weights = [list(d.values()) for d in (STATUSES, TYPES, TENANTS)]
    for n in range(count):
        status = rng.choices(statuses, weights[0])[0] if n >= due_expired + due_lapsed else (
            "queued" if n < due_expired else "processing")
        job_type, tenant = rng.choices(types, weights[1])[0], rng.choices(tenants, weights[2])[0]
        created = now - rng.uniform(0, TTL * 0.9 if status in ("queued", "processing") else HISTORY)
        if n < due_expired:
            created = now - TTL - 60 - n
        job = Job(id=f"{int(created * 1000):010x}{rng.getrandbits(64):016x}", type=job_type, tenant=tenant,
                  payload=spec(rng) if job_type == "render" else {"text": "Welcome to the summer sale."},
                  queue="render" if job_type == "render" else "generate", status=status, created_at=created,
                  webhook_url="https://hooks.example.com/framefleet" if n % 2 else None,
                  metadata={"ref": f"post-{n}"}, idempotency_key=f"post-{n}" if n % 3 == 0 else None)
        if status != "queued":
            job.started_at, job.attempts, job.stage = created + rng.uniform(0.1, 5), 1, "render"
        if status == "processing":
            job.worker = "bench-host:1234"
            # live workers renew their 30 s leases; a snapshot stands for that with leases that outlast the fill
            job.lease_until = now - 5 if n >= due_expired and n < due_expired + due_lapsed else now + 3600
        if status in ("completed", "failed", "canceled", "expired"):
            job.finished_at, job.progress = created + rng.uniform(5, 120), 1.0 if status == "completed" else 0.3
        if status == "completed":
            job.output_seconds = 8.0 if job_type == "render" else 0.0
            job.result = {"url": f"s3://renders/{tenant}/{job.id}/output.mp4", "content_type": "video/mp4",
                          "duration": 8.0, "width": 1080, "height": 1920, "size_bytes": rng.randint(10**6, 10**7)}
            if job_type != "render":
                job.usage = {"provider": "espeak", "model": "espeak-ng", "characters": 27}
        elif status == "failed":
            job.error = {"code": "bad_media", "message": "tracks[0].clips[0].src: not a video file"}
        fill.by_status[status] += 1
        fill.by_tenant[tenant] += 1
        fill.output_seconds += job.output_seconds
        if n < due_expired:
            fill.due_expired.append(job.id)
        elif n < due_expired + due_lapsed:
            fill.due_lapsed.append(job.id)
        yield job


def through_api(store: RedisJobStore, job: Job) -> None:
    """Write one job the way the fleet does: create it queued, then claim it and end it."""
    final = Job.load(job.dump())
    job.status, job.started_at, job.finished_at, job.attempts, job.stage = "queued", None, None, 0, None
    job.result, job.error, job.usage, job.output_seconds, job.worker, job.lease_until = None, None, None, 0, None, 0
    store.create(job)
    if final.status == "queued":
        return
    store.start(job.id, worker=final.worker, lease=20)
    if final.status == "processing":
        store.update(job.id, lease_until=final.lease_until, started_at=final.started_at)
        return
    store.finish(job.id, final.status, result=final.result, error=final.error, usage=final.usage,
                 output_seconds=final.output_seconds, progress=final.progress, stage=final.stage)


def fill_store(store: RedisJobStore, count: int, args: argparse.Namespace) -> Fill:
    fill = Fill()
    source = jobs(count, time.time(), fill, due_expired=args.due_expired, due_lapsed=args.due_lapsed)
    for job in source:
        through_api(store, job)
        if fill.by_status.total() >= min(API_SAMPLE, count):
            break
    store.load(source)
    check(store, fill, count)
    return fill


def check(store: RedisJobStore, fill: Fill, count: int) -> None:
    """The counters and indexes must say what was written, or the timings below mean nothing."""
    usage = store.usage()
    assert usage["jobs"] == count, usage
    assert {k: v for k, v in usage["by_status"].items() if v} == dict(fill.by_status), (usage, fill.by_status)
    assert abs(usage["output_seconds"] - round(fill.output_seconds, 3)) < 1e-3 * count, usage
    assert store.usage(tenant="tenant7")["jobs"] == fill.by_tenant["tenant7"]
    assert store.r.zcard(f"{store.ns}:queued") == fill.by_status["queued"]
    assert store.r.zcard(f"{store.ns}:leases") == fill.by_status["processing"]
    assert store.r.zcard(f"{store.ns}:jobs") == count


def median_ms(run: Callable[[], Any], repeat: int, reset: Callable[[], None] = lambda: None) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append((time.perf_counter() - began) * 1000)
        reset()
    return statistics.median(times)


def measure(store: RedisJobStore, rt: Runtime, fill: Fill, repeat: int) -> dict[str, float]:
    def expire() -> None:
        ended = endings.expire(rt, limit=500)
        assert sorted(ended) == sorted(fill.due_expired), (len(ended), len(fill.due_expired))

    def unexpire() -> None:  # through the store, so the indexes and counters move back too
        for job_id in fill.due_expired:
            assert store.transition(job_id, allowed={JobStatus.EXPIRED}, status=JobStatus.QUEUED, error=None,
                                    finished_at=None) is not None

    def sweep() -> None:
        sent = lifecycle.sweep(rt)
        assert sorted(sent) == sorted(fill.due_lapsed), (len(sent), len(fill.due_lapsed))

    def relapse() -> None:
        for job_id in fill.due_lapsed:
            store.update(job_id, lease_until=time.time() - 5)

    return {"usage()": median_ms(store.usage, repeat * 4),
            "usage(tenant='tenant0')": median_ms(lambda: store.usage(tenant="tenant0"), repeat * 4),
            f"expiry pass (limit 500, {len(fill.due_expired)} due)": median_ms(expire, repeat, unexpire),
            f"lease sweep ({len(fill.due_lapsed)} lapsed)": median_ms(sweep, repeat, relapse)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--due-expired", type=int, default=20, help="queued jobs past their time to live")
    parser.add_argument("--due-lapsed", type=int, default=20, help="running jobs whose worker died")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is needed (make test installs it)")

    work = Path(tempfile.mkdtemp(prefix="framefleet-state-"))
    port = free_port()
    server = RedisServer(port, work, persist=False)  # no fsync: the figures are the store's, not the disk's
    try:
        server.start()
        client = redis.Redis(port=port, decode_responses=True)
        store = RedisJobStore(client)
        rt = Runtime(Settings(webhook_secret="whsec_bench", job_ttl=TTL, cache_dir=work / "cache"), store,
                     LocalStorage(work / "out"))
        rt.notify = lambda url, body: client.rpush("bench:webhooks", body)
        rt.enqueue = lambda queue, job_id, delay=None: client.rpush(f"bench:queue:{queue}", job_id)
        figures: dict[int, dict[str, float]] = {}
        for size in (args.small, args.jobs):
            client.flushall()
            began = time.monotonic()
            fill = fill_store(store, size, args)
            print(f"filled {size:,} jobs in {time.monotonic() - began:.0f} s ({min(API_SAMPLE, size):,} through "
                  f"create/start/finish, the rest through RedisJobStore.load): {dict(fill.by_status)}", flush=True)
            figures[size] = measure(store, rt, fill, args.repeat)
            memory = client.info("memory")["used_memory"]
            print(f"  Redis memory at {size:,} jobs: {memory / 2**20:,.0f} MiB ({memory / size:,.0f} bytes a job)",
                  flush=True)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    small, large = figures[args.small], figures[args.jobs]
    print(f"\n{'operation':<34} {f'{args.small:,} jobs':>12} {f'{args.jobs:,} jobs':>15} {'target':>8} "
          f"{'of target':>10}")
    over = []
    for name, ms in large.items():
        print(f"{name:<34} {small[name]:>9.2f} ms {ms:>12.2f} ms {TARGET_MS:>5.0f} ms {ms / TARGET_MS:>9.0%}")
        if ms > TARGET_MS:
            over.append(name)
    expiry = next(ms for name, ms in large.items() if name.startswith("expiry"))
    print(f"an expiry pass costs about {expiry / max(1, args.due_expired):.2f} ms a job it ends, whatever the "
          f"history: a pass that ends its full 500 takes about {expiry / max(1, args.due_expired) * 500:.0f} ms")
    if over:
        print(f"over the {TARGET_MS:.0f} ms target at {args.jobs:,} jobs: {', '.join(over)}")
        return 1
    print(f"every operation under {TARGET_MS:.0f} ms at {args.jobs:,} jobs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
