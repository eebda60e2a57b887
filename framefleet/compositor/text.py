"""Rasterising text and caption pictures with Pillow.

Text is drawn once per distinct picture (a title, one caption state) into an RGBA PNG; ffmpeg then only
overlays it. Measured against libass on the benchmark timeline the per-frame cost is the overlay alone,
and Pillow gives exact control over stroke, boxes and per-word highlight that tests can check by pixel.
Style sizes are written for a 1080 px short side and multiplied by the canvas ``unit``.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from framefleet.errors import BadInput

_FALLBACKS = {
    False: ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"],
    True: ["/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"],
}
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".woff", ".woff2")


def is_font_file(font: str) -> bool:
    """A ``font`` that names a file (a path or URL to .ttf/.otf/…) rather than a family: it is a source,
    fetched like any other (local root rules, download cache)."""
    return font.lower().split("?", 1)[0].endswith(_FONT_SUFFIXES)


@functools.lru_cache(maxsize=128)
def find_font(font: str, bold: bool = False) -> str:
    """A font file for a family name, through fontconfig; unknown families fall back to a sans."""
    if shutil.which("fc-match"):
        pattern = f"{font}:weight=bold" if bold else f"{font}:weight=regular"
        done = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True,
                              check=False, timeout=10)
        if done.returncode == 0 and done.stdout.strip() and Path(done.stdout.strip()).is_file():
            return done.stdout.strip()
    for candidate in _FALLBACKS[bold]:
        if Path(candidate).is_file():
            return candidate
    raise BadInput(f"no font found for {font!r}; install fonts or give a font file")


@functools.lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size=max(1, size))


@functools.lru_cache(maxsize=65_536)
def _advance(font: ImageFont.FreeTypeFont, text: str) -> float:
    """A word's width: captions repeat the same words in every state of a phrase, so measuring a
    thousand states costs one FreeType call per distinct word and font, not one per appearance."""
    return font.getlength(text)


def blank(width: int, height: int, *, max_pixels: int) -> Image.Image:
    """A transparent picture. Every picture framefleet draws starts here, so none is ever allocated
    over ``max_pixels`` (validation refuses such specs first, at the clip's path; this is the backstop)."""
    if width * height > max_pixels:
        raise BadInput(f"a {width}x{height} picture is over the limit of {max_pixels} pixels")
    return Image.new("RGBA", (width, height), (0, 0, 0, 0))


@dataclass(frozen=True)
class Run:
    """A word and how to draw it."""

    text: str
    font: ImageFont.FreeTypeFont
    fill: tuple[int, int, int, int]


@dataclass(frozen=True)
class Look:
    """Drawing settings shared by a block of text, already in output pixels."""

    max_width: int
    stroke_width: int = 0
    stroke_fill: tuple[int, int, int, int] | None = None
    background: tuple[int, int, int, int] | None = None
    padding: int = 0
    align: str = "center"
    line_spacing: float = 1.15


def rgba(color: str) -> tuple[int, int, int, int]:
    """``#rrggbbaa`` (the spec model's normal form) → a tuple."""
    value = color.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16), int(value[6:8] or "ff", 16))


def _wrap(paragraphs: Sequence[Sequence[Run]], look: Look) -> list[list[Run]]:
    """Greedy word wrap to ``max_width``; a word wider than the line gets a line of its own."""
    room = max(1, look.max_width - 2 * (look.padding + look.stroke_width))
    lines: list[list[Run]] = []
    for runs in paragraphs:
        line: list[Run] = []
        width = 0.0
        for run in runs:
            word = _advance(run.font, run.text)
            space = _advance(run.font, " ") if line else 0.0
            if line and width + space + word > room:
                lines.append(line)
                line, width, space = [], 0.0, 0.0
            line.append(run)
            width += space + word
        lines.append(line)
    return lines


@dataclass(frozen=True)
class Layout:
    """Words placed in lines, measured but not drawn: sizing a thousand caption states costs no pixels."""

    lines: list[list[Run]]
    metrics: list[tuple[int, int, list[float], list[float], float]]  # ascent, descent, widths, spaces, width
    heights: list[int]
    text_width: float
    width: int
    height: int


def layout_runs(paragraphs: Sequence[Sequence[Run]], look: Look) -> Layout:
    """Lay out words in lines (wrapped to ``look.max_width``) and measure the picture they need."""
    lines = _wrap(paragraphs, look)
    stroke, pad = look.stroke_width, look.padding
    metrics = []
    for line in lines:
        fonts = [r.font for r in line]
        ascent = max((f.getmetrics()[0] for f in fonts), default=0)
        descent = max((f.getmetrics()[1] for f in fonts), default=0)
        widths = [_advance(r.font, r.text) for r in line]
        spaces = [_advance(r.font, " ") for r in line[1:]]
        metrics.append((ascent, descent, widths, spaces, sum(widths) + sum(spaces)))
    text_w = max((m[4] for m in metrics), default=0)
    heights = [round((a + d) * look.line_spacing) if i < len(metrics) - 1 else a + d
               for i, (a, d, *_rest) in enumerate(metrics)]
    width = round(text_w) + 2 * (stroke + pad)
    height = sum(heights) + 2 * (stroke + pad)
    return Layout(lines, metrics, heights, text_w, max(2, width), max(2, height))


def draw_runs(paragraphs: Sequence[Sequence[Run]], look: Look, *, max_pixels: int,
              size: tuple[int, int] | None = None) -> Image.Image:
    """Draw words (stroke, optional box) on a tight transparent image, or centred on one of ``size``."""
    layout = layout_runs(paragraphs, look)
    stroke, pad = look.stroke_width, look.padding
    width, height = layout.width, layout.height
    image = blank(*(size or (width, height)), max_pixels=max_pixels)
    left, top = ((size[0] - width) // 2, (size[1] - height) // 2) if size else (0, 0)
    draw = ImageDraw.Draw(image)
    if look.background:
        radius = int(min(width, height) * 0.12)
        draw.rounded_rectangle([left, top, left + width - 1, top + height - 1], radius=radius,
                               fill=look.background)
    y = top + stroke + pad
    text_w = layout.text_width
    for line, (ascent, _descent, widths, spaces, line_w), line_h in zip(layout.lines, layout.metrics,
                                                                           layout.heights, strict=True):
        free = text_w - line_w
        x = left + stroke + pad + {"left": 0.0, "right": free}.get(look.align, free / 2)
        for i, run in enumerate(line):
            draw.text((x, y + ascent), run.text, font=run.font, fill=run.fill, anchor="ls",
                      stroke_width=stroke, stroke_fill=look.stroke_fill or run.fill)
            x += widths[i] + (spaces[i] if i < len(spaces) else 0)
        y += line_h
    return image


def text_paragraphs(text: str, *, font_file: str, size: int, fill: tuple[int, int, int, int],
                    uppercase: bool = False) -> list[list[Run]]:
    """A text clip's words by paragraph: explicit line breaks kept (every break ``str.splitlines``
    knows), other white space between words."""
    font = _font(font_file, size)
    body = text.upper() if uppercase else text
    return [[Run(word, font, fill) for word in para.split()] for para in body.splitlines()] or [[]]


def text_image(text: str, *, font_file: str, size: int, fill: tuple[int, int, int, int], look: Look,
               max_pixels: int, uppercase: bool = False) -> Image.Image:
    """A text clip's picture: explicit newlines kept, long lines wrapped by word."""
    paragraphs = text_paragraphs(text, font_file=font_file, size=size, fill=fill, uppercase=uppercase)
    return draw_runs(paragraphs, look, max_pixels=max_pixels)


def caption_image(words: Sequence[str], active: int, *, style: str, font_file: str, size: int,
                  fill: tuple[int, int, int, int], highlight: tuple[int, int, int, int],
                  look: Look, max_pixels: int) -> Image.Image:
    """One caption state: ``bold-pop`` enlarges and colours the active word, ``karaoke`` colours the
    words spoken so far, ``word`` and ``clean`` draw plain text."""
    return draw_runs([caption_runs(words, active, style=style, font_file=font_file, size=size, fill=fill,
                                   highlight=highlight)], look, max_pixels=max_pixels)


def caption_runs(words: Sequence[str], active: int, *, style: str, font_file: str, size: int,
                 fill: tuple[int, int, int, int], highlight: tuple[int, int, int, int]) -> list[Run]:
    """The words of one caption state with their fonts and colours (see :func:`caption_image`)."""
    base = _font(font_file, size)
    pop = _font(font_file, round(size * 1.18))
    runs = []
    for i, word in enumerate(words):
        if style == "bold-pop" and i == active:
            runs.append(Run(word, pop, highlight))
        elif style == "karaoke" and active >= 0 and i <= active:
            runs.append(Run(word, base, highlight))
        else:
            runs.append(Run(word, base, fill))
    return runs


def pad_to(image: Image.Image, width: int, height: int, *, max_pixels: int) -> Image.Image:
    """Centre ``image`` on a transparent ``width``×``height`` picture (caption states share one size)."""
    if image.size == (width, height):
        return image
    canvas = blank(width, height, max_pixels=max_pixels)
    canvas.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
    return canvas
