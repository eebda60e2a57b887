"""Everything a worker process needs, built once per process from settings (no work at import)."""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framefleet import leftovers
from framefleet.config import Settings
from framefleet.queue.jobs import JobStore
from framefleet.storage import Storage

_work_lock = threading.Lock()


@dataclass
class Runtime:
    settings: Settings
    store: JobStore
    storage: Storage
    #: Sends a job id to a queue (the actors' ``send``), set when actors are declared.
    enqueue: Any = None
    #: Sends a webhook (url, body) to the webhooks queue.
    notify: Any = None
    #: Sends the chunks of a split render (queue, job id, chunk count) as one Dramatiq group.
    dispatch_chunks: Any = None
    #: Sends the join of a split render (queue, job id).
    dispatch_join: Any = None
    #: Set when the grace period after SIGTERM is over: running jobs stop and are handed back.
    hand_back: threading.Event = field(default_factory=threading.Event)
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    _work_root: Path | None = field(default=None, repr=False)

    @property
    def work_root(self) -> Path:
        """This process's own folder for job work folders, under ``<cache_dir>/work``: owned (locked) for
        the life of the process, so a worker start sweeps what a killed process left and nothing else."""
        if self._work_root is None:
            with _work_lock:
                if self._work_root is None:
                    self._work_root = leftovers.process_dir(self.settings.cache_dir / "work")
        return self._work_root
