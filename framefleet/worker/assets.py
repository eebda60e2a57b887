"""Sources for queued jobs: the same fetcher as local renders, plus ``job:<id>`` and stricter local files.

A queued job may read local files only under ``FRAMEFLEET_LOCAL_ROOT`` (none at all when it is unset),
``s3://`` objects only in the places of ``FRAMEFLEET_S3_SOURCES`` (none when it is unset), and
``job:<id>`` names the result of an earlier job of the *same tenant*; another tenant's id reads as
"not found", exactly like an id that does not exist.
"""

from __future__ import annotations

from pathlib import Path

from framefleet.assets.cache import CacheDir
from framefleet.assets.fetch import Fetcher
from framefleet.errors import FetchError
from framefleet.flags import Flag
from framefleet.queue.jobs import Job
from framefleet.worker.runtime import Runtime


class JobFetcher(Fetcher):
    def __init__(self, rt: Runtime, job: Job, *, cancel: Flag | None = None) -> None:
        root = rt.settings.local_root
        super().__init__(rt.settings, base_dir=root or Path("/nonexistent"), local_root=root,
                         allow_local=root is not None, tenant=job.tenant, confined=True, cancel=cancel)
        self.rt, self.job = rt, job

    def fetch(self, src: str) -> Path:
        if not src.startswith("job:"):
            return super().fetch(src)
        other = self.rt.store.get(src[4:].strip(), tenant=self.job.tenant)
        if other is None:
            raise FetchError(f"{src} not found")
        if other.status != "completed" or not other.result or not other.result.get("key"):
            raise FetchError(f"{src} has no result (status {other.status})")
        key = str(other.result["key"])
        target = self.settings.cache_dir / "jobs" / other.id / Path(key).name
        cache = CacheDir(self.settings.cache_dir / "jobs", max_bytes=self.settings.cache_max_bytes)
        if cache.lookup(target):
            return target
        with cache.writing(target) as tmp:  # locked until the copy is in place
            self.rt.storage.get(key, tmp)
        return target
