"""The one place that runs ffmpeg: progress, cancellation, time limits, error mapping.

ffmpeg runs in its own process group, so a kill reaches anything it started; on cancel, time-out or any
exception in the caller (Ctrl-C included) it gets SIGTERM, then SIGKILL after a short grace. It never
outlives the call.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

from framefleet.errors import BadMedia, Canceled, FFmpegError, Timeout
from framefleet.flags import Flag

log = logging.getLogger(__name__)

KILL_GRACE = 1.5
_POLL = 0.05
_DECODE_ERROR = re.compile(r"^Error while decoding stream #(\d+):\d+", re.M)
_INPUT_ERROR = re.compile(r"^(?:\[[^\]]*\] )?(.+?): (Invalid data found when processing input|"
                          r"No such file or directory|End of file|moov atom not found)", re.M)
#: What an audio encoder says when a float source (WAV, CAF) holds NaN or infinite samples.
_NOT_NUMBERS = "Input contains (near) NaN/+-Inf"
#: What the mov demuxer says when a sample lies past the end of the file (a cut-short upload).
_PARTIAL = re.compile(r"^\[([\w,]+) @ 0x[0-9a-f]+\] .*: partial file$", re.M)


def _prctl() -> Callable[..., int] | None:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl() if sys.platform == "linux" else None


def _die_with_parent() -> None:
    """In the child before exec: be killed if the thread that started us dies, even by SIGKILL.

    A worker killed outright cannot clean up; without this its ffmpeg would render on as an orphan.
    The function is looked up before any fork, so the child only makes one system call.
    """
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after the grace period."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _spawn(argv: Sequence[str], *, stdin: bool = False) -> subprocess.Popen[bytes]:
    """Start a tool in its own process group (a kill reaches what it starts), killed with its parent;
    ``stdin``: whether the caller writes to it (otherwise it reads nothing)."""
    return subprocess.Popen(list(argv), stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=_die_with_parent if _PRCTL else None)  # noqa: PLW1509 - one prctl call


class _ExitWatch:
    """Waits for a process to exit in steps of a cancel check, waking once a step.

    ``Popen.wait(timeout)`` sleeps in doubling steps from half a millisecond, about 140 wake-ups a
    second: 30 ms of CPU for every second a render runs, spent by a thread that only waits. A pidfd
    (Linux 5.3) becomes readable when the process exits, so one poll a step is enough; where there
    is none, the plain wait is used.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self._fd: int | None = None
        self._poll: select.poll | None = None
        try:
            self._fd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):  # no pidfd here: Popen.wait
            return
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN)

    def wait(self, seconds: float) -> int | None:
        """The exit code, or None if the process still runs after ``seconds``."""
        if self._poll is None:
            try:
                return self.proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                return None
        if not self._poll.poll(seconds * 1000):
            return None
        return self.proc.wait()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd, self._poll = None, None


def _read_progress(stream: object, total: float, report: Callable[[float], None] | None) -> None:
    for raw in stream:  # type: ignore[attr-defined]
        line = raw.decode(errors="replace").strip()
        key, _, value = line.partition("=")
        if key in ("out_time_us", "out_time_ms") and value.lstrip("-").isdigit() and report and total > 0:
            report(min(1.0, max(0.0, int(value) / 1e6 / total)))
        elif key == "progress" and value == "end" and report:
            report(1.0)


def run(argv: Sequence[str], *, total_seconds: float, on_progress: Callable[[float], None] | None = None,
        cancel: Flag | None = None, timeout: float | None = None,
        sources: dict[str, str] | None = None, limit: float | None = None) -> None:
    """Run ffmpeg to completion or raise. ``sources`` maps local paths to the names customers gave them,
    so a decode failure can name the source without leaking our paths. ``limit`` is the whole render's
    time limit, named in the error when ``timeout`` (what is left of it) runs out."""
    log.debug("ffmpeg %s", " ".join(argv[1:]))
    proc = _spawn(argv)
    tail: collections.deque[str] = collections.deque(maxlen=60)

    def read_errors() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            tail.append(raw.decode(errors="replace").rstrip())

    readers = [threading.Thread(target=_read_progress, args=(proc.stdout, total_seconds, on_progress),
                                daemon=True),
               threading.Thread(target=read_errors, daemon=True)]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout if timeout else None
    exit_watch = _ExitWatch(proc)
    try:
        while True:
            code = exit_watch.wait(_POLL)
            if code is not None:
                break
            if cancel is not None and cancel.is_set():
                _kill_group(proc)
                raise Canceled("the job was canceled")
            if deadline is not None and time.monotonic() > deadline:
                _kill_group(proc)
                raise Timeout(f"the render ran past its time limit of {limit or timeout:.0f} s")
    except BaseException:
        if proc.poll() is None:
            _kill_group(proc)
        raise
    finally:
        exit_watch.close()
        for reader in readers:
            reader.join(timeout=2)
        for pipe in (proc.stdout, proc.stderr):
            if pipe:
                pipe.close()
    text = "\n".join(tail)
    broken = _undecodable(argv, text, sources or {})
    if broken is not None:  # whether ffmpeg went on without it (exit 0) or gave up
        raise BadMedia(f"{broken} cannot be decoded", detail=text[-4000:])
    if code != 0 and _NOT_NUMBERS in text:  # the encoder cannot tell which input: name the ones it read
        known = sources or {}
        named = sorted({known[arg] for arg in argv if arg in known})
        which = " or ".join(named) if named else "a sound in the timeline"
        raise BadMedia(f"{which} holds samples that are not numbers (NaN or infinity)", detail=text[-4000:])
    short = _truncated(argv, text, sources or {})
    if short is not None:  # ffmpeg exits 0: the clip would just end early
        raise BadMedia(f"{short} is truncated: the file ends inside its media data", detail=text[-4000:])
    if code != 0:
        raise _failure(code, text, sources or {})


def capture(argv: Sequence[str], *, timeout: float, cancel: Flag | None = None,
            stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a short tool (ffprobe, espeak-ng) for its output, under the same rules as a render: its own
    process group, killed with its parent, on cancel (within a tenth of a second) and when ``timeout``
    runs out. ``stdin``: bytes the tool reads (otherwise it reads nothing).

    Raises :class:`Canceled`, or ``subprocess.TimeoutExpired`` for the caller to name the source.
    """
    proc = _spawn(argv, stdin=stdin is not None)
    deadline = time.monotonic() + timeout
    pending = stdin
    try:
        while True:
            try:
                out, err = proc.communicate(pending, timeout=0.1)
                return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
            except subprocess.TimeoutExpired:
                pending = None  # communicate keeps what it has not written yet
                if cancel is not None and cancel.is_set():
                    raise Canceled("the job was canceled") from None
                if time.monotonic() > deadline:
                    raise
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            proc.communicate()


def _undecodable(argv: Sequence[str], text: str, sources: dict[str, str]) -> str | None:
    """The customer's name of a source ffmpeg failed to decode.

    ffmpeg often goes on without it and exits 0: a picture that cannot be decoded simply vanishes from
    the output (its layer ends at once), so the render would "succeed" without it. That is a bad
    source, not a success.
    """
    inputs = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "-i"]
    for match in _DECODE_ERROR.finditer(text):
        index = int(match.group(1))
        if index < len(inputs) and inputs[index] in sources:
            return sources[inputs[index]]
    return None


def _truncated(argv: Sequence[str], text: str, sources: dict[str, str]) -> str | None:
    """The customer's name(s) of the sources a "partial file" message may come from.

    The message names the demuxer, not the file, so it is matched to the user inputs opened with that
    demuxer (every one is opened with an explicit ``-f``); when several are, all are named.
    """
    demuxers = {m.group(1).split(",")[0] for m in _PARTIAL.finditer(text)}
    if not demuxers:
        return None
    names: list[str] = []
    fmt: str | None = None
    for arg, value in itertools.pairwise(argv):
        if arg == "-f":
            fmt = value
        elif arg == "-i":
            if fmt in demuxers and value in sources and sources[value] not in names:
                names.append(sources[value])
            fmt = None
    return " or ".join(names) if names else None


def _failure(code: int, text: str, sources: dict[str, str]) -> Exception:
    for match in _INPUT_ERROR.finditer(text):
        path = match.group(1).strip()
        if path in sources:
            return BadMedia(f"{sources[path]} cannot be decoded", detail=text[-4000:])
    for path, name in sources.items():
        if path in text and ("Invalid data" in text or "Error while decoding" in text):
            return BadMedia(f"{name} cannot be decoded", detail=text[-4000:])
    return FFmpegError(f"the render failed (ffmpeg exit code {code})", detail=text[-4000:])
