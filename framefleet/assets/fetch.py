"""Resolve a spec's ``src`` to a local file: local paths, ``file://``, ``https://`` and ``s3://``.

Remote sources land in a cache keyed by the URL (shared by every process of a worker, written atomically),
so a second render of the same assets downloads nothing. Sizes are capped while streaming, not trusted
from ``Content-Length`` alone, and every download has an overall deadline and honours a cancel within a
fraction of a second: a watchdog thread shuts the socket down, so even a read blocked on a server that
sends one byte every few seconds returns at once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

from framefleet.assets import places
from framefleet.assets.cache import CacheDir
from framefleet.config import Settings
from framefleet.errors import Canceled, FetchError, TransientFetchError
from framefleet.flags import AnyOf, Flag

if TYPE_CHECKING:
    from framefleet.assets.netguard import Watchdog

log = logging.getLogger(__name__)

_REDIRECTS = {301, 302, 303, 307, 308}
_MAX_REDIRECTS = 5
_CHUNK = 1 << 20
_TICK = 0.2  # how often the watchdog looks at the cancel flag and the deadline


def _raise_if_tripped(watchdog: Watchdog) -> None:
    """Why a download ended early, if its watchdog (or the clock) ended it: canceled or too slow."""
    if watchdog.reason == "canceled" or (watchdog.cancel is not None and watchdog.cancel.is_set()):
        raise Canceled("the job was canceled")
    if watchdog.reason == "deadline" or time.monotonic() > watchdog.deadline:
        raise FetchError(f"source took longer than the download deadline of {watchdog.seconds:.0f} s")


class Fetcher:
    """Turns sources into local paths; one per render (cheap), sharing the on-disk cache.

    ``confined`` fetchers serve queued jobs of ``tenant``: ``s3://`` sources must lie in a place of
    ``FRAMEFLEET_S3_SOURCES`` and never under the fleet's results. Local renders trust their user, as
    they do with local files, unless the operator lists places, which then bind them too.
    """

    def __init__(self, settings: Settings, *, base_dir: Path | None = None, local_root: Path | None = None,
                 allow_local: bool = True, s3_client: Any = None, tenant: str | None = None,
                 confined: bool = False, cancel: Flag | None = None) -> None:
        self.settings = settings
        self.base_dir = (base_dir or Path.cwd()).resolve()
        self.local_root = local_root
        self.allow_local = allow_local
        self.tenant = tenant
        self.confined = confined
        self.cancel = cancel
        self._s3 = s3_client
        self._lock = threading.Lock()  # a render fetches its sources on several threads
        self.downloads = 0  # remote fetches that missed the cache (observable in tests and logs)

    # -- public ---------------------------------------------------------------------------------------

    @contextmanager
    def stopped_by(self, stop: Flag) -> Iterator[None]:
        """Fetches inside the block also end when ``stop`` is set: a batch of downloads stops the others
        when one of them fails for good."""
        outer = self.cancel
        self.cancel = AnyOf(outer, stop)
        try:
            yield
        finally:
            self.cancel = outer

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
            self.s3_location(src)  # refused before the cache is even looked at
            return self._cached(src, self._download_s3)
        if src.startswith("job:"):
            raise FetchError("job: sources are available to queued jobs only")
        raise FetchError("unsupported source")

    def s3_location(self, src: str) -> tuple[str, str]:
        """(bucket, key) of an ``s3://`` source this fetcher may read; :class:`FetchError` if it may not."""
        configured = self.settings.s3_sources
        if not self.confined and not configured:
            return places.split_source(src)
        storage = self.settings.storage_url
        results = places.Place.parse(storage) if self.confined and storage.startswith("s3://") else None
        return places.check(src, allowed=places.expand(configured, self.tenant), results=results)

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
        cache = CacheDir(self.settings.cache_dir / "assets", max_bytes=self.settings.cache_max_bytes)
        if cache.lookup(target):  # the most recently used is the last evicted
            return target
        with cache.writing(target) as tmp, tmp.open("wb") as sink:
            download(url, sink)
        with self._lock:
            self.downloads += 1
        return target

    def _limit(self, size: int) -> None:
        if size > self.settings.limits.max_download_bytes:
            raise FetchError(
                f"source is larger than the download limit of {self.settings.limits.max_download_bytes} bytes"
            )

    # -- http -----------------------------------------------------------------------------------------

    def _download_http(self, url: str, sink: Any) -> None:
        from framefleet.assets.netguard import Watchdog  # lazily, as in _follow

        watchdog = Watchdog(self.settings.limits.download_deadline, self.cancel, tick=_TICK, name="download-watchdog")
        try:
            self._follow(url, sink, watchdog)
        except OSError as exc:
            _raise_if_tripped(watchdog)
            raise TransientFetchError("source could not be downloaded", detail=f"{url}: {exc}") from None
        finally:
            watchdog.close()
        _raise_if_tripped(watchdog)  # a shut-down socket reads as a short, clean end of file

    def _follow(self, url: str, sink: Any, watchdog: Watchdog) -> None:
        # imported here: http.client and ssl are a tenth of a local render's start, which never downloads
        from framefleet.assets.netguard import open_connection

        limits = self.settings.limits
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            _raise_if_tripped(watchdog)
            parts = urlsplit(current)
            conn = open_connection(current, timeout=limits.download_timeout,
                                   allow_private=self.settings.allow_private_urls)
            response = None
            try:
                path = parts.path or "/"
                if parts.query:
                    path += "?" + parts.query
                conn.connect()
                watchdog.sock = conn.sock
                conn.request("GET", path, headers={"User-Agent": "framefleet", "Accept": "*/*"})
                response = conn.getresponse()
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
                while chunk := response.read1(_CHUNK):
                    total += len(chunk)
                    self._limit(total)
                    sink.write(chunk)
                _raise_if_tripped(watchdog)
                if length and length.isdigit() and total < int(length):
                    raise TransientFetchError("source download ended early",
                                              detail=f"{url}: {total} of {length} bytes")
                return
            finally:
                watchdog.sock = None
                if response is not None:
                    response.close()  # a download ended early still holds the socket's file
                conn.close()
        raise FetchError("too many redirects")

    # -- s3 -------------------------------------------------------------------------------------------

    def _download_s3(self, url: str, sink: Any) -> None:
        bucket, key = self.s3_location(url)
        limits = self.settings.limits
        deadline = time.monotonic() + limits.download_deadline
        client = self._s3_client()
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = client.get_object(Bucket=bucket, Key=key)
            self._limit(int(reply.get("ContentLength", 0)))
            body = reply["Body"]
            total = 0
            try:
                for chunk in body.iter_chunks(_CHUNK):
                    total += len(chunk)
                    self._limit(total)
                    sink.write(chunk)
                    if self.cancel is not None and self.cancel.is_set():
                        raise Canceled("the job was canceled")
                    if time.monotonic() > deadline:
                        raise FetchError("source took longer than the download deadline of "
                                         f"{limits.download_deadline:.0f} s")
            finally:
                body.close()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound", "403", "AccessDenied", "NoSuchBucket"):
                raise FetchError("source not found in object storage") from None
            raise TransientFetchError("object storage failed", detail=str(exc)) from None
        except (BotoCoreError, OSError) as exc:
            raise TransientFetchError("object storage failed", detail=str(exc)) from None

    def _s3_client(self) -> Any:
        with self._lock:  # one client for every thread (boto3 clients are thread-safe, sessions are not)
            if self._s3 is None:
                import boto3
                from botocore.config import Config

                timeout = self.settings.limits.download_timeout
                self._s3 = boto3.client("s3", endpoint_url=self.settings.s3_endpoint_url,
                                        config=Config(connect_timeout=min(timeout, 10), read_timeout=timeout,
                                                      retries={"max_attempts": 3}))
            return self._s3
