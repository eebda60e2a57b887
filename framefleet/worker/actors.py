"""The actors: Dramatiq's names for framefleet's work, with their options (retries, time limits), no logic.

Each actor is a module-level function of this module that takes the worker's :class:`Runtime` first;
:func:`declare` binds the functions to one broker and one runtime when a process starts (never at
import), so two clients or workers in one process (tests, an embedded worker) never share state.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage
from dramatiq.middleware.time_limit import TimeLimitExceeded

from framefleet import policy
from framefleet.errors import Timeout
from framefleet.metrics import definitions as m
from framefleet.worker.chunks import run_chunk, run_join
from framefleet.worker.endings import end
from framefleet.worker.generate import run_generation
from framefleet.worker.render import run_render
from framefleet.worker.runtime import Runtime
from framefleet.worker.webhooks import DeliveryFailed, deliver, shown

log = logging.getLogger(__name__)

JOB_QUEUES = ("render", "render_gpu", "generate")
RENDER_QUEUES = ("render", "render_gpu")


def _last_try(max_retries: int) -> bool:
    message = CurrentMessage.get_current_message()
    return message is None or int(message.options.get("retries", 0)) >= max_retries


def render_job(rt: Runtime, job_id: str) -> None:
    try:
        run_render(rt, job_id, last_try=_last_try(policy.JOB_RETRIES), time_limit=rt.settings.render_time_limit)
    except TimeLimitExceeded:
        end(rt, job_id, error=Timeout("the render took too long"))


def render_chunk(rt: Runtime, job_id: str, index: int) -> None:
    try:
        run_chunk(rt, job_id, index, last_try=_last_try(policy.JOB_RETRIES),
                  time_limit=rt.settings.render_time_limit)
    except TimeLimitExceeded:
        end(rt, job_id, error=Timeout("the render took too long"))


def render_join(rt: Runtime, job_id: str) -> None:
    run_join(rt, job_id, last_try=_last_try(policy.JOB_RETRIES), time_limit=rt.settings.render_time_limit)


def generate_job(rt: Runtime, job_id: str) -> None:
    run_generation(rt, job_id, last_try=_last_try(policy.JOB_RETRIES))


def deliver_webhook(rt: Runtime, url: str, body: str) -> None:
    if not rt.settings.webhook_secret:
        return
    try:
        deliver(url, body.encode(), secret=rt.settings.webhook_secret, timeout=10.0,
                allow_private=rt.settings.allow_private_urls)
        m.WEBHOOKS.labels("delivered").inc()
    except DeliveryFailed as exc:
        last = exc.permanent or _last_try(policy.WEBHOOK_RETRIES)
        m.WEBHOOKS.labels("failed" if last else "retried").inc()
        # never the whole URL: its query string is often the receiver's token
        log.info("webhook to %s failed (%s)%s", shown(url), exc, "; giving up" if last else "; will retry")
        if not last:
            # Retry, not the error itself: dramatiq logs other exceptions at ERROR with the message's
            # arguments, the full URL among them
            raise dramatiq.Retry(str(exc)) from None


@dataclass(frozen=True)
class Actors:
    render: Any
    render_gpu: Any
    generate: Any
    webhooks: Any
    #: Chunks and joins of split renders, on the same queues as the renders they belong to.
    chunks: dict[str, Any]
    joins: dict[str, Any]

    def for_queue(self, queue: str) -> Any:
        return {"render": self.render, "render_gpu": self.render_gpu, "generate": self.generate}[queue]


def declare(broker: dramatiq.Broker, rt: Runtime) -> Actors:
    """Bind the actor functions to ``broker`` and ``rt`` (once per broker)."""
    existing = getattr(broker, "_framefleet_actors", None)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    if not any(isinstance(m, CurrentMessage) for m in broker.middleware):
        broker.add_middleware(CurrentMessage())
    limit_ms = int((rt.settings.render_time_limit + 60) * 1000)
    job: dict[str, Any] = {"max_retries": policy.JOB_RETRIES, "time_limit": limit_ms,
                           "min_backoff": policy.JOB_MIN_BACKOFF_MS, "max_backoff": policy.JOB_MAX_BACKOFF_MS}

    def make(fn: Callable[..., None], queue: str, name: str, **options: Any) -> Any:
        bound = functools.update_wrapper(functools.partial(fn, rt), fn)
        return dramatiq.actor(broker=broker, actor_name=name, queue_name=queue, **options)(bound)

    actors = Actors(
        render=make(render_job, "render", "render", **job),
        render_gpu=make(render_job, "render_gpu", "render_gpu", **job),
        generate=make(generate_job, "generate", "generate", **job),
        webhooks=make(deliver_webhook, "webhooks", "webhooks", max_retries=policy.WEBHOOK_RETRIES,
                      min_backoff=rt.settings.webhook_min_backoff_ms, max_backoff=policy.WEBHOOK_MAX_BACKOFF_MS,
                      time_limit=60_000),
        chunks={q: make(render_chunk, q, f"{q}_chunk", **job) for q in RENDER_QUEUES},
        joins={q: make(render_join, q, f"{q}_join", **job) for q in RENDER_QUEUES},
    )
    broker._framefleet_actors = actors  # type: ignore[attr-defined]
    return actors
