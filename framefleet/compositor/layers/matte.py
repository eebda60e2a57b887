"""Luma mattes: a grey picture or video multiplied into the alpha of the clip it masks.

The matte is scaled to cover the frame (Shotstack's luma assets are full-frame), cut to the clip's box,
made full-range grey (a limited-range white of 235 would leave the clip 8 % see-through), padded in time
with white outside its own span (the clip is not masked there) and put on the clip's frame grid. Where
the clip is opaque the matte simply becomes its alpha (``alphamerge``: one plane copy); where it has
alpha already the two are multiplied (``blend=multiply``), so a faded or transparent clip stays so.
"""

from __future__ import annotations

from framefleet.compositor import ffgraph
from framefleet.compositor.canvas import Canvas
from framefleet.compositor.layers.base import Context, Stream, fps_filter, stamp
from framefleet.compositor.plan import MatteItem, Span, VisualItem


def _frames(matte: MatteItem, ctx: Context, frames: int, first: int) -> Stream:
    """The matte's own frames ``[first, first + frames)`` of the output, at the output's rate."""
    canvas = ctx.canvas
    if matte.media.is_still:
        stream = ctx.source(matte.file, matte.media.demuxer).video
        return _cover(stream, canvas).filter("loop", loop=frames - 1, size=1, start=0)
    target = matte.trim + canvas.seconds(first - matte.span.start)
    seek = float(f"{max(0.0, target - 1 / float(canvas.fps)):.6f}")
    lead = target - seek
    source = ctx.media_input(matte.file, demuxer=matte.media.demuxer, kind="video", trim=seek, frames=frames,
                             loop=False, lead=lead)
    stream = source.video.filter("fps", fps=fps_filter(canvas), start_time=f"{lead:.6f}")
    return _cover(stream.filter("trim", end_frame=frames), canvas)


def _cover(stream: Stream, canvas: Canvas) -> Stream:
    """Scaled to cover the frame (centred, the overflow cut) and turned into full-range grey."""
    return (stream.filter("scale", canvas.width, canvas.height, force_original_aspect_ratio="increase",
                          flags="bicubic", out_range="full")
            .filter("crop", canvas.width, canvas.height).filter("format", "gray"))


def _boxed(stream: Stream, canvas: Canvas, *, width: int, height: int, x: int, y: int) -> Stream:
    """The part of the frame-sized matte under the clip's box; white where the box leaves the frame."""
    left, top = max(0, -x), max(0, -y)
    right, bottom = max(0, x + width - canvas.width), max(0, y + height - canvas.height)
    if left or top or right or bottom:
        stream = stream.filter("pad", canvas.width + left + right, canvas.height + top + bottom, left, top,
                               color="white")
    return stream.filter("crop", width, height, x + left, y + top)


def matte_stream(item: VisualItem, ctx: Context, *, width: int, height: int, x: int, y: int) -> Stream | None:
    """The clip's matte as a grey stream of its box, one frame per frame it shows (None: no matte on
    the frames drawn here)."""
    matte = item.matte
    if matte is None:
        return None
    shown = item.shown
    part = Span(max(shown.start, matte.span.start), min(shown.end, matte.span.end))
    if part.frames <= 0:
        return None
    stream = _boxed(_frames(matte, ctx, part.frames, part.start), ctx.canvas, width=width, height=height, x=x, y=y)
    before, after = part.start - shown.start, shown.end - part.end
    if before or after:
        stream = stream.filter("tpad", start=before, stop=after, color="white")
    return stamp(stream, ctx.canvas, shown.start)


def apply_matte(stream: Stream, item: VisualItem, ctx: Context | None, *, width: int, height: int, x: int, y: int,
                has_alpha: bool) -> tuple[Stream, bool]:
    """The layer with its matte multiplied into its alpha, and whether it now has alpha."""
    if ctx is None:
        return stream, has_alpha
    matte = matte_stream(item, ctx, width=width, height=height, x=x, y=y)
    if matte is None:
        return stream, has_alpha
    stream = stream.filter("format", "yuva420p")
    if has_alpha:
        split = stream.filter_multi_output("split")
        alpha = ffgraph.filter([split[1].filter("alphaextract"), matte], "blend", all_mode="multiply")
        return ffgraph.filter([split[0], alpha], "alphamerge"), True
    return ffgraph.filter([stream, matte], "alphamerge"), True
