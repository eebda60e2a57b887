"""Sample media made locally from ffmpeg's test sources, for the examples, tests and benchmarks.

Nothing here downloads: video comes from lavfi sources, speech from ffmpeg's ``flite`` filter, music
from ``aevalsrc``. Files already present are kept, so repeated demos and test runs are quick.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw

VOICE_LINES = (
    "Here are three tips for better sleep.",
    "First, keep the same bedtime every night.",
    "Second, no screens for an hour before bed.",
    "Third, keep your bedroom cool and dark.",
)
LAVFI_VIDEOS = {
    "broll1.mp4": "testsrc2=s=1920x1080:r=30",
    "broll2.mp4": "life=s=480x270:r=30:mold=10:ratio=0.1:life_color=#e0a020:death_color=#203050,"
                  "scale=1920:1080:flags=neighbor",
    "broll3.mp4": "gradients=s=1280x720:r=30:speed=0.02:n=4",
    "portrait.mp4": "testsrc=s=1080x1920:r=30",
}


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def _video(path: Path, source: str, seconds: float, tone: int) -> None:
    _ffmpeg("-f", "lavfi", "-i", f"{source},format=yuv420p", "-f", "lavfi", "-i",
            f"sine=f={tone}:r=48000", "-t", f"{seconds}", "-c:v", "libx264", "-preset", "ultrafast",
            "-crf", "26", "-g", "30", "-c:a", "aac", "-b:a", "96k", "-shortest", str(path))


def _photo(path: Path, size: tuple[int, int]) -> None:
    _ffmpeg("-f", "lavfi", "-i", f"mandelbrot=s={size[0]}x{size[1]}:end_scale=0.3", "-frames:v", "1",
            "-q:v", "3", str(path))


def _logo(path: Path) -> None:
    image = Image.new("RGBA", (600, 600), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse([20, 20, 580, 580], fill=(255, 80, 40, 255))
    draw.ellipse([170, 170, 430, 430], fill=(255, 255, 255, 255))
    image.save(path)


def _voice(folder: Path) -> None:
    """One flite clip per line, joined; the SRT and word JSON use each line's real duration."""
    parts, cues, words, t = [], [], [], 0.0
    for n, line in enumerate(VOICE_LINES):
        part = folder / f".vo-{n}.wav"
        _ffmpeg("-f", "lavfi", "-i", f"flite=text='{line}':voice=slt", "-af", "apad=pad_dur=0.25",
                "-ar", "48000", "-ac", "1", str(part))
        seconds = float(subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(part)],
            capture_output=True, text=True, check=True).stdout)
        spoken = seconds - 0.25
        cues.append((t, t + spoken, line))
        tokens = line.split()
        total = sum(len(w) + 1 for w in tokens)
        at = t
        for token in tokens:
            share = spoken * (len(token) + 1) / total
            words.append({"text": token, "start": round(at, 3), "end": round(at + share, 3)})
            at += share
        parts.append(part)
        t += seconds
    listing = folder / ".vo.txt"
    listing.write_text("".join(f"file '{p.name}'\n" for p in parts))
    _ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c:a", "pcm_s16le", str(folder / "voiceover.wav"))
    srt = []
    for n, (start, end, text) in enumerate(cues, start=1):
        stamp = [f"{int(x // 3600):02d}:{int(x % 3600 // 60):02d}:{int(x % 60):02d},{int(x * 1000 % 1000):03d}"
                 for x in (start, end)]
        srt.append(f"{n}\n{stamp[0]} --> {stamp[1]}\n{text}\n")
    (folder / "voiceover.srt").write_text("\n".join(srt))
    (folder / "voiceover.words.json").write_text(json.dumps({"words": words}, indent=1))
    for p in [*parts, listing]:
        p.unlink()


def _music(path: Path, seconds: float) -> None:
    chord = "+".join(f"0.12*sin(2*PI*{f}*t)*(0.6+0.4*sin(2*PI*{r}*t))"
                     for f, r in ((220, 0.5), (277.18, 0.75), (329.63, 1.0), (110, 0.25)))
    _ffmpeg("-f", "lavfi", "-i", f"aevalsrc={chord}|{chord}:s=48000:d={seconds}", "-c:a", "libmp3lame",
            "-b:a", "160k", str(path))


def make_all(folder: Path) -> Path:
    """Create every sample file that is missing in ``folder``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, source) in enumerate(LAVFI_VIDEOS.items()):
        if not (folder / name).exists():
            _video(folder / name, source, 8.0, 300 + 110 * i)
    if not (folder / "photo.jpg").exists():
        _photo(folder / "photo.jpg", (1600, 1200))
    if not (folder / "product.jpg").exists():
        _photo(folder / "product.jpg", (1200, 1200))
    if not (folder / "logo.png").exists():
        _logo(folder / "logo.png")
    for n, pattern in enumerate(("mandelbrot=s=720x1280:end_scale=0.6", "cellauto=s=720x1280:rule=110",
                                 "gradients=s=720x1280:n=5:seed=7"), start=1):
        if not (folder / f"script{n}.jpg").exists():  # the stills of script_to_video.json (9:16)
            _ffmpeg("-f", "lavfi", "-i", pattern, "-frames:v", "1", "-q:v", "3", str(folder / f"script{n}.jpg"))
    if not (folder / "voiceover.wav").exists():
        _voice(folder)
    if not (folder / "music.mp3").exists():
        _music(folder / "music.mp3", 12.0)
    return folder
