"""A Shotstack Edit document (``{"timeline", "output", "merge", "callback"}``) as a framefleet render spec.

Pure: nothing is fetched or probed. The result is a spec document that :func:`load_spec` then checks
as any other; its problems are reported at the *edit's* paths (:meth:`Converted.translate`), since
that is the document the user wrote. Shotstack's ``tracks[0]`` is its top layer and framefleet's its
bottom, so the tracks are reversed; ``merge`` is applied before anything is read, as Shotstack does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from framefleet.compositor.shotstack import clips, names
from framefleet.compositor.shotstack.reader import Node
from framefleet.compositor.spec import apply_merge
from framefleet.config import Limits
from framefleet.errors import Problem, SpecError
from framefleet.jsonload import check_document

#: Native clip fields that the edit holds inside ``asset`` (or as one asset object).
_ASSET_FIELDS = {"src": "asset.src", "trim": "asset.trim", "volume": "asset.volume", "text": "asset",
                 "speed": "asset.speed", "crop": "asset.crop",
                 "style": "asset", "fade_in": "asset.effect", "fade_out": "asset.effect", "font": "asset.font",
                 "size": "asset.font", "color": "asset.font", "background": "asset.background"}
_OUTPUT_FIELDS = {"fps": "output.fps", "format": "output.format", "quality": "output.quality",
                  "thumbnail": "output.thumbnail", "at": "output.range.start"}


def is_edit(raw: Any) -> bool:
    """A Shotstack edit is recognised by its top-level ``timeline`` (a render spec has ``tracks``)."""
    return isinstance(raw, dict) and "timeline" in raw


@dataclass(frozen=True)
class Converted:
    """The native spec, the job's webhook (the edit's ``callback``), and where each native clip came from."""

    spec: dict[str, Any]
    webhook: str | None = None
    clips: dict[str, str] = field(default_factory=dict)

    def edit_path(self, path: str) -> str:
        """A native JSON path (``tracks[2].clips[0].src``) → the edit's (``timeline.tracks[0].clips[0].asset.src``)."""
        match = re.match(r"(tracks\[\d+\]\.clips\[\d+\])(?:\.([A-Za-z_]+))?(.*)", path)
        if match and match.group(1) in self.clips:
            where, key, rest = self.clips[match.group(1)], match.group(2), match.group(3)
            if key is None:
                return where + rest
            return f"{where}.{_ASSET_FIELDS.get(key, key)}" + ("" if key in _ASSET_FIELDS else rest)
        if path.startswith("tracks"):
            return "timeline.tracks"
        if path.startswith("soundtrack"):
            return "timeline." + path.replace("fade_in", "effect").replace("fade_out", "effect")
        if path.startswith("output"):
            key = path.split(".")[1] if "." in path else ""
            if key == "range":  # the same fields, at the same place
                return path
            return _OUTPUT_FIELDS.get(key, "output")
        return path

    def translate(self, exc: SpecError) -> SpecError:
        """The same problems, each at the edit's path."""
        return SpecError([Problem(self.edit_path(p.path), p.message) for p in exc.problems])


def convert(raw: Any, *, limits: Limits | None = None) -> Converted:
    """Convert a Shotstack edit; raise :class:`SpecError` with every problem, each at its edit path."""
    limits = limits or Limits()
    check_document(raw, limits=limits, what="a Shotstack edit")
    problems: list[Problem] = []
    if not is_edit(raw):
        raise SpecError([Problem("timeline", "required: a Shotstack edit has a timeline")])
    merge = _merge(raw.get("merge"), problems)
    doc, merge_problems = apply_merge(raw, merge, budget=limits.max_spec_bytes)
    problems += merge_problems
    edit = Node(doc, "", problems)
    edit.take("merge")
    callback = edit.string("callback")
    output_node = edit.child("output") or Node({}, "output", problems)
    output, frame = _output(output_node, problems)
    mute = output_node.boolean("mute")
    timeline = edit.child("timeline")
    spec: dict[str, Any] = {"output": output}
    where: dict[str, str] = {}
    if timeline is not None:
        spec.update(_timeline(timeline, frame, output, where))
    if mute:
        _mute(spec, output_node)
    edit.done({"disk": names.INSTEAD["edit.disk"]})
    if problems:
        raise SpecError(clips.dedupe(problems))
    return Converted(spec, callback, where)


def _merge(value: Any, problems: list[Problem]) -> dict[str, str | int | float | bool]:
    """``[{"find": "NAME", "replace": "Ana"}]`` → ``{"NAME": "Ana"}``: the edit's ``{{ NAME }}`` take it.
    Only scalars are kept, so the result goes to ``apply_merge`` as it is."""
    out: dict[str, str | int | float | bool] = {}
    if value is None:
        return out
    if not isinstance(value, list):
        problems.append(Problem("merge", "must be a list of {find, replace}"))
        return out
    for i, item in enumerate(value):
        node = Node(item, f"merge[{i}]", problems)
        find = node.string("find")
        replace = node.take("replace")
        if not find:
            node.problem("find", "required")
        elif not re.fullmatch(r"[A-Za-z0-9_.\-]+", find):
            node.problem("find", "letters, digits, '_', '.' and '-' only")
        elif not isinstance(replace, str | int | float | bool):
            node.problem("replace", "must be a string, number or true/false")
        else:
            out[find] = replace
        node.done()
    return out


def _output(node: Node, problems: list[Problem]) -> tuple[dict[str, Any], clips.Frame]:
    fmt = node.string("format", names.FORMATS) or "mp4"
    if not node.has("format"):
        node.problem("format", "required (mp4, gif, mp3, jpg or png)")
    width, height = names.RESOLUTIONS[names.DEFAULT_RESOLUTION]
    resolution = node.string("resolution", names.RESOLUTIONS)
    if resolution is not None:
        width, height = names.RESOLUTIONS[resolution]
    aspect = node.string("aspectRatio", names.ASPECT_RATIOS)
    if aspect is not None:
        aw, ah = names.ASPECT_RATIOS[aspect]
        short = height  # the preset's short side; the long side follows the ratio
        width, height = (round(short * aw / ah / 2) * 2, short) if aw >= ah else (short, round(short * ah / aw / 2) * 2)
    size = node.child("size")
    if size is not None:
        w, h = size.number("width", low=2, high=10_000), size.number("height", low=2, high=10_000)
        width, height = int(w or width), int(h or height)
        size.done()
    out: dict[str, Any] = {"format": fmt, "width": width, "height": height, "loudness": None,
                           "fps": node.number("fps", low=1, high=60) or names.DEFAULT_FPS}
    if (quality := node.string("quality", names.QUALITY)) is not None:
        out["quality"] = names.QUALITY[quality]
    if node.boolean("repeat") is False:
        node.problem("repeat", "gifs always loop: remove repeat")
    _range(node, out, fmt)
    _stills(node, out, width)
    scale_to = node.string("scaleTo", names.RESOLUTIONS)
    if scale_to is not None:  # rendered smaller or larger; the edit's pixel sizes keep their proportions
        k = min(names.RESOLUTIONS[scale_to]) / min(width, height)
        out["width"], out["height"] = round(width * k / 2) * 2, round(height * k / 2) * 2
        if "thumbnail" in out and "width" in out["thumbnail"]:
            out["thumbnail"]["width"] = max(16, round(out["thumbnail"]["width"] * k))
    node.take("mute")  # read by the caller, once the clips are known
    node.done({k: names.INSTEAD.get(f"output.{k}", "unknown field") for k in node.raw})
    return out, clips.Frame(width, height)


def _mute(spec: dict[str, Any], node: Node) -> None:
    """``mute``: the output has a silent sound track; every clip's sound and the soundtrack are left out."""
    if spec["output"]["format"] == "mp3":
        node.problem("mute", "an mp3 is sound only: remove mute")
        return
    spec.pop("soundtrack", None)
    for track in spec.get("tracks", []):
        for clip in track["clips"]:
            if clip["type"] in ("video", "audio"):
                clip["volume"] = 0.0


def _range(node: Node, out: dict[str, Any], fmt: str) -> None:
    """``range``: for an image output its ``start`` is the frame drawn; for a video or sound the part
    of the timeline rendered (``output.range``, checked against the timeline's end when it is planned)."""
    rng = node.child("range")
    if rng is None:
        return
    start = rng.number("start", low=0)
    if fmt in ("jpg", "png"):
        out["at"] = start or 0.0
        rng.done({"length": "an image is one frame: remove length"})
        return
    length = rng.number("length")
    if length is not None and length <= 0:
        rng.problem("length", "must be more than 0")
        length = None
    rng.done()
    if start is not None or length is not None:
        out["range"] = {"start": start or 0.0, **({"length": length} if length is not None else {})}


def _stills(node: Node, out: dict[str, Any], width: int) -> None:
    """``poster`` and ``thumbnail``: framefleet writes one JPEG beside a video (``output.thumbnail``)."""
    poster, thumbnail = node.child("poster"), node.child("thumbnail")
    if poster is not None and thumbnail is not None:
        node.problem("thumbnail", "framefleet writes one still beside the video: keep poster or thumbnail")
    for still in (poster, thumbnail):
        if still is None:
            continue
        at = still.number("capture", low=0)
        scale = still.number("scale", low=0.01, high=1) if still is thumbnail else None
        still.done()
        if at is None:
            still.problem("capture", "required")
            continue
        out["thumbnail"] = {"at": at, **({"width": max(16, round(width * scale))} if scale else {})}


def _timeline(node: Node, frame: clips.Frame, output: dict[str, Any], where: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if (background := node.string("background")) is not None:
        output["background"] = background
    node.boolean("cache")  # Shotstack's asset cache: framefleet always caches downloads, by content
    fonts = []
    for i, item in enumerate(node.items("fonts")):
        font = Node(item, f"{node.at('fonts')}[{i}]", node.problems)
        if (src := font.string("src")) is not None:
            fonts.append(src)
        font.done()
    frame = clips.Frame(frame.width, frame.height, tuple(fonts))
    soundtrack = node.child("soundtrack")
    if soundtrack is not None:
        out["soundtrack"] = _soundtrack(soundtrack)
    tracks = node.items("tracks")
    if not tracks:
        node.problem("tracks", "required: at least one track")
    timings = _timings(tracks, node.at("tracks"), node.problems)
    native: list[dict[str, Any]] = []
    for t, raw_track in reversed(list(enumerate(tracks))):  # Shotstack's first track is on top
        track = Node(raw_track, f"{node.at('tracks')}[{t}]", node.problems)
        converted: list[dict[str, Any]] = []
        for c, raw_clip in enumerate(track.items("clips")):
            path = f"{track.at('clips')}[{c}]"
            clip = clips.convert_clip(Node(raw_clip, path, node.problems), frame, timings.get(path, _AUTO))
            if clip is not None:
                where[f"tracks[{len(native)}].clips[{len(converted)}]"] = path
                converted.append(clip)
        track.done()
        native.append({"clips": converted})
    out["tracks"] = native
    node.done()
    return out


_AUTO = clips.Timing(None, None)


def _soundtrack(node: Node) -> dict[str, Any]:
    """Shotstack's soundtrack plays once (no loop) at its own level (no ducking)."""
    out: dict[str, Any] = {"src": node.string("src"), "loop": False}
    if out["src"] is None:
        node.problem("src", "required")
    if (volume := node.number("volume", low=0, high=10)) is not None:
        out["volume"] = volume
    clips.audio_fades(node, out)
    node.done()
    return out


def _seconds(value: Any, words: tuple[str, ...]) -> float | str | None:
    if isinstance(value, str) and value in words:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _timings(tracks: list[Any], at: str, problems: list[Problem]) -> dict[str, clips.Timing]:
    """Every clip's ``start`` and ``length``: ``auto`` start follows the previous clip of the track,
    ``auto`` length is the asset's own (framefleet's defaults, so both are left out); ``end`` lasts to
    the end of the timeline, which must then be known without probing a source."""
    found: dict[str, tuple[float | str | None, float | str | None, Any]] = {}
    ends: list[float] = []
    unknown = False
    for t, track in enumerate(tracks):
        cursor: float | None = 0.0
        for c, clip in enumerate(track.get("clips", []) if isinstance(track, dict) else []):
            path = f"{at}[{t}].clips[{c}]"
            if not isinstance(clip, dict):
                continue
            start = _seconds(clip.get("start", "auto"), ("auto",))
            length = _seconds(clip.get("length"), ("auto", "end"))
            if start is None or (isinstance(start, float) and start < 0):
                problems.append(Problem(f"{path}.start", "must be seconds (0 or more) or \"auto\""))
            if length is None or (isinstance(length, float) and length <= 0):
                problems.append(Problem(f"{path}.length", "must be seconds (more than 0), \"auto\" or \"end\""))
            begin = cursor if start == "auto" else start if isinstance(start, float) else None
            kind = (clip.get("asset") or {}).get("type") if isinstance(clip.get("asset"), dict) else None
            if length == "auto" and kind not in ("video", "audio", "caption"):
                problems.append(Problem(f"{path}.length", f"\"auto\" takes a video's or audio's own length: give "
                                                          f"this {kind or 'asset'} a length in seconds"))
            found[path] = (start, length, begin)
            if begin is not None and isinstance(length, float):
                cursor = begin + length
                ends.append(cursor)
            else:
                cursor = None
                unknown = unknown or length == "auto"
    end = max(ends, default=0.0)
    out: dict[str, clips.Timing] = {}
    for path, (start, length, begin) in found.items():
        native_start = start if isinstance(start, float) else None
        if length == "end":
            if unknown or begin is None:
                problems.append(Problem(f"{path}.length", "\"end\" needs the timeline's end without reading a "
                                                          "source: give clips with \"auto\" lengths seconds"))
                continue
            if end - begin <= 0:
                problems.append(Problem(f"{path}.length", "\"end\": the clip starts at or after the timeline's end"))
                continue
            out[path] = clips.Timing(begin, round(end - begin, 6))
        else:
            out[path] = clips.Timing(native_start, length if isinstance(length, float) else None)
    return out
