"""Real renders through ffmpeg, checked by what is in the file: facts, pixels, loudness."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from framefleet.compositor.render import RenderResult, render
from framefleet.compositor.spec import load_spec
from framefleet.config import Settings
from tests.mediatools import band_rms_db, close, facts, frame, loudness, pixel

RED, GREEN, BLUE, BLACK, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0), (255, 255, 0)


def go(tmp_path: Path, media: Path, settings: Settings, tracks: list[dict], name: str = "out.mp4",
       **output: Any) -> RenderResult:
    raw: dict[str, Any] = {"output": {"width": 320, "height": 240, "loudness": None, **output},
                           "tracks": [{"clips": c} for c in tracks]}
    soundtrack = raw["output"].pop("soundtrack", None)
    if soundtrack:
        raw["soundtrack"] = soundtrack
    return render(load_spec(raw), tmp_path / name, settings=settings, base_dir=media)


def test_mp4_facts_are_exact(tmp_path: Path, media: Path, settings: Settings) -> None:
    result = go(tmp_path, media, settings, [[{"type": "video", "src": "red.mp4", "length": 1.5},
                                            {"type": "color", "color": "#00ff00", "length": 0.9}]],
                thumbnail={"at": 0.5})
    info = facts(result.path)
    v, a = info["video"], info["audio"]
    assert (v["codec_name"], v["profile"], v["pix_fmt"]) == ("h264", "High", "yuv420p")
    assert (v["width"], v["height"], v["r_frame_rate"]) == (320, 240, "30/1")
    assert int(v["nb_read_frames"]) == 72  # 2.4 s at 30 fps, exactly
    assert abs(float(info["format"]["duration"]) - 2.4) <= 1 / 30
    assert (a["codec_name"], a["sample_rate"], a["channels"]) == ("aac", "48000", 2)
    data = result.path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart
    assert result.thumbnail is not None and result.thumbnail.read_bytes()[:2] == b"\xff\xd8"
    assert close(pixel(result.path, 0.5, 160, 120, (320, 240)), RED)
    assert close(pixel(result.path, 2.0, 160, 120, (320, 240)), GREEN)


def test_later_tracks_draw_over_earlier_ones(tmp_path: Path, media: Path, settings: Settings) -> None:
    result = go(tmp_path, media, settings, [
        [{"type": "video", "src": "red.mp4", "length": 1}],
        [{"type": "image", "src": "small_red.png", "length": 1, "fit": "none"},
         {"type": "color", "color": "#00ff00", "start": 0, "length": 1, "fit": "none", "scale": 0.25}],
    ])
    size = (320, 240)
    assert close(pixel(result.path, 0.5, 160, 120, size), GREEN)
    assert close(pixel(result.path, 0.5, 10, 10, size), RED)


@pytest.mark.parametrize(("fit", "top", "middle"), [
    ("cover", BLUE, BLUE), ("contain", BLACK, BLUE), ("fill", BLUE, BLUE), ("none", BLACK, BLUE),
])
def test_fit_modes(tmp_path: Path, media: Path, settings: Settings, fit: str, top: tuple, middle: tuple) -> None:
    # a 640x240 source on a 320x320 frame: contain letterboxes (320x120), none keeps 640x240 (cropped).
    result = go(tmp_path, media, settings, [[{"type": "video", "src": "blue_wide.mp4", "length": 0.5, "fit": fit}]],
                width=320, height=320)
    size = (320, 320)
    assert close(pixel(result.path, 0.2, 160, 30, size), top)
    assert close(pixel(result.path, 0.2, 160, 160, size), middle)
    if fit == "contain":
        assert close(pixel(result.path, 0.2, 160, 95, size), BLACK)
        assert close(pixel(result.path, 0.2, 160, 105, size), BLUE)


@pytest.mark.parametrize(("position", "offset", "inside", "outside"), [
    ("top_left", {}, (10, 10), (160, 120)),
    ("bottom_right", {}, (310, 230), (160, 120)),
    ("center", {"x": 0.25}, (240, 120), (160, 120)),
    ("top", {"y": 0.1}, (160, 40), (160, 10)),
])
def test_positions_and_offsets(tmp_path: Path, media: Path, settings: Settings, position: str, offset: dict,
                               inside: tuple, outside: tuple) -> None:
    result = go(tmp_path, media, settings, [[{"type": "image", "src": "small_red.png", "length": 0.5,
                                              "fit": "none", "scale": 0.5, "position": position,
                                              "offset": offset}]])
    assert close(pixel(result.path, 0.2, *inside, (320, 240)), RED)
    assert close(pixel(result.path, 0.2, *outside, (320, 240)), BLACK)


def test_png_alpha_stays_transparent(tmp_path: Path, media: Path, settings: Settings) -> None:
    result = go(tmp_path, media, settings, [[{"type": "video", "src": "red.mp4", "length": 0.5}],
                                            [{"type": "image", "src": "alpha.png", "length": 0.5, "fit": "none"}]])
    assert close(pixel(result.path, 0.2, 160, 120, (320, 240)), YELLOW)
    assert close(pixel(result.path, 0.2, 160 - 80, 120, (320, 240)), RED)  # the PNG's clear border


def _white(path: Path, t: float) -> int:
    return int((frame(path, t, (320, 240)).min(axis=2) > 200).sum())


def test_text_shows_only_inside_its_window(tmp_path: Path, media: Path, settings: Settings) -> None:
    result = go(tmp_path, media, settings, [[{"type": "color", "color": "#000000", "length": 3}],
                                            [{"type": "text", "text": "HELLO", "start": 1, "length": 1,
                                              "style": {"size": 200, "bold": True}}]])
    assert _white(result.path, 0.5) == 0
    assert _white(result.path, 1.5) > 500
    assert _white(result.path, 2.5) == 0


def test_text_sizes_scale_with_the_output(tmp_path: Path, media: Path, settings: Settings) -> None:
    text = [[{"type": "text", "text": "HELLO", "length": 0.3, "style": {"size": 200, "bold": True}}]]
    small = go(tmp_path, media, settings, text, "small.mp4")
    big = go(tmp_path, media, settings, text, "big.mp4", width=640, height=480)
    ratio = (frame(big.path, 0.1, (640, 480)).min(axis=2) > 200).sum() / _white(small.path, 0.1)
    assert 3.2 < ratio < 4.8  # twice the size each way


def _red_columns(path: Path, t: float) -> np.ndarray:
    f = frame(path, t, (320, 240)).astype(int)
    red = (f[..., 0] > 180) & (f[..., 1] < 90) & (f[..., 2] < 90)
    return np.nonzero(red.any(axis=0))[0]


def test_karaoke_captions_follow_the_spoken_word(tmp_path: Path, media: Path, settings: Settings) -> None:
    words = [{"text": "AAAA", "start": 0.0, "end": 1.0}, {"text": "BBBB", "start": 1.0, "end": 2.0}]
    result = go(tmp_path, media, settings, [[{"type": "captions", "style": "karaoke", "words": words,
                                              "size": 90, "color": "#0000ff", "highlight_color": "#ff0000",
                                              "stroke_width": 0}]])
    first, second = _red_columns(result.path, 0.5), _red_columns(result.path, 1.5)
    assert first.size and first.max() < 160  # only the left word is lit
    assert second.size and second.max() > 170  # both words lit
    assert result.captions is not None and "AAAA BBBB" in result.captions.read_text()


def test_word_captions_show_one_word_at_a_time(tmp_path: Path, media: Path, settings: Settings) -> None:
    words = [{"text": "I", "start": 0.0, "end": 0.6}, {"text": "WWWWW", "start": 1.3, "end": 1.9}]
    result = go(tmp_path, media, settings, [[{"type": "captions", "style": "word", "words": words, "size": 90,
                                              "stroke_width": 0}]])
    lone, wide = _white(result.path, 0.3), _white(result.path, 1.6)
    assert 0 < lone < wide / 4
    assert _white(result.path, 0.95) == 0  # the pause is longer than the hold: nothing shown
    vtt = result.captions.read_text() if result.captions else ""
    assert "00:00:00.000 --> 00:00:00.600\nI" in vtt


def test_captions_from_srt(tmp_path: Path, media: Path, settings: Settings) -> None:
    result = go(tmp_path, media, settings, [[{"type": "color", "color": "#000000", "length": 3.5}],
                                            [{"type": "captions", "src": "words.srt", "stroke_width": 0}]])
    assert _white(result.path, 0.2) == 0 and _white(result.path, 1.0) > 100 and _white(result.path, 2.5) > 100


def test_fade_transition_is_half_way_at_its_middle(tmp_path: Path, media: Path, settings: Settings) -> None:
    result = go(tmp_path, media, settings, [[{"type": "video", "src": "red.mp4", "length": 2,
                                              "transition": {"in": "fade", "duration": 1}}]])
    mid = pixel(result.path, 0.5, 160, 120, (320, 240))
    assert 90 < mid[0] < 170 and mid[1] < 30
    assert close(pixel(result.path, 1.5, 160, 120, (320, 240)), RED)


def test_slide_transition_moves_the_clip_in(tmp_path: Path, media: Path, settings: Settings) -> None:
    result = go(tmp_path, media, settings, [[{"type": "image", "src": "small_red.png", "length": 2, "fit": "none",
                                              "transition": {"in": "slide_left", "duration": 1}}]])
    assert close(pixel(result.path, 0.0, 160, 120, (320, 240)), BLACK)
    columns = _red_columns(result.path, 0.5)
    assert columns.size and 120 < columns.min() < 200  # still on its way in (rests at x=110; eased)
    assert close(pixel(result.path, 1.5, 160, 120, (320, 240)), RED)


def test_ken_burns_zoom_in_grows_the_picture(tmp_path: Path, media: Path, settings: Settings) -> None:
    from PIL import Image

    picture = Image.new("RGB", (400, 400), (0, 0, 0))
    picture.paste((255, 0, 0), (150, 150, 250, 250))
    picture.save(tmp_path / "square.png")
    result = render(load_spec({"output": {"width": 400, "height": 400, "loudness": None}, "tracks": [{"clips": [
        {"type": "image", "src": str(tmp_path / "square.png"), "length": 2, "effect": "zoom_in"}]}]}),
        tmp_path / "kb.mp4", settings=settings)
    widths = []
    for t in (0.0, 1.0, 1.95):
        f = frame(result.path, t, (400, 400)).astype(int)
        widths.append(int(((f[200, :, 0] > 128) & (f[200, :, 1] < 100)).sum()))
    assert abs(widths[0] - 100) <= 3 and widths[0] < widths[1] < widths[2]
    assert abs(widths[2] - 125) <= 4


def test_trim_and_loop_set_lengths(tmp_path: Path, media: Path, settings: Settings) -> None:
    trimmed = go(tmp_path, media, settings, [[{"type": "video", "src": "red.mp4", "trim": 1}]], "t.mp4")
    assert abs(trimmed.duration - 2.0) < 1e-6
    looped = go(tmp_path, media, settings, [[{"type": "video", "src": "green.mp4", "loop": True, "length": 9}]],
                "l.mp4")
    assert int(facts(looped.path)["video"]["nb_read_frames"]) == 270
    assert close(pixel(looped.path, 8.5, 160, 120, (320, 240)), GREEN)


def test_mix_is_normalised_to_the_target_loudness(tmp_path: Path, media: Path, settings: Settings) -> None:
    for target in (-14, -23):
        result = go(tmp_path, media, settings, [[{"type": "audio", "src": "voice.wav"}]], f"l{target}.mp4",
                    loudness=target, soundtrack={"src": "music.wav", "volume": 0.5})
        assert abs(loudness(result.path) - target) <= 1.0


def test_music_ducks_under_the_voice(tmp_path: Path, media: Path, settings: Settings) -> None:
    result = go(tmp_path, media, settings, [[{"type": "audio", "src": "voice.wav"}]],
                soundtrack={"src": "music.wav", "volume": 0.5, "duck": True})
    assert abs(result.duration - 6.0) < 1e-6  # soundtrack looped to the end (2.5 s source)
    alone = band_rms_db(result.path, 220, 0.3, 1.7)
    ducked = band_rms_db(result.path, 220, 2.6, 3.8)
    after = band_rms_db(result.path, 220, 5.0, 5.8)
    assert ducked < alone - 8, (alone, ducked)
    assert after > ducked + 6


def test_video_sound_is_mixed_unless_muted(tmp_path: Path, media: Path, settings: Settings) -> None:
    loud = go(tmp_path, media, settings, [[{"type": "video", "src": "red.mp4", "length": 1}]], "a.mp4")
    muted = go(tmp_path, media, settings, [[{"type": "video", "src": "red.mp4", "length": 1, "volume": 0}]], "b.mp4")
    assert band_rms_db(loud.path, 440, 0.1, 0.9) > -30
    assert band_rms_db(muted.path, 440, 0.1, 0.9) < -80


@pytest.mark.parametrize(("fmt", "vcodec", "acodec"), [("webm", "vp9", "opus"), ("gif", "gif", None),
                                                        ("mp3", None, "mp3")])
def test_other_formats(tmp_path: Path, media: Path, settings: Settings, fmt: str, vcodec: str | None,
                       acodec: str | None) -> None:
    result = go(tmp_path, media, settings, [[{"type": "video", "src": "red.mp4", "length": 0.5}]],
                f"out.{fmt}", format=fmt)
    info = facts(result.path)
    assert (info["video"] or {}).get("codec_name") == vcodec
    assert (info["audio"] or {}).get("codec_name") == acodec


def test_font_files_are_sources(tmp_path: Path, media: Path, settings: Settings) -> None:
    import shutil

    from framefleet.errors import SpecError

    shutil.copy("/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf", tmp_path / "mono.ttf")
    text = {"type": "text", "text": "iiii", "length": 0.3, "style": {"size": 120, "font": "mono.ttf"}}
    mono = render(load_spec({"output": {"width": 320, "height": 240}, "tracks": [{"clips": [text]}]}),
                  tmp_path / "mono.mp4", settings=settings, base_dir=tmp_path)
    sans = go(tmp_path, media, settings, [[{**text, "style": {"size": 120, "font": "DejaVu Sans"}}]], "sans.mp4")
    # a monospace "iiii" is much wider than a proportional one: the file was really used
    assert _white(mono.path, 0.1) > 1.5 * _white(sans.path, 0.1)
    with pytest.raises(SpecError) as info:
        render(load_spec({"tracks": [{"clips": [{**text, "style": {"font": "missing.ttf"}}]}]}),
               tmp_path / "x.mp4", settings=settings, base_dir=tmp_path)
    assert [str(p) for p in info.value.problems] == ["tracks[0].clips[0].style.font: file not found"]


@pytest.mark.parametrize("width", [640, 1920])  # the picture (1600 px) larger than the frame, then smaller
def test_ken_burns_moves_smoothly(tmp_path: Path, settings: Settings, width: int) -> None:
    """No jitter: an edge of the picture moves outward by an even amount every frame."""
    from PIL import Image

    height = width * 9 // 16
    picture = Image.new("RGB", (1600, 900), (0, 0, 0))
    picture.paste((255, 255, 255), (400, 0, 1600, 900))  # a vertical edge at 25 % of the width
    picture.save(tmp_path / "edge.png")
    result = render(load_spec({"output": {"width": width, "height": height, "loudness": None}, "tracks": [
        {"clips": [{"type": "image", "src": "edge.png", "length": 2, "effect": "zoom_in"}]}]}),
        tmp_path / "kb.mp4", settings=settings, base_dir=tmp_path)
    raw = __import__("subprocess").run(
        ["ffmpeg", "-v", "error", "-i", str(result.path), "-vf", f"crop={width}:40:0:{height // 2 - 20},format=gray",
         "-f", "rawvideo", "-"], capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, 40, width).astype(float).mean(axis=1)
    # sub-pixel edge position: how much of the row left of the centre is dark
    edges = np.array([(255 - f[:width // 2]).sum() / 255 for f in frames])
    steps = np.diff(edges)
    assert len(edges) == 60 and (steps < 0.05 * width / 640).all(), steps  # only ever outward
    # zoom 1 → 1.25 about the centre: the edge at 25 % of the width ends at 50 % - 25 % x 1.25
    assert abs(edges[0] - width / 4) < width / 640 and abs(edges[-1] - width * 0.1875) < width / 640
    # even steps, none ahead or behind: perspective measured 0.14 of the mean step, zoompan on a 4x
    # supersampled picture 0.39, plain zoompan 0.7
    assert steps.std() < 0.25 * abs(steps.mean()), steps.std() / abs(steps.mean())
