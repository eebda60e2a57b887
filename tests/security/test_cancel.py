"""A cancel is obeyed inside every long step of preparation, not only between steps.

The fleet-level tests (cancel while downloading, while probing, while ffmpeg renders, while uploading)
live beside the parts they exercise; this one covers drawing thousands of caption pictures in Python.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from framefleet.compositor.prepare import prepare
from framefleet.compositor.spec import RenderSpec, load_spec
from framefleet.config import Settings
from framefleet.errors import Canceled
from tests.flagtools import SetAfter


def _many_words(tmp_path: Path) -> tuple[RenderSpec, Settings]:
    """1,500 spoken words in bold-pop: one picture each, seconds of drawing."""
    words = [{"text": f"word{i}", "start": i * 0.2, "end": i * 0.2 + 0.2} for i in range(1500)]
    spec = load_spec({"output": {"width": 320, "height": 240, "fps": 10},
                      "tracks": [{"clips": [{"type": "captions", "words": words, "style": "bold-pop"}]},
                                 {"clips": [{"type": "color", "color": "#203040", "length": 300}]}]})
    return spec, Settings.from_env({"FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache")})


def test_a_cancel_stops_caption_drawing_part_way(tmp_path: Path) -> None:
    spec, settings = _many_words(tmp_path)
    drawn = tmp_path / "whole"
    drawn.mkdir()
    whole = prepare(spec, drawn, settings=settings, files={}).prepared
    pictures = len(list(drawn.glob("cap-*.tga")))
    assert pictures > 1000 and whole.stills  # one picture per spoken word: seconds of work

    work = tmp_path / "canceled"
    work.mkdir()
    flag = SetAfter(pictures + 300)  # every state is measured first, then drawn: trips while drawing
    with pytest.raises(Canceled):
        prepare(spec, work, settings=settings, files={}, cancel=flag)
    drawn_before_cancel = len(list(work.glob("cap-*.tga")))
    assert 100 < drawn_before_cancel < pictures - 500, drawn_before_cancel  # it stopped mid-way


def test_a_cancel_stops_caption_pictures_left_for_the_segments(tmp_path: Path) -> None:
    # A segmented render draws its caption pictures segment by segment, after preparation: the same
    # cancel reaches that drawing too.
    spec, settings = _many_words(tmp_path)
    flag = SetAfter(10**9)
    prepared = prepare(spec, tmp_path, settings=settings, files={}, cancel=flag, later=True).prepared
    assert [p.name for p in tmp_path.glob("cap-*.tga")] == ["cap-tracks_0__clips_0-blank.tga"]
    assert len(prepared.later) > 1000
    flag.calls = flag.seen + 300  # the cancel comes 300 pictures in
    with pytest.raises(Canceled):
        prepared.draw()
    drawn_before_cancel = len(list(tmp_path.glob("cap-*-0*.tga")))
    assert 100 < drawn_before_cancel < len(prepared.drawn) - 500, drawn_before_cancel  # it stopped mid-way
