"""Captions: every caption state is a picture of one shared size, played as one stream.

The pictures are listed with their durations in an ffconcat file, so a captions track of any length is
one input and one overlay, not one per word.
"""

from __future__ import annotations

from framefleet.compositor import formats, geometry
from framefleet.compositor.layers.base import Context, Placed, finish, fitted_position, fps_filter, stamp
from framefleet.compositor.plan import VisualItem
from framefleet.compositor.spec import CaptionsClip, rest


def build(item: VisualItem, ctx: Context) -> Placed:
    clip = item.clip
    assert isinstance(clip, CaptionsClip)
    canvas = ctx.canvas
    still = ctx.stills[item.path]
    # our own list of our own pictures: absolute paths (safe=0), read as local files only
    stream = ctx.input(still.file, f="concat", safe=0, protocol_whitelist=formats.PROTOCOLS).video
    stream = stream.filter("format", "yuva420p")
    stream = stream.filter("fps", fps=fps_filter(canvas)).filter("trim", end_frame=item.shown.frames)
    stream = stamp(stream, canvas, item.shown.start)
    if clip.position is None:
        x, y = geometry.caption_anchor(canvas, still.width, still.height)
        x, y = x + round(rest(clip.offset.x, 0.0) * canvas.width), y + round(rest(clip.offset.y, 0.0) * canvas.height)
    else:
        margin = 0.0 if clip.position == "center" else geometry.TEXT_MARGIN
        x, y = fitted_position(item, canvas, still.width, still.height, margin=margin)
    return finish(stream, item, canvas, width=still.width, height=still.height, has_alpha=True, x=x, y=y, ctx=ctx)
