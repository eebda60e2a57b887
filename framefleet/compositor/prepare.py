"""fetch → prepare: a spec made ready to render (sources local and probed, plan built, pictures drawn).

Every process that renders any part of a timeline (a whole render, one time segment, one chunk on a
fleet worker, the join) starts from the same :class:`Timeline`, so all of them agree on every frame.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from framefleet.assets.fetch import Fetcher
from framefleet.compositor import captions as cap
from framefleet.compositor import encoders, plan, probe, raster
from framefleet.compositor.encoders import Encoding
from framefleet.compositor.generated import SOURCE_FIELDS, Generated
from framefleet.compositor.probe import MediaInfo
from framefleet.compositor.spec import (
    AudioClip,
    CaptionsClip,
    ImageClip,
    LumaClip,
    RenderSpec,
    TextClip,
    VideoClip,
)
from framefleet.compositor.text import is_font_file
from framefleet.config import Limits, Settings
from framefleet.errors import BadInput, BadMedia, FetchError, Problem, SpecError
from framefleet.flags import Flag, check
from framefleet.threads import each


@dataclass(frozen=True)
class Timeline:
    """What rendering needs: the plan, the encoding, the local files and the drawn pictures."""

    spec: RenderSpec
    plan: plan.Plan
    encoding: Encoding
    files: Mapping[str, Path]
    prepared: raster.Prepared
    workdir: Path

    @property
    def names(self) -> dict[str, str]:
        """Local path → the source as the customer wrote it (errors name sources, never our paths)."""
        return {str(path): src for src, path in self.files.items()}


Uses = dict[str, list[tuple[str, str]]]  # src → [(JSON path, use)]
#: A source that no fetch can even try: a NUL in a path, a malformed IPv6 host.
NOT_A_SOURCE = "is not a valid path or URL"


def spec_uses(spec: RenderSpec) -> Uses:
    """Every source of a valid spec with its JSON paths and uses."""
    uses: Uses = {}
    for path, clip in spec.clips():
        src = getattr(clip, "src", None)
        if isinstance(src, Generated):
            _request_uses(uses, src, f"{path}.src")
        elif src:
            uses.setdefault(src, []).append((f"{path}.src", clip.type))
        if isinstance(clip, TextClip) and is_font_file(clip.style.font):
            uses.setdefault(clip.style.font, []).append((f"{path}.style.font", "font"))
        if isinstance(clip, CaptionsClip) and is_font_file(clip.font):
            uses.setdefault(clip.font, []).append((f"{path}.font", "font"))
    if spec.soundtrack and isinstance(spec.soundtrack.src, Generated):
        _request_uses(uses, spec.soundtrack.src, "soundtrack.src")
    elif spec.soundtrack:
        uses.setdefault(spec.soundtrack.src, []).append(("soundtrack.src", "soundtrack"))
    return uses


def _request_uses(uses: Uses, request: Generated, path: str) -> None:
    """The sources a generation request reads (a captions job's ``src``, a lipsync's ``video``...): checked
    as far as any source is (found, fetchable), but not probed: the provider decides what it accepts."""
    for name in SOURCE_FIELDS.get(request.type, ()):
        value = request.request.get(name)
        if isinstance(value, str):
            uses.setdefault(value, []).append((f"{path}.{name}", "generate"))


def sources(spec: RenderSpec) -> dict[str, list[str]]:
    """Each distinct source (media, captions files, font files) with the JSON paths that use it."""
    return {src: [path for path, _ in used] for src, used in spec_uses(spec).items()}


def fetch_all(spec: RenderSpec, fetcher: Fetcher, *, cancel: Flag | None = None) -> dict[str, Path]:
    """Fetch every source; all missing ones are reported together, each at its JSON path.

    Sources are fetched ``fetch_concurrency`` (a setting) at a time, and each media source is probed as soon as it
    is here (the plan finds it probed: :func:`probe.probe` remembers), so probing overlaps the other
    downloads. A failure that is not the source's fault (a timeout, a 5xx) or a cancel stops the other
    downloads and is raised.

    When some cannot be fetched, the ones that were are probed before the error is raised, so one
    error names every unusable source, missing and undecodable alike (the fix-one-rerun-find-the-next
    loop is what SPEC §3's "every error" rules out)."""
    used = sources(spec)
    media = media_sources(spec)
    stop = threading.Event()

    def one(src: str) -> Path | list[Problem]:
        try:
            path = fetcher.fetch(src)
        except FetchError as exc:
            return [Problem(p, exc.message) for p in used[src]]
        except ValueError:  # a NUL in a path, a malformed IPv6 host
            return [Problem(p, NOT_A_SOURCE) for p in used[src]]
        if src in media:  # bad media is reported at its JSON paths when the plan looks it up
            with contextlib.suppress(BadMedia):
                _probe(src, path, fetcher.settings, cancel=fetcher.cancel)
        return path

    with fetcher.stopped_by(stop):
        found = each(one, list(used), threads=fetcher.settings.fetch_concurrency, on_error=stop.set)
    files = {src: got for src, got in zip(used, found, strict=True) if isinstance(got, Path)}
    problems = [problem for got in found if not isinstance(got, Path) for problem in got]
    if problems:
        problems += media_problems(spec, files, fetcher.settings, cancel=cancel or fetcher.cancel)
        raise SpecError(problems)
    return files


def media_sources(spec: RenderSpec) -> set[str]:
    """The sources ffprobe must read (not captions files or fonts)."""
    wanted = {c.src for _, c in spec.clips() if isinstance(c, VideoClip | ImageClip | AudioClip | LumaClip)}
    if spec.soundtrack:
        wanted.add(spec.soundtrack.src)
    return wanted


def _probe_each(spec: RenderSpec, files: Mapping[str, Path], settings: Settings, *,
                cancel: Flag | None = None) -> dict[str, MediaInfo | BadMedia]:
    """Every media source in ``files`` probed: its facts, or why it cannot be used."""
    wanted = sorted(src for src in media_sources(spec) if src in files)

    def one(src: str) -> MediaInfo | BadMedia:
        try:
            return _probe(src, files[src], settings, cancel=cancel)
        except BadMedia as exc:
            return exc

    # ffprobe is mostly process start-up: probing in parallel makes many sources cost about one.
    return dict(zip(wanted, each(one, wanted, threads=8), strict=True))


def _probe(src: str, file: Path, settings: Settings, *, cancel: Flag | None) -> MediaInfo:
    return probe.probe(file, name=src, ffprobe=settings.ffprobe, cache_dir=settings.cache_dir,
                       cache_entries=settings.probe_cache_max_entries, cancel=cancel)


def media_problems(spec: RenderSpec, files: Mapping[str, Path], settings: Settings, *,
                   cancel: Flag | None = None) -> list[Problem]:
    """Each fetched media source that cannot be decoded, at every JSON path that uses it."""
    return _bad_media(spec, _probe_each(spec, files, settings, cancel=cancel))


def _bad_media(spec: RenderSpec, found: Mapping[str, MediaInfo | BadMedia]) -> list[Problem]:
    """The sources of ``found`` that cannot be used, each at every JSON path that uses it (by source)."""
    paths = sources(spec)
    return [Problem(path, exc.message) for src, exc in found.items()
            if isinstance(exc, BadMedia) for path in paths.get(src, [src])]


def probe_all(spec: RenderSpec, files: Mapping[str, Path], settings: Settings, *,
              cancel: Flag | None = None) -> dict[str, MediaInfo]:
    """Probe every media source; every one that cannot be used is reported together, at its JSON paths."""
    found = _probe_each(spec, files, settings, cancel=cancel)
    problems = _bad_media(spec, found)
    if problems:
        raise BadMedia("; ".join(f"{p.path}: {p.message}" for p in problems),
                       detail="\n".join(exc.detail or "" for exc in found.values() if isinstance(exc, BadMedia)))
    return {src: info for src, info in found.items() if isinstance(info, MediaInfo)}


def caption_files(spec: RenderSpec, files: Mapping[str, Path], *, limits: Limits | None = None,
                  loaded: Mapping[str, list[list[cap.TimedWord]]] | None = None
                  ) -> dict[str, list[list[cap.TimedWord]]]:
    """Every captions file read (within ``limits``) and split into phrases; all unreadable ones are
    reported together, each at its clip's ``src``. ``loaded`` holds files already read that way, by
    source (``framefleet validate`` reads them while checking sources): they are not read again."""
    loaded = loaded or {}
    out: dict[str, list[list[cap.TimedWord]]] = {}
    problems: list[Problem] = []
    for path, clip in spec.clips():
        if isinstance(clip, CaptionsClip) and clip.src:
            try:
                phrases = (loaded[clip.src] if clip.src in loaded
                           else cap.load_file(files[clip.src], limits=limits))
            except BadInput as exc:
                problems.append(Problem(f"{path}.src", exc.message))
                continue
            if len(phrases) == 1 and files[clip.src].suffix.lower() not in (".srt", ".vtt"):
                phrases = cap.group_phrases(phrases[0], clip.max_words)
            out[path] = phrases
    if problems:
        raise SpecError(problems)
    return out


def plan_for(spec: RenderSpec, files: Mapping[str, Path], settings: Settings, *,
             cancel: Flag | None = None) -> plan.Plan:
    return plan.build_plan(spec, media=probe_all(spec, files, settings, cancel=cancel), files=files,
                           phrases=caption_files(spec, files, limits=settings.limits), limits=settings.limits)


def prepare(spec: RenderSpec, workdir: Path, *, settings: Settings, files: Mapping[str, Path],
            pictures: bool = True, window: plan.Span | None = None, cancel: Flag | None = None,
            later: bool = False) -> Timeline:
    """Probe, plan, choose the encoder and draw the pictures (into ``workdir``, which the caller owns).

    Without ``pictures`` nothing is drawn (a join only mixes sound and needs the captions' cues); with
    a ``window`` only what is on screen in those frames is (a chunk of a split render). ``cancel`` is
    obeyed between steps and inside each long one: a cancel during preparation ends it within a second.
    An image output draws only what is on screen in its one frame (:func:`plan.still_span`). With
    ``later`` the caption pictures are left for the renderer to draw as segments need them."""
    timeline = plan_for(spec, files, settings, cancel=cancel)
    check(cancel)
    out = spec.output
    encoding = encoders.choose(out.format, out.quality, out.encoder or settings.encoder, float(out.fps),
                               ffmpeg=settings.ffmpeg)
    check(cancel)
    if encoding.still and window is None:
        window = plan.still_span(timeline)
    prepared = raster.prepare(timeline, workdir, fonts=files, pictures=pictures, window=window,
                              limits=settings.limits, cancel=cancel, later=later)
    check(cancel)
    return Timeline(spec, timeline, encoding, files, prepared, workdir)
