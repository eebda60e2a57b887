"""``framefleet validate``: everything that can be checked without rendering.

The spec itself, then every local source (exists, decodes), then the plan (trims past a source's end,
empty timelines). Remote sources are checked for form only: validating must not download.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from framefleet.assets.fetch import Fetcher
from framefleet.compositor import measure, plan, probe
from framefleet.compositor.canvas import Canvas
from framefleet.compositor.prepare import caption_files, media_sources, sources
from framefleet.compositor.spec import load_spec
from framefleet.config import Settings
from framefleet.errors import BadMedia, FetchError, Problem, SpecError


def validate_local(raw: Any, *, settings: Settings, base_dir: Path) -> dict[str, Any]:
    """Raise :class:`SpecError` with every problem found, or return a short summary of the render."""
    spec = load_spec(raw, limits=settings.limits)
    fetcher = Fetcher(settings, base_dir=base_dir)
    problems: list[Problem] = []
    files: dict[str, Path] = {}
    media: dict[str, probe.MediaInfo] = {}
    probed = media_sources(spec)
    for src, paths in sources(spec).items():
        if fetcher.local_path(src) is None:
            continue
        try:
            files[src] = fetcher.fetch(src)
            if src in probed:
                media[src] = probe.probe(files[src], name=src, ffprobe=settings.ffprobe)
        except (FetchError, BadMedia) as exc:
            problems += [Problem(p, exc.message) for p in paths]
    problems += plan.trim_problems(spec, media)  # local sources, even when others are remote
    if problems:
        raise SpecError(problems)
    canvas = Canvas.from_output(spec.output)
    summary: dict[str, Any] = {"valid": True, "width": canvas.width, "height": canvas.height,
                               "fps": float(canvas.fps), "format": spec.output.format}
    if len(files) == len(sources(spec)):  # every source is local: the whole timeline can be planned
        phrases = caption_files(spec, files, limits=settings.limits)
        timeline = plan.build_plan(spec, media=media, files=files, phrases=phrases, limits=settings.limits)
        # pictures measured with the fonts and caption files they will be drawn with, none drawn
        problems += measure.plan_problems(timeline, fonts=files, limits=settings.limits)
        if problems:
            raise SpecError(problems)
        summary["duration"] = round(timeline.duration, 6)
    return summary
