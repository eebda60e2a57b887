"""Measuring rendered files with ffprobe/ffmpeg: facts, pixels, loudness. Tests assert on these."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def counting_ffprobe(folder: Path, body: str = 'exec ffprobe "$@"') -> tuple[str, Path]:
    """An ``ffprobe`` in ``folder`` that notes each run in a log (``run`` per line), then does ``body``:
    tests count how often framefleet really probes."""
    log, tool = folder / "runs.log", folder / "ffprobe"
    tool.write_text(f"#!/bin/sh\necho run >> {log}\n{body}\n")
    tool.chmod(0o755)
    return str(tool), log


def facts(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                          "-count_frames", str(path)], capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    video = next((s for s in data["streams"] if s["codec_type"] == "video"), None)
    audio = next((s for s in data["streams"] if s["codec_type"] == "audio"), None)
    return {"format": data["format"], "video": video, "audio": audio}


def frame(path: Path, t: float, size: tuple[int, int]) -> np.ndarray:
    """The RGB frame shown at time ``t`` (exact frame, decoded, not a keyframe seek)."""
    w, h = size
    raw = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(path), "-ss", f"{t:.4f}",
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)


def pixel(path: Path, t: float, x: int, y: int, size: tuple[int, int]) -> tuple[int, int, int]:
    """Mean colour of a 5×5 patch at (x, y): robust to chroma subsampling at edges."""
    f = frame(path, t, size).astype(int)
    patch = f[max(0, y - 2):y + 3, max(0, x - 2):x + 3].reshape(-1, 3).mean(axis=0)
    return tuple(round(v) for v in patch)  # type: ignore[return-value]


def close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 24) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def loudness(path: Path, start: float | None = None, end: float | None = None) -> float:
    """Integrated loudness (LUFS) by ffmpeg's ebur128, optionally of a time window."""
    args = ["ffmpeg", "-hide_banner", "-nostats"]
    if start is not None:
        args += ["-ss", str(start)]
    if end is not None:
        args += ["-to", str(end)]
    args += ["-i", str(path), "-vn", "-af", "ebur128", "-f", "null", "-"]
    err = subprocess.run(args, capture_output=True, text=True, check=True).stderr
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", err)[-1])


def band_rms_db(path: Path, freq: float, start: float, end: float) -> float:
    """RMS level (dBFS) of a narrow band around ``freq`` between two times."""
    err = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-ss", str(start), "-to", str(end), "-i",
                          str(path), "-vn", "-af", f"bandpass=f={freq}:width_type=q:w=8,bandpass=f={freq}:"
                          "width_type=q:w=8,astats=measure_overall=RMS_level:measure_perchannel=none",
                          "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    return float(re.findall(r"RMS level dB:\s+(-?[\d.]+|-inf)", err)[-1].replace("-inf", "-120"))


def gray_frames(path: Path, width: int, height: int) -> np.ndarray:
    """Every frame, decoded, as grey levels (frames × height × width)."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width).astype(np.int16)


def pcm(path: Path, channels: int = 2) -> np.ndarray:
    """The sound, decoded to 48 kHz float samples (samples × channels)."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ar", "48000", "-ac",
                          str(channels), "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32).reshape(-1, channels)


def keyframes(path: Path) -> list[int]:
    """Indexes of the video's keyframes, in presentation order."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=key_frame",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    return [n for n, f in enumerate(json.loads(out)["frames"]) if f["key_frame"] == 1]
