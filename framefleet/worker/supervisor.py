"""Keeps a pod's worker processes running: a child that dies is started again, with backoff if it keeps dying.

A worker process can die for reasons of its own (the OOM killer, a crash in a native library, a SIGKILL
from an operator): its in-flight job is taken over by another worker once its lease lapses, as always,
but the pod would run one process short for the rest of its life, with ``/readyz`` still green. The
supervisor notices within a fraction of a second, starts a replacement, and reports the pod not ready
while fewer processes run than configured.

A child that dies within ``STABLE_SECONDS`` of starting is in trouble (bad configuration, a broker that
refuses it): its next start waits twice as long as the last, up to ``MAX_BACKOFF``. One that ran longer
starts again at once.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MIN_BACKOFF = 1.0
MAX_BACKOFF = 60.0
STABLE_SECONDS = 30.0
TICK = 0.2


@dataclass
class Slot:
    """One configured process: what runs in it now, and when it may be started again."""

    proc: subprocess.Popen[Any] | None = None
    started: float = 0.0
    backoff: float = 0.0
    start_at: float = 0.0
    restarts: int = 0


class Supervisor:
    """Starts ``count`` children with ``argv`` and keeps that many running until :meth:`stop`."""

    def __init__(self, argv: Sequence[str], count: int, *, on_exit: Callable[[int], None] | None = None,
                 spawn: Callable[[Sequence[str]], subprocess.Popen[Any]] | None = None) -> None:
        self.argv = list(argv)
        self.slots = [Slot() for _ in range(count)]
        self.on_exit = on_exit or (lambda pid: None)
        self.spawn = spawn or (lambda args: subprocess.Popen(list(args)))
        self.stopping = threading.Event()
        self._lock = threading.RLock()  # signal handlers run on the main thread, maybe inside a locked block
        self.codes: list[int] = []

    # -- what readiness and tests look at ------------------------------------------------------------

    def running(self) -> int:
        with self._lock:
            return sum(1 for s in self.slots if s.proc is not None and s.proc.poll() is None)

    def check(self) -> None:
        """A readiness check: raises while fewer processes run than configured."""
        alive = self.running()
        if alive < len(self.slots):
            raise RuntimeError(f"{alive} of {len(self.slots)} worker processes running")

    def pids(self) -> list[int]:
        with self._lock:
            return [s.proc.pid for s in self.slots if s.proc is not None and s.proc.poll() is None]

    # -- the loop -------------------------------------------------------------------------------------

    def run(self) -> int:
        """Supervise until :meth:`stop`, then wait for every child; returns the worst exit code."""
        for slot in self.slots:
            self._start(slot)
        while not self.stopping.wait(TICK):
            self._tend()
        for slot in self.slots:
            if slot.proc is not None:
                self.codes.append(slot.proc.wait())
                self.on_exit(slot.proc.pid)
        return max((abs(code) for code in self.codes), default=0)

    def signal(self, signum: int) -> None:
        """Pass a signal on to every child (SIGTERM: finish running jobs, then exit)."""
        with self._lock:
            for slot in self.slots:
                if slot.proc is not None and slot.proc.poll() is None:
                    slot.proc.send_signal(signum)

    def stop(self) -> None:
        """Restart nothing from now on; :meth:`run` returns once every child has exited."""
        self.stopping.set()

    def _tend(self) -> None:
        now = time.monotonic()
        for index, slot in enumerate(self.slots):
            if slot.proc is not None:
                code = slot.proc.poll()
                if code is None:
                    continue
                self.on_exit(slot.proc.pid)
                lived = now - slot.started
                slot.backoff = min(MAX_BACKOFF, max(MIN_BACKOFF, slot.backoff * 2)) if lived < STABLE_SECONDS else 0.0
                slot.start_at = now + slot.backoff
                log.warning("worker process %d (slot %d) exited with %s after %.0f s; starting another%s",
                            slot.proc.pid, index, code, lived,
                            f" in {slot.backoff:.0f} s" if slot.backoff else "")
                with self._lock:
                    slot.proc = None
            if slot.proc is None and now >= slot.start_at and not self.stopping.is_set():
                slot.restarts += 1
                self._start(slot)

    def _start(self, slot: Slot) -> None:
        proc = self.spawn(self.argv)
        with self._lock:
            slot.proc, slot.started = proc, time.monotonic()
