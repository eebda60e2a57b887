"""A render job: claim → fetch → prepare → render → upload → settle (and the webhook)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from framefleet.compositor.render import RenderResult, render
from framefleet.compositor.spec import load_spec
from framefleet.metrics import definitions as m
from framefleet.queue.jobs import Job
from framefleet.storage import Storage
from framefleet.worker.assets import JobFetcher
from framefleet.worker.lifecycle import Watch, run_job
from framefleet.worker.runtime import Runtime


def upload(storage: Storage, job: Job, result: RenderResult) -> dict[str, Any]:
    """Store the output (and thumbnail, captions) under keys derived from the job id: a re-run overwrites."""
    base = f"{job.tenant}/{job.id}"
    main = storage.put(result.path, f"{base}/output{result.path.suffix}", content_type=result.content_type)
    out: dict[str, Any] = {
        "url": main.url, "thumbnail_url": None, "content_type": main.content_type, "size_bytes": main.size_bytes,
        "duration": round(result.duration, 6), "width": result.width, "height": result.height, "key": main.key,
        "encoder": result.encoder,
    }
    if result.thumbnail is not None:
        out["thumbnail_url"] = storage.put(result.thumbnail, f"{base}/thumbnail.jpg", content_type="image/jpeg").url
    if result.captions is not None:
        out["captions_url"] = storage.put(result.captions, f"{base}/captions.vtt", content_type="text/vtt").url
    return out


def record(result: RenderResult, *, upload_seconds: float) -> None:
    for stage, seconds in {**result.seconds, "upload": upload_seconds}.items():
        m.STAGE_SECONDS.labels(stage, result.encoder).observe(seconds)
    if result.speed > 0:
        m.SPEED.labels(result.encoder).observe(result.speed)


def run_render(rt: Runtime, job_id: str, *, last_try: bool = True, time_limit: float | None = None) -> None:
    """Run one render job to a terminal state, or raise a transient error for the actor to retry."""

    def body(job: Job, watch: Watch, work: Path) -> tuple[dict[str, Any], float]:
        spec = load_spec(job.payload.get("spec"), limits=rt.settings.limits)
        result = render(spec, work / f"output.{spec.output.format}", settings=rt.settings,
                        fetcher=JobFetcher(rt, job), on_progress=watch.progress, cancel=watch.stop,
                        timeout=time_limit)
        watch.progress("upload", 0.0)
        started = time.monotonic()
        stored = upload(rt.storage, job, result)
        record(result, upload_seconds=time.monotonic() - started)
        return stored, result.duration

    run_job(rt, job_id, body, what="render", last_try=last_try)
