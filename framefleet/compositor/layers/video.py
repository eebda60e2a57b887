"""Video clips: trim, loop, conform to the output rate, fit, motion, then the shared finish."""

from __future__ import annotations

from framefleet.compositor import geometry
from framefleet.compositor.layers.base import (
    Context,
    Placed,
    apply_motion,
    finish,
    fitted_position,
    fps_filter,
    stamp,
)
from framefleet.compositor.plan import VisualItem
from framefleet.compositor.spec import VideoClip


def build(item: VisualItem, ctx: Context) -> Placed:
    clip = item.clip
    assert isinstance(clip, VideoClip) and item.file is not None and item.media is not None
    canvas = ctx.canvas
    source = ctx.media_input(item.file, kind="video", trim=clip.trim, frames=item.span.frames, loop=clip.loop)
    fitted = geometry.fit(item.media.width, item.media.height, canvas, clip.fit, clip.scale)
    stream = source.video.filter("fps", fps=fps_filter(canvas)).filter("trim", end_frame=item.span.frames)
    if fitted.crop:
        cx, cy, cw, ch = fitted.crop
        stream = stream.filter("crop", cw, ch, cx, cy)
    stream = stream.filter("scale", fitted.width, fitted.height, flags="bicubic")
    stream = apply_motion(stream, item, canvas)
    stream = stamp(stream, canvas, item.span.start)
    x, y = fitted_position(item, canvas, fitted.width, fitted.height)
    return finish(stream, item, canvas, width=fitted.width, height=fitted.height,
                  has_alpha=item.media.has_alpha, x=x, y=y)
