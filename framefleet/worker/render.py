"""A render job: claim → (generations) → fetch → prepare → render → upload → settle (and the webhook).

A spec that generates media (SPEC §8) has its generations run first, as jobs of the same tenant, while
the render waits parked (:mod:`framefleet.worker.ingredients`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from framefleet.compositor.ingredients import has_generations
from framefleet.compositor.render import render
from framefleet.compositor.spec import load_spec
from framefleet.queue.jobs import Job
from framefleet.worker import chunks, ingredients
from framefleet.worker.assets import JobFetcher
from framefleet.worker.lifecycle import Watch, run_job
from framefleet.worker.results import record, upload
from framefleet.worker.runtime import Runtime


def run_render(rt: Runtime, job_id: str, *, last_try: bool = True, time_limit: float | None = None) -> None:
    """Run one render job to a terminal state, or raise a transient error for the actor to retry."""

    def body(job: Job, watch: Watch, work: Path) -> tuple[dict[str, Any], float] | None:
        spec = load_spec(job.payload.get("spec"), limits=rt.settings.limits)
        made: list[dict[str, Any]] = list(job.payload.get("generations") or [])
        if has_generations(spec):
            ready = ingredients.resolve_job(rt, job, spec, watch)
            if ready is None:
                return None  # parked until its generations end
            spec, made, job = ready  # the job as now stored: chunks read its spec
        runs = chunks.plan_chunks(rt, job, spec, cancel=watch.stop)
        if runs is not None:
            chunks.split(rt, job, runs)
            return None
        result = render(spec, work / f"output.{spec.output.format}", settings=rt.settings,
                        fetcher=JobFetcher(rt, job, cancel=watch.stop), on_progress=watch.progress, cancel=watch.stop,
                        timeout=time_limit)
        watch.progress("upload", 0.0)
        started = time.monotonic()
        stored = upload(rt.storage, job, result, cancel=watch.stop)
        record(result, upload_seconds=time.monotonic() - started)
        if made:
            stored["generations"] = made
        return stored, result.duration

    run_job(rt, job_id, body, what="render", last_try=last_try)
