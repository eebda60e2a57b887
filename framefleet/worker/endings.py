"""The one way a job ends.

Every terminal transition (completed; failed; canceled while queued or while running; expired; abandoned)
goes through :func:`end`, which writes the state, counts the metric, logs one line, removes a split
render's chunk files and queues the webhook. Errors are classes of :mod:`framefleet.errors`, never dicts
written by hand: the class gives the stable code, the status follows from the class.

The terminal write is retried until it lands (up to ``policy.END_WRITE_PATIENCE``): a job that finishes
while Redis restarts must not stay ``processing`` forever, and its message is acknowledged only once
this function returns, that is, once the state is durable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from framefleet import policy
from framefleet.errors import Abandoned, Canceled, Expired, FramefleetError
from framefleet.metrics import definitions as m
from framefleet.queue.jobs import Job, JobStatus
from framefleet.worker.runtime import Runtime
from framefleet.worker.webhooks import encode, event

log = logging.getLogger(__name__)

ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.PROCESSING})
T = TypeVar("T")


def status_for(error: FramefleetError) -> JobStatus:
    """The terminal status an error ends a job with."""
    if isinstance(error, Canceled):
        return JobStatus.CANCELED
    if isinstance(error, Expired):
        return JobStatus.EXPIRED
    return JobStatus.FAILED


def end(rt: Runtime, job_id: str, *, error: FramefleetError | None = None,
        allowed: frozenset[str] = ACTIVE, **changes: Any) -> Job | None:
    """Finish the job: ``completed`` without ``error``, else the status ``error`` implies.

    Returns the finished job, or None when it was not in an ``allowed`` status (already finished: a
    redelivered message, a cancel that lost a race), in which case nothing else happens either.
    """
    status = JobStatus.COMPLETED if error is None else status_for(error)
    if error is None:
        changes["progress"] = 1.0
    else:
        changes["error"] = error.as_dict()
        if error.detail:
            log.info("job %s: %s", job_id, error.detail)
    job = durably(rt, lambda: rt.store.finish(job_id, status, allowed=allowed, **changes),
                  what=f"ending job {job_id}")
    if job is None:
        return None
    if job.chunks is not None:  # a split render: its chunk files never outlive it
        try:
            rt.storage.delete_prefix(f"{job.tenant}/{job.id}/chunks")
        except Exception:
            log.warning("chunk files of job %s could not be deleted", job_id, exc_info=True)
    m.JOBS.labels(job.type, status.value).inc()
    log.info("%s job %s%s", job.type, status.value,
             f" ({job.error['code']}: {job.error['message']})" if job.error else "")
    if status == JobStatus.COMPLETED:
        m.LAST_SUCCESS.set(time.time())
    elif job.error:
        m.FAILURES.labels(job.type, job.error.get("code", "internal")).inc()
    if job.webhook_url and rt.settings.webhook_secret and rt.notify is not None:
        notify = rt.notify
        body = encode(event(job)).decode()
        url = job.webhook_url
        durably(rt, lambda: notify(url, body), what=f"queueing the webhook of job {job_id}")
    return job


def cancel(rt: Runtime, job_id: str, *, tenant: str | None = None) -> Job | None:
    """A caller's cancel: a queued (or parked) job ends at once; a running one is flagged, and its watch
    stops the work within two seconds. None when the tenant has no such job."""
    job = rt.store.get(job_id, tenant=tenant)
    if job is None or job.terminal:
        return job
    ended = end(rt, job_id, error=Canceled("the job was canceled"), allowed=frozenset({JobStatus.QUEUED}))
    if ended is not None:
        return ended
    return rt.store.update(job_id, cancel_requested=True)


def expire(rt: Runtime, *, limit: int = 500) -> list[str]:
    """End the queued jobs older than ``FRAMEFLEET_JOB_TTL``: oldest first, at most ``limit`` a call."""
    cutoff = time.time() - rt.settings.job_ttl
    ended = []
    for job_id in rt.store.queued_before(cutoff, limit=limit):
        if end(rt, job_id, error=Expired("the job waited too long in the queue"),
               allowed=frozenset({JobStatus.QUEUED})) is not None:
            ended.append(job_id)
    return ended


def abandon(rt: Runtime, job: Job) -> Job | None:
    """The job's workers kept dying while running it: give it up, so it stops taking the fleet down."""
    return end(rt, job.id, error=Abandoned(
        f"the job stopped the worker running it {job.deaths} times and was abandoned"),
        allowed=frozenset({JobStatus.PROCESSING}))


def durably(rt: Runtime, write: Callable[[], T], *, what: str) -> T:
    """Run a state write, again and again while the job store (or broker) cannot be reached."""
    deadline = time.monotonic() + policy.END_WRITE_PATIENCE
    pause = 0.2
    while True:
        try:
            return write()
        except rt.store.unavailable as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("%s failed (%s); trying again in %.1f s", what, type(exc).__name__, pause)
            time.sleep(pause)  # waiting out a restart of the store, not synchronising with anything
            pause = min(pause * 2, 5.0)
