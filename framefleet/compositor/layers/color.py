"""Colour and gradient fills. A flat colour is ffmpeg's ``color`` source; a gradient is a still."""

from __future__ import annotations

from framefleet.compositor import geometry
from framefleet.compositor.layers.base import Context, Placed, finish, fitted_position, fps_filter, stamp
from framefleet.compositor.plan import VisualItem
from framefleet.compositor.spec import ColorClip


def build(item: VisualItem, ctx: Context) -> Placed:
    clip = item.clip
    assert isinstance(clip, ColorClip)
    canvas = ctx.canvas
    fitted = geometry.fit(canvas.width, canvas.height, canvas, clip.fit, clip.rest_scale)
    seconds = canvas.seconds(item.shown.frames)
    if clip.color is not None:
        alpha = int(clip.color[7:9], 16) < 255
        # a see-through colour keeps its alpha only if the lavfi input itself ends in a format with alpha:
        # otherwise the input is handed over as yuv420p, opaque, before any filter of ours sees it
        spec = (f"color=c=0x{clip.color[1:]}:s={fitted.width}x{fitted.height}:r={fps_filter(canvas)}"
                f":d={seconds:.6f}" + (",format=rgba" if alpha else ""))
        stream = ctx.input(spec, f="lavfi").video.filter("format", "yuva420p" if alpha else "yuv420p")
        stream = stream.filter("trim", end_frame=item.shown.frames)
    else:
        still = ctx.stills[item.path]
        alpha = True
        stream = ctx.input(still.file).video.filter("format", "yuva420p")
        stream = stream.filter("loop", loop=item.shown.frames - 1, size=1, start=0)
    stream = stamp(stream, canvas, item.shown.start)
    x, y = fitted_position(item, canvas, fitted.width, fitted.height)
    return finish(stream, item, canvas, width=fitted.width, height=fitted.height, has_alpha=alpha, x=x, y=y, ctx=ctx)
