"""A spec's generations made, then put in place: the steps shared by queued and local renders.

A spec that generates its own media is resolved in two rounds, each a list of :class:`Need`:

1. every ``{"generate": ...}`` source (one need per distinct request);
2. the words of every captions clip ``of`` another clip: a speech clip whose provider timed its words
   (local, ElevenLabs) needs nothing more; any other clip needs a ``captions`` generation of its sound,
   given the script as ``text`` when it was spoken from one, so it is aligned, not transcribed.

Who makes a need is the caller's business (:func:`resolve` takes a ``make`` function): a queued render
submits generation jobs of its tenant and parks until they end; ``framefleet render`` runs the providers
in its own process. Either way the result is the spec *document* with every request replaced by a
plain source (``job:<id>`` or a local file) and every ``of`` by the words, so the render that follows,
and every chunk of it, reads an ordinary spec.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from framefleet.compositor.canvas import Canvas
from framefleet.compositor.generated import TEXT_FIELDS, Generated, digest
from framefleet.compositor.spec import AudioClip, CaptionsClip, RenderSpec, VideoClip, generation_sources
from framefleet.config import Settings
from framefleet.errors import Problem, ProviderError, SpecError
from framefleet.provider_config import ProviderConfig, configured


@dataclass(frozen=True)
class Need:
    """One generation a spec needs: its request and the JSON paths that asked for it (errors name them)."""

    type: str
    payload: dict[str, Any]
    paths: tuple[str, ...]

    @property
    def key(self) -> str:
        """The same request (type and payload) anywhere in the spec is one need."""
        return digest({"generate": self.type, **self.payload})


@dataclass(frozen=True)
class Made:
    """A need's result: the source the render reads it from, its length, and word timings if any."""

    source: str
    duration: float | None = None
    words: tuple[dict[str, Any], ...] | None = None


#: Makes every need (or some, when the caller has to wait for the rest): need key → what was made, or
#: None while any of them is still being made.
Make = Callable[[Sequence[Need]], Mapping[str, Made] | None]


def provider_for(settings: Settings, need: Need) -> ProviderConfig | None:
    """The provider that would make ``need`` (None for ``media``: fetching is built in). Raises
    :class:`ProviderError` at the request's path when its type has none, before any job is made."""
    if need.type == "media":
        return None
    config = configured(settings.providers, need.type)
    if config is None:
        raise ProviderError(f"{need.paths[0]}: no provider configured for {need.type}: the operator must add "
                            f"a [{need.type}] table to the providers file (FRAMEFLEET_PROVIDERS)")
    return config


def content_key(need: Need, config: ProviderConfig | None) -> str:
    """What makes two generations the same asset: type, payload and who makes it how."""
    who: dict[str, Any] = {"provider": "fetch"}
    if config is not None:
        model = need.payload.get("model") or config.model
        who = {"provider": config.provider, "base_url": config.base_url, "model": model,
               "options": dict(config.extra)}
    return digest({"generate": need.type, "payload": need.payload, **who})


def check_sizes(need: Need, config: ProviderConfig | None) -> None:
    """Scripts and prompts within the provider's ``max_characters``, refused at their path before any job."""
    if config is None:
        return
    problems = [Problem(f"{need.paths[0].removesuffix('.of')}.{name}",
                        f"is {len(value)} characters, over the provider's limit of {config.max_characters}")
                for name in TEXT_FIELDS.get(need.type, ())
                if isinstance(value := need.payload.get(name), str) and len(value) > config.max_characters]
    if problems:
        raise SpecError(problems)


def has_generations(spec: RenderSpec) -> bool:
    return bool(generation_sources(spec)) or any(
        isinstance(c, CaptionsClip) and c.of is not None for _, c in spec.clips())


def first_needs(spec: RenderSpec) -> list[Need]:
    """Round 1: every distinct generation request of the spec."""
    needs = []
    for src, paths in generation_sources(spec).items():
        needs.append(Need(src.type, src.payload, tuple(paths)))
    return needs


def _by_id(spec: RenderSpec) -> dict[str, tuple[str, AudioClip | VideoClip]]:
    return {c.id: (path, c) for path, c in spec.clips() if c.id is not None and isinstance(c, AudioClip | VideoClip)}


def caption_needs(spec: RenderSpec, made: Mapping[str, Made]) -> tuple[dict[str, tuple[dict[str, Any], ...]],
                                                                        dict[str, Need]]:
    """Round 2: for each captions clip ``of`` another, its words when they are known already (the
    speech provider timed them), else the captions generation that will give them (by clip path)."""
    words: dict[str, tuple[dict[str, Any], ...]] = {}
    needs: dict[str, Need] = {}
    targets = _by_id(spec)
    for path, clip in spec.clips():
        if not isinstance(clip, CaptionsClip) or clip.of is None:
            continue
        _, target = targets[clip.of]  # load_spec checked that it exists and has sound
        src = target.src
        payload: dict[str, Any] = {"src": src}
        if isinstance(src, Generated):
            done = made[Need(src.type, src.payload, ()).key]
            if src.type == "speech_from_text" and done.words:
                words[path] = done.words
                continue
            payload["src"] = done.source
            if src.type == "speech_from_text":
                payload["text"] = src.request["text"]
                if isinstance(src.request.get("language"), str):
                    payload["language"] = src.request["language"]
        needs[path] = Need("captions", payload, (f"{path}.of",))
    return words, needs


def resolve(raw_doc: Mapping[str, Any], spec: RenderSpec, make: Make) -> dict[str, Any] | None:
    """The spec document (merge fields already filled) with every generation in place, or None while
    ``make`` is still waiting for some. Raises :class:`SpecError` when the results do not fit the spec."""
    made = make(first_needs(spec))
    if made is None:
        return None
    words, needs = caption_needs(spec, made)
    later = make(list(needs.values())) if needs else {}
    if later is None:
        return None
    for path, need in needs.items():
        words[path] = later[need.key].words or ()
    return substitute(raw_doc, spec, made, words)


def substitute(doc: Mapping[str, Any], spec: RenderSpec, made: Mapping[str, Made],
               words: Mapping[str, Sequence[dict[str, Any]]]) -> dict[str, Any]:
    """``doc`` with each request replaced by its made source and each ``of`` by the words of the clip it
    captions, moved to where that clip plays (its ``start``, less its ``trim``, within its ``length``)."""
    out = copy.deepcopy(dict(doc))
    out.pop("merge", None)  # filled already: a merge value must not be read as a placeholder twice
    problems: list[Problem] = []
    targets = _by_id(spec)
    durations = {need.key: m.duration for need in first_needs(spec) if (m := made.get(need.key))}
    for t, track in enumerate(spec.tracks):
        for c, clip in enumerate(track.clips):
            raw = out["tracks"][t]["clips"][c]
            src = getattr(clip, "src", None)
            if isinstance(src, Generated):
                raw["src"] = made[Need(src.type, src.payload, ()).key].source
            if isinstance(clip, CaptionsClip) and clip.of is not None:
                path = f"tracks[{t}].clips[{c}]"
                target_path, target = targets[clip.of]
                raw.pop("of")
                raw["words"] = _shifted(words.get(path, ()), target)
                if clip.start is None:
                    start = _start_of(spec, target_path, durations)
                    if start is None:
                        problems.append(Problem(f"{path}.start", f"required: {clip.of!r} starts after a clip "
                                                                 "whose length is known only from its source"))
                    else:
                        raw["start"] = start
    if spec.soundtrack is not None and isinstance(spec.soundtrack.src, Generated):
        src = spec.soundtrack.src
        out["soundtrack"]["src"] = made[Need(src.type, src.payload, ()).key].source
    if problems:
        raise SpecError(problems)
    return out


def _shifted(words: Sequence[dict[str, Any]], target: AudioClip | VideoClip) -> list[dict[str, Any]]:
    """Word times in the captioned source → times in the captioned clip (which may trim and cut it)."""
    out = []
    end_of_clip = target.length if target.length is not None else float("inf")
    for word in words:
        start, end = float(word["start"]) - target.trim, float(word["end"]) - target.trim
        if end <= 0 or start >= end_of_clip or not str(word.get("text", "")).strip():
            continue
        out.append({"text": word["text"], "start": round(max(0.0, start), 3),
                    "end": round(max(0.0, min(end, end_of_clip)), 3)})
    return out


def _start_of(spec: RenderSpec, target_path: str, durations: Mapping[str, float | None]) -> float | None:
    """Where the clip at ``target_path`` starts, on the frame grid as the plan will place it, or None when
    a clip before it in its track has a length only its probed source can tell."""
    canvas = Canvas.from_output(spec.output)
    for t, track in enumerate(spec.tracks):
        cursor: int | None = 0
        for c, clip in enumerate(track.clips):
            start = canvas.frame(clip.start) if clip.start is not None else cursor
            if f"tracks[{t}].clips[{c}]" == target_path:
                return float(canvas.seconds(start)) if start is not None else None
            length = clip.length
            src = getattr(clip, "src", None)
            if length is None and isinstance(src, Generated) and isinstance(clip, AudioClip | VideoClip):
                known = durations.get(Need(src.type, src.payload, ()).key)
                length = known - clip.trim if known is not None else None
            if length is None and isinstance(clip, CaptionsClip) and clip.words:
                length = max(w.end for w in clip.words)
            cursor = None if start is None or length is None else max(
                start + 1, canvas.frame(canvas.seconds(start) + length))
    return None
