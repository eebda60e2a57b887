"""A whole render: fetch → prepare → render (in one piece, or in time segments and a join).

A timeline with few clips renders as one ffmpeg graph. A longer edit renders in time segments
(``segments.py``): each segment's pictures are encoded by an ffmpeg that opens only the clips on
screen in it, then one last ffmpeg joins the segments without re-encoding them and mixes the whole
timeline's sound in one pass. Memory then follows what is on screen, not the number of cuts.

Output is written to a temporary file beside the target and renamed into place only when every step
succeeded, so a failed or interrupted render never leaves a partial file behind.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from framefleet import leftovers
from framefleet.assets.fetch import Fetcher
from framefleet.compositor import captions as cap
from framefleet.compositor import ffmpeg, graph, loudness, raster, segments
from framefleet.compositor.cores import FFmpegThreads
from framefleet.compositor.layers import audio
from framefleet.compositor.layers.base import Still
from framefleet.compositor.loudness import Level
from framefleet.compositor.plan import AudioItem, Plan, Span, still_span
from framefleet.compositor.prepare import Timeline, fetch_all, prepare
from framefleet.compositor.spec import RenderSpec
from framefleet.config import Settings
from framefleet.flags import AnyOf, Flag
from framefleet.threads import usable_cores

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
#: Share of the render stage's progress given to the join of a segmented render (sound and copy).
JOIN_SHARE = 0.05
#: A lane of more sound cuts than this is mixed in stems of this many first (:func:`_stems`), and
#: one pass over a source extracts at most this many cuts (:func:`extract_sounds`).
STEM_CUTS = 32


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
    segments: int = 1

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
            "captions": str(self.captions) if self.captions else None, "segments": self.segments,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()}, "speed_ratio": round(self.speed, 2),
        }


@dataclass(frozen=True)
class Piece:
    """A rendered run of frames: a segment's or a chunk's pictures (no sound)."""

    file: Path
    span: Span


class Runner:
    """Runs the ffmpeg commands of one render under one cancel event and one deadline, and reports
    progress over all of them as one fraction."""

    def __init__(self, settings: Settings, timeline: Timeline, *, report: Callable[[float], None] | None = None,
                 cancel: Flag | None = None, timeout: float | None = None, name: str = "graph") -> None:
        self.settings, self.timeline = settings, timeline
        self.report = report or (lambda fraction: None)
        self.cancel = cancel
        self.deadline = time.monotonic() + timeout if timeout else None
        self.timeout = timeout
        self.name = name
        self.threads = FFmpegThreads(settings.ffmpeg_cores or usable_cores())
        self._count = 0

    def run(self, command: graph.Command, *, seconds: float, share: tuple[float, float]) -> None:
        """Run ``command`` (``seconds`` of output); its progress fills ``share`` = (from, width)."""
        self._count += 1
        script = self.timeline.workdir / f"{self.name}-{self._count:04d}.txt"
        script.write_text(command.graph)
        base, width = share
        remaining = None
        if self.deadline is not None:
            remaining = max(0.001, self.deadline - time.monotonic())
        try:
            ffmpeg.run(self.threads.apply(command.argv(script, self.settings.ffmpeg)), total_seconds=seconds,
                       on_progress=lambda f: self.report(base + width * f), cancel=self.cancel,
                       timeout=remaining, sources=self.timeline.names, limit=self.timeout)
        finally:
            script.unlink(missing_ok=True)


def thumbnail_frame(timeline: Timeline) -> int | None:
    """The frame of the whole timeline the thumbnail shows, or None. ``thumbnail.at`` is a time of the
    output, so of an ``output.range`` it counts from the range's start."""
    out, plan = timeline.spec.output, timeline.plan
    if not out.thumbnail or not timeline.encoding.video_codec:
        return None
    return plan.first + min(plan.canvas.frame(out.thumbnail.at), plan.frames - 1)


def windowed_stills(timeline: Timeline, part: Plan) -> dict[str, Still]:
    """The prepared pictures for ``part`` (a segment, a range): captions lists cut to the frames each
    item draws there, and the caption pictures left for later that it shows drawn now."""
    timeline.prepared.draw(part.span)
    stills = dict(timeline.prepared.stills)
    for item in part.visuals:
        if item.path in stills:
            stills[item.path] = raster.window(stills[item.path], item, timeline.workdir, part.canvas)
    return stills


def render_pictures(timeline: Timeline, spans: Sequence[Span], runner: Runner, *, thumbnail: Path | None = None,
                    share: tuple[float, float] = (0.0, 1.0)) -> list[Piece]:
    """Encode the pictures of each span (consecutive time segments) to its own file in the work folder.

    Every segment starts with a keyframe and holds exactly its frames; the thumbnail, when asked for, is
    taken by the segment that contains its frame.
    """
    whole = timeline.plan
    encoding = timeline.encoding.pictures()
    at = thumbnail_frame(timeline)
    total = sum(s.frames for s in spans) or 1
    done = 0
    pieces: list[Piece] = []
    for span in spans:
        part = whole.window(span)
        stills = windowed_stills(timeline, part)
        file = timeline.workdir / f"pictures-{span.start:08d}-{span.end:08d}.mp4"
        here = thumbnail is not None and at is not None and span.start <= at < span.end
        command = graph.compile_command(part, stills=stills, encoding=encoding, output=file,
                                        thumbnail=thumbnail if here else None,
                                        thumbnail_frame=(at or 0) - span.start,
                                        thumbnail_width=_thumbnail_width(timeline))
        runner.run(command, seconds=part.duration,
                   share=(share[0] + share[1] * done / total, share[1] * span.frames / total))
        timeline.prepared.release(span.end)
        done += span.frames
        pieces.append(Piece(file, span))
    return pieces


def concat_pictures(pieces: Sequence[Piece], output: Path, runner: Runner) -> Piece:
    """One file of consecutive pieces' pictures, copied without re-encoding (a chunk's result)."""
    listing = _listing(pieces, runner.timeline)
    argv = [runner.settings.ffmpeg, *graph.GLOBAL_ARGS, "-f", "concat", "-safe", "0", "-i", str(listing),
            "-map", "0:v", "-c", "copy", "-f", "mp4", str(output)]
    ffmpeg.run(argv, total_seconds=0, cancel=runner.cancel, sources=runner.timeline.names)
    return Piece(output, Span(pieces[0].span.start, pieces[-1].span.end))


def render_sound(timeline: Timeline, runner: Runner, output: Path, *, progress: float = 0.0) -> Path:
    """The whole timeline's sound, mixed once, brought to its loudness and encoded, in a file of its own."""
    plan = extract_sounds(timeline, runner, progress=progress)
    level, plan = measure_level(timeline, plan, runner, progress=progress)
    command = graph.compile_sound(plan, encoding=timeline.encoding, output=output, level=level)
    runner.run(command, seconds=plan.duration, share=(progress, 0.0))
    # The float PCM it was encoded from (the mix, or the cuts when levels are left alone) is 23 MB an
    # output minute: gone now, it is not on disk beside the pictures and the output while they are joined.
    _drop_mixed(plan.audio, timeline)
    return output


def measure_level(timeline: Timeline, plan: Plan, runner: Runner, *,
                  progress: float = 0.0) -> tuple[Level | None, Plan]:
    """The first loudness pass over ``plan``'s mix (its sounds already extracted): the gain and limiting
    that bring it to ``output.loudness``, and the plan whose sound is that mix, written to a file
    (:func:`graph.mixed_plan`); or None and ``plan`` as it is, when the spec leaves levels as they are."""
    target = plan.output.loudness
    if target is None or not plan.audio:
        return None, plan
    printed, mixed = timeline.workdir / "loudness.txt", timeline.workdir / "mix.wav"
    runner.run(graph.compile_measure(plan, printed=printed, mixed=mixed), seconds=0, share=(progress, 0.0))
    with printed.open(encoding="utf-8", errors="replace") as lines:  # a line a 100 ms block: streamed
        measured = loudness.parse(lines)
    printed.unlink(missing_ok=True)
    level = loudness.level_for(measured, target)
    log.debug("mix at %.1f LUFS, true peak %.1f dBTP: %s", measured.integrated, measured.true_peak,
              "loudnorm" if level.dynamic else f"{level.gain_db:+.2f} dB")
    _drop_mixed(plan.audio, timeline)
    return level, graph.mixed_plan(plan, mixed)


def _drop_mixed(items: Sequence[AudioItem], timeline: Timeline) -> None:
    """Delete the PCM that ``items`` were extracted to (files in the workdir; a customer's file is
    never touched) once they are mixed into a stem or the mix: it need not wait for the workdir."""
    for item in items:
        if item.file.parent == timeline.workdir:
            item.file.unlink(missing_ok=True)


class Beside:
    """The sound rendered in a thread while the pictures render: it uses the cores the picture encode
    leaves idle instead of the picture ffmpeg's one filtering thread. It stops when the render is
    canceled or the pictures fail (:meth:`stop`), and :meth:`result` re-raises whatever it raised."""

    def __init__(self, timeline: Timeline, settings: Settings, *, cancel: Flag | None,
                 timeout: float | None) -> None:
        self.halt = threading.Event()
        self.file = timeline.workdir / "sound.m4a"
        self._error: BaseException | None = None
        runner = Runner(settings, timeline, cancel=AnyOf(cancel, self.halt), timeout=timeout, name="sound")
        self._thread = threading.Thread(target=self._run, args=(timeline, runner), name="sound", daemon=True)
        self._thread.start()

    def _run(self, timeline: Timeline, runner: Runner) -> None:
        try:
            render_sound(timeline, runner, self.file)
        except BaseException as exc:  # handed to the render's thread by result()
            self._error = exc

    def stop(self) -> None:
        self.halt.set()
        self._thread.join()

    def result(self) -> Path:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.file


def join(timeline: Timeline, pieces: Sequence[Piece], output: Path, runner: Runner, *,
         share: tuple[float, float] = (0.0, 1.0), sound: Path | None = None) -> None:
    """The finished file: the pieces' pictures copied in order, with the whole timeline's sound (mixed
    once, here when ``sound`` is not already rendered)."""
    covered = [p.span for p in pieces]
    if covered[0].start != timeline.plan.span.start or covered[-1].end != timeline.plan.span.end or any(
            a.end != b.start for a, b in itertools.pairwise(covered)):
        raise AssertionError(f"pieces do not cover the timeline: {covered}")
    if sound is None:
        sound = render_sound(timeline, runner, timeline.workdir / "sound.m4a", progress=share[0])
    command = graph.compile_join(pictures=_listing(pieces, timeline), sound=sound, encoding=timeline.encoding,
                                 output=output)
    runner.run(command, seconds=0, share=share)


def extract_sounds(timeline: Timeline, runner: Runner, *, progress: float = 0.0) -> Plan:
    """The plan with each sound cut read from a PCM file of its own, cut from its source in one pass
    per source file.

    The sound of the whole timeline is mixed by one ffmpeg, and an input costs what its container's
    index costs: about 3 MB for a 10-minute MP4, so 100 cuts from one long recording held 360 MB.
    A PCM file has no index (90 MB for the same 100 cuts). And the source is decoded once, straight
    through, instead of once per cut after a seek: a compressed sound (AAC, MP3) decoded from a seek
    point starts without its decoder's overlap, a small click at every cut. One-piece and segmented
    renders both mix from these files, so they sound the same. Looping sounds (a soundtrack) stay as
    they are: they are one input each.

    A pass writes at most :data:`STEM_CUTS` cuts, in the order they come in the source: an output
    holds about 0.4 MiB, and 500 cuts of one recording in one pass held 250 MiB.
    """
    plan, canvas = timeline.plan, timeline.plan.canvas
    slack = 2 / float(canvas.fps)
    by_file: dict[Path, list[int]] = {}
    for n, item in enumerate(plan.audio):
        if not item.loop:
            by_file.setdefault(item.file, []).append(n)
    items = list(plan.audio)
    for source, indexes in by_file.items():
        ordered = sorted(indexes, key=lambda n: plan.audio[n].trim)
        for first in range(0, len(ordered), STEM_CUTS):
            cuts = []
            for n in ordered[first:first + STEM_CUTS]:
                item = plan.audio[n]
                out = timeline.workdir / f"sound-{n:04d}.wav"
                cuts.append((item.trim, item.source_seconds(canvas) + slack * item.speed, out))  # speed: more source
                items[n] = replace(item, file=out, trim=0.0, demuxer="wav")
            runner.run(graph.compile_extract(source, cuts, demuxer=plan.audio[indexes[0]].demuxer), seconds=0,
                       share=(progress, 0.0))
    return _stems(timeline, replace(plan, audio=tuple(items)), runner, progress=progress)


def _stems(timeline: Timeline, plan: Plan, runner: Runner, *, progress: float) -> Plan:
    """``plan`` with each lane of more than :data:`STEM_CUTS` sound cuts mixed in runs of that many
    first, each run into a PCM file (a stem) as long as the run's place on its lane. The mix then opens
    a file per run, not per cut: an open input holds about 0.45 MiB, so 1,000 sound cuts held 450 MiB.
    Stems are exact to the sample, so the lane sounds the same."""
    canvas = plan.canvas
    kept: list[AudioItem] = []
    for role in dict.fromkeys(item.role for item in plan.audio):
        for lane in audio.lanes([item for item in plan.audio if item.role == role], canvas):
            if len(lane) <= STEM_CUTS:
                kept += lane
                continue
            for first in range(0, len(lane), STEM_CUTS):
                run = lane[first:first + STEM_CUTS]
                end = lane[first + STEM_CUTS].span.start if first + STEM_CUTS < len(lane) else run[-1].span.end
                name = f"stem-{len(kept):04d}"
                out = timeline.workdir / f"{name}.wav"
                runner.run(graph.compile_stem(plan, run, end=end, output=out), seconds=0, share=(progress, 0.0))
                _drop_mixed(run, timeline)
                kept.append(AudioItem(name, out, Span(run[0].span.start, end), trim=0.0, volume=1.0, role=role,
                                      demuxer="wav"))
    return replace(plan, audio=tuple(kept))


def _listing(pieces: Sequence[Piece], timeline: Timeline) -> Path:
    """An ffconcat list of the pieces with exact durations: each piece's offset is its first frame's
    time rounded once, so rounding never adds up over many joins."""
    canvas = timeline.plan.canvas
    lines = ["ffconcat version 1.0"]
    for piece in pieces:
        start, end = canvas.seconds(piece.span.start), canvas.seconds(piece.span.end)
        lines += [f"file '{piece.file}'", f"duration {round(end, 6) - round(start, 6):.6f}"]
    listing = timeline.workdir / f"join-{pieces[0].span.start:08d}-{pieces[-1].span.end:08d}.ffconcat"
    listing.write_text("\n".join(lines) + "\n")
    return listing


def _thumbnail_width(timeline: Timeline) -> int | None:
    out = timeline.spec.output
    return out.thumbnail.width if out.thumbnail else None


def render_still(timeline: Timeline, runner: Runner, output: Path) -> None:
    """An image output (``jpg``, ``png``): the one frame at ``output.at`` (the last, past the end),
    drawn by a graph that opens only the clips on screen then."""
    part = timeline.plan.window(still_span(timeline.plan))
    stills = windowed_stills(timeline, part)
    command = graph.compile_command(part, stills=stills, encoding=timeline.encoding, output=output)
    runner.run(command, seconds=part.duration, share=(0.0, 1.0))


def _render_stage(timeline: Timeline, spans: Sequence[Span], runner: Runner, *, part: Path,
                  thumbnail: Path | None, sound: Beside | None) -> None:
    """The pictures (one piece or segments) then the join with the sound rendered beside them; or, for
    formats that cannot be joined by copy (webm, gif, mp3), one ffmpeg that does everything."""
    plan, encoding = timeline.plan, timeline.encoding
    if encoding.still:
        render_still(timeline, runner, part)
        return
    if sound is None:
        sounded, level = plan, None
        if encoding.audio_codec:
            level, sounded = measure_level(timeline, extract_sounds(timeline, runner), runner)
        at = thumbnail_frame(timeline)
        command = graph.compile_command(sounded, stills=windowed_stills(timeline, plan), encoding=encoding,
                                        output=part, thumbnail=thumbnail,
                                        thumbnail_frame=0 if at is None else at - plan.first,
                                        thumbnail_width=_thumbnail_width(timeline), level=level)
        runner.run(command, seconds=plan.duration, share=(0.0, 1.0))
        return
    if len(spans) > 1:
        log.info("rendering %d frames in %d segments", plan.frames, len(spans))
    pieces = render_pictures(timeline, spans, runner, thumbnail=thumbnail, share=(0.0, 1.0 - JOIN_SHARE))
    join(timeline, pieces, part, runner, share=(1.0 - JOIN_SHARE, JOIN_SHARE), sound=sound.result())


def render(spec: RenderSpec, output: Path, *, settings: Settings, fetcher: Fetcher | None = None,
           on_progress: Progress | None = None, cancel: threading.Event | None = None,
           timeout: float | None = None, base_dir: Path | None = None,
           policy: segments.Policy | None = None) -> RenderResult:
    """Render ``spec`` to ``output`` (a thumbnail and ``.vtt`` sidecar beside it when the spec asks)."""
    report = on_progress or (lambda stage, fraction: None)
    fetcher = fetcher or Fetcher(settings, base_dir=base_dir)
    policy = policy or segments.Policy(max_inputs=settings.segment_inputs, max_seconds=settings.segment_seconds)
    seconds: dict[str, float] = {}
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    report("fetch", 0.0)
    files = fetch_all(spec, fetcher)
    seconds["fetch"] = time.monotonic() - started

    started = time.monotonic()
    report("prepare", 0.0)
    leftovers.sweep_render_parts(output)  # what a killed render to the same place left beside it
    with leftovers.workdir() as work:  # owned: a sweep at worker start removes it if we are killed
        timeline = prepare(spec, Path(work), settings=settings, files=files, cancel=cancel, later=True)
        plan, encoding = timeline.plan, timeline.encoding
        spans = segments.split(plan, policy) if encoding.segmentable else [plan.span]
        thumb_final = output.with_suffix(".jpg") if thumbnail_frame(timeline) is not None else None
        part = output.with_name(f".{output.name}.{os.getpid()}.part")
        thumb_part = output.with_name(f".{output.stem}.{os.getpid()}.thumb.jpg") if thumb_final else None
        seconds["prepare"] = time.monotonic() - started

        started = time.monotonic()
        report("render", 0.0)
        runner = Runner(settings, timeline, report=lambda f: report("render", f), cancel=cancel, timeout=timeout)
        beside = Beside(timeline, settings, cancel=cancel, timeout=timeout) if encoding.segmentable else None
        try:
            _render_stage(timeline, spans, runner, part=part, thumbnail=thumb_part, sound=beside)
            os.replace(part, output)
            if thumb_part and thumb_final:
                os.replace(thumb_part, thumb_final)
        finally:
            if beside is not None:
                beside.stop()
            part.unlink(missing_ok=True)
            if thumb_part:
                thumb_part.unlink(missing_ok=True)
        seconds["render"] = time.monotonic() - started

    vtt = None
    if timeline.prepared.cues:
        vtt = output.with_suffix(".vtt")
        vtt.write_text(cap.webvtt(timeline.prepared.cues), encoding="utf-8")
    report("render", 1.0)
    return RenderResult(
        path=output, content_type=encoding.content_type, size_bytes=output.stat().st_size,
        duration=0.0 if encoding.still else plan.duration, width=plan.canvas.width, height=plan.canvas.height,
        fps=float(plan.canvas.fps), encoder=encoding.label, thumbnail=thumb_final, captions=vtt,
        seconds=seconds, segments=len(spans),
    )
