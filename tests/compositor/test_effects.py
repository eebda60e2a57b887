"""Wipes, reveals and drifts; playback speed; crop; rotate and flip: real renders, checked by pixel and
by sound.

Every source here is made for the check: solid colours, quadrants, a clip that changes colour each
second with a beep at a known time. The frame grid is 30 fps and the frame 320x240, so every number
below is a frame or a pixel.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from framefleet.compositor.render import RenderResult, render
from framefleet.compositor.segments import Policy
from framefleet.compositor.spec import load_spec
from framefleet.config import Settings
from framefleet.errors import SpecError
from tests.mediatools import band_rms_db, close, facts, ffmpeg, frame, pixel

RED, GREEN, BLUE, YELLOW, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 0, 0)
SIZE = (320, 240)


@pytest.fixture(scope="module")
def fx_media(media: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``media`` plus: ``steps.mp4`` (red, green, blue: one second each, silent until a 1 kHz beep from
    2 s), ``quads.png`` (400x300: red, green / blue, yellow quadrants) and ``halves.png`` (red left,
    blue right)."""
    folder = tmp_path_factory.mktemp("fx")
    for item in media.iterdir():
        (folder / item.name).symlink_to(item)
    colours = [arg for c in ("red", "lime", "blue") for arg in ("-f", "lavfi", "-i", f"color=c={c}:s=320x240:r=30:d=1")]
    ffmpeg(*colours, "-f", "lavfi", "-i", "sine=f=1000:r=48000:d=1",
           "-filter_complex", "[0][1][2]concat=n=3:v=1:a=0[v];[3]adelay=2000:all=1,apad=whole_dur=3[a]",
           "-map", "[v]", "-map", "[a]", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", str(folder / "steps.mp4"))
    quads = Image.new("RGB", (400, 300), RED)
    quads.paste(GREEN, (200, 0, 400, 150))
    quads.paste(BLUE, (0, 150, 200, 300))
    quads.paste(YELLOW, (200, 150, 400, 300))
    quads.save(folder / "quads.png")
    halves = Image.new("RGB", (100, 100), RED)
    halves.paste(BLUE, (50, 0, 100, 100))
    halves.save(folder / "halves.png")
    return folder


def go(folder: Path, out: Path, settings: Settings, tracks: list[list[dict[str, Any]]],
       policy: Policy | None = None, **output: Any) -> RenderResult:
    raw: dict[str, Any] = {"output": {"width": 320, "height": 240, "loudness": None, **output},
                           "tracks": [{"clips": c} for c in tracks]}
    return render(load_spec(raw), out, settings=settings, base_dir=folder, policy=policy)


def mix(a: tuple[int, int, int], b: tuple[int, int, int], k: float) -> tuple[int, ...]:
    return tuple(round(x * k + y * (1 - k)) for x, y in zip(a, b, strict=True))


# --- transitions --------------------------------------------------------------------------------------


def test_reveal_sweeps_in_from_the_left_and_a_wipe_up_hides_from_the_bottom_while_fading(
        fx_media: Path, tmp_path: Path, settings: Settings) -> None:
    # red over green, 2 s; reveal in over the first second, wipe_up out over the last
    out = go(fx_media, tmp_path / "wipes.mp4", settings, [
        [{"type": "color", "color": "#00ff00", "length": 2}],
        [{"type": "color", "color": "#ff0000", "length": 2,
          "transition": {"in": "reveal", "out": "wipe_up", "duration": 1}}]]).path
    assert close(pixel(out, 0.0, 160, 120, SIZE), GREEN)  # nothing revealed yet
    # half-way in (frame 15): the left half is red, the right still green; a reveal does not fade
    assert close(pixel(out, 0.5, 40, 120, SIZE), RED)
    assert close(pixel(out, 0.5, 150, 120, SIZE), RED)
    assert close(pixel(out, 0.5, 170, 120, SIZE), GREEN)
    assert close(pixel(out, 0.5, 280, 120, SIZE), GREEN)
    assert close(pixel(out, 1.0, 300, 120, SIZE), RED)  # all of it between the transitions
    # half-way out (frame 45): the edge has swept up from the bottom to the middle; what is left fades
    assert close(pixel(out, 1.5, 160, 200, SIZE), GREEN)
    assert close(pixel(out, 1.5, 160, 40, SIZE), mix(RED, GREEN, 0.5), tol=40)


def test_wipe_left_enters_from_the_right_and_drift_moves_a_tenth_of_the_frame(
        fx_media: Path, tmp_path: Path, settings: Settings) -> None:
    out = go(fx_media, tmp_path / "drift.mp4", settings, [
        [{"type": "color", "color": "#ff0000", "length": 2, "fit": "none", "scale": 0.5,  # 160x120, centred
          "transition": {"in": "wipe_left", "duration": 1}}],
        [{"type": "image", "src": "small_red.png", "fit": "none", "length": 2, "position": "top_left",
          "transition": {"out": "drift_right", "duration": 1}}]]).path
    # wipe_left in, half-way: the right half of the centred box (x 160-240) shows, half faded
    assert close(pixel(out, 0.5, 200, 120, SIZE), mix(RED, BLACK, 0.5), tol=40)
    assert close(pixel(out, 0.5, 120, 120, SIZE), BLACK)
    # drift_right out, eased in, over 32 px (a tenth of 320): at frame 54 (0.8 through it) the square
    # has gone 32 * 0.8^3 = 16.4 px right, and is a fifth as opaque
    late = frame(out, 53.5 / 30, SIZE).astype(int)
    reds = np.nonzero(late[10, :, 0] > 25)[0]  # red in row 10
    assert reds.size and abs(reds.min() - 16) <= 2 and abs(reds.max() - 116) <= 2, reds
    assert 30 < late[10, 60, 0] < 80  # 255 * 0.2


# --- speed --------------------------------------------------------------------------------------------


def test_double_speed_plays_the_source_in_half_the_time_with_its_sound_in_sync(
        fx_media: Path, tmp_path: Path, settings: Settings) -> None:
    result = go(fx_media, tmp_path / "fast.mp4", settings, [[{"type": "video", "src": "steps.mp4", "speed": 2}]],
                loudness=None)
    info = facts(result.path)
    assert int(info["video"]["nb_read_frames"]) == 45  # 3 s of source in 1.5 s
    assert abs(float(info["audio"]["duration"]) - 1.5) <= 1 / 30
    assert close(pixel(result.path, 0.25, 160, 120, SIZE), RED)  # source 0.5 s
    assert close(pixel(result.path, 0.75, 160, 120, SIZE), GREEN)  # source 1.5 s
    assert close(pixel(result.path, 1.25, 160, 120, SIZE), BLUE)  # source 2.5 s
    # the beep at source 2 s sounds at 1 s, at its own pitch (atempo, not a faster playback rate)
    assert band_rms_db(result.path, 1000, 0.2, 0.9) < -50
    assert band_rms_db(result.path, 1000, 1.1, 1.45) > -30


def test_half_speed_from_a_trim_and_a_segmented_render_joins_exactly(
        fx_media: Path, tmp_path: Path, settings: Settings) -> None:
    tracks = [[{"type": "video", "src": "pattern.mp4", "trim": 1, "speed": 0.5, "length": 2, "volume": 0}]]
    whole = go(fx_media, tmp_path / "whole.mp4", settings, tracks, policy=Policy(max_inputs=100, max_seconds=100))
    cut = go(fx_media, tmp_path / "cut.mp4", settings, tracks, policy=Policy(max_inputs=1, max_seconds=0.7))
    assert cut.segments > 1
    a = np.stack([frame(whole.path, n / 30, SIZE) for n in (20, 21, 41, 42)]).astype(int)
    b = np.stack([frame(cut.path, n / 30, SIZE) for n in (20, 21, 41, 42)]).astype(int)
    assert float(np.abs(a - b).mean()) < 4  # the same frames on both sides of each join
    slow = go(fx_media, tmp_path / "slow.mp4", settings,
              [[{"type": "video", "src": "steps.mp4", "trim": 0.5, "speed": 0.5, "length": 2}]])
    assert close(pixel(slow.path, 0.9, 160, 120, SIZE), RED)  # source 0.95 s
    assert close(pixel(slow.path, 1.1, 160, 120, SIZE), GREEN)  # source 1.05 s


def test_default_length_of_a_fast_clip_is_its_source_over_its_speed(
        fx_media: Path, tmp_path: Path, settings: Settings) -> None:
    result = go(fx_media, tmp_path / "four.mp4", settings, [[{"type": "video", "src": "steps.mp4", "trim": 1,
                                                              "speed": 4}]])
    assert int(facts(result.path)["video"]["nb_read_frames"]) == 15  # 2 s of source at 4x: 0.5 s


# --- crop and transform -------------------------------------------------------------------------------


def test_crop_cuts_the_source_before_it_is_fitted(fx_media: Path, tmp_path: Path, settings: Settings) -> None:
    out = go(fx_media, tmp_path / "crop.mp4", settings, [
        [{"type": "image", "src": "quads.png", "length": 1, "crop": {"left": 0.5, "top": 0.5}}],
        [{"type": "image", "src": "quads.png", "length": 1, "fit": "contain", "scale": 0.5,
          "position": "top_left", "crop": {"left": 0.5}}]]).path
    assert close(pixel(out, 0.5, 300, 200, SIZE), YELLOW)  # the bottom right quadrant fills the frame
    # the right half (200x300) contained in a 160x120 box: 80x120 at the top left, green over yellow
    assert close(pixel(out, 0.5, 40, 20, SIZE), GREEN)
    assert close(pixel(out, 0.5, 40, 100, SIZE), YELLOW)
    assert close(pixel(out, 0.5, 100, 20, SIZE), YELLOW)  # right of the box: the first layer


def test_rotate_turns_about_the_centre_and_flip_mirrors(fx_media: Path, tmp_path: Path, settings: Settings) -> None:
    out = go(fx_media, tmp_path / "turn.mp4", settings, [
        [{"type": "image", "src": "small_red.png", "fit": "none", "length": 1, "transform": {"rotate": 45}}],
        [{"type": "image", "src": "halves.png", "fit": "none", "length": 1, "position": "top_left",
          "transform": {"flip": "horizontal"}}]]).path
    assert close(pixel(out, 0.5, 160, 120, SIZE), RED)
    assert close(pixel(out, 0.5, 160, 60, SIZE), RED)  # the diamond's top corner reaches 70 px up
    assert close(pixel(out, 0.5, 115, 75, SIZE), BLACK)  # the unturned square's corner: now background
    assert close(pixel(out, 0.5, 20, 50, SIZE), BLUE)  # mirrored: blue on the left
    assert close(pixel(out, 0.5, 80, 50, SIZE), RED)


@pytest.mark.parametrize(("clip", "path", "says"), [
    ({"speed": 8}, "tracks[0].clips[0].speed", "less than or equal to 4"),
    ({"speed": 0.1}, "tracks[0].clips[0].speed", "greater than or equal to 0.25"),
    ({"crop": {"left": 0.6, "right": 0.6}}, "tracks[0].clips[0].crop", "95 %"),
    ({"crop": {"top": -0.1}}, "tracks[0].clips[0].crop.top", "greater than or equal to 0"),
    ({"transform": {"rotate": 1e308 * 10}}, "tracks[0].clips[0].transform.rotate", "finite"),
    ({"transform": {"rotate": 720}}, "tracks[0].clips[0].transform.rotate", "less than or equal to 360"),
    ({"transform": {"flip": "diagonal"}}, "tracks[0].clips[0].transform.flip", "'horizontal'"),
    ({"transition": {"in": "wipe_sideways"}}, "tracks[0].clips[0].transition.in", "'wipe_left'"),
])
def test_new_numbers_are_bounded_at_their_json_path(clip: dict[str, Any], path: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec({"tracks": [{"clips": [{"type": "video", "src": "a.mp4", **clip}]}]})
    assert any(p.path == path and says in p.message for p in caught.value.problems), caught.value.problems


# --- keyframes ----------------------------------------------------------------------------------------


def test_keyframed_opacity_scale_and_offset_follow_their_tweens_and_segments_join_exactly(
        fx_media: Path, tmp_path: Path, settings: Settings) -> None:
    # red over green, 2 s: over the first second the red layer grows from half size to full and from
    # transparent to opaque (linear); over the next it moves right by a quarter of the frame (80 px)
    tracks = [[{"type": "color", "color": "#00ff00", "length": 2}],
              [{"type": "color", "color": "#ff0000", "length": 2,
                "scale": [{"from": 0.5, "to": 1, "length": 1}], "opacity": [{"from": 0, "to": 1, "length": 1}],
                "offset": {"x": [{"from": 0, "to": 0.25, "start": 1, "length": 1}]}}]]
    whole = go(fx_media, tmp_path / "whole.mp4", settings, tracks, policy=Policy(max_inputs=100, max_seconds=100))
    out = whole.path
    assert close(pixel(out, 0.0, 160, 120, SIZE), GREEN)  # transparent at first
    # frame 15: scale 0.75 (240x180 about the centre, x 40-280) and half opaque
    assert close(pixel(out, 0.5, 160, 120, SIZE), mix(RED, GREEN, 0.5), tol=40)
    assert close(pixel(out, 0.5, 60, 120, SIZE), mix(RED, GREEN, 0.5), tol=40)
    assert close(pixel(out, 0.5, 20, 120, SIZE), GREEN)
    assert close(pixel(out, 0.5, 160, 20, SIZE), GREEN)
    # frame 45: full size and opaque, 40 px right of its place: green on the left edge only
    assert close(pixel(out, 1.5, 20, 120, SIZE), GREEN)
    assert close(pixel(out, 1.5, 60, 120, SIZE), RED)
    assert close(pixel(out, 1.5, 300, 120, SIZE), RED)
    cut = go(fx_media, tmp_path / "cut.mp4", settings, tracks, policy=Policy(max_inputs=1, max_seconds=0.7))
    assert cut.segments > 1
    frames = (20, 21, 22, 41, 42, 43)
    a = np.stack([frame(out, n / 30, SIZE) for n in frames]).astype(int)
    b = np.stack([frame(cut.path, n / 30, SIZE) for n in frames]).astype(int)
    assert float(np.abs(a - b).mean()) < 3  # the same pictures on both sides of each join


def test_an_oversized_layer_is_refused_before_ffmpeg_runs(fx_media: Path, tmp_path: Path, settings: Settings) -> None:
    # 400x300 quadrants at 10x (4000x3000) turned 45 degrees: a 4950x4950 box, over a cap of 20 Mpx
    small = replace(settings, limits=replace(settings.limits, max_raster_pixels=20_000_000))
    with pytest.raises(SpecError) as caught:
        go(fx_media, tmp_path / "big.mp4", small, [[{"type": "image", "src": "quads.png", "fit": "none",
                                                     "length": 1, "scale": 10, "transform": {"rotate": 45}}]])
    assert [p.path for p in caught.value.problems] == ["tracks[0].clips[0]"]
    assert "4950x4950" in caught.value.problems[0].message
    assert not (tmp_path / "big.mp4").exists()


# --- luma mattes --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mattes(fx_media: Path) -> Path:
    """``half.png`` (white left half, black right) and ``dawn.mp4`` (1 s black, then 1 s white)."""
    half = Image.new("RGB", (160, 120), (255, 255, 255))
    half.paste((0, 0, 0), (80, 0, 160, 120))
    half.save(fx_media / "half.png")
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=160x120:r=30:d=1", "-f", "lavfi", "-i",
           "color=c=white:s=160x120:r=30:d=1", "-filter_complex", "[0][1]concat=n=2:v=1:a=0[v]", "-map", "[v]",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(fx_media / "dawn.mp4"))
    return fx_media


def test_a_half_black_luma_matte_hides_half_the_clip_beside_it(
        mattes: Path, tmp_path: Path, settings: Settings) -> None:
    out = go(mattes, tmp_path / "luma.mp4", settings, [
        [{"type": "color", "color": "#00ff00", "length": 2}],
        [{"type": "image", "src": "quads.png", "length": 2},
         {"type": "luma", "src": "half.png", "start": 0, "length": 2}]]).path
    assert close(pixel(out, 0.5, 60, 60, SIZE), RED)  # white half of the matte: the clip shows
    assert close(pixel(out, 0.5, 60, 180, SIZE), BLUE)
    assert close(pixel(out, 0.5, 260, 60, SIZE), GREEN)  # black half: the track under it
    assert close(pixel(out, 0.5, 260, 180, SIZE), GREEN)


def test_a_luma_video_masks_only_while_it_overlaps_and_a_segmented_render_joins_exactly(
        mattes: Path, tmp_path: Path, settings: Settings) -> None:
    # a red box (fit none: 160x120 centred, a box the frame-covering matte is cut to) with an animated matte
    # from 1 s to 3 s: black then white; before 1 s the clip is unmasked
    tracks = [[{"type": "color", "color": "#0000ff", "length": 4}],
              [{"type": "color", "color": "#ff0000", "length": 4, "fit": "none", "scale": 0.5},
               {"type": "luma", "src": "dawn.mp4", "start": 1}]]
    whole = go(mattes, tmp_path / "whole.mp4", settings, tracks)
    cut = go(mattes, tmp_path / "cut.mp4", settings, tracks, policy=Policy(max_inputs=1, max_seconds=0.7))
    assert cut.segments > 1
    for out in (whole.path, cut.path):
        assert close(pixel(out, 0.5, 160, 120, SIZE), RED)  # before the matte
        assert close(pixel(out, 1.5, 160, 120, SIZE), BLUE)  # black matte
        assert close(pixel(out, 2.5, 160, 120, SIZE), RED)  # white matte: fully shown (full-range white)
        assert close(pixel(out, 3.5, 160, 120, SIZE), RED)  # after it
    assert pixel(whole.path, 2.5, 160, 120, SIZE)[2] < 12  # no blue through a limited-range white


@pytest.mark.parametrize(("extra", "path", "says"), [
    ({"transform": {"rotate": 30}}, "tracks[0].clips[0].transform.rotate", "cannot be rotated"),
    ({"scale": [{"from": 1, "to": 2, "length": 1}]}, "tracks[0].clips[0].scale", "keyframed scale"),
])
def test_a_luma_matte_on_a_rotated_or_growing_clip_is_refused_at_its_path(
        mattes: Path, tmp_path: Path, settings: Settings, extra: dict[str, Any], path: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        go(mattes, tmp_path / "no.mp4", settings, [[{"type": "color", "color": "#ff0000", "length": 2, **extra},
                                                     {"type": "luma", "src": "half.png", "start": 0, "length": 2}]])
    assert [(p.path, says in p.message) for p in caught.value.problems] == [(path, True)]


def test_a_luma_matte_over_no_clip_or_without_start_is_refused(
        mattes: Path, tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(SpecError) as caught:
        go(mattes, tmp_path / "no.mp4", settings, [[{"type": "color", "color": "#ff0000", "length": 2},
                                                     {"type": "luma", "src": "half.png", "start": 3, "length": 1}]])
    assert [p.path for p in caught.value.problems] == ["tracks[0].clips[1]"]
    with pytest.raises(SpecError) as caught:
        load_spec({"tracks": [{"clips": [{"type": "luma", "src": "half.png", "length": 1}]}]})
    assert [p.path for p in caught.value.problems] == ["tracks[0].clips[0].start"]
    with pytest.raises(SpecError) as caught:
        load_spec({"tracks": [{"clips": [{"type": "luma", "start": 0, "length": 1,
                                          "src": {"generate": "image_from_text", "prompt": "a wipe"}}]}]})
    assert [p.path for p in caught.value.problems] == ["tracks[0].clips[0].src"]


def test_a_luma_matte_multiplies_into_a_clip_that_has_alpha_already(
        mattes: Path, tmp_path: Path, settings: Settings) -> None:
    Image.new("RGBA", (320, 240), (255, 0, 0, 128)).save(tmp_path / "glass.png")
    (tmp_path / "half.png").symlink_to(mattes / "half.png")
    out = go(tmp_path, tmp_path / "half.mp4", settings, [
        [{"type": "color", "color": "#00ff00", "length": 1}],
        [{"type": "image", "src": "glass.png", "length": 1},
         {"type": "luma", "src": "half.png", "start": 0, "length": 1}]]).path
    assert close(pixel(out, 0.5, 60, 120, SIZE), mix(RED, GREEN, 0.5), tol=40)  # half see-through, as it was
    assert close(pixel(out, 0.5, 260, 120, SIZE), GREEN)  # hidden by the matte
