"""Which ``s3://`` objects a tenant's spec may read.

A worker's storage credentials usually reach far more than one tenant's uploads: configuration, other
tenants' results, whole buckets of unrelated data. An ``s3://`` source is therefore refused unless the
operator listed its place in ``FRAMEFLEET_S3_SOURCES`` (``s3://uploads/{tenant}/`` confines each tenant
to its own prefix), and the fleet's own results prefix is never a source: a tenant reaches its earlier
results through ``job:<id>``, which checks the tenant.

Prefixes are matched as folders (``s3://b/acme`` admits ``s3://b/acme/x``, not ``s3://b/acme-evil/x``),
and keys with ``.``/``..`` segments, empty segments or backslashes are refused outright: S3 keys are
literal strings, but S3-compatible servers and proxies differ in whether they normalise them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from framefleet.errors import FetchError


@dataclass(frozen=True)
class Place:
    """A bucket and a key prefix (empty: the whole bucket)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> Place:
        parts = urlsplit(url)
        prefix = parts.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(parts.netloc, prefix)

    def holds(self, bucket: str, key: str) -> bool:
        return bucket == self.bucket and key.startswith(self.prefix)


def split_source(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` → (bucket, key), refusing keys that some servers would normalise."""
    parts = urlsplit(url)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not bucket or not key or parts.query or parts.fragment:
        raise FetchError("an s3:// source needs a bucket and a key, and nothing else")
    segments = key.split("/")
    if "\\" in key or any(s in ("", ".", "..") for s in segments):
        raise FetchError("an s3:// source key may not contain empty, '.' or '..' segments")
    return bucket, key


def expand(places: Iterable[str], tenant: str | None) -> list[Place]:
    """The places as one tenant sees them; a place naming ``{tenant}`` is skipped when there is none."""
    out = []
    for pattern in places:
        if "{tenant}" in pattern and (not tenant or "/" in tenant or tenant in (".", "..")):
            continue  # no tenant, or one that would name another tenant's prefix: the place is not open
        out.append(Place.parse(pattern.replace("{tenant}", tenant or "")))
    return out


def check(url: str, *, allowed: list[Place], results: Place | None) -> tuple[str, str]:
    """(bucket, key) of a source the tenant may read; :class:`FetchError` otherwise.

    The message says what is wrong without listing the places, which are the operator's business.
    """
    bucket, key = split_source(url)
    if results is not None and results.holds(bucket, key):
        raise FetchError("results of earlier jobs are read with job:<id>, not s3://")
    if not any(place.holds(bucket, key) for place in allowed):
        raise FetchError("this s3:// location is not open to your jobs")
    return bucket, key
