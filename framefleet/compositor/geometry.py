"""Placement and motion as numbers and ffmpeg expressions; pure, so every rule is unit-testable.

Coordinates are output pixels, origin top-left. A clip is first *fitted* (cover/contain/fill/none,
times ``scale``) to a box, then *placed* by ``position`` and ``offset``; motion (Ken Burns effects,
zoom transitions) happens inside the box, slides move the box.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from framefleet.compositor.canvas import Canvas

if TYPE_CHECKING:
    from framefleet.compositor.spec import Keyframe

#: How far Ken Burns effects zoom, and how much a pan zooms in to have room to move.
KEN_BURNS_ZOOM = 1.25
PAN_ZOOM = 1.2
#: A ``zoom`` transition starts (or ends) this much larger than the clip's rest size.
ZOOM_TRANSITION = 0.3
#: A ``drift_*`` transition moves the clip this fraction of the frame while it fades.
DRIFT = 0.1
#: Text and captions keep this fraction of the frame from the edge they are placed against.
TEXT_MARGIN = 0.05


def even(value: float) -> int:
    """Round to an even number ≥ 2 (4:2:0 video needs even sizes)."""
    return max(2, round(value / 2) * 2)


@dataclass(frozen=True)
class Fitted:
    """A source fitted to the frame: optional crop of the source, then scaled to ``width``×``height``."""

    width: int
    height: int
    crop: tuple[int, int, int, int] | None = None  # x, y, w, h in source pixels


def fit(src_w: int, src_h: int, canvas: Canvas, mode: str, scale: float = 1.0) -> Fitted:
    """``cover`` fills the frame and crops (the crop is done on the source, before scaling, which is
    cheaper), ``contain`` letterboxes, ``fill`` stretches, ``none`` keeps the native size."""
    cw, ch = canvas.width, canvas.height
    if mode == "cover":
        target = cw / ch
        if src_w / src_h > target:
            w = max(1, min(src_w, round(src_h * target)))
            crop = ((src_w - w) // 2, 0, w, src_h)
        else:
            h = max(1, min(src_h, round(src_w / target)))
            crop = (0, (src_h - h) // 2, src_w, h)
        if crop[2:] == (src_w, src_h):
            crop = None  # type: ignore[assignment]
        return Fitted(even(cw * scale), even(ch * scale), crop)
    if mode == "contain":
        k = min(cw / src_w, ch / src_h) * scale
        return Fitted(even(src_w * k), even(src_h * k))
    if mode == "fill":
        return Fitted(even(cw * scale), even(ch * scale))
    return Fitted(even(src_w * scale), even(src_h * scale))


def fit_cropped(src_w: int, src_h: int, canvas: Canvas, mode: str, scale: float = 1.0, *,
                sides: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)) -> Fitted:
    """:func:`fit` for the part of the source left after cutting ``sides`` (fractions of its width and
    height from the left, top, right and bottom): the remaining picture is what is fitted, and the
    fit's own crop (``cover``) is made inside it, so the source is cropped once."""
    left, top, right, bottom = sides
    if not any(sides):
        return fit(src_w, src_h, canvas, mode, scale)
    x0, y0 = round(src_w * left), round(src_h * top)
    w = max(1, min(src_w - x0, round(src_w * (1 - left - right))))
    h = max(1, min(src_h - y0, round(src_h * (1 - top - bottom))))
    fitted = fit(w, h, canvas, mode, scale)
    cx, cy, cw, ch = fitted.crop or (0, 0, w, h)
    return Fitted(fitted.width, fitted.height, (x0 + cx, y0 + cy, cw, ch))


def rotated_size(width: int, height: int, degrees: float) -> tuple[int, int]:
    """The even-sized box that holds a ``width``×``height`` picture turned by ``degrees``."""
    a = math.radians(degrees)
    c, s = abs(math.cos(a)), abs(math.sin(a))
    return even(math.ceil(width * c + height * s - 1e-6)), even(math.ceil(width * s + height * c - 1e-6))


def to_frame(crop: tuple[int, int, int, int], display: tuple[int, int], frame: tuple[int, int]
             ) -> tuple[int, int, int, int]:
    """A crop in displayed pixels as the same crop in the decoded frame's pixels (which differ for
    non-square pixels: 1440x1080 shown as 1920x1080), kept inside the frame."""
    if display == frame:
        return crop
    kx, ky = frame[0] / display[0], frame[1] / display[1]
    x, y, w, h = crop
    fw, fh = max(1, min(frame[0], round(w * kx))), max(1, min(frame[1], round(h * ky)))
    return min(round(x * kx), frame[0] - fw), min(round(y * ky), frame[1] - fh), fw, fh


def place(canvas: Canvas, width: int, height: int, position: str, *, offset_x: float = 0.0,
          offset_y: float = 0.0, margin: float = 0.0) -> tuple[int, int]:
    """Top-left corner for a ``width``×``height`` box at ``position``, shifted by ``offset`` (fractions)."""
    cw, ch = canvas.width, canvas.height
    mx, my = round(cw * margin), round(ch * margin)
    if "left" in position:
        x = mx
    elif "right" in position:
        x = cw - width - mx
    else:
        x = (cw - width) // 2
    if position.startswith("top"):
        y = my
    elif position.startswith("bottom"):
        y = ch - height - my
    else:
        y = (ch - height) // 2
    return x + round(offset_x * cw), y + round(offset_y * ch)


def caption_anchor(canvas: Canvas, width: int, height: int) -> tuple[int, int]:
    """Default caption place: centred, in the lower third but above the platforms' bottom UI."""
    centre_y = canvas.height * (0.70 if canvas.portrait else 0.82)
    return (canvas.width - width) // 2, round(centre_y - height / 2)


# --- expressions -------------------------------------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:.6g}"


def ramp(var: str, start: float, length: float) -> str:
    """0 before ``start``, rising linearly to 1 over ``length``: an ffmpeg expression in ``var``."""
    return f"clip(({var}-{_num(start)})/{_num(max(length, 1e-6))},0,1)"


def ease_out(p: str) -> str:
    return f"(1-pow(1-{p},3))"


def ease_in(p: str) -> str:
    return f"pow({p},3)"


#: The clip's frame index (0 first) in ``perspective`` expressions, whose ``in`` counts from 1.
FRAME_INDEX = "(in-1)"


@dataclass(frozen=True)
class Motion:
    """A moving window on the clip's picture, as ffmpeg expressions in the clip's frame index.

    ``zoom`` ≥ 1 is how much is magnified; ``fx``/``fy`` in [0, 1] place the window (0.5 is centred).
    """

    zoom: str
    fx: str = "0.5"
    fy: str = "0.5"

    def corners(self) -> dict[str, str]:
        """The ``perspective`` filter's source corners (x0,y0 … x3,y3) for this window.

        The filter samples between pixels (bilinear), so the window can move by a fraction of a pixel
        each frame: crop-based zooms (``zoompan``) move in whole pixels and visibly jitter.
        """
        left = f"(W-W/({self.zoom}))*{self.fx}"
        top = f"(H-H/({self.zoom}))*{self.fy}"
        right = f"({left}+W/({self.zoom}))"
        bottom = f"({top}+H/({self.zoom}))"
        return {"x0": left, "y0": top, "x1": right, "y1": top, "x2": left, "y2": bottom, "x3": right, "y3": bottom}


def motion(effect: str | None, frames: int, zoom_in_frames: int = 0, zoom_out_frames: int = 0, *,
           first: int = 0) -> Motion | None:
    """Ken Burns ``effect`` over the whole clip, times a ``zoom`` transition at either end, or None.

    ``first`` is the clip frame the stream starts at (a segment that begins mid-clip): the motion
    continues from there instead of starting over.
    """
    if not effect and not zoom_in_frames and not zoom_out_frames:
        return None
    n = f"({FRAME_INDEX}+{first})" if first else FRAME_INDEX
    p = f"({n}/{max(frames - 1, 1)})"
    zoom, fx, fy = "1", "0.5", "0.5"
    k, pz = KEN_BURNS_ZOOM - 1, PAN_ZOOM
    if effect == "zoom_in":
        zoom = f"(1+{_num(k)}*{p})"
    elif effect == "zoom_out":
        zoom = f"(1+{_num(k)}*(1-{p}))"
    elif effect in ("pan_left", "pan_right", "pan_up", "pan_down"):
        zoom = _num(pz)
        moving = {"pan_left": f"(1-{p})", "pan_right": p, "pan_up": f"(1-{p})", "pan_down": p}[effect]
        if effect in ("pan_left", "pan_right"):
            fx = moving
        else:
            fy = moving
    parts = [zoom]
    if zoom_in_frames:
        parts.append(f"(1+{_num(ZOOM_TRANSITION)}*(1-{ease_out(ramp(n, 0, zoom_in_frames))}))")
    if zoom_out_frames:
        parts.append(f"(1+{_num(ZOOM_TRANSITION)}*{ease_in(ramp(n, frames - zoom_out_frames, zoom_out_frames))})")
    return Motion("*".join(parts), fx, fy)


def slide(direction: str, *, entering: bool, base: int, size: int, frame_size: int, start: float,
          length: float) -> str:
    """Overlay coordinate expression (in seconds ``t``) for a slide in or out along one axis."""
    forward = direction in ("slide_left", "slide_up")  # moves towards smaller x / y
    if entering:
        p = ease_out(ramp("t", start, length))
        origin = frame_size if forward else -size
        return f"({origin}+({base}-({origin}))*{p})"
    p = ease_in(ramp("t", start, length))
    target = -size if forward else frame_size
    return f"({base}+({target}-({base}))*{p})"


def drift(direction: str, *, entering: bool, base: int, frame_size: int, start: float, length: float) -> str:
    """Overlay coordinate expression for a drift: a short move (``DRIFT`` of the frame) towards
    ``direction``, ending at rest when entering and starting from it when leaving."""
    sign = -1 if direction in ("drift_left", "drift_up") else 1  # moves towards smaller x / y
    distance = round(DRIFT * frame_size)
    if entering:
        return f"({base}-({sign * distance})*(1-{ease_out(ramp('t', start, length))}))"
    return f"({base}+({sign * distance})*{ease_in(ramp('t', start, length))})"


def wipe_window(size: int, moves: tuple[tuple[str, bool, float, float], ...]) -> str:
    """Where a window of ``size`` px sits on the clip padded by ``size`` on both sides, along one axis,
    for wipes ``(name, entering, start, length)`` on that axis: ``size`` shows the whole clip; less
    shows its start side cut back, more its end side. An even number (4:2:0 chroma), as ``crop`` cuts.

    An entering clip appears where the edge has passed; a leaving one disappears where it has passed.
    """
    terms = []
    for name, entering, start, length in moves:
        forward = name in ("wipe_left", "wipe_up")  # the edge moves towards smaller x / y
        p = ramp("t", start, length)
        hidden = f"(1-{p})" if entering else p
        sign = 1 if forward == entering else -1
        terms.append(f"{'+' if sign > 0 else '-'}{size}*{hidden}")
    return f"2*floor(({size}{''.join(terms)})/2)"


# --- keyframes ---------------------------------------------------------------------------------------


def _power(kind: str, n: int, p: str) -> str:
    if kind == "in":
        return f"pow({p},{n})"
    if kind == "out":
        return f"(1-pow(1-{p},{n}))"
    return f"if(lt({p},0.5),{2 ** (n - 1)}*pow({p},{n}),1-pow(2-2*{p},{n})/2)"


def _sine(kind: str, p: str) -> str:
    if kind == "in":
        return f"(1-cos({p}*PI/2))"
    if kind == "out":
        return f"sin({p}*PI/2)"
    return f"((1-cos(PI*{p}))/2)"


_POWERS = {"quad": 2, "cubic": 3, "quart": 4, "quint": 5}


def eased(easing: str, p: str) -> str:
    """``p`` (0 to 1) through an easing curve: ``ease_in``/``out``/``in_out`` are cubic, as are
    Shotstack's; ``ease`` is the gentle in-out (sine) of CSS's ``ease``; quad to quint and sine as named."""
    if easing == "linear":
        return p
    if easing == "ease":
        return _sine("in_out", p)
    kind, _, family = easing.removeprefix("ease_").partition("_")
    if kind == "in" and family.startswith("out"):  # in_out[_family]
        kind, family = "in_out", family.removeprefix("out").lstrip("_")
    if family == "sine":
        return _sine(kind, p)
    return _power(kind, _POWERS.get(family or "cubic", 3), p)


def tween(keyframes: Sequence[Keyframe], var: str) -> str:
    """An animated value as one ffmpeg expression in ``var``, seconds from the clip's start.

    Nested ``if``s, one per keyframe (their count is bounded by ``FRAMEFLEET_MAX_KEYFRAMES``): before the
    first keyframe its ``from``; in a keyframe the eased value; after it, its ``to`` until the next
    begins. ``var`` must count from the clip's first frame on the *whole* timeline's clock (``t`` minus
    the clip's start), so a time segment that begins mid-clip continues the animation exactly.
    """
    value = _num(keyframes[0].from_)
    for k in keyframes:
        if k.interpolation == "constant":
            now = f"if(lt({var},{_num(k.start + k.length)}),{_num(k.from_)},{_num(k.to)})"
        else:
            curve = k.easing or ("ease_in_out" if k.interpolation == "bezier" else "linear")
            p = ramp(var, k.start, k.length)
            now = f"({_num(k.from_)}+{_num(k.to - k.from_)}*{eased(curve, p)})"
        value = f"if(lt({var},{_num(k.start)}),{value},{now})"
    return value
