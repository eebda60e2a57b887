"""``framefleet validate``: everything that can be checked without rendering, reported in one run.

The spec's own problems and its sources' problems come together (SPEC §3: every error at once): when
the spec is invalid, the sources are still read from the document (after merge fields), so a missing
file and a negative length are reported in the same run. Local sources are checked whole (exists,
inside the media root, decodes with an allowed demuxer, is the kind its clip needs); remote ones for
form only (scheme, a private or loopback address written in the URL, an ``s3://`` place this fetcher
may not read): validating never downloads. A valid spec whose sources are all local is then planned
(trims past a source's end, pictures over the pixel cap).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from framefleet.assets.fetch import Fetcher
from framefleet.assets.netguard import refused_by_form
from framefleet.compositor import captions as cap
from framefleet.compositor import measure, plan, probe
from framefleet.compositor.canvas import Canvas
from framefleet.compositor.ingredients import Need, check_sizes, first_needs, has_generations, provider_for
from framefleet.compositor.prepare import NOT_A_SOURCE, Uses, caption_files, spec_uses
from framefleet.compositor.spec import RenderSpec, check_source, load_spec, merged
from framefleet.compositor.text import is_font_file
from framefleet.config import Settings
from framefleet.errors import BadInput, FetchError, Problem, ProviderError, SpecError

#: What a source is used as, by the clip ``type`` (or ``soundtrack``/``font``) at a JSON path.
MEDIA_USES = frozenset({"video", "image", "audio", "soundtrack", "luma"})


@dataclass
class Checked:
    """Sources as far as they could be checked: local files found, media probed, captions files read,
    problems at paths."""

    files: dict[str, Path] = field(default_factory=dict)
    media: dict[str, probe.MediaInfo] = field(default_factory=dict)
    #: Each local captions file as :func:`captions.load_file` read it, by source: planning reuses it.
    captions: dict[str, list[list[cap.TimedWord]]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def validate_local(raw: Any, *, settings: Settings, base_dir: Path) -> dict[str, Any]:
    """Raise :class:`SpecError` with every problem found, or return a short summary of the render."""
    spec = load_checked(raw, settings=settings, base_dir=base_dir)
    uses = spec_uses(spec)
    checked = check_sources(uses, fetcher=Fetcher(settings, base_dir=base_dir), settings=settings)
    problems = checked.problems + plan.trim_problems(spec, checked.media)  # local ones, even beside remote
    problems += generation_problems(first_needs(spec), settings)
    if problems:
        raise SpecError(problems)
    canvas = Canvas.from_output(spec.output)
    summary: dict[str, Any] = {"valid": True, "width": canvas.width, "height": canvas.height,
                               "fps": float(canvas.fps), "format": spec.output.format}
    generates = has_generations(spec)
    if generates:
        summary["generations"] = len(first_needs(spec))
    if len(checked.files) == len(uses) and not generates:  # every source is local: the timeline can be planned
        files = checked.files
        phrases = caption_files(spec, files, limits=settings.limits, loaded=checked.captions)
        timeline = plan.build_plan(spec, media=checked.media, files=files, phrases=phrases, limits=settings.limits)
        # pictures measured with the fonts and caption files they will be drawn with, none drawn
        problems += measure.plan_problems(timeline, fonts=files, limits=settings.limits)
        if problems:
            raise SpecError(problems)
        summary["duration"] = round(timeline.duration, 6)
    return summary


def load_checked(raw: Any, *, settings: Settings, base_dir: Path, fetcher: Fetcher | None = None) -> RenderSpec:
    """:func:`load_spec`, but an invalid spec's error also names every unusable source it names.

    ``render`` and ``validate`` load specs through this, so neither stops at the first kind of problem.
    """
    try:
        return load_spec(raw, limits=settings.limits)
    except SpecError as exc:
        try:
            doc, _ = merged(raw, limits=settings.limits)
        except SpecError:
            raise exc from None  # not a render spec at all: nothing to read sources from
        fetcher = fetcher or Fetcher(settings, base_dir=base_dir)
        checked = check_sources(document_uses(doc), fetcher=fetcher, settings=settings)
        raise SpecError([*exc.problems, *checked.problems]) from None


# --- where sources are used -------------------------------------------------------------------------

def generation_problems(needs: list[Need], settings: Settings) -> list[Problem]:
    """Each request a provider is configured for, with scripts and prompts within its limits."""
    problems: list[Problem] = []
    for need in needs:
        try:
            check_sizes(need, provider_for(settings, need))
        except ProviderError as exc:
            problems += [Problem(f"{path}.generate", exc.message.split(": ", 1)[1]) for path in need.paths]
        except SpecError as exc:
            problems += exc.problems
    return problems


def document_uses(doc: Mapping[str, Any]) -> Uses:
    """The sources an invalid spec names, read from the document itself: every ``src`` (and font file)
    that is a well-formed source where a spec puts one, whatever else is wrong with its clip."""
    uses: Uses = {}
    for path, value, use in _candidates(doc):
        if not isinstance(value, str):
            continue
        try:
            src = check_source(value)
        except ValueError:
            continue  # the spec's own error names it
        if use != "font" or is_font_file(src):
            uses.setdefault(src, []).append((path, use))
    return uses


def _candidates(doc: Mapping[str, Any]) -> Iterator[tuple[str, Any, str]]:
    tracks = doc.get("tracks")
    for t, track in enumerate(tracks if isinstance(tracks, list) else []):
        clips = track.get("clips") if isinstance(track, dict) else None
        for c, clip in enumerate(clips if isinstance(clips, list) else []):
            if not isinstance(clip, dict) or not isinstance(clip.get("type"), str):
                continue
            path, kind = f"tracks[{t}].clips[{c}]", clip["type"]
            if "src" in clip and (kind in MEDIA_USES or kind == "captions"):
                yield f"{path}.src", clip["src"], kind
            style = clip.get("style")
            if kind == "text" and isinstance(style, dict) and "font" in style:
                yield f"{path}.style.font", style["font"], "font"
            if kind == "captions" and "font" in clip:
                yield f"{path}.font", clip["font"], "font"
    soundtrack = doc.get("soundtrack")
    if isinstance(soundtrack, dict) and "src" in soundtrack:
        yield "soundtrack.src", soundtrack["src"], "soundtrack"


# --- checking them ----------------------------------------------------------------------------------


def check_sources(uses: Uses, *, fetcher: Fetcher, settings: Settings) -> Checked:
    """Check every source as far as can be done without downloading; all problems, at every path."""
    checked = Checked()
    for src, where in uses.items():
        kinds = {use for _, use in where}
        try:
            if fetcher.local_path(src) is None:
                remote_form(src, fetcher)
                continue
            checked.files[src] = file = fetcher.fetch(src)
            if kinds & MEDIA_USES:
                checked.media[src] = info = probe.probe(file, name=src, ffprobe=settings.ffprobe)
                checked.problems += [Problem(path, message) for path, use in where
                                     if (message := kind_problem(src, use, info))]
            if "captions" in kinds:
                checked.captions[src] = cap.load_file(file, limits=settings.limits)
        except BadInput as exc:  # FetchError, BadMedia, a captions file that cannot be read
            checked.problems += [Problem(path, exc.message) for path, _ in where]
        except ValueError:  # a NUL in a path, a malformed IPv6 host: nothing a file or URL can be
            checked.problems += [Problem(path, NOT_A_SOURCE) for path, _ in where]
    return checked


def remote_form(src: str, fetcher: Fetcher) -> None:
    """Raise :class:`FetchError` for a remote source no fetch could use, judged from its text alone."""
    if src.startswith("s3://"):
        fetcher.s3_location(src)
        return
    if not src.startswith(("http://", "https://")):
        return  # job: results are looked up when the job runs
    parts = urlsplit(src)
    if not parts.hostname:
        raise FetchError("a URL needs a host")
    try:
        parts.port  # noqa: B018  # raises for a port that is not a number in range
    except ValueError:
        raise FetchError("the URL's port is not valid") from None
    refused = refused_by_form(parts.hostname, allow_private=fetcher.settings.allow_private_urls)
    if refused:
        raise FetchError(refused)


def kind_problem(src: str, use: str, info: probe.MediaInfo) -> str | None:
    """Why a decodable source cannot serve as ``use`` (a sound as a video, a still as a video...)."""
    if use == "video" and not info.has_video:
        return f"{src} has no video stream"
    if use == "video" and info.is_still:
        return f"{src} is a still picture, not a video: use an image clip"
    if use in ("image", "luma") and not info.has_video:
        return f"{src} holds no picture"
    if use in ("audio", "soundtrack") and not info.has_audio:
        return f"{src} has no audio stream"
    return None
