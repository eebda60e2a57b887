"""One render across many workers (SPEC §7): split into chunks, rendered at once, joined by one worker.

The render job's own message plans the timeline and, when it is long enough (or a chunk count was
asked for), records the chunks on the job (their frame spans, which are runs of the time segments a
one-machine render would use) and sends one ``render_chunk`` message per chunk as a Dramatiq group.
Each chunk renders its pictures (no sound) into ``<tenant>/<job>/chunks/NNNN.mp4`` in storage and adds
its index to the job's set of finished chunks. Whoever sees the set complete sends the join message;
the join copies the chunks' pictures end to end, mixes the whole timeline's sound once, uploads the
result under the same keys as an unchunked render, and settles the job, which deletes the chunk files.

Why a join message and not a group completion callback: Dramatiq's group barrier counts completed
messages, so a chunk delivered twice (its first worker presumed dead, then finishing after all) would
release the join before the last chunk is done. The job's set of finished indexes counts each chunk
once however often it is delivered, and lives in the job store every worker already uses.

Failure stays per chunk: a worker SIGKILLed mid-chunk leaves its message unacknowledged, the broker
gives it to another worker, and only that chunk is rendered again (a chunk already in storage is not
rendered twice). A chunk that fails for good fails the job with its own error; cancel stops every
chunk's ffmpeg through the same watch a one-piece render uses.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from framefleet import logs
from framefleet.compositor import segments
from framefleet.compositor.encoders import SEGMENTABLE
from framefleet.compositor.plan import Span
from framefleet.compositor.prepare import Timeline, fetch_all, plan_for, prepare
from framefleet.compositor.render import (
    JOIN_SHARE,
    Piece,
    RenderResult,
    Runner,
    concat_pictures,
    join,
    render_pictures,
    thumbnail_frame,
)
from framefleet.compositor.spec import RenderSpec, load_spec
from framefleet.errors import Canceled, FramefleetError, HandedBack
from framefleet.flags import Flag
from framefleet.metrics import definitions as m
from framefleet.queue.jobs import Job
from framefleet.worker import endings
from framefleet.worker.assets import JobFetcher
from framefleet.worker.lifecycle import Watch, fail
from framefleet.worker.results import record, upload
from framefleet.worker.runtime import Runtime

log = logging.getLogger(__name__)

#: Chunk progress is written to the job at most this often (seconds) by each chunk.
PROGRESS_EVERY = 0.5


def chunk_prefix(job: Job) -> str:
    return f"{job.tenant}/{job.id}/chunks"


def chunk_key(job: Job, index: int) -> str:
    return f"{chunk_prefix(job)}/{index:04d}.mp4"


def policy(rt: Runtime) -> segments.Policy:
    return segments.Policy(max_inputs=rt.settings.segment_inputs, max_seconds=rt.settings.segment_seconds)


def plan_chunks(rt: Runtime, job: Job, spec: RenderSpec, *, cancel: Flag | None = None) -> list[list[Span]] | None:
    """The chunks this render job should be split into, or None to render it in one place."""
    requested: Any = job.payload.get("chunks") or spec.output.chunks
    if requested == 1 or spec.output.format not in SEGMENTABLE:
        return None
    files = fetch_all(spec, JobFetcher(rt, job, cancel=cancel))
    plan = plan_for(spec, files, rt.settings, cancel=cancel)
    count = segments.count_for(plan.duration, rt.settings.chunk_seconds,
                               None if requested == "auto" else int(requested))
    if count <= 1:
        return None
    runs = segments.chunks(segments.split(plan, policy(rt)), count)
    return runs if len(runs) > 1 else None


def split(rt: Runtime, job: Job, runs: list[list[Span]]) -> None:
    """Record the chunks on the job and send one message per chunk. A second delivery of the render
    message finds the chunks already recorded and sends the same ones again (finished ones are skipped)."""
    spans = [[[s.start, s.end] for s in run] for run in runs]

    def record(current: Job) -> bool:
        if current.terminal:
            return False
        if current.chunks is None:
            current.chunks = {"total": len(spans), "spans": spans, "done": [], "progress": [0.0] * len(spans)}
        current.stage, current.progress = "render", 0.0
        return True

    recorded = rt.store.modify(job.id, record)
    if recorded is None or recorded.chunks is None:
        return
    log.info("render job split into %d chunks", recorded.chunks["total"])
    rt.dispatch_chunks(job.queue, job.id, recorded.chunks["total"])


def _report(rt: Runtime, job_id: str, index: int) -> Any:
    """Progress of one chunk → the job's progress over all chunks (the join gets the last share)."""
    last = [0.0]

    def report(fraction: float) -> None:
        now = time.monotonic()
        if fraction < 1 and now - last[0] < PROGRESS_EVERY:
            return
        last[0] = now

        def change(job: Job) -> bool:
            if job.terminal or job.chunks is None:
                return False
            job.chunks["progress"][index] = round(fraction, 4)
            job.stage = "render"
            job.progress = round(sum(job.chunks["progress"]) / job.chunks["total"] * (1 - JOIN_SHARE), 4)
            return True

        try:
            rt.store.modify(job_id, change)
        except Exception:
            log.debug("chunk progress update failed", exc_info=True)

    return report


def _finished(rt: Runtime, job_id: str, index: int) -> Job | None:
    """Add ``index`` to the job's finished chunks (once, however often it is delivered)."""

    def change(job: Job) -> bool:
        if job.terminal or job.chunks is None:
            return False
        if index not in job.chunks["done"]:
            job.chunks["done"].append(index)
        job.chunks["progress"][index] = 1.0
        return True

    return rt.store.modify(job_id, change)


def _timeline(rt: Runtime, job: Job, work: Path, *, cancel: Flag, pictures: bool = True,
              window: Span | None = None) -> Timeline:
    spec = load_spec(job.payload.get("spec"), limits=rt.settings.limits)
    files = fetch_all(spec, JobFetcher(rt, job, cancel=cancel))
    return prepare(spec, work, settings=rt.settings, files=files, pictures=pictures, window=window,
                   cancel=cancel, later=True)


def _ended(rt: Runtime, job_id: str, watch: Watch, exc: BaseException, *, last_try: bool) -> None:
    """How a chunk or join that stopped early ends the job (or goes back to the broker): the job stays
    ``processing`` while a chunk is retried, since its sibling chunks go on."""
    if isinstance(exc, Canceled) and watch.reason == "hand_back":
        raise HandedBack("the worker shut down") from None
    if isinstance(exc, FramefleetError) and exc.transient and not last_try:
        m.CHUNKS.labels("retried").inc()
        raise exc
    fail(rt, job_id, exc, what="render", broke=f"render chunk of job {job_id} broke", logger=log)


def run_chunk(rt: Runtime, job_id: str, index: int, *, last_try: bool = True,
              time_limit: float | None = None) -> None:
    """Render chunk ``index`` of a split render job and store its pictures."""
    job = rt.store.get(job_id)
    if job is None or job.terminal or job.chunks is None:
        return
    with logs.job_context(job_id, job.tenant):
        key = chunk_key(job, index)
        if index in job.chunks["done"] or rt.storage.exists(key):
            _done(rt, job, index)  # an earlier delivery rendered it
            return
        spans = [Span(a, b) for a, b in job.chunks["spans"][index]]
        log.info("render chunk %d/%d started (frames %d-%d)", index + 1, job.chunks["total"], spans[0].start,
                 spans[-1].end)
        watch = Watch(rt, job_id, job.type)
        work = Path(tempfile.mkdtemp(dir=rt.work_root, prefix=f"{job_id}-chunk{index}-"))
        try:
            with watch.running():
                timeline = _timeline(rt, job, work, cancel=watch.stop, window=Span(spans[0].start, spans[-1].end))
                runner = Runner(rt.settings, timeline, report=_report(rt, job_id, index), cancel=watch.stop,
                                timeout=time_limit)
                at = thumbnail_frame(timeline)
                thumb = work / "thumbnail.jpg" if at is not None and spans[0].start <= at < spans[-1].end else None
                pieces = render_pictures(timeline, spans, runner, thumbnail=thumb)
                piece = pieces[0] if len(pieces) == 1 else concat_pictures(pieces, work / "chunk.mp4", runner)
                if thumb is not None:
                    rt.storage.put(thumb, f"{chunk_prefix(job)}/thumbnail.jpg", content_type="image/jpeg")
                rt.storage.put(piece.file, key, content_type="video/mp4", cancel=watch.stop)
        except BaseException as exc:
            m.CHUNKS.labels("canceled" if isinstance(exc, Canceled) else "failed").inc()
            _ended(rt, job_id, watch, exc, last_try=last_try)
            return
        finally:
            shutil.rmtree(work, ignore_errors=True)
        m.CHUNKS.labels("completed").inc()
        _done(rt, job, index)


def _done(rt: Runtime, job: Job, index: int) -> None:
    finished = _finished(rt, job.id, index)
    if finished is None:  # the job ended meanwhile: its chunk files were (or are being) deleted
        rt.storage.delete_prefix(chunk_prefix(job))
        return
    assert finished.chunks is not None
    if len(finished.chunks["done"]) == finished.chunks["total"]:
        rt.dispatch_join(job.queue, job.id)


def run_join(rt: Runtime, job_id: str, *, last_try: bool = True, time_limit: float | None = None) -> None:
    """Join the chunks of a split render: pictures copied in order, sound mixed once, result uploaded."""
    job = rt.store.get(job_id)
    if job is None or job.chunks is None:
        return
    if job.terminal:
        rt.storage.delete_prefix(chunk_prefix(job))
        return
    if len(job.chunks["done"]) < job.chunks["total"]:
        return  # an early duplicate; the last chunk to finish sends the join again
    with logs.job_context(job_id, job.tenant):
        watch = Watch(rt, job_id, job.type)
        work = Path(tempfile.mkdtemp(dir=rt.work_root, prefix=f"{job_id}-join-"))
        started = time.monotonic()
        try:
            with watch.running():
                timeline = _timeline(rt, job, work, cancel=watch.stop, pictures=False)
                pieces = []
                for index, run in enumerate(job.chunks["spans"]):
                    file = rt.storage.get(chunk_key(job, index), work / f"chunk-{index:04d}.mp4")
                    pieces.append(Piece(file, Span(run[0][0], run[-1][1])))
                watch.progress("render", 1 - JOIN_SHARE)
                runner = Runner(rt.settings, timeline, cancel=watch.stop, timeout=time_limit,
                                report=lambda f: watch.progress("render", 1 - JOIN_SHARE + JOIN_SHARE * f))
                output = work / f"output.{timeline.spec.output.format}"
                join(timeline, pieces, output, runner)
                result = _result(rt, job, timeline, output, started)
                watch.progress("upload", 0.0)
                uploading = time.monotonic()
                stored = upload(rt.storage, job, result, cancel=watch.stop)
                record(result, upload_seconds=time.monotonic() - uploading)
            endings.end(rt, job_id, result=stored, output_seconds=result.duration, stage="upload")
        except BaseException as exc:
            _ended(rt, job_id, watch, exc, last_try=last_try)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _result(rt: Runtime, job: Job, timeline: Timeline, output: Path, started: float) -> RenderResult:
    plan, encoding = timeline.plan, timeline.encoding
    thumbnail = None
    if thumbnail_frame(timeline) is not None:
        thumbnail = rt.storage.get(f"{chunk_prefix(job)}/thumbnail.jpg", output.with_suffix(".jpg"))
    captions = None
    if timeline.prepared.cues:
        from framefleet.compositor import captions as cap

        captions = output.with_suffix(".vtt")
        captions.write_text(cap.webvtt(timeline.prepared.cues), encoding="utf-8")
    return RenderResult(
        path=output, content_type=encoding.content_type, size_bytes=output.stat().st_size, duration=plan.duration,
        width=plan.canvas.width, height=plan.canvas.height, fps=float(plan.canvas.fps), encoder=encoding.label,
        thumbnail=thumbnail, captions=captions, seconds={"render": time.monotonic() - started},
        segments=sum(len(run) for run in job.chunks["spans"]) if job.chunks else 1,
    )
