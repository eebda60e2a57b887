"""Footage as phones and cameras record it: rotation metadata, non-square pixels, variable frame rate
with a late sound track, odd sizes, any sample rate and channel layout, picture or sound alone.

Each source is made with ffmpeg so that what a player shows is known; the render is checked by
pixels, ffprobe facts and the decoded sound."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from framefleet.compositor.probe import probe
from framefleet.compositor.render import RenderResult, render
from framefleet.compositor.spec import load_spec
from framefleet.config import Settings
from tests.mediatools import facts, ffmpeg, frame, gray_frames, loudness, pcm

X264 = ("-c:v", "libx264", "-preset", "ultrafast")


def go(tmp_path: Path, settings: Settings, clips: list[dict[str, Any]], **output: Any) -> RenderResult:
    raw = {"output": {"loudness": None, **output}, "tracks": [{"clips": clips}]}
    return render(load_spec(raw), tmp_path / f"out.{output.get('format', 'mp4')}", settings=settings,
                  base_dir=tmp_path)


def red_box(picture: np.ndarray) -> tuple[int, int, int, int]:
    """Left, top, right, bottom of the red pixels."""
    rgb = picture.astype(int)
    ys, xs = np.nonzero((rgb[:, :, 0] > 160) & (rgb[:, :, 1] < 90) & (rgb[:, :, 2] < 90))
    assert xs.size, "no red in the frame"
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def rotation(path: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_streams", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True).stdout
    stream = json.loads(out)["streams"][0]
    return int(next((s["rotation"] for s in stream.get("side_data_list", []) if "rotation" in s), 0))


# --- orientation -------------------------------------------------------------------------------------

#: How the stored (landscape) frame is made from the portrait picture, for each rotate tag: the
#: player turns it back, so the picture seen is the portrait one, red marker top left.
STORED = {90: "transpose=clock", 180: "hflip,vflip", 270: "transpose=cclock"}


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotated_phone_video_is_upright_and_fills_a_portrait_frame(tmp_path: Path, settings: Settings,
                                                                   degrees: int) -> None:
    # a 180x320 portrait picture, blue with a red marker in its top-left corner, stored turned
    picture = "color=c=blue:s=180x320:r=30:d=1,drawbox=x=0:y=0:w=40:h=40:c=red:t=fill"
    plain = tmp_path / "plain.mp4"
    ffmpeg("-f", "lavfi", "-i", picture, "-vf", STORED[degrees], *X264, "-pix_fmt", "yuv420p", str(plain))
    src = tmp_path / "phone.mp4"
    ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", f"rotate={degrees}", str(src))
    assert rotation(src) != 0  # really stored with a display matrix
    shown = (320, 180) if degrees == 180 else (180, 320)
    assert red_box(frame(src, 0.5, shown))[:2] == (0, 0)  # ffmpeg itself shows it upright

    info = probe(src, name="phone.mp4")
    assert (info.width, info.height) == (180, 320)
    result = go(tmp_path, settings, [{"type": "video", "src": "phone.mp4", "fit": "contain"}],
                width=360, height=640)
    left, top, right, bottom = red_box(frame(result.path, 0.5, (360, 640)))
    # portrait into portrait: no letterbox, the marker in the top-left corner at twice its size
    assert left <= 2 and top <= 2 and 74 <= right <= 84 and 74 <= bottom <= 84


# --- aspect ------------------------------------------------------------------------------------------


def test_non_square_pixels_are_shown_at_their_display_aspect(tmp_path: Path, settings: Settings) -> None:
    # a 1920x1080 picture with a centred 400x400 red square, stored as 1440x1080 with 4:3 pixels (HDV)
    ffmpeg("-f", "lavfi", "-i", "color=c=blue:s=1920x1080:r=30:d=1,drawbox=x=760:y=340:w=400:h=400:c=red:t=fill,"
           "scale=1440:1080,setsar=4/3", *X264, "-pix_fmt", "yuv420p", str(tmp_path / "hdv.mp4"))
    info = probe(tmp_path / "hdv.mp4", name="hdv.mp4")
    assert (info.width, info.height, info.frame) == (1920, 1080, (1440, 1080))
    for fit, width in (("contain", 640), ("cover", 360)):
        result = go(tmp_path, settings, [{"type": "video", "src": "hdv.mp4", "fit": fit}], width=width, height=640)
        assert facts(result.path)["video"]["sample_aspect_ratio"] in ("1:1", None)
        left, top, right, bottom = red_box(frame(result.path, 0.5, (width, 640)))
        square_w, square_h = right - left + 1, bottom - top + 1
        assert abs(square_w - square_h) <= 3, (fit, square_w, square_h)  # a square stays square
        assert abs((left + right) / 2 - width / 2) <= 2 and abs((top + bottom) / 2 - 320) <= 2


# --- odd sizes ---------------------------------------------------------------------------------------


def test_odd_sized_video_is_fitted_and_placed(tmp_path: Path, settings: Settings) -> None:
    # 1081x1921 (yuv444p keeps the odd size), red marker in the top-left corner
    ffmpeg("-f", "lavfi", "-i",
           "color=c=blue:s=1081x1921:r=30:d=1,format=yuv444p,drawbox=x=0:y=0:w=108:h=192:c=red:t=fill",
           *X264, "-pix_fmt", "yuv444p", str(tmp_path / "odd.mp4"))
    assert probe(tmp_path / "odd.mp4", name="odd.mp4").width == 1081
    for fit in ("cover", "contain", "none"):
        result = go(tmp_path, settings, [{"type": "video", "src": "odd.mp4", "fit": fit, "scale": 0.25
                                          if fit == "none" else 1}], width=270, height=480)
        left, top, right, bottom = red_box(frame(result.path, 0.5, (270, 480)))
        assert left <= 2 and top <= 2, fit
        assert 24 <= right <= 30 and 44 <= bottom <= 52, (fit, right, bottom)


# --- sync --------------------------------------------------------------------------------------------


def test_variable_frame_rate_with_a_late_sound_track_keeps_sync_over_a_minute(tmp_path: Path,
                                                                               settings: Settings) -> None:
    # A phone recording: frames at uneven times (a 60 fps picture with irregular frames dropped), and
    # a sound track that starts 0.5 s after the picture. A flash and a beep happen together at 1 s and
    # at 65 s of the recording.
    at = "between(t,1,1.2)+between(t,65,65.2)"
    ffmpeg("-f", "lavfi", "-i", f"color=c=black:s=160x120:r=60:d=70,drawbox=c=white:t=fill:enable='{at}'",
           "-vf", "select='not(eq(mod(n,7),3))*not(eq(mod(n,11),5))*not(eq(mod(n,3),1)*lt(mod(t,9),4))'",
           "-fps_mode", "vfr", *X264, "-pix_fmt", "yuv420p", str(tmp_path / "picture.mp4"))
    beep = "between(t,0.5,0.7)+between(t,64.5,64.7)"  # in the sound's own time: it starts 0.5 s late
    ffmpeg("-f", "lavfi", "-i", f"sine=f=1000:r=44100:d=69.5,volume=0:enable='not({beep})'", "-c:a", "aac",
           str(tmp_path / "sound.m4a"))
    ffmpeg("-i", str(tmp_path / "picture.mp4"), "-itsoffset", "0.5", "-i", str(tmp_path / "sound.m4a"),
           "-map", "0:v", "-map", "1:a", "-c", "copy", str(tmp_path / "phone.mp4"))
    video = facts(tmp_path / "phone.mp4")["video"]
    assert video["r_frame_rate"] != video["avg_frame_rate"]  # really variable

    for trim in (0, 30):
        result = go(tmp_path, settings, [{"type": "video", "src": "phone.mp4", "trim": trim}],
                    width=160, height=120, fps=30)
        flashes = np.nonzero(gray_frames(result.path, 160, 120).mean(axis=(1, 2)) > 128)[0]
        sound = np.abs(pcm(result.path)[:, 0])
        beeps = np.nonzero(sound > 0.05)[0] / 48000 * 30  # in frames
        late_flash = flashes[flashes > (60 - trim) * 30][0]
        late_beep = beeps[beeps > (60 - trim) * 30][0]
        assert abs(late_flash - (65 - trim) * 30) <= 1, (trim, late_flash)
        assert abs(late_beep - late_flash) <= 1, (trim, late_beep, late_flash)


# --- sound -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "layout"), [(8000, "mono"), (22050, "mono"), (44100, "stereo"),
                                               (48000, "5.1"), (96000, "stereo")])
def test_any_rate_and_layout_mixes_to_stereo_48k_at_its_loudness(tmp_path: Path, settings: Settings,
                                                                   rate: int, layout: str) -> None:
    # a 440 Hz tone at 0.1 in the front channels (5.1: front left and right only)
    pan = {"mono": "pan=mono|c0=c0", "stereo": "pan=stereo|c0=c0|c1=c0", "5.1": "pan=5.1|FL=c0|FR=c0"}[layout]
    src = tmp_path / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", f"sine=f=440:r={rate}:d=3,volume=0.1", "-af", pan, str(src))
    result = go(tmp_path, settings, [{"type": "audio", "src": "tone.wav"}], format="mp3")
    audio = facts(result.path)["audio"]
    assert (audio["sample_rate"], audio["channels"]) == ("48000", 2)
    assert abs(float(result.duration) - 3.0) < 0.05
    assert abs(loudness(result.path) - loudness(src)) <= 0.5  # a downmix neither gains nor loses


def test_video_without_sound_and_sound_without_video(tmp_path: Path, settings: Settings) -> None:
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=160x120:r=25:d=2", *X264, "-pix_fmt", "yuv420p",
           str(tmp_path / "mute.mp4"))
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:r=22050:d=3", "-c:a", "aac", str(tmp_path / "voice.m4a"))
    result = go(tmp_path, settings, [{"type": "video", "src": "mute.mp4"},
                                     {"type": "audio", "src": "voice.m4a", "start": 0}], width=160, height=120)
    assert abs(result.duration - 3.0) < 0.05  # the longer one
    sound = pcm(result.path)
    assert float(np.abs(sound[48000:96000]).max()) > 0.05  # the voice (1/8, mono) under the mute picture
    assert frame(result.path, 1.0, (160, 120))[60, 80, 0] > 200
