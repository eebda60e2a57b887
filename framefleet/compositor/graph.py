"""plan → one ffmpeg command with one filter graph. Pure: nothing runs, nothing is written.

The background is a colour source exactly the output's frames long; every visual layer is overlaid on it
in track order (``eof_action=pass``, so a layer simply disappears when its clip ends); the sound is one mix.
The graph text goes to ffmpeg through a script file (see :meth:`Command.argv`), never the command line,
so long timelines do not hit the argument-length limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from framefleet.compositor.encoders import Encoding
from framefleet.compositor.layers import audio, captions, color, image, text, video
from framefleet.compositor.layers.base import Context, Placed, Still, fps_filter
from framefleet.compositor.plan import Plan, VisualItem

BUILDERS: Mapping[str, Callable[[VisualItem, Context], Placed]] = {
    "video": video.build,
    "image": image.build,
    "color": color.build,
    "text": text.build,
    "captions": captions.build,
}


@dataclass(frozen=True)
class Command:
    """An ffmpeg invocation: ``args`` with the graph inline, and the graph text on its own."""

    args: tuple[str, ...]
    graph: str

    def argv(self, script: Path, ffmpeg_bin: str = "ffmpeg") -> list[str]:
        """The argument list with the graph read from ``script`` (written by the caller)."""
        args = list(self.args)
        at = args.index("-filter_complex")
        args[at:at + 2] = ["-filter_complex_script", str(script)]
        return [ffmpeg_bin, *args]


def _visual(plan: Plan, ctx: Context) -> Any:
    canvas = plan.canvas
    bg = plan.output.background
    base = ctx.input(f"color=c=0x{bg[1:7]}:s={canvas.width}x{canvas.height}:r={fps_filter(canvas)}"
                     f":d={plan.duration + 1:.6f}", f="lavfi").video
    stream = base.filter("format", "yuv420p").filter("trim", end_frame=plan.frames)
    for item in plan.visuals:
        if item.clip.type == "captions" and item.clip.style == "none":
            continue
        placed = BUILDERS[item.clip.type](item, ctx)
        # format=yuv420 (not auto): the output is 4:2:0 anyway, and auto makes every frame convert
        # through a format with alpha, five times slower on a full-frame layer.
        stream = ffmpeg.overlay(stream, placed.stream, x=placed.x, y=placed.y, eof_action="pass",
                                format="yuv420")
    return stream


def _streams(plan: Plan, ctx: Context, encoding: Encoding) -> tuple[Any, Any]:
    video_stream = _visual(plan, ctx) if encoding.video_codec else None
    audio_stream = (audio.build(plan.audio, ctx, seconds=plan.duration, duck=plan.duck,
                                loudness=plan.output.loudness) if encoding.audio_codec else None)
    return video_stream, audio_stream


def compile_command(plan: Plan, *, stills: Mapping[str, Still], encoding: Encoding, output: Path,
                    thumbnail: Path | None = None, thumbnail_width: int | None = None) -> Command:
    """Everything a render runs, as one ffmpeg command."""
    dry = Context(plan.canvas, dict(stills))
    _streams(plan, dry, encoding)
    ctx = Context(plan.canvas, dict(stills), uses=dry.taken)
    video_stream, audio_stream = _streams(plan, ctx, encoding)
    streams: list[Any] = []
    outputs: list[Any] = []
    if video_stream is not None and thumbnail is not None:
        split = video_stream.filter_multi_output("split")
        video_stream = split[0]
        at = min(plan.canvas.frame(plan.output.thumbnail.at if plan.output.thumbnail else 0), plan.frames - 1)
        still = split[1].filter("trim", start_frame=at, end_frame=at + 1)
        if thumbnail_width:
            still = still.filter("scale", thumbnail_width, -2, flags="bicubic")
        outputs.append(ffmpeg.output(still, str(thumbnail), vframes=1, **{"q:v": 3, "f": "image2"}))
    if video_stream is not None and encoding.format == "gif":
        split = video_stream.filter_multi_output("split")
        palette = split[0].filter("palettegen", stats_mode="diff")
        video_stream = ffmpeg.filter([split[1], palette], "paletteuse", dither="bayer", bayer_scale=3)
    codecs: dict[str, Any] = {}
    if video_stream is not None:
        streams.append(video_stream)
        codecs["vcodec"] = encoding.video_codec
    if audio_stream is not None:
        streams.append(audio_stream)
        codecs["acodec"] = encoding.audio_codec
    main = ffmpeg.output(*streams, str(output), f=encoding.format, **codecs, **encoding.options)
    node = ffmpeg.merge_outputs(main, *outputs) if outputs else main
    # Global options first: ffmpeg-python would append them after the outputs, where ffmpeg only tolerates them.
    args = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-progress", "pipe:1", "-y",
            *node.get_args()]
    if "-filter_complex" not in args:  # an audio-only render can still have a trivial graph
        raise AssertionError("every render has a filter graph")
    graph = args[args.index("-filter_complex") + 1]
    return Command(tuple(str(a) for a in args), graph)
