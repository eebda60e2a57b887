"""ffprobe, reduced to the facts the planner needs; anything ffprobe cannot read is ``bad_media``."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framefleet import leftovers
from framefleet.assets.cache import CacheDir
from framefleet.errors import BadMedia

_IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "gif", "tiff_pipe", "svg_pipe"}
_IMAGE_CODECS = {"png", "mjpeg", "webp", "bmp", "tiff", "gif", "jpegls"}


@dataclass(frozen=True)
class MediaInfo:
    """What a source holds: a still, video and/or audio, with display size (rotation applied)."""

    duration: float | None
    width: int = 0
    height: int = 0
    has_video: bool = False
    has_audio: bool = False
    is_image: bool = False
    has_alpha: bool = False


def _rotation(stream: dict[str, object]) -> int:
    tags = stream.get("tags") or {}
    rotate = tags.get("rotate") if isinstance(tags, dict) else None
    for side in stream.get("side_data_list") or []:  # type: ignore[attr-defined]
        if isinstance(side, dict) and "rotation" in side:
            rotate = side["rotation"]
    try:
        return abs(int(float(str(rotate)))) % 180 if rotate is not None else 0
    except ValueError:
        return 0


def parse_probe(data: dict[str, object], *, name: str) -> MediaInfo:
    """Turn ffprobe's JSON into :class:`MediaInfo`; raise :class:`BadMedia` when nothing is decodable."""
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]  # type: ignore[attr-defined]
    fmt = data.get("format") or {}
    video: dict[str, Any] | None = next((s for s in streams if s.get("codec_type") == "video"
                                         and not (s.get("disposition") or {}).get("attached_pic")), None)
    audio: dict[str, Any] | None = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise BadMedia(f"{name} holds no video, image or audio that can be decoded")
    fmt_name = str(fmt.get("format_name", "")) if isinstance(fmt, dict) else ""
    is_image = video is not None and (
        bool(set(fmt_name.split(",")) & _IMAGE_FORMATS)
        or (str(video.get("codec_name")) in _IMAGE_CODECS and audio is None
            and str(video.get("nb_frames", "1")) in ("1", "N/A"))
    )
    duration: float | None = None
    holders: list[Any] = [fmt, video or {}, audio or {}]
    for holder in holders:
        try:
            duration = float(holder.get("duration"))
            break
        except (TypeError, ValueError):
            continue
    if is_image:
        duration = None
    elif duration is None or duration <= 0:
        raise BadMedia(f"{name} has no duration; it may be truncated or corrupt")
    width = int(video.get("width") or 0) if video else 0
    height = int(video.get("height") or 0) if video else 0
    if video and (width <= 0 or height <= 0):
        raise BadMedia(f"{name} has a video stream with no picture size")
    if video and _rotation(video) == 90:
        width, height = height, width
    pix = str(video.get("pix_fmt", "")) if video else ""
    return MediaInfo(
        duration=duration, width=width, height=height, has_video=video is not None,
        has_audio=audio is not None, is_image=is_image,
        has_alpha=any(tag in pix for tag in ("rgba", "bgra", "argb", "abgr", "yuva", "gbrap", "ya8", "pal8")),
    )


def probe(path: Path, *, name: str, ffprobe: str = "ffprobe", timeout: float = 60,
          cache_dir: Path | None = None, cache_entries: int = 100_000) -> MediaInfo:
    """Probe one file. ``name`` is how the customer knows it (their ``src``), never our local path.

    With ``cache_dir``, results are kept per (file, size, modification time): templates re-rendered with
    the same assets skip a process start per source; at most ``cache_entries`` of them, least recently
    used evicted first.
    """
    entry = _cache_entry(path, cache_dir) if cache_dir is not None else None
    cache = CacheDir(cache_dir / "probe", max_files=cache_entries) if cache_dir is not None else None
    if entry is not None and entry.is_file():
        try:
            CacheDir.hit(entry)
            return MediaInfo(**json.loads(entry.read_text()))
        except (OSError, ValueError, TypeError):
            pass  # unreadable or from an older version: probe again
    info = _run_ffprobe(path, name=name, ffprobe=ffprobe, timeout=timeout)
    if entry is not None:
        try:
            fd, tmp = leftovers.part_file(entry.parent)
            with os.fdopen(fd, "w") as sink:
                sink.write(json.dumps(dataclasses.asdict(info)))
            os.replace(tmp, entry)
            if cache is not None:
                cache.added(entry)
        except OSError:
            pass  # a read-only cache only costs speed
    return info


def _cache_entry(path: Path, cache_dir: Path) -> Path | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    return cache_dir / "probe" / key[:2] / f"{key}.json"


def _run_ffprobe(path: Path, *, name: str, ffprobe: str, timeout: float) -> MediaInfo:
    cmd = [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise BadMedia(f"{name} could not be read in time") from None
    if done.returncode != 0:
        raise BadMedia(f"{name} cannot be decoded", detail=done.stderr.decode(errors="replace")[-2000:])
    try:
        data = json.loads(done.stdout or b"{}")
    except json.JSONDecodeError:
        raise BadMedia(f"{name} cannot be decoded") from None
    return parse_probe(data, name=name)
