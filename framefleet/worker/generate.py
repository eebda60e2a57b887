"""Generation jobs: a registry of providers, each turning a request into stored media.

Built in: ``media`` (fetch a URL and store it). Every other type fails with ``provider_error`` until a
provider is registered for it, so an API can accept the names of SPEC §4 today.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from framefleet.errors import BadInput, ProviderError
from framefleet.flags import Flag
from framefleet.queue.jobs import Job
from framefleet.worker.assets import JobFetcher
from framefleet.worker.lifecycle import Watch, run_job
from framefleet.worker.runtime import Runtime

#: A provider gets the runtime, the job, a work folder and the job's cancel flag (which it must obey
#: within a couple of seconds); returns the file to store and its type.
Provider = Callable[[Runtime, Job, Path, Flag], tuple[Path, str]]
PROVIDERS: dict[str, Provider] = {}


def provider(kind: str) -> Callable[[Provider], Provider]:
    def register(fn: Provider) -> Provider:
        PROVIDERS[kind] = fn
        return fn

    return register


@provider("media")
def fetch_media(rt: Runtime, job: Job, work: Path, cancel: Flag) -> tuple[Path, str]:
    src = job.payload.get("src")
    if not isinstance(src, str) or not src:
        raise BadInput("a media job needs a 'src' URL")
    path = JobFetcher(rt, job, cancel=cancel).fetch(src)
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return path, kind


def run_generation(rt: Runtime, job_id: str, *, last_try: bool = True) -> None:
    def body(job: Job, watch: Watch, work: Path) -> tuple[dict[str, Any], float]:
        make = PROVIDERS.get(job.type)
        if make is None:
            raise ProviderError(f"no provider configured for {job.type}")
        watch.progress("fetch", 0.0)
        path, content_type = make(rt, job, work, watch.stop)
        watch.progress("upload", 0.0)
        suffix = path.suffix or mimetypes.guess_extension(content_type) or ""
        stored = rt.storage.put(path, f"{job.tenant}/{job.id}/output{suffix}", content_type=content_type,
                                cancel=watch.stop)
        return {"url": stored.url, "thumbnail_url": None, "content_type": content_type,
                "size_bytes": stored.size_bytes, "key": stored.key}, 0.0

    run_job(rt, job_id, body, what="generation", last_try=last_try)
