"""Image clips: decoded and scaled once, then repeated for the clip's frames (and moved, for effects).

Ken Burns motion uses ``perspective``, which samples between pixels: a test tracks an edge frame by
frame and finds it moving evenly. ``zoompan`` was tried first and rejected: it crops on whole pixels,
and even on a 4× supersampled picture the edge stepped back and forth by a third of a pixel.
"""

from __future__ import annotations

from framefleet.compositor import geometry
from framefleet.compositor.layers.base import (
    Context,
    Placed,
    apply_motion,
    finish,
    fitted_position,
    stamp,
)
from framefleet.compositor.plan import VisualItem
from framefleet.compositor.spec import ImageClip


def build(item: VisualItem, ctx: Context) -> Placed:
    clip = item.clip
    assert isinstance(clip, ImageClip) and item.file is not None and item.media is not None
    canvas = ctx.canvas
    fitted = geometry.fit(item.media.width, item.media.height, canvas, clip.fit, clip.scale)
    stream = ctx.input(item.file).video
    if fitted.crop:
        cx, cy, cw, ch = fitted.crop
        stream = stream.filter("crop", cw, ch, cx, cy)
    stream = stream.filter("scale", fitted.width, fitted.height, flags="bicubic")
    stream = stream.filter("format", "yuva420p" if item.media.has_alpha else "yuv420p")
    stream = stream.filter("loop", loop=item.span.frames - 1, size=1, start=0)
    stream = apply_motion(stream, item, canvas)
    stream = stamp(stream, canvas, item.span.start)
    x, y = fitted_position(item, canvas, fitted.width, fitted.height)
    return finish(stream, item, canvas, width=fitted.width, height=fitted.height,
                  has_alpha=item.media.has_alpha, x=x, y=y)
