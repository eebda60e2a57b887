"""framefleet: render workers for video products.

A render spec (JSON) becomes one MP4 through one ffmpeg filter graph; queue workers run renders and
generations, upload results and call back. ``framefleet.compositor.render`` is the library entry point.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
