"""spec → plan: every clip resolved onto the output's frame grid, with its source facts attached.

The plan is the last step that knows about the spec's defaults ("start after the previous clip", "length
is what is left of the source"); the graph builder after it only reads explicit frames and seconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from framefleet.compositor.canvas import Canvas
from framefleet.compositor.captions import TimedWord, group_phrases
from framefleet.compositor.probe import MediaInfo
from framefleet.compositor.spec import (
    NO_SOUND,
    AudioClip,
    CaptionsClip,
    ImageClip,
    LumaClip,
    Output,
    RenderSpec,
    Soundtrack,
    VideoClip,
    VisualClip,
)
from framefleet.config import Limits
from framefleet.errors import BadMedia, Problem, SpecError


@dataclass(frozen=True)
class Span:
    """Frames ``[start, end)`` of the output."""

    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Span) -> bool:
        """Whether the two share a frame."""
        return self.start < other.end and self.end > other.start


@dataclass(frozen=True)
class MatteItem:
    """A luma clip on the grid, paired with the visual clip it masks: frames ``span`` of the output show
    the matte's picture from ``trim`` seconds into ``file``; the rest of the clip is not masked."""

    path: str
    file: Path
    media: MediaInfo
    span: Span
    trim: float


@dataclass(frozen=True)
class VisualItem:
    """A visual clip on the grid. ``span`` is the whole clip; ``window`` the part of it a time segment
    draws (None: all of it). Motion and transitions are functions of the whole clip, so a clip cut
    by a segment boundary continues exactly where it was."""

    path: str
    clip: VisualClip
    span: Span
    file: Path | None = None
    media: MediaInfo | None = None
    phrases: tuple[tuple[TimedWord, ...], ...] = ()
    window: Span | None = None
    matte: MatteItem | None = None

    @property
    def shown(self) -> Span:
        """The frames this item draws in its plan."""
        return self.window or self.span

    @property
    def skip(self) -> int:
        """Frames of the clip before the ones drawn here (0 unless a segment starts mid-clip)."""
        return self.shown.start - self.span.start


@dataclass(frozen=True)
class AudioItem:
    """A sound in the mix: an audio clip, a video's own sound, or the soundtrack."""

    path: str
    file: Path
    span: Span
    trim: float
    volume: float
    role: str
    fade_in: float = 0.0
    fade_out: float = 0.0
    loop: bool = False
    #: The demuxer its probe found (``formats.DEMUXERS``); the graph opens the file with it and no other.
    demuxer: str = ""
    #: Playback rate: the span consumes ``speed`` seconds of the source per second of output.
    speed: float = 1.0

    def source_seconds(self, canvas: Canvas) -> float:
        """Seconds of the source the span plays."""
        return canvas.seconds(self.span.frames) * self.speed


@dataclass(frozen=True)
class Plan:
    """The timeline on the frame grid, or a time segment of it: frames ``[first, first + frames)``.

    Frame numbers in items are always the whole timeline's, so a segment's filters keep the
    timestamps (fades, slides) they would have in one piece.
    """

    canvas: Canvas
    frames: int
    output: Output
    visuals: tuple[VisualItem, ...] = ()
    audio: tuple[AudioItem, ...] = ()
    duck: bool = False
    first: int = 0
    #: Frames of the whole timeline when this plan is an ``output.range`` of it (0: it is not). The
    #: sound is mixed and normalised over all of them and then cut to the range, so a range sounds
    #: exactly as the same seconds of the whole render do.
    whole: int = 0

    @property
    def duration(self) -> float:
        return self.canvas.seconds(self.frames)

    @property
    def span(self) -> Span:
        return Span(self.first, self.first + self.frames)

    def window(self, span: Span) -> Plan:
        """The pictures of frames ``span``: the visual items on screen then, each cut to the window.
        No sound: a segmented render mixes the sound once, over the whole timeline."""
        visuals = tuple(
            replace(v, window=Span(max(v.span.start, span.start), min(v.span.end, span.end)))
            for v in self.visuals if v.span.overlaps(span)
        )
        return replace(self, frames=span.frames, first=span.start, visuals=visuals, audio=())

    def ranged(self, span: Span) -> Plan:
        """Frames ``span`` of this (whole) timeline as the output: the pictures of :meth:`window`, and
        every sound kept as it is, to be mixed over the whole timeline and cut (:attr:`whole`)."""
        return replace(self.window(span), audio=self.audio, whole=self.frames)

    @property
    def sound_window(self) -> tuple[float, float, float]:
        """The sound's mix length and the seconds of it this plan plays: ``(mixed, start, end)``."""
        if not self.whole:
            return self.duration, 0.0, self.duration
        return (self.canvas.seconds(self.whole), self.canvas.seconds(self.first),
                self.canvas.seconds(self.first + self.frames))


def still_span(plan: Plan) -> Span:
    """The one frame an image output (``jpg``, ``png``) shows: the frame at ``output.at``, or the last
    one when that is past the end. Preparing draws only what is on screen then, rendering draws it."""
    at = max(0, min(plan.canvas.frame(plan.output.at), plan.frames - 1))
    return Span(at, at + 1)


def trim_problems(spec: RenderSpec, media: Mapping[str, MediaInfo]) -> list[Problem]:
    """A trim at or past the end of its (probed) source, for every clip and the soundtrack that does not
    loop. Checked before any ffmpeg runs: seeking a million seconds into a two-second file holds a worker
    for as long as the demuxer takes to find nothing there. Looping sources never fail here: their trim
    is taken modulo the source's length (:func:`looped_trim`)."""
    problems: list[Problem] = []
    timed: list[tuple[str, VideoClip | AudioClip | LumaClip | Soundtrack]] = [
        (path, clip) for path, clip in spec.clips() if isinstance(clip, VideoClip | AudioClip | LumaClip)]
    if spec.soundtrack is not None:
        timed.append(("soundtrack", spec.soundtrack))
    for path, item in timed:
        info = media.get(item.src)
        looping = isinstance(item, VideoClip | Soundtrack) and item.loop
        if info is None or info.duration is None or looping or item.trim <= 0:
            continue
        if item.trim >= info.duration:
            problems.append(Problem(f"{path}.trim", f"{item.trim:g} s is at or past the end of the source "
                                                    f"({info.duration:.3f} s)"))
    return problems


def looped_trim(trim: float, info: MediaInfo | None) -> float:
    """Where a looping source starts: a trim past its end wraps around, as a loop does, so the cost of
    opening it never depends on how large the trim is."""
    if info is None or not info.duration or trim < info.duration:
        return trim
    return trim % info.duration


def _source_length(clip: VideoClip | AudioClip | LumaClip, info: MediaInfo) -> float | None:
    if info.duration is None or info.is_still:
        return None
    speed = 1.0 if isinstance(clip, LumaClip) else clip.speed
    return float(info.duration - clip.trim) / speed  # a faster clip plays its source in less time


def _length(clip: Any, path: str, *, info: MediaInfo | None, canvas: Canvas, start: int, fixed_end: int | None,
            problems: list[Problem]) -> float | None:
    """A clip's length in seconds: explicit, or what is left of its source (to the end, when looping)."""
    length: float | None = clip.length
    if isinstance(clip, VideoClip | AudioClip | LumaClip) and info is not None:
        if isinstance(clip, VideoClip | LumaClip) and not info.has_video:
            raise BadMedia(f"{clip.src} has no video stream ({path}.src)")
        if isinstance(clip, VideoClip) and info.is_still:  # it would show for one frame, then vanish
            raise BadMedia(f"{clip.src} is a still picture, not a video: use an image clip ({path}.src)")
        if isinstance(clip, AudioClip) and not info.has_audio:
            raise BadMedia(f"{clip.src} has no audio stream ({path}.src)")
        if length is None:
            if isinstance(clip, VideoClip) and clip.loop:
                length = canvas.seconds(fixed_end - start) if fixed_end else None
            else:
                length = _source_length(clip, info)
            if length is not None and length <= 0:
                problems.append(Problem(f"{path}.trim", f"is past the end of the source ({info.duration:.3f} s)"))
                return None
    return length


def _phrases(clip: CaptionsClip, path: str, phrases: Mapping[str, Sequence[Sequence[TimedWord]]]
             ) -> tuple[tuple[TimedWord, ...], ...]:
    if clip.words is not None:
        runs = group_phrases([TimedWord(w.text, w.start, w.end) for w in clip.words], clip.max_words)
    else:  # a captions file, already split into phrases by whoever read it
        runs = [list(p) for p in phrases.get(path, [])]
    return tuple(tuple(p) for p in runs if p)


def build_plan(spec: RenderSpec, *, media: Mapping[str, MediaInfo], files: Mapping[str, Path],
               phrases: Mapping[str, Sequence[Sequence[TimedWord]]] | None = None,
               limits: Limits | None = None) -> Plan:
    """Resolve timing for every clip; ``media``/``files`` are keyed by ``src``, ``phrases`` by clip path."""
    limits = limits or Limits()
    canvas = Canvas.from_output(spec.output)
    problems: list[Problem] = trim_problems(spec, media)
    if problems:
        raise SpecError(problems)
    visuals: list[VisualItem] = []
    audio: list[AudioItem] = []
    mattes: list[MatteItem] = []
    phrases = phrases or {}
    fixed_end = canvas.frame(spec.output.duration) if spec.output.duration else None

    for path, given, start in _walk(spec, canvas):
        info = media.get(given.src) if isinstance(given, VideoClip | AudioClip | LumaClip) else None
        clip = given
        if isinstance(given, VideoClip) and given.loop:
            clip = given.model_copy(update={"trim": looped_trim(given.trim, info)})
        length = _length(clip, path, info=info, canvas=canvas, start=start.value, fixed_end=fixed_end,
                         problems=problems)
        grouped: tuple[tuple[TimedWord, ...], ...] = ()
        if isinstance(clip, CaptionsClip):
            grouped = _phrases(clip, path, phrases)
            if length is None:
                length = max((w.end for p in grouped for w in p), default=0.0)
            if length <= 0:
                problems.append(Problem(f"{path}.words", "no words with a positive end time"))
                continue
        if length is None:
            if not any(p.path.startswith(path) for p in problems):
                problems.append(Problem(f"{path}.length", "required"))
            continue
        span = Span(start.value, max(start.value + 1, canvas.frame(canvas.seconds(start.value) + length)))
        if canvas.seconds(span.end) > limits.max_duration:
            problems.append(Problem(f"{path}.length", f"ends past the limit of {limits.max_duration} s"))
            continue
        if isinstance(clip, LumaClip):  # draws nothing and keeps the track's cursor: it masks a clip
            assert info is not None
            mattes.append(MatteItem(path, files[clip.src], info, span, clip.trim))
            continue
        start.cursor = span.end
        if isinstance(clip, AudioClip):
            audio.append(AudioItem(path, files[clip.src], span, clip.trim, clip.volume, clip.role,
                                   clip.fade_in, clip.fade_out, demuxer=info.demuxer if info else "",
                                   speed=clip.speed))
            continue
        file = files.get(clip.src) if isinstance(clip, VideoClip | ImageClip) else None
        item_media = media.get(clip.src) if isinstance(clip, VideoClip | ImageClip) else None
        if isinstance(clip, ImageClip) and item_media is not None and not item_media.has_video:
            raise BadMedia(f"{clip.src} holds no picture ({path}.src)")  # a sound used as an image
        visuals.append(VisualItem(path, clip, span, file, item_media, grouped))
        if isinstance(clip, VideoClip) and clip.volume > 0 and info is not None and info.has_audio:
            audio.append(AudioItem(f"{path}.src", files[clip.src], span, clip.trim, clip.volume,
                                   "effect", loop=clip.loop, demuxer=info.demuxer, speed=clip.speed))
    visuals = _pair_mattes(visuals, mattes, problems)
    if problems:
        raise SpecError(problems)
    return _finish(spec, canvas, visuals=visuals, audio=audio, media=media, files=files, fixed_end=fixed_end,
                   limits=limits)


def _track(path: str) -> str:
    return path.split(".", 1)[0]


def _pair_mattes(visuals: list[VisualItem], mattes: Sequence[MatteItem], problems: list[Problem]
                 ) -> list[VisualItem]:
    """Each luma clip attached to the visual clip of its track it overlaps most (Shotstack's rule: the
    matte masks the clip beside it). A matte over nothing, two mattes on one clip, and a matte on a
    rotated or keyframe-scaled clip (the matte is cut to a fixed, upright box) are problems."""
    by_path = {v.path: v for v in visuals}
    for matte in mattes:
        overlaps = [(min(v.span.end, matte.span.end) - max(v.span.start, matte.span.start), v.path)
                    for v in by_path.values() if _track(v.path) == _track(matte.path)]
        best = max((o for o in overlaps if o[0] > 0), default=None)
        if best is None:
            problems.append(Problem(matte.path, "a luma matte must overlap a visual clip of its own track"))
            continue
        target = by_path[best[1]]
        clip = target.clip
        if target.matte is not None:
            problems.append(Problem(matte.path, f"{target.path} already has a luma matte ({target.matte.path})"))
        elif clip.transform is not None and clip.transform.rotate % 360:
            problems.append(Problem(f"{target.path}.transform.rotate", "a clip with a luma matte cannot be "
                                    "rotated: remove the rotation or the matte"))
        elif isinstance(clip.scale, list):
            problems.append(Problem(f"{target.path}.scale", "a clip with a luma matte cannot have keyframed "
                                    "scale: give one scale, or remove the matte"))
        else:
            by_path[target.path] = replace(target, matte=matte)
    return [by_path[v.path] for v in visuals]


class _Cursor:
    """Where the next clip of a track starts when it gives no ``start``."""

    def __init__(self) -> None:
        self.cursor = 0
        self.value = 0


def _walk(spec: RenderSpec, canvas: Canvas) -> Iterator[tuple[str, Any, _Cursor]]:
    for t, track in enumerate(spec.tracks):
        state = _Cursor()
        for c, clip in enumerate(track.clips):
            state.value = canvas.frame(clip.start) if clip.start is not None else state.cursor
            yield f"tracks[{t}].clips[{c}]", clip, state


def _finish(spec: RenderSpec, canvas: Canvas, *, visuals: list[VisualItem], audio: list[AudioItem],
            media: Mapping[str, MediaInfo], files: Mapping[str, Path], fixed_end: int | None,
            limits: Limits) -> Plan:
    frames = fixed_end or max([v.span.end for v in visuals] + [a.span.end for a in audio], default=0)
    if frames <= 0:
        raise SpecError([Problem("tracks", "the timeline is empty")])
    if canvas.seconds(frames) > limits.max_duration:
        raise SpecError([Problem("output.duration", f"the timeline is longer than {limits.max_duration} s")])
    if spec.soundtrack is not None:
        st = spec.soundtrack
        info = media.get(st.src)
        if info is not None and not info.has_audio:
            raise BadMedia(f"{st.src} has no audio stream (soundtrack.src)")
        trim = looped_trim(st.trim, info) if st.loop else st.trim
        audio.append(AudioItem("soundtrack", files[st.src], Span(0, frames), trim, st.volume, "music",
                               st.fade_in, st.fade_out, loop=st.loop, demuxer=info.demuxer if info else ""))
    if spec.output.format == "mp3" and not any(a.span.start < frames for a in audio):
        raise SpecError([Problem("output.format", NO_SOUND)])
    shown = tuple(v for v in visuals if v.span.start < frames)
    from framefleet.compositor.layers.base import layer_problems  # the layers import this module

    problems = layer_problems(shown, canvas, limits.max_raster_pixels)
    if problems:
        raise SpecError(problems)
    whole = Plan(canvas, frames, spec.output, shown, tuple(a for a in audio if a.span.start < frames),
                 duck=bool(spec.soundtrack and spec.soundtrack.duck))
    return whole if spec.output.range is None else whole.ranged(_range(spec, canvas, frames))


def _range(spec: RenderSpec, canvas: Canvas, frames: int) -> Span:
    """``output.range`` on the frame grid, checked against the timeline it cuts."""
    rng = spec.output.range
    assert rng is not None
    total = canvas.seconds(frames)
    first = canvas.frame(rng.start)
    if first >= frames:
        raise SpecError([Problem("output.range.start", f"{rng.start:g} s is at or past the end of the "
                                                       f"timeline ({float(total):.3f} s)")])
    if rng.length is None:
        return Span(first, frames)
    end = max(first + 1, canvas.frame(canvas.seconds(first) + rng.length))
    if end > frames:
        raise SpecError([Problem("output.range.length", f"the range ends at {rng.start + rng.length:g} s, past "
                                                        f"the end of the timeline ({float(total):.3f} s)")])
    return Span(first, end)
