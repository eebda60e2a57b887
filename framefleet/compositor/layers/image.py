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
    fit_source,
    fitted_position,
    has_motion,
    stamp,
)
from framefleet.compositor.plan import VisualItem
from framefleet.compositor.spec import ImageClip


def build(item: VisualItem, ctx: Context) -> Placed:
    clip = item.clip
    assert isinstance(clip, ImageClip) and item.file is not None and item.media is not None
    canvas = ctx.canvas
    fitted = fit_source(item, canvas)
    stream = ctx.source(item.file, item.media.demuxer).video
    if fitted.crop:
        cx, cy, cw, ch = fitted.crop
        stream = stream.filter("crop", cw, ch, cx, cy)
    pixel_format = "yuva420p" if item.media.has_alpha else "yuv420p"
    if not has_motion(item, canvas):
        stream = stream.filter("scale", fitted.width, fitted.height, flags="bicubic").filter("format", pixel_format)
        stream = stream.filter("loop", loop=item.shown.frames - 1, size=1, start=0)
    else:
        # The moving window is sampled at the picture's own resolution when it is smaller than the box
        # (most photos in a 1080p frame are not much larger), then scaled up once per frame: the same
        # picture as moving the upscaled image, for a fraction of the per-pixel work.
        source_w, source_h = (fitted.crop[2], fitted.crop[3]) if fitted.crop else (item.media.width, item.media.height)
        k = min(1.0, source_w / fitted.width, source_h / fitted.height)
        work_w, work_h = geometry.even(fitted.width * k), geometry.even(fitted.height * k)
        stream = stream.filter("scale", work_w, work_h, flags="bicubic").filter("format", pixel_format)
        stream = stream.filter("loop", loop=item.shown.frames - 1, size=1, start=0)
        stream = apply_motion(stream, item, canvas)
        if (work_w, work_h) != (fitted.width, fitted.height):
            stream = stream.filter("scale", fitted.width, fitted.height, flags="bicubic")
    stream = stamp(stream, canvas, item.shown.start)
    x, y = fitted_position(item, canvas, fitted.width, fitted.height)
    return finish(stream, item, canvas, width=fitted.width, height=fitted.height,
                  has_alpha=item.media.has_alpha, x=x, y=y, ctx=ctx)
