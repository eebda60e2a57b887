"""Settings → broker, job store, storage, runtime and actors: the one place a fleet's parts are put together.

The CLI, the client, ``doctor`` and every worker process build their parts here, so they cannot disagree
about which store goes with which broker, or how a job id reaches its queue.
"""

from __future__ import annotations

from dataclasses import dataclass

import dramatiq

from framefleet.config import Settings
from framefleet.errors import BadInput
from framefleet.queue.broker import make_broker
from framefleet.queue.jobs import JobStore
from framefleet.queue.stores import open_store
from framefleet.storage import open_storage
from framefleet.worker.actors import Actors, declare
from framefleet.worker.runtime import Runtime


def open_job_store(settings: Settings) -> JobStore:
    """Job state lives in Redis: the broker's, or ``FRAMEFLEET_STATE_URL`` beside a RabbitMQ broker."""
    if settings.state_url:
        return open_store(settings.state_url)
    if settings.broker_url.startswith(("amqp://", "amqps://")):
        raise BadInput("with a RabbitMQ broker, set FRAMEFLEET_STATE_URL to a redis:// URL for job state")
    return open_store(settings.broker_url)


@dataclass(frozen=True)
class Dispatch:
    """How work reaches the queues: what the runtime's ``enqueue``, ``notify`` and chunk hooks call."""

    broker: dramatiq.Broker
    actors: Actors

    def enqueue(self, queue: str, job_id: str, delay: float | None = None) -> None:
        actor = self.actors.for_queue(queue)
        if delay:
            actor.send_with_options(args=(job_id,), delay=int(delay * 1000))
        else:
            actor.send(job_id)

    def notify(self, url: str, body: str) -> None:
        self.actors.webhooks.send(url, body)

    def chunks(self, queue: str, job_id: str, count: int) -> None:
        messages = [self.actors.chunks[queue].message(job_id, index) for index in range(count)]
        dramatiq.group(messages, broker=self.broker).run()  # type: ignore[no-untyped-call]

    def join(self, queue: str, job_id: str) -> None:
        self.actors.joins[queue].send(job_id)


def build_runtime(settings: Settings) -> tuple[Runtime, dramatiq.Broker, Actors]:
    """Broker, store, storage and actors, wired together, for a worker or a client."""
    broker = make_broker(settings.broker_url)
    rt = Runtime(settings, open_job_store(settings), open_storage(settings))
    actors = declare(broker, rt)
    dispatch = Dispatch(broker, actors)
    rt.enqueue, rt.notify = dispatch.enqueue, dispatch.notify
    rt.dispatch_chunks, rt.dispatch_join = dispatch.chunks, dispatch.join
    return rt, broker, actors
