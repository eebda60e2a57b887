"""The output frame: its size from preset/aspect/resolution, and its frame grid.

All timing in a plan is in whole frames of this grid, so a clip can never start between two frames and
durations are exact to the frame (SPEC §3 "Time").
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from framefleet.compositor.spec import Output

PRESET_ASPECT = {
    "tiktok": "9:16",
    "instagram_reel": "9:16",
    "youtube_short": "9:16",
    "instagram_post": "4:5",
    "square": "1:1",
    "youtube": "16:9",
}
SHORT_SIDE = {
    "480p": 480, "720p": 720, "1080p": 1080, "1440p": 1440, "2160p": 2160,
    "standard": 1080, "hd": 1440, "ultra": 2160,
}
#: Pixel sizes in styles are written for a frame whose short side is this (SPEC §3 "Sizes").
REFERENCE_SHORT_SIDE = 1080


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def canvas_size(out: Output) -> tuple[int, int]:
    """Width and height in pixels: ``width``/``height`` win, then aspect (explicit or preset) and resolution."""
    aspect = out.aspect_ratio or PRESET_ASPECT.get(out.preset or "", "16:9")
    aw, ah = (int(x) for x in aspect.split(":"))
    if out.width and out.height:
        return out.width, out.height
    if out.width:
        return out.width, _even(out.width * ah / aw)
    if out.height:
        return _even(out.height * aw / ah), out.height
    short = SHORT_SIDE[out.resolution or "1080p"]
    if aw <= ah:
        return short, _even(short * ah / aw)
    return _even(short * aw / ah), short


@dataclass(frozen=True)
class Canvas:
    """The output frame and its time grid."""

    width: int
    height: int
    fps: Fraction

    @classmethod
    def from_output(cls, out: Output) -> Canvas:
        width, height = canvas_size(out)
        return cls(width, height, Fraction(out.fps).limit_denominator(1001))

    @property
    def unit(self) -> float:
        """Pixels per style pixel: style sizes are for a 1080 px short side and scale with the frame."""
        return min(self.width, self.height) / REFERENCE_SHORT_SIDE

    def frame(self, seconds: float) -> int:
        """Snap a time to the nearest frame of the grid."""
        return round(seconds * self.fps)

    def seconds(self, frames: int) -> float:
        return float(frames / self.fps)

    @property
    def portrait(self) -> bool:
        return self.height > self.width
