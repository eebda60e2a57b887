"""The job (SPEC §4) and the interface of the stores that keep it.

A job's state lives outside the broker, so callers can poll it, workers can update progress, and a
redelivered message (at-least-once delivery) finds out whether the work is already done. Every status
change is a compare-and-set (:meth:`JobStore.transition`): a canceled job never flips back to
``processing``, and a result is written once.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from framefleet.config import Limits
from framefleet.errors import Problem, SpecError
from framefleet.jsonload import check_document

TYPES = ("render", "speech_from_text", "image_from_text", "captions", "media", "text", "video_from_text",
         "video_from_image", "lipsync")


class JobStatus(StrEnum):
    """Where a job is in its life (SPEC §4); stored and compared as the plain string."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"


STATUSES = tuple(s.value for s in JobStatus)
TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.EXPIRED})
STAGES = ("fetch", "prepare", "render", "upload")


#: A tenant names folders and object keys (``<tenant>/<job id>/…``), log fields and metric-free usage rows:
#: 1-64 characters of this alphabet, never ``.`` or ``..``, so it is a safe path component everywhere.
TENANT_ALPHABET = "A-Z a-z 0-9 . _ -"
_TENANT = re.compile(r"[A-Za-z0-9._-]{1,64}")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")
#: Idempotency keys under which render specs' generations are cached by content (SPEC §8): reserved.
CONTENT_KEY_PREFIX = "content:"


def check_fields(*, tenant: Any, idempotency_key: Any, metadata: Any, limits: Limits) -> None:
    """Refuse a job whose tenant, idempotency key or metadata is outside its documented limits, with a
    :class:`SpecError` naming each field; everything that creates a job calls this first.

    Why here and not at storage: a tenant of ``..`` or 128 accented letters (256 bytes, one more than a
    file name may hold) made every upload fail, forever, and a 20 MB metadata object was stored, sent in
    every webhook and read back on every poll."""
    problems: list[Problem] = []
    if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant) or tenant in (".", ".."):
        problems.append(Problem("tenant", f"must be 1-64 characters of {TENANT_ALPHABET}, and not '.' or '..'"))
    if idempotency_key is not None and (
            not isinstance(idempotency_key, str) or len(idempotency_key) > limits.max_idempotency_key
            or not _PRINTABLE_ASCII.fullmatch(idempotency_key)):
        problems.append(Problem("idempotency_key", f"must be 1-{limits.max_idempotency_key} printable ASCII "
                                                   "characters"))
    elif isinstance(idempotency_key, str) and idempotency_key.startswith(CONTENT_KEY_PREFIX):
        problems.append(Problem("idempotency_key", f"keys starting with {CONTENT_KEY_PREFIX!r} are framefleet's "
                                                   "own (the cache of generations made for render specs)"))
    if metadata is not None:
        problems += _metadata_problems(metadata, limits)
    if problems:
        raise SpecError(problems, what="job")


def _metadata_problems(metadata: Any, limits: Limits) -> list[Problem]:
    if not isinstance(metadata, dict):
        return [Problem("metadata", "must be a JSON object")]
    try:  # iterative: a deep object is refused, never a RecursionError
        check_document(metadata, limits=replace(limits, max_spec_depth=limits.max_metadata_depth),
                       what="metadata")
    except SpecError as exc:
        return [Problem(f"metadata.{p.path}" if p.path else "metadata", p.message) for p in exc.problems]
    size = len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())
    if size > limits.max_metadata_bytes:
        return [Problem("metadata", f"is {size} bytes as JSON, over the limit of {limits.max_metadata_bytes}")]
    return []


def new_id() -> str:
    """Sortable by creation time, unguessable: 10 hex chars of milliseconds then 16 random hex chars."""
    return f"{int(time.time() * 1000):010x}{secrets.token_hex(8)}"


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


@dataclass
class Job:
    """One unit of work. ``payload`` (the spec or generation request) and ``webhook_url`` stay internal."""

    id: str
    type: str
    tenant: str
    payload: dict[str, Any]
    queue: str = "render"
    status: str = "queued"
    progress: float = 0.0
    stage: str | None = None
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    webhook_url: str | None = None
    cancel_requested: bool = False
    output_seconds: float = 0.0
    #: Who runs it and until when that claim holds without a refresh (at-least-once delivery guard).
    worker: str | None = None
    lease_until: float = 0.0
    #: How many workers died while holding the job (their lease lapsed): only these count towards
    #: abandonment, never transient failures that were retried or hand-backs at shutdown.
    deaths: int = 0
    #: A render split across workers (SPEC §7): ``total``, the frame ``spans`` of each chunk, the indexes
    #: ``done`` and each chunk's ``progress``. None for a job rendered in one place.
    chunks: dict[str, Any] | None = None
    #: What a generation consumed (SPEC §8): ``provider``, ``model`` and one unit (``characters``,
    #: ``audio_seconds``, ``images``, ``video_seconds``, ``tokens``). None for renders.
    usage: dict[str, Any] | None = None
    #: A generation parked while its provider works (an upstream id, when it started); internal.
    generation: dict[str, Any] | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def public(self) -> dict[str, Any]:
        """The job as callers see it (``framefleet status``, the client)."""
        return {
            "id": self.id, "type": self.type, "tenant": self.tenant, "status": self.status,
            "progress": round(self.progress, 4), "stage": self.stage, "created_at": iso(self.created_at),
            "started_at": iso(self.started_at), "finished_at": iso(self.finished_at), "attempts": self.attempts,
            "result": self.result, "error": self.error, "metadata": self.metadata,
            "idempotency_key": self.idempotency_key,
            **({"chunks": {"total": self.chunks["total"], "done": len(self.chunks["done"])}} if self.chunks else {}),
            **({"usage": self.usage} if self.usage else {}),
        }

    def dump(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, data: dict[str, Any]) -> Job:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class JobStore(ABC):
    """Where jobs live. Implementations: in memory (one process) and Redis (a fleet)."""

    #: The errors that mean "the store cannot be reached right now" (a restart): worth trying again.
    unavailable: tuple[type[BaseException], ...] = ()

    @abstractmethod
    def create(self, job: Job, *, hold: bool = False) -> tuple[Job, bool]:
        """Store a new job; with an ``idempotency_key`` the tenant already used (on a job that did not fail
        and was not canceled), return that job instead and ``False``. With ``hold``, the job also joins
        its tenant's line for its queue, in the same write, to be released in turn (:meth:`release`)."""

    @abstractmethod
    def get(self, job_id: str, *, tenant: str | None = None) -> Job | None:
        """The job, or None; with ``tenant``, another tenant's job is None too (no existence leak)."""

    @abstractmethod
    def modify(self, job_id: str, change: Callable[[Job], bool]) -> Job | None:
        """Atomically read the job, let ``change`` edit it in place, and write it back; when ``change``
        returns False nothing is written and None is returned (as for a missing job)."""

    @abstractmethod
    def recent(self, *, tenant: str | None = None, limit: int = 100) -> list[Job]:
        """Newest first."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot be reached."""

    # -- built on the primitives ----------------------------------------------------------------------

    def update(self, job_id: str, **changes: Any) -> Job | None:
        """Change fields that are not the status (progress, stage)."""

        def change(job: Job) -> bool:
            for name, value in changes.items():
                setattr(job, name, value)
            return True

        return self.modify(job_id, change)

    def transition(self, job_id: str, *, allowed: frozenset[str] | set[str], status: str,
                   **changes: Any) -> Job | None:
        """Atomically move to ``status`` if the current status is in ``allowed``; None otherwise."""

        def change(job: Job) -> bool:
            if job.status not in allowed:
                return False
            for name, value in {"status": status, **changes}.items():
                setattr(job, name, value)
            return True

        return self.modify(job_id, change)

    def start(self, job_id: str, *, worker: str | None = None, lease: float = 30.0) -> Job | None:
        """Claim a job for a worker: queued (or processing after its worker died, its lease run out, or
        parked by a worker that let it go) → processing, leased to ``worker``; None when someone else holds
        it. Taking over from a worker that died counts one more death."""
        now = time.time()

        def claim(job: Job) -> bool:
            if job.status not in ("queued", "processing"):
                return False
            if job.status == "processing" and job.worker is not None:
                if job.lease_until > now:
                    return False  # its worker is alive and holds it
                job.deaths += 1  # its worker stopped renewing the lease: it died mid-run
            job.status, job.started_at, job.attempts = JobStatus.PROCESSING.value, now, job.attempts + 1
            job.stage, job.progress, job.worker, job.lease_until = "fetch", 0.0, worker, now + lease
            return True

        return self.modify(job_id, claim)

    def finish(self, job_id: str, status: str, *, allowed: frozenset[str] | set[str] = frozenset(
            {"queued", "processing"}), **changes: Any) -> Job | None:
        """``allowed`` (processing or queued) → a terminal status, stamped and its lease released. A
        primitive: jobs end through :func:`framefleet.worker.endings.end`, which also counts, logs and sends
        the webhook."""
        return self.transition(job_id, allowed=allowed, status=status, finished_at=time.time(), lease_until=0.0,
                               **changes)

    @abstractmethod
    def counters(self, *, tenant: str | None = None) -> dict[str, float]:
        """The usage counters (:func:`deltas`) of one tenant, or of every tenant together."""

    @abstractmethod
    def queued_before(self, cutoff: float, *, limit: int) -> list[str]:
        """Ids of queued jobs created before ``cutoff``, oldest first (an index, not a scan)."""

    @abstractmethod
    def release(self, queue: str, *, room: int, cap: int) -> list[str]:
        """Up to ``room`` held jobs of ``queue``, taken from the tenants' lines in turns (the tenant served
        longest ago first, one job each per round), skipping tenants with ``cap`` jobs running or
        released (``cap`` 0: no cap); each is marked released until it leaves ``queued``."""

    @abstractmethod
    def held(self, queue: str) -> int:
        """How many jobs wait in the tenants' lines of ``queue`` (the backlog autoscaling watches)."""

    @abstractmethod
    def stale_releases(self, before: float, *, limit: int) -> list[str]:
        """Jobs released before ``before`` and still queued (their message may be lost): each is returned
        once, then not again for as long as it waited."""

    @abstractmethod
    def lapsed(self, now: float, *, snooze: float, limit: int) -> list[str]:
        """Ids of processing jobs whose lease ran out before ``now``; each is returned to one caller only
        and not again for ``snooze`` seconds (every worker sweeps; one of them re-sends each job)."""

    def usage(self, *, tenant: str | None = None) -> dict[str, Any]:
        """Job counts by status and by type, seconds of output rendered, and what generations consumed by
        type and provider (``generation[type][provider] = {jobs, characters, ...}``), for billing.

        Read from counters kept on every transition, so its cost does not grow with the number of jobs."""
        counts = self.counters(tenant=tenant)
        by_status: dict[str, int] = dict.fromkeys(STATUSES, 0)
        by_type: dict[str, int] = {}
        generation: dict[str, dict[str, dict[str, float]]] = {}
        for key, value in counts.items():
            kind, _, name = key.partition(":")
            if kind == "status":
                by_status[name] = int(value)
            elif kind == "type" and value:
                by_type[name] = int(value)
            elif kind == "gen":
                job_type, provider, unit = name.split("|", 2)
                generation.setdefault(job_type, {}).setdefault(provider, {})[unit] = (
                    int(value) if unit == "jobs" else round(value, 3))
        return {"tenant": tenant, "jobs": sum(by_status.values()), "by_status": by_status, "by_type": by_type,
                "output_seconds": round(counts.get("output_seconds", 0.0), 3), "generation": generation}


def deltas(before: Job | None, after: Job) -> dict[str, float]:
    """How one write of a job (``before`` None: its creation) changes the usage counters: jobs by status
    and type, seconds of output completed, and each generation's units by type and provider."""
    out: dict[str, float] = {}

    def add(key: str, amount: float) -> None:
        if amount:
            out[key] = out.get(key, 0.0) + amount

    if before is None:
        add("type:" + after.type, 1)
    if before is None or before.status != after.status:
        if before is not None:
            add("status:" + before.status, -1)
        add("status:" + after.status, 1)
    if after.status == "completed" and (before is None or before.status != "completed"):
        add("output_seconds", after.output_seconds)
    old, new = (before.usage if before else None) or {}, after.usage or {}
    if new != old and new:
        provider = str(new.get("provider", ""))
        if not old:
            add(f"gen:{after.type}|{provider}|jobs", 1)
        for unit, amount in new.items():
            if unit not in ("provider", "model") and isinstance(amount, int | float):
                previous = old.get(unit, 0)
                add(f"gen:{after.type}|{provider}|{unit}", amount - (previous if isinstance(previous, int | float)
                                                                    else 0))
    return out
