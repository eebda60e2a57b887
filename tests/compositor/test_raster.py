"""Drawing many pictures on threads: as many as the machine's quota allows, and an error ends the batch."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from framefleet.compositor import raster


@pytest.mark.parametrize(("cpu_max", "cap"), [("150000 100000\n", 2), ("50000 100000\n", 1), ("max 100000\n", None),
                                              ("garbage\n", None), (None, None)])
def test_usable_cores_follow_the_cgroup_quota(tmp_path: Path, cpu_max: str | None, cap: int | None) -> None:
    file = tmp_path / "cpu.max"
    if cpu_max is not None:
        file.write_text(cpu_max)
    affinity = len(os.sched_getaffinity(0))
    assert raster.usable_cores(file) == (affinity if cap is None else min(cap, affinity))


def test_every_job_runs_once() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        with lock:
            seen.append(n)

    raster._each(work, list(range(500)))
    assert sorted(seen) == list(range(500))


def test_an_error_is_raised_and_no_job_outlives_the_batch() -> None:
    running = 0
    lock = threading.Lock()

    def work(n: int) -> None:
        nonlocal running
        with lock:
            running += 1
        try:
            if n == 3:
                raise ValueError("bad picture")
        finally:
            with lock:
                running -= 1

    with pytest.raises(ValueError, match="bad picture"):
        raster._each(work, list(range(2000)))
    assert running == 0
