"""The prepare stage: pictures drawn before ffmpeg starts (text, caption states, gradients).

Writes PNGs (and one ffconcat list per captions clip) into the render's work directory and returns a
:class:`Still` per clip path for the graph builder, plus the caption cues for the sidecar WebVTT file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from framefleet.compositor import captions as cap
from framefleet.compositor.canvas import Canvas
from framefleet.compositor.geometry import even, fit
from framefleet.compositor.layers.base import Still
from framefleet.compositor.plan import Plan, Span, VisualItem
from framefleet.compositor.spec import CaptionsClip, ColorClip, TextClip
from framefleet.compositor.text import (
    Look,
    caption_runs,
    draw_runs,
    find_font,
    is_font_file,
    layout_runs,
    pad_to,
    rgba,
    text_image,
)


@dataclass
class Prepared:
    stills: dict[str, Still] = field(default_factory=dict)
    cues: list[tuple[float, float, str]] = field(default_factory=list)


def _px(value: float, canvas: Canvas) -> int:
    return max(0, round(value * canvas.unit))


def _font(font: str, bold: bool, fonts: Mapping[str, Path]) -> str:
    return str(fonts[font]) if is_font_file(font) else find_font(font, bold)


def _text(item: VisualItem, canvas: Canvas, workdir: Path, fonts: Mapping[str, Path]) -> Still:
    clip = item.clip
    assert isinstance(clip, TextClip)
    style = clip.style
    look = Look(
        max_width=round(style.max_width * canvas.width), stroke_width=_px(style.stroke_width, canvas),
        stroke_fill=rgba(style.stroke_color) if style.stroke_color else None,
        background=rgba(style.background) if style.background else None,
        padding=_px(style.padding, canvas), align=style.align, line_spacing=style.line_spacing,
    )
    font = _font(style.font, style.bold, fonts)
    picture = text_image(clip.text, font_file=font, size=_px(style.size, canvas) or 1, fill=rgba(style.color),
                         look=look, uppercase=style.uppercase)
    picture = pad_to(picture, even(picture.width), even(picture.height))
    file = workdir / f"text-{_slug(item.path)}.png"
    picture.save(file, compress_level=1)
    return Still(file, picture.width, picture.height)


def _captions(item: VisualItem, canvas: Canvas, workdir: Path, fonts: Mapping[str, Path],
              prepared: Prepared, *, pictures: bool = True, window: Span | None = None) -> Still | None:
    clip = item.clip
    assert isinstance(clip, CaptionsClip)
    offset = canvas.seconds(item.span.start)
    states = cap.states(item.phrases, clip.style, uppercase=clip.uppercase)
    cue_source = cap.states(item.phrases, "word" if clip.style == "word" else "clean", uppercase=clip.uppercase)
    end = canvas.seconds(item.span.end)
    prepared.cues += [(offset + s.start, min(offset + s.end, end), " ".join(s.words))
                      for s in cue_source if offset + s.start < end]
    if clip.style == "none" or not pictures:
        return None
    look = Look(max_width=round(clip.max_width * canvas.width), stroke_width=_px(clip.stroke_width, canvas),
                stroke_fill=rgba(clip.stroke_color) if clip.stroke_color else None,
                background=rgba(clip.background) if clip.background else None,
                padding=_px(24 if clip.background else 0, canvas))
    font = _font(clip.font, clip.bold, fonts)
    # Durations are whole frames of the output grid, so every change lands exactly on a frame; states
    # that fall outside the clip are never drawn.
    shown = []
    for state in states:
        first, last = canvas.frame(state.start), min(canvas.frame(state.end), item.span.frames)
        if last > first and first < item.span.frames:
            runs = caption_runs(state.words, state.active, style=clip.style, font_file=font,
                                size=_px(clip.size, canvas) or 1, fill=rgba(clip.color),
                                highlight=rgba(clip.highlight_color))
            shown.append((first, last, runs))
    # Every state shares one picture size (one stream, one overlay), measured before anything is drawn;
    # then each picture is drawn, written and dropped, so memory holds one picture, not thousands.
    layouts = [layout_runs([runs], look) for _, _, runs in shown]
    width = even(max((lay.width for lay in layouts), default=2))
    height = even(max((lay.height for lay in layouts), default=2))
    blank = workdir / f"cap-{_slug(item.path)}-blank.tga"
    _save_caption(Image.new("RGBA", (width, height), (0, 0, 0, 0)), blank)
    entries: list[tuple[Path, int]] = []
    cursor = 0
    for n, (first, last, runs) in enumerate(shown):
        if first > cursor:
            entries.append((blank, first - cursor))
        file = blank
        if window is None or (item.span.start + first < window.end and item.span.start + last > window.start):
            file = workdir / f"cap-{_slug(item.path)}-{n:05d}.tga"
            _save_caption(draw_runs([runs], look, size=(width, height)), file)
        entries.append((file, last - first))
        cursor = last
    if cursor < item.span.frames:
        entries.append((blank, item.span.frames - cursor))
    listing = workdir / f"cap-{_slug(item.path)}.ffconcat"
    write_listing(listing, entries, canvas)
    return Still(listing, width, height, tuple(entries))


def _save_caption(picture: Image.Image, file: Path) -> None:
    """Caption states are many (one per spoken word for ``bold-pop``): run-length TGA writes 3× faster
    than the fastest PNG and ffmpeg reads it with its alpha; the pictures are mostly transparent runs."""
    picture.save(file, format="TGA", compression="tga_rle")


def write_listing(listing: Path, entries: Sequence[tuple[Path, int]], canvas: Canvas) -> None:
    """An ffconcat list of pictures, each shown for a whole number of frames."""
    lines = ["ffconcat version 1.0"]
    for file, frames in entries:
        lines += [f"file '{file}'", f"duration {canvas.seconds(frames):.6f}"]
    lines.append(f"file '{entries[-1][0]}'")  # the concat demuxer drops the last entry's duration
    listing.write_text("\n".join(lines) + "\n")


def window(still: Still, item: VisualItem, workdir: Path, canvas: Canvas) -> Still:
    """A captions still cut to the frames a time segment draws (``item.window``): its own list,
    starting at the picture on screen at the segment's first frame."""
    if not still.entries or item.window is None or item.window == item.span:
        return still
    skip, frames = item.skip, item.shown.frames
    entries: list[tuple[Path, int]] = []
    at = 0
    for file, length in still.entries:
        first, last = max(at, skip), min(at + length, skip + frames)
        if last > first:
            entries.append((file, last - first))
        at += length
    listing = workdir / f"{still.file.stem}-{item.shown.start}.ffconcat"
    write_listing(listing, entries, canvas)
    return Still(listing, still.width, still.height, tuple(entries))


def gradient_image(width: int, height: int, start: str, stop: str, angle: float) -> Image.Image:
    """A linear gradient, ``angle`` degrees clockwise from "top to bottom"."""
    import numpy as np  # only gradients need it; keeps every other render's start-up lighter

    theta = math.radians(angle)
    dx, dy = math.sin(theta), math.cos(theta)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    proj = (xs - width / 2) * dx + (ys - height / 2) * dy
    span = abs(width * dx) + abs(height * dy) or 1.0
    t = np.clip(proj / span + 0.5, 0, 1)[..., None]
    a, b = np.array(rgba(start), np.float32), np.array(rgba(stop), np.float32)
    # an h x w x 4 uint8 array is RGBA to Pillow; naming the mode is deprecated (Pillow 12 warns)
    return Image.fromarray((a + (b - a) * t).round().astype(np.uint8))


def _gradient(item: VisualItem, canvas: Canvas, workdir: Path) -> Still:
    clip = item.clip
    assert isinstance(clip, ColorClip) and clip.gradient is not None
    box = fit(canvas.width, canvas.height, canvas, clip.fit, clip.scale)
    g = clip.gradient
    file = workdir / f"grad-{_slug(item.path)}.png"
    gradient_image(box.width, box.height, g.from_, g.to, g.angle).save(file, compress_level=1)
    return Still(file, box.width, box.height)


def _slug(path: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in path).strip("_")


def prepare(plan: Plan, workdir: Path, *, fonts: Mapping[str, Path] | None = None, pictures: bool = True,
            window: Span | None = None) -> Prepared:
    """Draw every still; ``fonts`` maps font files named in the spec to their fetched local copies.

    Without ``pictures`` only the caption cues (for the ``.vtt`` sidecar) are worked out; with a
    ``window`` (a chunk's frames) only the pictures shown in it are drawn.
    """
    fonts = fonts or {}
    prepared = Prepared()
    for item in plan.visuals:
        clip = item.clip
        if isinstance(clip, CaptionsClip):
            still = _captions(item, plan.canvas, workdir, fonts, prepared, pictures=pictures, window=window)
            if still is not None:
                prepared.stills[item.path] = still
        elif not pictures or (window is not None and (item.span.end <= window.start
                                                      or item.span.start >= window.end)):
            continue
        elif isinstance(clip, TextClip):
            prepared.stills[item.path] = _text(item, plan.canvas, workdir, fonts)
        elif isinstance(clip, ColorClip) and clip.gradient is not None:
            prepared.stills[item.path] = _gradient(item, plan.canvas, workdir)
    prepared.cues.sort()
    return prepared
