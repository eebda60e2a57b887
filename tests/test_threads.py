"""Batches of jobs on threads: sized to the CPU quota, results in order, and the first error ends the batch."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from framefleet.threads import each, usable_cores


@pytest.mark.parametrize(("cpu_max", "cap"), [("150000 100000\n", 2), ("50000 100000\n", 1), ("max 100000\n", None),
                                              ("garbage\n", None), (None, None)])
def test_usable_cores_follow_the_cgroup_quota(tmp_path: Path, cpu_max: str | None, cap: int | None) -> None:
    file = tmp_path / "cpu.max"
    if cpu_max is not None:
        file.write_text(cpu_max)
    affinity = len(os.sched_getaffinity(0))
    assert usable_cores(file) == (affinity if cap is None else min(cap, affinity))


def test_every_job_runs_once_and_results_keep_the_jobs_order() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def square(n: int) -> int:
        with lock:
            seen.append(n)
        return n * n

    assert each(square, list(range(500)), threads=4) == [n * n for n in range(500)]
    assert sorted(seen) == list(range(500))


def test_the_first_error_stops_the_running_jobs_and_is_raised_when_they_have_ended() -> None:
    """Job 0 runs until told to stop; job 1 fails at once. The failure is seen while job 0 still runs
    (not when its turn comes in order), ``on_error`` stops it, and ``each`` returns only after it ended."""
    stop, ended = threading.Event(), threading.Event()

    def work(n: int) -> int:
        if n == 0:
            assert stop.wait(30), "never told to stop"
            ended.set()
            return 0
        if n == 1:
            raise ValueError("bad source")
        return n

    with pytest.raises(ValueError, match="bad source"):
        each(work, list(range(50)), threads=2, on_error=stop.set)
    assert ended.is_set()


def test_one_thread_runs_the_jobs_in_order_on_the_caller_s_thread() -> None:
    names: list[str] = []
    each(lambda n: names.append(threading.current_thread().name), [1, 2, 3], threads=1)
    assert names == [threading.current_thread().name] * 3
