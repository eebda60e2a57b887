"""framefleet's one error tree.

Every failure a caller can see is a :class:`FramefleetError`. Each class carries the stable job error
``code`` of SPEC §4 and a message that is safe to show a customer; whatever is not safe (paths, stderr,
stack traces) goes in ``detail``, which is logged and never shown::

    FramefleetError                 code "internal"
    ├── BadInput                    code "bad_input"   the spec or a request is wrong; never retried
    │   ├── SpecError               every validation problem, each with its JSON path
    │   ├── BadMedia                code "bad_media"   a source ffmpeg cannot decode
    │   ├── FetchError              a source could not be fetched (missing, refused, too big)
    │   └── EncoderUnavailable      a GPU encode was asked for where none works
    ├── TransientFetchError         code "internal"    a download failed for a reason that may pass; retried
    ├── RenderError                 code "internal"    the render itself broke
    │   └── FFmpegError             ffmpeg exited non-zero
    ├── Canceled                    code "canceled"
    ├── Expired                     code "expired"     the job waited in the queue past its time to live
    ├── Abandoned                   code "internal"    the job's workers kept dying; it is given up
    ├── HandedBack                  code "internal"    the worker shut down; the work is redelivered
    ├── GenerationFailed            the code of the render's failed generation (SPEC §8 ``generate``)
    ├── Timeout                     code "timeout"
    ├── StorageError                code "internal"    object storage failed; transient, retried
    │   └── StorageRefused          code "internal"    storage refused for good (no bucket, denied, bad key)
    └── ProviderError               code "provider_error"
        └── ProviderUnavailable     5xx, time-outs and 429s that outlast a request's retries; retried
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    """The stable codes of a failed job's ``error`` (SPEC §4), stored and compared as plain strings."""

    BAD_INPUT = "bad_input"
    BAD_MEDIA = "bad_media"
    TIMEOUT = "timeout"
    CANCELED = "canceled"
    EXPIRED = "expired"
    PROVIDER_ERROR = "provider_error"
    INTERNAL = "internal"


class FramefleetError(Exception):
    """Root of every error framefleet raises on purpose."""

    code: ErrorCode = ErrorCode.INTERNAL
    #: Whether retrying the same job may succeed (network blips, 5xx): permanent errors fail at once.
    transient = False

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def as_dict(self) -> dict[str, str]:
        """The job's ``error`` object: stable code and customer-safe message."""
        return {"code": self.code.value, "message": self.message}


class BadInput(FramefleetError):
    """The request is wrong and will stay wrong however often it is retried."""

    code: ErrorCode = ErrorCode.BAD_INPUT


@dataclass(frozen=True)
class Problem:
    """One validation problem: where in the spec (``tracks[1].clips[0].src``) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecError(BadInput):
    """A render spec that fails validation; ``problems`` lists every one of them, not only the first."""

    def __init__(self, problems: Iterable[Problem], *, what: str = "render spec") -> None:
        self.problems = sorted(set(problems), key=lambda p: (p.path, p.message))
        count = len(self.problems)
        head = "; ".join(str(p) for p in self.problems[:5])
        more = f" (and {count - 5} more)" if count > 5 else ""
        super().__init__(f"invalid {what}: {head}{more}")


class BadMedia(BadInput):
    """A source exists but cannot be decoded (corrupt, empty, not media)."""

    code: ErrorCode = ErrorCode.BAD_MEDIA


class FetchError(BadInput):
    """A source could not be fetched: missing, refused by the network guard, or over the size cap."""


class TransientFetchError(FramefleetError):
    """A source could not be fetched for a reason that may pass (timeout, 5xx, connection reset)."""

    transient = True


class RenderError(FramefleetError):
    """The render failed for a reason that is ours, not the caller's."""


class FFmpegError(RenderError):
    """ffmpeg exited non-zero; ``detail`` holds the tail of its log."""


class EncoderUnavailable(BadInput):
    """``encoder: gpu`` was asked for on a machine where no NVENC encode works (bad configuration)."""


class Canceled(FramefleetError):
    """The job was canceled while it ran."""

    code: ErrorCode = ErrorCode.CANCELED


class Expired(FramefleetError):
    """The job waited in its queue longer than ``FRAMEFLEET_JOB_TTL`` and was never started."""

    code: ErrorCode = ErrorCode.EXPIRED


class Abandoned(FramefleetError):
    """The workers running the job kept dying (``policy.MAX_DEATHS``): the job itself is the likely cause."""


class GenerationFailed(FramefleetError):
    """A generation a render spec asked for ended without a result; the render fails with its ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = ErrorCode(code) if code in ErrorCode.__members__.values() else ErrorCode.INTERNAL


class Timeout(FramefleetError):
    """The job ran past its time limit."""

    code: ErrorCode = ErrorCode.TIMEOUT


class HandedBack(FramefleetError):
    """The worker shut down mid-work: the message goes back to the broker for another worker."""

    transient = True


class StorageError(FramefleetError):
    """Object storage failed; usually transient."""

    transient = True


class StorageRefused(StorageError):
    """Storage refused the request in a way retrying cannot change (missing bucket, access denied, a key or
    name it rejects, a read-only folder): the job fails at once instead of being retried as if transient."""

    transient = False


class ProviderError(FramefleetError):
    """A generation provider failed or none is configured for the job's type."""

    code: ErrorCode = ErrorCode.PROVIDER_ERROR


class ProviderUnavailable(ProviderError):
    """A provider is down, slow or rate limiting us: the job tries again later (after ``retry_after``
    seconds when the provider said how long), and fails as ``provider_error`` when its tries run out."""

    transient = True

    def __init__(self, message: str, *, detail: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after
