"""Shotstack Edit JSON (SPEC §9): converted with Shotstack's semantics, rendered, refused at its paths.

The templates here are written the way Shotstack's reference and its users write them: a title card
over footage, a photo slideshow with a soundtrack, a captioned clip, image outputs.
"""

from __future__ import annotations

import copy
import json
import signal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from framefleet.cli import main
from framefleet.client import Client
from framefleet.compositor.shotstack import convert
from framefleet.compositor.spec import load_spec
from framefleet.config import Settings
from framefleet.errors import SpecError
from tests.mediatools import close, facts, ffmpeg, pixel
from tests.security.clitools import run_cli

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)

#: A promo template: a styled html title on top, a legacy title, footage and a photo, music, merge fields.
PROMO: dict[str, Any] = {
    "timeline": {
        "background": "#101010",
        "fonts": [{"src": "https://cdn.example.com/fonts/Montserrat-Bold.ttf"},
                  {"src": "https://cdn.example.com/fonts/Montserrat-Regular.ttf"}],
        "soundtrack": {"src": "https://cdn.example.com/music.mp3", "effect": "fadeInFadeOut", "volume": 0.5},
        "tracks": [
            {"clips": [{"asset": {"type": "html",
                                  "html": "<p>Hello <span class='name'>{{ NAME }}</span></p>",
                                  "css": "p { color: #ffffff; font-family: 'Montserrat'; font-size: 72px; "
                                         "font-weight: bold; text-align: center; }",
                                  "width": 1280, "height": 200},
                        "start": 0.5, "length": 3, "position": "top",
                        "transition": {"in": "fadeFast", "out": "fadeFast"}}]},
            {"clips": [{"asset": {"type": "title", "text": "Sale ends {{ DATE }}", "style": "minimal",
                                  "size": "small", "color": "#ffd400"},
                        "start": 4, "length": "end", "position": "bottomRight", "offset": {"x": -0.05, "y": 0.1}}]},
            {"clips": [{"asset": {"type": "video", "src": "{{ VIDEO }}", "trim": 2, "volume": 0.8},
                        "start": 0, "length": 4, "fit": "crop", "filter": "boost",
                        "transition": {"out": "carouselLeftSlow"}},
                       {"asset": {"type": "image", "src": "https://cdn.example.com/photo.jpg"},
                        "start": "auto", "length": 3, "fit": "cover", "effect": "slideLeft", "scale": 0.9,
                        "offset": {"x": 0.1, "y": 0.2}, "opacity": 0.8}]},
            {"clips": [{"asset": {"type": "audio", "src": "https://cdn.example.com/whoosh.wav", "effect": "fadeOut"},
                        "start": 3.5, "length": 1}]},
        ],
    },
    "output": {"format": "mp4", "resolution": "hd", "quality": "high", "poster": {"capture": 1}},
    "merge": [{"find": "NAME", "replace": "Ana"}, {"find": "DATE", "replace": "Friday"},
              {"find": "VIDEO", "replace": "https://cdn.example.com/broll.mp4"}],
    "callback": "https://hooks.example.com/shotstack",
}


def test_promo_template_converts_with_shotstacks_meaning() -> None:
    converted = convert(copy.deepcopy(PROMO))
    spec = converted.spec
    assert converted.webhook == "https://hooks.example.com/shotstack"
    # hd is 1280x720 at Shotstack's 25 fps; Shotstack does not normalise loudness
    assert spec["output"] == {"format": "mp4", "width": 1280, "height": 720, "fps": 25.0, "loudness": None,
                              "quality": "high", "thumbnail": {"at": 1.0}, "background": "#101010"}
    assert spec["soundtrack"] == {"src": "https://cdn.example.com/music.mp3", "loop": False, "volume": 0.5,
                                  "fade_in": 1.0, "fade_out": 1.0}
    audio, footage, title, html = (t["clips"] for t in spec["tracks"])  # Shotstack's first track is on top
    assert audio == [{"type": "audio", "start": 3.5, "length": 1.0, "src": "https://cdn.example.com/whoosh.wav",
                      "fade_out": 1.0}]
    assert footage[0] == {"type": "video", "start": 0.0, "length": 4.0, "src": "https://cdn.example.com/broll.mp4",
                          "fit": "cover", "trim": 2.0, "volume": 0.8, "filter": "boost",
                          "transition": {"out": "slide_left", "duration": 2.0}}
    # crop → cover, cover → fill (stretch); offset.y points up; slideLeft moves the picture left
    assert footage[1] == {"type": "image", "length": 3.0, "src": "https://cdn.example.com/photo.jpg",
                          "fit": "fill", "scale": 0.9, "offset": {"x": 0.1, "y": -0.2}, "opacity": 0.8,
                          "effect": "pan_right"}
    # "end": to the end of the timeline (7 s, the photo's end), from 4 s
    assert title == [{"type": "text", "start": 4.0, "length": 3.0, "text": "Sale ends Friday",
                      "style": {"color": "#ffd400", "size": 44}, "position": "bottom_right",
                      "offset": {"x": -0.05, "y": -0.1}}]
    # 72 px at 720p is 108 px at framefleet's 1080 reference; the 1280x200 box at the top centres the text
    # 100 px down: 0.5 - 100/720 above the middle; the family maps to the bold font file
    assert html == [{"type": "text", "start": 0.5, "length": 3.0, "text": "Hello Ana",
                     "style": {"bold": True, "font": "https://cdn.example.com/fonts/Montserrat-Bold.ttf",
                               "color": "#ffffff", "align": "center", "size": 108.0, "max_width": 1.0},
                     "offset": {"x": 0.0, "y": -0.361111}, "transition": {"in": "fade", "out": "fade",
                                                                           "duration": 0.5}}]


@pytest.mark.parametrize(("output", "size"), [
    ({"resolution": "preview"}, (512, 288)), ({"resolution": "mobile"}, (640, 360)), ({}, (1024, 576)),
    ({"resolution": "1080"}, (1920, 1080)), ({"resolution": "4k"}, (3840, 2160)),
    ({"resolution": "hd", "aspectRatio": "9:16"}, (720, 1280)), ({"resolution": "1080", "aspectRatio": "1:1"},
                                                                 (1080, 1080)),
    ({"resolution": "1080", "aspectRatio": "4:5"}, (1080, 1350)), ({"resolution": "hd", "aspectRatio": "4:3"},
                                                                   (960, 720)),
    ({"size": {"width": 600, "height": 400}}, (600, 400)),
])
def test_output_sizes(output: dict[str, Any], size: tuple[int, int]) -> None:
    edit = {"timeline": {"tracks": [{"clips": [{"asset": {"type": "image", "src": "a.png"}, "start": 0,
                                                "length": 1}]}]}, "output": {"format": "mp4", **output}}
    out = convert(edit).spec["output"]
    assert (out["width"], out["height"], out["fps"]) == (*size, 25.0)


def test_other_assets_and_outputs() -> None:
    edit = {"timeline": {"tracks": [
        {"clips": [{"asset": {"type": "caption", "src": "https://x.example/words.srt",
                              "font": {"family": "Roboto", "color": "#ffffff", "size": 24},
                              "background": {"color": "#000000", "opacity": 0.5}}, "start": 0, "length": "auto"}]},
        {"clips": [{"asset": {"type": "text", "text": "Big news",
                              "font": {"family": "Open Sans", "color": "#ff0000", "size": 36, "weight": 700},
                              "stroke": {"color": "#000000", "width": 2}, "alignment": {"horizontal": "left"},
                              "background": {"color": "#ffffff", "opacity": 1, "padding": 10}, "width": 320},
                    "start": 0, "length": 2, "position": "left", "transition": {"in": "zoom"}}]},
        {"clips": [{"asset": {"type": "video", "src": "https://x.example/a.mp4"}, "start": 0, "length": "auto",
                    "fit": "contain", "position": "topLeft", "filter": "greyscale",
                    "transition": {"in": "carouselUpFast", "out": "carouselDownFast"}}]},
    ]}, "output": {"format": "jpg", "resolution": "mobile", "range": {"start": 1.25}}}
    spec = convert(edit).spec
    assert spec["output"]["format"] == "jpg" and spec["output"]["at"] == 1.25
    video, text, captions = (t["clips"][0] for t in spec["tracks"])
    assert video == {"type": "video", "start": 0.0, "src": "https://x.example/a.mp4", "fit": "contain",
                     "position": "top_left", "filter": "greyscale",
                     "transition": {"in": "slide_up", "out": "slide_down", "duration": 0.5}}
    # a 320 px box at the left edge of a 640 px frame: its centre is a quarter in
    assert text == {"type": "text", "start": 0.0, "length": 2.0, "text": "Big news",
                    "style": {"bold": True, "font": "Open Sans", "color": "#ff0000", "size": 108.0,
                              "stroke_color": "#000000", "stroke_width": 6.0, "background": "#ffffffff",
                              "padding": 30.0, "align": "left", "max_width": 0.5},
                    "offset": {"x": -0.25, "y": 0.0}, "transition": {"in": "zoom", "duration": 1.0}}
    assert captions == {"type": "captions", "start": 0.0, "src": "https://x.example/words.srt", "style": "clean",
                        "font": "Roboto", "bold": False, "color": "#ffffff", "size": 72.0,
                        "background": "#00000080"}


def _edit_with(path: str, value: Any) -> dict[str, Any]:
    edit = copy.deepcopy(PROMO)
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    node: Any = edit
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return edit


@pytest.mark.parametrize(("path", "value", "where", "says"), [
    ("timeline.tracks[2].clips[0].transform", {"skew": {"x": 0.2}}, "timeline.tracks[2].clips[0].transform.skew",
     "skewing is not supported"),
    ("timeline.tracks[2].clips[0].transform", {"rotate": {"angle": [{"from": 0, "to": 90}]}},
     "timeline.tracks[2].clips[0].transform.rotate.angle", "keyframed rotation"),
    ("timeline.tracks[2].clips[0].transform", {"rotate": {"angle": 1000}},
     "timeline.tracks[2].clips[0].transform.rotate.angle", "outside -360 to 360"),
    ("timeline.tracks[2].clips[0].asset", {"type": "luma", "src": "https://x.example/m.mp4", "volume": 1},
     "timeline.tracks[2].clips[0].asset.volume", "unknown field"),
    ("timeline.tracks[2].clips[0].asset.type", "shape", "timeline.tracks[2].clips[0].asset.type", "PNG"),
    ("timeline.tracks[2].clips[0].asset.speed", 8, "timeline.tracks[2].clips[0].asset.speed", "outside 0.25 to 4"),
    ("timeline.tracks[2].clips[0].asset.crop", {"top": 1.5}, "timeline.tracks[2].clips[0].asset.crop.top",
     "outside 0 to 0.95"),
    ("timeline.tracks[2].clips[0].asset.crop", {"left": 0.6, "right": 0.6}, "timeline.tracks[2].clips[0].asset.crop",
     "more than 95 %"),
    ("timeline.tracks[2].clips[0].transition", {"in": "shuffleTopRight"},
     "timeline.tracks[2].clips[0].transition.in", "not supported yet: use fade"),
    ("timeline.tracks[2].clips[0].transition", {"in": "fadeSlow", "out": "fade"},
     "timeline.tracks[2].clips[0].transition.out", "different speeds"),
    ("timeline.tracks[2].clips[0].opacity", [{"from": 0, "to": 1, "start": 0, "length": 1, "easing": "easeInBack"}],
     "timeline.tracks[2].clips[0].opacity[0].easing", "unknown value 'easeInBack'"),
    ("timeline.tracks[2].clips[0].opacity", [{"from": 0, "to": 2, "length": 1}],
     "timeline.tracks[2].clips[0].opacity[0].to", "outside 0 to 1"),
    ("timeline.tracks[2].clips[0].scale", [{"from": 0, "to": 2}], "timeline.tracks[2].clips[0].scale[0].length",
     "required"),
    ("timeline.tracks[0].clips[0].offset", {"x": [{"from": 0, "to": 0.1, "length": 1}]},
     "timeline.tracks[0].clips[0].offset.x", "text box"),
    ("timeline.tracks[2].clips[0].effect", "zoomInSlow", "timeline.tracks[2].clips[0].effect", "one speed"),
    ("timeline.tracks[2].clips[0].sparkle", True, "timeline.tracks[2].clips[0].sparkle", "unknown field"),
    ("timeline.tracks[2].clips[0].fit", "squash", "timeline.tracks[2].clips[0].fit", "unknown value"),
    ("timeline.tracks[2].clips[0].length", "auto", "timeline.tracks[1].clips[0].length", "\"end\" needs"),
    ("timeline.tracks[2].clips[1].length", "auto", "timeline.tracks[2].clips[1].length", "give this image"),
    ("timeline.tracks[0].clips[0].asset.html", "<h1>Hi</h1>", "timeline.tracks[0].clips[0].asset.html",
     "<h1> is not supported"),
    ("timeline.tracks[0].clips[0].asset.css", "p { margin: 4px; }", "timeline.tracks[0].clips[0].asset.css",
     "'margin' is not supported"),
    ("timeline.tracks[0].clips[0].asset.html", "<p>Hi <span style='color: red'>you</span></p>",
     "timeline.tracks[0].clips[0].asset.html", "one style"),
    ("timeline.tracks[1].clips[0].asset.text", "Hi {{ MISSING }}", "timeline.tracks[1].clips[0].asset.text",
     "no merge value for placeholder {{MISSING}}"),
    ("merge[0]", {"find": "NAME"}, "merge[0].replace", "must be a string"),
    ("output.scaleTo", "8k", "output.scaleTo", "unknown value '8k'"),
    ("output.mute", "yes", "output.mute", "must be true or false"),
    ("output.range", {"start": 1, "length": 0}, "output.range.length", "more than 0"),
    ("output.range", {"start": -1}, "output.range.start", "out of range"),
    ("output.range", {"start": 1, "end": 2}, "output.range.end", "unknown field"),
    ("output.format", "bmp", "output.format", "unknown value 'bmp'"),
    ("output.thumbnail", {"capture": 2}, "output.thumbnail", "one still"),
    ("disk", "mount", "disk", "render disk"),
])
def test_fields_without_a_counterpart_are_refused_at_their_edit_path(path: str, value: Any, where: str,
                                                                     says: str) -> None:
    with pytest.raises(SpecError) as caught:
        convert(_edit_with(path, value))
    assert any(p.path == where and says in p.message for p in caught.value.problems), caught.value.problems


def test_null_fields_are_absent_and_every_problem_comes_at_once() -> None:
    edit = _edit_with("timeline.tracks[2].clips[0].transform", None)  # SDKs write null for unset fields
    edit["timeline"]["tracks"][3]["clips"][0]["asset"]["speed"] = 10  # Shotstack's most; framefleet's is 4
    edit["output"]["destinations"] = [{"provider": "s3"}]
    with pytest.raises(SpecError) as caught:
        convert(edit)
    assert [p.path for p in caught.value.problems] == ["output.destinations",
                                                       "timeline.tracks[3].clips[0].asset.speed"]


@pytest.fixture(scope="module")
def stripes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """640x240: red, then green, then blue columns (160, 320, 160 px), 2 s: stretching and cropping it
    into a 4:3 frame show different colours at the left edge."""
    folder = tmp_path_factory.mktemp("stripes")
    sources = [arg for color, width in (("red", 160), ("lime", 320), ("blue", 160))
               for arg in ("-f", "lavfi", "-i", f"color=c={color}:s={width}x240:r=30:d=2")]
    ffmpeg(*sources, "-filter_complex", "[0][1][2]hstack=inputs=3", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(folder / "stripes.mp4"))
    return folder


def _layers_edit(media: Path, stripes: Path, **output: Any) -> dict[str, Any]:
    return {"timeline": {"tracks": [
        # the top layer: a 100x100 red square moved up by a quarter of the frame (Shotstack's y points up)
        {"clips": [{"asset": {"type": "image", "src": str(media / "small_red.png")}, "start": 0, "length": 2,
                    "fit": "none", "offset": {"x": 0, "y": 0.25}}]},
        # under it: the stripes stretched (Shotstack's cover), then cropped (its crop)
        {"clips": [{"asset": {"type": "video", "src": "{{ STRIPES }}"}, "start": 0, "length": 1, "fit": "cover"},
                   {"asset": {"type": "video", "src": "{{ STRIPES }}"}, "start": "auto", "length": "end",
                    "fit": "crop", "filter": "negative"}]},
    ]}, "output": {"format": "mp4", "size": {"width": 320, "height": 240}, **output},
        "merge": [{"find": "STRIPES", "replace": str(stripes / "stripes.mp4")}]}


def test_rendered_edit_keeps_shotstacks_layers_offsets_fits_and_fps(
        tmp_path: Path, media: Path, stripes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps(_layers_edit(media, stripes)))
    code, text = run_cli(capsys, "render", str(edit), "-o", str(tmp_path / "out.mp4"), "-q")
    assert code == 0, text
    out, size = tmp_path / "out.mp4", (320, 240)
    video = facts(out)["video"]
    assert (video["r_frame_rate"], int(video["nb_read_frames"])) == ("25/1", 50)  # Shotstack's default 25 fps
    assert close(pixel(out, 0.5, 160, 60, size), RED)  # the first track is on top, its square 60 px up
    assert close(pixel(out, 0.5, 160, 130, size), GREEN)  # below the square: the stripes' middle
    assert close(pixel(out, 0.5, 10, 200, size), RED)  # cover stretches: the red quarter at the left
    # crop fills and crops: the left edge shows green, negated to magenta
    assert close(pixel(out, 1.5, 10, 200, size), (255, 0, 255))


def test_image_output_from_an_edit(tmp_path: Path, media: Path, stripes: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps(_layers_edit(media, stripes, format="png", range={"start": 1.5})))
    code, text = run_cli(capsys, "render", str(edit), "-o", str(tmp_path / "still.png"), "-q")
    assert code == 0, text
    summary = json.loads(text.strip().splitlines()[-1])
    assert (summary["content_type"], summary["width"], summary["height"]) == ("image/png", 320, 240)
    image = facts(tmp_path / "still.png")["video"]
    assert (image["codec_name"], image["width"], image["height"]) == ("png", 320, 240)
    assert close(pixel(tmp_path / "still.png", 0, 10, 200, (320, 240)), (255, 0, 255))  # the frame at 1.5 s


def test_a_range_of_an_edit_renders_that_part_and_is_checked_at_its_path(
        tmp_path: Path, media: Path, stripes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps(_layers_edit(media, stripes, range={"start": 1.2, "length": 0.4})))
    code, text = run_cli(capsys, "render", str(edit), "-o", str(tmp_path / "part.mp4"), "-q")
    assert code == 0, text
    out, size = tmp_path / "part.mp4", (320, 240)
    assert int(facts(out)["video"]["nb_read_frames"]) == 10  # 0.4 s at 25 fps
    assert close(pixel(out, 0, 10, 200, size), (255, 0, 255))  # the timeline's 1.2 s: the negated crop
    assert close(pixel(out, 0, 160, 60, size), RED)  # the square, still on top
    edit.write_text(json.dumps(_layers_edit(media, stripes, range={"start": 1.5, "length": 1})))
    code, text = run_cli(capsys, "render", str(edit), "-o", str(tmp_path / "late.mp4"), "-q")
    assert code == 2
    assert "output.range.length: the range ends at 2.5 s, past the end of the timeline (2.000 s)" in text
    assert str(tmp_path) not in text


def test_validate_and_render_report_spec_problems_at_the_edits_paths(
        tmp_path: Path, media: Path, stripes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = _layers_edit(media, stripes)
    raw["timeline"]["tracks"][0]["clips"][0]["asset"]["src"] = str(tmp_path / "missing.png")
    raw["timeline"]["tracks"][1]["clips"][0]["scale"] = 50
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps(raw))
    code, text = run_cli(capsys, "validate", str(edit))
    assert code == 2
    assert "error: timeline.tracks[1].clips[0].scale:" in text
    raw["timeline"]["tracks"][1]["clips"][0]["scale"] = 1
    edit.write_text(json.dumps(raw))
    code, text = run_cli(capsys, "validate", str(edit))
    assert code == 2
    assert "error: timeline.tracks[0].clips[0].asset.src: file not found" in text
    assert str(tmp_path) not in text


def test_convert_prints_the_native_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit = tmp_path / "promo.json"
    edit.write_text(json.dumps(PROMO))
    handler = signal.getsignal(signal.SIGTERM)  # main() turns SIGTERM into an interrupt for its run
    try:
        assert main(["convert", str(edit)]) == 0
    finally:
        signal.signal(signal.SIGTERM, handler)
    out = capsys.readouterr()
    printed = json.loads(out.out)  # the spec alone on stdout; the callback is not part of it
    assert printed == convert(copy.deepcopy(PROMO)).spec
    assert "callback: use --webhook https://hooks.example.com/shotstack" in out.err
    native = tmp_path / "native.json"
    native.write_text(json.dumps(printed))
    code, text = run_cli(capsys, "convert", str(native))
    assert (code, text.strip()) == (2, "error: not a Shotstack edit: it has no top-level timeline")


def test_client_submits_an_edit_with_its_callback_as_webhook(tmp_path: Path, media: Path, stripes: Path) -> None:
    settings = Settings.from_env({"FRAMEFLEET_BROKER_URL": "memory://", "FRAMEFLEET_LOCAL_ROOT": "/",
                                  "FRAMEFLEET_STORAGE_URL": f"file://{tmp_path}/results",
                                  "FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache"),
                                  "FRAMEFLEET_ALLOW_PRIVATE_URLS": "true"})
    edit = _layers_edit(media, stripes, format="jpg")
    edit["callback"] = "http://127.0.0.1:9/hook"
    with Client(settings) as client:
        job = client.submit(edit)
        done = client.wait(job["id"], timeout=120)
        stored = client.rt.store.get(job["id"])
    assert done["status"] == "completed", done
    assert done["result"]["content_type"] == "image/jpeg"
    assert stored is not None and stored.webhook_url == "http://127.0.0.1:9/hook"
    assert stored.payload["spec"]["output"]["fps"] == 25.0
    with Client(settings) as client, pytest.raises(SpecError) as caught:
        client.submit(_edit_with("output.scaleTo", "8k"))
    assert [p.path for p in caught.value.problems] == ["output.scaleTo"]


def test_native_effects_map_with_shotstacks_meaning() -> None:
    edit = {"timeline": {"tracks": [
        {"clips": [{"asset": {"type": "title", "text": "Hi"}, "start": 0, "length": 2,
                    "transition": {"in": "slideLeftFast", "out": "wipeRightFast"},
                    "transform": {"rotate": {"angle": -15}, "flip": {"horizontal": True, "vertical": False}}}]},
        {"clips": [{"asset": {"type": "video", "src": "https://x.example/a.mp4", "speed": 2, "volume": 0.5,
                              "crop": {"left": 0.1, "right": 0.1, "top": 0}},
                    "start": 0, "length": 2, "transition": {"in": "reveal", "out": "wipeLeft"}},
                   {"asset": {"type": "audio", "src": "https://x.example/v.mp3", "speed": 0.5}, "start": 0,
                    "length": 2}]},
    ], "soundtrack": {"src": "https://x.example/m.mp3"}},
        "output": {"format": "mp4", "resolution": "1080", "scaleTo": "preview", "mute": True,
                   "thumbnail": {"capture": 1, "scale": 0.5}}}
    spec = convert(edit).spec
    # scaleTo renders 1920x1080 at preview's 288 px short side (512x288); the thumbnail keeps its half
    assert (spec["output"]["width"], spec["output"]["height"]) == (512, 288)
    assert spec["output"]["thumbnail"] == {"at": 1.0, "width": 256}
    # mute: every clip silent and no soundtrack, so the mp4 still has a (silent) sound track
    assert "soundtrack" not in spec
    footage, title = (t["clips"] for t in spec["tracks"])
    assert footage == [{"type": "video", "start": 0.0, "length": 2.0, "src": "https://x.example/a.mp4",
                        "fit": "cover", "volume": 0.0, "speed": 2.0, "crop": {"left": 0.1, "right": 0.1},
                        "transition": {"in": "reveal", "out": "wipe_left", "duration": 1.0}},
                       {"type": "audio", "start": 0.0, "length": 2.0, "src": "https://x.example/v.mp3",
                        "speed": 0.5, "volume": 0.0}]
    # slideLeft moves a little way while it fades (drift); rotate keeps its sign (clockwise)
    assert title[0]["transition"] == {"in": "drift_left", "out": "wipe_right", "duration": 0.5}
    assert title[0]["transform"] == {"rotate": -15.0, "flip": "horizontal"}
    with pytest.raises(SpecError) as caught:
        convert({**edit, "output": {"format": "mp3", "mute": True}})
    assert [(p.path, p.message) for p in caught.value.problems] == [("output.mute",
                                                                    "an mp3 is sound only: remove mute")]


def test_rendered_edit_with_reveal_speed_crop_and_mute(tmp_path: Path, stripes: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # the stripes (red | green | blue, 2 s) at double speed with their left quarter cropped away, revealed
    # from the left over 0.5 s; the 320x240 edit rendered at mobile's 360 px short side (480x360)
    edit = {"timeline": {"tracks": [
        {"clips": [{"asset": {"type": "video", "src": str(stripes / "stripes.mp4"), "speed": 2,
                              "crop": {"left": 0.25}}, "start": 0, "length": "auto", "fit": "cover",
                    "transition": {"in": "revealFast"}}]}]},
        "output": {"format": "mp4", "size": {"width": 320, "height": 240}, "scaleTo": "mobile", "mute": True}}
    path = tmp_path / "edit.json"
    path.write_text(json.dumps(edit))
    code, text = run_cli(capsys, "render", str(path), "-o", str(tmp_path / "out.mp4"), "-q")
    assert code == 0, text
    out, size = tmp_path / "out.mp4", (480, 360)
    info = facts(out)
    assert (info["video"]["width"], info["video"]["height"]) == size
    assert int(info["video"]["nb_read_frames"]) == 25  # 2 s of source at 2x: 1 s at 25 fps
    assert info["audio"] is not None  # muted: silent, not absent
    # the crop leaves green (320 px) then blue (160 px) of 480 px; cover crops that 480x240 to 4:3 (320 px
    # wide, from x = 80): green over the left three quarters, blue at the right
    assert close(pixel(out, 0.2, 40, 180, size), GREEN)
    assert close(pixel(out, 0.2, 400, 180, size), (0, 0, 0))  # not yet revealed: the background
    assert close(pixel(out, 0.8, 400, 180, size), BLUE)


def test_tweens_become_keyframes_with_offset_y_flipped_and_easings_renamed() -> None:
    edit = _edit_with("timeline.tracks[2].clips[0].opacity", [
        {"from": 0, "to": 1, "start": 0, "length": 1, "interpolation": "bezier", "easing": "easeOutQuad"}])
    clip = edit["timeline"]["tracks"][2]["clips"][0]
    clip["scale"] = [{"from": 1, "to": 1.5, "start": 1, "length": 2, "interpolation": "linear"}]
    clip["offset"] = {"x": 0.1, "y": [{"from": 0.2, "to": 0, "length": 0.5, "interpolation": "constant"}]}
    clip.pop("transform", None)
    converted = convert(edit)
    where = {edit_path: native_path for native_path, edit_path in converted.clips.items()}
    t, c = (int(n) for n in where["timeline.tracks[2].clips[0]"].replace("]", "[").split("[")[1::2])
    native = converted.spec["tracks"][t]["clips"][c]
    assert native["opacity"] == [{"from": 0.0, "to": 1.0, "start": 0.0, "length": 1.0, "interpolation": "bezier",
                                  "easing": "ease_out_quad"}]
    assert native["scale"] == [{"from": 1.0, "to": 1.5, "start": 1.0, "length": 2.0, "interpolation": "linear"}]
    assert native["offset"] == {"x": 0.1, "y": [{"from": -0.2, "to": 0.0, "start": 0.0, "length": 0.5,
                                                 "interpolation": "constant"}]}
    load_spec(converted.spec)  # the native spec is valid as it is


def test_a_luma_asset_masks_the_clip_beside_it_in_its_track(tmp_path: Path, stripes: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # Shotstack's luma: in the same track as the footage it masks, white shows it, black hides it
    matte = Image.new("RGB", (320, 240), (0, 0, 0))
    matte.paste((255, 255, 255), (0, 0, 160, 240))
    matte.save(tmp_path / "matte.png")
    edit = {"timeline": {"background": "#0000ff", "tracks": [{"clips": [
        {"asset": {"type": "video", "src": str(stripes / "stripes.mp4")}, "start": 0, "length": 1, "fit": "crop"},
        {"asset": {"type": "luma", "src": str(tmp_path / "matte.png"), "trim": 0}, "start": 0, "length": 1}]}]},
        "output": {"format": "mp4", "size": {"width": 320, "height": 240}}}
    _, luma = convert(edit).spec["tracks"][0]["clips"]
    assert luma == {"type": "luma", "start": 0.0, "length": 1.0, "src": str(tmp_path / "matte.png"), "trim": 0.0}
    path = tmp_path / "edit.json"
    path.write_text(json.dumps(edit))
    code, text = run_cli(capsys, "render", str(path), "-o", str(tmp_path / "out.mp4"), "-q")
    assert code == 0, text
    out, size = tmp_path / "out.mp4", (320, 240)
    assert close(pixel(out, 0.5, 80, 120, size), GREEN)  # the white half: the footage (its middle, cropped)
    assert close(pixel(out, 0.5, 240, 120, size), BLUE)  # the black half: the background
