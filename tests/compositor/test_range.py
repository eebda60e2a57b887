"""``output.range``: a part of the timeline rendered on its own, timed as in the whole render.

The source changes colour each second (red, green, blue) and beeps from 2 s; a white box fades in
over the first second of a clip that starts at 1 s. The frame grid is 30 fps and the frame 320x240,
so every number below is a frame or a pixel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from framefleet.compositor.render import RenderResult, render
from framefleet.compositor.segments import Policy
from framefleet.compositor.spec import load_spec
from framefleet.config import Settings
from framefleet.errors import SpecError
from tests.mediatools import band_rms_db, close, facts, ffmpeg, frame, pixel

SIZE = (320, 240)
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


@pytest.fixture(scope="module")
def steps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``steps.mp4``: red, green, blue for a second each, silent until a 1 kHz beep from 2 s."""
    folder = tmp_path_factory.mktemp("range")
    colours = [arg for c in ("red", "lime", "blue") for arg in ("-f", "lavfi", "-i", f"color=c={c}:s=320x240:r=30:d=1")]
    ffmpeg(*colours, "-f", "lavfi", "-i", "sine=f=1000:r=48000:d=1",
           "-filter_complex", "[0][1][2]concat=n=3:v=1:a=0[v];[3]adelay=2000:all=1,apad=whole_dur=3[a]",
           "-map", "[v]", "-map", "[a]", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", str(folder / "steps.mp4"))
    return folder


def timeline(**output: Any) -> dict[str, Any]:
    return {"output": {"width": 320, "height": 240, **output},
            "tracks": [{"clips": [{"type": "video", "src": "steps.mp4"}]},
                       {"clips": [{"type": "color", "color": "#ffffff", "start": 1, "length": 2, "fit": "none",
                                   "scale": 0.25, "position": "top_left",
                                   "transition": {"in": "fade", "duration": 1}}]},
                       {"clips": [{"type": "captions", "style": "none", "start": 1,
                                   "words": [{"text": "early", "start": 0.0, "end": 0.4},
                                             {"text": "beep", "start": 1.0, "end": 1.5}]}]}]}


def go(folder: Path, out: Path, settings: Settings, raw: dict[str, Any], policy: Policy | None = None
       ) -> RenderResult:
    return render(load_spec(raw), out, settings=settings, base_dir=folder, policy=policy)


def test_a_range_is_that_part_of_the_whole_render_with_its_sound_in_sync(
        steps: Path, tmp_path: Path, settings: Settings) -> None:
    whole = go(steps, tmp_path / "whole.mp4", settings, timeline())
    part = go(steps, tmp_path / "part.mp4", settings, timeline(range={"start": 1.5, "length": 1.2}))
    info = facts(part.path)
    assert part.duration == pytest.approx(1.2)
    assert int(info["video"]["nb_read_frames"]) == 36  # frames 45-80 of the timeline
    assert abs(float(info["audio"]["duration"]) - 1.2) <= 1 / 30
    # the first frame is the whole render's frame 45: green, the box half faded in
    first, same = frame(part.path, 0.0, SIZE).astype(int), frame(whole.path, 1.5, SIZE).astype(int)
    assert float(np.abs(first - same).mean()) < 3
    assert close(pixel(part.path, 0.0, 160, 180, SIZE), GREEN)
    assert close(pixel(part.path, 0.0, 20, 20, SIZE), (128, 255, 128), tol=40)
    assert close(pixel(part.path, 0.7, 160, 180, SIZE), BLUE)  # the timeline's 2.2 s
    assert close(pixel(part.path, 0.7, 20, 20, SIZE), WHITE)
    # the beep at the timeline's 2 s sounds at the range's 0.5 s, and as loud as in the whole render
    # (the sound is mixed and normalised over the whole timeline, then cut)
    assert band_rms_db(part.path, 1000, 0.0, 0.4) < -50
    loud = band_rms_db(part.path, 1000, 0.6, 1.1)
    assert loud > -30
    assert abs(loud - band_rms_db(whole.path, 1000, 2.1, 2.6)) < 1
    # the captions sidecar is in the range's time: "early" (1.0-1.4 s) is gone, "beep" starts at 0.5 s
    assert part.captions is not None
    vtt = part.captions.read_text()
    assert "early" not in vtt and "00:00:00.500 --> 00:00:01.000" in vtt and "beep" in vtt


def test_a_segmented_range_and_a_range_to_the_end(steps: Path, tmp_path: Path, settings: Settings) -> None:
    whole = go(steps, tmp_path / "whole.mp4", settings, timeline(), policy=Policy(max_inputs=100, max_seconds=100))
    cut = go(steps, tmp_path / "cut.mp4", settings, timeline(range={"start": 0.5, "length": 2}),
             policy=Policy(max_inputs=1, max_seconds=0.4))
    assert cut.segments > 1
    assert int(facts(cut.path)["video"]["nb_read_frames"]) == 60
    a = np.stack([frame(whole.path, (15 + n) / 30, SIZE) for n in (0, 11, 12, 40, 58)]).astype(int)
    b = np.stack([frame(cut.path, n / 30, SIZE) for n in (0, 11, 12, 40, 58)]).astype(int)
    assert float(np.abs(a - b).mean()) < 3  # the same frames on both sides of each join
    tail = go(steps, tmp_path / "tail.webm", settings, timeline(range={"start": 2}, format="webm"))
    assert int(facts(tail.path)["video"]["nb_read_frames"]) == 30
    assert close(pixel(tail.path, 0.1, 160, 180, SIZE), BLUE)


@pytest.mark.parametrize(("output", "path", "says"), [
    ({"range": {"start": 3}}, "output.range.start", "past the end of the timeline"),
    ({"range": {"start": 2, "length": 1.5}}, "output.range.length", "past the end of the timeline"),
    ({"range": {"start": -1}}, "output.range.start", ""),
    ({"range": {"length": 0}}, "output.range.length", ""),
    ({"range": {"start": 1e9}}, "output.range.start", "over the limit"),
    ({"range": {"start": 1}, "format": "png"}, "output.range", "use output.at"),
])
def test_a_range_is_checked_at_its_json_path(steps: Path, tmp_path: Path, settings: Settings,
                                              output: dict[str, Any], path: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        go(steps, tmp_path / "out.mp4", settings, timeline(**output))
    assert any(p.path == path and says in p.message for p in caught.value.problems), caught.value.problems
