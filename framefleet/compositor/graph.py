"""plan → one ffmpeg command with one filter graph. Pure: nothing runs, nothing is written.

The background is a colour source exactly the output's frames long; every visual layer is overlaid on it
in track order (``eof_action=pass``, so a layer simply disappears when its clip ends); the sound is one mix.
The graph text goes to ffmpeg through a script file (see :meth:`Command.argv`), never the command line,
so long timelines do not hit the argument-length limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from framefleet.compositor import ffgraph, formats
from framefleet.compositor.canvas import Canvas
from framefleet.compositor.encoders import Encoding
from framefleet.compositor.layers import audio, captions, color, image, text, video
from framefleet.compositor.layers.base import Context, Placed, Still, Stream, covers, fps_filter
from framefleet.compositor.loudness import Level
from framefleet.compositor.plan import AudioItem, Plan, Span, VisualItem

BUILDERS: Mapping[str, Callable[[VisualItem, Context], Placed]] = {
    "video": video.build,
    "image": image.build,
    "color": color.build,
    "text": text.build,
    "captions": captions.build,
}


#: Before the inputs: quiet, machine-readable progress on stdout, overwrite the (temporary) output.
GLOBAL_ARGS = ("-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-progress", "pipe:1", "-y")


@dataclass(frozen=True)
class Command:
    """An ffmpeg invocation: ``args`` with the graph inline, and the graph text on its own."""

    args: tuple[str, ...]
    graph: str

    def argv(self, script: Path, ffmpeg_bin: str = "ffmpeg") -> list[str]:
        """The argument list with the graph read from ``script`` (written by the caller); a command
        with no filters at all (a join of silent pictures) has no graph to read."""
        args = list(self.args)
        if "-filter_complex" not in args:
            return [ffmpeg_bin, *args]
        at = args.index("-filter_complex")
        args[at:at + 2] = ["-filter_complex_script", str(script)]
        return [ffmpeg_bin, *args]


def _drawn(plan: Plan) -> list[VisualItem]:
    return [item for item in plan.visuals if not (item.clip.type == "captions" and item.clip.style == "none")]


def _cover(plan: Plan) -> list[VisualItem]:
    """The bottom track's layers, when they alone fill every frame of the plan: opaque, full-frame,
    end to end. They are then played one after the other as the picture everything else is drawn
    on, instead of each being blended onto a background colour: the same pixels, for a third of the
    work of the bottom layer (a full-frame blend and a colour source per frame, 1.4 CPU-s a minute at
    1080x1920)."""
    drawn = _drawn(plan)
    if not drawn:
        return []
    track = drawn[0].path.split(".", 1)[0]
    bottom = [item for item in drawn if item.path.split(".", 1)[0] == track]
    if drawn[:len(bottom)] != bottom or not all(covers(item, plan.canvas) for item in bottom):
        return []
    edges = [plan.first] + [edge for item in bottom for edge in (item.shown.start, item.shown.end)]
    edges.append(plan.first + plan.frames)
    return bottom if all(a == b for a, b in zip(edges[::2], edges[1::2], strict=True)) else []


def _visual(plan: Plan, ctx: Context) -> Stream:
    canvas = plan.canvas
    bottom = _cover(plan)
    if bottom:
        parts = [BUILDERS[item.clip.type](item, ctx).stream.filter("format", "yuv420p").filter("setsar", "1")
                 for item in bottom]  # concat wants one size, pixel format and aspect
        if len(parts) == 1:
            stream = parts[0]
        else:  # concat also wants each part to start at 0; it lays them end to end
            parts = [part.filter("setpts", "PTS-STARTPTS") for part in parts]
            stream = ffgraph.filter(parts, "concat", n=len(parts), v=1, a=0)
            # concat answers in microseconds: back to one tick a frame before numbering the frames
            stream = stream.filter("settb", f"{canvas.fps.denominator}/{canvas.fps.numerator}")
            stream = stream.filter("setpts", f"N+{plan.first}")
    else:
        bg = plan.output.background
        base = ctx.input(f"color=c=0x{bg[1:7]}:s={canvas.width}x{canvas.height}:r={fps_filter(canvas)}"
                         f":d={plan.duration + 1:.6f}", f="lavfi").video
        stream = base.filter("format", "yuv420p").filter("trim", end_frame=plan.frames)
        if plan.first:  # a time segment: items carry the whole timeline's frame numbers
            stream = stream.filter("setpts", f"N+{plan.first}")
    for item in _drawn(plan)[len(bottom):]:
        placed = BUILDERS[item.clip.type](item, ctx)
        # format=yuv420 (not auto): the output is 4:2:0 anyway, and auto makes every frame convert
        # through a format with alpha, five times slower on a full-frame layer.
        stream = ffgraph.overlay(stream, placed.stream, x=placed.x, y=placed.y, eof_action="pass",
                                format="yuv420")
    if bottom:
        # fps on a stream already on the grid changes no frame: it gives the output its frame rate,
        # which a looped picture would otherwise leave at 25 (and the muxer would drop frames to it).
        # It comes last because it keeps a reference to each frame it passes on: before the layers,
        # the first overlay could not draw on the frames and copied every one of them (0.3 CPU-s in
        # the 20 s reference render). setpts=N first numbers the frames from 0 (a time segment's
        # too) and ends the stream at the frame count; overlay ends it at its last frame's start,
        # and fps would then drop that frame.
        stream = stream.filter("setpts", "N").filter("fps", fps=fps_filter(canvas))
    elif plan.first:
        stream = stream.filter("setpts", "PTS-STARTPTS")
    return stream


def _streams(plan: Plan, ctx: Context, encoding: Encoding,
             level: Level | None) -> tuple[Stream | None, Stream | None]:
    video_stream = _visual(plan, ctx) if encoding.video_codec else None
    audio_stream = _sound(plan, ctx, level) if encoding.audio_codec else None
    return video_stream, audio_stream


def _sound(plan: Plan, ctx: Context, level: Level | None) -> Stream:
    """The plan's sound: the whole timeline's mix at ``level``, cut to the plan's ``output.range`` when
    it has one."""
    mixed, start, end = plan.sound_window
    return audio.build(plan.audio, ctx, seconds=mixed, duck=plan.duck, level=level, cut=(start, end))


_Built = TypeVar("_Built")


def _twice(canvas: Canvas, build: Callable[[Context], _Built], stills: Mapping[str, Still] | None = None
           ) -> _Built:
    """``build`` run on a dry context first, to count how often each input's stream is taken, then for
    real with those counts (:attr:`Context.uses`), so a stream taken more than once goes through a split."""
    dry = Context(canvas, dict(stills or {}))
    build(dry)
    return build(Context(canvas, dict(stills or {}), uses=dry.taken))


def _command(*outputs: ffgraph.Output | ffgraph.Merged) -> Command:
    compiled = ffgraph.compile(*outputs, global_args=GLOBAL_ARGS)
    return Command(compiled.args, compiled.graph)


def compile_command(plan: Plan, *, stills: Mapping[str, Still], encoding: Encoding, output: Path,
                    thumbnail: Path | None = None, thumbnail_frame: int = 0,
                    thumbnail_width: int | None = None, level: Level | None = None) -> Command:
    """Everything a render (or one time segment of it) runs, as one ffmpeg command.

    ``thumbnail_frame`` counts from the plan's first frame. A segment's ``encoding`` has no sound
    (:meth:`Encoding.pictures`): the sound is mixed once, by :func:`compile_sound`. ``level`` is what
    :func:`compile_measure` found for the plan's ``output.loudness`` (None: levels are left as mixed).
    """
    video_stream, audio_stream = _twice(plan.canvas, lambda ctx: _streams(plan, ctx, encoding, level), stills)
    extra: list[ffgraph.Output] = []
    if video_stream is not None and thumbnail is not None:
        split = video_stream.filter_multi_output("split")
        video_stream = split[0]
        at = max(0, min(thumbnail_frame, plan.frames - 1))
        still = split[1].filter("trim", start_frame=at, end_frame=at + 1)
        if thumbnail_width:
            still = still.filter("scale", thumbnail_width, -2, flags="bicubic")
        # update=1: one image, so a '%d' in the file's name is never read as a frame-number pattern
        options: dict[str, ffgraph.Option] = {"vframes": 1, "q:v": 3, "f": "image2", "update": 1}
        extra.append(ffgraph.output(still, str(thumbnail), **options))
    if video_stream is not None and encoding.format == "gif":
        split = video_stream.filter_multi_output("split")
        palette = split[0].filter("palettegen", stats_mode="diff")
        video_stream = ffgraph.filter([split[1], palette], "paletteuse", dither="bayer", bayer_scale=3)
    main = _output(video_stream, audio_stream, output, encoding)
    return _command(ffgraph.merge_outputs(main, *extra) if extra else main)


def compile_sound(plan: Plan, *, encoding: Encoding, output: Path, level: Level | None = None) -> Command:
    """The whole timeline's sound, mixed, ducked and brought to ``level`` (then cut to the
    ``output.range``, when there is one) and encoded once, on its own (it runs beside the pictures,
    and a segmented render's joins cannot be heard)."""
    audio_stream = _twice(plan.canvas, lambda ctx: _sound(plan, ctx, level))
    return _command(_output(None, audio_stream, output, encoding.sound()))


def compile_measure(plan: Plan, *, printed: Path, mixed: Path) -> Command:
    """The first loudness pass: the whole timeline's mix (never cut to a range: a range is normalised
    as the whole timeline is) measured into ``printed`` and written to ``mixed`` (float PCM, so the
    second pass reads the very samples measured: :func:`mixed_plan`).

    The mix is made once. The second pass then opens one file instead of every sound of the edit:
    its work and memory no longer grow with the cuts (``loudnorm`` reading a 10-minute mix of 100
    cuts held 200 MiB, reading the mixed file 77 MiB)."""
    seconds, _, _ = plan.sound_window
    stream = _twice(plan.canvas, lambda ctx: audio.measure(plan.audio, ctx, seconds=seconds, duck=plan.duck,
                                                            printed=printed))
    # RF64 past 4 GiB (a float stereo mix reaches it at 3 h 6 min; FRAMEFLEET_MAX_DURATION allows that)
    return _command(ffgraph.output(stream, str(mixed), f="wav", acodec="pcm_f32le", rf64="auto"))


def compile_stem(plan: Plan, lane: Sequence[AudioItem], *, end: int, output: Path) -> Command:
    """A run of one lane's sounds (:func:`audio.lanes`) mixed into one float PCM file that ends at frame
    ``end`` of the timeline to the sample: where the lane's next sound starts (or the run's last one
    ends). See :data:`framefleet.compositor.render.STEM_CUTS`."""
    last = audio.sample(plan.canvas, end)
    stream = _twice(plan.canvas, lambda ctx: audio.stem(lane, ctx, end=last))
    return _command(ffgraph.output(stream, str(output), f="wav", acodec="pcm_f32le", rf64="auto"))


def mixed_plan(plan: Plan, mixed: Path) -> Plan:
    """``plan`` with its sound replaced by its mix in ``mixed`` (written by :func:`compile_measure`):
    one sound, the whole mix long, nothing left to duck."""
    frames = plan.whole or plan.frames
    item = AudioItem("mix", mixed, Span(0, frames), trim=0.0, volume=1.0, role="effect", demuxer="wav")
    return replace(plan, audio=(item,), duck=False)


def compile_join(*, pictures: Path, sound: Path, encoding: Encoding, output: Path) -> Command:
    """The finished file: the pictures (an ffconcat list of files whose durations are exact frame
    counts) and the sound, both copied as they are."""
    options = [arg for key, value in sorted(encoding.joined().options.items()) for arg in (f"-{key}", str(value))]
    return Command((*GLOBAL_ARGS, "-f", "concat", "-protocol_whitelist", formats.PROTOCOLS, "-safe", "0",
                    "-i", str(pictures), "-i", str(sound),
                    "-map", "0:v", "-map", "1:a", "-c", "copy", *options, "-f", encoding.format, str(output)), "")


#: Seconds of a source decoded before the first cut a pass extracts (:func:`compile_extract`).
EXTRACT_PREROLL = 0.5


def compile_extract(source: Path, cuts: Sequence[tuple[float, float, Path]], *, demuxer: str) -> Command:
    """One pass over ``source``'s sound, writing each cut (``start`` and ``seconds`` in the source) to its
    own PCM file. The decoder reads the source once, from the earliest cut; each output keeps its own
    range, to the sample. See :func:`framefleet.compositor.render.join` for why. ``source`` is a
    customer's file, opened only with ``demuxer``, the one its probe found."""
    # decoding starts a little before the first cut: a compressed sound decoded from a seek point lacks
    # its decoder's overlap for the first frame, a click if that frame were in the cut
    first = max(0.0, min(start for start, _, _ in cuts) - EXTRACT_PREROLL)
    args: list[str] = [*GLOBAL_ARGS, *formats.input_args(demuxer), "-ss", f"{first:.6f}", "-vn", "-i", str(source)]
    for start, seconds, out in cuts:
        # the sound on its own timestamps: one that starts after the picture, or has gaps, keeps sync
        # (a WAV has no timestamps; silence stands where the source has no samples), and silence past
        # its end: every cut is its whole length, and one trimmed past a short sound track is silence,
        # not a stream with no samples at all (which ends a lane's concat early, and the lane with it)
        args += ["-map", "0:a", "-af", "aresample=async=1:first_pts=0,apad", "-ss", f"{start - first:.6f}",
                 "-t", f"{seconds:.6f}", "-c:a", "pcm_f32le", "-f", "wav", "-rf64", "auto", str(out)]
    return Command(tuple(args), "")


def _output(video_stream: Stream | None, audio_stream: Stream | None, output: Path,
            encoding: Encoding) -> ffgraph.Output:
    codecs: dict[str, ffgraph.Option] = {}
    streams: list[Stream] = []
    if video_stream is not None:
        streams.append(video_stream)
        codecs["vcodec"] = encoding.video_codec
    if audio_stream is not None:
        streams.append(audio_stream)
        codecs["acodec"] = encoding.audio_codec
    return ffgraph.output(*streams, str(output), f=encoding.muxer, **codecs, **encoding.options)
