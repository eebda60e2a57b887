"""What a finished render leaves behind: its files in storage and its stage metrics.

Shared by a render done in one place and by the join of a render split into chunks, so both store
their results under the same keys and count the same metrics.
"""

from __future__ import annotations

from typing import Any

from framefleet.compositor.render import RenderResult
from framefleet.flags import Flag
from framefleet.metrics import definitions as m
from framefleet.queue.jobs import Job
from framefleet.storage import Storage


def upload(storage: Storage, job: Job, result: RenderResult, *, cancel: Flag | None = None) -> dict[str, Any]:
    """Store the output (and thumbnail, captions) under keys derived from the job id: a re-run overwrites."""
    base = f"{job.tenant}/{job.id}"
    main = storage.put(result.path, f"{base}/output{result.path.suffix}", content_type=result.content_type,
                       cancel=cancel)
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
