"""Colour clips keep their alpha: a ``#rrggbbaa`` fill is see-through over what lies below it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mediatools import close, pixel
from tests.test_cli import cli, write


@pytest.mark.parametrize(("color", "expected"), [("#ff000080", (128, 0, 127)), ("#ff0000ff", (255, 0, 0)),
                                                 ("#ff000000", (0, 0, 255))])
def test_a_translucent_colour_shows_what_is_below(tmp_path: Path, color: str, expected: tuple[int, int, int]) -> None:
    spec = {"output": {"width": 64, "height": 64, "fps": 10},
            "tracks": [{"clips": [{"type": "color", "color": "#0000ff", "length": 1}]},
                       {"clips": [{"type": "color", "color": color, "length": 1}]}]}
    out = tmp_path / "out.mp4"
    done = cli("render", str(write(tmp_path, spec)), "-o", str(out))
    assert done.returncode == 0, done.stderr
    got = pixel(out, 0.5, 32, 32, (64, 64))
    assert close(got, expected), got  # before: the fill was opaque whatever its alpha
