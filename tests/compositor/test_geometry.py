from __future__ import annotations

from fractions import Fraction

import pytest

from framefleet.compositor import geometry
from framefleet.compositor.canvas import Canvas, canvas_size
from framefleet.compositor.spec import Output


@pytest.mark.parametrize(("output", "size"), [
    ({}, (1920, 1080)),
    ({"preset": "tiktok"}, (1080, 1920)),
    ({"preset": "instagram_post"}, (1080, 1350)),
    ({"preset": "square", "resolution": "720p"}, (720, 720)),
    ({"preset": "youtube", "resolution": "ultra"}, (3840, 2160)),
    ({"aspect_ratio": "9:16", "resolution": "480p"}, (480, 854)),
    ({"preset": "tiktok", "width": 720}, (720, 1280)),
    ({"width": 640, "height": 360}, (640, 360)),
])
def test_canvas_sizes(output: dict, size: tuple[int, int]) -> None:
    assert canvas_size(Output(**output)) == size


def test_frame_grid_snaps_times() -> None:
    canvas = Canvas(100, 100, Fraction(30))
    assert canvas.frame(1.0) == 30 and canvas.frame(1.01) == 30 and canvas.frame(1.02) == 31
    assert canvas.seconds(45) == 1.5
    assert Canvas(1080, 1920, Fraction(30)).unit == 1.0 and Canvas(720, 1280, Fraction(30)).unit == 720 / 1080


CANVAS = Canvas(1080, 1920, Fraction(30))


def test_cover_crops_the_source_before_scaling() -> None:
    fitted = geometry.fit(1920, 1080, CANVAS, "cover")
    assert (fitted.width, fitted.height) == (1080, 1920)
    assert fitted.crop == (656, 0, 608, 1080)


def test_contain_fill_none_and_scale() -> None:
    contain = geometry.fit(1920, 1080, CANVAS, "contain")
    assert (contain.width, contain.height, contain.crop) == (1080, 608, None)
    assert (geometry.fit(100, 100, CANVAS, "fill").width, geometry.fit(100, 100, CANVAS, "fill").height) == (1080, 1920)
    native = geometry.fit(301, 200, CANVAS, "none", scale=0.5)
    assert (native.width, native.height) == (150, 100)


def test_place_positions_and_offsets() -> None:
    assert geometry.place(CANVAS, 100, 100, "center") == (490, 910)
    assert geometry.place(CANVAS, 100, 100, "top_left") == (0, 0)
    assert geometry.place(CANVAS, 100, 100, "bottom_right") == (980, 1820)
    assert geometry.place(CANVAS, 100, 100, "top", offset_x=0.1, offset_y=-0.05) == (598, -96)
    assert geometry.place(CANVAS, 100, 100, "left", margin=0.05) == (54, 910)


def test_motion_expressions() -> None:
    assert geometry.motion(None, 90) is None
    zoom = geometry.motion("zoom_in", 91)
    assert zoom is not None and zoom.zoom == "(1+0.25*((in-1)/90))"
    assert zoom.corners()["x0"] == "(W-W/((1+0.25*((in-1)/90))))*0.5"
    pan = geometry.motion("pan_left", 91)
    assert pan is not None and pan.fx == "(1-((in-1)/90))" and pan.zoom == "1.2"
    assert pan.corners()["x1"] == "((W-W/(1.2))*(1-((in-1)/90))+W/(1.2))"
    both = geometry.motion(None, 90, zoom_in_frames=15)
    assert both is not None and "clip(((in-1)-0)/15,0,1)" in both.zoom


def test_slide_expression_enters_from_the_right() -> None:
    expr = geometry.slide("slide_left", entering=True, base=100, size=200, frame_size=1080, start=1.0, length=0.5)
    assert expr.startswith("(1080+(100-(1080))*")
