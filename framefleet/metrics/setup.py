"""Multi-process metrics: every worker process of a pod writes its samples to a shared folder, and one
exposition server per pod adds them up (prometheus_client's multiprocess mode).

``prepare`` must run before ``prometheus_client`` is first imported in the process: the library picks
its storage once, at import, from ``PROMETHEUS_MULTIPROC_DIR``. Child processes inherit the variable.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def default_dir(port: int) -> Path:
    return Path(tempfile.gettempdir()) / f"framefleet-metrics-{port}"


def prepare(folder: Path) -> Path:
    """Wipe ``folder`` (stale files from a previous run would count twice) and point the library at it."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def boot(metrics_dir: Path | None, port: int, *, child: bool) -> None:
    """The first thing a worker process does, before any module that defines a metric is imported: the
    pod's first process wipes and claims the shared folder; its children inherit the variable."""
    if not child:
        prepare(metrics_dir or default_dir(port))
    from framefleet.metrics import definitions

    definitions.create()  # the collectors, made now, in the folder the pod shares


def mark_dead(pid: int) -> None:
    """A worker process ended: drop its live gauges (jobs in progress) from the sums."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
