"""Hostile specs (issue 8, item 4; trims and loops of item 3): each ends as bad input at its JSON path —
exit 2 on the CLI, ``bad_input`` from the client and the queue's loader — never a traceback, never a
file left behind. The CLI runs in-process through ``main(argv)``, the way the fuzz test drives it."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from framefleet.compositor import plan, probe
from framefleet.compositor.spec import load_spec
from framefleet.config import Limits, Settings
from framefleet.errors import SpecError
from tests.security.clitools import assert_no_crash, run_cli

Cli = Callable[..., tuple[int, str]]


@pytest.fixture()
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """``framefleet ARGS`` in this process: (exit code, stdout + stderr)."""
    monkeypatch.setenv("FRAMEFLEET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FRAMEFLEET_STORAGE_URL", f"file://{tmp_path / 'store'}")

    return lambda *argv: run_cli(capsys, *argv)


def small(*clips: dict[str, Any], **output: Any) -> dict[str, Any]:
    return {"output": {"width": 320, "height": 240, **output}, "tracks": [{"clips": list(clips)}]}


def write_text(folder: Path, text: str, name: str = "spec.json") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_refused(cli: Cli, spec: Path, out: Path, needle: str, verbs: tuple[str, ...] = ("validate", "render")
                   ) -> None:
    """Every verb exits 2 naming the problem; nothing is written beside the output."""
    before = set(out.parent.iterdir())
    for verb in verbs:
        argv = [verb, str(spec)] + (["-q", "-o", str(out)] if verb == "render" else [])
        code, text = cli(*argv)
        assert_no_crash(code, text)
        assert code == 2, (verb, text)
        assert needle in text, (verb, text)
    assert set(out.parent.iterdir()) == before  # no output, no .part, no thumbnail


# --- numbers that are not finite, or not numbers Python will parse ----------------------------------------

GRADIENT = '{"type": "color", "gradient": {"from": "red", "to": "blue", "angle": %s}, "length": 1}'


@pytest.mark.parametrize(("text", "needle"), [
    ('{"output": {"width": 320, "height": 240}, "tracks": [{"clips": [%s]}]}' % (GRADIENT % "1e999"),
     "tracks[0].clips[0].gradient.angle: 1e999 is not a finite number"),
    ('{"output": {"width": 320, "height": 240}, "tracks": [{"clips": [%s]}]}' % (GRADIENT % "-Infinity"),
     "tracks[0].clips[0].gradient.angle: -Infinity is not a finite number"),
    ('{"output": {"width": 320, "height": 240, "thumbnail": {"at": 1e999}}, '
     '"tracks": [{"clips": [{"type": "color", "color": "red", "length": 1}]}]}',
     "output.thumbnail.at: 1e999 is not a finite number"),
    ('{"output": {"width": 320, "height": 240, "thumbnail": {"at": NaN}}, '
     '"tracks": [{"clips": [{"type": "color", "color": "red", "length": 1}]}]}',
     "output.thumbnail.at: NaN is not a finite number"),
    ('{"output": {"width": 320, "height": 240}, "tracks": [{"clips": [{"type": "color", "color": "red", '
     '"length": 1, "offset": {"x": %s}}]}]}' % ("9" * 5000),
     "tracks[0].clips[0].offset.x: 99999999999999999999…9999999999 is a number of more than 30 digits"),
])
def test_numbers_that_are_not_finite_are_refused_at_their_path(cli: Cli, tmp_path: Path, text: str,
                                                              needle: str) -> None:
    (tmp_path / "out").mkdir()
    assert_refused(cli, write_text(tmp_path, text), tmp_path / "out" / "o.mp4", needle)


def test_the_queue_loader_refuses_python_infinities_at_their_path() -> None:
    raw = small({"type": "color", "gradient": {"from": "red", "to": "blue", "angle": float("inf")}, "length": 1})
    with pytest.raises(SpecError) as info:
        load_spec(raw)
    assert [str(p) for p in info.value.problems] == ["tracks[0].clips[0].gradient.angle: inf is not a finite number"]


# --- text that is not valid Unicode -----------------------------------------------------------------------


@pytest.mark.parametrize(("clip", "needle"), [
    ({"type": "video", "src": "\\udc80.mp4", "length": 1}, "tracks[0].clips[0].src: has a lone surrogate"),
    ({"type": "video", "src": "https://example.com/\\udc80.mp4", "length": 1},
     "tracks[0].clips[0].src: has a lone surrogate"),
    ({"type": "text", "text": "hi", "length": 1, "style": {"font": "\\udc80.ttf"}},
     "tracks[0].clips[0].style.font: has a lone surrogate"),
    ({"type": "captions", "words": [{"text": "hi", "start": 0, "end": 1}], "font": "\\udc80.ttf"},
     "tracks[0].clips[0].font: has a lone surrogate"),
])
def test_lone_surrogates_are_refused_at_their_path(cli: Cli, media: Path, tmp_path: Path, clip: dict[str, Any],
                                                  needle: str) -> None:
    # the files such a name stands for exist: '\udc80' is byte 0x80 to the file system
    shutil.copy(media / "red.mp4", os.fsdecode(os.fsencode(tmp_path) + b"/\x80.mp4"))
    shutil.copy("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", os.fsdecode(os.fsencode(tmp_path) + b"/\x80.ttf"))
    (tmp_path / "out").mkdir()
    text = json.dumps(small(clip)).replace("\\\\udc80", "\\udc80")  # the escape as a hostile file writes it
    assert_refused(cli, write_text(tmp_path, text), tmp_path / "out" / "o.mp4", needle)


def test_a_spec_that_is_not_utf8_is_refused(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_bytes(b'{"tracks": "\xff"}')
    (tmp_path / "out").mkdir()
    assert_refused(cli, spec, tmp_path / "out" / "o.mp4", "not UTF-8 text")


# --- size and depth ------------------------------------------------------------------------------------------


def deep(levels: int) -> Any:
    node: Any = []
    for _ in range(levels):
        node = [node]
    return node


def test_json_nested_100000_deep_is_refused_by_render_validate_and_submit(cli: Cli, tmp_path: Path) -> None:
    spec = write_text(tmp_path, '{"tracks": ' + "[" * 100_000 + "]" * 100_000 + "}")
    (tmp_path / "out").mkdir()
    assert_refused(cli, spec, tmp_path / "out" / "o.mp4", "nested more than 32 levels deep",
                   verbs=("validate", "render", "submit"))


def test_deep_documents_are_refused_by_the_client_and_the_queue_loader(tmp_path: Path) -> None:
    from framefleet.client import Client

    with pytest.raises(SpecError, match="nested more than 32 levels deep"):
        load_spec({"tracks": deep(100_000)})
    settings = Settings.from_env({"FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache"),
                                  "FRAMEFLEET_STORAGE_URL": f"file://{tmp_path / 'store'}"})
    with Client(settings) as client:
        for kind in ("render", "image_from_text"):
            with pytest.raises(SpecError, match="nested more than 32 levels deep"):
                client.submit({"tracks": deep(100_000)}, type=kind)
        assert client.usage()["jobs"] == 0  # nothing was stored or queued


def test_a_spec_over_the_size_limit_is_refused_before_it_is_parsed(cli: Cli, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEFLEET_MAX_SPEC_BYTES", "1000")
    spec = write_text(tmp_path, json.dumps(small({"type": "text", "text": "x" * 2000, "length": 1})))
    (tmp_path / "out").mkdir()
    assert_refused(cli, spec, tmp_path / "out" / "o.mp4", "over the limit of 1000 bytes")


def test_merge_values_cannot_multiply_the_spec(tmp_path: Path) -> None:
    clip = {"type": "text", "text": "{{big}}{{big}}", "length": 1}
    raw = {**small(*[clip] * 20), "merge": {"big": "x" * 1000}}
    with pytest.raises(SpecError) as info:
        load_spec(raw, limits=Limits(max_spec_bytes=30_000))
    assert any("merge values add more than 30000 characters" in p.message for p in info.value.problems)


# --- outputs -------------------------------------------------------------------------------------------------


def test_mp3_without_sound_is_refused(cli: Cli, media: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    needle = "output.format: mp3 is sound only"
    colour = write_text(tmp_path, json.dumps(small({"type": "color", "color": "red", "length": 1}, format="mp3")))
    assert_refused(cli, colour, tmp_path / "out" / "o.mp3", needle)
    silent = write_text(media, json.dumps(small({"type": "video", "src": "green.mp4", "length": 1}, format="mp3")),
                        f"mp3_{tmp_path.name}.json")
    assert_refused(cli, silent, tmp_path / "out" / "o.mp3", needle, verbs=("render",))


def test_an_output_named_with_a_pattern_is_written_as_named(cli: Cli, media: Path, tmp_path: Path) -> None:
    spec = write_text(media, json.dumps(small({"type": "video", "src": "red.mp4", "length": 1},
                                              thumbnail={"at": 0.5})), f"pct_{tmp_path.name}.json")
    out = tmp_path / "out"
    out.mkdir()
    code, text = cli("render", str(spec), "-q", "-o", str(out / "o%d.mp4"))
    assert code == 0, text
    assert sorted(p.name for p in out.iterdir()) == ["o%d.jpg", "o%d.mp4"]
    assert (out / "o%d.jpg").read_bytes()[:2] == b"\xff\xd8"  # the thumbnail is a JPEG...
    assert (out / "o%d.mp4").read_bytes()[4:8] == b"ftyp"  # ...and the video an MP4


@pytest.mark.parametrize("name", ["x.jpg", "x.vtt", "x.mov", "x"])
def test_an_output_suffix_other_than_the_formats_is_refused(cli: Cli, media: Path, tmp_path: Path,
                                                           name: str) -> None:
    spec = write_text(media, json.dumps(small({"type": "video", "src": "red.mp4", "length": 1},
                                              thumbnail={"at": 0.5})), f"sfx_{tmp_path.name}.json")
    (tmp_path / "out").mkdir()
    assert_refused(cli, spec, tmp_path / "out" / name, f"-o {tmp_path / 'out' / name}: the output's name must end "
                   "in .mp4", verbs=("render",))


# --- trims and loops -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "needle"), [
    ({**small({"type": "video", "src": "red.mp4", "length": 1}),
      "soundtrack": {"src": "music.wav", "trim": 1e6, "loop": False}},
     "soundtrack.trim: 1e+06 s is at or past the end of the source (2.500 s)"),
    (small({"type": "audio", "src": "voice.wav", "trim": 1e6}, {"type": "color", "color": "red", "length": 1}),
     "tracks[0].clips[0].trim: 1e+06 s is at or past the end of the source (6.000 s)"),
    (small({"type": "video", "src": "red.mp4", "trim": 3, "length": 1}),
     "tracks[0].clips[0].trim: 3 s is at or past the end of the source (3.000 s)"),
    # one remote source: the timeline is not planned, the local trim is still checked
    (small({"type": "video", "src": "red.mp4", "trim": 50, "length": 1},
           {"type": "video", "src": "https://example.com/a.mp4", "length": 1}),
     "tracks[0].clips[0].trim: 50 s is at or past the end of the source (3.000 s)"),
])
def test_a_trim_past_the_end_of_its_source_is_refused(cli: Cli, media: Path, tmp_path: Path,
                                                      raw: dict[str, Any], needle: str) -> None:
    spec = write_text(media, json.dumps(raw), f"trim_{tmp_path.name}.json")
    (tmp_path / "out").mkdir()
    assert_refused(cli, spec, tmp_path / "out" / "o.mp4", needle, verbs=("validate",))
    if "example.com" not in spec.read_text():
        assert_refused(cli, spec, tmp_path / "out" / "o.mp4", needle, verbs=("render",))


def test_a_looping_trim_wraps_around_its_source(media: Path, settings: Settings) -> None:
    """A loop's trim past the end starts where the loop would be by then: its cost is independent of size."""
    spec = load_spec({**small({"type": "video", "src": "red.mp4", "loop": True, "trim": 1e9 + 0.5, "length": 1}),
                      "soundtrack": {"src": "music.wav", "trim": 1e6 + 1}})
    files = {"red.mp4": media / "red.mp4", "music.wav": media / "music.wav"}
    infos = {src: probe.probe(path, name=src) for src, path in files.items()}
    timeline = plan.build_plan(spec, media=infos, files=files)
    (video,) = timeline.visuals
    assert video.clip.trim == pytest.approx((1e9 + 0.5) % infos["red.mp4"].duration)  # type: ignore[union-attr]
    trims = {a.path: a.trim for a in timeline.audio}
    assert trims["tracks[0].clips[0].src"] == pytest.approx(video.clip.trim)  # type: ignore[union-attr]
    assert trims["soundtrack"] == pytest.approx((1e6 + 1) % 2.5)


def test_a_looping_video_with_a_huge_trim_renders_at_once(cli: Cli, media: Path, tmp_path: Path) -> None:
    """Its sound was opened a trillion seconds in, looping: ffmpeg read the file round and round."""
    spec = write_text(media, json.dumps(small({"type": "video", "src": "red.mp4", "loop": True, "trim": 1e12 + 1,
                                               "length": 1})), f"loop_{tmp_path.name}.json")
    code, text = cli("render", str(spec), "-q", "--timeout", "30", "-o", str(tmp_path / "o.mp4"))
    assert code == 0, text
    assert json.loads(text.splitlines()[-1])["duration"] == 1.0
