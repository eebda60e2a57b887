"""The job-store contract, run against the in-memory store and a real Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from framefleet.queue.jobs import Job, JobStore, new_id
from framefleet.queue.stores.memory import MemoryJobStore
from framefleet.queue.stores.redis import RedisJobStore


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[JobStore]:
    if request.param == "memory":
        yield MemoryJobStore()
    else:
        yield RedisJobStore.from_url(request.getfixturevalue("redis_url"))


def job(tenant: str = "acme", **kw: object) -> Job:
    fields: dict[str, object] = {"type": "render", "payload": {"spec": {}}, **kw}
    return Job(id=new_id(), tenant=tenant, **fields)  # type: ignore[arg-type]


def test_create_get_and_tenant_scoping(store: JobStore) -> None:
    j, created = store.create(job(metadata={"ref": "post-123"}))
    assert created
    assert store.get(j.id) is not None
    assert store.get(j.id, tenant="acme").metadata == {"ref": "post-123"}  # type: ignore[union-attr]
    assert store.get(j.id, tenant="other") is None
    public = store.get(j.id).public()  # type: ignore[union-attr]
    assert set(public) == {"id", "type", "tenant", "status", "progress", "stage", "created_at", "started_at",
                           "finished_at", "attempts", "result", "error", "metadata", "idempotency_key"}
    assert public["status"] == "queued" and public["created_at"].endswith("Z")


def test_idempotency_key_returns_the_same_job_unless_it_failed(store: JobStore) -> None:
    first, _ = store.create(job(idempotency_key="k1"))
    again, created = store.create(job(idempotency_key="k1"))
    assert not created and again.id == first.id
    other_tenant, created = store.create(job(tenant="globex", idempotency_key="k1"))
    assert created and other_tenant.id != first.id
    store.finish(first.id, "failed", error={"code": "internal", "message": "x"})
    retry, created = store.create(job(idempotency_key="k1"))
    assert created and retry.id != first.id


def test_transitions_are_compare_and_set(store: JobStore) -> None:
    j, _ = store.create(job())
    assert store.start(j.id).status == "processing"  # type: ignore[union-attr]
    assert store.finish(j.id, "completed", result={"url": "u"}) is not None
    assert store.finish(j.id, "failed") is None  # a finished job stays finished
    assert store.get(j.id).result == {"url": "u"}  # type: ignore[union-attr]


def test_only_one_of_racing_workers_wins(store: JobStore) -> None:
    j, _ = store.create(job())
    store.start(j.id)
    wins = []

    def race() -> None:
        if store.finish(j.id, "completed") is not None:
            wins.append(1)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


def test_usage_and_listing(store: JobStore) -> None:
    for _ in range(3):
        j, _ = store.create(job())
        store.start(j.id)
        store.finish(j.id, "completed", output_seconds=2.5)
    store.create(job(tenant="globex"))
    usage = store.usage(tenant="acme")
    assert usage["by_status"]["completed"] == 3 and usage["output_seconds"] == 7.5
    assert usage["by_status"]["queued"] == 0 and usage["by_status"]["processing"] == 0
    assert usage["by_type"] == {"render": 3}
    assert store.usage()["jobs"] == 4 and store.usage()["by_status"]["queued"] == 1
    listed = store.recent(tenant="acme")
    assert len(listed) == 3 and listed[0].created_at >= listed[-1].created_at


def test_usage_counts_each_transition_once(store: JobStore) -> None:
    """Counters move with the status: a re-finish, a retry back to queued and a generation's usage."""
    j, _ = store.create(job(type="speech_from_text"))
    store.start(j.id)
    store.transition(j.id, allowed={"processing"}, status="queued")  # a transient retry
    store.start(j.id)
    store.update(j.id, usage={"provider": "local", "model": "espeak-ng", "characters": 120})
    store.finish(j.id, "completed")
    assert store.finish(j.id, "failed") is None  # no second end, no second count
    usage = store.usage(tenant="acme")
    assert usage["by_status"] == {"queued": 0, "processing": 0, "completed": 1, "failed": 0, "canceled": 0,
                                  "expired": 0}
    assert usage["generation"] == {"speech_from_text": {"local": {"jobs": 1, "characters": 120}}}


def test_old_queued_jobs_are_found_by_index_oldest_first(store: JobStore) -> None:
    older, _ = store.create(job(created_at=time.time() - 2000))
    old, _ = store.create(job(created_at=time.time() - 1000))
    store.create(job())
    started, _ = store.create(job(created_at=time.time() - 3000))
    store.start(started.id)  # no longer queued: not a candidate
    assert store.queued_before(time.time() - 500, limit=10) == [older.id, old.id]
    assert store.queued_before(time.time() - 500, limit=1) == [older.id]


def test_lapsed_leases_go_to_one_sweeper_at_a_time(store: JobStore) -> None:
    j, _ = store.create(job())
    store.start(j.id, worker="host:1", lease=0.01)
    live, _ = store.create(job())
    store.start(live.id, worker="host:2", lease=60)
    now = time.time() + 0.05
    assert store.lapsed(now, snooze=30, limit=10) == [j.id]
    assert store.lapsed(now, snooze=30, limit=10) == []  # another sweeper finds nothing until the snooze ends
    assert store.lapsed(now + 31, snooze=30, limit=10) == [j.id]
    store.finish(j.id, "failed")
    assert store.lapsed(now + 100, snooze=30, limit=10) == [live.id]  # finished jobs leave the index


def test_only_a_dead_worker_s_lease_counts_as_a_death(store: JobStore) -> None:
    j, _ = store.create(job())
    store.start(j.id, worker="host:1", lease=60)
    assert store.start(j.id, worker="host:2") is None  # held by a live worker
    store.update(j.id, lease_until=time.time() - 1)  # host:1 stopped renewing it
    taken = store.start(j.id, worker="host:2")
    assert taken is not None and taken.deaths == 1 and taken.attempts == 2 and taken.worker == "host:2"
    store.update(j.id, worker=None, lease_until=0.0)  # parked by its worker: let go, not dead
    again = store.start(j.id, worker="host:3")
    assert again is not None and again.deaths == 1


def test_only_one_worker_can_start_a_job(store: JobStore) -> None:
    j, _ = store.create(job())
    winners = []

    def start(name: str) -> None:
        if store.start(j.id, worker=name, lease=30) is not None:
            winners.append(name)

    threads = [threading.Thread(target=start, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and store.get(j.id).worker == winners[0]  # type: ignore[union-attr]
    store.update(j.id, lease_until=time.time() - 1)  # its worker died: the lease ran out
    assert store.start(j.id, worker="rescuer") is not None
    assert store.get(j.id).attempts == 2  # type: ignore[union-attr]


def test_job_fields_have_documented_limits() -> None:
    from framefleet.config import Limits
    from framefleet.errors import SpecError
    from framefleet.queue.jobs import check_fields

    limits = Limits()
    check_fields(tenant="acme-prod_2.eu", idempotency_key="order-123 / retry #2", metadata={"ref": [1, {"a": 2}]},
                 limits=limits)
    refused = [({"tenant": ""}, "tenant"), ({"tenant": "."}, "tenant"), ({"tenant": "a" * 65}, "tenant"),
               ({"tenant": "a/b"}, "tenant"), ({"tenant": "caf\u00e9"}, "tenant"),
               ({"idempotency_key": ""}, "idempotency_key"), ({"idempotency_key": "\u00e9"}, "idempotency_key"),
               ({"metadata": ["not", "an", "object"]}, "metadata"), ({"metadata": {"x": float("nan")}}, "metadata.x"),
               ({"metadata": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}}, "metadata.a")]
    for change, path in refused:
        fields = {"tenant": "acme", "idempotency_key": None, "metadata": None, **change}
        with pytest.raises(SpecError) as caught:
            check_fields(**fields, limits=limits)
        assert caught.value.problems[0].path.startswith(path), (change, caught.value.problems)
        assert caught.value.message.startswith("invalid job: ")


def test_generation_usage_is_summed_by_type_and_provider(store: JobStore) -> None:
    consumed = [("speech_from_text", {"provider": "openai", "model": "tts-1", "characters": 120}),
                ("speech_from_text", {"provider": "openai", "model": "tts-1", "characters": 30}),
                ("speech_from_text", {"provider": "local", "model": "espeak-ng", "characters": 5}),
                ("captions", {"provider": "local", "model": "pocketsphinx", "audio_seconds": 12.25})]
    for kind, usage in consumed:
        j, _ = store.create(replace(job(), type=kind))
        store.start(j.id)
        store.update(j.id, usage=usage)
        done = store.finish(j.id, "completed")
        assert done is not None and done.public()["usage"] == usage
    store.create(replace(job(tenant="globex"), type="text"))
    assert store.usage(tenant="acme")["generation"] == {
        "speech_from_text": {"openai": {"jobs": 2, "characters": 150}, "local": {"jobs": 1, "characters": 5}},
        "captions": {"local": {"jobs": 1, "audio_seconds": 12.25}}}
    assert store.usage(tenant="globex")["generation"] == {}


def test_held_jobs_are_released_in_turns_between_tenants(store: JobStore) -> None:
    backlog = [store.create(job(tenant="big"), hold=True)[0].id for _ in range(6)]
    assert store.held("render") == 6
    first = store.release("render", room=2, cap=0)
    assert first == backlog[:2]  # one tenant waiting: its line in order
    small = store.create(job(tenant="small"), hold=True)[0].id
    nxt = store.release("render", room=2, cap=0)
    assert nxt[0] == small and nxt[1] == backlog[2]  # the tenant never served goes first, then turns
    other = store.create(job(tenant="third"), hold=True)[0].id
    later = store.release("render", room=3, cap=0)
    assert later == [other, backlog[3], backlog[4]]
    assert store.held("render") == 1 and store.release("generate", room=5, cap=0) == []


def test_a_tenant_at_its_cap_waits_while_others_go(store: JobStore) -> None:
    big = [store.create(job(tenant="big"), hold=True)[0].id for _ in range(4)]
    small = store.create(job(tenant="small"), hold=True)[0].id
    assert store.release("render", room=10, cap=2) == [big[0], small, big[1]]  # big: two released, its cap
    store.start(big[0])  # started: it counts as running now, not released
    assert store.release("render", room=10, cap=2) == []
    store.finish(big[0], "completed")
    assert store.release("render", room=10, cap=2) == [big[2]]


def test_canceled_held_jobs_are_skipped_and_lost_releases_come_back(store: JobStore) -> None:
    gone, kept = (store.create(job(tenant="t"), hold=True)[0].id for _ in range(2))
    store.finish(gone, "canceled")
    assert store.release("render", room=5, cap=0) == [kept]
    assert store.held("render") == 0
    assert store.stale_releases(time.time() - 60, limit=10) == []
    assert store.stale_releases(time.time() + 1, limit=10) == [kept]  # released, never started
    assert store.stale_releases(time.time() - 1, limit=10) == []  # re-stamped: once per wait
    store.start(kept)
    assert store.stale_releases(time.time() + 100, limit=10) == []
