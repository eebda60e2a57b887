from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from framefleet.compositor import probe as probe_module
from framefleet.compositor.probe import forget, parse_probe, probe
from framefleet.errors import BadMedia
from tests.mediatools import counting_ffprobe, ffmpeg


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
        parse_probe({"format": {"format_name": "mpegts"}, "streams": [{"codec_type": "data"}]}, name="x.bin")
    with pytest.raises(BadMedia, match=r"corrupt\.mp4 cannot be decoded"):
        probe(media / "corrupt.mp4", name="corrupt.mp4")


def test_a_format_outside_the_allowlist_is_bad_media_without_our_paths() -> None:
    with pytest.raises(BadMedia, match=r"^list\.mp4 is not a supported media file$"):
        parse_probe({"format": {"format_name": "concat"}, "streams": [{"codec_type": "video", "width": 2,
                                                                      "height": 2}]}, name="list.mp4")
    info = parse_probe({"format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "1.0"},
                        "streams": [{"codec_type": "audio"}]}, name="a.m4a")
    assert info.demuxer == "mov" and not info.is_still


def test_a_cache_entry_from_before_the_demuxer_was_kept_is_probed_again(tmp_path: Path, media: Path) -> None:
    clip = Path(shutil.copy(media / "red.mp4", tmp_path / "clip.mp4"))
    first = probe(clip, name="clip.mp4", cache_dir=tmp_path / "cache")
    assert first.demuxer == "mov"
    [entry] = (tmp_path / "cache" / "probe").rglob("*.json")
    old = json.loads(entry.read_text())
    del old["demuxer"]
    entry.write_text(json.dumps(old))
    forget()  # as another process, or the next release, would find it: on disk only
    with pytest.raises(FileNotFoundError):  # not served from the old entry: ffprobe is needed again
        probe(clip, name="clip.mp4", ffprobe="/nonexistent/ffprobe", cache_dir=tmp_path / "cache")
    assert probe(clip, name="clip.mp4", cache_dir=tmp_path / "cache") == first
    assert json.loads(entry.read_text())["demuxer"] == "mov"


def test_a_cut_short_fast_start_mp4_is_bad_media(tmp_path: Path, media: Path) -> None:
    whole = tmp_path / "whole.mp4"
    ffmpeg("-i", str(media / "red.mp4"), "-c", "copy", "-movflags", "+faststart", str(whole))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    assert probe(whole, name="whole.mp4").duration == pytest.approx(3, 0.05)
    with pytest.raises(BadMedia, match=r"^cut\.mp4 is truncated"):
        probe(cut, name="cut.mp4")


def test_a_file_version_that_cannot_be_used_is_not_probed_twice(tmp_path: Path, media: Path) -> None:
    """A source probed as it arrived is probed again by the plan: a bad file fails both at one ffprobe."""
    tool, log = counting_ffprobe(tmp_path)
    bad = Path(shutil.copy(media / "corrupt.mp4", tmp_path / "bad.mp4"))
    for _ in range(2):
        with pytest.raises(BadMedia, match=r"^bad\.mp4 cannot be decoded$"):
            probe(bad, name="bad.mp4", ffprobe=tool)
    assert log.read_text().count("run") == 1
    shutil.copy(media / "red.mp4", bad)  # a new version of the file is probed, and this one is good
    assert probe(bad, name="bad.mp4", ffprobe=tool).has_video
    assert log.read_text().count("run") == 2


def test_a_probe_that_ran_out_of_time_is_remembered_for_a_while_only(
        tmp_path: Path, media: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that stalls ffprobe stalls one render once (probed on arrival, then looked up for the
    plan), and a job ten minutes later, on a machine that may only have been busy, reads it again."""
    (tmp_path / "stuck").mkdir()
    stuck, _ = counting_ffprobe(tmp_path / "stuck", "exec sleep 60")
    tool, log = counting_ffprobe(tmp_path)
    clip = Path(shutil.copy(media / "red.mp4", tmp_path / "clip.mp4"))
    with pytest.raises(BadMedia, match=r"^clip\.mp4 could not be read in time$"):
        probe(clip, name="clip.mp4", ffprobe=stuck, timeout=0.5)
    with pytest.raises(BadMedia, match=r"^clip\.mp4 could not be read in time$"):
        probe(clip, name="clip.mp4", ffprobe=tool)
    assert not log.exists()  # the plan did not wait for it a second time

    later = time.monotonic() + probe_module.TIMEOUT_KEPT + 1
    monkeypatch.setattr(probe_module, "time", SimpleNamespace(monotonic=lambda: later))
    assert probe(clip, name="clip.mp4", ffprobe=tool).has_video
    assert log.read_text().count("run") == 1
