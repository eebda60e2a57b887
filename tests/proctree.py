"""Peak memory of a command and every process it starts, summed: what a pod's memory limit sees.

``ru_maxrss`` only gives the largest single process; a render is Python plus its ffmpeg children, so
the tree is sampled from /proc while the command runs (every 20 ms; a peak shorter than that can be
missed, which makes the figure a slight under-estimate, never an over-estimate).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _parents() -> dict[int, int]:
    out: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces and parentheses; the fields after the last ')' do not
        out[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    return out


def descendants(root: int) -> set[int]:
    """``root`` and every process it started, and they started, running now."""
    parents = _parents()
    family, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in family} - family
        grew = bool(more)
        family |= more
    return family


def ffmpeg_under(root: int) -> list[int]:
    """The ffmpeg processes among ``root``'s descendants (never another program's on this machine)."""
    found = []
    for pid in descendants(root) - {root}:
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"ffmpeg"):
                found.append(pid)
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped has finished)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants now."""
    family = descendants(root)
    total = 0
    for pid in family:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


@dataclass(frozen=True)
class Measured:
    returncode: int
    peak_bytes: int
    seconds: float
    stdout: str
    stderr: str

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 2**20


def run_measured(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
                 interval: float = 0.02, timeout: float = 600) -> Measured:
    """Run ``argv`` to the end, sampling its process tree's resident memory."""
    started = time.monotonic()
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                            text=True)
    peak = 0
    try:
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=interval)
                break
            except subprocess.TimeoutExpired:
                peak = max(peak, tree_rss(proc.pid))
                if time.monotonic() - started > timeout:
                    raise
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Measured(proc.returncode, peak, time.monotonic() - started, stdout, stderr)
