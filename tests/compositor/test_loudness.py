"""Two-pass loudness: what the measuring pass prints, the level chosen from it, and real renders checked
by their loudness, true peak and dynamics."""

from __future__ import annotations

import math
import re
import struct
import subprocess
from pathlib import Path

import pytest

from framefleet.compositor import loudness
from framefleet.compositor.render import render
from framefleet.compositor.spec import load_spec
from framefleet.config import Settings
from framefleet.errors import BadMedia, ErrorCode
from tests.mediatools import ffmpeg
from tests.mediatools import loudness as lufs

PRINTED = """frame:0    pts:0       pts_time:0
lavfi.r128.M=-120.691
lavfi.r128.I=-70.000
lavfi.r128.true_peaks_ch0=0.154
lavfi.r128.true_peak=0.154
frame:1    pts:4800    pts_time:0.1
lavfi.r128.M=-20.1
lavfi.r128.I=-24.500
lavfi.r128.true_peaks_ch0=0.501
lavfi.r128.true_peaks_ch1=0.250
lavfi.r128.true_peak=0.501
frame:2    pts:9600    pts_time:0.2
lavfi.r128.I=-23.000
lavfi.r128.true_peak=0.300
"""


def test_the_last_integrated_loudness_and_the_largest_true_peak_are_the_mix_s() -> None:
    measured = loudness.parse(PRINTED.splitlines(keepends=True))
    assert measured.integrated == -23.0
    assert measured.true_peak == pytest.approx(20 * math.log10(0.501))


def test_nothing_printed_is_silence() -> None:
    assert loudness.parse([]) == loudness.Measured(loudness.SILENT_LUFS, -math.inf)
    assert loudness.level_for(loudness.parse([]), -14) == loudness.Level(0.0)


def test_one_gain_to_the_target_while_the_peaks_stay_under_the_ceiling() -> None:
    # -23 LUFS with peaks at -12 dBTP: +9 dB, peaks at -3
    assert loudness.level_for(loudness.Measured(-23.0, -12.0), -14) == loudness.Level(9.0)
    # too loud: turned down
    assert loudness.level_for(loudness.Measured(-8.0, 0.5), -14) == loudness.Level(-6.0)


def test_a_gain_that_would_push_peaks_past_the_ceiling_normalises_dynamically() -> None:
    # +9 dB would put -10 dBTP peaks at -1, past the -1.5 ceiling
    assert loudness.level_for(loudness.Measured(-23.0, -10.0), -14) == loudness.Level(0.0, dynamic=True,
                                                                                       target=-14)


def test_a_near_silent_mix_is_raised_by_at_most_the_cap() -> None:
    level = loudness.level_for(loudness.Measured(-65.0, -60.0), -14)
    assert level == loudness.Level(loudness.MAX_GAIN_DB)


# --- real renders ----------------------------------------------------------------------------------


def true_peak_dbtp(path: Path) -> float:
    err = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-vn", "-af", "ebur128=peak=true",
                          "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    return float(re.findall(r"Peak:\s+(-?[\d.]+) dBFS", err)[-1])


def render_sound(tmp_path: Path, src: Path, *, target: float | None, fmt: str = "mp4") -> Path:
    raw = {"output": {"width": 64, "height": 64, "format": fmt, "loudness": target},
           "tracks": [{"clips": [{"type": "audio", "src": src.name}]}]}
    settings = Settings.from_env({"FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache")})
    return render(load_spec(raw), tmp_path / f"out.{fmt}", settings=settings, base_dir=src.parent).path


@pytest.fixture(scope="module")
def bursts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s of a -30 dBFS tone with a 20 ms burst 16 dB louder every second: one gain to -14 LUFS would
    put the bursts past the ceiling."""
    path = tmp_path_factory.mktemp("bursts") / "bursts.wav"
    ffmpeg("-f", "lavfi", "-i", "aevalsrc=if(lt(mod(t\\,1)\\,0.02)\\,0.2\\,0.0316)*sin(2*PI*330*t):s=48000:d=6",
           "-ac", "2", "-c:a", "pcm_s16le", str(path))
    return path


@pytest.fixture(scope="module")
def step(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of a tone at -36 dBFS, then 3 s of it 12 dB louder: a mix with dynamics to keep."""
    path = tmp_path_factory.mktemp("step") / "step.wav"
    ffmpeg("-f", "lavfi", "-i", "aevalsrc=if(lt(t\\,3)\\,0.0158\\,0.0631)*sin(2*PI*440*t):s=48000:d=6",
           "-ac", "2", "-c:a", "pcm_s16le", str(path))
    return path


def test_peaks_one_gain_would_push_past_the_ceiling_are_normalised_dynamically(tmp_path: Path,
                                                                               bursts: Path) -> None:
    out = render_sound(tmp_path, bursts, target=-14)
    assert abs(lufs(out) - -14) <= 1.0
    assert true_peak_dbtp(out) <= -1.0  # the ceiling is -1.5 dBTP; AAC adds a little


def test_normalisation_is_one_gain_and_keeps_the_mix_s_dynamics(tmp_path: Path, step: Path) -> None:
    for target in (-14.0, -23.0):
        out = render_sound(tmp_path, step, target=target)
        assert abs(lufs(out) - target) <= 0.5
        # the loud half stays 12 dB over the quiet one, from its first second to its last
        quiet, loud = lufs(out, 0.5, 2.9), lufs(out, 3.1, 5.9)
        assert abs((loud - quiet) - 12.0) <= 0.5


def test_a_sound_only_output_is_normalised_the_same_way(tmp_path: Path, step: Path) -> None:
    # mp3 renders in one ffmpeg (no pictures to join): it measures first as well
    out = render_sound(tmp_path, step, target=-16, fmt="mp3")
    assert abs(lufs(out) - -16) <= 0.5
    assert abs((lufs(out, 3.1, 5.9) - lufs(out, 0.5, 2.9)) - 12.0) <= 0.5


def test_a_measurement_that_is_not_a_number_leaves_the_level() -> None:
    assert loudness.level_for(loudness.Measured(math.nan, math.inf), -14) == loudness.Level(0.0)


def test_a_float_sound_with_nan_and_infinite_samples_is_bad_media(tmp_path: Path) -> None:
    # A float WAV is a legal file whose samples can be anything: the AAC encoder refuses NaN and infinity.
    # That is the customer's file, not our failure: bad_media, not an internal error.
    samples = [0.1 * math.sin(2 * math.pi * 440 * i / 48000) for i in range(48000)]
    samples[1000], samples[2000] = math.nan, math.inf
    data = struct.pack(f"<{len(samples)}f", *samples)
    header = (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
              + struct.pack("<IHHIIHH", 16, 3, 1, 48000, 48000 * 4, 4, 32) + b"data" + struct.pack("<I", len(data)))
    src = tmp_path / "nan.wav"
    src.write_bytes(header + data)
    for target in (-14, None):
        with pytest.raises(BadMedia) as exc:
            render_sound(tmp_path, src, target=target)
        assert exc.value.code == ErrorCode.BAD_MEDIA
        assert "not numbers (NaN or infinity)" in exc.value.message
