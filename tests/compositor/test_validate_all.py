"""Every error at once (issue 10, item 4): schema problems and source problems in one run, each at its
JSON path, from ``validate``, ``render`` and the render's own fetch stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from framefleet.assets.fetch import Fetcher
from framefleet.compositor.prepare import fetch_all
from framefleet.compositor.spec import load_spec
from framefleet.compositor.validate import load_checked, validate_local
from framefleet.config import Settings
from framefleet.errors import SpecError
from tests.test_cli import cli

FOUR = [
    {"type": "video", "src": "nope.mp4"},                            # missing
    {"type": "color", "color": "#000000", "length": -2},             # negative length
    {"type": "video", "src": "corrupt.mp4"},                         # undecodable
    {"type": "image", "src": "http://10.0.0.7/photo.jpg", "length": 1},  # private address
]


def spec(*clips: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"output": {"width": 320, "height": 240}, "tracks": [{"clips": list(clips)}], **extra}


def problems(exc: pytest.ExceptionInfo[SpecError]) -> dict[str, str]:
    return {p.path: p.message for p in exc.value.problems}


def test_validate_reports_schema_and_source_errors_together_with_exit_2(media: Path, tmp_path: Path) -> None:
    path = media / f"four_{tmp_path.name}.json"
    path.write_text(json.dumps(spec(*FOUR)))
    out = tmp_path / "out.mp4"
    for verb in (["validate", str(path)], ["render", str(path), "-o", str(out)]):
        done = cli(*verb)
        assert done.returncode == 2, (verb, done.stderr)
        lines = done.stderr.splitlines()
        assert "error: tracks[0].clips[0].src: file not found" in lines
        assert any(line.startswith("error: tracks[0].clips[1].length: ") for line in lines), lines
        assert "error: tracks[0].clips[2].src: corrupt.mp4 cannot be decoded" in lines
        assert any(line.startswith("error: tracks[0].clips[3].src: host '10.0.0.7' resolves to a private")
                   for line in lines), lines
        assert "Traceback" not in done.stderr and str(media) not in done.stderr
    assert not out.exists()


def test_sources_of_an_invalid_clip_are_still_checked(media: Path, settings: Settings) -> None:
    # the clip itself is invalid (negative trim, unknown field), its src is still looked at; a missing
    # font file and soundtrack too; a src that is not even a source is left to the schema's message
    raw = spec({"type": "video", "src": "nope.mp4", "trim": -1, "colour": "red"},
               {"type": "text", "text": "hi", "length": 1, "style": {"font": "gone.ttf", "size": -3}},
               {"type": "audio", "src": "ftp://example.com/a.mp3"},
               soundtrack={"src": "red.mp4", "volume": 99})
    with pytest.raises(SpecError) as exc:
        validate_local(raw, settings=settings, base_dir=media)
    found = problems(exc)
    assert found["tracks[0].clips[0].src"] == "file not found"
    assert found["tracks[0].clips[0].trim"].startswith("Input should be greater than or equal to 0")
    assert found["tracks[0].clips[0].colour"] == "unknown field"
    assert found["tracks[0].clips[1].style.font"] == "file not found"
    assert "tracks[0].clips[1].style.size" in found
    assert found["tracks[0].clips[2].src"].startswith("unsupported source scheme 'ftp'")
    assert "soundtrack.volume" in found and "soundtrack.src" not in found  # red.mp4 is fine


@pytest.mark.parametrize(("src", "needle"), [
    ("http://127.0.0.1:8000/a.mp4", "private or reserved"),
    ("https://[::1]/a.mp4", "private or reserved"),
    ("http://localhost/a.mp4", "private or reserved"),
    ("http://metadata.google.internal/a.mp4", "is not allowed"),
    ("https://example.com:99999/a.mp4", "port is not valid"),
    ("s3://results/other-tenant/a.mp4", "not open to your jobs"),
])
def test_refused_urls_are_named_without_downloading(media: Path, tmp_path: Path, src: str, needle: str) -> None:
    settings = Settings.from_env({"FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache"),
                                  "FRAMEFLEET_S3_SOURCES": "s3://media/{tenant}/"})
    with pytest.raises(SpecError) as exc:
        validate_local(spec({"type": "video", "src": src}, {"type": "color", "color": "#000", "length": 0}),
                       settings=settings, base_dir=media)
    found = problems(exc)
    assert needle in found["tracks[0].clips[0].src"], found
    assert "tracks[0].clips[1].length" in found
    assert not (tmp_path / "cache" / "assets").exists()  # nothing fetched


def test_public_urls_pass_the_form_check(media: Path, settings: Settings) -> None:
    summary = validate_local(spec({"type": "video", "src": "https://cdn.example.com/a.mp4"},
                                  {"type": "video", "src": "red.mp4", "length": 1}),
                             settings=settings, base_dir=media)
    assert summary["valid"] is True and "duration" not in summary  # not planned: one source is remote


def test_a_source_of_the_wrong_kind_is_named_at_its_path(media: Path, settings: Settings) -> None:
    raw = spec({"type": "video", "src": "voice.wav"}, {"type": "video", "src": "blue.jpg", "length": 1},
               {"type": "image", "src": "voice.wav", "length": 1}, {"type": "audio", "src": "green.mp4"},
               {"type": "text", "text": "x", "length": -1})
    with pytest.raises(SpecError) as exc:
        load_checked(raw, settings=settings, base_dir=media)
    found = problems(exc)
    assert found["tracks[0].clips[0].src"] == "voice.wav has no video stream"
    assert found["tracks[0].clips[1].src"].startswith("blue.jpg is a still picture")
    assert found["tracks[0].clips[2].src"] == "voice.wav holds no picture"
    assert found["tracks[0].clips[3].src"] == "green.mp4 has no audio stream"
    assert "tracks[0].clips[4].length" in found


def test_a_document_that_is_no_spec_is_refused_as_before(media: Path, settings: Settings) -> None:
    for raw in ([{"type": "video", "src": "nope.mp4"}], {"tracks": [[[[[]]]]] * 2, "x": float("inf")}):
        with pytest.raises(SpecError) as exc:
            load_checked(raw, settings=settings, base_dir=media)
        assert "file not found" not in str(exc.value)


def test_render_fetch_reports_missing_and_undecodable_sources_together(media: Path, settings: Settings) -> None:
    valid = load_spec(spec({"type": "video", "src": "nope.mp4"}, {"type": "video", "src": "corrupt.mp4"},
                           {"type": "image", "src": "notes.txt", "length": 1}, {"type": "video", "src": "red.mp4"}))
    with pytest.raises(SpecError) as exc:
        fetch_all(valid, Fetcher(settings, base_dir=media))
    found = problems(exc)
    assert found == {"tracks[0].clips[0].src": "file not found",
                     "tracks[0].clips[1].src": "corrupt.mp4 cannot be decoded",
                     "tracks[0].clips[2].src": "notes.txt cannot be decoded"}
    assert exc.value.code == "bad_input"


@pytest.mark.parametrize("src", ["a\x00b.mp4", "http://[zz/a.mp4"])
def test_a_source_no_file_or_url_can_be_is_a_problem_not_a_crash(media: Path, settings: Settings, src: str) -> None:
    raw = spec({"type": "video", "src": src, "length": 1})
    for check in (lambda: validate_local(raw, settings=settings, base_dir=media),
                  lambda: fetch_all(load_spec(raw), Fetcher(settings, base_dir=media))):
        with pytest.raises(SpecError) as exc:
            check()
        assert problems(exc) == {"tracks[0].clips[0].src": "is not a valid path or URL"}
