"""Which font draws each character: the chosen font first, then fontconfig's fallback chain.

A text clip names one font, but no font has every script: DejaVu Sans has no CJK and no emoji. Like a
browser, framefleet draws each character with the first font of a chain that has it: the chosen font,
then the fonts fontconfig sorts after ``sans-serif`` (``fc-match --sort``, trimmed to the fonts that add
characters), so whatever fonts a machine has installed are used, Noto above all (the Makefile and the
Dockerfiles install Noto Color Emoji, Noto CJK and Noto core). Emoji prefer a colour font even where a
text font has a black-and-white glyph for them.

fontconfig is asked once per process for the chain (one ``fc-match`` call, the character sets of every
font in it) and once per font file for its character set (``fc-query``); lookups after that are a
binary search. Without fontconfig the chain is the chosen font alone, as before.
"""

from __future__ import annotations

import bisect
import functools
import os
import shutil
import subprocess
from dataclasses import dataclass, field

from PIL import ImageFont, features

_FORMAT = "%{file}\\t%{index}\\t%{color}\\t%{pixelsize}\\t%{charset}\\n"
_TIMEOUT = 10


@dataclass(frozen=True)
class Coverage:
    """A font's characters, as sorted inclusive ranges of code points."""

    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()
    everything: bool = False  # unknown coverage: trust the font with every character

    def __contains__(self, cp: int) -> bool:
        if self.everything:
            return True
        i = bisect.bisect_right(self.starts, cp) - 1
        return i >= 0 and cp <= self.ends[i]


def parse_charset(text: str) -> Coverage:
    """fontconfig's ``%{charset}`` (``20-7e a0-17f 2010``, hexadecimal) as a :class:`Coverage`."""
    starts, ends = [], []
    for item in text.split():
        lo, _, hi = item.partition("-")
        try:
            start, end = int(lo, 16), int(hi or lo, 16)
        except ValueError:
            continue
        starts.append(start)
        ends.append(end)
    pairs = sorted(zip(starts, ends, strict=True))
    return Coverage(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))


@dataclass(frozen=True)
class Face:
    """One font of a chain. A colour bitmap font (Noto Color Emoji) has one size, ``strike``: it is
    drawn at that size with its own colours and scaled to the size asked for."""

    path: str
    index: int = 0
    color: bool = False
    strike: int | None = None
    coverage: Coverage = field(default=Coverage(everything=True), compare=False, hash=False)


def _run(cmd: list[str]) -> str:
    if not shutil.which(cmd[0]):
        return ""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


def _faces(listing: str) -> list[Face]:
    faces = []
    for line in listing.splitlines():
        parts = line.split("\t")
        if len(parts) != 5 or not parts[0]:
            continue
        path, index, color, pixelsize, charset = parts
        is_color = color == "True"
        try:
            strike = round(float(pixelsize)) if is_color else None
            number = int(index or 0)
        except ValueError:
            continue
        faces.append(Face(path, number, is_color, strike, parse_charset(charset)))
    return faces


@functools.lru_cache(maxsize=2)
def fallbacks(bold: bool) -> tuple[Face, ...]:
    """fontconfig's chain after ``sans-serif`` (bold or regular), fonts that add no character trimmed."""
    pattern = f"sans-serif:weight={'bold' if bold else 'regular'}"
    return tuple(_faces(_run(["fc-match", "--sort", "--format", _FORMAT, pattern])))


@functools.lru_cache(maxsize=128)
def _coverage(path: str, index: int) -> Coverage:
    listing = _run(["fc-query", "--index", str(index), "--format", "%{charset}", os.path.abspath(path)])
    return parse_charset(listing) if listing.strip() else Coverage(everything=True)


def _emoji(cp: int, following: int) -> bool:
    """Shown as emoji: pictographs, flags and keycaps (U+1F000 and above), or any character asked for
    in emoji presentation (followed by U+FE0F)."""
    return 0x1F000 <= cp <= 0x1FAFF or following == 0xFE0F


@dataclass(frozen=True)
class Chain:
    """The chosen font, then its fallbacks."""

    faces: tuple[Face, ...]

    def face(self, cp: int, *, following: int = 0, current: Face | None = None) -> Face:
        """The face that draws ``cp``: a colour font for emoji where one has it; otherwise ``current``
        (the face of the character before) when it is a fallback that has it, so a word in one script
        stays in one font and is shaped as one; otherwise the first face that has it. A character no
        face has is drawn (as a box) by the chosen font."""
        if _emoji(cp, following):
            for face in self.faces:
                if face.color and cp in face.coverage:
                    return face
        if current is not None and current is not self.faces[0] and cp in current.coverage:
            return current
        for face in self.faces:
            if cp in face.coverage:
                return face
        return self.faces[0]


@functools.lru_cache(maxsize=64)
def chain(path: str, index: int = 0, bold: bool = False) -> Chain:
    """The chain for a font file: the file itself (its characters read by fontconfig), then the
    system's fallbacks, each font once."""
    first = Face(path, index, coverage=_coverage(path, index))
    rest = tuple(f for f in fallbacks(bold) if (f.path, f.index) != (path, index))
    return Chain((first, *rest))


def chain_of(font: ImageFont.FreeTypeFont) -> Chain:
    """The chain for a loaded font (bold fallbacks for a bold font)."""
    style = font.getname()[1] or ""
    path = font.path if isinstance(font.path, str) else ""
    return chain(path, font.index, "bold" in style.lower())


@functools.cache
def shaping() -> bool:
    """Whether Pillow has raqm (HarfBuzz shaping, FriBiDi): Arabic joins and Devanagari conjuncts need it.
    Without it text is still drawn, unshaped, and directions cannot be set."""
    return bool(features.check_feature("raqm"))


@functools.lru_cache(maxsize=256)
def load(path: str, size: int, index: int = 0) -> ImageFont.FreeTypeFont:
    """A font file at a pixel size, laid out by raqm where Pillow has it."""
    engine = ImageFont.Layout.RAQM if shaping() else ImageFont.Layout.BASIC
    return ImageFont.truetype(path, size=max(1, size), index=index, layout_engine=engine)


#: A character of each script the fallback chain must draw, and the Debian package that has a font for it.
SCRIPTS = (
    ("emoji", "\U0001f525", "fonts-noto-color-emoji"),
    ("CJK", "\u8a9e", "fonts-noto-cjk"),
    ("Arabic", "\u0639", "fonts-noto-core"),
    ("Hebrew", "\u05e9", "fonts-noto-core"),
    ("Devanagari", "\u0915", "fonts-noto-core"),
    ("Thai", "\u0e01", "fonts-noto-core"),
)


def script_faces() -> list[tuple[str, Face | None, str]]:
    """For each script of :data:`SCRIPTS`: the fallback face that draws it for a font that lacks it
    (None where no font does, or emoji only in black and white), and the package to install for it."""
    faces = fallbacks(False)
    out: list[tuple[str, Face | None, str]] = []
    for name, sample, package in SCRIPTS:
        face = Chain(faces).face(ord(sample)) if faces else None
        usable = face is not None and ord(sample) in face.coverage and (face.color or name != "emoji")
        out.append((name, face if usable else None, package))
    return out
