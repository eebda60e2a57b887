"""The render spec (SPEC §3) as a validated, immutable model.

``load_spec`` is the one way in: it fills merge fields, validates with pydantic, then runs the checks that
span fields (timing, limits), and raises :class:`SpecError` with *every* problem, each with its JSON path
(``tracks[1].clips[0].length``), so a user fixes a spec in one round instead of one error per run.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from PIL import ImageColor
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from framefleet.compositor import generated
from framefleet.compositor.captions import clean_word, control_char
from framefleet.config import Limits
from framefleet.errors import Problem, SpecError
from framefleet.jsonload import check_document

Position = Literal[
    "center", "top", "bottom", "left", "right", "top_left", "top_right", "bottom_left", "bottom_right"
]
Fit = Literal["cover", "contain", "fill", "none"]
TransitionName = Literal[
    "fade", "slide_left", "slide_right", "slide_up", "slide_down", "zoom",
    # a hard edge sweeping across the clip (reveal: left to right), wipes also fading; drifts move a
    # tenth of the frame while fading (Shotstack's slideLeft…)
    "reveal", "wipe_left", "wipe_right", "wipe_up", "wipe_down", "drift_left", "drift_right", "drift_up",
    "drift_down",
]
EffectName = Literal["zoom_in", "zoom_out", "pan_left", "pan_right", "pan_up", "pan_down"]
#: Colour filters a visual clip may carry (Shotstack's names): each is one ffmpeg filter on its layer.
FilterName = Literal["greyscale", "boost", "contrast", "darken", "lighten", "muted", "negative", "blur"]
#: Output formats that are one picture, not a timeline: the frame at ``output.at``.
IMAGE_FORMATS = ("jpg", "png")
CaptionStyle = Literal["word", "clean", "bold-pop", "karaoke", "none"]
AudioRole = Literal["voice", "music", "effect"]
PresetName = Literal["tiktok", "instagram_reel", "youtube_short", "instagram_post", "square", "youtube"]
AspectRatio = Literal["9:16", "4:5", "1:1", "16:9"]
Resolution = Literal["480p", "720p", "1080p", "1440p", "2160p", "standard", "hd", "ultra"]

CLIP_TYPES = ("video", "image", "text", "captions", "audio", "color", "luma")
_SCHEMES = {"http", "https", "s3", "job", "file"}
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")
NO_SOUND = "mp3 is sound only, and this timeline has no sound: add an audio clip, a video with sound or a soundtrack"


def _color(value: str) -> str:
    """Accept ``#rgb``, ``#rrggbb``, ``#rrggbbaa`` and CSS names; store as ``#rrggbbaa``."""
    try:
        rgba = ImageColor.getrgb(value)
    except (ValueError, AttributeError):
        raise ValueError(f"not a colour: {value!r} (use #rrggbb or #rrggbbaa)") from None
    if len(rgba) == 3:
        rgba = (*rgba, 255)
    return "#" + "".join(f"{c:02x}" for c in rgba)


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


def _source(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("source is empty")
    match = _SCHEME.match(value)
    if match and len(match.group(1)) > 1 and match.group(1).lower() not in _SCHEMES:
        raise ValueError(
            f"unsupported source scheme {match.group(1)!r} (use https://, s3://, job:, file:// or a path)"
        )
    return value


def check_source(value: str) -> str:
    """A source string as written (URL, ``s3://``, ``job:``, path), stripped; ``ValueError`` if unusable."""
    return _source(value)


def _media_source(value: object) -> str:
    """A source string, or a generation request (SPEC §8) kept as its :class:`~generated.Generated` stand-in.
    The request's own fields are checked by :func:`generated.document_problems`, at their JSON paths."""
    if isinstance(value, generated.Generated):
        return value
    if generated.is_request(value):
        return generated.Generated(value)  # type: ignore[arg-type]
    if not isinstance(value, str):
        raise ValueError('must be a path or URL, or a generation request {"generate": TYPE, ...}')
    return _source(value)


_GENERATE_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["generate"], "additionalProperties": True,
    "properties": {"generate": {"enum": list(generated.GENERATE_TYPES)}},
    "description": "a generation run before the render (SPEC §8), cached by content; payload fields beside it",
}
Color = Annotated[str, AfterValidator(_color)]
Source = Annotated[str, AfterValidator(_source)]
#: Where a spec reads media: a source string, or ``{"generate": TYPE, ...payload}`` made before the render.
MediaSource = Annotated[str, PlainValidator(_media_source),
                        WithJsonSchema({"anyOf": [{"type": "string"}, _GENERATE_SCHEMA]})]
_CLIP_ID = r"^[A-Za-z0-9_.-]{1,64}$"


class Model(BaseModel):
    """Base of every spec object: unknown fields are errors (typos surface), values are immutable, and
    numbers are finite (an infinite angle or time crashes arithmetic far from the spec)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


Easing = Literal[
    "linear", "ease", "ease_in", "ease_out", "ease_in_out",
    "ease_in_quad", "ease_out_quad", "ease_in_out_quad", "ease_in_cubic", "ease_out_cubic", "ease_in_out_cubic",
    "ease_in_quart", "ease_out_quart", "ease_in_out_quart", "ease_in_quint", "ease_out_quint",
    "ease_in_out_quint", "ease_in_sine", "ease_out_sine", "ease_in_out_sine",
]


class Keyframe(Model):
    """One tween of an animated value (Shotstack's ``{from, to, start, length, interpolation, easing}``):
    from ``from`` to ``to`` over ``length`` seconds from ``start`` (seconds from the clip's start).
    Before the first tween the value is its ``from``; between and after tweens, the last ``to``."""

    from_: float = Field(alias="from", ge=-10, le=10)
    to: float = Field(ge=-10, le=10)
    start: float = Field(0.0, ge=0, le=86400, description="seconds from the clip's start")
    length: float = Field(gt=0, le=86400)
    interpolation: Literal["linear", "bezier", "constant"] = Field(
        "linear", description="bezier follows easing (default ease_in_out); constant holds from, then jumps to to")
    easing: Easing | None = None


#: Keyframes (at most ``FRAMEFLEET_MAX_KEYFRAMES``) in time order, not overlapping.
Keyframes = Annotated[list[Keyframe], Field(min_length=1, max_length=1000)]


def _number_or_keyframes(value: Any) -> str:
    return "<keyframes>" if isinstance(value, list) else "<number>"


#: A number or keyframes; errors come from the one the user wrote (a list is read as keyframes), and the
#: tag in their location is dropped by :func:`json_path`.
NumberOrKeyframes = Annotated[
    Annotated[float, Tag("<number>")] | Annotated[Keyframes, Tag("<keyframes>")],
    Discriminator(_number_or_keyframes),
]


def rest(value: float | list[Keyframe], resting: float) -> float:
    """The value a layer is built at: the number itself, or ``resting`` (1 for a scale or opacity, 0 for
    an offset) when it is animated, the animation then applied frame by frame on top."""
    return resting if isinstance(value, list) else value


def peak(value: float | list[Keyframe]) -> float:
    """The largest value an animated number takes (what sizes are bounded by)."""
    return max(v for k in value for v in (k.from_, k.to)) if isinstance(value, list) else value


def _keyframes_in_order(value: float | list[Keyframe]) -> float | list[Keyframe]:
    if isinstance(value, list):
        for a, b in itertools.pairwise(value):
            if b.start < a.start + a.length - 1e-9:
                raise ValueError("keyframes overlap or are out of order: each starts after the one before ends")
    return value


def _bounded(low: float, high: float) -> AfterValidator:
    def check(value: float | list[Keyframe]) -> float | list[Keyframe]:
        for v in (value,) if not isinstance(value, list) else [v for k in value for v in (k.from_, k.to)]:
            if not low <= v <= high:
                raise ValueError(f"{v:g} is outside {low:g} to {high:g}")
        return _keyframes_in_order(value)
    return AfterValidator(check)


class Offset(Model):
    x: Annotated[NumberOrKeyframes, _bounded(-2, 2)] = Field(
        0.0, description="fraction of the frame width, to the right; or keyframes")
    y: Annotated[NumberOrKeyframes, _bounded(-2, 2)] = Field(
        0.0, description="fraction of the frame height, downwards; or keyframes")

    @property
    def animated(self) -> bool:
        return isinstance(self.x, list) or isinstance(self.y, list)


class Crop(Model):
    """Fractions of the source cut from each side before it is fitted (Shotstack's asset ``crop``)."""

    top: float = Field(0.0, ge=0, le=0.95)
    bottom: float = Field(0.0, ge=0, le=0.95)
    left: float = Field(0.0, ge=0, le=0.95)
    right: float = Field(0.0, ge=0, le=0.95)

    @model_validator(mode="after")
    def _leaves_a_picture(self) -> Crop:
        if self.left + self.right > 0.95 or self.top + self.bottom > 0.95:
            raise ValueError("crops more than 95 % of the source's width or height")
        return self


class Transform(Model):
    """Turns and mirrors the clip's layer about its centre, after fitting (its box grows to hold the
    turned picture; corners show what is under it)."""

    rotate: float = Field(0.0, ge=-360, le=360, description="degrees, clockwise")
    flip: Literal["horizontal", "vertical", "both"] | None = None


class Transition(Model):
    in_: TransitionName | None = Field(None, alias="in")
    out: TransitionName | None = None
    duration: float = Field(0.5, gt=0, le=10)


class Thumbnail(Model):
    at: float = Field(1.0, ge=0)
    width: int | None = Field(None, ge=16, le=3840, description="pixels; default: the output's width")


class Range(Model):
    """A part of the timeline rendered on its own: its clips and sound timed as in the whole timeline,
    the output starting at the timeline's ``start``."""

    start: float = Field(0.0, ge=0, description="seconds of the timeline where the output starts")
    length: float | None = Field(None, gt=0, description="seconds rendered; default: to the timeline's end")


class Output(Model):
    preset: PresetName | None = None
    aspect_ratio: AspectRatio | None = None
    resolution: Resolution | None = None
    width: int | None = Field(None, ge=2)
    height: int | None = Field(None, ge=2)
    fps: float = Field(30, ge=1, le=60)
    format: Literal["mp4", "webm", "gif", "mp3", "jpg", "png"] = "mp4"
    at: float = Field(0.0, ge=0, description="jpg and png: the second of the timeline drawn as the image")
    quality: Literal["draft", "standard", "high"] = "standard"
    encoder: Literal["auto", "cpu", "gpu"] | None = None
    background: Color = "#000000"
    duration: float | None = Field(None, gt=0)
    thumbnail: Thumbnail | None = None
    loudness: float | None = Field(-14.0, ge=-70, le=-5, description="integrated LUFS; null leaves levels")
    chunks: Literal["auto"] | Annotated[int, Field(ge=1, le=64)] = Field(
        "auto", description="queued renders: split across this many workers; auto splits above "
                            "FRAMEFLEET_CHUNK_SECONDS; 1 never splits")
    range: Range | None = Field(None, description="video and sound outputs: render only this part of the timeline")


class _Clip(Model):
    id: str | None = Field(None, pattern=_CLIP_ID, description="names the clip for captions' ``of``")
    start: float | None = Field(None, ge=0)
    length: float | None = Field(None, gt=0)


class _Visual(_Clip):
    fit: Fit = "cover"
    scale: Annotated[NumberOrKeyframes, _bounded(0, 10)] = Field(
        1.0, description="times the fitted size (more than 0, at most 10); or keyframes")
    position: Position = "center"
    offset: Offset = Offset()
    opacity: Annotated[NumberOrKeyframes, _bounded(0, 1)] = Field(1.0, description="0-1; or keyframes")
    transition: Transition | None = None
    filter: FilterName | None = None
    transform: Transform | None = None

    @field_validator("scale")
    @classmethod
    def _positive(cls, value: float | list[Keyframe]) -> float | list[Keyframe]:
        if not isinstance(value, list) and value <= 0:
            raise ValueError("must be more than 0")
        return value

    @property
    def rest_scale(self) -> float:
        """The scale the layer is fitted at (1 when ``scale`` is animated)."""
        return rest(self.scale, 1.0)

    @property
    def peak_scale(self) -> float:
        """The largest scale the layer reaches: what its size is bounded by."""
        return peak(self.scale)

    @property
    def rest_opacity(self) -> float:
        return rest(self.opacity, 1.0)

    @property
    def animated(self) -> bool:
        """Whether opacity, offset or scale has keyframes."""
        return isinstance(self.scale, list) or isinstance(self.opacity, list) or self.offset.animated


class VideoClip(_Visual):
    type: Literal["video"]
    src: MediaSource
    trim: float = Field(0.0, ge=0)
    volume: float = Field(1.0, ge=0, le=10)
    loop: bool = False
    effect: EffectName | None = None
    speed: float = Field(1.0, ge=0.25, le=4, description="playback rate; the sound keeps its pitch")
    crop: Crop | None = None


class ImageClip(_Visual):
    type: Literal["image"]
    src: MediaSource
    effect: EffectName | None = None
    crop: Crop | None = None


class TextStyle(Model):
    font: str = "DejaVu Sans"
    size: float = Field(72, gt=0, le=2000)
    color: Color = "#ffffff"
    bold: bool = False
    stroke_color: Color | None = None
    stroke_width: float = Field(0, ge=0, le=200)
    background: Color | None = None
    padding: float = Field(0, ge=0, le=2000)
    align: Literal["left", "center", "right"] = "center"
    max_width: float = Field(0.9, gt=0, le=1)
    uppercase: bool = False
    line_spacing: float = Field(1.15, ge=0.5, le=4)


def _drawable(value: str) -> str:
    """Text that is drawn: a control character that is not white space (U+0000, U+0007…) is refused;
    it has no glyph, and where one is not drawn as a box it changes how the rest is drawn."""
    code = control_char(value)
    if code:
        raise ValueError(f"holds control character {code} (only text and white space can be drawn)")
    return value


def _caption_word(value: str) -> str:
    """A caption word is drawn on one line and written into one WebVTT cue: line breaks (``\\n``,
    ``\\r``, ``\\x85``, ``\\x1c``…) and other white space become single spaces, as in captions files."""
    word = clean_word(_drawable(value))
    if not word:
        raise ValueError("is blank")
    return word


class TextClip(_Visual):
    type: Literal["text"]
    fit: Fit = "none"
    text: Annotated[str, AfterValidator(_drawable)] = Field(min_length=1, max_length=5000)
    style: TextStyle = TextStyle()


class Word(Model):
    text: Annotated[str, AfterValidator(_caption_word)] = Field(min_length=1, max_length=200)
    start: float = Field(ge=0)
    end: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Word:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


class CaptionsClip(_Visual):
    type: Literal["captions"]
    fit: Fit = "none"
    position: Position | None = None  # type: ignore[assignment]  # None: the platform-safe default
    words: list[Word] | None = Field(None, description="at most FRAMEFLEET_MAX_CAPTION_WORDS (20,000)")
    src: MediaSource | None = None
    of: str | None = Field(None, pattern=_CLIP_ID, description="the id of the clip whose sound these captions "
                                                                "show (aligned to its script when it was generated)")
    style: CaptionStyle = "clean"
    font: str = "DejaVu Sans"
    size: float = Field(72, gt=0, le=1000)
    color: Color = "#ffffff"
    highlight_color: Color = "#ffd400"
    stroke_color: Color | None = "#000000"
    stroke_width: float = Field(6, ge=0, le=100)
    background: Color | None = None
    bold: bool = True
    uppercase: bool = False
    max_words: int = Field(4, ge=1, le=30)
    max_width: float = Field(0.85, gt=0, le=1)

    @model_validator(mode="after")
    def _one_source(self) -> CaptionsClip:
        if [self.words is None, self.src is None, self.of is None].count(False) != 1:
            raise ValueError("give exactly one of words, src or of")
        return self


class AudioClip(_Clip):
    type: Literal["audio"]
    src: MediaSource
    trim: float = Field(0.0, ge=0)
    volume: float = Field(1.0, ge=0, le=10)
    fade_in: float = Field(0.0, ge=0)
    fade_out: float = Field(0.0, ge=0)
    role: AudioRole = "voice"
    speed: float = Field(1.0, ge=0.25, le=4, description="playback rate; the pitch is kept")


class Gradient(Model):
    from_: Color = Field(alias="from")
    to: Color
    angle: float = Field(0.0, description="degrees clockwise; 0 runs from the top down, 90 left to right")


class ColorClip(_Visual):
    type: Literal["color"]
    fit: Fit = "fill"
    color: Color | None = None
    gradient: Gradient | None = None

    @model_validator(mode="after")
    def _one_fill(self) -> ColorClip:
        if (self.color is None) == (self.gradient is None):
            raise ValueError("give exactly one of color or gradient")
        return self


class LumaClip(_Clip):
    """A matte (Shotstack's ``luma`` asset): a grey picture or video in the same track as the visual clip
    it overlaps, multiplied into that clip's alpha while the two overlap (white shows the clip, black
    hides it; an animated matte makes a transition). It draws nothing itself."""

    type: Literal["luma"]
    src: MediaSource
    trim: float = Field(0.0, ge=0)


Clip = Annotated[
    VideoClip | ImageClip | TextClip | CaptionsClip | AudioClip | ColorClip | LumaClip,
    Field(discriminator="type"),
]
VisualClip = VideoClip | ImageClip | TextClip | CaptionsClip | ColorClip


class Track(Model):
    clips: list[Clip] = Field(default_factory=list)


class Soundtrack(Model):
    src: MediaSource
    volume: float = Field(1.0, ge=0, le=10)
    trim: float = Field(0.0, ge=0)
    fade_in: float = Field(0.0, ge=0)
    fade_out: float = Field(0.0, ge=0)
    duck: bool = False
    loop: bool = True


class RenderSpec(Model):
    output: Output = Output()
    merge: dict[str, str | int | float | bool] = Field(default_factory=dict)
    tracks: list[Track] = Field(min_length=1)
    soundtrack: Soundtrack | None = None

    def clips(self) -> Iterator[tuple[str, Clip]]:
        """Every clip with its JSON path, bottom track first."""
        for t, track in enumerate(self.tracks):
            for c, clip in enumerate(track.clips):
                yield f"tracks[{t}].clips[{c}]", clip


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the render spec, as users write it (aliases such as ``in`` and ``from``)."""
    schema = RenderSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "framefleet render spec"
    return schema


# --- loading -----------------------------------------------------------------------------------------


def json_path(loc: tuple[int | str, ...]) -> str:
    """``('tracks', 1, 'clips', 0, 'video', 'src')`` → ``tracks[1].clips[0].src``.

    pydantic puts a discriminated union's tag in the location; users never wrote it, so it is dropped.
    """
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.startswith("<"):
            pass  # the branch of a number-or-keyframes field (``<number>``)
        elif i >= 2 and loc[i - 2] == "clips" and isinstance(loc[i - 1], int) and part in CLIP_TYPES:
            pass  # the tag after clips[n]; a field named like a type (a word's ``text``) is kept
        else:
            out += f".{part}" if out else str(part)
    return out


def _friendly(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required"
    if kind == "union_tag_invalid":
        return f"unknown clip type {error['input'].get('type')!r} (expected one of {', '.join(CLIP_TYPES)})"
    if kind == "union_tag_not_found":
        return f"'type' is required (one of {', '.join(CLIP_TYPES)})"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def apply_merge(raw: Any, merge: dict[str, Any], path: str = "", *, budget: int = 10 * 1024**2
                ) -> tuple[Any, list[Problem]]:
    """Replace every ``{{name}}`` in every string; a string that is only a placeholder takes the value's type.

    Returns the new document and one problem per placeholder with no value, at the string's path.
    Substitution may add at most ``budget`` characters in all: one long merge value used in thousands
    of places would otherwise build gigabytes of strings before any length rule can refuse them.
    """
    problems: list[Problem] = []
    left = [budget]

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, dict):
            return {k: v if (where == "" and k == "merge") else walk(v, f"{where}.{k}" if where else k)
                    for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if not isinstance(node, str) or "{{" not in node:
            return node
        whole = _PLACEHOLDER.fullmatch(node.strip())
        if whole and whole.group(1) in merge:
            return merge[whole.group(1)]

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in merge:
                problems.append(Problem(where, f"no merge value for placeholder {{{{{name}}}}}"))
                return match.group(0)
            value = str(merge[name])
            left[0] -= len(value)
            if left[0] < 0:
                problems.append(Problem(where, f"merge values add more than {budget} characters to the spec"))
                return match.group(0)
            return value

        return _PLACEHOLDER.sub(sub, node)

    return walk(raw, path), problems


def merged(raw: Any, *, limits: Limits) -> tuple[dict[str, Any], list[Problem]]:
    """The document checked (:func:`~framefleet.jsonload.check_document`) and its merge
    fields filled, with the problems merging found. Raises :class:`SpecError` for a document that is
    no render spec at all (hostile, or not an object). ``validate`` reads sources from this when the
    spec itself is invalid, so they are checked in the same run."""
    check_document(raw, limits=limits)
    if not isinstance(raw, dict):
        raise SpecError([Problem("", "a render spec is a JSON object")])
    merge = raw.get("merge") or {}
    problems: list[Problem] = []
    if not isinstance(merge, dict):
        problems.append(Problem("merge", "must be an object of name: value"))
        merge = {}
    # only scalars substitute: a list or object is refused at merge.<name> by the model, and must not be
    # copied into every placeholder first (500 clips x one 20,000-word list)
    scalars = {k: v for k, v in merge.items() if isinstance(v, str | int | float | bool)}
    doc, merge_problems = apply_merge(raw, scalars, budget=limits.max_spec_bytes)
    return doc, problems + merge_problems


def load_spec(raw: Any, *, limits: Limits | None = None) -> RenderSpec:
    """Validate a parsed JSON document; raise :class:`SpecError` listing every problem.

    The document is checked first (:func:`~framefleet.jsonload.check_document`: depth, size,
    finite numbers, valid Unicode), so every way in (CLI, client, queue) refuses the same hostile input."""
    limits = limits or Limits()
    doc, problems = merged(raw, limits=limits)
    problems += generated.document_problems(doc)
    try:
        spec = RenderSpec.model_validate(doc)
    except ValidationError as exc:
        problems += [Problem(json_path(tuple(e["loc"])), _friendly(dict(e))) for e in exc.errors()]
        raise SpecError(problems) from None
    problems += list(_semantic_problems(spec, limits))
    if problems:
        raise SpecError(problems)
    return spec


def _semantic_problems(spec: RenderSpec, limits: Limits) -> Iterator[Problem]:
    """Checks that span fields: sizes and limits, lengths that cannot be defaulted, transitions that fit."""
    from framefleet.compositor.canvas import canvas_size  # the canvas module imports this one

    out = spec.output
    width, height = canvas_size(out)
    if out.format in ("mp4", "webm") and (width % 2 or height % 2):
        yield Problem("output", f"width and height must be even for {out.format}, got {width}x{height}")
    if width > limits.max_width:
        yield Problem("output.width", f"{width} px is over the limit of {limits.max_width}")
    if height > limits.max_height:
        yield Problem("output.height", f"{height} px is over the limit of {limits.max_height}")
    if width * height > limits.max_pixels:
        yield Problem("output", f"{width}x{height} is over the limit of {limits.max_pixels} pixels")
    if out.format in IMAGE_FORMATS and out.thumbnail is not None:
        yield Problem("output.thumbnail", f"a {out.format} output is itself one picture: remove thumbnail")
    if out.format in IMAGE_FORMATS and out.range is not None:
        yield Problem("output.range", f"a {out.format} output is one frame: use output.at")
    if out.range is not None and out.range.start >= limits.max_duration:
        yield Problem("output.range.start", f"{out.range.start:g} s is over the limit of {limits.max_duration} s")
    if out.range is not None and out.range.length is not None and out.range.length > limits.max_duration:
        yield Problem("output.range.length", f"{out.range.length:g} s is over the limit of {limits.max_duration} s")
    if out.format == "mp3" and spec.soundtrack is None and not any(
            c.type in ("audio", "video") for _, c in spec.clips()):
        yield Problem("output.format", NO_SOUND)
    if out.duration is not None and out.duration > limits.max_duration:
        yield Problem("output.duration", f"{out.duration} s is over the limit of {limits.max_duration} s")
    if len(spec.tracks) > limits.max_tracks:
        yield Problem("tracks", f"{len(spec.tracks)} tracks is over the limit of {limits.max_tracks}")
    count = 0
    for path, clip in spec.clips():
        count += 1
        if clip.type in ("image", "text", "color") and clip.length is None:
            yield Problem(f"{path}.length", f"required for {clip.type} clips")
        if clip.start is not None and clip.start > limits.max_duration:
            yield Problem(f"{path}.start", f"{clip.start} s is over the limit of {limits.max_duration} s")
        if clip.length is not None and clip.length > limits.max_duration:
            yield Problem(f"{path}.length", f"{clip.length} s is over the limit of {limits.max_duration} s")
        if clip.type == "video" and clip.loop and clip.length is None and out.duration is None:
            yield Problem(f"{path}.length", "required for a looping video unless output.duration is set")
        yield from _clip_kind_problems(path, clip, limits)
    if count > limits.max_clips:
        yield Problem("tracks", f"{count} clips is over the limit of {limits.max_clips}")
    yield from _generation_problems(spec, limits)
    if count == 0:
        yield Problem("tracks", "no clips: a render needs at least one clip")
    from framefleet.compositor.measure import spec_problems  # it measures with modules importing this one

    yield from spec_problems(spec, limits)


def _clip_kind_problems(path: str, clip: Clip, limits: Limits) -> Iterator[Problem]:
    """What only some clip types are checked for: a luma matte's start, a visual clip's transitions
    and keyframes."""
    if isinstance(clip, LumaClip) and clip.start is None:
        yield Problem(f"{path}.start", "required for luma clips: the start of the clip it masks")
    if isinstance(clip, LumaClip) and isinstance(clip.src, generated.Generated):
        yield Problem(f"{path}.src", "a luma matte is read from a file: give its path or URL")
    if not isinstance(clip, VideoClip | ImageClip | TextClip | CaptionsClip | ColorClip):
        return
    if clip.transition and clip.length is not None:
        both = int(clip.transition.in_ is not None) + int(clip.transition.out is not None)
        if both and clip.transition.duration * both > clip.length + 1e-9:
            yield Problem(f"{path}.transition.duration", "transitions are longer than the clip")
    yield from _keyframe_problems(path, clip, limits)


def _keyframe_problems(path: str, clip: VisualClip, limits: Limits) -> Iterator[Problem]:
    """At most ``limits.max_keyframes`` a value; an animated scale changes the layer's size every frame,
    which a rotation's box and a wipe's padding (sized once, when the graph starts) cannot follow."""
    for name, value in (("opacity", clip.opacity), ("scale", clip.scale), ("offset.x", clip.offset.x),
                        ("offset.y", clip.offset.y)):
        if isinstance(value, list) and len(value) > limits.max_keyframes:
            yield Problem(f"{path}.{name}", f"{len(value)} keyframes is over the limit of {limits.max_keyframes}")
    if not isinstance(clip.scale, list):
        return
    if clip.transform is not None and clip.transform.rotate % 360:
        yield Problem(f"{path}.scale", "keyframed scale cannot be combined with transform.rotate: give one "
                                       "scale, or remove the rotation")
    tr = clip.transition
    if tr is not None and ({tr.in_, tr.out} & {"reveal", "wipe_left", "wipe_right", "wipe_up", "wipe_down"}):
        yield Problem(f"{path}.scale", "keyframed scale cannot be combined with a reveal or wipe transition: "
                                       "give one scale, or use fade, slide or drift")


def _generation_problems(spec: RenderSpec, limits: Limits) -> Iterator[Problem]:
    """Clip ids are unique, every ``of`` names a clip with sound, and the spec asks for a bounded number of
    generations (each one is a billed job)."""
    ids: dict[str, str] = {}
    for path, clip in spec.clips():
        if clip.id is not None:
            if clip.id in ids:
                yield Problem(f"{path}.id", f"{clip.id!r} is already the id of {ids[clip.id]}")
            ids.setdefault(clip.id, path)
    wanted: set[str] = set(generation_sources(spec))
    kinds = {p: c.type for p, c in spec.clips()}
    for path, clip in spec.clips():
        if not isinstance(clip, CaptionsClip) or clip.of is None:
            continue
        wanted.add(f"of:{path}")
        target = ids.get(clip.of)
        if target is None:
            yield Problem(f"{path}.of", f"no clip has the id {clip.of!r}")
        elif kinds[target] not in ("audio", "video"):
            yield Problem(f"{path}.of", f"{clip.of!r} is a {kinds[target]} clip: captions need an audio or video clip")
    if len(wanted) > limits.max_generations:
        yield Problem("tracks", f"{len(wanted)} generations is over the limit of {limits.max_generations}")


def generation_sources(spec: RenderSpec) -> dict[generated.Generated, list[str]]:
    """Every distinct generated source of a valid spec with the JSON paths that use it."""
    found: dict[generated.Generated, list[str]] = {}
    for path, clip in spec.clips():
        src = getattr(clip, "src", None)
        if isinstance(src, generated.Generated):
            found.setdefault(src, []).append(f"{path}.src")
    if spec.soundtrack is not None and isinstance(spec.soundtrack.src, generated.Generated):
        found.setdefault(spec.soundtrack.src, []).append("soundtrack.src")
    return found
