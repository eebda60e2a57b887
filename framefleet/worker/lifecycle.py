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
from pathlib import Path
from typing import Any

from framefleet import logs
from framefleet.errors import Canceled, FramefleetError
from framefleet.metrics import definitions as m
from framefleet.queue.jobs import Job
from framefleet.worker.runtime import LEASE_SECONDS, MAX_ATTEMPTS, Runtime
from framefleet.worker.webhooks import encode, event

log = logging.getLogger(__name__)

WATCH_INTERVAL = 0.25


def claim(rt: Runtime, job_id: str, job: Job | None = None) -> Job | None:
    """The job to run for this message, or None when the message is a duplicate or stale.

    ``job`` is the job as just read, when the caller has it (the claim itself is atomic either way).
    """
    job = job or rt.store.get(job_id)
    if job is None:
        log.warning("message for unknown job %s dropped", job_id)
        return None
    if job.terminal:
        return None  # already finished: a redelivery; the result exists and is not written again
    if job.status == "processing" and job.lease_until > time.time():
        # Another worker holds the job, or held it until it died moments ago. Look again once the lease
        # has run out: a live holder will have finished by then (or renewed it), a dead one will not.
        delay = job.lease_until - time.time() + 1.0
        log.info("job %s is leased by %s; checking again in %.0f s", job_id, job.worker, delay)
        rt.enqueue(job.queue, job_id, delay=delay)
        return None
    if job.cancel_requested:
        settle(rt, job_id, "canceled", error={"code": "canceled", "message": "the job was canceled"})
        return None
    if job.attempts >= MAX_ATTEMPTS:
        settle(rt, job_id, "failed", error={
            "code": "internal",
            "message": f"the job stopped the worker running it {job.attempts} times and was abandoned"})
        return None
    started = rt.store.start(job_id, worker=rt.worker_id, lease=LEASE_SECONDS)
    if started is not None and started.attempts == 1:
        m.QUEUE_WAIT.labels(started.queue).observe(max(0.0, time.time() - started.created_at))
    return started


def _lease(rt: Runtime, job_id: str) -> None:
    rt.store.update(job_id, lease_until=time.time() + LEASE_SECONDS, worker=rt.worker_id)


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
        next_lease = time.monotonic() + LEASE_SECONDS / 3
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
                    next_lease = time.monotonic() + LEASE_SECONDS / 3
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


def settle(rt: Runtime, job_id: str, status: str, **changes: Any) -> Job | None:
    """Record a terminal status (once: a second settle of the same job is a no-op) and send the webhook."""
    if status == "completed":
        changes["progress"] = 1.0
    job = rt.store.finish(job_id, status, lease_until=0.0, **changes)
    if job is None:
        return None
    if job.chunks is not None:  # a split render: its chunk files never outlive it
        try:
            rt.storage.delete_prefix(f"{job.tenant}/{job.id}/chunks")
        except Exception:
            log.warning("chunk files of job %s could not be deleted", job_id, exc_info=True)
    m.JOBS.labels(job.type, status).inc()
    log.info("%s job %s%s", job.type, status, f" ({job.error['code']}: {job.error['message']})" if job.error else "")
    if status == "completed":
        m.LAST_SUCCESS.set(time.time())
    elif job.error:
        m.FAILURES.labels(job.type, job.error.get("code", "internal")).inc()
    if job.webhook_url and rt.settings.webhook_secret and rt.notify is not None:
        rt.notify(job.webhook_url, encode(event(job)).decode())
    return job


def hand_back(rt: Runtime, job: Job) -> None:
    """Shutdown grace is over: put the job back on its queue for another worker."""
    if rt.store.transition(job.id, allowed={"processing"}, status="queued", stage=None, progress=0.0,
                           attempts=max(0, job.attempts - 1), lease_until=0.0, worker=None) is not None:
        rt.enqueue(job.queue, job.id)
        log.info("job %s handed back to queue %s", job.id, job.queue)


def failure(exc: FramefleetError) -> dict[str, str]:
    if exc.detail:
        log.info("job failure detail: %s", exc.detail)
    return exc.as_dict()


#: The work of one job type: given the claimed job, its watch and a work folder, produce the job's
#: ``result`` and the seconds of output it made, or None when the work goes on in other messages
#: (a render split into chunks), which settle the job themselves.
Body = Callable[[Job, Watch, Path], tuple[dict[str, Any], float] | None]


def run_job(rt: Runtime, job_id: str, body: Body, *, what: str, last_try: bool = True) -> None:
    """Claim a job, run ``body`` under a watch, and settle the outcome; the shape every job type shares.

    Cancel and hand-back stop the work through the watch; permanent errors fail the job at once;
    transient ones put it back to ``queued`` and re-raise so the actor retries, unless this is the last try.
    """
    known = rt.store.get(job_id)
    with logs.job_context(job_id, known.tenant if known else "-"):
        job = claim(rt, job_id, known)
        if job is None:
            return
        log.info("%s job started (attempt %d, queued %.2f s)", job.type, job.attempts,
                 max(0.0, time.time() - job.created_at))
        watch = Watch(rt, job_id, job.type)
        rt.work_root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=rt.work_root, prefix=f"{job_id}-"))
        try:
            with watch.running():
                outcome = body(job, watch, work)
            if outcome is None:
                return
            result, seconds = outcome
            settle(rt, job_id, "completed", result=result, output_seconds=seconds, stage="upload")
        except Canceled:
            if watch.reason == "hand_back":
                hand_back(rt, job)
            else:
                settle(rt, job_id, "canceled", error={"code": "canceled", "message": "the job was canceled"})
        except FramefleetError as exc:
            if exc.transient and not last_try:
                rt.store.transition(job_id, allowed={"processing"}, status="queued", lease_until=0.0)
                raise
            settle(rt, job_id, "failed", error=failure(exc))
        except Exception:
            log.exception("%s job %s broke", what, job_id)
            settle(rt, job_id, "failed", error={"code": "internal", "message": f"the {what} failed unexpectedly"})
        finally:
            shutil.rmtree(work, ignore_errors=True)
