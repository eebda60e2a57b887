"""Right-to-left text in the Unicode bidirectional order (UAX #9), for one line of drawn text.

Text is drawn in pieces (one font, one colour each: a highlighted caption word, an emoji from the
colour font), so the order of the pieces on the line must be worked out here; HarfBuzz (Pillow's raqm
layout) then shapes and mirrors each piece in its own direction. Covered: the paragraph direction from
its first strong character (P2, P3), weak types (W1-W7), neutrals (N1, N2), implicit levels (I1, I2)
and reordering (L2). Explicit embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) are
read as neutral characters: typed captions and titles hardly ever carry them, and the marks they do
carry (U+200E LRM, U+200F RLM, ``&lrm;``/``&rlm;`` in WebVTT) are strong characters and work.
Each function is one linear pass (reordering: one pass per level, at most three in practice).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

_NEUTRAL = frozenset({"B", "S", "WS", "ON", "BN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI",
                      "PDI"})


def base_level(text: str) -> int:
    """0 (left to right) or 1 (right to left): the direction of the first strong character."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind == "L":
            return 0
        if kind in ("R", "AL"):
            return 1
    return 0


def _weak(types: list[str], sor: str) -> None:
    """W1-W7 in place, for one run of text at one embedding level."""
    n = len(types)
    for i in range(n):  # W1: a mark takes the type of the character it is on
        if types[i] == "NSM":
            types[i] = types[i - 1] if i else sor
    strong = sor
    for i in range(n):  # W2 (European digits after Arabic letters are Arabic digits), W3
        kind = types[i]
        if kind in ("L", "R", "AL"):
            strong = kind
        elif kind == "EN" and strong == "AL":
            types[i] = "AN"
    types[:] = ["R" if kind == "AL" else kind for kind in types]
    for i in range(1, n - 1):  # W4: one separator between two numbers of a kind
        before, kind, after = types[i - 1], types[i], types[i + 1]
        if before == after and ((kind == "ES" and before == "EN") or (kind == "CS" and before in ("EN", "AN"))):
            types[i] = before
    i = 0
    while i < n:  # W5: terminators (currency, %) next to European digits
        if types[i] != "ET":
            i += 1
            continue
        j = i
        while j < n and types[j] == "ET":
            j += 1
        if (i and types[i - 1] == "EN") or (j < n and types[j] == "EN"):
            types[i:j] = ["EN"] * (j - i)
        i = j
    types[:] = ["ON" if kind in ("ES", "ET", "CS") else kind for kind in types]  # W6
    strong = sor
    for i in range(n):  # W7: European digits after Latin text are Latin
        if types[i] in ("L", "R"):
            strong = types[i]
        elif types[i] == "EN" and strong == "L":
            types[i] = "L"


def _neutrals(types: list[str], sor: str, embedding: str) -> None:
    """N1, N2 in place: a run of neutrals between two strong types of one direction takes it, any
    other takes the embedding direction. Numbers count as right-to-left here."""
    n = len(types)
    i = 0
    while i < n:
        if types[i] not in _NEUTRAL:
            i += 1
            continue
        j = i
        while j < n and types[j] in _NEUTRAL:
            j += 1
        before = "R" if i and types[i - 1] in ("R", "EN", "AN") else ("L" if i else sor)
        after = "R" if j < n and types[j] in ("R", "EN", "AN") else ("L" if j < n else sor)
        types[i:j] = [before if before == after else embedding] * (j - i)
        i = j


def levels(text: str, base: int) -> list[int]:
    """The embedding level of each character of ``text`` in a paragraph of level ``base`` (0 or 1)."""
    types = [unicodedata.bidirectional(ch) or "L" for ch in text]
    sor = "R" if base % 2 else "L"
    _weak(types, sor)
    _neutrals(types, sor, sor)
    out = []
    for kind in types:  # I1, I2
        if base % 2 == 0:
            out.append(base + (1 if kind == "R" else 2 if kind in ("AN", "EN") else 0))
        else:
            out.append(base + (1 if kind in ("L", "EN", "AN") else 0))
    return out


def visual_order(run_levels: Sequence[int]) -> list[int]:
    """L2: the indices of runs (each at one level) in the order they are drawn, left to right. From
    the highest level down to the lowest odd one, every stretch at that level or above is reversed."""
    order = list(range(len(run_levels)))
    if not order:
        return order
    lowest_odd = min(run_levels) | 1
    for level in range(max(run_levels), lowest_odd - 1, -1):
        i = 0
        while i < len(order):
            if run_levels[order[i]] < level:
                i += 1
                continue
            j = i
            while j < len(order) and run_levels[order[j]] >= level:
                j += 1
            order[i:j] = order[i:j][::-1]
            i = j
    return order
