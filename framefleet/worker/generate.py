"""Generation jobs: a registry of providers, each turning a request into stored media.

Built in: ``media`` (fetch a URL and store it). Every other type fails with ``provider_error`` until a
provider is registered for it, so an API can accept the names of SPEC §4 today.
"""

from __future__ import annotations

import logging
import mimetypes
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from framefleet import logs
from framefleet.errors import BadInput, FramefleetError, ProviderError
from framefleet.queue.jobs import Job
from framefleet.worker.assets import JobFetcher
from framefleet.worker.lifecycle import Watch, claim, failure, settle
from framefleet.worker.runtime import Runtime

log = logging.getLogger(__name__)

#: A provider gets the runtime, the job and a work folder; returns the file to store and its type.
Provider = Callable[[Runtime, Job, Path], tuple[Path, str]]
PROVIDERS: dict[str, Provider] = {}


def provider(kind: str) -> Callable[[Provider], Provider]:
    def register(fn: Provider) -> Provider:
        PROVIDERS[kind] = fn
        return fn

    return register


@provider("media")
def fetch_media(rt: Runtime, job: Job, work: Path) -> tuple[Path, str]:
    src = job.payload.get("src")
    if not isinstance(src, str) or not src:
        raise BadInput("a media job needs a 'src' URL")
    path = JobFetcher(rt, job).fetch(src)
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return path, kind


def _run_generation(rt: Runtime, job_id: str, *, last_try: bool = True) -> None:
    job = claim(rt, job_id)
    if job is None:
        return
    work = Path(tempfile.mkdtemp(prefix=f"{job_id}-"))
    try:
        make = PROVIDERS.get(job.type)
        if make is None:
            raise ProviderError(f"no provider configured for {job.type}")
        with Watch(rt, job_id, job.type).running() as watch:
            watch.progress("fetch", 0.0)
            path, content_type = make(rt, job, work)
            watch.progress("upload", 0.0)
            suffix = path.suffix or mimetypes.guess_extension(content_type) or ""
            stored = rt.storage.put(path, f"{job.tenant}/{job.id}/output{suffix}", content_type=content_type)
        result: dict[str, Any] = {"url": stored.url, "thumbnail_url": None, "content_type": content_type,
                                  "size_bytes": stored.size_bytes, "key": stored.key}
        settle(rt, job_id, "completed", result=result)
    except FramefleetError as exc:
        if exc.transient and not last_try:
            rt.store.transition(job_id, allowed={"processing"}, status="queued", lease_until=0.0)
            raise
        settle(rt, job_id, "failed", error=failure(exc))
    except Exception:
        log.exception("generation job %s broke", job_id)
        settle(rt, job_id, "failed", error={"code": "internal", "message": "the generation failed unexpectedly"})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_generation(rt: Runtime, job_id: str, **options: Any) -> None:
    """Run the job with every log line tagged with its id, tenant and stage."""
    job = rt.store.get(job_id)
    with logs.job_context(job_id, job.tenant if job else "-"):
        _run_generation(rt, job_id, **options)
