"""Choosing the encoder and its settings for an output format and quality.

NVENC is never assumed: most data-centre GPUs (A100, H100, H200) decode but cannot encode, and a build
may list ``h264_nvenc`` without a driver behind it. ``auto`` uses NVENC only after a real one-frame test
encode succeeds on this machine; ``gpu`` fails with a clear error where it does not.
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from framefleet.errors import EncoderUnavailable

X264_PRESETS = {"draft": ("superfast", 28), "standard": ("veryfast", 23), "high": ("medium", 18)}
NVENC_PRESETS = {"draft": ("p2", 28), "standard": ("p4", 23), "high": ("p6", 19)}
VP9_CRF = {"draft": 40, "standard": 33, "high": 28}
#: The NVIDIA driver's control device; containers given a GPU have it (and WSL has the dxg bridge).
_NVIDIA_DEVICES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg")
CONTENT_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "gif": "image/gif", "mp3": "audio/mpeg",
                 "jpg": "image/jpeg", "png": "image/png"}
#: ffmpeg's muxer for a format, where its name is not the format's: one picture, written as it is
#: (``update`` keeps a ``%d`` in the file's name from being read as a frame-number pattern).
MUXERS = {"jpg": "image2", "png": "image2"}
#: Output options that belong to the sound, and to the file rather than either stream.
AUDIO_OPTIONS = frozenset({"b:a", "ar", "ac", "aac_coder"})
CONTAINER_OPTIONS = frozenset({"movflags", "loop"})
#: Formats whose pictures can be rendered in segments and joined without re-encoding.
SEGMENTABLE = frozenset({"mp4"})


@dataclass(frozen=True)
class Encoding:
    """Everything the output needs: codec names and the output options in ffmpeg's spelling."""

    format: str
    video_codec: str | None
    audio_codec: str | None
    options: dict[str, str | int | float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The ``encoder`` metric label."""
        return self.video_codec or self.audio_codec or "none"

    @property
    def muxer(self) -> str:
        """The ``-f`` ffmpeg writes the output with."""
        return MUXERS.get(self.format, self.format)

    @property
    def still(self) -> bool:
        """Whether the output is one picture (``jpg``, ``png``) rather than a timeline."""
        return self.format in MUXERS

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def segmentable(self) -> bool:
        return self.format in SEGMENTABLE and self.video_codec is not None

    def pictures(self) -> Encoding:
        """The encoding of one time segment: the picture alone, encoded as the whole would be."""
        options = {k: v for k, v in self.options.items() if k not in AUDIO_OPTIONS | CONTAINER_OPTIONS}
        return Encoding(self.format, self.video_codec, None, options)

    def sound(self) -> Encoding:
        """The encoding of the sound on its own, as the whole would encode it (into an MP4 container)."""
        options = {k: v for k, v in self.options.items() if k in AUDIO_OPTIONS}
        return Encoding("mp4", None, self.audio_codec, options)

    def joined(self) -> Encoding:
        """The encoding of the join: pictures and sound copied as they are, the container's options."""
        options = {k: v for k, v in self.options.items() if k in CONTAINER_OPTIONS}
        return Encoding(self.format, "copy", "copy", options)


@functools.lru_cache(maxsize=4)
def nvenc_status(ffmpeg: str = "ffmpeg") -> tuple[bool, str]:
    """Whether this machine really encodes H.264 with NVENC (one tiny frame, not the encoder list),
    and why not. Seen on an H100: ``h264_nvenc`` listed, NVDEC decoding, the test encode refused."""
    if not any(Path(p).exists() for p in _NVIDIA_DEVICES):
        return False, "no NVIDIA driver on this machine"  # no test encode can succeed: skip the process
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
           "color=c=black:s=256x256:r=30:d=0.1", "-frames:v", "1", "-c:v", "h264_nvenc", "-f", "null", "-"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"test encode did not run: {exc}"
    if done.returncode == 0:
        return True, "h264_nvenc encoded a test frame"
    first = next((line for line in done.stderr.splitlines() if line.strip()), f"exit code {done.returncode}")
    return False, first.split("] ", 1)[-1].strip()


def nvenc_works(ffmpeg: str = "ffmpeg") -> bool:
    return nvenc_status(ffmpeg)[0]


def choose(fmt: str, quality: str, requested: str, fps: float, *, ffmpeg: str = "ffmpeg") -> Encoding:
    """Encoding for ``fmt``/``quality``; ``requested`` is ``auto``, ``cpu`` or ``gpu``."""
    gop = max(1, round(fps * 2))  # a keyframe every 2 s keeps players' seeking snappy
    if fmt == "mp3":
        return Encoding("mp3", None, "libmp3lame", {"b:a": "192k", "ar": 48000, "ac": 2})
    if fmt == "gif":
        return Encoding("gif", "gif", None, {"loop": 0})
    if fmt == "jpg":  # full-range 4:2:0, what cameras and browsers expect of a JPEG
        return Encoding("jpg", "mjpeg", None, {"frames:v": 1, "update": 1, "q:v": 2, "pix_fmt": "yuvj420p"})
    if fmt == "png":
        return Encoding("png", "png", None, {"frames:v": 1, "update": 1, "pix_fmt": "rgb24"})
    if fmt == "webm":
        return Encoding("webm", "libvpx-vp9", "libopus", {
            "b:v": 0, "crf": VP9_CRF[quality], "deadline": "realtime", "cpu-used": 8, "row-mt": 1,
            "pix_fmt": "yuv420p", "g": gop, "b:a": "160k", "ar": 48000, "ac": 2,
        })
    # ffmpeg's own AAC encoder with its "fast" coder: at 192 kb/s it sounds as good as the default
    # "twoloop" (its maintainer judged it better at high bit rates) for 30 % less CPU: 0.41 CPU-s instead
    # of 0.57 for the reference timeline's 20 s, and it kept closer to the mix's samples (65 dB against 42).
    audio: dict[str, str | int | float] = {
        "b:a": "192k", "ar": 48000, "ac": 2, "aac_coder": "fast", "movflags": "+faststart", "pix_fmt": "yuv420p",
        "g": gop,
    }
    use_gpu = requested == "gpu" or (requested == "auto" and nvenc_works(ffmpeg))
    if requested == "gpu" and not nvenc_works(ffmpeg):
        raise EncoderUnavailable(
            "encoder 'gpu' was requested but NVENC cannot encode on this machine (no NVENC GPU or driver); "
            "use 'auto' or 'cpu'")
    if use_gpu:
        preset, cq = NVENC_PRESETS[quality]
        return Encoding("mp4", "h264_nvenc", "aac", {
            "preset": preset, "tune": "hq", "rc": "vbr", "cq": cq, "b:v": 0, "profile:v": "high", **audio,
        })
    preset, crf = X264_PRESETS[quality]
    return Encoding("mp4", "libx264", "aac", {"preset": preset, "crf": crf, "profile:v": "high", **audio})
