"""Results in a local folder: for one machine, development and tests.

Files are written under ``<root>/.incoming/.part-<pid>-…`` and renamed into place, so readers never see
half a file and one folder holds everything a killed process can leave (swept at worker start).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from framefleet import leftovers
from framefleet.errors import Canceled, FetchError, StorageError, StorageRefused
from framefleet.flags import Flag
from framefleet.storage.base import Storage, Stored

INCOMING = ".incoming"
#: errno values no retry can change: the folder refuses us, or the name is one the filesystem rejects.
_PERMANENT = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG, errno.EINVAL, errno.ENOTDIR,
              errno.EISDIR, errno.EILSEQ, errno.ELOOP}


def _failed(message: str, exc: OSError) -> StorageError:
    """A permanent :class:`StorageRefused` or a transient :class:`StorageError` (a full disk, an I/O error)."""
    if exc.errno in _PERMANENT:
        return StorageRefused(f"{message}: the storage folder refuses it (not retried)", detail=str(exc))
    return StorageError(message, detail=str(exc))


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not key or "\0" in key or key.startswith("/"):
            raise StorageRefused("invalid storage key", detail=repr(key))
        try:
            path = (self.root / key).resolve()
        except (OSError, ValueError) as exc:
            raise StorageRefused("invalid storage key", detail=f"{key!r}: {exc}") from None
        if not path.is_relative_to(self.root) or path == self.root or INCOMING in path.relative_to(self.root).parts:
            raise StorageRefused("invalid storage key", detail=repr(key))
        return path

    def put(self, path: Path, key: str, *, content_type: str, cancel: Flag | None = None) -> Stored:
        target = self._path(key)
        tmp: Path | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = leftovers.part_file(self.root / INCOMING)
            try:
                with open(path, "rb") as source, os.fdopen(fd, "wb", closefd=False) as sink:
                    while block := source.read(1 << 20):
                        if cancel is not None and cancel.is_set():
                            raise Canceled("the job was canceled")
                        sink.write(block)
                os.replace(tmp, target)  # readers never see half a file
            finally:
                os.close(fd)
        except (OSError, Canceled) as exc:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            if isinstance(exc, Canceled):
                raise
            raise _failed("result could not be stored", exc) from None
        return Stored(key, self.url(key), target.stat().st_size, content_type)

    def get(self, key: str, target: Path) -> Path:
        source = self._path(key)
        if not source.is_file():
            raise FetchError("not found")
        shutil.copyfile(source, target)
        return target

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete_prefix(self, prefix: str) -> int:
        folder = self._path(prefix)
        count = sum(1 for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
        shutil.rmtree(folder, ignore_errors=True)
        return count

    def url(self, key: str) -> str:
        return self._path(key).as_uri()

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".ready-"):
                pass
        except OSError as exc:
            raise StorageError("storage folder is not writable", detail=str(exc)) from None

    def sweep(self, *, max_age: float) -> int:
        return len(leftovers.sweep(self.root / INCOMING, max_age=max_age))
