"""Text clips: a still rasterised by ``compositor/text.py``, repeated for the clip's frames."""

from __future__ import annotations

from framefleet.compositor import geometry
from framefleet.compositor.layers.base import Context, Placed, finish, fitted_position, stamp
from framefleet.compositor.plan import VisualItem


def build(item: VisualItem, ctx: Context) -> Placed:
    canvas = ctx.canvas
    still = ctx.stills[item.path]
    stream = ctx.input(still.file).video.filter("format", "yuva420p")
    width, height = still.width, still.height
    if item.clip.rest_scale != 1:
        width, height = geometry.even(width * item.clip.rest_scale), geometry.even(height * item.clip.rest_scale)
        stream = stream.filter("scale", width, height, flags="bicubic")
    stream = stream.filter("loop", loop=item.shown.frames - 1, size=1, start=0)
    stream = stamp(stream, canvas, item.shown.start)
    margin = 0.0 if item.clip.position == "center" else geometry.TEXT_MARGIN
    x, y = fitted_position(item, canvas, width, height, margin=margin)
    return finish(stream, item, canvas, width=width, height=height, has_alpha=True, x=x, y=y, ctx=ctx)
