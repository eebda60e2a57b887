"""The storage interface and the URL → implementation factory.

Keys are derived from the job id by the caller (``<tenant>/<job id>/output.mp4``), so a job that runs
twice (at-least-once delivery) overwrites its own result and never leaves a duplicate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from framefleet.config import Settings
from framefleet.errors import BadInput
from framefleet.flags import Flag


@dataclass(frozen=True)
class Stored:
    """A stored object: its key, a URL a customer can fetch, its size and type."""

    key: str
    url: str
    size_bytes: int
    content_type: str


class Storage(ABC):
    """Put local files under keys; read them back for ``job:<id>`` sources."""

    @abstractmethod
    def put(self, path: Path, key: str, *, content_type: str, cancel: Flag | None = None) -> Stored:
        """Upload (or copy) ``path`` to ``key``, replacing what was there; raises :class:`Canceled` (and
        stores nothing) when ``cancel`` is set before the last byte is sent."""

    @abstractmethod
    def get(self, key: str, target: Path) -> Path:
        """Download ``key`` to ``target``; raises :class:`FetchError` when it does not exist."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether ``key`` holds an object (a chunk already rendered by an earlier delivery)."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (a job's chunk files); returns how many went."""

    @abstractmethod
    def url(self, key: str) -> str:
        """A URL for ``key`` (presigned for S3)."""

    @abstractmethod
    def check(self) -> None:
        """Raise :class:`StorageError` unless the store is writable (readiness probes)."""

    def sweep(self, *, max_age: float) -> int:
        """Remove partial uploads that dead processes left behind (worker start); returns how many went.

        Object stores keep no partial object (a multipart upload never finished is invisible and is
        cleared by the bucket's ``AbortIncompleteMultipartUpload`` lifecycle rule), so the default does
        nothing."""
        return 0


def open_storage(settings: Settings, *, s3_client: Any = None) -> Storage:
    """``file:///dir`` (or a relative ``file://./dir``) or ``s3://bucket/prefix``."""
    url = settings.storage_url
    parts = urlsplit(url)
    if parts.scheme == "file":
        from framefleet.storage.local import LocalStorage

        raw = url[len("file://"):]
        return LocalStorage(Path(raw).expanduser().resolve())
    if parts.scheme == "s3":
        from framefleet.storage.s3 import S3Storage

        if not parts.netloc:
            raise BadInput("FRAMEFLEET_STORAGE_URL s3://… needs a bucket")
        return S3Storage(parts.netloc, parts.path.strip("/"), endpoint_url=settings.s3_endpoint_url,
                         url_ttl=settings.url_ttl, client=s3_client)
    raise BadInput(f"FRAMEFLEET_STORAGE_URL must be file:// or s3://, got {url!r}")
