"""Sources a render spec generates itself: ``{"generate": TYPE, ...payload}`` where a URL would stand (SPEC §8).

This module is the spec side only: what a generation request in a spec may look like, checked without
running anything (``validate``, ``submit``), and the stand-in string a request becomes inside the
validated model. Running the requests and putting their results in place is done by
:mod:`framefleet.compositor.ingredients` (queue and local renders alike).

Why a stand-in string: every later stage (plan, graph, fetch, chunks) reads ``clip.src`` as a string.
A request becomes a :class:`Generated`, a ``str`` (``generate:<digest>``: one per distinct request, so the
same voice line used twice is made once) that also carries the request. A user cannot write one: a
plain string with the ``generate:`` scheme is refused like any unknown scheme, so an unresolved request
can never reach a fetcher disguised as a path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from framefleet.errors import Problem

#: Which generation types may stand where, by the clip type (or ``soundtrack``) whose source they replace.
#: ``text`` makes no media and ``captions`` only feeds captions clips; ``media`` fetches a file anywhere.
ALLOWED: dict[str, tuple[str, ...]] = {
    "video": ("video_from_text", "video_from_image", "lipsync", "media"),
    "image": ("image_from_text", "media"),
    "audio": ("speech_from_text", "media"),
    "soundtrack": ("speech_from_text", "media"),
    "captions": ("captions", "media"),
}
GENERATE_TYPES = ("speech_from_text", "captions", "image_from_text", "text", "video_from_text",
                  "video_from_image", "lipsync", "media")
PREFIX = "generate:"
#: Strings in a request (scripts, prompts) are also capped by the provider's ``max_characters`` when the
#: job runs; this bounds a field no provider reads (a voice name, a model) before anything is stored.
MAX_SHORT = 200
ASPECTS = ("9:16", "4:5", "1:1", "16:9")

# field → (kind, required) per type; "text" fields are non-empty strings, "source" fields are URLs,
# ``job:<id>`` or (local renders) paths. Other keys are allowed and passed to the provider as written.
_FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "speech_from_text": {"text": ("text", True), "voice": ("short", False), "language": ("short", False),
                         "format": ("format", False)},
    "captions": {"src": ("source", True), "text": ("text", False), "language": ("short", False)},
    "image_from_text": {"prompt": ("text", True), "width": ("pixels", False), "height": ("pixels", False),
                        "aspect_ratio": ("aspect", False)},
    "text": {"prompt": ("text", True), "system": ("text", False), "max_tokens": ("tokens", False)},
    "video_from_text": {"prompt": ("text", True), "duration": ("seconds", False), "aspect_ratio": ("aspect", False)},
    "video_from_image": {"image": ("source", True), "prompt": ("text", False), "duration": ("seconds", False)},
    "lipsync": {"video": ("source", True), "audio": ("source", True)},
    "media": {"src": ("source", True)},
}
#: The fields of each type that name other sources (fetched through the job's guarded fetcher).
SOURCE_FIELDS = {t: tuple(k for k, (kind, _) in f.items() if kind == "source") for t, f in _FIELDS.items()}
#: The field holding the text a type is billed by (checked against the provider's ``max_characters``).
TEXT_FIELDS = {t: tuple(k for k, (kind, _) in f.items() if kind == "text") for t, f in _FIELDS.items()}


class Generated(str):
    """A source still to be made: the string is its stand-in, ``request`` the request as written
    (``{"generate": TYPE, ...}`` after merge fields)."""

    request: dict[str, Any]

    def __new__(cls, request: Mapping[str, Any]) -> Generated:
        made = super().__new__(cls, PREFIX + digest(request))
        made.request = dict(request)
        return made

    @property
    def type(self) -> str:
        return str(self.request["generate"])

    @property
    def payload(self) -> dict[str, Any]:
        """What the generation job is submitted with: the request without its ``generate`` key."""
        return {k: v for k, v in self.request.items() if k != "generate"}


def digest(value: Any) -> str:
    """A stable digest of JSON data: the same request, however its keys are ordered, has the same one."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def is_request(value: Any) -> bool:
    return isinstance(value, dict) and "generate" in value


def request_problems(request: Mapping[str, Any], path: str, use: str) -> list[Problem]:
    """Why a generation request at ``path`` (a source used as ``use``) cannot run; empty when it can.

    Checked without running it: the type is known and allowed there, required fields are present, and
    each field of SPEC §8's table has its kind. Extra keys (``model``, provider options) are allowed."""
    kind = request.get("generate")
    if not isinstance(kind, str) or kind not in GENERATE_TYPES:
        return [Problem(f"{path}.generate", f"unknown generation type {kind!r} "
                                            f"(one of {', '.join(GENERATE_TYPES)})")]
    allowed = ALLOWED.get(use, ())
    if kind not in allowed:
        where = "the soundtrack" if use == "soundtrack" else f"{'an' if use[0] in 'aeiou' else 'a'} {use} clip"
        return [Problem(f"{path}.generate", f"{kind} cannot make the source of {where} "
                                            f"(use {', '.join(allowed)})")]
    problems: list[Problem] = []
    for name, (field_kind, required) in _FIELDS[kind].items():
        if name not in request:
            if required:
                problems.append(Problem(f"{path}.{name}", f"required for {kind}"))
            continue
        message = _field_problem(field_kind, request[name])
        if message:
            problems.append(Problem(f"{path}.{name}", message))
    for name, value in request.items():
        if name in ("model", "voice") and not (isinstance(value, str) and len(value) <= MAX_SHORT):
            problems.append(Problem(f"{path}.{name}", f"must be a string of at most {MAX_SHORT} characters"))
    return problems


def _field_problem(kind: str, value: Any) -> str | None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "text":
        return None if isinstance(value, str) and value.strip() else "must be a non-empty string"
    if kind == "short":
        return None if isinstance(value, str) and 0 < len(value) <= MAX_SHORT else \
            f"must be a string of 1-{MAX_SHORT} characters"
    if kind == "format":
        return None if value in ("mp3", "wav") else "must be mp3 or wav"
    if kind == "source":
        return _source_problem(value)
    if kind == "pixels":
        return None if number and value == int(value) and 16 <= value <= 8192 else "must be a whole number of " \
                                                                                    "pixels from 16 to 8192"
    if kind == "aspect":
        return None if value in ASPECTS else f"must be one of {', '.join(ASPECTS)}"
    if kind == "tokens":
        return None if number and value == int(value) and 1 <= value <= 100_000 else "must be a whole number " \
                                                                                      "from 1 to 100000"
    if kind == "seconds":
        return None if number and 0 < value <= 600 else "must be a number of seconds from 0 to 600"
    return None


def _source_problem(value: Any) -> str | None:
    from framefleet.compositor.spec import check_source  # spec imports this module

    if is_request(value):
        return "a generation request cannot take another generation as its source: generate it in its own clip"
    if not isinstance(value, str):
        return "must be a path or URL"
    try:
        check_source(value)
    except ValueError as exc:
        return str(exc)
    return None


def document_requests(doc: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """Every generation request in a spec document (after merge fields): (JSON path, request, use)."""
    tracks = doc.get("tracks")
    for t, track in enumerate(tracks if isinstance(tracks, list) else []):
        clips = track.get("clips") if isinstance(track, dict) else None
        for c, clip in enumerate(clips if isinstance(clips, list) else []):
            kind = clip.get("type") if isinstance(clip, dict) else None
            if isinstance(kind, str) and kind in ALLOWED and is_request(clip.get("src")):
                yield f"tracks[{t}].clips[{c}].src", clip["src"], str(clip["type"])
    soundtrack = doc.get("soundtrack")
    if isinstance(soundtrack, dict) and is_request(soundtrack.get("src")):
        yield "soundtrack.src", soundtrack["src"], "soundtrack"


def document_problems(doc: Mapping[str, Any]) -> list[Problem]:
    """The problems of every generation request in a spec document, each at its JSON path."""
    return [p for path, request, use in document_requests(doc) for p in request_problems(request, path, use)]
