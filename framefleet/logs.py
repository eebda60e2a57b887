"""Logging: JSON lines for log shippers, readable lines for terminals; job id, tenant and stage on every
line logged while a job runs (context variables, so each worker thread carries its own job)."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)
tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant", default=None)
stage: contextvars.ContextVar[str | None] = contextvars.ContextVar("stage", default=None)


@contextlib.contextmanager
def job_context(job_id_value: str, tenant_value: str) -> Iterator[None]:
    """Tag every log line of the current thread with a job, for as long as it runs."""
    tokens = (job_id.set(job_id_value), tenant.set(tenant_value), stage.set(None))
    try:
        yield
    finally:
        stage.reset(tokens[2])
        tenant.reset(tokens[1])
        job_id.reset(tokens[0])


def context() -> dict[str, str]:
    values = {"job_id": job_id.get(), "tenant": tenant.get(), "stage": stage.get()}
    return {k: v for k, v in values.items() if v}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
            **context(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in context().items())
        return f"{line} [{extra}]" if extra else line


def setup(fmt: str = "auto", *, verbose: bool = False) -> None:
    """Configure the root logger once, for the whole process."""
    if fmt == "auto":
        fmt = "text" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "pika"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
