"""``framefleet.Client``: submit jobs, follow them, cancel them, meter them.

The client talks to the same broker and job store as the workers. With ``memory://`` it also runs an
embedded worker in a background thread, so a single process can submit and complete jobs with nothing
else installed.
"""

from __future__ import annotations

import time
from typing import Any

from framefleet.compositor.shotstack import at_edit_paths, convert, is_edit
from framefleet.compositor.spec import RenderSpec, load_spec
from framefleet.config import Settings
from framefleet.errors import BadInput
from framefleet.jsonload import check_document
from framefleet.queue.jobs import TYPES, Job, check_fields, new_id
from framefleet.worker.webhooks import check_url
from framefleet.worker.wiring import build_runtime


class Client:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.rt, self.broker, self.actors = build_runtime(self.settings)
        self._embedded: Any = None
        if self.settings.broker_url.startswith("memory://"):
            import dramatiq

            self._embedded = dramatiq.Worker(self.broker, worker_threads=2, worker_timeout=100)
            self._embedded.start()

    def close(self) -> None:
        if self._embedded is not None:
            self._embedded.stop(timeout=10_000)
            self._embedded = None
        self.broker.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, payload: dict[str, Any], *, type: str = "render", tenant: str = "default",
               webhook: str | None = None, metadata: dict[str, Any] | None = None,
               idempotency_key: str | None = None, chunks: int | None = None) -> dict[str, Any]:
        """Validate and enqueue a job; returns its JSON. Bad input raises before anything is queued.

        ``chunks`` (renders) splits the render across that many workers, overriding ``output.chunks``."""
        if type not in TYPES:
            raise BadInput(f"unknown job type {type!r} (one of {', '.join(TYPES)})")
        spec: RenderSpec | None = None
        if type == "render" and is_edit(payload):  # a Shotstack edit: its callback is the job's webhook
            edit = convert(payload, limits=self.settings.limits)  # checks the edit as a document first
            payload, webhook = edit.spec, webhook or edit.webhook
            with at_edit_paths(edit):
                spec = load_spec(payload, limits=self.settings.limits)
        check_fields(tenant=tenant, idempotency_key=idempotency_key, metadata=metadata,
                     limits=self.settings.limits)
        if webhook is not None:
            check_url(webhook, allow_private=self.settings.allow_private_urls)
        if spec is None:  # a converted edit was checked as a document by ``load_spec`` already
            # every payload is stored as JSON and read back by a worker: one too deep to serialise, or with
            # an infinity or a lone surrogate in it, must be refused here, not crash the store or the worker
            check_document(payload, limits=self.settings.limits, what=f"a {type} request")
        queue = "generate"
        if type == "render":
            spec = spec or load_spec(payload, limits=self.settings.limits)
            queue = "render_gpu" if spec.output.encoder == "gpu" else "render"
            payload = {"spec": payload}
            if chunks is not None:
                if not 1 <= chunks <= 64:
                    raise BadInput("chunks must be between 1 and 64")
                payload["chunks"] = chunks
        job = Job(id=new_id(), type=type, tenant=tenant, payload=payload, queue=queue, metadata=metadata or {},
                  idempotency_key=idempotency_key, webhook_url=webhook)
        # a fleet holds new jobs in their tenant's line, released in turns by the workers (fair shares:
        # worker/dispatcher.py); the embedded worker of memory:// takes them in order
        hold = self.settings.fair and not self.settings.broker_url.startswith("memory://")
        stored, created = self.rt.store.create(job, hold=hold)
        if created and not hold:
            self.actors.for_queue(queue).send(job.id)
        return stored.public()

    def get(self, job_id: str, *, tenant: str | None = None) -> dict[str, Any] | None:
        job = self.rt.store.get(job_id, tenant=tenant)
        return job.public() if job else None

    def cancel(self, job_id: str, *, tenant: str | None = None) -> dict[str, Any] | None:
        """A queued job ends canceled at once (counted, with its webhook); a running one stops within 2 s."""
        from framefleet.worker.endings import cancel

        job = cancel(self.rt, job_id, tenant=tenant)
        return job.public() if job else None

    def wait(self, job_id: str, *, tenant: str | None = None, timeout: float | None = None,
             poll: float = 0.25) -> dict[str, Any]:
        """Poll until the job is terminal; raises TimeoutError when ``timeout`` passes first."""
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            job = self.rt.store.get(job_id, tenant=tenant)
            if job is None:
                raise BadInput(f"job {job_id} not found")
            if job.terminal:
                return job.public()
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {job.status}")
            time.sleep(poll)

    def usage(self, *, tenant: str | None = None) -> dict[str, Any]:
        return self.rt.store.usage(tenant=tenant)
