"""``framefleet worker``: one or more worker processes, each a Dramatiq worker with framefleet's runtime.

SIGTERM (or SIGINT) stops taking new jobs; running jobs get ``FRAMEFLEET_SHUTDOWN_GRACE`` seconds to
finish, after which their ffmpeg is stopped and the job is handed back to its queue. None is dropped.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dramatiq

from framefleet import leftovers, policy
from framefleet.config import Settings
from framefleet.errors import BadInput
from framefleet.metrics.server import queue_depth
from framefleet.metrics.setup import mark_dead
from framefleet.queue.broker import QUEUES
from framefleet.storage import Storage
from framefleet.threads import usable_cores
from framefleet.worker import dispatcher, endings
from framefleet.worker.actors import Actors
from framefleet.worker.lifecycle import sweep
from framefleet.worker.runtime import Runtime
from framefleet.worker.supervisor import Supervisor
from framefleet.worker.wiring import build_runtime

log = logging.getLogger(__name__)

WEBHOOK_THREADS = 2


def _maintenance_loop(rt: Runtime, stop: threading.Event) -> None:
    """Every worker process: send jobs with lapsed leases back to their queues, and expire old queued
    jobs. Both read indexes, so their cost does not grow with the number of jobs."""
    last_expiry = 0.0
    while not stop.wait(policy.SWEEP_INTERVAL):
        try:
            sweep(rt)
            if time.monotonic() - last_expiry >= policy.EXPIRY_INTERVAL:
                last_expiry = time.monotonic()
                endings.expire(rt)
        except Exception:
            log.warning("lease sweep or expiry failed; trying again", exc_info=True)


def sweep_leftovers(settings: Settings, storage: Storage) -> list[Path]:
    """Remove what killed processes left on this machine: render work folders (in the temporary folder and
    under ``<cache_dir>/work``), ``.part-`` files in the caches, partial uploads of local storage.

    Run when a worker starts. Only what no live process owns goes (see :mod:`framefleet.leftovers`), so
    the other worker processes of a pod, and renders started by hand beside it, keep their folders."""
    age = settings.render_time_limit
    removed = leftovers.sweep(Path(tempfile.gettempdir()), max_age=age)
    removed += leftovers.sweep(settings.cache_dir / "work", max_age=age)
    for cache in ("assets", "jobs", "probe"):
        root = settings.cache_dir / cache
        removed += leftovers.sweep(root, max_age=age)
        try:
            folders = [e.path for e in os.scandir(root) if e.is_dir(follow_symlinks=False)]
        except OSError:
            folders = []
        for folder in folders:
            removed += leftovers.sweep(Path(folder), max_age=age)
    try:
        partial = storage.sweep(max_age=age)
    except Exception:
        log.warning("partial uploads could not be swept", exc_info=True)
        partial = 0
    if removed or partial:
        log.info("swept %d folder(s) and file(s) left by killed processes", len(removed) + partial)
    return removed


def _broker_ping(broker: dramatiq.Broker, rt: Runtime) -> Any:
    def ping() -> None:
        client = getattr(broker, "client", None)
        if client is not None:
            client.ping()
        elif hasattr(broker, "connection"):
            _ = broker.connection  # opens the AMQP connection if it is closed
        rt.store.ping()

    return ping


def _serve_metrics(settings: Settings, broker: dramatiq.Broker, rt: Runtime, queues: Sequence[str],
                   extra: dict[str, Callable[[], None]] | None = None) -> Any:
    from framefleet.metrics.server import QueueDepth, readiness, serve

    in_broker = queue_depth(broker)

    def waiting(queue: str) -> int:  # in the broker, and held in the tenants' lines (fair shares)
        return in_broker(queue) + (rt.store.held(queue) if queue != "webhooks" else 0)

    ready = readiness(_broker_ping(broker, rt), rt.storage.check, settings.ffmpeg, extra)
    try:
        return serve(settings.metrics_port, ready=ready,
                     collectors=[QueueDepth(waiting, list(QUEUES))])
    except OSError as exc:
        raise BadInput(f"metrics port {settings.metrics_port} is not free ({exc.strerror})") from None


def share_cores(settings: Settings, jobs: int, *, cores: int | None = None) -> Settings:
    """``settings`` with each render's ffmpeg sized for its share of the pod: the cores this process may
    use, divided among the ``jobs`` a worker runs at once (processes x threads), rounded up.

    Sized for the whole pod, two renders of a 4-CPU pod each ran x264 with 6 frame threads and decoded
    with 2 threads a clip: 12 encoder threads on 4 cores, each holding frames, for no more speed once
    the pod is busy. A fleet is sized to keep its pods busy, so the busy pod is the case to size for
    (measured on 2 cores, two renders at a time: 4 % more renders an hour and a fifth less memory each);
    a lone render on a pod then leaves cores idle. An explicit ``FRAMEFLEET_FFMPEG_CORES`` wins.
    """
    if settings.ffmpeg_cores or jobs <= 1:
        return settings
    share = max(1, math.ceil((cores or usable_cores()) / jobs))
    return dataclasses.replace(settings, ffmpeg_cores=share)


def _check_queues(queues: Sequence[str]) -> None:
    unknown = set(queues) - set(QUEUES)
    if unknown:
        raise BadInput(f"unknown queue(s) {', '.join(sorted(unknown))} (one of {', '.join(QUEUES)})")


def run_one(settings: Settings, *, queues: Sequence[str], threads: int, serve_metrics: bool = True,
            built: tuple[Runtime, dramatiq.Broker, Actors] | None = None) -> int:
    """Run one worker process until SIGTERM/SIGINT; returns the exit code. ``built`` is the process's
    runtime when the caller already built it (:func:`build_runtime`)."""
    _check_queues(queues)
    rt, broker, _ = built or build_runtime(settings)
    from framefleet.metrics.middleware import MessageMetrics

    broker.add_middleware(MessageMetrics())
    server = _serve_metrics(settings, broker, rt, queues) if serve_metrics else None
    # Webhooks get threads of their own, so a slow or dead endpoint never holds up a render.
    job_queues = set(queues) - {"webhooks"}
    pool = []
    if job_queues:
        jobs = dramatiq.Worker(broker, queues=job_queues, worker_threads=threads, worker_timeout=settings.poll_ms)
        jobs.queue_prefetch = threads  # one message per render thread: a busy worker holds nothing back
        pool.append(jobs)
    if "webhooks" in queues:
        pool.append(dramatiq.Worker(broker, queues={"webhooks"}, worker_threads=WEBHOOK_THREADS,
                                    worker_timeout=settings.poll_ms))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for worker in pool:
        worker.start()
    threading.Thread(target=_maintenance_loop, args=(rt, stop), daemon=True).start()
    released = sorted(job_queues)  # every queue but webhooks is a job queue (``_check_queues``)
    if released:
        threading.Thread(target=dispatcher.run, args=(rt, released, queue_depth(broker), stop), daemon=True,
                         name="dispatcher").start()
    log.info("worker %s consuming %s with %d thread(s)", rt.worker_id, ",".join(queues), threads)
    print(f"framefleet worker ready: queues={','.join(queues)} threads={threads}", file=sys.stderr, flush=True)
    # Wait in short steps, never indefinitely: the kernel may deliver SIGTERM to any thread, and Python runs
    # the handler only when the main thread runs again; a main thread blocked in one endless wait would
    # never notice it (seen: a worker that ignored SIGTERM until killed).
    while not stop.wait(0.2):
        pass
    grace = settings.shutdown_grace
    log.info("stopping: running jobs have %.0f s to finish", grace)
    # a worker that has not stopped well after its grace writes every thread's stack to stderr: what it
    # waits for is then in the pod's log, not a guess
    faulthandler.dump_traceback_later(grace + 15, exit=False)
    timer = threading.Timer(grace, rt.hand_back.set)
    timer.daemon = True
    timer.start()
    stoppers = [threading.Thread(target=w.stop, kwargs={"timeout": int((grace + 30) * 1000)}) for w in pool]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()
    timer.cancel()
    faulthandler.cancel_dump_traceback_later()
    if server is not None:
        server.shutdown()
    broker.close()
    return 0


def run(settings: Settings, *, queues: Sequence[str], processes: int, threads: int, child: bool = False) -> int:
    """``--processes 1`` runs here; more start that many children, keep that many running (a child that
    dies is replaced: :mod:`framefleet.worker.supervisor`) and relay signals to them.

    The first process of a pod owns the metrics: ``framefleet worker`` wiped the shared metrics folder
    before anything defined a metric (:func:`framefleet.metrics.setup.boot`), and this process serves the
    one exposition endpoint; children only write samples into the folder.
    """
    _check_queues(queues)
    if child:  # the parent wrote this process's share into its environment
        return run_one(settings, queues=queues, threads=threads, serve_metrics=False)
    renders = set(queues) - {"webhooks"}  # webhooks run on threads of their own and start no ffmpeg
    settings = share_cores(settings, processes * threads if renders else 1)
    if settings.ffmpeg_cores:
        log.info("each render's ffmpeg is sized for %d core(s)", settings.ffmpeg_cores)
    built = build_runtime(settings)  # builds no work folder: the sweep below sees only what others left
    rt, broker, _ = built
    sweep_leftovers(settings, rt.storage)
    if processes <= 1:
        return run_one(settings, queues=queues, threads=threads, built=built)
    args = [sys.executable, "-m", "framefleet", "worker", "--child", "--threads", str(threads),
            "--queues", *queues]
    env = {**os.environ, "FRAMEFLEET_FFMPEG_CORES": str(settings.ffmpeg_cores)}  # 0 still means "all"
    supervisor = Supervisor(args, processes, on_exit=mark_dead,
                            spawn=lambda argv: subprocess.Popen(list(argv), env=env))
    server = _serve_metrics(settings, broker, rt, queues, extra={"processes": supervisor.check})

    def relay(signum: int, _frame: Any) -> None:
        supervisor.stop()
        supervisor.signal(signum)

    signal.signal(signal.SIGTERM, relay)
    signal.signal(signal.SIGINT, relay)
    try:
        return supervisor.run()
    finally:
        server.shutdown()
