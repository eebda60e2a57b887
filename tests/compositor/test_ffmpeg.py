"""The ffmpeg runner: cancel and time-out kill ffmpeg promptly; failures map to error codes."""

from __future__ import annotations

import os
import threading
import time

import pytest

from framefleet.compositor import ffmpeg
from framefleet.errors import BadMedia, Canceled, FFmpegError, Timeout

ENDLESS = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:1", "-re",
           "-f", "lavfi", "-i", "testsrc2=s=320x240:r=30", "-f", "null", "-"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _ffmpeg_pids() -> set[int]:
    pids = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if b"testsrc2=s=320x240:r=30" in f.read():
                        pids.add(int(name))
            except OSError:
                pass
    return pids


def test_cancel_kills_ffmpeg_within_two_seconds() -> None:
    cancel = threading.Event()
    seen: list[float] = []
    timer = threading.Timer(1.0, cancel.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(Canceled):
        ffmpeg.run(ENDLESS, total_seconds=100, on_progress=seen.append, cancel=cancel)
    assert time.monotonic() - started < 3.0
    assert any(0 < f < 0.1 for f in seen)  # progress was reported while it ran
    assert _ffmpeg_pids() == set()


def test_timeout() -> None:
    with pytest.raises(Timeout):
        ffmpeg.run(ENDLESS, total_seconds=100, timeout=0.5)
    assert _ffmpeg_pids() == set()


def test_failures_map_to_error_codes(tmp_path: os.PathLike[str]) -> None:
    bad = os.path.join(tmp_path, "bad.mp4")
    with open(bad, "wb") as f:
        f.write(b"garbage" * 100)
    with pytest.raises(BadMedia, match=r"clip\.mp4 cannot be decoded"):
        ffmpeg.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", bad, "-f", "null", "-"], total_seconds=1,
                   sources={bad: "clip.mp4"})
    with pytest.raises(FFmpegError):
        ffmpeg.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "nosuchfilter", "-f", "null",
                    "-"], total_seconds=1)
    assert not _alive(999999)
