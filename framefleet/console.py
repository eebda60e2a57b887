"""Terminal output for the CLI: a progress bar on a TTY, sparse progress lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Draws ``stage  [#####.....]  52%`` on one line; in logs (no TTY) prints a line per 25 %."""

    WIDTH = 30

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self._stage = ""
        self._last_step = -1
        self._last_draw = 0.0
        self._started = time.monotonic()

    def __call__(self, stage: str, fraction: float) -> None:
        if not self.enabled:
            return
        if stage != self._stage:
            if self._stage and self.tty:
                self.stream.write("\n")
            self._stage, self._last_step = stage, -1
        if self.tty:
            now = time.monotonic()
            if fraction < 1 and now - self._last_draw < 0.1:
                return
            self._last_draw = now
            filled = int(self.WIDTH * fraction)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            elapsed = now - self._started
            self.stream.write(f"\r{stage:<8} [{bar}] {fraction * 100:5.1f}%  {elapsed:6.1f}s")
        else:
            step = int(fraction * 4)
            if step == self._last_step:
                return
            self._last_step = step
            self.stream.write(f"{stage}: {fraction * 100:.0f}%\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self._stage:
            self.stream.write("\n")
            self.stream.flush()
