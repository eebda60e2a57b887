"""Caps on the on-disk caches (assets, ``job:`` results, probe results), least recently used out first.

Every cache is a folder of files written atomically (a locked ``.part-<pid>-…`` file renamed into place) and
shared by every worker process of a machine. A hit refreshes the file's modification time (:meth:`CacheDir.
lookup`), so modification time orders entries by last use. After a write (:meth:`CacheDir.writing`),
:meth:`CacheDir.added` trims the folder back under its cap, oldest first, but not on every write: a walk
happens when a twentieth of the cap was written since the last one, or a minute has passed, so a cache of
thousands of entries is not listed on every miss. The cap is therefore soft by at most that twentieth.

Safe with several processes trimming and writing at once:

- one process trims a folder at a time (``flock`` on ``.trim.lock``), the others wait and then find
  little to do; a file that vanishes under a trim (evicted elsewhere) is simply counted as gone;
- a file a process still reads survives its eviction: on POSIX an unlinked file stays readable through
  every descriptor already open on it (ffmpeg keeps its inputs open); the file just written is never the
  one evicted, and a cap smaller than the sources of the renders running at once costs re-downloads;
- ``.part-`` files are never counted nor evicted; those of dead processes go once older than
  ``part_grace`` (and at worker start, see :mod:`framefleet.leftovers`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from framefleet import leftovers

log = logging.getLogger(__name__)

#: A ``.part-`` file younger than this is never removed by a trim, whatever its owner looks like.
PART_GRACE = 3600.0
#: At most this long between two trims of a folder by one process while it writes to the cache.
TRIM_EVERY = 60.0
#: A trim also runs once this fraction of the cap was written since the last one.
TRIM_SHARE = 20
_LOCK = ".trim.lock"


@dataclass
class _Pending:
    last: float = 0.0
    bytes: int = 0
    files: int = 0


_pending: dict[Path, _Pending] = {}
_pending_lock = threading.Lock()


@dataclass(frozen=True)
class Entry:
    path: Path
    size: int
    used: float


class CacheDir:
    """One cache folder and its cap: ``max_bytes`` of entries, ``max_files`` entries, or both."""

    def __init__(self, root: Path, *, max_bytes: int | None = None, max_files: int | None = None,
                 part_grace: float = PART_GRACE) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.part_grace = part_grace

    @staticmethod
    def lookup(target: Path) -> bool:
        """Whether ``target`` is cached, marking it as just used (the eviction order) if so.

        The touch is the existence check too: one system call per hit, not a stat and then a touch."""
        try:
            os.utime(target)
        except FileNotFoundError:
            return False
        except OSError:
            return target.is_file()  # one we may read but not touch (another user's cache) is still a hit
        return True

    @contextlib.contextmanager
    def writing(self, target: Path) -> Iterator[Path]:
        """A locked ``.part-`` file beside ``target`` for the ``with`` block to fill, renamed into place
        and recorded (:meth:`added`) when the block succeeds, removed when it fails.

        The lock stays until the rename, so a sweep tells a live writer from a dead one, and the rename is
        atomic, so concurrent readers never see half a file."""
        fd, tmp = leftovers.part_file(target.parent)
        try:
            yield tmp
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
        self.added(target)

    def added(self, path: Path) -> list[Path]:
        """Record a new entry; trims the folder when enough was written since the last trim."""
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        now = time.monotonic()
        with _pending_lock:
            state = _pending.setdefault(self.root, _Pending())
            state.bytes += size
            state.files += 1
            due = (not state.last or now - state.last >= TRIM_EVERY
                   or (self.max_bytes is not None and state.bytes * TRIM_SHARE >= self.max_bytes)
                   or (self.max_files is not None and state.files * TRIM_SHARE >= self.max_files))
            if due:
                _pending[self.root] = _Pending(last=now)
        return self.trim(keep=path) if due else []

    def entries(self) -> list[Entry]:
        """Every entry, least recently used first (``.part-`` files of dead processes are removed)."""
        found: list[Entry] = []
        now = time.time()
        for folder, _, names in os.walk(self.root):
            for name in names:
                path = Path(folder, name)
                try:
                    if leftovers.is_part(name):
                        if now - path.lstat().st_mtime > self.part_grace and leftovers.abandoned(
                                path, max_age=self.part_grace, now=now):
                            path.unlink(missing_ok=True)
                        continue
                    if name.startswith("."):
                        continue  # the trim lock, other bookkeeping
                    stat = path.lstat()
                except OSError:
                    continue  # gone meanwhile
                found.append(Entry(path, stat.st_size, stat.st_mtime))
        found.sort(key=lambda e: e.used)
        return found

    def trim(self, *, keep: Path | None = None) -> list[Path]:
        """Evict least recently used entries until the folder is within its cap; returns what went."""
        if self.max_bytes is None and self.max_files is None:
            return []
        evicted: list[Path] = []
        with self._exclusive():
            entries = self.entries()
            total, count = sum(e.size for e in entries), len(entries)
            for entry in entries:
                if not self._over(total, count):
                    break
                if keep is not None and entry.path == keep:
                    continue
                try:
                    entry.path.unlink()
                    evicted.append(entry.path)
                except FileNotFoundError:
                    pass  # evicted by another process between the listing and now: gone all the same
                except OSError:
                    continue
                total, count = total - entry.size, count - 1
        if evicted:
            log.info("cache %s: %d entries evicted to stay within its cap", self.root.name, len(evicted))
        return evicted

    def _over(self, total: int, count: int) -> bool:
        return (self.max_bytes is not None and total > self.max_bytes) or (
            self.max_files is not None and count > self.max_files)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / _LOCK, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # another process trimming: wait, then find little to do
            yield
        finally:
            os.close(fd)
