"""Shared fixtures: small deterministic media made with ffmpeg, and a settings object per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from framefleet.config import Settings
from tests.mediatools import ffmpeg


def _solid(path: Path, color: str, size: str = "320x240", seconds: float = 3, tone: int | None = None) -> None:
    args = ["-f", "lavfi", "-i", f"color=c={color}:s={size}:r=30:d={seconds}"]
    if tone:
        args += ["-f", "lavfi", "-i", f"sine=f={tone}:r=48000:d={seconds}", "-c:a", "aac", "-shortest"]
    ffmpeg(*args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of tiny, predictable sources (solid colours, tones, an alpha PNG, broken files)."""
    folder = tmp_path_factory.mktemp("media")
    _solid(folder / "red.mp4", "red", tone=440)
    _solid(folder / "green.mp4", "lime", seconds=4)
    _solid(folder / "blue_wide.mp4", "blue", size="640x240", seconds=4)
    _solid(folder / "blue_tall.mp4", "blue", size="240x640", seconds=4)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=5", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(folder / "pattern.mp4"))
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    image.paste((255, 255, 0, 255), (50, 50, 150, 150))
    image.save(folder / "alpha.png")
    Image.new("RGB", (400, 300), (0, 0, 255)).save(folder / "blue.jpg")
    Image.new("RGB", (100, 100), (255, 0, 0)).save(folder / "small_red.png")
    # voice: a 1 kHz tone for 2-4 s inside silence; music: a steady 220 Hz tone
    ffmpeg("-f", "lavfi", "-i", "sine=f=1000:r=48000:d=2", "-af", "adelay=2000:all=1,apad=whole_dur=6",
           "-t", "6", str(folder / "voice.wav"))
    ffmpeg("-f", "lavfi", "-i", "sine=f=220:r=48000:d=2.5", "-ac", "2", str(folder / "music.wav"))
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    (folder / "notes.txt").write_text("not media")
    (folder / "words.srt").write_text("1\n00:00:00,500 --> 00:00:01,500\nHello there\n\n"
                                      "2\n00:00:02,000 --> 00:00:03,000\nSecond line\n")
    return folder


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache")})
