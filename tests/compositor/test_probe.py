from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from framefleet.compositor.probe import parse_probe, probe
from framefleet.errors import BadMedia


def test_probe_results_are_cached_per_file_version(tmp_path: Path, media: Path) -> None:
    clip = Path(shutil.copy(media / "red.mp4", tmp_path / "clip.mp4"))
    first = probe(clip, name="clip.mp4", cache_dir=tmp_path / "cache")
    assert first.has_video and first.has_audio and first.width == 320 and first.duration == pytest.approx(3, 0.05)
    # a second probe of the same file needs no ffprobe at all
    assert probe(clip, name="clip.mp4", ffprobe="/nonexistent/ffprobe", cache_dir=tmp_path / "cache") == first
    os.utime(clip, ns=(1, 1))  # a changed file is probed again
    with pytest.raises(FileNotFoundError):
        probe(clip, name="clip.mp4", ffprobe="/nonexistent/ffprobe", cache_dir=tmp_path / "cache")


def test_images_alpha_and_rotation() -> None:
    png = parse_probe({"format": {"format_name": "png_pipe"},
                       "streams": [{"codec_type": "video", "codec_name": "png", "width": 10, "height": 20,
                                    "pix_fmt": "rgba"}]}, name="a.png")
    assert png.is_image and png.has_alpha and png.duration is None
    phone = parse_probe({"format": {"format_name": "mov,mp4", "duration": "4.0"},
                         "streams": [{"codec_type": "video", "codec_name": "h264", "width": 1920, "height": 1080,
                                      "side_data_list": [{"rotation": -90}]}]}, name="b.mp4")
    assert (phone.width, phone.height) == (1080, 1920) and not phone.is_image


def test_nothing_decodable_is_bad_media(media: Path) -> None:
    with pytest.raises(BadMedia, match="holds no video, image or audio"):
        parse_probe({"format": {}, "streams": [{"codec_type": "data"}]}, name="x.bin")
    with pytest.raises(BadMedia, match=r"corrupt\.mp4 cannot be decoded"):
        probe(media / "corrupt.mp4", name="corrupt.mp4")
