"""The supervisor keeps a pod's worker processes running, with real child processes and a real fleet."""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from framefleet.client import Client
from framefleet.config import Settings
from framefleet.threads import usable_cores
from framefleet.worker import supervisor as sup
from framefleet.worker.process import share_cores
from tests.fleettools import Worker, wait_until
from tests.proctree import alive, descendants

SLEEPER = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, lambda *a: exit(0)); "
                                 "[time.sleep(1) for _ in range(600)]"]


def test_a_dead_child_is_replaced_and_readiness_says_so_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sup, "MIN_BACKOFF", 2.0)  # long enough to see the pod not ready
    exits: list[int] = []
    supervisor = sup.Supervisor(SLEEPER, 2, on_exit=exits.append)
    runner = threading.Thread(target=supervisor.run, daemon=True)
    runner.start()
    first = wait_until(lambda: len(supervisor.pids()) == 2 and supervisor.pids(), 10, "two children")
    supervisor.check()  # ready: both run

    os.kill(first[0], signal.SIGKILL)
    wait_until(lambda: exits, 5, "the death to be noticed")
    assert exits == [first[0]]  # its metrics are marked dead
    with pytest.raises(RuntimeError, match="1 of 2 worker processes running"):
        supervisor.check()  # for the 2 s of backoff
    now = wait_until(lambda: len(supervisor.pids()) == 2 and supervisor.pids(), 10, "a replacement")
    assert first[1] in now and first[0] not in now
    supervisor.check()

    supervisor.stop()
    supervisor.signal(signal.SIGTERM)
    runner.join(10)
    assert not runner.is_alive() and not any(alive(pid) for pid in now)


def test_a_child_that_keeps_dying_backs_off() -> None:
    crasher = [sys.executable, "-c", "raise SystemExit(3)"]
    supervisor = sup.Supervisor(crasher, 1)
    runner = threading.Thread(target=supervisor.run, daemon=True)
    runner.start()
    wait_until(lambda: supervisor.slots[0].backoff >= 4.0, 20, "the backoff to grow")
    slot = supervisor.slots[0]
    assert slot.restarts <= 4  # 1 + 2 + 4 s of waiting, not hundreds of restarts
    supervisor.stop()
    runner.join(10)
    assert not runner.is_alive()


@pytest.mark.parametrize(("cores", "jobs", "share"), [(4, 2, 2), (4, 3, 2), (2, 2, 1), (2, 5, 1), (64, 2, 32),
                                                      (16, 1, 0)])
def test_each_render_is_sized_for_its_share_of_the_pod(cores: int, jobs: int, share: int) -> None:
    """A pod running ``jobs`` renders at once gives each the cores divided among them, rounded up; one
    job at a time keeps the default (0: every core this process may use)."""
    assert share_cores(Settings(), jobs, cores=cores).ffmpeg_cores == share


def test_an_explicit_core_count_is_kept() -> None:
    assert share_cores(Settings(ffmpeg_cores=3), 4, cores=16).ffmpeg_cores == 3


def ffmpeg_cores_of(pid: int) -> bytes | None:
    for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        if entry.startswith(b"FRAMEFLEET_FFMPEG_CORES="):
            return entry.split(b"=", 1)[1]
    return None


def children(worker: Worker) -> list[int]:
    found = []
    for pid in descendants(worker.pid):
        try:
            if b"--child" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def test_a_fleet_pod_replaces_a_killed_worker_process(fleet_env: dict[str, str], workers: list[Worker],
                                                      media: Path) -> None:
    worker = Worker(fleet_env, processes=2)
    workers.append(worker)
    before = wait_until(lambda: len(children(worker)) == 2 and children(worker), 30, "two worker processes")
    os.kill(before[0], signal.SIGKILL)
    after = wait_until(lambda: len(children(worker)) == 2 and before[0] not in children(worker) and children(worker),
                  30, "a replacement worker process")
    assert before[1] in after
    share = str(math.ceil(usable_cores() / 2)).encode()  # two processes of one job each share the pod
    assert [ffmpeg_cores_of(pid) for pid in after] == [share, share]

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{worker.metrics_port}/readyz", timeout=5) as r:
                return bool(json.loads(r.read())["checks"]["processes"] == "ok")
        except urllib.error.HTTPError:
            return False

    wait_until(ready, 15, "the pod to be ready again")
    spec = {"output": {"width": 320, "height": 240},
            "tracks": [{"clips": [{"type": "video", "src": str(media / "red.mp4"), "length": 1}]}]}
    with Client(Settings.from_env(fleet_env)) as c:
        done = [c.wait(c.submit(spec)["id"], timeout=60) for _ in range(3)]
    assert [d["status"] for d in done] == ["completed"] * 3
