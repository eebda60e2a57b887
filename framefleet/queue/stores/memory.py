"""Jobs in a dict: for ``memory://`` (one process, the embedded worker) and fast tests."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from framefleet.queue.jobs import Job, JobStore, deltas


class MemoryJobStore(JobStore):
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._keys: dict[tuple[str, str], str] = {}
        self._counters: dict[str | None, dict[str, float]] = {}
        self._snoozed: dict[str, float] = {}
        self._lock = threading.RLock()

    def _count(self, before: Job | None, after: Job) -> None:
        for key, amount in deltas(before, after).items():
            for scope in (None, after.tenant):
                row = self._counters.setdefault(scope, {})
                row[key] = row.get(key, 0.0) + amount

    def create(self, job: Job) -> tuple[Job, bool]:
        with self._lock:
            if job.idempotency_key:
                existing_id = self._keys.get((job.tenant, job.idempotency_key))
                existing = self._jobs.get(existing_id) if existing_id else None
                if existing is not None and existing.status not in ("failed", "canceled"):
                    return copy.deepcopy(existing), False
                self._keys[(job.tenant, job.idempotency_key)] = job.id
            self._jobs[job.id] = copy.deepcopy(job)
            self._count(None, job)
            return copy.deepcopy(job), True

    def get(self, job_id: str, *, tenant: str | None = None) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or (tenant is not None and job.tenant != tenant):
                return None
            return copy.deepcopy(job)

    def update(self, job_id: str, **changes: Any) -> Job | None:
        def change(job: Job) -> bool:
            for key, value in changes.items():
                setattr(job, key, value)
            return True

        return self.modify(job_id, change)

    def transition(self, job_id: str, *, allowed: frozenset[str] | set[str], status: str,
                   lease_free: bool = False, **changes: Any) -> Job | None:
        def change(job: Job) -> bool:
            if job.status not in allowed or (lease_free and job.lease_until > time.time()):
                return False
            for key, value in {"status": status, **changes}.items():
                setattr(job, key, value)
            return True

        return self.modify(job_id, change)

    def modify(self, job_id: str, change: Callable[[Job], bool]) -> Job | None:
        with self._lock:
            current = self._jobs.get(job_id)
            if current is None:
                return None
            job = copy.deepcopy(current)
            if not change(job):
                return None
            self._jobs[job_id] = job
            self._count(current, job)
            return copy.deepcopy(job)

    def recent(self, *, tenant: str | None = None, limit: int = 100) -> list[Job]:
        with self._lock:
            jobs = [j for j in self._jobs.values() if tenant is None or j.tenant == tenant]
            return [copy.deepcopy(j) for j in sorted(jobs, key=lambda j: j.created_at, reverse=True)[:limit]]

    def counters(self, *, tenant: str | None = None) -> dict[str, float]:
        with self._lock:
            return dict(self._counters.get(tenant, {}))

    def queued_before(self, cutoff: float, *, limit: int) -> list[str]:
        with self._lock:
            old = sorted((j.created_at, j.id) for j in self._jobs.values()
                         if j.status == "queued" and j.created_at < cutoff)
            return [job_id for _, job_id in old[:limit]]

    def lapsed(self, now: float, *, snooze: float, limit: int) -> list[str]:
        with self._lock:
            found = [j.id for j in self._jobs.values() if j.status == "processing"
                     and max(j.lease_until, self._snoozed.get(j.id, 0.0)) < now][:limit]
            for job_id in found:
                self._snoozed[job_id] = now + snooze
            return found

    def ping(self) -> None:
        return None
