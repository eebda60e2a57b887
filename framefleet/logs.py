"""Logging: JSON lines for log shippers, readable lines for terminals; job id, tenant and stage on every
line logged while a job runs (context variables, so each worker thread carries its own job)."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
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


#: A URL's credentials and query string (tokens, signatures) never reach a log: ``scheme://host/path`` only.
_URL = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]{0,15}://)(?:[^\s/@?#'\"]*@)?(?P<rest>[^\s?#'\"]*)"
                  r"(?P<query>[?#][^\s'\"]*)?")
#: C0 and C1 control characters, DEL and the Unicode line and paragraph separators: anything a terminal or
#: a line-based log reader takes as a line break or an escape sequence.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def redact(text: str) -> str:
    """``text`` with every URL cut to ``scheme://host/path`` (credentials and query string dropped)."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: m["head"] + m["rest"] + ("?…" if m["query"] else ""), text)


def escape(text: str) -> str:
    """``text`` on one line: control characters written as escapes (``\\n``, ``\\e``, ``\\x85``)."""
    def one(match: re.Match[str]) -> str:
        char = match[0]
        return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")

    return _CONTROL.sub(one, text)


class JsonFormatter(logging.Formatter):
    """One JSON object a line; ``json.dumps`` escapes every control character (and, ASCII only, U+2028)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "message": redact(record.getMessage()),
            **context(),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """One line a record, whatever its message, job fields or traceback hold: a tenant's text can neither
    start a forged line nor move the terminal's cursor. Tracebacks come escaped onto the same line."""

    def format(self, record: logging.LogRecord) -> str:
        line = escape(redact(super().format(record)))
        extra = " ".join(f"{k}={escape(v)}" for k, v in context().items())
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
