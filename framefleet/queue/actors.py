"""The actors: thin wrappers that hand a job id to the worker code. Options, not logic.

Actors are declared on a given broker when a process starts (never at import), and reach the
:class:`~framefleet.worker.runtime.Runtime` attached to that broker (:func:`attach`), so two clients or
workers in one process (tests, an embedded worker) never share state by accident.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage
from dramatiq.middleware.time_limit import TimeLimitExceeded

from framefleet import policy
from framefleet.worker.runtime import Runtime

log = logging.getLogger(__name__)



def attach(broker: dramatiq.Broker, rt: Runtime) -> None:
    """The runtime the actors declared on ``broker`` work with."""
    broker._framefleet_runtime = rt  # type: ignore[attr-defined]


def _runtime_of(broker: dramatiq.Broker) -> Runtime:
    rt = getattr(broker, "_framefleet_runtime", None)
    if rt is None:
        raise RuntimeError("no framefleet runtime attached to this broker: start it with `framefleet worker`")
    return rt  # type: ignore[no-any-return]


def _last_try(max_retries: int) -> bool:
    message = CurrentMessage.get_current_message()
    return message is None or int(message.options.get("retries", 0)) >= max_retries


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


def declare(broker: dramatiq.Broker, *, render_time_limit_s: float = 3600.0,
            webhook_min_backoff_ms: int = 10_000) -> Actors:
    """Declare framefleet's actors on ``broker`` (idempotent per broker)."""
    existing = getattr(broker, "_framefleet_actors", None)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    if not any(isinstance(m, CurrentMessage) for m in broker.middleware):
        broker.add_middleware(CurrentMessage())
    limit_ms = int((render_time_limit_s + 60) * 1000)

    def runtime() -> Runtime:
        return _runtime_of(broker)

    def render_job(job_id: str) -> None:
        from framefleet.worker.render import run_render

        try:
            run_render(runtime(), job_id, last_try=_last_try(policy.JOB_RETRIES), time_limit=render_time_limit_s)
        except TimeLimitExceeded:
            from framefleet.errors import Timeout
            from framefleet.worker.endings import end

            end(runtime(), job_id, error=Timeout("the render took too long"))

    def render_chunk(job_id: str, index: int) -> None:
        from framefleet.worker.chunks import run_chunk

        try:
            run_chunk(runtime(), job_id, index, last_try=_last_try(policy.JOB_RETRIES), time_limit=render_time_limit_s)
        except TimeLimitExceeded:
            from framefleet.errors import Timeout
            from framefleet.worker.endings import end

            end(runtime(), job_id, error=Timeout("the render took too long"))

    def render_join(job_id: str) -> None:
        from framefleet.worker.chunks import run_join

        run_join(runtime(), job_id, last_try=_last_try(policy.JOB_RETRIES), time_limit=render_time_limit_s)

    def generate_job(job_id: str) -> None:
        from framefleet.worker.generate import run_generation

        run_generation(runtime(), job_id, last_try=_last_try(policy.JOB_RETRIES))

    def deliver_webhook(url: str, body: str) -> None:
        from framefleet.metrics.definitions import WEBHOOKS
        from framefleet.worker.webhooks import DeliveryFailed, deliver, shown

        rt = runtime()
        if not rt.settings.webhook_secret:
            return
        try:
            deliver(url, body.encode(), secret=rt.settings.webhook_secret, timeout=10.0,
                    allow_private=rt.settings.allow_private_urls)
            WEBHOOKS.labels("delivered").inc()
        except DeliveryFailed as exc:
            last = exc.permanent or _last_try(policy.WEBHOOK_RETRIES)
            WEBHOOKS.labels("failed" if last else "retried").inc()
            # never the whole URL: its query string is often the receiver's token
            log.info("webhook to %s failed (%s)%s", shown(url), exc, "; giving up" if last else "; will retry")
            if not last:
                # Retry, not the error itself: dramatiq logs other exceptions at ERROR with the message's
                # arguments, the full URL among them
                raise dramatiq.Retry(str(exc)) from None

    def make(fn: Any, queue: str, name: str | None = None, **options: Any) -> Any:
        return dramatiq.actor(broker=broker, actor_name=name or queue, queue_name=queue, **options)(fn)

    job_options: dict[str, Any] = {"max_retries": policy.JOB_RETRIES, "time_limit": limit_ms,
                                   "min_backoff": policy.JOB_MIN_BACKOFF_MS, "max_backoff": policy.JOB_MAX_BACKOFF_MS}
    actors = Actors(
        render=make(render_job, "render", **job_options),
        render_gpu=make(render_job, "render_gpu", **job_options),
        generate=make(generate_job, "generate", **job_options),
        webhooks=make(deliver_webhook, "webhooks", max_retries=policy.WEBHOOK_RETRIES,
                      min_backoff=webhook_min_backoff_ms, max_backoff=policy.WEBHOOK_MAX_BACKOFF_MS, time_limit=60_000),
        chunks={queue: make(render_chunk, queue, name=f"{queue}_chunk", **job_options)
                for queue in ("render", "render_gpu")},
        joins={queue: make(render_join, queue, name=f"{queue}_join", **job_options)
               for queue in ("render", "render_gpu")},
    )
    broker._framefleet_actors = actors  # type: ignore[attr-defined]
    return actors
