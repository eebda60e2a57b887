"""``RedisJobStore.load``, the bulk writer of the state benchmark and of imports: what it leaves in Redis
must be exactly what ``create`` and the transitions after it leave, or every figure taken on a bulk-loaded
store (usage counters, the queued and leases indexes) would be measured on a state the fleet never has."""

from __future__ import annotations

import time

import redis

from framefleet.queue.jobs import Job, JobStatus, new_id
from framefleet.queue.stores.redis import RedisJobStore


def through_the_fleet(store: RedisJobStore) -> list[str]:
    """Jobs in every status, of two tenants and two types, written the way workers write them."""
    ids = []
    for n, end in enumerate(["queued", "processing", "completed", "completed", "failed", "canceled", "expired",
                             "completed", "queued", "processing"]):
        job_type = "speech_from_text" if n % 4 == 3 else "render"
        job, _ = store.create(Job(id=new_id(), type=job_type, tenant=f"t{n % 2}", payload={"n": n},
                                  idempotency_key=f"key-{n}" if n % 3 == 0 else None))
        ids.append(job.id)
        if end == "queued":
            continue
        store.start(job.id, worker="w:1", lease=30)
        if end == "processing":
            continue
        if job_type != "render":
            store.update(job.id, usage={"provider": "espeak", "model": "m", "characters": 12 + n})
        store.finish(job.id, end, output_seconds=2.5 + n if end == "completed" else 0.0,
                     error=None if end == "completed" else {"code": "bad_media", "message": "not a video"})
    return ids


def state(r: redis.Redis, ns: str) -> dict[str, object]:
    """Everything the store keeps, with the namespace taken out so two namespaces compare."""
    out: dict[str, object] = {}
    for key in r.scan_iter(f"{ns}:*"):
        name, kind = str(key)[len(ns) + 1:], r.type(key)
        if kind == "string":
            out[name] = (r.get(key), r.ttl(key) > 0)
        elif kind == "zset":
            out[name] = r.zrange(key, 0, -1, withscores=True)
        elif kind == "hash":
            out[name] = {k: round(float(v), 6) for k, v in r.hgetall(key).items() if float(v)}
    return out


def test_load_writes_what_create_and_transitions_write(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    fleet, bulk = RedisJobStore(r, namespace="fleet"), RedisJobStore(r, namespace="bulk")
    ids = through_the_fleet(fleet)

    jobs = [fleet.get(i) for i in ids]
    assert bulk.load((j for j in jobs if j is not None), batch=3) == len(ids)

    assert state(r, "bulk") == state(r, "fleet")
    usage = bulk.usage()
    assert usage["by_status"] == {"queued": 2, "processing": 2, "completed": 3, "failed": 1, "canceled": 1,
                                  "expired": 1}
    assert usage["generation"]["speech_from_text"]["espeak"] == {"jobs": 2, "characters": 12 + 3 + 12 + 7}
    assert bulk.queued_before(time.time() + 1, limit=10) == [ids[0], ids[8]]
    assert sorted(bulk.lapsed(time.time() + 60, snooze=30, limit=10)) == sorted([ids[1], ids[9]])
    loaded = bulk.get(ids[2])
    assert loaded is not None and loaded == fleet.get(ids[2]) and loaded.status == JobStatus.COMPLETED
