"""Generation jobs (SPEC §8): a provider turns a request into stored media, with a render's lifecycle.

Each type's provider comes from the providers file (:mod:`framefleet.provider_config`); ``media`` is
built in (fetch a URL and store it). A job runs under :func:`~framefleet.worker.lifecycle.run_job`, so
it has a render's stages, progress, cancel, retries, webhooks and metrics.

Waiting never holds a worker thread. A provider that works asynchronously (video: minutes) answers
:class:`~framefleet.providers.base.Pending`; the job is then *parked*: its upstream id is saved on the
job, its lease released, and the same job id is sent to the ``generate`` queue again with a delay, so
the thread takes other jobs meanwhile. The same happens when the fleet's rate limit for the provider is
full, or the provider answers 429 with a long ``Retry-After``. A parked job that is canceled is
canceled upstream (a Replicate prediction, an OpenAI video) when its next poll arrives.
"""

from __future__ import annotations

import json
import logging
import mimetypes
from pathlib import Path
from typing import Any

from framefleet.compositor.captions import TimedWord, group_phrases, webvtt
from framefleet.compositor.probe import probe
from framefleet.errors import BadInput, BadMedia, FramefleetError, ProviderError, ProviderUnavailable
from framefleet.flags import Flag
from framefleet.metrics import definitions as m
from framefleet.provider_config import ProviderConfig, configured
from framefleet.providers.base import Output, Pending, Request
from framefleet.providers.limits import slot
from framefleet.providers.registry import provider
from framefleet.queue.jobs import Job
from framefleet.worker.assets import JobFetcher
from framefleet.worker.lifecycle import Watch, park, run_job
from framefleet.worker.runtime import Runtime

log = logging.getLogger(__name__)

#: A job that found its provider's fleet-wide limit full tries again after this many seconds.
LIMIT_RETRY_SECONDS = 2.0
#: A parked job is looked at again this many seconds later at the least (a provider's "poll again now"
#: still goes through the queue).
MIN_PARK = 0.05
#: Words per cue in the ``.vtt`` of a captions result.
VTT_WORDS = 7


def fetch_media(rt: Runtime, job: Job, cancel: Flag) -> Output:
    src = job.payload.get("src")
    if not isinstance(src, str) or not src:
        raise BadInput("src: a media job needs a 'src' URL")
    path = JobFetcher(rt, job, cancel=cancel).fetch(src)
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Output(path=path, content_type=kind, usage={})


def _request(rt: Runtime, job: Job, config: ProviderConfig, watch: Watch, work: Path) -> Request:
    fetcher = JobFetcher(rt, job, cancel=watch.stop)
    return Request(type=job.type, payload=job.payload, config=config, work=work, cancel=watch.stop,
                   limits=rt.settings.limits, fetch=fetcher.fetch,
                   ffmpeg=rt.settings.ffmpeg, ffprobe=rt.settings.ffprobe, state=job.generation,
                   progress=watch.progress)


def _config(rt: Runtime, job_type: str) -> ProviderConfig:
    config = configured(rt.settings.providers, job_type)
    if config is None:
        raise ProviderError(f"no provider configured for {job_type}: the operator must add a [{job_type}] "
                            "table to the providers file (FRAMEFLEET_PROVIDERS)")
    return config


def _cancel_upstream(rt: Runtime, job_id: str) -> Job | None:
    """A parked job canceled while it waited: stop the provider's work before the job is settled.

    Returns the job as it now stands (read once here, so :func:`run_job` need not read it again)."""
    job = rt.store.get(job_id)
    if job is None or not job.generation or not job.cancel_requested or job.generation.get("canceled"):
        return job
    try:
        config = _config(rt, job.type)
        request = Request(type=job.type, payload=job.payload, config=config, work=rt.work_root, cancel=rt.hand_back,
                          limits=rt.settings.limits, fetch=Path, state=job.generation)
        provider(config.provider).cancel(request)
        changed = rt.store.update(job_id, generation={**job.generation, "canceled": True})
        log.info("generation %s canceled upstream at %s", job_id, config.provider)
        return changed
    except Exception:
        log.warning("canceling generation %s upstream failed", job_id, exc_info=True)
        return job


def _facts(rt: Runtime, out: Output, cancel: Flag, *, fetched: bool) -> dict[str, Any]:
    """``duration``, ``width``, ``height`` of a media result, read from the file itself. A ``media`` job
    stores what it fetched as it is (facts when they can be read); a provider's unreadable file fails."""
    if not out.content_type.startswith(("audio/", "video/", "image/")):
        return {}
    try:
        info = probe(out.path, name="the generated file", ffprobe=rt.settings.ffprobe, cancel=cancel)
    except BadMedia:
        if fetched:
            return {}
        raise ProviderError("the provider sent a file that cannot be read") from None
    facts: dict[str, Any] = {"duration": round(info.duration, 3) if info.duration and not info.is_still else None}
    if info.width and info.height:
        facts.update(width=info.width, height=info.height)
    return facts


def _store(rt: Runtime, job: Job, work: Path, out: Output, watch: Watch) -> dict[str, Any]:
    words = [w.as_dict() for w in out.words] if out.words is not None else None
    base = f"{job.tenant}/{job.id}/output"
    result: dict[str, Any] = {"thumbnail_url": None}
    if job.type == "captions":
        document = work / "output.json"
        document.write_text(json.dumps({"words": words or [], "language": out.language}))
        timed = [TimedWord(w.text, w.start, w.end) for w in out.words or []]
        cues = [(p[0].start, p[-1].end, " ".join(w.text for w in p)) for p in group_phrases(timed, VTT_WORDS)]
        vtt = work / "output.vtt"
        vtt.write_text(webvtt(cues))
        result["vtt_url"] = rt.storage.put(vtt, f"{base}.vtt", content_type="text/vtt", cancel=watch.stop).url
        out = Output(path=document, content_type="application/json", usage=out.usage, words=out.words)
        result.update(words=words, language=out.language, duration=round(timed[-1].end, 3) if timed else 0.0)
    else:
        result.update(_facts(rt, out, watch.stop, fetched=job.type == "media"))
        if words is not None:
            result["words"] = words
    if out.text is not None:
        result["text"] = out.text
    watch.progress("upload", 0.0)
    suffix = out.path.suffix or mimetypes.guess_extension(out.content_type) or ""
    stored = rt.storage.put(out.path, f"{base}{suffix}", content_type=out.content_type, cancel=watch.stop)
    result.update(url=stored.url, content_type=out.content_type, size_bytes=stored.size_bytes, key=stored.key)
    return result


def _local_model(config: ProviderConfig, job_type: str) -> str:
    if config.provider != "local":
        return ""
    return "espeak-ng" if job_type == "speech_from_text" else "pocketsphinx"


def _generate(rt: Runtime, job: Job, watch: Watch, work: Path) -> tuple[dict[str, Any], float] | None:
    if job.type == "media":
        watch.progress("fetch", 0.0)
        out = fetch_media(rt, job, watch.stop)
        return _store(rt, job, work, out, watch), 0.0
    config = _config(rt, job.type)
    watch.progress("fetch" if job.generation is None else "render", 0.0)
    request = _request(rt, job, config, watch, work)
    with slot(rt.settings, config) as free:
        if not free:
            m.RATE_LIMIT_WAITS.labels(config.provider, job.type, "fleet").inc()
            m.RATE_LIMIT_SECONDS.labels(config.provider, job.type).inc(LIMIT_RETRY_SECONDS)
            park(rt, job, LIMIT_RETRY_SECONDS, stage="fetch", generation=job.generation, min_delay=MIN_PARK)
            return None
        try:
            done = provider(config.provider).run(request)
        except ProviderUnavailable as exc:
            if exc.retry_after is None:
                raise
            log.info("%s asked us to wait %.0f s; job parked", config.provider, exc.retry_after)
            park(rt, job, exc.retry_after, stage="fetch", generation=job.generation, min_delay=MIN_PARK)
            return None
        except FramefleetError as exc:
            if not exc.transient:
                m.PROVIDER_FAILURES.labels(config.provider, job.type, exc.code).inc()
            raise
    if isinstance(done, Pending):
        park(rt, job, done.after, stage="render", generation=done.state, min_delay=MIN_PARK)
        return None
    watch.progress("render", 1.0)
    # recorded as soon as the provider has done the work: it was consumed even if storing it fails
    usage: dict[str, Any] = {"provider": config.provider, "model": done.model or request.model
                             or _local_model(config, job.type)}
    usage.update(done.usage)
    rt.store.update(job.id, usage=usage)
    result = _store(rt, job, work, done, watch)
    seconds = result.get("duration") or 0.0
    return result, float(seconds) if job.type in ("video_from_text", "video_from_image", "lipsync") else 0.0


def run_generation(rt: Runtime, job_id: str, *, last_try: bool = True) -> None:
    known = _cancel_upstream(rt, job_id)

    def body(job: Job, watch: Watch, work: Path) -> tuple[dict[str, Any], float] | None:
        return _generate(rt, job, watch, work)

    run_job(rt, job_id, body, what="generation", last_try=last_try, known=known)
