"""ffprobe, reduced to the facts the planner needs; anything ffprobe cannot read is ``bad_media``.

ffprobe reads a source only with an allowed demuxer (:mod:`framefleet.compositor.formats`) and only the
``file`` protocol, so probing itself never follows a playlist or a list of files; the demuxer it found is
kept in :class:`MediaInfo` and is the one ffmpeg later opens the source with.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framefleet.assets.cache import CacheDir
from framefleet.compositor import ffmpeg, formats
from framefleet.errors import BadMedia
from framefleet.flags import Flag

_IMAGE_CODECS = {"png", "mjpeg", "webp", "bmp", "tiff", "gif", "jpegls"}


@dataclass(frozen=True)
class MediaInfo:
    """What a source holds: a still, video and/or audio, with its *displayed* size.

    ``width``×``height`` is the picture as a player shows it: rotation metadata applied (a phone's
    portrait video stored landscape is tall) and non-square pixels stretched (1440x1080 at 4:3 pixels
    is 1920x1080). Placement works in that size. ``frame_width``×``frame_height`` is the frame ffmpeg's
    filters receive (already rotated, pixels still as stored): crops happen there, so they are mapped.
    """

    duration: float | None
    width: int = 0
    height: int = 0
    #: The decoded frame's size (rotation applied, pixels not squared); 0: the same as the display size.
    frame_width: int = 0
    frame_height: int = 0
    has_video: bool = False
    has_audio: bool = False
    is_image: bool = False
    has_alpha: bool = False
    #: The ffmpeg demuxer that read it (``mov``, ``png_pipe``...), always one of ``formats.DEMUXERS``.
    demuxer: str = ""

    @property
    def frame(self) -> tuple[int, int]:
        """The decoded frame's size, in the pixels filters work on."""
        return (self.frame_width or self.width, self.frame_height or self.height)

    @property
    def is_still(self) -> bool:
        """One picture, never a moving one (a GIF may be animated)."""
        return self.is_image and self.demuxer != "gif"


def _rotation(stream: dict[str, object]) -> int:
    """The quarter turn (0 or 90) that swaps the picture's sides: ffmpeg rotates frames by the display
    matrix (or the older ``rotate`` tag) when it decodes them; -90, 90 and 270 all make landscape
    storage portrait, 180 keeps the sides."""
    tags = stream.get("tags") or {}
    rotate = tags.get("rotate") if isinstance(tags, dict) else None
    for side in stream.get("side_data_list") or []:  # type: ignore[attr-defined]
        if isinstance(side, dict) and "rotation" in side:
            rotate = side["rotation"]
    try:
        return abs(int(float(str(rotate)))) % 180 if rotate is not None else 0
    except ValueError:
        return 0


def _aspect(value: object) -> tuple[int, int] | None:
    """``"4:3"`` → (4, 3); None for a missing, unknown (``0:1``) or absurd ratio, read as square pixels."""
    try:
        num, den = (int(part) for part in str(value).split(":"))
    except ValueError:
        return None
    if num <= 0 or den <= 0 or not 1 / 16 <= num / den <= 16:
        return None
    return num, den


def parse_probe(data: dict[str, object], *, name: str) -> MediaInfo:
    """Turn ffprobe's JSON into :class:`MediaInfo`; raise :class:`BadMedia` when nothing is decodable."""
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]  # type: ignore[attr-defined]
    fmt = data.get("format") or {}
    video: dict[str, Any] | None = next((s for s in streams if s.get("codec_type") == "video"
                                         and not (s.get("disposition") or {}).get("attached_pic")), None)
    audio: dict[str, Any] | None = next((s for s in streams if s.get("codec_type") == "audio"), None)
    fmt_name = str(fmt.get("format_name", "")) if isinstance(fmt, dict) else ""
    demuxer = formats.demuxer(fmt_name)
    if demuxer not in formats.DEMUXERS:
        raise BadMedia(f"{name} is not a supported media file", detail=f"ffprobe format_name {fmt_name!r}")
    if video is None and audio is None:
        raise BadMedia(f"{name} holds no video, image or audio that can be decoded")
    is_image = video is not None and (
        demuxer in formats.IMAGES
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
    frame_width, frame_height = width, height
    sar = _aspect(video.get("sample_aspect_ratio")) if video else None
    if sar is not None and sar != (1, 1):
        width = max(1, round(width * sar[0] / sar[1]))  # non-square pixels: the displayed width
    if video and _rotation(video) == 90:
        width, height = height, width
        frame_width, frame_height = frame_height, frame_width
    pix = str(video.get("pix_fmt", "")) if video else ""
    return MediaInfo(
        duration=duration, width=width, height=height, frame_width=frame_width, frame_height=frame_height,
        has_video=video is not None,
        has_audio=audio is not None, is_image=is_image,
        has_alpha=any(tag in pix for tag in ("rgba", "bgra", "argb", "abgr", "yuva", "gbrap", "ya8", "pal8")),
        demuxer=demuxer,
    )


def probe(path: Path, *, name: str, ffprobe: str = "ffprobe", timeout: float = 60,
          cache_dir: Path | None = None, cache_entries: int = 100_000, cancel: Flag | None = None) -> MediaInfo:
    """Probe one file. ``name`` is how the customer knows it (their ``src``), never our local path.

    Results are kept per (file, size, modification time): in this process's memory (the last
    :data:`MEMORY_ENTRIES`: a source probed as soon as it was fetched is not probed again when the
    plan is built), and with ``cache_dir`` on disk, where templates re-rendered with the same assets
    skip a process start per source; at most ``cache_entries`` of them, least recently used evicted
    first.
    """
    key = _file_key(path)
    if key is not None and (known := _remembered(key)) is not None:
        if isinstance(known, BadMedia):  # the same file version fails the same way: not probed twice
            raise type(known)(known.message, detail=known.detail)
        return known
    entry = cache_dir / "probe" / key[:2] / f"{key}.json" if cache_dir is not None and key is not None else None
    cache = CacheDir(cache_dir / "probe", max_files=cache_entries) if cache_dir is not None else None
    if entry is not None and CacheDir.lookup(entry):
        try:
            data = json.loads(entry.read_text())
            cached = MediaInfo(**data)
            # entries from before the allowlist have no demuxer; from before display sizes, no frame size
            if cached.demuxer in formats.DEMUXERS and "frame_width" in data:
                _remember(key, cached)
                return cached
        except (OSError, ValueError, TypeError):
            pass  # unreadable or from an older version: probe again
    try:
        info = _run_ffprobe(path, name=name, ffprobe=ffprobe, timeout=timeout, cancel=cancel)
    except BadMedia as exc:
        _remember(key, exc, seconds=TIMEOUT_KEPT if isinstance(exc, ProbeTimeout) else None)
        raise
    if entry is not None and cache is not None:
        try:
            with cache.writing(entry) as tmp:
                tmp.write_text(json.dumps(dataclasses.asdict(info)))
        except OSError:
            pass  # a read-only cache only costs speed
    _remember(key, info)
    return info


class ProbeTimeout(BadMedia):
    """ffprobe did not finish in time. Kept only :data:`TIMEOUT_KEPT` seconds: long enough that one
    render (which probes a source as it arrives, then for its plan) waits for it once, not twice; short
    enough that a later job, on a machine that was only busy, tries again."""


#: Probe results this process keeps in memory (a few hundred bytes each), the file versions it could
#: not use among them.
MEMORY_ENTRIES = 1024
#: Seconds a probe that ran out of time is remembered.
TIMEOUT_KEPT = 600.0
_memory: OrderedDict[str, tuple[MediaInfo | BadMedia, float | None]] = OrderedDict()
_memory_lock = threading.Lock()


def forget() -> None:
    """Drop what this process remembers (the disk cache stays): as a new process would start."""
    with _memory_lock:
        _memory.clear()


def _remembered(key: str) -> MediaInfo | BadMedia | None:
    with _memory_lock:
        found, until = _memory.get(key, (None, None))
        if found is None or (until is not None and time.monotonic() >= until):
            _memory.pop(key, None)
            return None
        _memory.move_to_end(key)
        return found


def _remember(key: str | None, found: MediaInfo | BadMedia, *, seconds: float | None = None) -> None:
    """Keep ``found`` for ``key``: for good (until evicted), or for ``seconds``."""
    if key is not None:
        with _memory_lock:
            _memory[key] = (found, None if seconds is None else time.monotonic() + seconds)
            _memory.move_to_end(key)
            while len(_memory) > MEMORY_ENTRIES:
                _memory.popitem(last=False)


def _file_key(path: Path) -> str | None:
    """The file's version: its real path, size and modification time (a replaced file is a new key)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()


def _run_ffprobe(path: Path, *, name: str, ffprobe: str, timeout: float,
                 cancel: Flag | None = None) -> MediaInfo:
    with _plain_name(path) as plain:
        # -threads 1: the facts come from a frame or two, and a decoder's default frame threads (a
        # thread and a frame buffer per core, for a 1080p stream) cost ffprobe three times its run time.
        cmd = [ffprobe, "-v", "error", "-threads", "1", "-protocol_whitelist", formats.PROTOCOLS,
               "-format_whitelist", ",".join(sorted(formats.DEMUXERS)),
               "-print_format", "json", "-show_format", "-show_streams", str(plain)]
        try:
            done = ffmpeg.capture(cmd, timeout=timeout, cancel=cancel)
        except subprocess.TimeoutExpired:
            raise ProbeTimeout(f"{name} could not be read in time") from None
    errors = done.stderr.decode(errors="replace")[-2000:]
    if done.returncode != 0:
        if "not on whitelist" in errors:  # a playlist, a list of files, a network description...
            raise BadMedia(f"{name} is not a supported media file", detail=errors)
        raise BadMedia(f"{name} cannot be decoded", detail=errors)
    try:
        data = json.loads(done.stdout or b"{}")
    except json.JSONDecodeError:
        raise BadMedia(f"{name} cannot be decoded") from None
    info = parse_probe(data, name=name)
    if info.demuxer == "mov" and _truncated_boxes(path):
        raise BadMedia(f"{name} is truncated: the file ends inside its media data")
    return info


@contextmanager
def _plain_name(path: Path) -> Iterator[Path]:
    """``path`` under a name ffprobe cannot read as a pattern.

    Before it knows the format, ffprobe lets the ``image2`` demuxer bid with the file *name*: in
    ``x%d.png`` it sees a numbered sequence (and in older ffmpeg, ``*`` a glob) and reads ``x1.png``
    instead, a file the customer never named. ffprobe has no way to say "this name is literal" for
    one demuxer only, so it reads a link with a plain name (the extension kept: it picks the image
    decoder). ffmpeg later opens the real name with ``-pattern_type none``.
    """
    suffix = path.suffix if path.suffix[1:].isascii() and path.suffix[1:].isalnum() else ""
    with tempfile.TemporaryDirectory(prefix="framefleet-probe-") as folder:
        link = Path(folder) / f"source{suffix}"
        link.symlink_to(path.resolve())
        yield link


def _truncated_boxes(path: Path) -> bool:
    """Whether an MP4/QuickTime file ends inside one of its top-level boxes.

    A file cut short (an upload that stopped half-way) still has its whole index when the index comes
    first ("fast start"): ffprobe reports the full duration, and ffmpeg reads until the data runs out,
    says "partial file" and exits 0, so the clip would simply end early in the output. Each top-level
    box states its own size; walking them costs a few reads, however long the file.
    """
    try:
        with path.open("rb") as f:
            end = os.fstat(f.fileno()).st_size
            at = 0
            while at + 8 <= end:
                f.seek(at)
                head = f.read(16)
                size = int.from_bytes(head[:4], "big")
                if size == 1 and len(head) == 16:  # a 64-bit size follows the type
                    size = int.from_bytes(head[8:16], "big")
                elif size == 0:  # the box runs to the end of the file
                    return False
                if size < 8:
                    return False  # not a box structure we can judge; ffmpeg decides
                at += size
            return at > end
    except OSError:
        return False
