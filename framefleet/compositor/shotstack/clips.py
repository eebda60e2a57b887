"""One Shotstack clip (``timeline.tracks[i].clips[j]``) as one framefleet clip, with Shotstack's meaning.

Placement: Shotstack's ``offset.y`` points up (ours down); its ``fit`` names differ (see ``names.FIT``).
Text-like assets (``text``, ``html``) are drawn centred in their box, which Shotstack places by the
clip's ``position`` and ``offset``: the box's centre becomes the text's centre. Pixel sizes in these
assets are for the output's real size; framefleet's are for a 1080 px short side, so they are rescaled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from framefleet.compositor.shotstack import html, names
from framefleet.compositor.shotstack.reader import Node
from framefleet.errors import Problem

TEXT_ASSETS = ("title", "text", "html")


@dataclass(frozen=True)
class Frame:
    """What every clip's conversion needs to know of the whole edit."""

    width: int
    height: int
    fonts: tuple[str, ...] = ()

    @property
    def k(self) -> float:
        """Output pixels → framefleet style pixels (a 1080 px short side)."""
        return 1080 / min(self.width, self.height)

    def font(self, family: str, bold: bool) -> str:
        """A family name, or the ``timeline.fonts`` file whose name starts with it (``Open Sans`` →
        ``OpenSans-Bold.ttf`` when bold): Shotstack names fonts by family, framefleet also by file."""
        want = _slug(family)
        found = [src for src in self.fonts if want and _slug(src.rsplit("/", 1)[-1]).startswith(want)]
        if not found:
            return family
        styled = [src for src in found if ("bold" in src.lower()) == bold]
        return (styled or found)[0]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower().split("?", 1)[0])


@dataclass(frozen=True)
class Timing:
    """The clip's native ``start`` and ``length`` (None: framefleet's default, which is Shotstack's
    ``auto``)."""

    start: float | None
    length: float | None


def convert_clip(node: Node, frame: Frame, timing: Timing) -> dict[str, Any] | None:
    asset = node.child("asset")
    node.take("start"), node.take("length")  # resolved by the caller into ``timing``
    if asset is None:
        node.problem("asset", "required")
        return None
    kind = asset.string("type")
    if kind is None:
        asset.problem("type", "required")
        return None
    if kind in names.ASSETS_INSTEAD:
        asset.problem("type", f"{kind!r} assets: {names.ASSETS_INSTEAD[kind]}")
        return None
    out: dict[str, Any] = {}
    if timing.start is not None:
        out["start"] = timing.start
    if timing.length is not None:
        out["length"] = timing.length
    if kind == "audio":
        out.update(_audio(asset))
        node.done({k: names.INSTEAD.get(f"clip.{k}", "not used by audio clips") for k in node.raw})
        return _typed(out)
    if kind == "luma":
        out.update(_luma(asset))
        node.done({k: names.INSTEAD.get(f"clip.{k}", "not used by luma mattes") for k in node.raw})
        return _typed(out)
    converters = {"video": _video, "image": _image, "caption": _caption}
    if kind in converters:
        out.update(converters[kind](asset, frame))
        _place(node, out)
    elif kind in TEXT_ASSETS:
        out.update(_text_asset(kind, asset, frame))
        _place_box(node, asset, out, frame)
    else:
        asset.problem("type", f"unknown asset type {kind[:40]!r}")
        return None
    _looks(node, out)
    asset.done({k: names.INSTEAD.get(f"asset.{k}", "unknown field") for k in asset.raw})
    node.done({k: names.INSTEAD.get(f"clip.{k}", "unknown field") for k in node.raw})
    return _typed(out)


def _typed(clip: dict[str, Any]) -> dict[str, Any]:
    """The clip with ``type`` first, as people write and read specs."""
    return {"type": clip.pop("type"), **clip}


def _source(asset: Node) -> str | None:
    src = asset.string("src")
    if src is None and not asset.has("src"):
        asset.problem("src", "required")
    return src


def _speed(asset: Node, out: dict[str, Any]) -> None:
    """``speed``: framefleet plays 0.25x to 4x (Shotstack allows up to 10x; past 4x atempo's sound and
    the decoder's work grow faster than anyone watches)."""
    speed = asset.number("speed", low=0.25, high=4)
    if speed is not None and speed != 1:
        out["speed"] = speed


def _crop(asset: Node, out: dict[str, Any]) -> None:
    """``crop``: fractions of the asset cut from each side before it is fitted."""
    crop = asset.child("crop")
    if crop is None:
        return
    sides = {side: crop.number(side, low=0, high=0.95) for side in ("top", "bottom", "left", "right")}
    crop.done()
    if (sides["left"] or 0) + (sides["right"] or 0) > 0.95 or (sides["top"] or 0) + (sides["bottom"] or 0) > 0.95:
        crop.problem("", "crops more than 95 % of the asset's width or height")
    elif any(sides.values()):
        out["crop"] = {side: value for side, value in sides.items() if value}


def _video(asset: Node, frame: Frame) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "video", "src": _source(asset), "fit": "cover"}
    if (trim := asset.number("trim", low=0)) is not None:
        out["trim"] = trim
    if (volume := asset.number("volume", low=0, high=10)) is not None:
        out["volume"] = volume
    _speed(asset, out)
    _crop(asset, out)
    return out


def _image(asset: Node, frame: Frame) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "image", "src": _source(asset), "fit": "cover"}
    _crop(asset, out)
    return out


def _luma(asset: Node) -> dict[str, Any]:
    """A luma matte masks the clip it overlaps in its own track (white shows, black hides): framefleet's
    ``luma`` clip has the same rule, so only ``src`` and ``trim`` are carried over."""
    out: dict[str, Any] = {"type": "luma", "src": _source(asset)}
    if (trim := asset.number("trim", low=0)) is not None:
        out["trim"] = trim
    asset.done({k: names.INSTEAD.get(f"asset.{k}", "unknown field") for k in asset.raw})
    return out


def _audio(asset: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "audio", "src": _source(asset)}
    if (trim := asset.number("trim", low=0)) is not None:
        out["trim"] = trim
    if (volume := asset.number("volume", low=0, high=10)) is not None:
        out["volume"] = volume
    _speed(asset, out)
    audio_fades(asset, out)
    asset.done({k: names.INSTEAD.get(f"asset.{k}", "unknown field") for k in asset.raw})
    return out


def audio_fades(node: Node, out: dict[str, Any]) -> None:
    """Shotstack's audio ``effect`` (an audio asset's or the soundtrack's) as framefleet's fades."""
    if (effect := node.string("effect", names.AUDIO_EFFECTS)) is not None:
        fade_in, fade_out = names.AUDIO_EFFECTS[effect]
        out.update({"fade_in": names.AUDIO_FADE_SECONDS} if fade_in else {})
        out.update({"fade_out": names.AUDIO_FADE_SECONDS} if fade_out else {})


def _caption(asset: Node, frame: Frame) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "captions", "src": _source(asset), "style": "clean"}
    font = asset.child("font")
    if font is not None:
        bold = _weight(font)
        if (family := font.string("family")) is not None:
            out["font"] = frame.font(family, bold)
        out["bold"] = bold
        if (color := font.string("color")) is not None:
            out["color"] = color
        if (size := font.number("size", low=1, high=1000)) is not None:
            out["size"] = round(size * frame.k, 2)
        font.done()
    background = asset.child("background")
    if background is not None:
        out["background"] = _fill(background)
        background.done()
    return out


def _weight(font: Node) -> bool:
    weight = font.take("weight")
    if weight is None:
        return False
    if isinstance(weight, int | float) and not isinstance(weight, bool):
        return weight >= 600
    if isinstance(weight, str) and weight.lower() in ("bold", "bolder", "normal", "lighter"):
        return weight.lower() in ("bold", "bolder")
    if isinstance(weight, str) and weight.isdigit():
        return int(weight) >= 600
    font.problem("weight", "must be a number (100-900) or bold/normal")
    return False


def _fill(node: Node) -> str | None:
    """A ``{color, opacity}`` object as ``#rrggbbaa``."""
    color = node.string("color")
    opacity = node.number("opacity", low=0, high=1)
    if color is None:
        node.problem("color", "required")
        return None
    if opacity is None or not re.fullmatch(r"#[0-9A-Fa-f]{6}", color):
        return color
    return f"{color}{round(opacity * 255):02x}"


def _text_asset(kind: str, asset: Node, frame: Frame) -> dict[str, Any]:
    style: dict[str, Any] = {}
    out: dict[str, Any] = {"type": "text", "style": style}
    if kind == "html":
        out["text"] = _html(asset, frame, style)
        return out
    out["text"] = asset.string("text") or ""
    if not out["text"]:
        asset.problem("text", "required")
    if kind == "title":
        _title(asset, style)
    else:
        _text_style(asset, frame, style)
    return out


def _html(asset: Node, frame: Frame, style: dict[str, Any]) -> str:
    """The html asset's text; its one style goes into ``style``."""
    styled = html.read(asset.string("html") or "", asset.string("css") or "", path=asset.path,
                       problems=asset.problems)
    css = styled.css
    bold = css.get("font-weight", "normal").lower() in ("bold", "bolder") or (
        css.get("font-weight", "").isdigit() and int(css["font-weight"]) >= 600)
    style["bold"] = bold
    if "font-family" in css:
        style["font"] = frame.font(css["font-family"].split(",")[0].strip().strip("'\""), bold)
    if "color" in css:
        style["color"] = css["color"]
    if "background" in css:
        style["background"] = css["background"]
    if "text-align" in css:
        style["align"] = css["text-align"] if css["text-align"] in ("left", "right") else "center"
    if "font-size" in css:
        pixels = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(px)?", css["font-size"].strip())
        if pixels is None:
            asset.problem("css", f"font-size {css['font-size'][:20]!r}: give pixels (40px)")
        else:
            style["size"] = round(float(pixels.group(1)) * frame.k, 2)
    if asset.string("background") not in (None, "transparent"):
        asset.problem("background", "a background behind the whole box is not supported: set background "
                                    "in the css of the p (drawn behind the text)")
    return styled.text


def _text_style(asset: Node, frame: Frame, style: dict[str, Any]) -> None:
    """The ``text`` asset's font, stroke, background and alignment."""
    font = asset.child("font")
    if font is not None:
        bold = _weight(font)
        style["bold"] = bold
        if (family := font.string("family")) is not None:
            style["font"] = frame.font(family, bold)
        color = font.string("color")
        opacity = font.number("opacity", low=0, high=1)
        if color is not None:
            style["color"] = color if opacity is None or len(color) != 7 else f"{color}{round(opacity * 255):02x}"
        if (size := font.number("size", low=1, high=2000)) is not None:
            style["size"] = round(size * frame.k, 2)
        if (line := font.number("lineHeight", low=0.5, high=4)) is not None:
            style["line_spacing"] = line
        font.done()
    stroke = asset.child("stroke")
    if stroke is not None:
        style["stroke_color"] = stroke.string("color")
        if (width := stroke.number("width", low=0, high=200)) is not None:
            style["stroke_width"] = round(width * frame.k, 2)
        stroke.done()
    box = asset.child("background")
    if box is not None:
        style["background"] = _fill(box)
        if (padding := box.number("padding", low=0, high=2000)) is not None:
            style["padding"] = round(padding * frame.k, 2)
        box.done({"borderRadius": "rounded corners are not supported: remove borderRadius"})
    alignment = asset.child("alignment")
    if alignment is not None:
        horizontal = alignment.string("horizontal", ("left", "center", "right"))
        if horizontal is not None:
            style["align"] = horizontal
        if alignment.string("vertical", ("top", "center", "bottom")) not in (None, "center"):
            alignment.problem("vertical", "framefleet centres text in its box: use center, and place the "
                                          "box with the clip's position and offset")
        alignment.done()


def _title(asset: Node, style: dict[str, Any]) -> None:
    """The legacy ``title`` asset: its ``minimal`` and ``subtitle`` looks; the decorative ones need fonts
    framefleet does not ship."""
    look = asset.string("style")
    if look not in (None, "minimal", "subtitle"):
        asset.problem("style", f"title style {look!r} is not supported (minimal, subtitle): use an html asset "
                               "with the font you want")
    if (color := asset.string("color")) is not None:
        style["color"] = color
    if (size := asset.string("size", names.TITLE_SIZES)) is not None:
        style["size"] = names.TITLE_SIZES[size]
    if (background := asset.string("background")) is not None:
        style["background"] = background
        style["padding"] = 16
    if look == "subtitle":
        style.setdefault("background", "#000000b3")
        style.setdefault("padding", 16)


Animated = float | list[dict[str, Any]]


def animated(node: Node, key: str, *, low: float, high: float, sign: float = 1.0) -> Animated | None:
    """A number or a list of Shotstack tweens (``{from, to, start, length, interpolation, easing}``, start
    relative to the clip) as framefleet keyframes; ``sign`` -1 flips a value (offset.y points up)."""
    value = node.raw.get(key)
    if not isinstance(value, list):
        number = node.number(key, low=low, high=high)
        return None if number is None else number * sign + 0.0
    node.take(key)
    frames: list[dict[str, Any]] = []
    for i, raw in enumerate(value):
        tween = Node(raw, f"{node.at(key)}[{i}]", node.problems)
        ends = [tween.number(end, low=low, high=high) for end in ("from", "to")]
        start, length = tween.number("start", low=0), tween.number("length", low=0)
        interpolation = tween.string("interpolation", names.INTERPOLATIONS)
        easing = tween.string("easing", names.EASINGS)
        tween.done()
        if None in ends or length is None or length <= 0:
            if length is None or length <= 0:
                tween.problem("length", "required: seconds, more than 0")
            continue
        frame: dict[str, Any] = {"from": ends[0] * sign + 0.0, "to": ends[1] * sign + 0.0,  # type: ignore[operator]
                                 "start": start or 0.0, "length": length}
        if interpolation is not None:
            frame["interpolation"] = interpolation
        if easing is not None:
            frame["easing"] = names.EASINGS[easing]
        frames.append(frame)
    if not frames:
        node.problem(key, "give a number or at least one tween {from, to, start, length}")
        return None
    return frames


def _offset(node: Node) -> tuple[Animated, Animated]:
    """``offset`` x and y, each a number or tweens; y flipped (Shotstack's points up)."""
    offset = node.child("offset")
    if offset is None:
        return 0.0, 0.0
    x = animated(offset, "x", low=-10, high=10)
    y = animated(offset, "y", low=-10, high=10, sign=-1)
    offset.done()
    return (0.0 if x is None else x), (0.0 if y is None else y)


def _xy(node: Node) -> tuple[float, float]:
    """A fixed offset (text boxes are placed by it once; their tweens are refused at its path)."""
    offset = node.child("offset")
    if offset is None:
        return 0.0, 0.0
    for key in ("x", "y"):
        if isinstance(offset.raw.get(key), list):
            offset.take(key)
            offset.problem(key, "keyframes on a text box's offset are not supported: give one number "
                                "(video, image and caption offsets may have keyframes)")
    x = offset.number("x", low=-10, high=10) or 0.0
    y = offset.number("y", low=-10, high=10) or 0.0
    offset.done()
    return x, y


def _place(node: Node, out: dict[str, Any]) -> None:
    """``fit``, ``scale``, ``position`` and ``offset`` of a picture: offset.y flips (Shotstack's points up)."""
    if (fit := node.string("fit", names.FIT)) is not None:
        out["fit"] = names.FIT[fit]
    if (scale := animated(node, "scale", low=0, high=10)) is not None:
        out["scale"] = scale
    if (position := node.string("position", names.POSITION)) is not None:
        out["position"] = names.POSITION[position]
    x, y = _offset(node)
    if x or y:
        out["offset"] = {"x": x, "y": y}


def _place_box(node: Node, asset: Node, out: dict[str, Any], frame: Frame) -> None:
    """Text is centred in its box; the box is placed as Shotstack places it, so the text goes at the box's
    centre. The legacy title has no box: its asset-level position and offset apply as they are."""
    kind = asset.raw.get("type")
    if (scale := animated(node, "scale", low=0, high=10)) is not None:
        out["scale"] = scale
    node.string("fit", names.FIT)  # Shotstack fits the box, and text keeps its size: nothing to draw
    if kind == "title":
        position = node.string("position", names.POSITION) or asset.string("position", names.POSITION)
        x, y = _xy(node) if node.has("offset") else _xy(asset)
        if position is not None:
            out["position"] = names.POSITION[position]
        if x or y:
            out["offset"] = {"x": x, "y": -y}
        return
    width = asset.number("width", low=1, high=10_000) or frame.width
    height = asset.number("height", low=1, high=10_000) or frame.height
    out["style"]["max_width"] = max(0.01, min(1.0, width / frame.width))
    position = names.POSITION[node.string("position", names.POSITION) or "center"]
    x, y = _xy(node)
    cx = width / 2 if "left" in position else frame.width - width / 2 if "right" in position else frame.width / 2
    cy = height / 2 if position.startswith("top") else (
        frame.height - height / 2 if position.startswith("bottom") else frame.height / 2)
    cx, cy = cx + x * frame.width, cy - y * frame.height
    offset = {"x": round(cx / frame.width - 0.5, 6), "y": round(cy / frame.height - 0.5, 6)}
    if offset != {"x": 0.0, "y": 0.0}:
        out["offset"] = offset


def _looks(node: Node, out: dict[str, Any]) -> None:
    """``opacity``, ``filter``, ``effect`` and ``transition``."""
    opacity = animated(node, "opacity", low=0, high=1)
    if opacity is not None:
        out["opacity"] = opacity
    if (name := node.string("filter", (*names.FILTERS, "none"))) not in (None, "none"):
        out["filter"] = name
    effect = node.string("effect")
    if effect is not None:
        base, speed = _variant(effect)
        if base not in names.EFFECTS:
            node.problem("effect", f"unknown effect {effect[:40]!r} (one of {', '.join(names.EFFECTS)}, "
                                   "each also with Slow or Fast)")
        elif speed:
            node.problem("effect", f"framefleet's effects move at one speed over the clip: use {base!r}")
        elif out["type"] in ("video", "image"):
            out["effect"] = names.EFFECTS[base]
        else:
            node.problem("effect", "effects move pictures: use them on video and image assets")
    transition = node.child("transition")
    if transition is not None:
        out["transition"] = _transition(transition)
    transform = node.child("transform")
    if transform is not None:
        out.update(_transform(transform))


def _transform(node: Node) -> dict[str, Any]:
    """``rotate.angle`` (degrees clockwise, as ours) and ``flip``; ``skew`` has no counterpart."""
    out: dict[str, Any] = {}
    rotate = node.child("rotate")
    if rotate is not None:
        if isinstance(rotate.raw.get("angle"), list):
            rotate.take("angle")
            rotate.problem("angle", "keyframed rotation is not supported: give one angle in degrees")
        elif (angle := rotate.number("angle", low=-360, high=360)) is not None and angle % 360:
            out["rotate"] = angle
        rotate.done()
    flip = node.child("flip")
    if flip is not None:
        horizontal, vertical = flip.boolean("horizontal"), flip.boolean("vertical")
        flip.done()
        if horizontal or vertical:
            out["flip"] = "both" if horizontal and vertical else "horizontal" if horizontal else "vertical"
    node.done({"skew": names.INSTEAD["transform.skew"]})
    return {"transform": out} if out else {}


def _variant(name: str) -> tuple[str, str]:
    for speed in ("Slow", "Fast"):
        if name.endswith(speed) and len(name) > len(speed):
            return name[: -len(speed)], speed
    return name, ""


def _transition(node: Node) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    seconds: list[tuple[str, float]] = []
    for key in ("in", "out"):
        name = node.string(key)
        if name is None or name == "none":
            continue
        base, speed = _variant(name)
        if base in names.UNSUPPORTED_TRANSITIONS:
            node.problem(key, f"{name!r} is not supported yet: use fade, zoom, reveal, or wipe, slide or "
                              "carousel Left/Right/Up/Down (each also Slow or Fast)")
        elif base not in names.TRANSITIONS:
            node.problem(key, f"unknown transition {name[:40]!r}")
        else:
            out[key] = names.TRANSITIONS[base]
            seconds.append((key, names.TRANSITION_SECONDS[speed]))
    node.done()
    if len({s for _, s in seconds}) > 1:
        node.problem("out", "the in and out transitions have different speeds: framefleet gives both one "
                            "duration (use the same Slow/Fast variant)")
    if seconds:
        out["duration"] = seconds[0][1]
    return out or None


def dedupe(problems: Sequence[Problem]) -> list[Problem]:
    seen: set[str] = set()
    out: list[Problem] = []
    for problem in problems:
        if str(problem) not in seen:
            seen.add(str(problem))
            out.append(problem)
    return out
