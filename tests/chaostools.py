"""A chaos soak with real parts: worker subprocesses SIGKILLed on a schedule, redis-server restarted (with
its append-only file, as production runs it), object storage cut off behind a TCP proxy.

It answers the questions a fleet's operators ask: was any job lost (never reached a terminal state), failed
though its input was good, or completed twice (two result objects, two ``job.completed`` webhooks)?
How long did the slowest takeover of a dead worker's job take? ``tests/worker/test_chaos.py`` runs a
short soak in ``make test``; ``bench/chaos_bench.py`` runs longer ones.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framefleet.client import Client
from framefleet.config import Settings
from framefleet.queue.stores import open_store
from tests.fleettools import Receiver, RedisServer, Worker, free_port


class Cut:
    """A TCP proxy that can refuse and drop every connection for a while: a storage outage on demand."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.down = threading.Event()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        proxy = self

        class Pipe(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                if proxy.down.is_set():
                    return  # accepted and closed at once: the client sees a reset, as in an outage
                try:
                    upstream = socket.create_connection(("127.0.0.1", target_port), timeout=10)
                except OSError:
                    return
                with proxy._lock:
                    proxy._open |= {self.request, upstream}
                try:
                    pump = threading.Thread(target=_copy, args=(upstream, self.request), daemon=True)
                    pump.start()
                    _copy(self.request, upstream)
                    pump.join()
                finally:
                    with proxy._lock:
                        proxy._open -= {self.request, upstream}
                    upstream.close()

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Pipe)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def outage(self) -> None:
        """From now on every connection fails, including the ones open now."""
        self.down.set()
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self.down.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(1 << 16):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@dataclass
class Plan:
    """What the soak does: how many jobs from how many tenants on how many workers, and the chaos."""

    jobs: int = 30
    tenants: int = 3
    workers: int = 2
    #: A worker is SIGKILLed this often (and replaced), one holding a job when one does. Every event waits
    #: for a moment when some job is running (while some are still queued), so none strikes an idle fleet.
    kill_every: float = 20.0
    max_kills: int | None = None  # stop killing after this many (None: until the soak ends)
    redis_restart_at: float | None = 15.0  # seconds after the first submit
    outage_at: float | None = 25.0
    outage_seconds: float = 8.0
    deadline: float = 300.0  # every job must be terminal by then
    seed: int = 7
    source: str = "broll1.mp4"  # the clip each job renders, in ``media`` (``framefleet.samples`` makes this one)
    length: float = 1.0  # seconds of output of the shortest job (others are 0.2 s and 0.4 s longer)


@dataclass
class Report:
    """What came out: the counts the issue asks for, and what the chaos did."""

    jobs: int = 0
    completed: int = 0
    lost: list[str] = field(default_factory=list)
    wrongly_failed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    #: Jobs that ended but whose webhook never reached the receiver (while the workers still ran).
    unannounced: list[str] = field(default_factory=list)
    takeovers: list[float] = field(default_factory=list)
    kills: int = 0
    redis_restarts: int = 0
    outages: int = 0
    seconds: float = 0.0
    #: What the chaos did and when: (seconds after the first submit, event, jobs processing just before it),
    #: so a caller can check the chaos struck while jobs ran, not after the soak had drained.
    events: list[tuple[float, str, int]] = field(default_factory=list)

    @property
    def slowest_takeover(self) -> float:
        return max(self.takeovers, default=0.0)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.wrongly_failed or self.duplicated or self.unannounced)

    def line(self) -> str:
        return (f"{self.jobs} jobs in {self.seconds:.0f} s: {self.completed} completed, {len(self.lost)} lost, "
                f"{len(self.wrongly_failed)} wrongly failed, {len(self.duplicated)} duplicated, "
                f"{len(self.unannounced)} unannounced; "
                f"{self.kills} SIGKILLs, {self.redis_restarts} Redis restart(s), {self.outages} storage outage(s); "
                f"slowest takeover {self.slowest_takeover:.1f} s")


def spec(media: Path, n: int, source: str = "broll1.mp4", length: float = 1.0) -> dict[str, Any]:
    """A small render (about a second for the default ``length``): many of them keep every worker busy."""
    return {"output": {"width": 320, "height": 240, "fps": 25},
            "tracks": [{"clips": [{"type": "video", "src": str(media / source), "length": length + (n % 3) * 0.2}]},
                       {"clips": [{"type": "text", "text": f"job {n}", "length": 1.0}]}]}


def soak(plan: Plan, *, env: dict[str, str], redis: RedisServer, s3_port: int, bucket: str, media: Path,
         receiver: Receiver, log: Callable[[str], None] = lambda line: None) -> Report:
    """Run one soak and report; every process it starts is stopped before it returns."""
    import boto3

    cut = Cut(s3_port)
    env = {**env, "FRAMEFLEET_S3_ENDPOINT_URL": cut.url}
    settings = Settings.from_env(env)
    workers: list[Worker] = []
    report = Report(jobs=plan.jobs)
    store = open_store(redis.url)
    try:
        workers += [Worker(env, "render", "webhooks") for _ in range(plan.workers)]
        began = time.monotonic()
        with Client(settings) as client:
            ids = [client.submit(spec(media, n, plan.source, plan.length), tenant=f"tenant{n % plan.tenants}",
                                 webhook=receiver.url)["id"] for n in range(plan.jobs)]
        chaos = _Chaos(plan, env, redis, cut, workers, store, ids, report, began, log)
        while time.monotonic() - began < plan.deadline:
            chaos.step()
            _takeovers(store, chaos.watching, report)
            if _all_terminal(store, ids):
                break
            time.sleep(0.2)  # the soak's pace: it polls the store, it does not wait for a condition
        report.seconds = time.monotonic() - began
        cut.restore()
        _await_webhooks(receiver, ids, time.monotonic() + 30)
        _tally(report, store, ids, boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}"), bucket,
               receiver)
        return report
    finally:
        for worker in workers:
            worker.stop()
        cut.close()


class _Chaos:
    """The scheduled events of one soak: SIGKILLs (each worker replaced), a Redis restart, an outage."""

    def __init__(self, plan: Plan, env: dict[str, str], redis: RedisServer, cut: Cut, workers: list[Worker],
                 store: Any, ids: list[str], report: Report, began: float, log: Callable[[str], None]) -> None:
        self.plan, self.env, self.redis, self.cut, self.workers = plan, env, redis, cut, workers
        self.store, self.ids, self.report, self.began, self.log = store, ids, report, began, log
        self.rng = random.Random(plan.seed)
        self.events = _schedule(plan, began)
        self.watching: dict[str, tuple[str, float]] = {}  # job → (dead worker id, when it died)

    def step(self) -> None:
        now = time.monotonic()
        while self.events and self.events[0][0] <= now:
            _, what = self.events.pop(0)
            jobs = [_job(self.store, i) for i in self.ids]
            running = sum(1 for j in jobs if j is not None and j.status == "processing")
            if what != "restore" and not running and any(j is not None and j.status == "queued" for j in jobs):
                # between jobs (or not started yet): chaos that hits no running job tests nothing
                self.events = sorted([*self.events, (now + 0.25, what)])
                continue
            getattr(self, f"_{what}")(now, jobs)
            self.report.events.append((now - self.began, what, running))
            self.log(f"{now - self.began:5.1f} s  {what}")

    def _kill(self, now: float, jobs: list[Any]) -> None:
        # A worker holding a job, when one does: killing an idle worker measures no takeover.
        holding = _running_by_worker(jobs)
        busy = [w for w in self.workers if holding.get(_worker_id(w))]
        victim = self.rng.choice(busy or self.workers)
        dead = _worker_id(victim)
        for job_id in holding.get(dead, []):
            self.watching[job_id] = (dead, time.monotonic())
        os.kill(victim.pid, signal.SIGKILL)
        victim.proc.wait()
        victim.stop()  # already dead: this only closes its log pipe
        self.workers.remove(victim)
        self.workers.append(Worker(self.env, "render", "webhooks"))
        self.report.kills += 1
        if self.plan.max_kills is None or self.report.kills < self.plan.max_kills:
            self.events = sorted([*self.events, (now + self.plan.kill_every, "kill")])

    def _redis(self, now: float, jobs: list[Any]) -> None:
        self.redis.stop()
        self.redis.start()
        self.report.redis_restarts += 1

    def _outage(self, now: float, jobs: list[Any]) -> None:
        self.cut.outage()
        self.report.outages += 1
        self.events = sorted([*self.events, (now + self.plan.outage_seconds, "restore")])

    def _restore(self, now: float, jobs: list[Any]) -> None:
        self.cut.restore()


def _schedule(plan: Plan, began: float) -> list[tuple[float, str]]:
    events = [(began + plan.kill_every, "kill")]
    if plan.redis_restart_at is not None:
        events.append((began + plan.redis_restart_at, "redis"))
    if plan.outage_at is not None:
        events.append((began + plan.outage_at, "outage"))  # it schedules its own restore
    return sorted(events)


def _job(store: Any, job_id: str) -> Any:
    """The job, or None while Redis restarts (the soak looks again on its next round)."""
    try:
        return store.get(job_id)
    except Exception:
        return None


def _worker_id(worker: Worker) -> str:
    """How the store names the worker that holds a job."""
    return f"{socket.gethostname()}:{worker.pid}"


def _running_by_worker(jobs: list[Any]) -> dict[str, list[str]]:
    """The ids of the running ``jobs`` (None: not readable now), by the worker that holds them."""
    holding: dict[str, list[str]] = {}
    for job in jobs:
        if job is not None and job.status == "processing":
            holding.setdefault(job.worker, []).append(job.id)
    return holding


def _takeovers(store: Any, watching: dict[str, tuple[str, float]], report: Report) -> None:
    for job_id, (dead, since) in list(watching.items()):
        job = _job(store, job_id)
        if job is None:
            continue
        if job.terminal or (job.status == "processing" and job.worker != dead):
            report.takeovers.append(time.monotonic() - since)
            del watching[job_id]


def _all_terminal(store: Any, ids: list[str]) -> bool:
    return all((job := _job(store, i)) is not None and job.terminal for i in ids)


def _announced(receiver: Receiver) -> set[str]:
    return {str((event.get("data") or {}).get("job_id")) for event in list(receiver.events)}


def _await_webhooks(receiver: Receiver, ids: list[str], until: float) -> None:
    """Give the webhooks queue (retrying through the chaos) until ``until`` to announce every job's end,
    before the workers stop: a job whose end nobody was told of counts as unannounced."""
    while time.monotonic() < until and not set(ids) <= _announced(receiver):
        time.sleep(0.2)  # polling the receiver's record, not synchronising with a worker


def _tally(report: Report, store: Any, ids: list[str], s3: Any, bucket: str, receiver: Receiver) -> None:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    ends: dict[str, set[str]] = {}  # job → the terminal statuses its webhooks announced
    for event in receiver.events:
        data = event.get("data") or {}
        ends.setdefault(str(data.get("job_id")), set()).add(str(data.get("status")))
    for job_id in ids:
        job = _job(store, job_id)
        if job is None or not job.terminal:
            report.lost.append(job_id)
            continue
        if job.status == "completed":
            report.completed += 1
            outputs = [k for k in keys if f"/{job_id}/output" in k]
            if len(outputs) != 1 or len(ends.get(job_id, set())) > 1:  # two results, or two different ends
                report.duplicated.append(job_id)
        else:
            report.wrongly_failed.append((job_id, {"status": job.status, **(job.error or {})}))
        if job_id not in ends:
            report.unannounced.append(job_id)
