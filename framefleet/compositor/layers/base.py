"""What every visual layer shares: the graph context, time-grid stamping, motion, alpha and placement."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framefleet.compositor import ffgraph, formats, geometry
from framefleet.compositor.canvas import Canvas
from framefleet.compositor.plan import VisualItem
from framefleet.compositor.spec import ColorClip, ImageClip, VideoClip, VisualClip, rest
from framefleet.errors import Problem

Stream = ffgraph.Stream


@dataclass(frozen=True)
class Still:
    """A picture rasterised for a clip before the graph is built (text, caption states, gradient)."""

    file: Path
    width: int
    height: int
    #: For an ffconcat list of pictures (captions): each picture and how many frames it shows.
    entries: tuple[tuple[Path, int], ...] = ()

    @property
    def concat(self) -> bool:
        return bool(self.entries)


class Source:
    """One ``-i`` as layers see it: ``.video`` and ``.audio`` hand out that input's streams."""

    def __init__(self, ctx: Context, key: tuple[Any, ...]) -> None:
        self._ctx, self._key = ctx, key

    @property
    def video(self) -> Stream:
        return self._ctx.take(self._key, "video")

    @property
    def audio(self) -> Stream:
        return self._ctx.take(self._key, "audio")


@dataclass
class Context:
    """What layers need to build their part of the graph: the canvas, stills, and shared inputs.

    An input used by several clips (the same file, trim and length twice, or a video's picture and its
    sound) is opened once; where one stream of it feeds several chains it goes through a ``split``.
    ``uses`` is how often each stream is taken, counted by a first, dry build of the same plan.
    """

    canvas: Canvas
    stills: dict[str, Still] = field(default_factory=dict)
    uses: Counter[tuple[Any, ...]] | None = None
    taken: Counter[tuple[Any, ...]] = field(default_factory=Counter)
    _inputs: dict[tuple[Any, ...], Stream] = field(default_factory=dict)
    _splits: dict[tuple[Any, ...], list[Stream]] = field(default_factory=dict)

    def input(self, file: Path | str, **options: Any) -> Source:
        key = (str(file), tuple(sorted(options.items())))
        if key not in self._inputs:
            self._inputs[key] = ffgraph.input(str(file), **options)
        return Source(self, key)

    def take(self, key: tuple[Any, ...], kind: str) -> Stream:
        slot = (key, kind)
        self.taken[slot] += 1
        node = self._inputs[key]
        stream = node.video if kind == "video" else node.audio
        count = self.uses.get(slot, 1) if self.uses is not None else 1
        if count <= 1:
            return stream
        if slot not in self._splits:
            split = stream.filter_multi_output("split" if kind == "video" else "asplit", str(count))
            self._splits[slot] = [split[i] for i in range(count)]
        return self._splits[slot][self.taken[slot] - 1]

    def source(self, file: Path, demuxer: str, **options: Any) -> Source:
        """A customer's file, opened only with the demuxer its probe found and only as a local file:
        ffmpeg never guesses the format again, so the file cannot turn into a playlist or a list of
        other files (see :mod:`framefleet.compositor.formats`)."""
        return self.input(file, **formats.input_options(demuxer), **options)

    def media_input(self, file: Path, *, demuxer: str, kind: str, trim: float, frames: int, loop: bool,
                    lead: float = 0.0, speed: float = 1.0) -> Source:
        """A time-based source cut to the clip: fast seek to ``trim``, a little slack past the end
        (the filters cut to the exact frame). ``speed``: source seconds played per output second.

        Picture and sound of one file are separate inputs (``kind``), each blind to the other stream.
        Sharing one input costs ~300 MB per 1080p cut: when the mix asks for a clip's sound early, the
        demuxer reads its picture too, and every decoded frame waits in memory until the overlay
        reaches the clip's start.
        """
        seconds = lead + (self.canvas.seconds(frames) + 2 / float(self.canvas.fps)) * speed
        options: dict[str, Any] = {"an" if kind == "video" else "vn": None, "t": f"{seconds:.6f}"}
        if trim > 0:
            options["ss"] = f"{trim:.6f}"
        if loop:
            options["stream_loop"] = -1
        return self.source(file, demuxer, **options)


@dataclass(frozen=True)
class Placed:
    """A visual layer ready to overlay: its stream and the overlay's x and y (numbers or expressions)."""

    stream: Stream
    x: str
    y: str


def stamp(stream: Stream, canvas: Canvas, start_frame: int) -> Stream:
    """Give a constant-rate stream exact timestamps on the output grid, first frame at ``start_frame``.

    The time base becomes one frame, the same as the background's, so overlay never rounds a layer
    onto the neighbouring frame.
    """
    fps = canvas.fps
    return stream.filter("settb", f"{fps.denominator}/{fps.numerator}").filter("setpts", f"N+{start_frame}")


def fps_filter(canvas: Canvas) -> str:
    return f"{canvas.fps.numerator}/{canvas.fps.denominator}"


def transition_frames(item: VisualItem, canvas: Canvas, name: str) -> tuple[int, int]:
    """Frames of the ``name`` transition at the clip's start and at its end (0 where there is none)."""
    tr = getattr(item.clip, "transition", None)
    if tr is None:
        return 0, 0
    frames = min(canvas.frame(tr.duration), item.span.frames)
    return (frames if tr.in_ == name else 0), (frames if tr.out == name else 0)


def has_motion(item: VisualItem, canvas: Canvas) -> bool:
    return getattr(item.clip, "effect", None) is not None or any(transition_frames(item, canvas, "zoom"))


def apply_motion(stream: Stream, item: VisualItem, canvas: Canvas) -> Stream:
    """Ken Burns effects and zoom transitions, sub-pixel smooth (``perspective``), on a stream that already
    has the clip's frames; frames are counted from the clip's first."""
    zin, zout = transition_frames(item, canvas, "zoom")
    move = geometry.motion(getattr(item.clip, "effect", None), item.span.frames, zin, zout, first=item.skip)
    if move is None:
        return stream
    return stream.filter("perspective", eval="frame", interpolation="linear", **move.corners())


#: A clip's ``filter`` as one ffmpeg filter (name, options), Shotstack's looks: every one keeps alpha.
FILTERS: dict[str, tuple[str, dict[str, Any]]] = {
    "greyscale": ("hue", {"s": 0}),
    "boost": ("eq", {"contrast": 1.15, "saturation": 1.5}),
    "contrast": ("eq", {"contrast": 1.4}),
    "darken": ("eq", {"brightness": -0.15}),
    "lighten": ("eq", {"brightness": 0.15}),
    "muted": ("eq", {"contrast": 0.9, "saturation": 0.5}),
    "negative": ("negate", {}),
    "blur": ("gblur", {}),  # sigma from the frame's size: a blur looks the same at 720p and 2160p
}
#: ``blur``'s radius (gblur sigma) for a frame whose short side is 1080 px.
BLUR_SIGMA = 12


def apply_filter(stream: Stream, name: str | None, canvas: Canvas) -> Stream:
    """The clip's colour ``filter`` (greyscale, blur…) on its own layer, before opacity and overlay."""
    if name is None:
        return stream
    filter_name, options = FILTERS[name]
    if name == "blur":
        options = {"sigma": f"{BLUR_SIGMA * canvas.unit:.3f}"}
    return stream.filter(filter_name, **options)


#: Transitions that fade the clip's alpha while they run (besides what they do to its place or edge).
FADING = ("fade", "zoom", "wipe_left", "wipe_right", "wipe_up", "wipe_down", "drift_left", "drift_right",
          "drift_up", "drift_down")
WIPES_X = ("reveal", "wipe_left", "wipe_right")
WIPES_Y = ("wipe_up", "wipe_down")


def apply_transform(stream: Stream, item: VisualItem, *, width: int, height: int, x: int, y: int
                    ) -> tuple[Stream, int, int, int, int]:
    """The clip's ``transform``: mirrored, then turned about its centre into a box that holds it (the
    corners transparent). Returns the stream, its new size and top-left corner."""
    transform = item.clip.transform
    if transform is None:
        return stream, width, height, x, y
    if transform.flip in ("horizontal", "both"):
        stream = stream.filter("hflip")
    if transform.flip in ("vertical", "both"):
        stream = stream.filter("vflip")
    if transform.rotate % 360 == 0:
        return stream, width, height, x, y
    turned_w, turned_h = geometry.rotated_size(width, height, transform.rotate)
    stream = stream.filter("format", "yuva420p").filter(
        "rotate", f"{transform.rotate:.6g}*PI/180", ow=turned_w, oh=turned_h, fillcolor="black@0",
        bilinear=1)
    return stream, turned_w, turned_h, x - (turned_w - width) // 2, y - (turned_h - height) // 2


def _wipe(stream: Stream, item: VisualItem, canvas: Canvas, *, width: int, height: int
          ) -> tuple[Stream, str, str]:
    """Wipes and reveals: the layer padded with transparency by its own size on each side of the wipe's
    axis, and a window of its size moved over it (``crop``), the overlay moved back by as much. No
    per-pixel work: a ``geq`` alpha mask cost ~0.1 s a 1080p frame. Returns the stream and what to add
    to the overlay's x and y."""
    tr = item.clip.transition
    if tr is None:
        return stream, "", ""
    start, end = canvas.seconds(item.span.start), canvas.seconds(item.span.end)
    length = min(tr.duration, end - start)
    moves = [(name, entering, start if entering else end - length, length)
             for entering, name in ((True, tr.in_), (False, tr.out)) if name]
    across = tuple(m for m in moves if m[0] in WIPES_X)
    down = tuple(m for m in moves if m[0] in WIPES_Y)
    if not across and not down:
        return stream, "", ""
    pad_w, pad_h = (3 * width if across else width), (3 * height if down else height)
    stream = stream.filter("pad", pad_w, pad_h, width if across else 0, height if down else 0, color="black@0")
    wx = geometry.wipe_window(width, across) if across else "0"
    wy = geometry.wipe_window(height, down) if down else "0"
    stream = stream.filter("crop", width, height, wx, wy)
    return stream, (f"+{wx}-{width}" if across else ""), (f"+{wy}-{height}" if down else "")


def finish(stream: Stream, item: VisualItem, canvas: Canvas, *, width: int, height: int, has_alpha: bool,
           x: int, y: int, ctx: Context | None = None) -> Placed:
    """The clip's filter, transform and luma matte (which needs ``ctx`` to open its file); opacity and
    fading transitions on the alpha channel; wipes by a moving window; slides and drifts on the overlay
    position."""
    from framefleet.compositor.layers.matte import apply_matte  # it builds on this module

    clip = item.clip
    stream = apply_filter(stream, clip.filter, canvas)
    stream, width, height, x, y = apply_transform(stream, item, width=width, height=height, x=x, y=y)
    stream, has_alpha = apply_matte(stream, item, ctx, width=width, height=height, x=x, y=y, has_alpha=has_alpha)
    turned = clip.transform is not None and clip.transform.rotate % 360 != 0
    tr = clip.transition
    start, end = canvas.seconds(item.span.start), canvas.seconds(item.span.end)
    fade_in = bool(tr and tr.in_ in FADING)
    fade_out = bool(tr and tr.out in FADING)
    wipes = bool(tr and {tr.in_, tr.out} & {*WIPES_X, *WIPES_Y})
    fading = _alpha_factor(item, canvas, width, height)
    if (has_alpha or clip.rest_opacity < 1 or fade_in or fade_out or wipes or fading) and not turned:
        stream = stream.filter("format", "yuva420p")
    if clip.rest_opacity < 1:
        stream = stream.filter("lut", a=f"val*{clip.rest_opacity:.4f}")
    if fading:
        stream = _multiply_alpha(stream, fading)
    length = min(tr.duration, end - start) if tr else 0.0
    if fade_in:
        stream = stream.filter("fade", t="in", st=f"{start:.6f}", d=f"{length:.6f}", alpha=1)
    if fade_out:
        stream = stream.filter("fade", t="out", st=f"{end - length:.6f}", d=f"{length:.6f}", alpha=1)
    stream, wipe_x, wipe_y = _wipe(stream, item, canvas, width=width, height=height)
    stream, grow_x, grow_y = _animated_scale(stream, item, canvas, width=width, height=height)
    x_expr, y_expr = str(x), str(y)
    for entering, name in ((True, tr.in_ if tr else None), (False, tr.out if tr else None)):
        if not name or not name.startswith(("slide_", "drift_")):
            continue
        at = start if entering else end - length
        horizontal = name.endswith(("_left", "_right"))
        if name.startswith("slide_"):
            expr = geometry.slide(name, entering=entering, base=x if horizontal else y,
                                  size=width if horizontal else height,
                                  frame_size=canvas.width if horizontal else canvas.height, start=at, length=length)
        else:
            expr = geometry.drift(name, entering=entering, base=x if horizontal else y,
                                  frame_size=canvas.width if horizontal else canvas.height, start=at, length=length)
        if horizontal:
            x_expr = expr if x_expr == str(x) else f"if(lt(t,{at:.6f}),{x_expr},{expr})"
        else:
            y_expr = expr if y_expr == str(y) else f"if(lt(t,{at:.6f}),{y_expr},{expr})"
    move_x, move_y = _animated_offset(item, canvas)
    return Placed(stream, x_expr + wipe_x + grow_x + move_x, y_expr + wipe_y + grow_y + move_y)


def _clock(item: VisualItem, canvas: Canvas) -> str:
    """Seconds from the clip's first frame, on the whole timeline's clock: every layer is stamped with
    the timeline's frame numbers (:func:`stamp`), so a segment that starts mid-clip continues its
    keyframes exactly where the one-piece render is."""
    start = canvas.seconds(item.span.start)
    return f"(t-{start:.6f})" if start else "t"


def _alpha_factor(item: VisualItem, canvas: Canvas, width: int, height: int) -> str:
    """The per-frame factor for the layer's alpha ('' when constant): keyframed opacity, and an
    animated scale so small the picture would shrink below the 2 px a 4:2:0 frame can be (hidden)."""
    clip, clock = item.clip, _clock(item, canvas)
    factors = []
    if isinstance(clip.opacity, list):
        factors.append(geometry.tween(clip.opacity, clock))
    if isinstance(clip.scale, list) and min(v for k in clip.scale for v in (k.from_, k.to)) * min(width, height) < 2:
        factors.append(f"gte({geometry.tween(clip.scale, clock)}*{min(width, height)},2)")
    return "*".join(factors)


def _multiply_alpha(stream: Stream, factor: str) -> Stream:
    """The alpha plane times ``factor`` (an expression in ``t``), frame by frame.

    The alpha plane is taken out as a grey picture, ``eq`` (``eval=frame``) maps it through a 256-entry
    table it rebuilds once a frame (contrast k with brightness (k-1)/2 is exactly ``val*k``), and it is
    merged back. That is two plane copies and one table lookup a pixel: ``geq`` evaluates an expression
    per pixel (~0.1 s a 1080p frame) and ``lut`` has no clock.
    """
    split = stream.filter_multi_output("split")
    factor = f"({factor})"
    mask = split[1].filter("alphaextract").filter("eq", contrast=factor, brightness=f"({factor}-1)/2",
                                                   eval="frame")
    return ffgraph.filter([split[0], mask], "alphamerge")


def _anchor(position: str | None) -> tuple[float, float]:
    """Which point of the box stays put when it grows: its left, centre or right; top, middle or bottom."""
    where = position or "center"
    ax = 0.0 if "left" in where else 1.0 if "right" in where else 0.5
    ay = 0.0 if where.startswith("top") else 1.0 if where.startswith("bottom") else 0.5
    return ax, ay


def _animated_scale(stream: Stream, item: VisualItem, canvas: Canvas, *, width: int, height: int
                    ) -> tuple[Stream, str, str]:
    """Keyframed ``scale``: the layer rescaled every frame (``scale`` with ``eval=frame``; overlay takes a
    layer whose size changes), last, after its alpha is final (``alphamerge`` needs one size). The
    overlay keeps the box's anchor point still, using the frame's own size (``w``, ``h``)."""
    clip = item.clip
    if not isinstance(clip.scale, list):
        return stream, "", ""
    k = geometry.tween(clip.scale, _clock(item, canvas))
    stream = stream.filter("scale", w=f"max(2,2*trunc({width}*{k}/2))", h=f"max(2,2*trunc({height}*{k}/2))",
                           eval="frame", flags="bicubic")
    ax, ay = _anchor(clip.position)
    grow_x = f"+{ax:g}*({width}-w)" if ax else ""
    grow_y = f"+{ay:g}*({height}-h)" if ay else ""
    return stream, grow_x, grow_y


def _animated_offset(item: VisualItem, canvas: Canvas) -> tuple[str, str]:
    """Keyframed ``offset.x``/``y`` (fractions of the frame) added to the overlay's place."""
    offset, clock = item.clip.offset, _clock(item, canvas)
    move_x = f"+({geometry.tween(offset.x, clock)})*{canvas.width}" if isinstance(offset.x, list) else ""
    move_y = f"+({geometry.tween(offset.y, clock)})*{canvas.height}" if isinstance(offset.y, list) else ""
    return move_x, move_y


def fit_source(item: VisualItem, canvas: Canvas) -> geometry.Fitted:
    """A video's or image's picture fitted to its box, after its ``crop`` (cut from the source first)."""
    clip = item.clip
    assert isinstance(clip, VideoClip | ImageClip) and item.media is not None
    crop = clip.crop
    sides = (crop.left, crop.top, crop.right, crop.bottom) if crop else (0.0, 0.0, 0.0, 0.0)
    return geometry.fit_cropped(item.media.width, item.media.height, canvas, clip.fit, clip.rest_scale,
                                sides=sides)


def covers(item: VisualItem, canvas: Canvas) -> bool:
    """Whether the layer hides everything under it on every frame it shows: opaque, no transition,
    fitted to exactly the frame at its origin (the usual full-frame video or photo)."""
    clip = item.clip
    if item.matte is not None:
        return False
    if clip.rest_opacity < 1 or clip.animated or (clip.transition and (clip.transition.in_ or clip.transition.out)):
        return False
    if clip.transform is not None and clip.transform.rotate % 360 != 0:
        return False
    if isinstance(clip, ColorClip):
        colors = [clip.color] if clip.color else [clip.gradient.from_, clip.gradient.to] if clip.gradient else []
        if any(c[7:9] != "ff" for c in colors):
            return False
        fitted = geometry.fit(canvas.width, canvas.height, canvas, clip.fit, clip.rest_scale)
    elif isinstance(clip, VideoClip | ImageClip) and item.media is not None and item.media.width:
        if item.media.has_alpha:
            return False
        fitted = fit_source(item, canvas)
    else:
        return False
    return (fitted.width, fitted.height) == (canvas.width, canvas.height) and fitted_position(
        item, canvas, fitted.width, fitted.height) == (0, 0)


def fitted_position(item: VisualItem, canvas: Canvas, width: int, height: int, *, margin: float = 0.0
                    ) -> tuple[int, int]:
    clip = item.clip
    return geometry.place(canvas, width, height, clip.position or "center", offset_x=rest(clip.offset.x, 0.0),
                          offset_y=rest(clip.offset.y, 0.0), margin=margin)


# --- sizes --------------------------------------------------------------------------------------------


def extent(clip: VisualClip, width: int, height: int) -> tuple[int, int]:
    """The largest picture a layer of ``clip`` whose picture is ``width``×``height`` (fitted, cropped, at
    its fixed scale) becomes in the graph: at its peak animated scale, in its rotation's box, padded 3×
    along a wipe's axis."""
    k = clip.peak_scale / clip.rest_scale
    w, h = (geometry.even(width * k), geometry.even(height * k)) if k != 1 else (width, height)
    if clip.transform is not None and clip.transform.rotate % 360:
        w, h = geometry.rotated_size(w, h, clip.transform.rotate)
    tr = clip.transition
    names = {tr.in_, tr.out} if tr is not None else set()
    if names & set(WIPES_X):
        w *= 3
    if names & set(WIPES_Y):
        h *= 3
    return w, h


def fitted_size(item: VisualItem, canvas: Canvas) -> tuple[int, int] | None:
    """A video's or image's fitted size (known from the plan); None for the others. Colours, text and
    captions are measured by :mod:`framefleet.compositor.measure`: colours when the spec is loaded
    (``load_spec``), before any plan exists, so a colour over the cap never reaches here."""
    clip = item.clip
    if isinstance(clip, VideoClip | ImageClip) and item.media is not None and item.media.width:
        fitted = fit_source(item, canvas)
        return fitted.width, fitted.height
    return None


def layer_problems(visuals: Sequence[VisualItem], canvas: Canvas, max_pixels: int) -> list[Problem]:
    """Every layer whose working size (:func:`extent`) is over ``max_pixels``, at its clip's path: ffmpeg
    allocates every frame of a layer at that size (a wipe on a 4K layer scaled 10x would be 115200x21600)."""
    problems = []
    for item in visuals:
        size = fitted_size(item, canvas)
        if size is None:
            continue
        w, h = extent(item.clip, *size)
        if w * h > max_pixels:
            problems.append(Problem(item.path, f"the layer would be {w}x{h} pixels while it is drawn (after "
                                               f"scale, crop, rotation and wipe padding), over the limit of "
                                               f"{max_pixels}: use a smaller scale"))
    return problems
