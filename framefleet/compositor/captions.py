"""Captions: read word timings (inline, SRT, WebVTT, JSON), group them into phrases, decide what is on screen.

The output of this module is a list of :class:`CaptionState` (text, which word is highlighted, and the
frame window it covers), which ``text.py`` rasterises and ``layers/captions.py`` turns into one stream.

Cue text of SRT and WebVTT files is read as players read it: styling tags (``<b>``, ``<i>``, ``<u>``,
``<c.yellow>``, ``<v Speaker>``, ``<font …>``, ASS overrides ``{\\an8}``) are dropped, since captions are
drawn in the clip's own style; WebVTT timestamp tags (``<00:00:01.500>word``) become word timings;
character references (``&amp;``, ``&lt;``, ``&nbsp;``, ``&#x1F525;``) are decoded after the tags are
dropped, so an escaped ``&lt;b&gt;`` is text. Every step is a linear pass: no regex runs over a line.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from html.entities import html5
from pathlib import Path

from framefleet.compositor.linebreak import NO_BREAK_SPACES, clean_spaces, split_words, unspaced
from framefleet.config import Limits
from framefleet.errors import BadInput

#: Gaps shorter than this keep the previous caption on screen, so captions do not flicker between words.
HOLD_GAP = 0.5
#: A word ending in one of these ends a phrase.
_SENTENCE_ENDS = (".", "!", "?", ";", ":", "…", ",")
#: A cue time, ``[hours:]mm:ss.mmm`` (``,`` in SRT). Only ever matched whole against one short token,
#: so the pattern cannot be made to scan a long line (the old ``search`` over a line of 50,000 digits
#: backtracked for seconds with the GIL held, starving the worker's heartbeat).
_CLOCK = re.compile(r"(?:([0-9]{1,5}):)?([0-9]{1,2}):([0-9]{2})[.,]([0-9]{1,3})")
_CLOCK_CHARS = len("99999:59:59.999")
#: Characters that cannot be drawn and are not white space: C0 and C1 controls, lone surrogates. One
#: character class, so a search is one linear pass.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff]")


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


def clean_word(text: str) -> str:
    """A word as it is drawn: any run of white space, line breaks included (``\\n``, ``\\r``, and the
    ``\\x1c``, ``\\x85``, U+2028 that ``str.splitlines`` also breaks at), becomes one space, ends trimmed;
    no-break spaces (U+00A0) are kept, so ``10&nbsp;km`` stays together.

    A caption word is drawn on one line of a box measured for one line, and written into one WebVTT
    cue, where a blank line would end the cue and start one the customer wrote."""
    return clean_spaces(text)


def join_words(words: Sequence[str]) -> str:
    """A phrase's words as one line of text: spaces between them, none between Chinese or Japanese
    words (a speech recogniser's tokens of an unspaced script)."""
    out: list[str] = []
    for i, word in enumerate(words):
        if i and not unspaced(words[i - 1], word):
            out.append(" ")
        out.append(word)
    return "".join(out)


def control_char(text: str) -> str | None:
    """The first character of ``text`` that cannot be drawn (``U+0007``), or None."""
    found = _CONTROL.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def _clock(token: str, line: int) -> float:
    match = _CLOCK.fullmatch(token) if len(token) <= _CLOCK_CHARS else None
    if match is None:
        shown = token if len(token) <= 20 else token[:20] + "…"
        raise BadInput(f"captions file line {line}: malformed time {shown!r} "
                       "(expected hh:mm:ss,mmm or mm:ss.mmm)")
    return _seconds(match)


def _seconds(match: re.Match[str]) -> float:
    """A ``_CLOCK`` match (a cue's time or an inline ``<00:01.500>`` stamp) in seconds."""
    hours, minutes, seconds, fraction = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(f"{seconds}.{fraction}")


def _drop(text: str, opening: str, closing: str) -> str:
    """``text`` without ``opening``…``closing`` tags, in one pass: once no ``closing`` follows, no
    later tag can close either (``<[^>]+>`` as a regex rescans the rest from every ``<`` of ``<<<<…``)."""
    parts: list[str] = []
    at = 0
    while (start := text.find(opening, at)) >= 0:
        stop = text.find(closing, start + len(opening))
        if stop < 0:
            break
        if stop == start + len(opening) and opening == "<":  # "<>" is text, not a tag
            parts.append(text[at:stop])
            at = stop
            continue
        parts.append(text[at:start])
        at = stop + len(closing)
    parts.append(text[at:])
    return "".join(parts)


def _reference(name: str) -> str | None:
    """The text of a character reference ``&name;`` (``amp``, ``#38``, ``#x26``), or None if it is
    not one (then it is shown as written). A number that is no drawable character (NUL, a control,
    a surrogate, beyond U+10FFFF) decodes to U+FFFD, so no reference can smuggle in a control."""
    if name[:2] in ("#x", "#X"):
        digits, base = name[2:], 16
        valid = 0 < len(digits) <= 6 and all(c in "0123456789abcdefABCDEF" for c in digits)
    elif name[:1] == "#":
        digits, base = name[1:], 10
        valid = 0 < len(digits) <= 7 and digits.isascii() and digits.isdigit()
    else:
        return html5.get(name + ";") if name.isascii() and name.isalnum() else None
    if not valid:
        return None
    code = int(digits, base)
    if code == 0 or code > 0x10FFFF or _CONTROL.match(chr(code)):
        return "\ufffd"
    return chr(code)


def decode_entities(text: str) -> str:
    """``text`` with its character references decoded, in one pass: each ``&`` looks at most 33
    characters ahead for its ``;`` (the longest reference name is 32)."""
    parts: list[str] = []
    at = 0
    while (amp := text.find("&", at)) >= 0:
        semi = text.find(";", amp + 1, amp + 34)
        value = _reference(text[amp + 1:semi]) if semi > amp + 1 else None
        if value is None:
            parts.append(text[at:amp + 1])
            at = amp + 1
            continue
        parts += [text[at:amp], value]
        at = semi + 1
    parts.append(text[at:])
    return "".join(parts)


def _chunks(body: str, start: float, end: float) -> Iterator[tuple[float, str]]:
    """Cue text as ``(time, text)``: the text between tags with the time it appears. A WebVTT
    timestamp tag (``<00:00:01.500>``) sets the time of the text after it when it lies inside the cue
    and after the time before it (a player ignores others); every other tag is dropped unread."""
    body = _drop(body, "{\\", "}")
    at, now = 0, start
    while (lt := body.find("<", at)) >= 0:
        gt = body.find(">", lt + 1)
        if gt < 0:
            break
        if gt == lt + 1:  # "<>" is text, not a tag
            yield now, body[at:gt + 1]
            at = gt + 1
            continue
        yield now, body[at:lt]
        tag = body[lt + 1:gt]
        if tag[:1].isdigit():
            stamp = _CLOCK.fullmatch(tag) if len(tag) <= _CLOCK_CHARS else None
            if stamp is not None:
                value = _seconds(stamp)
                now = value if now <= value < end else now
        at = gt + 1
    yield now, body[at:]


def _breaks_before(text: str) -> bool:
    return text[:1].isspace() and text[0] not in NO_BREAK_SPACES


def _cue_words(body: str, start: float, end: float) -> list[TimedWord]:
    """The words of a cue's text with their times: from its timestamp tags where it has them (each
    stretch of words shares the time up to the next stamp), else the cue's time shared out by length."""
    timed: list[tuple[str, float]] = []
    glued = False  # the text before ended inside a word (``<b>bo</b>ld`` is one word)
    for now, chunk in _chunks(body, start, end):
        text = decode_entities(chunk)
        words = split_words(text)
        for n, word in enumerate(words):
            if n == 0 and glued and timed and not _breaks_before(text):
                timed[-1] = (timed[-1][0] + word, timed[-1][1])
            else:
                timed.append((word, now))
        if text:
            glued = bool(words) and not (text[-1].isspace() and text[-1] not in NO_BREAK_SPACES)
    out: list[TimedWord] = []
    i = 0
    while i < len(timed):
        j = i
        while j < len(timed) and timed[j][1] == timed[i][1]:
            j += 1
        stop = timed[j][1] if j < len(timed) else end
        out += _spread([word for word, _ in timed[i:j]], timed[i][1], stop)
        i = j
    return out


def _spread(words: Sequence[str], start: float, end: float) -> list[TimedWord]:
    """Words sharing one stretch of time: each gets a share in proportion to its length."""
    total = sum(len(w) + 1 for w in words) or 1
    out, t = [], start
    for word in words:
        share = (end - start) * (len(word) + 1) / total
        out.append(TimedWord(word, t, t + share))
        t += share
    return out


def _blocks(text: str) -> Iterator[list[tuple[int, str]]]:
    """Runs of non-blank lines with their line numbers (cues are separated by blank lines)."""
    block: list[tuple[int, str]] = []
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if line.strip():
            block.append((number, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _cue(block: Sequence[tuple[int, str]]) -> list[TimedWord]:
    """The words of one SRT/WebVTT block: the lines after its first ``-->`` line. A block with no
    such line (the ``WEBVTT`` header, ``NOTE``, ``STYLE``, a stray number) holds no words."""
    for i, (number, line) in enumerate(block):
        arrow = line.find("-->")
        if arrow < 0:
            continue
        left, right = line[:arrow].split(), line[arrow + 3:].split()
        start = _clock(left[-1] if left else "", number)
        end = _clock(right[0] if right else "", number)  # WebVTT settings may follow the end time
        body = " ".join(text.strip() for _, text in block[i + 1:]).strip()
        return _cue_words(body, start, end) if body and end > start else []
    return []


def parse_cues(text: str, *, max_words: int | None = None) -> list[list[TimedWord]]:
    """SRT or WebVTT text → one phrase (list of words) per cue, in time linear in the text's length.

    A ``-->`` line whose times are not ``[hh:]mm:ss.mmm`` is refused (:class:`BadInput` naming its
    line), and so is a file with more than ``max_words`` words (default: :class:`Limits`)."""
    limit = Limits().max_caption_words if max_words is None else max_words
    control = _CONTROL.search(text)
    if control:
        raise BadInput(f"captions file line {text.count(chr(10), 0, control.start()) + 1}: control "
                       f"character U+{ord(control.group()):04X} (only text and white space can be drawn)")
    phrases: list[list[TimedWord]] = []
    count = 0
    for block in _blocks(text):
        words = _cue(block)
        if words:
            count += len(words)
            if count > limit:
                raise BadInput(f"captions file holds more than {limit} words")
            phrases.append(words)
    return phrases


def _json_items(data: object, limit: int) -> list[object]:
    """The word objects of a JSON captions document, refused beyond ``limit`` before any is read."""
    if isinstance(data, dict) and "segments" in data:
        segments = data["segments"]
        if not isinstance(segments, list):
            raise BadInput("captions file: segments must be a list")
        items: list[object] = []
        for seg in segments:
            words = seg.get("words") if isinstance(seg, dict) else None
            if isinstance(words, list):
                items += words
            if len(items) > limit:
                break
        data = items
    elif isinstance(data, dict):
        data = data.get("words")
    if not isinstance(data, list):
        raise BadInput("captions file holds no word list")
    if len(data) > limit:
        raise BadInput(f"captions file holds more than {limit} words")
    return data


def parse_json_words(data: object, *, max_words: int | None = None) -> list[TimedWord]:
    """``[{text,start,end}]``, ``{"words": [...]}`` or Whisper-style ``{"segments": [{"words": [...]}]}``.

    Words are cleaned like inline ones (:func:`clean_word`); a control character or a time that is not
    a finite number (``1e999`` is valid JSON, read as infinity) is refused, naming the word."""
    limit = Limits().max_caption_words if max_words is None else max_words
    words = []
    for n, item in enumerate(_json_items(data, limit)):
        if not isinstance(item, dict):
            raise BadInput("captions file: each word must be an object with text, start and end")
        text = clean_word(str(item.get("text", item.get("word", ""))))
        code = control_char(text)
        if code:
            raise BadInput(f"captions file: word {n} holds control character {code} "
                           "(only text and white space can be drawn)")
        try:
            start, end = float(item["start"]), float(item["end"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise BadInput("captions file: each word needs numeric start and end") from None
        if not (math.isfinite(start) and math.isfinite(end)):
            raise BadInput(f"captions file: word {n} has a start or end that is not a finite number")
        if text and end >= start >= 0:
            words.append(TimedWord(text, start, end))
    return words


def load_file(path: Path, *, limits: Limits | None = None) -> list[list[TimedWord]]:
    """Read a captions file; returns phrases (SRT/VTT cues) or a single run of words (JSON) to group.

    At most ``limits.max_caption_bytes`` are read and ``limits.max_caption_words`` words kept: a
    larger file is refused before it is parsed."""
    limits = limits or Limits()
    with path.open("rb") as handle:
        data = handle.read(limits.max_caption_bytes + 1)
    if len(data) > limits.max_caption_bytes:
        raise BadInput(f"captions file is larger than {limits.max_caption_bytes} bytes")
    raw = data.decode("utf-8-sig", errors="replace")
    if raw.lstrip().startswith(("{", "[")):
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError):  # JSONDecodeError, over-long integers, deep nesting
            raise BadInput("captions file is not valid JSON") from None
        return [parse_json_words(document, max_words=limits.max_caption_words)]
    phrases = parse_cues(raw, max_words=limits.max_caption_words)
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
        if word.text.endswith(_SENTENCE_ENDS):
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
    """A WebVTT document for ``(start, end, text)`` cues in output time.

    Cue text is one line, escaped (:func:`escape`): a word can neither end its cue nor start one
    (``-->``), nor open a tag in the player; reading the file back gives the same words."""
    lines = ["WEBVTT", ""]
    for n, (start, end, text) in enumerate(sorted(cues), start=1):
        lines += [str(n), f"{_stamp(start)} --> {_stamp(end)}", escape(clean_word(text)), ""]
    return "\n".join(lines)


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\u00a0": "&nbsp;", "\u200e": "&lrm;",
                          "\u200f": "&rlm;"})


def escape(text: str) -> str:
    """Cue text for a WebVTT file: ``&``, ``<`` and ``>`` as references, so a word can neither open a
    tag nor start a cue (``-->``); no-break spaces and direction marks as references, so they are seen."""
    return text.translate(_ESCAPES)
