"""Fair shares between tenants through a real fleet (redis-server, moto's S3, worker subprocesses): one
tenant's backlog does not hold back another tenant's job, and a tenant's concurrency cap holds."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from framefleet.client import Client
from framefleet.config import Settings
from framefleet.queue.stores import open_store
from tests.fleettools import Worker


def spec(media: Path) -> dict[str, Any]:
    return {"output": {"width": 160, "height": 120},
            "tracks": [{"clips": [{"type": "video", "src": str(media / "red.mp4"), "length": 1.0}]}]}


def test_a_new_tenant_does_not_wait_behind_another_tenant_s_backlog(fleet_env: dict[str, str],
                                                                    workers: list[Worker], media: Path) -> None:
    workers.append(Worker(fleet_env, "render"))
    store = open_store(fleet_env["FRAMEFLEET_BROKER_URL"])
    with Client(Settings.from_env(fleet_env)) as c:
        backlog = [c.submit(spec(media), tenant="big")["id"] for _ in range(12)]
        newcomer = c.submit(spec(media), tenant="small")["id"]
        done = [c.wait(job_id, timeout=180) for job_id in [*backlog, newcomer]]
    assert all(d["status"] == "completed" for d in done)
    started = {job_id: store.get(job_id).started_at for job_id in [*backlog, newcomer]}  # type: ignore[union-attr]
    ahead = [job_id for job_id in backlog if started[job_id] < started[newcomer]]
    # released at the next turn, behind at most the jobs already released (FRAMEFLEET_DISPATCH_AHEAD = 2)
    # and the one running: not behind the whole backlog, as a first-in-first-out queue would have it
    assert len(ahead) <= 4, f"{len(ahead)} of the backlog's jobs started before the newcomer's"


def test_a_tenant_s_concurrency_cap_holds_across_worker_threads(fleet_env: dict[str, str],
                                                                workers: list[Worker], media: Path) -> None:
    env = {**fleet_env, "FRAMEFLEET_TENANT_CONCURRENCY": "1"}
    workers.append(Worker(env, "render", threads=2))
    store = open_store(env["FRAMEFLEET_BROKER_URL"])
    with Client(Settings.from_env(env)) as c:
        capped = [c.submit(spec(media), tenant="capped")["id"] for _ in range(4)]
        other = [c.submit(spec(media), tenant="other")["id"] for _ in range(2)]
        done = [c.wait(job_id, timeout=180) for job_id in [*capped, *other]]
    assert all(d["status"] == "completed" for d in done)
    spans = sorted((store.get(j).started_at, store.get(j).finished_at) for j in capped)  # type: ignore[union-attr]
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end - 0.05, "two jobs of a tenant capped at 1 ran at once"
