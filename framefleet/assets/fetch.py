"""Resolve a spec's ``src`` to a local file: local paths, ``file://``, ``https://`` and ``s3://``.

Remote sources land in a cache keyed by the URL (shared by every process of a worker, written atomically),
so a second render of the same assets downloads nothing. Sizes are capped while streaming, not trusted
from ``Content-Length`` alone.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from framefleet.assets.netguard import open_connection
from framefleet.config import Settings
from framefleet.errors import FetchError, TransientFetchError

log = logging.getLogger(__name__)

_REDIRECTS = {301, 302, 303, 307, 308}
_MAX_REDIRECTS = 5
_CHUNK = 1 << 20


class Fetcher:
    """Turns sources into local paths; one per render (cheap), sharing the on-disk cache."""

    def __init__(self, settings: Settings, *, base_dir: Path | None = None, local_root: Path | None = None,
                 allow_local: bool = True, s3_client: Any = None) -> None:
        self.settings = settings
        self.base_dir = (base_dir or Path.cwd()).resolve()
        self.local_root = local_root
        self.allow_local = allow_local
        self._s3 = s3_client
        self.downloads = 0  # remote fetches that missed the cache (observable in tests and logs)

    # -- public ---------------------------------------------------------------------------------------

    def local_path(self, src: str) -> Path | None:
        """The file a local source names, or None for remote sources. Does not check existence."""
        if src.startswith("file://"):
            return Path(unquote(urlsplit(src).path))
        if "://" in src or src.startswith("job:"):
            return None
        path = Path(src).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def fetch(self, src: str) -> Path:
        """A readable local file for ``src``; raises :class:`FetchError` with a customer-safe message."""
        local = self.local_path(src)
        if local is not None:
            return self._local(local)
        if src.startswith(("http://", "https://")):
            return self._cached(src, self._download_http)
        if src.startswith("s3://"):
            return self._cached(src, self._download_s3)
        if src.startswith("job:"):
            raise FetchError("job: sources are available to queued jobs only")
        raise FetchError("unsupported source")

    # -- local ----------------------------------------------------------------------------------------

    def _local(self, path: Path) -> Path:
        if not self.allow_local:
            raise FetchError("local files are not allowed here")
        resolved = path.resolve()
        if self.local_root is not None and not resolved.is_relative_to(self.local_root.resolve()):
            raise FetchError("local files outside the configured media root are not allowed")
        if not resolved.is_file():
            raise FetchError("file not found")
        return resolved

    # -- cache ----------------------------------------------------------------------------------------

    def cache_path(self, url: str) -> Path:
        digest = hashlib.sha256(url.encode()).hexdigest()
        suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
        suffix = suffix if suffix.isascii() and 1 < len(suffix) <= 6 and suffix[1:].isalnum() else ""
        return self.settings.cache_dir / "assets" / digest[:2] / f"{digest}{suffix}"

    def _cached(self, url: str, download: Any) -> Path:
        target = self.cache_path(url)
        if target.is_file():
            os.utime(target)  # keeps recently used assets young for an age-based cache sweep
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as sink:
                download(url, sink)
            os.replace(tmp, target)  # atomic: concurrent workers never see half a file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.downloads += 1
        return target

    def _limit(self, size: int) -> None:
        if size > self.settings.limits.max_download_bytes:
            raise FetchError(
                f"source is larger than the download limit of {self.settings.limits.max_download_bytes} bytes"
            )

    # -- http -----------------------------------------------------------------------------------------

    def _download_http(self, url: str, sink: Any) -> None:
        limits = self.settings.limits
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            parts = urlsplit(current)
            conn = open_connection(current, timeout=limits.download_timeout,
                                   allow_private=self.settings.allow_private_urls)
            try:
                path = parts.path or "/"
                if parts.query:
                    path += "?" + parts.query
                try:
                    conn.request("GET", path, headers={"User-Agent": "framefleet", "Accept": "*/*"})
                    response = conn.getresponse()
                except FetchError:
                    raise
                except (OSError, TimeoutError) as exc:
                    raise TransientFetchError("source could not be downloaded", detail=f"{url}: {exc}") from None
                if response.status in _REDIRECTS and response.getheader("Location"):
                    current = urljoin(current, response.getheader("Location") or "")
                    continue
                if response.status >= 500 or response.status == 429:
                    raise TransientFetchError(f"source server answered HTTP {response.status}")
                if response.status != 200:
                    raise FetchError(f"source could not be downloaded (HTTP {response.status})")
                length = response.getheader("Content-Length")
                if length and length.isdigit():
                    self._limit(int(length))
                total = 0
                while chunk := response.read(_CHUNK):
                    total += len(chunk)
                    self._limit(total)
                    sink.write(chunk)
                return
            finally:
                conn.close()
        raise FetchError("too many redirects")

    # -- s3 -------------------------------------------------------------------------------------------

    def _download_s3(self, url: str, sink: Any) -> None:
        parts = urlsplit(url)
        bucket, key = parts.netloc, parts.path.lstrip("/")
        if not bucket or not key:
            raise FetchError("an s3:// source needs a bucket and a key")
        client = self._s3_client()
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = client.head_object(Bucket=bucket, Key=key)
            self._limit(int(head.get("ContentLength", 0)))
            client.download_fileobj(bucket, key, sink)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound", "403", "AccessDenied"):
                raise FetchError("source not found in object storage") from None
            raise TransientFetchError("object storage failed", detail=str(exc)) from None
        except BotoCoreError as exc:
            raise TransientFetchError("object storage failed", detail=str(exc)) from None

    def _s3_client(self) -> Any:
        if self._s3 is None:
            import boto3

            self._s3 = boto3.client("s3", endpoint_url=self.settings.s3_endpoint_url)
        return self._s3
