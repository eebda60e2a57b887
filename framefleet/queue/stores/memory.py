"""Jobs in a dict: for ``memory://`` (one process, the embedded worker) and fast tests."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from framefleet.queue.jobs import Job, JobStore


class MemoryJobStore(JobStore):
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._keys: dict[tuple[str, str], str] = {}
        self._lock = threading.RLock()

    def create(self, job: Job) -> tuple[Job, bool]:
        with self._lock:
            if job.idempotency_key:
                existing_id = self._keys.get((job.tenant, job.idempotency_key))
                existing = self._jobs.get(existing_id) if existing_id else None
                if existing is not None and existing.status not in ("failed", "canceled"):
                    return copy.deepcopy(existing), False
                self._keys[(job.tenant, job.idempotency_key)] = job.id
            self._jobs[job.id] = copy.deepcopy(job)
            return copy.deepcopy(job), True

    def get(self, job_id: str, *, tenant: str | None = None) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or (tenant is not None and job.tenant != tenant):
                return None
            return copy.deepcopy(job)

    def update(self, job_id: str, **changes: Any) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            for key, value in changes.items():
                setattr(job, key, value)
            return copy.deepcopy(job)

    def transition(self, job_id: str, *, allowed: frozenset[str] | set[str], status: str,
                   lease_free: bool = False, **changes: Any) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status not in allowed or (lease_free and job.lease_until > time.time()):
                return None
            return self.update(job_id, status=status, **changes)

    def modify(self, job_id: str, change: Callable[[Job], bool]) -> Job | None:
        with self._lock:
            current = self._jobs.get(job_id)
            if current is None:
                return None
            job = copy.deepcopy(current)
            if not change(job):
                return None
            self._jobs[job_id] = job
            return copy.deepcopy(job)

    def recent(self, *, tenant: str | None = None, limit: int = 100) -> list[Job]:
        with self._lock:
            jobs = [j for j in self._jobs.values() if tenant is None or j.tenant == tenant]
            return [copy.deepcopy(j) for j in sorted(jobs, key=lambda j: j.created_at, reverse=True)[:limit]]

    def ping(self) -> None:
        return None
