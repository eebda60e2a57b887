"""Where a line of text may break: the essentials of Unicode line breaking (UAX #14).

Words are first split at breaking white space (LB7/LB18: a break after spaces); no-break spaces
(U+00A0 ``&nbsp;``, U+202F, U+2007, U+2060 word joiner: class GL, LB12) keep their neighbours together.
Inside a word a break is allowed only around ideographic characters (class ID: Han, kana, Hangul
syllables, full-width forms, emoji pictographs; LB31), because Chinese and Japanese run without spaces
and would otherwise overflow ``max_width``. Even there it is refused

- before combining marks, joiners, variation selectors and emoji modifiers (CM, ZWJ, EM: LB8a, LB9,
  LB30b), so a character is never parted from its accents or an emoji sequence split;
- before closing punctuation, full stops and commas, CJK small kana and iteration marks, ``!`` and
  ``?`` (CL, CP, IS, EX, NS: LB13, LB16, LB21): ``語。`` stays one piece, a line never starts with ``、``;
- after opening punctuation (OP: LB14): ``「日`` stays one piece.

What is left out, and why: hyphen and dictionary breaks. Latin words break only at spaces, as they
always did in framefleet; Thai, Lao, Khmer and Burmese (class SA) need a word dictionary to break
inside a phrase, so an unspaced phrase in those scripts is kept whole (a phrase wider than the line
gets a line of its own, like any over-long word). Every function is one linear pass over its text.
"""

from __future__ import annotations

import functools
import re
import unicodedata

#: White space that does not allow a break (GL); every other white space character does.
NO_BREAK_SPACES = "\u00a0\u202f\u2007\u2060\ufeff"
_BREAKING_SPACE = re.compile(f"[^\\S{NO_BREAK_SPACES}]+")
#: No break before these (CL, CP, IS, EX, NS and ellipses IN): closing brackets and quotes, full stops,
#: commas, small kana, prolonged sound and iteration marks.
_NO_BREAK_BEFORE = frozenset(
    ")]}!?,.:;%…‥"
    "、。，．：；！？）］｝〕〉》」』】〙〗〟｠｣"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ"
    "ー々〻ゝゞヽヾ・゛゜‼⁇⁈⁉"
)
#: No break after these (OP): opening brackets and quotes.
_NO_BREAK_AFTER = frozenset("([{¿¡（［｛〔〈《「『【〘〖〝｟｢")
#: Ideographic ranges (ID), inclusive: a break is allowed before and after each character.
_IDEOGRAPHIC = (
    (0x2E80, 0x2FFF), (0x3000, 0x303F), (0x3040, 0x30FF), (0x3100, 0x31FF), (0x3200, 0x4DBF),
    (0x4E00, 0x9FFF), (0xA000, 0xA4CF), (0xAC00, 0xD7A3), (0xF900, 0xFAFF), (0xFE30, 0xFE4F),
    (0xFF00, 0xFF60), (0xFFE0, 0xFFE6), (0x1F000, 0x1FAFF), (0x20000, 0x3FFFD),
)
#: Han and kana (not Hangul: Korean is written with spaces between words).
_UNSPACED = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFD))


def split_words(text: str) -> list[str]:
    """``text`` split at breaking white space; no-break spaces stay inside their word."""
    return [word for word in _BREAKING_SPACE.split(text) if word]


def clean_spaces(text: str) -> str:
    """Every run of breaking white space (line breaks included) as one space, ends trimmed; no-break
    spaces kept, so ``10&nbsp;km`` is never parted."""
    return " ".join(split_words(text))


def _in(cp: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


def ideographic(ch: str) -> bool:
    return _in(ord(ch), _IDEOGRAPHIC) and ch not in _NO_BREAK_BEFORE and ch not in _NO_BREAK_AFTER


def attaches(ch: str) -> bool:
    """A character that belongs to the one before it: combining marks, joiners, variation selectors,
    emoji modifiers and tags, format characters (LB9: never a break, never a font change of its own)."""
    cp = ord(ch)
    return (unicodedata.category(ch) in ("Mn", "Mc", "Me", "Cf")
            or 0xFE00 <= cp <= 0xFE0F or 0x1F3FB <= cp <= 0x1F3FF or 0xE0000 <= cp <= 0xE01EF)


def _breakable(prev: str, ch: str) -> bool:
    """A break between two base characters (marks and joiners after ``prev`` never break: LB8a, LB9)."""
    if ch in NO_BREAK_SPACES or prev in NO_BREAK_SPACES:
        return False
    if ch in _NO_BREAK_BEFORE or prev in _NO_BREAK_AFTER:
        return False
    return ideographic(prev) or ideographic(ch)


@functools.lru_cache(maxsize=16_384)
def pieces(word: str) -> tuple[str, ...]:
    """A word without breaking spaces cut at its break opportunities: ``日本語。`` → ``日 本 語。``.
    A Latin word is one piece. (Cached: caption states repeat the same words.)"""
    out: list[str] = []
    start = 0
    last = ""  # the last character that does not attach to the one before it
    for i, ch in enumerate(word):
        if attaches(ch):
            continue
        if last and word[i - 1] != "\u200d" and _breakable(last, ch):
            out.append(word[start:i])
            start = i
        last = ch
    out.append(word[start:])
    return tuple(p for p in out if p)


def unspaced(left: str, right: str) -> bool:
    """Two words that join without a space between them: Chinese and Japanese words (caption files
    from speech recognition give one word per token, and a space there would be a typo)."""
    return bool(left and right) and _in(ord(left[-1]), _UNSPACED) and _in(ord(right[0]), _UNSPACED)
