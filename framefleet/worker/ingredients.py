"""A queued render whose spec generates media: its generations run first, as jobs of the same tenant.

Each request of the spec becomes a generation job (visible with ``status``, billed in ``usage``) found
by its *content*: the job store's per-tenant idempotency index holds ``content:<digest>`` of the type,
the payload (after merge fields) and the provider that serves it (name, base URL, model, options). A
re-render, or a second render needing the same voice line, finds that job instead of making another:
nothing is generated or charged twice. A key whose job failed or was canceled makes a new job (the
index's own rule); one whose job expired unstarted moves on to a key derived from that job.

While any generation is still running, the render is *parked* like a waiting generation: its lease is
released and its id sent to its queue again with a delay (0.25 s doubling up to
``FRAMEFLEET_RENDER_WAIT_POLL``), so no render thread waits on a provider. When every generation is
done, the job's stored spec is rewritten with ``job:<id>`` sources and inline caption words, so the
render, its chunks and any redelivery read a plain spec. A generation that fails fails the render with
its code and message, at the JSON path of the request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from framefleet.compositor.ingredients import Made, Need, check_sizes, content_key, provider_for, resolve
from framefleet.compositor.spec import RenderSpec, merged
from framefleet.errors import GenerationFailed
from framefleet.queue.jobs import CONTENT_KEY_PREFIX, Job, new_id
from framefleet.worker.lifecycle import Watch, park
from framefleet.worker.runtime import Runtime

log = logging.getLogger(__name__)

FIRST_WAIT = 0.25


def generation_job(rt: Runtime, render: Job, need: Need) -> tuple[Job, bool]:
    """The generation job for ``need``: the tenant's cached one for the same content, or a new one (sent
    to the ``generate`` queue). Returns the job and whether it is new."""
    config = provider_for(rt.settings, need)
    check_sizes(need, config)
    key = CONTENT_KEY_PREFIX + content_key(need, config)
    for _ in range(4):
        job = Job(id=new_id(), type=need.type, tenant=render.tenant, payload=need.payload, queue="generate",
                  metadata={"render": render.id, "at": need.paths[0]}, idempotency_key=key)
        found, created = rt.store.create(job)
        if created:
            rt.enqueue("generate", found.id)
            log.info("render %s: %s generation %s for %s", render.id, need.type, found.id, need.paths[0])
            return found, True
        if found.status != "expired":
            return found, False
        key = f"{CONTENT_KEY_PREFIX}{content_key(need, config)}:{found.id}"  # never started: start afresh
    return found, False


@dataclass
class Progress:
    """What one look at a render's generations found, for its result and its progress."""

    used: list[dict[str, Any]] = field(default_factory=list)
    pending: int = 0
    total: int = 0
    #: need key → the generation job this render waits for: looked up again by id, never by content, so
    #: one that fails fails this render instead of the index making it anew on the next look
    jobs: dict[str, str] = field(default_factory=dict)


def _made(job: Job) -> Made:
    result = job.result or {}
    words = result.get("words")
    duration = result.get("duration")
    return Made(source=f"job:{job.id}", duration=float(duration) if isinstance(duration, int | float) else None,
                words=tuple(words) if isinstance(words, list) else None)


def _maker(rt: Runtime, render: Job, seen: Progress) -> Any:
    def make(needs: Sequence[Need]) -> Mapping[str, Made] | None:
        made: dict[str, Made] = {}
        waiting = 0
        for need in needs:
            known = rt.store.get(seen.jobs[need.key]) if need.key in seen.jobs else None
            job = known or generation_job(rt, render, need)[0]
            seen.jobs[need.key] = job.id
            seen.total += 1
            if job.status == "completed":
                made[need.key] = _made(job)
                seen.used.append({"at": need.paths[0], "type": need.type, "job_id": job.id,
                                  "cached": job.metadata.get("render") != render.id})
            elif job.terminal:
                error = job.error or {}
                raise GenerationFailed(str(error.get("code", "internal")),
                                       f"{need.paths[0]}: {error.get('message', f'the {need.type} job {job.status}')}")
            else:
                waiting += 1
        seen.pending += waiting
        return None if waiting else made

    return make


def resolve_job(rt: Runtime, job: Job, spec: RenderSpec, watch: Watch
                ) -> tuple[RenderSpec, list[dict[str, Any]], Job] | None:
    """The render's spec with its generations in place, which jobs made them, and the job with that spec
    stored on it (so chunks and redeliveries read it); or None when the render was parked to wait for them."""
    from framefleet.compositor.spec import load_spec

    doc, _ = merged(job.payload.get("spec"), limits=rt.settings.limits)
    seen = Progress(jobs=dict((job.generation or {}).get("jobs") or {}))
    resolved = resolve(doc, spec, _maker(rt, job, seen))
    if resolved is None:
        watch.progress("fetch", round(0.1 * (seen.total - seen.pending) / max(1, seen.total), 4))
        _park(rt, job, seen.jobs)
        return None
    ready = load_spec(resolved, limits=rt.settings.limits)
    stored = rt.store.update(job.id, payload={**job.payload, "spec": resolved, "generations": seen.used},
                             generation=None)
    return ready, seen.used, stored or job


def _park(rt: Runtime, job: Job, waiting: dict[str, str]) -> None:
    """Let the render go (:func:`~framefleet.worker.lifecycle.park`) and look again after a growing delay."""
    waits = int((job.generation or {}).get("waits", 0))
    delay = min(rt.settings.render_wait_poll, FIRST_WAIT * 2 ** waits)
    park(rt, job, delay, stage="fetch", generation={"waits": waits + 1, "jobs": waiting})
