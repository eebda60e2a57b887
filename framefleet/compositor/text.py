"""Rasterising text and caption pictures with Pillow, in every script.

Text is drawn once per distinct picture (a title, one caption state) into an RGBA PNG; ffmpeg then only
overlays it. Measured against libass on the benchmark timeline the per-frame cost is the overlay alone,
and Pillow gives exact control over stroke, boxes and per-word highlight that tests can check by pixel.
Style sizes are written for a 1080 px short side and multiplied by the canvas ``unit``.

A picture is laid out in four steps, all without drawing (sizes are checked against the pixel cap
before anything is drawn): each word is split into parts by the font that has its characters
(:mod:`fonts`: the chosen font, then fontconfig's fallbacks; colour emoji from a bitmap font drawn at
its one size and scaled); words are cut at the Unicode break opportunities (:mod:`linebreak`: CJK
between characters) and wrapped to ``max_width``; each line is put in the Unicode bidi order
(:mod:`bidi`), so a caption highlight travels with its word in right-to-left text; raqm (HarfBuzz)
shapes each part in its direction when it is drawn.
"""

from __future__ import annotations

import functools
import math
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from framefleet.compositor import bidi, fonts
from framefleet.compositor.linebreak import attaches, pieces, split_words, unspaced
from framefleet.errors import BadInput

_FALLBACKS = {
    False: ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"],
    True: ["/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"],
}
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".woff", ".woff2")

RGBA = tuple[int, int, int, int]


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


def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return fonts.load(path, size)


def check_size(width: int, height: int, *, max_pixels: int) -> None:
    """Refuse a picture over ``max_pixels`` before it is allocated (validation refuses such specs first,
    at the clip's path; this is the backstop every drawn picture passes)."""
    if width * height > max_pixels:
        raise BadInput(f"a {width}x{height} picture is over the limit of {max_pixels} pixels")


def blank(width: int, height: int, *, max_pixels: int) -> Image.Image:
    """A transparent picture. Every picture framefleet draws with Pillow starts here, so none is ever
    allocated over ``max_pixels``."""
    check_size(width, height, max_pixels=max_pixels)
    return Image.new("RGBA", (width, height), (0, 0, 0, 0))


@dataclass(frozen=True)
class Run:
    """A word and how to draw it; ``joined`` words follow the one before with no space (CJK)."""

    text: str
    font: ImageFont.FreeTypeFont
    fill: RGBA
    joined: bool = False


@dataclass(frozen=True)
class Look:
    """Drawing settings shared by a block of text, already in output pixels."""

    max_width: int
    stroke_width: int = 0
    stroke_fill: RGBA | None = None
    background: RGBA | None = None
    padding: int = 0
    align: str = "center"
    line_spacing: float = 1.15


def rgba(color: str) -> RGBA:
    """``#rrggbbaa`` (the spec model's normal form) → a tuple."""
    value = color.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16), int(value[6:8] or "ff", 16))


@dataclass(frozen=True)
class Ink:
    """A font at the size it is drawn; a colour bitmap font is drawn at its one size and scaled."""

    font: ImageFont.FreeTypeFont
    scale: float = 1.0
    color: bool = False

    @functools.cached_property
    def ascent(self) -> int:
        return math.ceil(self.font.getmetrics()[0] * self.scale)

    @functools.cached_property
    def descent(self) -> int:
        return math.ceil(self.font.getmetrics()[1] * self.scale)


@functools.lru_cache(maxsize=1024)
def _ink(face: fonts.Face, size: int) -> Ink:
    """A fallback face at ``size``. A colour font that has outlines (COLR) is drawn at ``size``; one
    with bitmaps only (CBDT: Noto Color Emoji) refuses other sizes and is drawn at its strike."""
    if not face.color:
        return Ink(fonts.load(face.path, size, face.index))
    try:
        return Ink(fonts.load(face.path, size, face.index), 1.0, True)
    except OSError:
        if not face.strike:
            raise
    return Ink(fonts.load(face.path, face.strike, face.index), size / face.strike, True)


@functools.lru_cache(maxsize=65_536)
def _advance(font: ImageFont.FreeTypeFont, text: str, direction: str | None = None,
             language: str | None = None) -> float:
    """A part's width: captions repeat the same words in every state of a phrase, so measuring a
    thousand states costs one FreeType call per distinct word and font, not one per appearance."""
    if not fonts.shaping():
        return font.getlength(text)
    return font.getlength(text, direction=direction, language=language)


@functools.lru_cache(maxsize=65_536)
def _parts(text: str, font: ImageFont.FreeTypeFont) -> tuple[tuple[str, Ink], ...]:
    """``text`` cut where the font that has its characters changes (marks and joiners stay with their
    character, so an emoji sequence or an accented letter is never split)."""
    chain = fonts.chain_of(font)
    cut: list[tuple[str, fonts.Face]] = []
    current: fonts.Face | None = None
    start = 0
    for i, ch in enumerate(text):
        if current is not None and attaches(ch):
            continue
        following = ord(text[i + 1]) if i + 1 < len(text) else 0
        face = chain.face(ord(ch), following=following, current=current)
        if face is not current:
            if current is not None:
                cut.append((text[start:i], current))
            current, start = face, i
    if current is not None:
        cut.append((text[start:], current))
    own = Ink(font)
    out = []
    for part, face in cut:
        try:
            out.append((part, own if face is chain.faces[0] else _ink(face, font.size)))
        except OSError:  # an installed font FreeType cannot open: its characters stay boxes, no failure
            out.append((part, own))
    return tuple(out)


def _language(text: str) -> str | None:
    """The language CJK glyph forms are picked for (one character, many forms): Japanese where kana
    appear, Korean where Hangul does, Chinese for Han alone."""
    if text.isascii():
        return None
    if any("\u3040" <= ch <= "\u30ff" for ch in text):
        return "ja"
    if any("\uac00" <= ch <= "\ud7a3" for ch in text):
        return "ko"
    if any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return "zh"
    return None


@dataclass(frozen=True)
class Piece:
    """An unbreakable piece of a word, with its run and whether a space comes before it."""

    text: str
    run: int
    spaced: bool
    width: float


@dataclass(frozen=True)
class Segment:
    """Text drawn in one call: one font, one colour, one direction."""

    text: str
    ink: Ink
    fill: RGBA
    rtl: bool
    width: float
    language: str | None = None


@dataclass(frozen=True)
class Line:
    segments: tuple[Segment, ...]  # left to right, as drawn
    ascent: int
    descent: int
    width: float


def _pieces(runs: Sequence[Run], language: str | None) -> list[Piece]:
    out = []
    for n, run in enumerate(runs):
        for w, word in enumerate(split_words(run.text)):
            for p, piece in enumerate(pieces(word)):
                spaced = p == 0 and (w > 0 or (n > 0 and not run.joined))
                width = sum(_advance(ink.font, part, None, language) * ink.scale
                            for part, ink in _parts(piece, run.font))
                out.append(Piece(piece, n, spaced, width))
    return out


def _wrap(pieces_: Sequence[Piece], runs: Sequence[Run], room: float, language: str | None
          ) -> list[list[Piece]]:
    """Greedy wrap to ``room`` at break opportunities; a piece wider than the line gets a line of its own."""
    lines: list[list[Piece]] = []
    line: list[Piece] = []
    width = 0.0
    for piece in pieces_:
        space = _advance(runs[piece.run].font, " ", None, language) if line and piece.spaced else 0.0
        if line and width + space + piece.width > room:
            lines.append(line)
            line, width, space = [], 0.0, 0.0
        line.append(piece)
        width += space + piece.width
    lines.append(line)
    return lines


def _line(line: Sequence[Piece], runs: Sequence[Run], base: int, language: str | None) -> Line:
    """One wrapped line as segments in visual order (the Unicode bidi order of UAX #9)."""
    chars: list[tuple[str, Ink, RGBA]] = []
    for i, piece in enumerate(line):
        run = runs[piece.run]
        if piece.spaced and i:
            chars.append((" ", Ink(run.font), run.fill))
        for part, ink in _parts(piece.text, run.font):
            chars += [(ch, ink, run.fill) for ch in part]
    text = "".join(ch for ch, _, _ in chars)
    levels = [base] * len(text) if base == 0 and text.isascii() else bidi.levels(text, base)
    grouped: list[tuple[int, int, int]] = []  # start, end, level
    for i in range(len(chars)):
        if grouped and levels[i] == grouped[-1][2] and chars[i][1:] == chars[grouped[-1][0]][1:]:
            grouped[-1] = (grouped[-1][0], i + 1, levels[i])
        else:
            grouped.append((i, i + 1, levels[i]))
    segments = []
    for start, end, level in grouped:
        ink, fill, rtl = chars[start][1], chars[start][2], level % 2 == 1
        width = _advance(ink.font, text[start:end], "rtl" if rtl else "ltr", language) * ink.scale
        segments.append(Segment(text[start:end], ink, fill, rtl, width, language))
    ordered = tuple(segments[i] for i in bidi.visual_order([g[2] for g in grouped]))
    inks = [s.ink for s in segments]
    return Line(ordered, max((k.ascent for k in inks), default=0), max((k.descent for k in inks), default=0),
                sum(s.width for s in segments))


@dataclass(frozen=True)
class Layout:
    """Words placed in lines, measured but not drawn: sizing a thousand caption states costs no pixels."""

    lines: list[Line]
    heights: list[int]
    text_width: float
    width: int
    height: int


def layout_runs(paragraphs: Sequence[Sequence[Run]], look: Look) -> Layout:
    """Lay out words in lines (wrapped to ``look.max_width``) and measure the picture they need."""
    room = max(1, look.max_width - 2 * (look.padding + look.stroke_width))
    lines: list[Line] = []
    for runs in paragraphs:
        joined = " ".join(run.text for run in runs)
        base, language = bidi.base_level(joined), _language(joined)
        for wrapped in _wrap(_pieces(runs, language), runs, room, language):
            lines.append(_line(wrapped, runs, base, language))
    stroke, pad = look.stroke_width, look.padding
    text_w = max((line.width for line in lines), default=0)
    heights = [round((ln.ascent + ln.descent) * look.line_spacing) if i < len(lines) - 1
               else ln.ascent + ln.descent for i, ln in enumerate(lines)]
    width = round(text_w) + 2 * (stroke + pad)
    height = sum(heights) + 2 * (stroke + pad)
    return Layout(lines, heights, text_w, max(2, width), max(2, height))


def _composite(image: Image.Image, picture: Image.Image, left: int, top: int) -> None:
    """Alpha-composite ``picture`` at ``(left, top)``, the parts outside ``image`` cut off."""
    box = (max(0, -left), max(0, -top), min(picture.width, image.width - left),
           min(picture.height, image.height - top))
    if box[2] > box[0] and box[3] > box[1]:
        image.alpha_composite(picture, (left + box[0], top + box[1]), box)


#: No emoji sequence (family, flag, keycap, skin tone) is longer than this many code points.
_LONGEST_EMOJI = 16


def _clusters(text: str) -> list[str]:
    """The emoji of a colour segment, each with its joiners, modifiers and selectors; a chain of joiners
    longer than any real sequence is cut, so no strike picture grows with the customer's text."""
    out: list[str] = []
    for cluster in pieces(text):
        out += [cluster[i:i + _LONGEST_EMOJI] for i in range(0, len(cluster), _LONGEST_EMOJI)]
    return out


@functools.lru_cache(maxsize=512)
def _emoji(cluster: str, ink: Ink, max_pixels: int) -> Image.Image:
    """One emoji (a sequence: 👩‍💻, 👍🏽, 🇫🇷) drawn in colour at its font's one size, then scaled."""
    font = ink.font
    ascent, descent = font.getmetrics()
    strike = blank(max(1, math.ceil(font.getlength(cluster))), ascent + descent, max_pixels=max_pixels)
    ImageDraw.Draw(strike).text((0, ascent), cluster, font=font, anchor="ls", embedded_color=True)
    size = (max(1, round(strike.width * ink.scale)), max(1, round(strike.height * ink.scale)))
    return strike.resize(size, Image.Resampling.LANCZOS)


def _draw_segment(image: Image.Image, segment: Segment, at: tuple[float, float], *, look: Look,
                  max_pixels: int) -> None:
    """Draw one segment with its left end at ``x`` and its baseline at ``baseline``."""
    x, baseline = at
    ink = segment.ink
    if ink.color:
        clusters = _clusters(segment.text)
        cursor = x
        for cluster in reversed(clusters) if segment.rtl else clusters:
            picture = _emoji(cluster, ink, max_pixels)
            _composite(image, picture, round(cursor), round(baseline - ink.font.getmetrics()[0] * ink.scale))
            cursor += ink.font.getlength(cluster) * ink.scale
        return
    shaped = fonts.shaping()
    ImageDraw.Draw(image).text(
        (x, baseline), segment.text, font=ink.font, fill=segment.fill, anchor="ls",
        direction=("rtl" if segment.rtl else "ltr") if shaped else None,
        language=segment.language if shaped else None,
        stroke_width=look.stroke_width, stroke_fill=look.stroke_fill or segment.fill)


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
    for line, line_h in zip(layout.lines, layout.heights, strict=True):
        free = layout.text_width - line.width
        x = left + stroke + pad + {"left": 0.0, "right": free}.get(look.align, free / 2)
        for segment in line.segments:
            _draw_segment(image, segment, (x, y + line.ascent), look=look, max_pixels=max_pixels)
            x += segment.width
        y += line_h
    return image


def text_paragraphs(text: str, *, font_file: str, size: int, fill: RGBA,
                    uppercase: bool = False) -> list[list[Run]]:
    """A text clip's words by paragraph: explicit line breaks kept (every break ``str.splitlines``
    knows), other breaking white space between words (a no-break space joins two words)."""
    font = _font(font_file, size)
    body = text.upper() if uppercase else text
    return [[Run(word, font, fill) for word in split_words(para)] for para in body.splitlines()] or [[]]


def text_image(text: str, *, font_file: str, size: int, fill: RGBA, look: Look,
               max_pixels: int, uppercase: bool = False) -> Image.Image:
    """A text clip's picture: explicit newlines kept, long lines wrapped at break opportunities."""
    paragraphs = text_paragraphs(text, font_file=font_file, size=size, fill=fill, uppercase=uppercase)
    return draw_runs(paragraphs, look, max_pixels=max_pixels)


def caption_image(words: Sequence[str], active: int, *, style: str, font_file: str, size: int,
                  fill: RGBA, highlight: RGBA, look: Look, max_pixels: int) -> Image.Image:
    """One caption state: ``bold-pop`` enlarges and colours the active word, ``karaoke`` colours the
    words spoken so far, ``word`` and ``clean`` draw plain text."""
    return draw_runs([caption_runs(words, active, style=style, font_file=font_file, size=size, fill=fill,
                                   highlight=highlight)], look, max_pixels=max_pixels)


def caption_runs(words: Sequence[str], active: int, *, style: str, font_file: str, size: int,
                 fill: RGBA, highlight: RGBA) -> list[Run]:
    """The words of one caption state with their fonts and colours (see :func:`caption_image`). Words
    keep their logical order: the highlight follows its word wherever bidi puts it on the line."""
    base = _font(font_file, size)
    pop = _font(font_file, round(size * 1.18))
    runs = []
    for i, word in enumerate(words):
        joined = i > 0 and unspaced(words[i - 1], word)
        if style == "bold-pop" and i == active:
            runs.append(Run(word, pop, highlight, joined))
        elif style == "karaoke" and active >= 0 and i <= active:
            runs.append(Run(word, base, highlight, joined))
        else:
            runs.append(Run(word, base, fill, joined))
    return runs


def pad_to(image: Image.Image, width: int, height: int, *, max_pixels: int) -> Image.Image:
    """Centre ``image`` on a transparent ``width``×``height`` picture (caption states share one size)."""
    if image.size == (width, height):
        return image
    canvas = blank(width, height, max_pixels=max_pixels)
    canvas.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
    return canvas
