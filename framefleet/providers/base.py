"""What every provider implements, and what it hands back.

A provider turns one :class:`Request` into an :class:`Output` (a file, its type, what was consumed), or
into :class:`Pending` when the work goes on upstream (a video takes minutes): the worker then parks the
job and calls the provider again with ``request.state`` after ``Pending.after`` seconds, so no thread is
held while a remote GPU works. ``cancel`` is called once for a parked job that was canceled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from framefleet.config import Limits
from framefleet.errors import BadInput
from framefleet.flags import Flag
from framefleet.provider_config import ProviderConfig


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": round(self.start, 3), "end": round(self.end, 3)}


@dataclass
class Output:
    """A finished generation: the file to store, its MIME type and what it cost."""

    path: Path
    content_type: str
    usage: dict[str, float]
    #: word timings, when the provider gives them (speech with timestamps, captions)
    words: list[Word] | None = None
    #: generated text, shown inline as ``result.text``
    text: str | None = None
    language: str | None = None
    #: the model that did the work, when the provider chose it (a default)
    model: str | None = None


@dataclass(frozen=True)
class Pending:
    """The provider is still working: call again with ``state`` in ``after`` seconds."""

    state: dict[str, Any]
    after: float


@dataclass
class Request:
    """One generation: the job's payload and everything a provider may use to serve it."""

    type: str
    payload: dict[str, Any]
    config: ProviderConfig
    work: Path
    cancel: Flag
    limits: Limits
    #: source (URL, ``job:<id>``, allowed local file) → local file, through the job's guarded fetcher
    fetch: Callable[[str], Path]
    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    #: what an earlier call returned in :class:`Pending` (an upstream id), None on the first call
    state: dict[str, Any] | None = None
    #: called with (stage, fraction) as the work goes on
    progress: Callable[[str, float], None] = field(default=lambda stage, fraction: None)

    # -- payload access with the job's JSON paths in every message --------------------------------

    def text(self, name: str, *, required: bool = True, default: str | None = None) -> str:
        value = self.payload.get(name, default)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise BadInput(f"{name}: must be a non-empty string")
        if len(value) > self.config.max_characters:
            raise BadInput(f"{name}: is {len(value)} characters, over this provider's limit of "
                           f"{self.config.max_characters}")
        return value

    def number(self, name: str, default: float | None, *, low: float, high: float) -> float | None:
        value = self.payload.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise BadInput(f"{name}: must be a number from {low:g} to {high:g}")
        return float(value)

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self.payload.get(name, default)
        if value not in options:
            raise BadInput(f"{name}: must be one of {', '.join(options)}")
        return str(value)

    def option(self, name: str, default: str = "") -> str:
        """A string the payload may set and the providers file defaults (``voice``, ``model``)."""
        value = self.payload.get(name, self.config.option(name, default))
        if not isinstance(value, str) or len(value) > 200:
            raise BadInput(f"{name}: must be a string of at most 200 characters")
        return value

    @property
    def model(self) -> str:
        return self.option("model", self.config.model) or self.config.model


class Provider(Protocol):
    """One protocol (OpenAI, Replicate, ElevenLabs, local) serving the types it can."""

    name: str

    def run(self, request: Request) -> Output | Pending:
        """Do (or go on with) the generation; raise from the error tree on failure."""

    def cancel(self, request: Request) -> None:
        """Stop upstream work of a parked request (best effort; never raises)."""
