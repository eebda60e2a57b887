"""Results in a local folder: for one machine, development and tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from framefleet.errors import FetchError, StorageError
from framefleet.storage.base import Storage, Stored


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise StorageError("invalid storage key")
        return path

    def put(self, path: Path, key: str, *, content_type: str) -> Stored:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".up-")
            os.close(fd)
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)  # readers never see half a file
        except OSError as exc:
            raise StorageError("result could not be stored", detail=str(exc)) from None
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
        if folder == self.root:
            raise StorageError("refusing to delete the whole store")
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
