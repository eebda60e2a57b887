"""Word timings from audio: forced alignment of a known script, or plain recognition, with pocketsphinx.

The script's words are shown as written ("Tacos!", "don't", "2024"); the aligner matches lowercase
dictionary words. Words the dictionary lacks (names, numbers) are left out of the alignment and placed
in the time between their aligned neighbours, so every written word gets a time and none is dropped.
When nothing can be aligned (a script that does not match its audio), words are spread over the sound.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from framefleet.errors import Canceled
from framefleet.flags import Flag
from framefleet.providers.base import Word

SAMPLE_RATE = 16_000
_NOT_WORDS = {"<s>", "</s>", "<sil>"}
#: the shortest time a word placed between neighbours gets (seconds)
_MIN_WORD = 0.08


def _decoder(**options: Any) -> Any:
    from pocketsphinx import Decoder  # imported on use: a C extension and a 30 MB model

    return Decoder(loglevel="FATAL", **options)


def _feed(decoder: Any, samples: bytes, cancel: Flag) -> None:
    # One call with the whole utterance: fed in pieces, pocketsphinx's alignment stops after the first
    # second or so (its live normalisation). It runs at tens of times real time, so a cancel is
    # honoured before and after, and a voice-over of minutes takes seconds.
    if cancel.is_set():
        raise Canceled("the job was canceled")
    decoder.start_utt()
    decoder.process_raw(samples, full_utt=True)
    decoder.end_utt()
    if cancel.is_set():
        raise Canceled("the job was canceled")


def _segments(decoder: Any) -> list[Word]:
    rate = float(decoder.config["frate"])
    out = []
    for seg in decoder.seg() or ():
        word = re.sub(r"\(\d+\)$", "", seg.word)  # alternative pronunciations: "the(2)"
        if word in _NOT_WORDS or word.startswith(("[", "+")):
            continue
        out.append(Word(word, seg.start_frame / rate, (seg.end_frame + 1) / rate))
    return out


def dictionary_form(word: str) -> str:
    return re.sub(r"[^a-z']", "", word.lower()).strip("'")


def _rms(samples: bytes, frame: int) -> Any:
    """The loudness of each whole ``frame`` of samples (a trailing part frame is left out)."""
    import numpy as np

    data = np.frombuffer(samples[: len(samples) // 2 * 2], dtype="<i2").astype(np.float32)
    count = len(data) // frame
    return np.sqrt((data[: count * frame].reshape(count, frame) ** 2).mean(axis=1)) if count else np.zeros(0)


def speech_span(samples: bytes) -> tuple[float, float]:
    """First and last moment with sound (20 ms frames over 2% of full scale), for spreading words."""
    import numpy as np

    frame = SAMPLE_RATE // 50
    loud = np.nonzero(_rms(samples, frame) > 0.02 * 32768)[0]
    if len(loud) == 0:
        return 0.0, len(samples) // 2 / SAMPLE_RATE
    return float(loud[0] * frame / SAMPLE_RATE), float((loud[-1] + 1) * frame / SAMPLE_RATE)


def spread(written: Sequence[str], start: float, end: float) -> list[Word]:
    """Words over a span, each given time in proportion to its length."""
    weights = [max(1, len(w)) for w in written]
    total, at, out = float(sum(weights)), start, []
    for word, weight in zip(written, weights, strict=True):
        step = (end - start) * weight / total
        out.append(Word(word, at, at + step))
        at += step
    return out


def _loud_frames(samples: bytes) -> Any:
    """One flag per 10 ms: whether the frame is over 2% of full scale."""
    return _rms(samples, SAMPLE_RATE // 100) > 0.02 * 32768


def _place(written: Sequence[str], known: list[int], timed: list[Word], end_of_audio: float,
           loud: Any = None) -> list[Word]:
    """Every written word with a time: aligned ones as aligned, the others between their neighbours,
    starting where the sound starts again after a pause (``loud``: one flag per 10 ms)."""
    times: list[tuple[float, float] | None] = [None] * len(written)
    for index, word in zip(known, timed, strict=True):
        times[index] = (word.start, word.end)
    out: list[Word] = []
    i = 0
    while i < len(written):
        if times[i] is not None:
            start, end = times[i]  # type: ignore[misc]
            out.append(Word(written[i], start, end))
            i += 1
            continue
        j = i
        while j < len(written) and times[j] is None:
            j += 1
        before = out[-1].end if out else 0.0
        after = times[j][0] if j < len(written) else end_of_audio  # type: ignore[index]
        if loud is not None:  # skip the pause: unaligned words start with the next sound
            frame = int(before * 100)
            while frame < len(loud) and frame < after * 100 and not loud[frame]:
                frame += 1
            before = max(before, min(frame / 100, after - _MIN_WORD * (j - i)))
        need = _MIN_WORD * (j - i)
        if after - before < need and out:  # no gap: share the previous word's time
            previous = out.pop()
            middle = max(previous.start + _MIN_WORD, min(previous.end, after) - need)
            out.append(Word(previous.text, previous.start, middle))
            before = middle
        out += spread(written[i:j], before, max(after, before + need))
        i = j
    return out


_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
#: a rough letter-to-sound table for words the dictionary lacks: enough for the aligner to absorb the
#: word's sound where it is spoken, so the words around it keep their true times
_GRAPHEMES = [("tch", "CH"), ("sh", "SH"), ("ch", "CH"), ("th", "TH"), ("ph", "F"), ("ng", "NG"), ("ck", "K"),
              ("qu", "K W"), ("ee", "IY"), ("oo", "UW"), ("ou", "AW"), ("ai", "EY"), ("ay", "EY"), ("a", "AE"),
              ("b", "B"), ("c", "K"), ("d", "D"), ("e", "EH"), ("f", "F"), ("g", "G"), ("h", "HH"), ("i", "IH"),
              ("j", "JH"), ("k", "K"), ("l", "L"), ("m", "M"), ("n", "N"), ("o", "OW"), ("p", "P"), ("r", "R"),
              ("s", "S"), ("t", "T"), ("u", "AH"), ("v", "V"), ("w", "W"), ("x", "K S"), ("y", "Y"), ("z", "Z")]


def number_words(value: int) -> list[str]:
    """How an English voice reads a whole number below a million ("2024" → two thousand twenty four)."""
    if value < 20:
        return [_ONES[value]]
    if value < 100:
        return [_TENS[value // 10]] + (number_words(value % 10) if value % 10 else [])
    if value < 1000:
        return [_ONES[value // 100], "hundred"] + (number_words(value % 100) if value % 100 else [])
    return number_words(value // 1000) + ["thousand"] + (number_words(value % 1000) if value % 1000 else [])


def letters_to_phones(word: str) -> str:
    phones: list[str] = []
    i = 0
    while i < len(word):
        for letters, sound in _GRAPHEMES:
            if word.startswith(letters, i):
                if not phones or phones[-1] != sound:  # "ll", "ss": one sound
                    phones.append(sound)
                i += len(letters)
                break
        else:
            i += 1
    return " ".join(phones)


def _tokens(decoder: Any, word: str) -> list[str]:
    """The dictionary words that stand for one written word (none for punctuation alone)."""
    digits = re.sub(r"[^0-9]", "", word)
    if digits and len(digits) <= 6 and not re.search(r"[a-z]", word.lower()):
        return number_words(int(digits))
    token = dictionary_form(word)
    if not token:
        return []
    if decoder.lookup_word(token) is None:
        phones = letters_to_phones(token.replace("'", ""))
        if not phones:
            return []
        decoder.add_word(token, phones, True)
    return [token]


def _runs(loud: Any, pause: float = 0.2) -> list[tuple[float, float]]:
    """Spans of sound separated by at least ``pause`` seconds of quiet."""
    runs: list[tuple[float, float]] = []
    start = end = None
    for i, is_loud in enumerate(loud):
        if not is_loud:
            continue
        if start is None or end is None or i - end > pause * 100:
            if start is not None and end is not None:
                runs.append((start / 100, (end + 1) / 100))
            start = i
        end = i
    if start is not None and end is not None:
        runs.append((start / 100, (end + 1) / 100))
    return runs


def _sentences(written: Sequence[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for word in written:
        out[-1].append(word)
        if word.endswith((".", "!", "?", ";", ":")):
            out.append([])
    return [s for s in out if s]


def align(samples: bytes, script: str, *, cancel: Flag) -> list[Word]:
    """The words of ``script`` with the times they are spoken in ``samples`` (16 kHz mono s16le).

    The whole script is aligned at once; when that leaves words unplaced and the sound falls into as
    many runs (between pauses) as the script has sentences, each sentence is aligned within its run,
    which is both faster on long audio and robust to a word the aligner cannot follow."""
    written = [w for w in script.split() if w]
    loud = _loud_frames(samples)
    words, complete = _align(samples, written, cancel, loud)
    if complete:
        return words
    sentences = _sentences(written)
    runs = _runs(loud)
    if len(sentences) < 2 or len(runs) != len(sentences):
        return words
    out: list[Word] = []
    for sentence, (start, end) in zip(sentences, runs, strict=True):
        lo = max(0.0, start - 0.05)
        piece = samples[int(lo * SAMPLE_RATE) * 2: int((end + 0.05) * SAMPLE_RATE) * 2]
        placed, _ = _align(piece, sentence, cancel, _loud_frames(piece))
        out += [Word(w.text, w.start + lo, w.end + lo) for w in placed]
    return out


def _align(samples: bytes, written: list[str], cancel: Flag, loud: Any) -> tuple[list[Word], bool]:
    """(every written word timed, whether the aligner placed all of them); ``loud`` is
    ``_loud_frames(samples)``, which the caller has at hand."""
    if not written:
        return [], True
    span = speech_span(samples)
    # one decoder looks every word up (building one takes a tenth of a second) and, holding the words
    # it added, also makes the first pass with the default beams
    lookup = _decoder(lm=None)
    tokens = [_tokens(lookup, w) for w in written]
    known = [i for i, t in enumerate(tokens) if t]
    if not known:
        return spread(written, *span), False
    expected = sum(len(tokens[i]) for i in known)
    best: list[Word] = []
    # pocketsphinx's default beams lose the path on some long words or pauses, wide ones on others; when
    # none places every token (a made-up pronunciation, a script that drifts from the audio), the longest
    # aligned beginning is kept and the rest is placed in the sound after it
    for beams in ({}, {"beam": 1e-80, "pbeam": 1e-80, "wbeam": 1e-70}):
        decoder = _decoder(lm=None, **beams) if beams else lookup
        if decoder is not lookup:
            for i in known:
                _tokens(decoder, written[i])  # the same added words in this decoder's dictionary
        try:
            decoder.set_align_text(" ".join(" ".join(tokens[i]) for i in known))
            _feed(decoder, samples, cancel)
            segments = _segments(decoder)
        except RuntimeError:
            segments = []
        if len(segments) > len(best):
            best = segments
        if len(best) == expected:
            break
    timed, aligned, at = [], [], 0
    for i in known:  # a written word spans its tokens ("2024" is four of them)
        if at + len(tokens[i]) > len(best):
            break
        first, last = best[at], best[at + len(tokens[i]) - 1]
        timed.append(Word(written[i], first.start, last.end))
        aligned.append(i)
        at += len(tokens[i])
    if not timed:
        return spread(written, *span), False
    placed = _place(written, aligned, timed, max(span[1], timed[-1].end), loud)
    return placed, len(aligned) == len(known)


def transcribe(samples: bytes, *, cancel: Flag) -> list[Word]:
    """Words recognised in ``samples`` with the small English model (no script known)."""
    decoder = _decoder()
    _feed(decoder, samples, cancel)
    return _segments(decoder)
