"""Running a batch of independent jobs on a few threads, sized to the cores this process may really use.

Used where the work lets go of the GIL or waits on something else: downloads and the ffprobe that follows
each, caption pictures (Pillow draws and encodes partly outside the GIL).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TypeVar

J = TypeVar("J")
R = TypeVar("R")

CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cores(cpu_max: Path = CPU_MAX) -> int:
    """The cores this process may keep busy: its CPU affinity, capped by a cgroup v2 CPU quota (a pod's
    ``limits.cpu``), which ``os.cpu_count`` ignores: a 2-CPU pod on a 64-core node sees 64."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota to read: the affinity stands
    return cores


def each(work: Callable[[J], R], jobs: Sequence[J], *, threads: int,
         on_error: Callable[[], None] | None = None) -> list[R]:
    """``work`` on every job, on up to ``threads`` threads; the results in the jobs' order.

    The first error stops the jobs not yet started, calls ``on_error`` (to tell the running ones to
    stop), and is raised once the running ones have ended: no thread outlives the call.
    """
    threads = min(threads, len(jobs))
    if threads <= 1:
        return [work(job) for job in jobs]
    pool = ThreadPoolExecutor(threads, thread_name_prefix="each")
    try:
        futures = [pool.submit(work, job) for job in jobs]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)  # the first failure, wherever it is
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is not None:
            pool.shutdown(wait=False, cancel_futures=True)
            if on_error is not None:
                on_error()
            failed.result()  # raises it
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=True)
