"""The one way a job ends, and the one retry policy: fast tests in one process (memory store, local storage).

The same rules under real processes (SIGKILL, SIGTERM, Redis restarts) are in ``test_fleet.py`` and the
chaos soak; these pin the decisions themselves.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from framefleet import policy
from framefleet.config import Settings
from framefleet.errors import StorageError
from framefleet.metrics import definitions as m
from framefleet.queue.jobs import Job, new_id
from framefleet.queue.stores.memory import MemoryJobStore
from framefleet.storage.local import LocalStorage
from framefleet.worker import endings
from framefleet.worker.lifecycle import Watch, claim, run_job, sweep
from framefleet.worker.runtime import Runtime


class Flaky(MemoryJobStore):
    """A store that cannot be reached for its first ``outage`` writes (a Redis restart)."""

    unavailable = (ConnectionError,)

    def __init__(self, outage: int) -> None:
        super().__init__()
        self.outage = outage

    def transition(self, *args: Any, **kwargs: Any) -> Job | None:
        if self.outage > 0:
            self.outage -= 1
            raise ConnectionError("Connection refused")
        return super().transition(*args, **kwargs)


def runtime(tmp_path: Path, store: MemoryJobStore | None = None) -> tuple[Runtime, list[tuple[str, str]]]:
    sent: list[tuple[str, str]] = []
    rt = Runtime(Settings(webhook_secret="s", job_ttl=60, cache_dir=tmp_path / "cache"), store or MemoryJobStore(),
                 LocalStorage(tmp_path / "out"))
    rt.notify = lambda url, body: sent.append((url, body))
    rt.enqueue = lambda queue, job_id, delay=None: None
    return rt, sent


def new(rt: Runtime, **fields: Any) -> Job:
    job, _ = rt.store.create(Job(id=new_id(), type="render", tenant="t", payload={},
                                 webhook_url="https://example.com/h", **fields))
    return job


def count(status: str) -> float:
    return m.JOBS.labels("render", status)._value.get()  # type: ignore[no-any-return]


def test_a_job_canceled_while_queued_is_counted_and_told(tmp_path: Path) -> None:
    rt, sent = runtime(tmp_path)
    job = new(rt)
    before = count("canceled")
    done = endings.cancel(rt, job.id, tenant="t")
    assert done is not None and done.status == "canceled" and done.error == {"code": "canceled",
                                                                            "message": "the job was canceled"}
    assert count("canceled") == before + 1
    assert [json.loads(body)["type"] for _, body in sent] == ["job.canceled"]
    assert endings.cancel(rt, job.id, tenant="t").status == "canceled"  # type: ignore[union-attr]
    assert len(sent) == 1 and count("canceled") == before + 1  # a second cancel ends nothing again
    assert endings.cancel(rt, job.id, tenant="other") is None


def test_a_terminal_write_is_retried_until_it_lands(tmp_path: Path) -> None:
    rt, sent = runtime(tmp_path, Flaky(outage=3))
    job = new(rt)
    rt.store.start(job.id, worker="w")
    done = endings.end(rt, job.id, result={"url": "u"}, output_seconds=1.0)
    assert done is not None and done.status == "completed"
    assert rt.store.get(job.id).status == "completed"  # type: ignore[union-attr]
    assert len(sent) == 1


def test_transient_failures_are_retried_then_fail_with_their_own_error(tmp_path: Path) -> None:
    rt, _ = runtime(tmp_path)
    job = new(rt)

    def body(job: Job, watch: Watch, work: Path) -> None:
        raise StorageError("result could not be uploaded", detail="connection refused")

    for _ in range(policy.JOB_RETRIES):  # each retry puts the job back to queued; none is a death
        with pytest.raises(StorageError):
            run_job(rt, job.id, body, what="render", last_try=False)
        assert rt.store.get(job.id).status == "queued"  # type: ignore[union-attr]
    run_job(rt, job.id, body, what="render", last_try=True)
    done = rt.store.get(job.id)
    assert done is not None and done.status == "failed" and done.deaths == 0
    assert done.attempts == policy.JOB_RETRIES + 1
    assert done.error == {"code": "internal", "message": "result could not be uploaded"}  # not "abandoned"


def test_only_worker_deaths_lead_to_abandonment(tmp_path: Path) -> None:
    rt, sent = runtime(tmp_path)
    job = new(rt)
    for death in range(policy.MAX_DEATHS):
        started = claim(rt, job.id)
        assert started is not None and started.deaths == death
        rt.store.update(job.id, lease_until=time.time() - 1)  # its worker died without a word
    assert claim(rt, job.id) is None  # its workers died MAX_DEATHS times: given up
    done = rt.store.get(job.id)
    assert done is not None and done.status == "failed" and done.error is not None
    assert "abandoned" in done.error["message"] and done.error["code"] == "internal"
    assert json.loads(sent[-1][1])["type"] == "job.failed"


def test_the_lease_sweep_sends_a_dead_worker_s_job_again(tmp_path: Path) -> None:
    rt, _ = runtime(tmp_path)
    sent: list[tuple[str, str]] = []
    rt.enqueue = lambda queue, job_id, delay=None: sent.append((queue, job_id))
    dead, live = new(rt), new(rt)
    rt.store.start(dead.id, worker="host:1", lease=0.01)
    rt.store.start(live.id, worker="host:2", lease=60)
    deadline = time.monotonic() + 5
    while not sweep(rt):
        assert time.monotonic() < deadline, "the lapsed lease was never swept"
        time.sleep(0.01)  # waiting for a 10 ms lease to run out
    assert sent == [("render", dead.id)]
    assert sweep(rt) == []  # snoozed: other sweepers do not send it again within a lease
