"""A whole render: fetch → prepare → render → (caller uploads). The library's front door.

Output is written to a temporary file beside the target and renamed into place only when ffmpeg
succeeded, so a failed or interrupted render never leaves a partial file behind.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from framefleet.assets.fetch import Fetcher
from framefleet.compositor import captions as cap
from framefleet.compositor import encoders, ffmpeg, graph, plan, probe, raster
from framefleet.compositor.probe import MediaInfo
from framefleet.compositor.spec import AudioClip, CaptionsClip, ImageClip, RenderSpec, TextClip, VideoClip
from framefleet.compositor.text import is_font_file
from framefleet.config import Settings
from framefleet.errors import FetchError, Problem, SpecError

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class RenderResult:
    path: Path
    content_type: str
    size_bytes: int
    duration: float
    width: int
    height: int
    fps: float
    encoder: str
    thumbnail: Path | None
    captions: Path | None
    seconds: dict[str, float]

    @property
    def speed(self) -> float:
        """Output seconds per wall second of the render stage."""
        wall = self.seconds.get("render", 0.0)
        return self.duration / wall if wall > 0 else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "output": str(self.path), "content_type": self.content_type, "size_bytes": self.size_bytes,
            "duration": round(self.duration, 6), "width": self.width, "height": self.height, "fps": self.fps,
            "encoder": self.encoder, "thumbnail": str(self.thumbnail) if self.thumbnail else None,
            "captions": str(self.captions) if self.captions else None,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()}, "speed_ratio": round(self.speed, 2),
        }


def sources(spec: RenderSpec) -> dict[str, list[str]]:
    """Each distinct source (media, captions files, font files) with the JSON paths that use it."""
    found: dict[str, list[str]] = {}
    for path, clip in spec.clips():
        src = getattr(clip, "src", None)
        if src:
            found.setdefault(src, []).append(f"{path}.src")
        if isinstance(clip, TextClip) and is_font_file(clip.style.font):
            found.setdefault(clip.style.font, []).append(f"{path}.style.font")
        if isinstance(clip, CaptionsClip) and is_font_file(clip.font):
            found.setdefault(clip.font, []).append(f"{path}.font")
    if spec.soundtrack:
        found.setdefault(spec.soundtrack.src, []).append("soundtrack.src")
    return found


def fetch_all(spec: RenderSpec, fetcher: Fetcher) -> dict[str, Path]:
    """Fetch every source; all missing ones are reported together, each at its JSON path."""
    files: dict[str, Path] = {}
    problems: list[Problem] = []
    for src, paths in sources(spec).items():
        try:
            files[src] = fetcher.fetch(src)
        except FetchError as exc:
            problems += [Problem(p, exc.message) for p in paths]
    if problems:
        raise SpecError(problems)
    return files


def media_sources(spec: RenderSpec) -> set[str]:
    """The sources ffprobe must read (not captions files or fonts)."""
    wanted = {c.src for _, c in spec.clips() if isinstance(c, VideoClip | ImageClip | AudioClip)}
    if spec.soundtrack:
        wanted.add(spec.soundtrack.src)
    return wanted


def _media(spec: RenderSpec, files: dict[str, Path], settings: Settings) -> dict[str, MediaInfo]:
    wanted = media_sources(spec)
    # ffprobe is mostly process start-up: probing in parallel makes many sources cost about one.
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(wanted)))) as pool:
        infos = pool.map(lambda src: probe.probe(files[src], name=src, ffprobe=settings.ffprobe,
                                                 cache_dir=settings.cache_dir), sorted(wanted))
        return dict(zip(sorted(wanted), infos, strict=True))


def _caption_files(spec: RenderSpec, files: dict[str, Path]) -> dict[str, list[list[cap.TimedWord]]]:
    out: dict[str, list[list[cap.TimedWord]]] = {}
    for path, clip in spec.clips():
        if isinstance(clip, CaptionsClip) and clip.src:
            phrases = cap.load_file(files[clip.src])
            if len(phrases) == 1 and files[clip.src].suffix.lower() not in (".srt", ".vtt"):
                phrases = cap.group_phrases(phrases[0], clip.max_words)
            out[path] = phrases
    return out


def render(spec: RenderSpec, output: Path, *, settings: Settings, fetcher: Fetcher | None = None,
           on_progress: Progress | None = None, cancel: threading.Event | None = None,
           timeout: float | None = None, base_dir: Path | None = None) -> RenderResult:
    """Render ``spec`` to ``output`` (a thumbnail and ``.vtt`` sidecar beside it when the spec asks)."""
    report = on_progress or (lambda stage, fraction: None)
    fetcher = fetcher or Fetcher(settings, base_dir=base_dir)
    seconds: dict[str, float] = {}
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    report("fetch", 0.0)
    files = fetch_all(spec, fetcher)
    seconds["fetch"] = time.monotonic() - started

    started = time.monotonic()
    report("prepare", 0.0)
    media = _media(spec, files, settings)
    timeline = plan.build_plan(spec, media=media, files=files, phrases=_caption_files(spec, files),
                               limits=settings.limits)
    out = spec.output
    encoding = encoders.choose(out.format, out.quality, out.encoder or settings.encoder, float(out.fps),
                               ffmpeg=settings.ffmpeg)
    with tempfile.TemporaryDirectory(prefix="framefleet-") as work:
        workdir = Path(work)
        prepared = raster.prepare(timeline, workdir, fonts=files)
        thumb_final = output.with_suffix(".jpg") if out.thumbnail and encoding.video_codec else None
        part = output.with_name(f".{output.name}.{os.getpid()}.part")
        thumb_part = output.with_name(f".{output.stem}.{os.getpid()}.thumb.jpg") if thumb_final else None
        command = graph.compile_command(timeline, stills=prepared.stills, encoding=encoding, output=part,
                                        thumbnail=thumb_part,
                                        thumbnail_width=out.thumbnail.width if out.thumbnail else None)
        script = workdir / "graph.txt"
        script.write_text(command.graph)
        seconds["prepare"] = time.monotonic() - started

        started = time.monotonic()
        report("render", 0.0)
        names = {str(path): src for src, path in files.items()}
        try:
            ffmpeg.run(command.argv(script, settings.ffmpeg), total_seconds=timeline.duration,
                       on_progress=lambda f: report("render", f), cancel=cancel, timeout=timeout,
                       sources=names)
            os.replace(part, output)
            if thumb_part and thumb_final:
                os.replace(thumb_part, thumb_final)
        finally:
            part.unlink(missing_ok=True)
            if thumb_part:
                thumb_part.unlink(missing_ok=True)
        seconds["render"] = time.monotonic() - started

    vtt = None
    if prepared.cues:
        vtt = output.with_suffix(".vtt")
        vtt.write_text(cap.webvtt(prepared.cues), encoding="utf-8")
    report("render", 1.0)
    return RenderResult(
        path=output, content_type=encoding.content_type, size_bytes=output.stat().st_size,
        duration=timeline.duration, width=timeline.canvas.width, height=timeline.canvas.height,
        fps=float(timeline.canvas.fps), encoder=encoding.label, thumbnail=thumb_final, captions=vtt,
        seconds=seconds,
    )
