"""The ffmpeg runner: cancel and time-out kill ffmpeg promptly; failures map to error codes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from framefleet.compositor import ffmpeg
from framefleet.errors import BadMedia, Canceled, FFmpegError, Timeout
from tests.proctree import ffmpeg_under

ENDLESS = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:1", "-re",
           "-f", "lavfi", "-i", "testsrc2=s=320x240:r=30", "-f", "null", "-"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _ffmpeg_pids() -> list[int]:
    """ffmpeg started by this test process (never another program's on the machine)."""
    return ffmpeg_under(os.getpid())


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
    assert _ffmpeg_pids() == []


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "no-pidfd"])
def test_exit_and_cancel_are_seen_with_or_without_a_pidfd(pidfd: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner waits on a pidfd where Linux has one and falls back to ``Popen.wait`` where not:
    both see a clean exit, a failing exit and a cancel."""
    if not pidfd:
        monkeypatch.delattr(os, "pidfd_open", raising=False)
    elif not hasattr(os, "pidfd_open"):
        pytest.skip("no pidfd on this platform")
    short = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
             "color=black:s=32x32:r=30:d=0.3", "-f", "null", "-"]
    ffmpeg.run(short, total_seconds=0.3)
    with pytest.raises(FFmpegError, match="exit code"):
        ffmpeg.run([*short[:-3], "-vf", "nosuchfilter", "-f", "null", "-"], total_seconds=0.3)
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(Canceled):
        ffmpeg.run(ENDLESS, total_seconds=100, cancel=cancel)
    assert time.monotonic() - started < 2.5
    assert _ffmpeg_pids() == []


def test_timeout() -> None:
    with pytest.raises(Timeout):
        ffmpeg.run(ENDLESS, total_seconds=100, timeout=0.5)
    assert _ffmpeg_pids() == []


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


def test_a_picture_that_cannot_be_decoded_is_bad_media_though_ffmpeg_exits_0(tmp_path: Path) -> None:
    Image.new("RGB", (64, 32), (255, 0, 0)).save(tmp_path / "ok.png")
    data = bytearray((tmp_path / "ok.png").read_bytes())
    start = data.index(b"IDAT") + 8
    data[start:-12] = bytes(b ^ 0x5A for b in data[start:-12])  # the header stays readable, the pixels do not
    (tmp_path / "bad.png").write_bytes(bytes(data))
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "color=black:s=64x32:d=0.2",
            "-i", str(tmp_path / "bad.png"), "-filter_complex", "[1:v]loop=loop=5:size=1[i];[0:v][i]overlay",
            "-f", "null", "-"]
    with pytest.raises(BadMedia, match=r"photo\.png cannot be decoded"):
        ffmpeg.run(argv, total_seconds=0.2, sources={str(tmp_path / "bad.png"): "photo.png"})
