"""The prepare stage: pictures drawn before ffmpeg starts (text, caption states, gradients).

Writes pictures (PNG; run-length TGA for caption states, with one ffconcat list per captions clip) into
the render's work directory and returns a :class:`Still` per clip path for the graph builder, plus the
caption cues for the sidecar WebVTT file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

# TgaImagePlugin registered up front: saving a format Pillow has not loaded yet makes it import every
# plugin it has, 40 ms of a short render's start
from PIL import Image, TgaImagePlugin  # noqa: F401

from framefleet.compositor import captions as cap
from framefleet.compositor import measure
from framefleet.compositor.canvas import Canvas
from framefleet.compositor.geometry import even, fit
from framefleet.compositor.layers.base import Still
from framefleet.compositor.plan import Plan, Span, VisualItem
from framefleet.compositor.spec import CaptionsClip, ColorClip, TextClip
from framefleet.compositor.text import blank, check_size, draw_runs, pad_to, rgba, text_image
from framefleet.config import Limits
from framefleet.errors import Problem, SpecError
from framefleet.flags import Flag, check
from framefleet.threads import each, usable_cores

#: Threads that draw one captions clip's pictures (no more than the cores there are). Pillow lets go of
#: the GIL while it composites glyphs and encodes: on 2 cores the 1,450 caption pictures of a 10-minute
#: edit take 3.8 s instead of 4.8 s. Its font code keeps the GIL, so two threads never use one FreeType
#: face at once (a face is not thread-safe; Pillow 12.2 locks it on Python built without a GIL).
DRAW_THREADS = 4


@dataclass(frozen=True)
class Later:
    """A caption picture planned (its file is in a captions list) but not drawn yet."""

    file: Path
    span: Span  # the output frames it is on screen
    draw: Callable[[], None]


@dataclass
class Prepared:
    """The stills by clip path and the caption cues, and, when drawing was left for later
    (``prepare(..., later=True)``), the caption pictures still to draw.

    A segmented render draws each segment's pictures just before that segment's ffmpeg
    (:meth:`draw`) and deletes them after the last segment that shows them (:meth:`release`): a long
    edit's first segment starts without waiting for thousands of pictures, and the work folder holds
    a segment's pictures, not the whole edit's (the 1,450 of a 10-minute edit are 70 MB)."""

    stills: dict[str, Still] = field(default_factory=dict)
    cues: list[tuple[float, float, str]] = field(default_factory=list)
    later: list[Later] = field(default_factory=list)
    drawn: list[Later] = field(default_factory=list)

    def draw(self, window: Span | None = None) -> None:
        """Draw the pictures left for later that ``window`` shows (all of them without one)."""
        due: list[Later] = []
        kept: list[Later] = []
        for picture in self.later:
            (due if window is None or picture.span.overlaps(window) else kept).append(picture)
        self.later = kept
        self.drawn += due
        each(lambda picture: picture.draw(), due, threads=min(DRAW_THREADS, usable_cores()))

    def release(self, before: int) -> None:
        """Delete the pictures drawn for later that no frame from ``before`` on shows."""
        kept = []
        for picture in self.drawn:
            if picture.span.end <= before:
                picture.file.unlink(missing_ok=True)
            else:
                kept.append(picture)
        self.drawn = kept


def _text(item: VisualItem, canvas: Canvas, workdir: Path, fonts: Mapping[str, Path], limits: Limits) -> Still:
    clip = item.clip
    assert isinstance(clip, TextClip)
    style = clip.style
    font = measure.font_path(style.font, style.bold, fonts)
    cap_pixels = limits.max_raster_pixels
    picture = text_image(clip.text, font_file=font, size=measure.px(style.size, canvas) or 1,
                         fill=rgba(style.color), look=measure.text_look(style, canvas), max_pixels=cap_pixels,
                         uppercase=style.uppercase)
    picture = pad_to(picture, even(picture.width), even(picture.height), max_pixels=cap_pixels)
    file = workdir / f"text-{_slug(item.path)}.png"
    picture.save(file, compress_level=1)
    return Still(file, picture.width, picture.height)


def _captions(item: VisualItem, plan: Plan, workdir: Path, fonts: Mapping[str, Path], prepared: Prepared, *,
              limits: Limits, sizes: measure.CaptionSizes | None, window: Span | None = None,
              cancel: Flag | None = None) -> Still | None:
    """The item's cues, and its pictures where ``sizes`` (measured by :func:`_measure`) is given, left in
    ``prepared`` to draw (:meth:`Prepared.draw`)."""
    clip = item.clip
    assert isinstance(clip, CaptionsClip)
    canvas = plan.canvas
    # cues are in output time: an ``output.range`` (plan.whole) starts at its first frame
    begin = canvas.seconds(plan.first) if plan.whole else 0.0
    offset = canvas.seconds(item.span.start) - begin
    cue_source = cap.states(item.phrases, "word" if clip.style == "word" else "clean", uppercase=clip.uppercase)
    end = canvas.seconds(min(item.span.end, plan.first + plan.frames)) - begin
    prepared.cues += [(max(0.0, offset + s.start), min(offset + s.end, end), cap.join_words(s.words))
                      for s in cue_source if offset + s.start < end and offset + s.end > 0]
    if clip.style == "none" or sizes is None:
        return None
    look = measure.caption_look(clip, canvas)
    font = measure.font_path(clip.font, clip.bold, fonts)
    # Durations are whole frames of the output grid, so every change lands exactly on a frame. Only the
    # states on screen (inside the clip, before the output ends) were measured; each keeps its words,
    # never a picture, until it is drawn. Every state shares one picture size (one stream, one overlay);
    # each picture is drawn, written and dropped, so memory holds one picture a drawing thread, not thousands.
    shown, (width, height) = sizes.shown, sizes.box
    empty = workdir / f"cap-{_slug(item.path)}-blank.tga"
    _save_caption(blank(width, height, max_pixels=limits.max_raster_pixels), empty)
    entries: list[tuple[Path, int]] = []
    def draw(file: Path, state: cap.CaptionState) -> None:
        check(cancel)
        runs = measure.state_runs(state, clip, canvas, font)
        _save_caption(draw_runs([runs], look, size=(width, height), max_pixels=limits.max_raster_pixels), file)

    cursor = 0
    for n, (first, last, state) in enumerate(shown):
        if first > cursor:
            entries.append((empty, first - cursor))
        file, on_screen = empty, Span(item.span.start + first, item.span.start + last)
        if window is None or on_screen.overlaps(window):
            file = workdir / f"cap-{_slug(item.path)}-{n:05d}.tga"
            prepared.later.append(Later(file, on_screen, partial(draw, file, state)))
        entries.append((file, last - first))
        cursor = last
    if cursor < item.span.frames:
        entries.append((empty, item.span.frames - cursor))
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


def gradient_image(width: int, height: int, start: str, stop: str, angle: float, *, max_pixels: int
                   ) -> Image.Image:
    """A linear gradient, ``angle`` degrees clockwise from "top to bottom"."""
    import numpy as np  # only gradients need it; keeps every other render's start-up lighter

    check_size(width, height, max_pixels=max_pixels)  # the size check every picture passes

    theta = math.radians(angle)
    dx, dy = math.sin(theta), math.cos(theta)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    proj = (xs - width / 2) * dx + (ys - height / 2) * dy
    span = abs(width * dx) + abs(height * dy) or 1.0
    t = np.clip(proj / span + 0.5, 0, 1)[..., None]
    a, b = np.array(rgba(start), np.float32), np.array(rgba(stop), np.float32)
    # an h x w x 4 uint8 array is RGBA to Pillow; naming the mode is deprecated (Pillow 12 warns)
    return Image.fromarray((a + (b - a) * t).round().astype(np.uint8))


def _gradient(item: VisualItem, canvas: Canvas, workdir: Path, limits: Limits) -> Still:
    clip = item.clip
    assert isinstance(clip, ColorClip) and clip.gradient is not None
    box = fit(canvas.width, canvas.height, canvas, clip.fit, clip.rest_scale)
    g = clip.gradient
    file = workdir / f"grad-{_slug(item.path)}.png"
    gradient_image(box.width, box.height, g.from_, g.to, g.angle, max_pixels=limits.max_raster_pixels
                   ).save(file, compress_level=1)
    return Still(file, box.width, box.height)


def _slug(path: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in path).strip("_")


def _measure(plan: Plan, fonts: Mapping[str, Path], limits: Limits, cancel: Flag | None
             ) -> dict[str, measure.CaptionSizes]:
    """Measure every picture of ``plan`` (:func:`measure.plan_problems`) and raise :class:`SpecError` if
    one is over the cap. Caption states are laid out here, once: the sizes returned (by clip path) are
    the ones their pictures are drawn at."""
    sizes: dict[str, measure.CaptionSizes] = {}
    problems: list[Problem] = []
    for item in plan.visuals:
        clip = item.clip
        if isinstance(clip, CaptionsClip) and clip.style != "none":
            font = measure.font_path(clip.font, clip.bold, fonts)
            # thousands of states take seconds: a cancel must not wait for all of them
            found = sizes[item.path] = measure.caption_sizes(item, plan, font, tick=lambda: check(cancel))
            problems += measure.caption_box_problems(item.path, clip, found.checked, limits)
        else:
            problems += measure.item_problems(item, plan, fonts=fonts, limits=limits)
    if problems:
        raise SpecError(problems)
    return sizes


def prepare(plan: Plan, workdir: Path, *, fonts: Mapping[str, Path] | None = None, pictures: bool = True,
            window: Span | None = None, limits: Limits | None = None, cancel: Flag | None = None,
            later: bool = False) -> Prepared:
    """Draw every still; ``fonts`` maps font files named in the spec to their fetched local copies.

    Without ``pictures`` only the caption cues (for the ``.vtt`` sidecar) are worked out; with a
    ``window`` (a chunk's frames) only the pictures shown in it are drawn. Every picture is measured
    first: one over ``limits.max_raster_pixels`` fails the spec (:class:`SpecError` at the clip's path)
    before anything is drawn. With ``later``, caption pictures (the many) are only planned: the
    renderer draws them as segments need them (:meth:`Prepared.draw`).
    """
    fonts = fonts or {}
    limits = limits or Limits()
    sizes = _measure(plan, fonts, limits, cancel) if pictures else {}
    prepared = Prepared()
    for item in plan.visuals:
        check(cancel)
        clip = item.clip
        if isinstance(clip, CaptionsClip):
            still = _captions(item, plan, workdir, fonts, prepared, limits=limits, sizes=sizes.get(item.path),
                              window=window, cancel=cancel)
            if still is not None:
                prepared.stills[item.path] = still
        elif not pictures or (window is not None and not item.span.overlaps(window)):
            continue
        elif isinstance(clip, TextClip):
            prepared.stills[item.path] = _text(item, plan.canvas, workdir, fonts, limits)
        elif isinstance(clip, ColorClip) and clip.gradient is not None:
            prepared.stills[item.path] = _gradient(item, plan.canvas, workdir, limits)
    prepared.cues.sort()
    if not later:
        prepared.draw()
    return prepared
