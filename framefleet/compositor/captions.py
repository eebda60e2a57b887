"""Captions: read word timings (inline, SRT, WebVTT, JSON), group them into phrases, decide what is on screen.

The output of this module is a list of :class:`CaptionState` (text, which word is highlighted, and the
frame window it covers), which ``text.py`` rasterises and ``layers/captions.py`` turns into one stream.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from framefleet.errors import BadInput

#: Gaps shorter than this keep the previous caption on screen, so captions do not flicker between words.
HOLD_GAP = 0.5
_SENTENCE_END = re.compile(r"[.!?;:…]$|,$")
_TAG = re.compile(r"<[^>]+>|\{\\[^}]*\}")


@dataclass(frozen=True)
class TimedWord:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class CaptionState:
    """One picture of the captions: ``words`` shown, ``active`` highlighted (or -1), between two times."""

    words: tuple[str, ...]
    active: int
    start: float
    end: float


def _clock(value: str) -> float:
    parts = value.strip().replace(",", ".").split(":")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def _spread(text: str, start: float, end: float) -> list[TimedWord]:
    """Words of a cue with no word timing: share the cue's time in proportion to each word's length."""
    words = text.split()
    total = sum(len(w) + 1 for w in words) or 1
    out, t = [], start
    for word in words:
        share = (end - start) * (len(word) + 1) / total
        out.append(TimedWord(word, t, t + share))
        t += share
    return out


def parse_cues(text: str) -> list[list[TimedWord]]:
    """SRT or WebVTT text → one phrase (list of words) per cue."""
    phrases: list[list[TimedWord]] = []
    arrow = re.compile(r"((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})")
    for block in re.split(r"\r?\n\s*\r?\n", text.strip()):
        lines = block.splitlines()
        for i, line in enumerate(lines):
            match = arrow.search(line)
            if match:
                body = " ".join(_TAG.sub("", x).strip() for x in lines[i + 1:]).strip()
                start, end = _clock(match.group(1)), _clock(match.group(2))
                if body and end > start:
                    phrases.append(_spread(body, start, end))
                break
    return phrases


def parse_json_words(data: object) -> list[TimedWord]:
    """``[{text,start,end}]``, ``{"words": [...]}`` or Whisper-style ``{"segments": [{"words": [...]}]}``."""
    if isinstance(data, dict) and "segments" in data:
        data = [w for seg in data["segments"] for w in (seg.get("words") or [])]
    elif isinstance(data, dict):
        data = data.get("words")
    if not isinstance(data, list):
        raise BadInput("captions file holds no word list")
    words = []
    for item in data:
        if not isinstance(item, dict):
            raise BadInput("captions file: each word must be an object with text, start and end")
        text = str(item.get("text", item.get("word", ""))).strip()
        try:
            start, end = float(item["start"]), float(item["end"])
        except (KeyError, TypeError, ValueError):
            raise BadInput("captions file: each word needs numeric start and end") from None
        if text and end >= start >= 0:
            words.append(TimedWord(text, start, end))
    return words


def load_file(path: Path) -> list[list[TimedWord]]:
    """Read a captions file; returns phrases (SRT/VTT cues) or a single run of words (JSON) to group."""
    raw = path.read_text(encoding="utf-8-sig", errors="replace")
    stripped = raw.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return [parse_json_words(json.loads(raw))]
        except json.JSONDecodeError:
            raise BadInput("captions file is not valid JSON") from None
    phrases = parse_cues(raw)
    if not phrases:
        raise BadInput("captions file has no cues (expected SRT, WebVTT or JSON words)")
    return phrases


def group_phrases(words: Sequence[TimedWord], max_words: int) -> list[list[TimedWord]]:
    """Split a run of words into phrases: at most ``max_words``, breaking at pauses and sentence ends."""
    phrases: list[list[TimedWord]] = []
    current: list[TimedWord] = []
    for word in sorted(words, key=lambda w: w.start):
        if current and (len(current) >= max_words or word.start - current[-1].end > HOLD_GAP):
            phrases.append(current)
            current = []
        current.append(word)
        if _SENTENCE_END.search(word.text) and len(current) >= 1:
            phrases.append(current)
            current = []
    if current:
        phrases.append(current)
    return phrases


def _until(next_start: float | None, end: float) -> float:
    """Keep a caption up until the next one when the gap is short, so the screen does not blink."""
    if next_start is not None and next_start - end <= HOLD_GAP:
        return next_start
    return end


def states(phrases: Sequence[Sequence[TimedWord]], style: str, *, uppercase: bool = False) -> list[CaptionState]:
    """What is on screen when, for one captions ``style``; times relative to the clip's start."""
    if style == "none":
        return []
    def fix(text: str) -> str:
        return text.upper() if uppercase else text

    out: list[CaptionState] = []
    if style == "word":
        flat = [w for p in phrases for w in p]
        for i, w in enumerate(flat):
            nxt = flat[i + 1].start if i + 1 < len(flat) else None
            out.append(CaptionState((fix(w.text),), -1, w.start, _until(nxt, w.end)))
        return _ordered(out)
    for p, phrase in enumerate(phrases):
        texts = tuple(fix(w.text) for w in phrase)
        nxt = phrases[p + 1][0].start if p + 1 < len(phrases) else None
        end = _until(nxt, phrase[-1].end)
        if style == "clean":
            out.append(CaptionState(texts, -1, phrase[0].start, end))
            continue
        for i, w in enumerate(phrase):  # bold-pop and karaoke: one state per spoken word
            stop = phrase[i + 1].start if i + 1 < len(phrase) else end
            out.append(CaptionState(texts, i, w.start, stop))
    return _ordered(out)


def _ordered(items: Iterable[CaptionState]) -> list[CaptionState]:
    """Sorted, with overlaps cut so that at most one state covers any instant."""
    result: list[CaptionState] = []
    for state in sorted(items, key=lambda s: s.start):
        if result and result[-1].end > state.start:
            last = result[-1]
            result[-1] = CaptionState(last.words, last.active, last.start, state.start)
        if state.end > state.start:
            result.append(state)
    return [s for s in result if s.end > s.start]


def _stamp(seconds: float) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def webvtt(cues: Iterable[tuple[float, float, str]]) -> str:
    """A WebVTT document for ``(start, end, text)`` cues in output time."""
    lines = ["WEBVTT", ""]
    for n, (start, end, text) in enumerate(sorted(cues), start=1):
        lines += [str(n), f"{_stamp(start)} --> {_stamp(end)}", text, ""]
    return "\n".join(lines)
