"""The one shape of "stop now" that every layer obeys: downloads, ffprobe, ffmpeg, drawing, uploads.

A ``threading.Event`` fits, and so does anything else that can say it is set; the worker's watch sets one
when a job is canceled or the worker is handing its work back.
"""

from __future__ import annotations

from typing import Protocol

from framefleet.errors import Canceled


class Flag(Protocol):
    """Set when the work should stop; polled, so a check costs one attribute read."""

    def is_set(self) -> bool: ...


def check(cancel: Flag | None) -> None:
    """Raise :class:`Canceled` when ``cancel`` is set: the one check every step between long ones makes."""
    if cancel is not None and cancel.is_set():
        raise Canceled("the job was canceled")


class AnyOf:
    """Set when any of its flags is: a job's cancel, and a batch's own "stop" when one part of it failed."""

    def __init__(self, *flags: Flag | None) -> None:
        self.flags = [flag for flag in flags if flag is not None]

    def is_set(self) -> bool:
        return any(flag.is_set() for flag in self.flags)
