"""Picture sizes from layouts, worked out before anything is drawn: the pixel cap on every raster.

Text, caption states and gradients are drawn by Pillow; colours and scaled text become frames of
their size in ffmpeg. A small spec can ask for an enormous one (font size 2000 and 2,500 words on a
4K frame lay out to a 600 GiB image). Laying words out costs microseconds a word and no pixels, so
sizes are worked out wherever a spec is checked, and a picture over ``Limits.max_raster_pixels`` is
refused at its clip's JSON path:

- :func:`spec_problems`, from ``load_spec`` (``framefleet validate``, ``submit``, the worker): text in
  a font family, colours and gradients, inline caption words;
- :func:`plan_problems`, from ``framefleet validate`` once local files are read and from the prepare
  stage before anything is drawn: caption files and font files too, for the states on screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from framefleet.compositor import captions as cap
from framefleet.compositor.canvas import Canvas
from framefleet.compositor.geometry import even, fit
from framefleet.compositor.layers.base import extent
from framefleet.compositor.spec import CaptionsClip, ColorClip, RenderSpec, TextClip, TextStyle
from framefleet.compositor.text import (
    Layout,
    Look,
    Run,
    caption_runs,
    find_font,
    is_font_file,
    layout_runs,
    rgba,
    text_paragraphs,
)
from framefleet.config import Limits
from framefleet.errors import BadInput, Problem

if TYPE_CHECKING:
    from framefleet.compositor.plan import Plan, VisualItem


def px(value: float, canvas: Canvas) -> int:
    """A style size (for a 1080 px short side) in output pixels."""
    return max(0, round(value * canvas.unit))


def font_path(font: str, bold: bool, fonts: Mapping[str, Path]) -> str:
    """The font file to draw with: a fetched font file named in the spec, or a family's file."""
    return str(fonts[font]) if is_font_file(font) else find_font(font, bold)


def text_look(style: TextStyle, canvas: Canvas) -> Look:
    return Look(
        max_width=round(style.max_width * canvas.width), stroke_width=px(style.stroke_width, canvas),
        stroke_fill=rgba(style.stroke_color) if style.stroke_color else None,
        background=rgba(style.background) if style.background else None,
        padding=px(style.padding, canvas), align=style.align, line_spacing=style.line_spacing,
    )


def caption_look(clip: CaptionsClip, canvas: Canvas) -> Look:
    return Look(max_width=round(clip.max_width * canvas.width), stroke_width=px(clip.stroke_width, canvas),
                stroke_fill=rgba(clip.stroke_color) if clip.stroke_color else None,
                background=rgba(clip.background) if clip.background else None,
                padding=px(24 if clip.background else 0, canvas))


def text_layout(clip: TextClip, canvas: Canvas, font_file: str) -> Layout:
    style = clip.style
    paragraphs = text_paragraphs(clip.text, font_file=font_file, size=px(style.size, canvas) or 1,
                                 fill=rgba(style.color), uppercase=style.uppercase)
    return layout_runs(paragraphs, text_look(style, canvas))


def state_runs(state: cap.CaptionState, clip: CaptionsClip, canvas: Canvas, font_file: str) -> list[Run]:
    return caption_runs(state.words, state.active, style=clip.style, font_file=font_file,
                        size=px(clip.size, canvas) or 1, fill=rgba(clip.color),
                        highlight=rgba(clip.highlight_color))


def caption_box(layouts: Sequence[Layout]) -> tuple[int, int]:
    """The one picture size every state of a captions clip shares (one stream, one overlay)."""
    return (even(max((lay.width for lay in layouts), default=2)),
            even(max((lay.height for lay in layouts), default=2)))


def shown_frames(state: cap.CaptionState, canvas: Canvas, frames: int) -> tuple[int, int] | None:
    """The clip frames ``[first, last)`` a state is on screen, of the first ``frames``; None if none."""
    first, last = canvas.frame(state.start), min(canvas.frame(state.end), frames)
    return (first, last) if last > first else None


def _picture_key(state: cap.CaptionState, clip: CaptionsClip) -> tuple[tuple[str, ...], int]:
    """States the cap check takes as one size: only ``bold-pop`` enlarges a word. A recoloured word
    (``karaoke``) can still move a width by a pixel, so pictures are drawn at :attr:`CaptionSizes.box`."""
    return state.words, state.active if clip.style == "bold-pop" else -1


def _caption_layouts(states: Sequence[cap.CaptionState], clip: CaptionsClip, canvas: Canvas,
                     font_file: str) -> list[Layout]:
    """One layout per distinct picture (:func:`_picture_key`)."""
    look = caption_look(clip, canvas)
    seen: dict[tuple[tuple[str, ...], int], Layout] = {}
    for state in states:
        key = _picture_key(state, clip)
        if key not in seen:
            seen[key] = layout_runs([state_runs(state, clip, canvas, font_file)], look)
    return list(seen.values())


@dataclass(frozen=True)
class CaptionSizes:
    """A captions item's states on screen, laid out once for both the cap check and the drawing."""

    shown: list[tuple[int, int, cap.CaptionState]]
    box: tuple[int, int]  # the picture every state is drawn on: the largest of all their layouts
    checked: tuple[int, int]  # what the cap check measures: one layout a picture key, as plan_problems does


def caption_sizes(item: VisualItem, plan: Plan, font_file: str, *, tick: Callable[[], None] | None = None
                  ) -> CaptionSizes:
    """Lay out every state of ``item`` on screen (:func:`item_states`) once; ``tick`` runs before each
    (thousands of states take seconds: the prepare stage checks for a cancel there)."""
    clip = item.clip
    assert isinstance(clip, CaptionsClip)
    look = caption_look(clip, plan.canvas)
    shown = item_states(item, plan)
    layouts: list[Layout] = []
    first: dict[tuple[tuple[str, ...], int], Layout] = {}
    for _, _, state in shown:
        if tick is not None:
            tick()
        layout = layout_runs([state_runs(state, clip, plan.canvas, font_file)], look)
        layouts.append(layout)
        first.setdefault(_picture_key(state, clip), layout)
    return CaptionSizes(shown, caption_box(layouts), caption_box(list(first.values())))


def over(width: int, height: int, limits: Limits) -> bool:
    return width * height > limits.max_raster_pixels


def _too_big(what: str, width: int, height: int, limits: Limits, hint: str) -> str:
    return (f"{what} would be {width}x{height} pixels, over the limit of {limits.max_raster_pixels}; "
            f"{hint}")


def text_problems(path: str, clip: TextClip, canvas: Canvas, font_file: str, limits: Limits
                  ) -> Iterator[Problem]:
    """The text's picture, and the frame ffmpeg scales it to (``scale``), each under the cap."""
    layout = text_layout(clip, canvas, font_file)
    width, height = even(layout.width), even(layout.height)
    if over(width, height, limits):
        yield Problem(f"{path}.style.size", _too_big("the text's picture", width, height, limits,
                                                     "use a smaller size or less text"))
    elif over(*(grown := extent(clip, even(width * clip.rest_scale), even(height * clip.rest_scale))), limits):
        yield Problem(f"{path}.scale", _too_big("the scaled text", *grown, limits,
                                                "use a smaller scale"))


def color_problems(path: str, clip: ColorClip, canvas: Canvas, limits: Limits) -> Iterator[Problem]:
    box = fit(canvas.width, canvas.height, canvas, clip.fit, clip.rest_scale)
    width, height = extent(clip, box.width, box.height)  # at its peak scale, turned, padded for a wipe
    if over(width, height, limits):
        yield Problem(f"{path}.scale", _too_big("the colour's picture", width, height, limits,
                                                "use a smaller scale"))


def caption_problems(path: str, clip: CaptionsClip, *, states: Sequence[cap.CaptionState], canvas: Canvas,
                     font_file: str, limits: Limits) -> Iterator[Problem]:
    yield from caption_box_problems(path, clip, caption_box(_caption_layouts(states, clip, canvas, font_file)),
                                    limits)


def caption_box_problems(path: str, clip: CaptionsClip, box: tuple[int, int], limits: Limits
                         ) -> Iterator[Problem]:
    """The captions' picture of size ``box`` (:func:`caption_box`), as the overlay grows it, under the cap."""
    width, height = extent(clip, *box)
    if over(width, height, limits):
        yield Problem(f"{path}.size", _too_big("the captions' picture", width, height, limits,
                                               "use a smaller size or fewer words a phrase (max_words)"))


def _family(font: str, bold: bool) -> str | None:
    """A family's font file, or None where this machine has none (the worker measures again)."""
    try:
        return find_font(font, bold)
    except BadInput:
        return None


def spec_problems(spec: RenderSpec, limits: Limits) -> Iterator[Problem]:
    """Every picture of ``spec`` that can be measured without its files: over the cap, or captions
    with more words than ``limits.max_caption_words``. A font file not yet fetched is measured later
    (:func:`plan_problems`); caption states are all measured, on screen or not."""
    canvas = Canvas.from_output(spec.output)
    for path, clip in spec.clips():
        if isinstance(clip, ColorClip):
            yield from color_problems(path, clip, canvas, limits)
        elif isinstance(clip, TextClip) and not is_font_file(clip.style.font):
            font = _family(clip.style.font, clip.style.bold)
            if font:
                yield from text_problems(path, clip, canvas, font, limits)
        elif isinstance(clip, CaptionsClip) and clip.words is not None:
            if len(clip.words) > limits.max_caption_words:
                yield Problem(f"{path}.words", f"{len(clip.words)} words is over the limit of "
                                               f"{limits.max_caption_words}")
                continue
            font = None if is_font_file(clip.font) else _family(clip.font, clip.bold)
            if font:
                words = [cap.TimedWord(w.text, w.start, w.end) for w in clip.words]
                states = cap.states(cap.group_phrases(words, clip.max_words), clip.style,
                                    uppercase=clip.uppercase)
                yield from caption_problems(path, clip, states=states, canvas=canvas, font_file=font,
                                            limits=limits)


def item_states(item: VisualItem, plan: Plan) -> list[tuple[int, int, cap.CaptionState]]:
    """The caption states of ``item`` that are on screen: inside the clip and before the output ends
    (a captions file may run far past a short output; those states are never measured or drawn)."""
    assert isinstance(item.clip, CaptionsClip)
    frames = min(item.span.frames, plan.first + plan.frames - item.span.start)
    out = []
    for state in cap.states(item.phrases, item.clip.style, uppercase=item.clip.uppercase):
        shown = shown_frames(state, plan.canvas, frames)
        if shown is not None:
            out.append((*shown, state))
    return out


def item_problems(item: VisualItem, plan: Plan, *, fonts: Mapping[str, Path], limits: Limits
                  ) -> Iterator[Problem]:
    """The picture of one item of ``plan`` over the cap, measured with the font it will be drawn with."""
    clip, canvas = item.clip, plan.canvas
    if isinstance(clip, ColorClip):
        yield from color_problems(item.path, clip, canvas, limits)
    elif isinstance(clip, TextClip):
        font = font_path(clip.style.font, clip.style.bold, fonts)
        yield from text_problems(item.path, clip, canvas, font, limits)
    elif isinstance(clip, CaptionsClip) and clip.style != "none":
        states = [state for _, _, state in item_states(item, plan)]
        font = font_path(clip.font, clip.bold, fonts)
        yield from caption_problems(item.path, clip, states=states, canvas=canvas, font_file=font, limits=limits)


def plan_problems(plan: Plan, *, fonts: Mapping[str, Path], limits: Limits) -> list[Problem]:
    """Every picture of ``plan`` over the cap, measured with the fonts it will be drawn with."""
    return [problem for item in plan.visuals for problem in item_problems(item, plan, fonts=fonts, limits=limits)]
