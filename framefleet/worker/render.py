"""A render job: claim → fetch → prepare → render → upload → settle (and the webhook)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from framefleet import logs
from framefleet.compositor.render import RenderResult, render
from framefleet.compositor.spec import load_spec
from framefleet.errors import Canceled, FramefleetError
from framefleet.metrics import definitions as m
from framefleet.queue.jobs import Job
from framefleet.storage import Storage
from framefleet.worker.assets import JobFetcher
from framefleet.worker.lifecycle import Watch, claim, failure, hand_back, settle
from framefleet.worker.runtime import Runtime

log = logging.getLogger(__name__)


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


def _run_render(rt: Runtime, job_id: str, *, last_try: bool = True, time_limit: float | None = None) -> None:
    """Run one render job to a terminal state, or raise a transient error for the actor to retry."""
    job = claim(rt, job_id)
    if job is None:
        return
    watch = Watch(rt, job_id, job.type)
    rt.work_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=rt.work_root, prefix=f"{job_id}-"))
    try:
        with watch.running():
            spec = load_spec(job.payload.get("spec"), limits=rt.settings.limits)
            result = render(spec, work / f"output.{spec.output.format}", settings=rt.settings,
                            fetcher=JobFetcher(rt, job), on_progress=watch.progress, cancel=watch.stop,
                            timeout=time_limit)
            watch.progress("upload", 0.0)
            started = time.monotonic()
            stored = upload(rt.storage, job, result)
            record(result, upload_seconds=time.monotonic() - started)
        settle(rt, job_id, "completed", result=stored, output_seconds=result.duration, stage="upload")
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
        log.exception("render job %s broke", job_id)
        settle(rt, job_id, "failed", error={"code": "internal", "message": "the render failed unexpectedly"})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_render(rt: Runtime, job_id: str, **options: Any) -> None:
    """Run the job with every log line tagged with its id, tenant and stage."""
    job = rt.store.get(job_id)
    with logs.job_context(job_id, job.tenant if job else "-"):
        _run_render(rt, job_id, **options)
