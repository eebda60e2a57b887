"""The fast tier: the fleet's rules through the ``memory://`` broker and an embedded worker in this process
(transient retries, hand-back, webhooks), beside the real-process tests of ``test_fleet.py``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from framefleet.client import Client
from framefleet.config import Settings
from framefleet.errors import Canceled, StorageError
from framefleet.flags import Flag
from framefleet.queue.jobs import Job
from framefleet.storage.base import Stored
from framefleet.storage.local import LocalStorage
from framefleet.worker.lifecycle import Watch, run_job
from tests.fleettools import SECRET, Receiver


def fleet(media: Path, tmp_path: Path, **extra: str) -> Settings:
    return Settings.from_env({"FRAMEFLEET_BROKER_URL": "memory://", "FRAMEFLEET_STORAGE_URL": f"file://{tmp_path}/out",
                              "FRAMEFLEET_LOCAL_ROOT": str(media), "FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache"),
                              **extra})


def spec(media: Path) -> dict[str, Any]:
    return {"output": {"width": 160, "height": 120},
            "tracks": [{"clips": [{"type": "video", "src": str(media / "red.mp4"), "length": 0.5}]}]}


class Outage(LocalStorage):
    """Local storage whose first ``failures`` uploads meet an outage."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def put(self, path: Path, key: str, *, content_type: str, cancel: Flag | None = None) -> Stored:
        if self.failures > 0:
            self.failures -= 1
            raise StorageError("result could not be uploaded", detail="connection refused")
        return super().put(path, key, content_type=content_type, cancel=cancel)


def test_a_storage_outage_is_ridden_out_by_retries(media: Path, tmp_path: Path) -> None:
    with Client(fleet(media, tmp_path)) as c:
        c.rt.storage = Outage(tmp_path / "out", failures=2)  # the embedded worker shares this runtime
        done = c.wait(c.submit(spec(media))["id"], timeout=60)
    assert done["status"] == "completed", done
    assert done["attempts"] == 3 and (tmp_path / "out").is_dir()


def test_hand_back_puts_the_job_back_without_counting_an_attempt(media: Path, tmp_path: Path) -> None:
    with Client(fleet(media, tmp_path)) as c:
        rt = c.rt
        job, _ = rt.store.create(Job(id="handback1", type="render", tenant="t", payload={}, queue="render"))
        running = threading.Event()
        sent: list[str] = []
        rt.enqueue = lambda queue, job_id, delay=None: sent.append(job_id)

        def body(job: Job, watch: Watch, work: Path) -> None:
            running.set()
            watch.stop.wait(10)  # the work obeys its watch, as ffmpeg does
            raise Canceled("stopped")

        runner = threading.Thread(target=run_job, args=(rt, job.id, body), kwargs={"what": "render"})
        runner.start()
        assert running.wait(10)
        rt.hand_back.set()  # the shutdown grace is over
        runner.join(10)
        back = rt.store.get(job.id)
        rt.hand_back.clear()
    assert back is not None and back.status == "queued" and back.attempts == 0 and back.worker is None
    assert sent == [job.id] and back.deaths == 0


def test_a_completed_job_tells_its_webhook_once(media: Path, tmp_path: Path, receiver: Receiver) -> None:
    settings = fleet(media, tmp_path, FRAMEFLEET_WEBHOOK_SECRET=SECRET, FRAMEFLEET_ALLOW_PRIVATE_URLS="true")
    with Client(settings) as c:
        done = c.wait(c.submit(spec(media), webhook=receiver.url, metadata={"ref": 7})["id"], timeout=60)
        events = receiver.wait_for(1, timeout=30)
    assert done["status"] == "completed"
    assert [e["type"] for e in events] == ["job.completed"] and receiver.bad_signatures == 0
    assert events[0]["data"]["job_id"] == done["id"] and events[0]["data"]["metadata"] == {"ref": 7}
