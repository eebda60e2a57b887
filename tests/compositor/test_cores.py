"""ffmpeg's threads follow the cores framefleet may use, not the cores the machine shows."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from framefleet.compositor import ffmpeg
from framefleet.compositor.cores import FFmpegThreads
from framefleet.compositor.render import render
from framefleet.compositor.spec import load_spec
from framefleet.config import Settings
from framefleet.errors import BadInput


@pytest.mark.parametrize(("cores", "decode", "x264", "vp9"), [
    (1, 1, 1, 1), (2, 1, 3, 2), (3, 1, 4, 3), (4, 2, 6, 4), (8, 4, 12, 8), (64, 4, 96, 64),
])
def test_counts_by_cores(cores: int, decode: int, x264: int, vp9: int) -> None:
    threads = FFmpegThreads(cores)
    assert (threads.decode, threads.filters, threads.encode("libx264"), threads.encode("libvpx-vp9")) == (
        decode, cores, x264, vp9)
    assert threads.encode("h264_nvenc") is None  # the GPU encodes; its CPU threads are not ours to size
    assert threads.encode("mjpeg") is None


def test_counts_are_written_before_every_input_and_the_video_encoder() -> None:
    argv = ["ffmpeg", "-hide_banner", "-y", "-f", "mov", "-t", "5", "-i", "a.mp4", "-f", "image2", "-i", "b.jpg",
            "-filter_complex_script", "g.txt", "-map", "[v]", "-f", "mp4", "-crf", "23", "-vcodec", "libx264",
            "out.mp4", "-map", "[t]", "-vcodec", "mjpeg", "thumb.jpg"]
    assert FFmpegThreads(2).apply(argv) == [
        "ffmpeg", "-filter_complex_threads", "2", "-filter_threads", "2", "-hide_banner", "-y",
        "-f", "mov", "-t", "5", "-threads", "1", "-i", "a.mp4", "-f", "image2", "-threads", "1", "-i", "b.jpg",
        "-filter_complex_script", "g.txt", "-map", "[v]", "-f", "mp4", "-crf", "23",
        "-threads", "3", "-vcodec", "libx264", "out.mp4", "-map", "[t]", "-vcodec", "mjpeg", "thumb.jpg"]


def test_a_copy_and_a_command_with_its_own_threads_are_left_alone() -> None:
    copy = ["ffmpeg", "-i", "a.mp4", "-c:v", "copy", "out.mp4"]
    assert FFmpegThreads(8).apply(copy) == ["ffmpeg", "-filter_complex_threads", "8", "-filter_threads", "8",
                                             "-threads", "4", "-i", "a.mp4", "-c:v", "copy", "out.mp4"]
    own = ["ffmpeg", "-threads", "1", "-i", "a.mp4", "-vcodec", "libx264", "out.mp4"]
    assert FFmpegThreads(8).apply(own) == own
    with pytest.raises(ValueError, match="at least 1"):
        FFmpegThreads(0)


def test_the_setting_is_a_whole_number() -> None:
    assert Settings.from_env({}).ffmpeg_cores == 0  # 0: the process's affinity and cgroup quota decide
    assert Settings.from_env({"FRAMEFLEET_FFMPEG_CORES": "4"}).ffmpeg_cores == 4
    with pytest.raises(BadInput, match="FRAMEFLEET_FFMPEG_CORES"):
        Settings.from_env({"FRAMEFLEET_FFMPEG_CORES": "-2"})


def _x264_threads(path: Path) -> int:
    """The frame threads x264 encoded ``path`` with, from the options it writes into the stream."""
    found = re.search(rb"x264 - core \d+.*? threads=(\d+)", path.read_bytes()[:200_000], re.S)
    assert found is not None, "no x264 options in the stream"
    return int(found.group(1))


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (5, 7)])
def test_a_render_encodes_with_the_threads_of_its_cores(tmp_path: Path, media: Path, cores: int,
                                                        expected: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever cores the machine shows ffmpeg, the render's x264 runs the threads of the cores it is
    given; and every ffmpeg of the render (pictures, sound, join) is run with the counts."""
    settings = Settings.from_env({"FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache"),
                                  "FRAMEFLEET_FFMPEG_CORES": str(cores)})
    seen: list[list[str]] = []
    real = ffmpeg.run

    def run(argv: list[str], **kwargs: object) -> None:
        seen.append(list(argv))
        real(argv, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ffmpeg, "run", run)
    spec = load_spec({"output": {"width": 320, "height": 240, "duration": 1.0},
                      "tracks": [{"clips": [{"type": "video", "src": "pattern.mp4", "length": 1.0}]}]})
    result = render(spec, tmp_path / "out.mp4", settings=settings, base_dir=media)
    assert _x264_threads(result.path) == expected
    ran = [argv for argv in seen if "-filter_complex_threads" in argv]
    assert ran and len(ran) == len([argv for argv in seen if "-i" in argv])
    assert all(argv[argv.index("-filter_complex_threads") + 1] == str(cores) for argv in ran)
    frames = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                             "stream=nb_read_frames", "-of", "csv=p=0", str(result.path)],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert frames == "30"
