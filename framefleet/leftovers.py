"""What a killed process leaves behind, and how the next one clears it away.

Renders work in a folder of their own and write files through a temporary name renamed into place, so no
reader ever sees half a file. SIGKILL, the OOM killer or a lost node skip every ``finally``, and the folder
and the temporary file stay. So each is made recognisable and *owned*:

- work folders are named ``framefleet-work-<pid>-…``; their process holds an exclusive ``flock`` on the
  ``.owner`` file inside for as long as it uses the folder;
- temporary files are named ``.part-<pid>-…`` and locked the same way while they are written.

The kernel drops a process's locks when it dies, however it dies, so a lock that can be taken means the
owner is gone, even when its pid has since been reused, and for processes of other containers that share
the folder. A sweep (:func:`sweep`, run when a worker starts) removes what it can lock *and* whose owner
pid is gone, or, when the pid is alive again (reused) or unknown, what it can lock that is older than
``max_age``. A live owner's lock is never free, so a live process's folder or file is never removed; the
instant between creating a folder and locking it is covered by the pid (alive) and the age (young).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

WORK_PREFIX = "framefleet-work-"
PART_PREFIX = ".part-"
OWNER = ".owner"

_WORK = re.compile(rf"^{re.escape(WORK_PREFIX)}(\d+)-")
_PART = re.compile(rf"^{re.escape(PART_PREFIX)}(\d+)-")
_held_lock = threading.Lock()
_held: list[int] = []  # lock fds of process-lifetime folders (closed by the kernel when the process ends)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine (a reused pid reads as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _make_dir(parent: Path) -> tuple[Path, int]:
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(dir=parent, prefix=f"{WORK_PREFIX}{os.getpid()}-"))
    fd = os.open(path / OWNER, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    _lock(fd)  # a fresh file nobody else knows yet: always succeeds
    return path, fd


@contextlib.contextmanager
def workdir(parent: Path | None = None) -> Iterator[Path]:
    """A work folder owned by this process for the ``with`` block, removed at its end (default parent: the
    system temporary folder, ``TMPDIR``)."""
    path, fd = _make_dir(parent or Path(tempfile.gettempdir()))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def process_dir(parent: Path) -> Path:
    """A work folder owned by this process until it exits (removed then, or by the next sweep if it is
    killed): the parent of a worker's per-job folders."""
    path, fd = _make_dir(parent)
    with _held_lock:
        _held.append(fd)
    atexit.register(shutil.rmtree, path, True)
    return path


def part_file(folder: Path) -> tuple[int, Path]:
    """A new, locked ``.part-<pid>-…`` file in ``folder``: write through the fd, rename it into place, and
    close the fd (which drops the lock) when done."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=f"{PART_PREFIX}{os.getpid()}-")
    _lock(fd)
    return fd, Path(name)


def is_part(name: str) -> bool:
    return name.startswith(PART_PREFIX)


def _owner(name: str) -> int | None:
    match = _WORK.match(name) or _PART.match(name)
    return int(match.group(1)) if match else None


def _age(path: Path, now: float) -> float:
    return now - path.lstat().st_mtime


def abandoned(path: Path, *, max_age: float, now: float | None = None) -> bool:
    """Whether ``path`` (a work folder or a ``.part-`` file) belongs to no live process."""
    now = time.time() if now is None else now
    pid = _owner(path.name)
    if pid == os.getpid():
        return False
    try:
        fd = os.open(path / OWNER if path.is_dir() else path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        if path.is_dir():  # killed between making the folder and its owner file, or an older layout
            return (pid is not None and not pid_alive(pid)) or _age(path, now) > max_age
        return False  # gone meanwhile: another sweep took it
    try:
        if not _lock(fd):
            return False  # its owner is alive and working in it
        return (pid is not None and not pid_alive(pid)) or _age(path, now) > max_age
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def sweep(folder: Path, *, max_age: float) -> list[Path]:
    """Remove the abandoned work folders and ``.part-`` files directly in ``folder``; returns them.

    Safe beside live processes and beside another sweep of the same folder (what vanishes is skipped)."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    now = time.time()
    for entry in entries:
        if not (entry.name.startswith(WORK_PREFIX) or is_part(entry.name)):
            continue
        path = Path(entry.path)
        try:
            if abandoned(path, max_age=max_age, now=now):
                _remove(path)
                removed.append(path)
        except OSError:
            continue  # vanished or unreadable: not ours to fight over
    return removed


def sweep_render_parts(output: Path) -> list[Path]:
    """Remove the temporary files a render to ``output`` writes beside it (``.<name>.<pid>.part``,
    ``.<stem>.<pid>.thumb.jpg``) whose process is gone: a killed ``framefleet render`` to the same place
    leaves them, the next one removes them. Returns what it removed."""
    pattern = re.compile(rf"^\.(?:{re.escape(output.name)}\.(\d+)\.part|{re.escape(output.stem)}\.(\d+)"
                         r"\.thumb\.jpg)$")
    try:
        entries = list(os.scandir(output.parent))
    except OSError:
        return []
    gone: list[Path] = []
    for entry in entries:
        match = pattern.match(entry.name)
        if match and not pid_alive(int(match.group(1) or match.group(2))):
            path = Path(entry.path)
            path.unlink(missing_ok=True)
            gone.append(path)
    return gone
