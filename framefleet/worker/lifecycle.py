"""The life of a job inside a worker, shared by renders and generations.

``claim`` decides whether a delivered message should run (at-least-once delivery means duplicates);
``Watch`` keeps the job's lease fresh and turns a cancel request or the end of a shutdown grace period
into an event the running work obeys; ``settle`` records the outcome and queues the webhook.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from framefleet import logs, policy
from framefleet.errors import Canceled, FramefleetError
from framefleet.metrics import definitions as m
from framefleet.queue.jobs import Job, JobStatus
from framefleet.worker import endings
from framefleet.worker.runtime import Runtime

log = logging.getLogger(__name__)

WATCH_INTERVAL = 0.25


def claim(rt: Runtime, job_id: str, job: Job | None = None) -> Job | None:
    """The job to run for this message, or None when the message is a duplicate or stale.

    ``job`` is the job as just read, when the caller has it (the claim itself is atomic either way).
    A job another live worker holds is left to it: if that worker dies, its lease lapses and the lease
    sweep (:func:`sweep`) sends the job again. No "look again later" message is kept anywhere, so none
    can be lost with a broker connection.
    """
    job = job or rt.store.get(job_id)
    if job is None:
        log.warning("message for unknown job %s dropped", job_id)
        return None
    if job.terminal:
        return None  # already finished: a redelivery; the result exists and is not written again
    if job.status == JobStatus.PROCESSING and job.worker is not None and job.lease_until > time.time():
        log.info("job %s is held by %s; leaving it to that worker", job_id, job.worker)
        return None
    if job.cancel_requested:
        endings.end(rt, job_id, error=Canceled("the job was canceled"))
        return None
    if job.status == JobStatus.PROCESSING and job.worker is not None and job.deaths + 1 >= policy.MAX_DEATHS:
        endings.abandon(rt, replace(job, deaths=job.deaths + 1))
        return None
    started = rt.store.start(job_id, worker=rt.worker_id, lease=policy.LEASE_SECONDS)
    if started is not None and started.attempts == 1:
        m.QUEUE_WAIT.labels(started.queue).observe(max(0.0, time.time() - started.created_at))
    return started


def sweep(rt: Runtime, *, limit: int = 200) -> list[str]:
    """Send every job whose worker stopped renewing its lease back to its queue, and every job released
    from its tenant's line whose message never arrived (each worker runs this every
    ``policy.SWEEP_INTERVAL``; the store hands each such job to one sweeper only)."""
    sent = []
    for job_id in rt.store.lapsed(time.time(), snooze=policy.LEASE_SECONDS, limit=limit):
        job = rt.store.get(job_id)
        if job is None or job.status != JobStatus.PROCESSING:
            continue
        rt.enqueue(job.queue, job_id)
        sent.append(job_id)
    for job_id in rt.store.stale_releases(time.time() - policy.RELEASE_GRACE, limit=limit):
        job = rt.store.get(job_id)
        if job is not None and job.status == JobStatus.QUEUED:  # released, its message lost: send again
            rt.enqueue(job.queue, job_id)
            sent.append(job_id)
    if sent:
        log.info("lease sweep: sent %d job(s) with lapsed leases or lost releases to their queues", len(sent))
    return sent


def _lease(rt: Runtime, job_id: str) -> None:
    rt.store.update(job_id, lease_until=time.time() + policy.LEASE_SECONDS, worker=rt.worker_id)


class Watch:
    """While a job runs: refreshes its lease, notices cancel requests and hand-back."""

    def __init__(self, rt: Runtime, job_id: str, job_type: str = "render") -> None:
        self.rt, self.job_id, self.job_type = rt, job_id, job_type
        self.stop = threading.Event()  # the running work polls this (ffmpeg is killed when it is set)
        self.reason: str | None = None
        self._done = threading.Event()
        self._last_progress = 0.0
        self._thread = threading.Thread(target=self._run, name=f"watch-{job_id}", daemon=True)

    def _run(self) -> None:
        next_lease = time.monotonic() + policy.LEASE_SECONDS / 3
        while not self._done.wait(WATCH_INTERVAL):
            if self.rt.hand_back.is_set():
                self.reason = "hand_back"
                self.stop.set()
                return
            try:
                job = self.rt.store.get(self.job_id)
                if job is not None and (job.cancel_requested or job.terminal):
                    # terminal: another part of a split render failed the job; its siblings stop too
                    self.reason = "canceled" if job.cancel_requested else "ended"
                    self.stop.set()
                    return
                if time.monotonic() > next_lease:
                    _lease(self.rt, self.job_id)
                    next_lease = time.monotonic() + policy.LEASE_SECONDS / 3
            except Exception:  # the store blinked (Redis restart): keep rendering, try again next tick
                log.warning("job store unreachable while watching %s", self.job_id, exc_info=True)

    def progress(self, stage: str, fraction: float) -> None:
        """Record progress, at most a few times a second (and always on a stage change)."""
        now = time.monotonic()
        if fraction < 1 and now - self._last_progress < 0.5 and stage == getattr(self, "_stage", stage):
            return
        self._last_progress, self._stage = now, stage
        logs.stage.set(stage)
        try:
            self.rt.store.update(self.job_id, stage=stage, progress=round(fraction, 4))
        except Exception:
            log.debug("progress update failed", exc_info=True)

    @contextmanager
    def running(self) -> Iterator[Watch]:
        self._thread.start()
        gauge = m.IN_PROGRESS.labels(self.job_type)
        gauge.inc()
        try:
            yield self
        finally:
            gauge.dec()
            self._done.set()
            self._thread.join(timeout=2)


def hand_back(rt: Runtime, job: Job) -> None:
    """Shutdown grace is over: put the job back on its queue for another worker. Neither a death nor an
    attempt: the job did nothing wrong, the worker was asked to stop."""
    if rt.store.transition(job.id, allowed={JobStatus.PROCESSING}, status=JobStatus.QUEUED, stage=None,
                           progress=0.0, attempts=max(0, job.attempts - 1), lease_until=0.0,
                           worker=None) is not None:
        rt.enqueue(job.queue, job.id)
        log.info("job %s handed back to queue %s", job.id, job.queue)


def park(rt: Runtime, job: Job, delay: float, *, stage: str, generation: dict[str, Any] | None,
         min_delay: float = 0.0) -> None:
    """Let the job go while it waits on something else (a provider, its generations): no thread waits, and
    it is not a finished attempt (``attempts`` goes back); its id is sent again after ``delay`` seconds (at
    least ``min_delay``), with ``generation`` saved for that next look.

    No worker holds it (``worker`` None: no death if nobody comes back), and its lease ends a little after
    the look-again message is due: should that delayed message be lost with a broker connection, the lease
    sweep sends the job again."""
    rt.store.update(job.id, lease_until=time.time() + delay + policy.LEASE_SECONDS, worker=None,
                    attempts=max(0, job.attempts - 1), stage=stage, generation=generation)
    rt.enqueue(job.queue, job.id, delay=max(min_delay, delay))


def fail(rt: Runtime, job_id: str, exc: BaseException, *, what: str, broke: str,
         logger: logging.Logger = log) -> None:
    """End the job with ``exc``: a :class:`FramefleetError` with its own code and message, any other error
    as "the ``what`` failed unexpectedly", logged with its traceback as ``broke``. What is not an
    ``Exception`` (SystemExit, KeyboardInterrupt) is re-raised: the process is going, and the lease sweep
    recovers the job."""
    if not isinstance(exc, Exception):
        raise exc
    if not isinstance(exc, FramefleetError):
        logger.error("%s", broke, exc_info=exc)
        exc = FramefleetError(f"the {what} failed unexpectedly")
    endings.end(rt, job_id, error=exc)


def ended(rt: Runtime, job: Job, watch: Watch, exc: BaseException, *, what: str, last_try: bool) -> None:
    """How work that stopped early ends its job, the same for whole jobs, chunks and joins: hand-back at
    shutdown; cancel; a transient error retried by the broker (re-raised, the job queued again) until the
    retries run out; anything else fails the job with its own code and message."""
    if isinstance(exc, Canceled) and watch.reason == "hand_back":
        hand_back(rt, job)
        return
    if isinstance(exc, FramefleetError) and exc.transient and not last_try:
        log.warning("%s job %s will be retried: %s%s", what, job.id, exc.message,
                    f" ({exc.detail})" if exc.detail else "")
        endings.durably(rt, lambda: rt.store.transition(job.id, allowed={JobStatus.PROCESSING},
                                                        status=JobStatus.QUEUED, lease_until=0.0, worker=None),
                        what=f"queueing job {job.id} again")
        raise exc
    fail(rt, job.id, exc, what=what, broke=f"{what} job {job.id} broke")


#: The work of one job type: given the claimed job, its watch and a work folder, produce the job's
#: ``result`` and the seconds of output it made, or None when the work goes on in other messages
#: (a render split into chunks), which settle the job themselves.
Body = Callable[[Job, Watch, Path], tuple[dict[str, Any], float] | None]


def run_job(rt: Runtime, job_id: str, body: Body, *, what: str, last_try: bool = True,
            known: Job | None = None) -> None:
    """Claim a job, run ``body`` under a watch, and settle the outcome; the shape every job type shares.

    Cancel and hand-back stop the work through the watch; permanent errors fail the job at once;
    transient ones put it back to ``queued`` and re-raise so the actor retries, unless this is the last try.
    ``known`` is the job as just read, when the caller has it (as for :func:`claim`).
    """
    known = known or rt.store.get(job_id)
    with logs.job_context(job_id, known.tenant if known else "-"):
        job = claim(rt, job_id, known)
        if job is None:
            return
        log.info("%s job started (attempt %d, queued %.2f s)", job.type, job.attempts,
                 max(0.0, time.time() - job.created_at))
        watch = Watch(rt, job_id, job.type)
        work = Path(tempfile.mkdtemp(dir=rt.work_root, prefix=f"{job_id}-"))
        try:
            with watch.running():
                outcome = body(job, watch, work)
            if outcome is None:
                return
            result, seconds = outcome
            endings.end(rt, job_id, result=result, output_seconds=seconds, stage="upload")
        except BaseException as exc:
            ended(rt, job, watch, exc, what=what, last_try=last_try)
        finally:
            shutil.rmtree(work, ignore_errors=True)
