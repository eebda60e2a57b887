"""Video clips: trim, loop, conform to the output rate, fit, motion, then the shared finish."""

from __future__ import annotations

from framefleet.compositor import geometry
from framefleet.compositor.canvas import Canvas
from framefleet.compositor.layers.base import (
    Context,
    Placed,
    apply_motion,
    finish,
    fit_source,
    fitted_position,
    fps_filter,
    stamp,
)
from framefleet.compositor.plan import VisualItem
from framefleet.compositor.spec import VideoClip


def _seek(item: VisualItem, canvas: Canvas) -> tuple[float, float]:
    """Where to open the source, and how far past that point the first drawn frame lies.

    The source is opened one output frame early and the ``fps`` filter starts at the wanted point, so
    the frames it picks depend only on the source's timestamps relative to the clip's ``trim``: a
    segment that starts mid-clip shows exactly the frames the one-piece render shows there.
    """
    clip = item.clip
    assert isinstance(clip, VideoClip) and item.media is not None
    target = clip.trim + canvas.seconds(item.skip) * clip.speed  # a segment's first frame, in the source
    length = item.media.duration
    if clip.loop and length and target >= length:
        target = (target - length) % length  # after the first pass a loop restarts at the file's start
    seek = float(f"{max(0.0, target - 1 / float(canvas.fps)):.6f}")
    return seek, target - seek


def build(item: VisualItem, ctx: Context) -> Placed:
    clip = item.clip
    assert isinstance(clip, VideoClip) and item.file is not None and item.media is not None
    canvas = ctx.canvas
    seek, lead = _seek(item, canvas)
    frames = item.shown.frames
    source = ctx.media_input(item.file, demuxer=item.media.demuxer, kind="video", trim=seek, frames=frames,
                             loop=clip.loop, lead=lead, speed=clip.speed)
    # placed by its displayed size; cropped in the decoded frame's pixels (rotated, maybe not square)
    fitted = fit_source(item, canvas)
    frame = item.media.frame
    stream = source.video
    if clip.speed != 1:  # the source's clock runs ``speed`` times faster: the fps filter then picks frames
        stream = stream.filter("setpts", f"PTS/{clip.speed:.6g}")
        lead /= clip.speed
    stream = stream.filter("fps", fps=fps_filter(canvas), start_time=f"{lead:.6f}")
    stream = stream.filter("trim", end_frame=frames)
    if fitted.crop:
        cx, cy, cw, ch = geometry.to_frame(fitted.crop, (item.media.width, item.media.height), frame)
        stream = stream.filter("crop", cw, ch, cx, cy)
    stream = stream.filter("scale", fitted.width, fitted.height, flags="bicubic")
    if frame != (item.media.width, item.media.height):
        stream = stream.filter("setsar", "1")  # the scale made the pixels square; say so
    stream = apply_motion(stream, item, canvas)
    stream = stamp(stream, canvas, item.shown.start)
    x, y = fitted_position(item, canvas, fitted.width, fitted.height)
    return finish(stream, item, canvas, width=fitted.width, height=fitted.height,
                  has_alpha=item.media.has_alpha, x=x, y=y, ctx=ctx)
