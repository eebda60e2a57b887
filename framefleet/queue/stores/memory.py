"""Jobs in a dict: for ``memory://`` (one process, the embedded worker) and fast tests."""

from __future__ import annotations

import collections
import copy
import threading
import time
from collections.abc import Callable

from framefleet.queue.jobs import Job, JobStore, deltas


class MemoryJobStore(JobStore):
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._keys: dict[tuple[str, str], str] = {}
        self._counters: dict[str | None, dict[str, float]] = {}
        self._snoozed: dict[str, float] = {}
        #: Fair shares: each (queue, tenant) line of held jobs, each queue's turn order (tenant → the turn
        #: it was last served; 0: never), and the released jobs not started yet (job → tenant, when).
        self._lines: dict[tuple[str, str], collections.deque[str]] = {}
        self._turns: dict[str, dict[str, int]] = {}
        self._turn = 0
        self._released: dict[str, tuple[str, float]] = {}
        self._lock = threading.RLock()

    def _count(self, before: Job | None, after: Job) -> None:
        for key, amount in deltas(before, after).items():
            for scope in (None, after.tenant):
                row = self._counters.setdefault(scope, {})
                row[key] = row.get(key, 0.0) + amount
        if before is not None and before.status == "queued" and after.status != "queued":
            self._released.pop(after.id, None)

    def create(self, job: Job, *, hold: bool = False) -> tuple[Job, bool]:
        with self._lock:
            if job.idempotency_key:
                existing_id = self._keys.get((job.tenant, job.idempotency_key))
                existing = self._jobs.get(existing_id) if existing_id else None
                if existing is not None and existing.status not in ("failed", "canceled"):
                    return copy.deepcopy(existing), False
                self._keys[(job.tenant, job.idempotency_key)] = job.id
            self._jobs[job.id] = copy.deepcopy(job)
            self._count(None, job)
            if hold:
                self._lines.setdefault((job.queue, job.tenant), collections.deque()).append(job.id)
                self._turns.setdefault(job.queue, {}).setdefault(job.tenant, 0)
            return copy.deepcopy(job), True

    def release(self, queue: str, *, room: int, cap: int) -> list[str]:
        with self._lock:
            taken: list[str] = []
            turns = self._turns.setdefault(queue, {})
            progress = True
            while len(taken) < room and turns and progress:
                progress = False
                for tenant in sorted(turns, key=turns.__getitem__):
                    if len(taken) >= room:
                        break
                    running = self._counters.get(tenant, {}).get("status:processing", 0.0)
                    released = sum(1 for t, _ in self._released.values() if t == tenant)
                    if cap > 0 and running + released >= cap:
                        continue
                    line = self._lines.get((queue, tenant), collections.deque())
                    while line:
                        job_id = line.popleft()
                        job = self._jobs.get(job_id)
                        if job is not None and job.status == "queued":
                            taken.append(job_id)
                            self._released[job_id] = (tenant, time.time())
                            self._turn += 1
                            turns[tenant] = self._turn
                            progress = True
                            break
                    if not line:
                        del turns[tenant]
            return taken

    def held(self, queue: str) -> int:
        with self._lock:
            return sum(len(line) for (q, _), line in self._lines.items() if q == queue)

    def stale_releases(self, before: float, *, limit: int) -> list[str]:
        with self._lock:
            now = time.time()
            stale = [job_id for job_id, (_, at) in self._released.items() if at < before][:limit]
            for job_id in stale:
                self._released[job_id] = (self._released[job_id][0], now)
            return stale

    def get(self, job_id: str, *, tenant: str | None = None) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or (tenant is not None and job.tenant != tenant):
                return None
            return copy.deepcopy(job)

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
