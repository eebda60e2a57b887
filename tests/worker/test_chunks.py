"""One render across many workers (SPEC §7): split, rendered at once, joined without a seam.

The first tests run the fleet in this process (``memory://`` broker, embedded worker threads); the
last ones use real parts: redis-server, moto's S3 over HTTP and ``framefleet worker`` subprocesses,
one of which is SIGKILLed mid-chunk.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from framefleet.client import Client
from framefleet.compositor.render import render
from framefleet.compositor.spec import load_spec
from framefleet.config import Settings
from tests.fleettools import Worker, wait_until
from tests.mediatools import facts, gray_frames, keyframes, pcm
from tests.proctree import ffmpeg_under
from tests.worker.test_fleet import client, output_keys

W, H = 320, 240


def chunk_spec(extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """4.5 s: three sources, a title and captions across the chunk joins, a soundtrack."""
    return {
        "output": {"width": W, "height": H, "fps": 30, "thumbnail": {"at": 3.2}},
        "tracks": [
            {"clips": [{"type": "video", "src": "pattern.mp4", "length": 1.6},
                       {"type": "video", "src": "red.mp4", "length": 1.4},
                       {"type": "video", "src": "pattern.mp4", "trim": 2, "length": 1.5, "effect": "zoom_in"},
                       *(extra or [])]},
            {"clips": [{"type": "text", "text": "across the joins", "start": 0.5, "length": 3.5,
                        "transition": {"in": "fade", "out": "fade", "duration": 0.5}}]},
            {"clips": [{"type": "captions", "words": [
                {"text": "split", "start": 0.1, "end": 1.2}, {"text": "rendered", "start": 1.2, "end": 2.7},
                {"text": "joined", "start": 2.7, "end": 4.3}]}]},
        ],
        "soundtrack": {"src": "music.wav", "volume": 0.5},
    }


@pytest.fixture()
def local_fleet(media: Path, tmp_path: Path) -> Settings:
    """An in-process fleet: memory:// broker and job state, results in a folder, segments of 1 s."""
    return Settings.from_env({
        "FRAMEFLEET_BROKER_URL": "memory://", "FRAMEFLEET_STORAGE_URL": f"file://{tmp_path}/results",
        "FRAMEFLEET_LOCAL_ROOT": str(media), "FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache"),
        "FRAMEFLEET_SEGMENT_SECONDS": "1",
    })


def test_a_chunked_job_is_one_job_with_one_result_and_no_chunk_left(local_fleet: Settings, media: Path,
                                                                      tmp_path: Path) -> None:
    with Client(local_fleet) as c:
        job = c.submit(chunk_spec(), tenant="acme", chunks=3)
        done = c.wait(job["id"], timeout=180)
        usage = c.usage(tenant="acme")
    assert done["status"] == "completed", done["error"]
    assert done["chunks"] == {"total": 3, "done": 3} and done["progress"] == 1.0 and done["attempts"] == 1
    folder = tmp_path / "results" / "acme" / job["id"]
    assert sorted(p.name for p in folder.iterdir()) == ["captions.vtt", "output.mp4", "thumbnail.jpg"]
    info = facts(folder / "output.mp4")
    assert int(info["video"]["nb_read_frames"]) == 135  # 4.5 s at 30 fps, exactly
    assert abs(float(info["audio"]["duration"]) - 4.5) <= 1 / 30
    assert {48, 90} <= set(keyframes(folder / "output.mp4"))  # chunk joins, on clip boundaries
    assert usage["jobs"] == 1 and usage["by_status"]["completed"] == 1 and usage["output_seconds"] == 4.5

    # The same spec rendered in one piece on one machine: the same pictures and the same sound.
    whole = render(load_spec(chunk_spec()), tmp_path / "whole.mp4", settings=local_fleet, base_dir=media)
    a, b = gray_frames(whole.path, W, H), gray_frames(folder / "output.mp4", W, H)
    assert a.shape == b.shape and float(np.abs(a - b).mean(axis=(1, 2)).max()) < 4
    assert float(np.abs(pcm(whole.path) - pcm(folder / "output.mp4")).max()) < 1e-4


def test_a_failing_chunk_fails_the_job_with_its_own_error(local_fleet: Settings, media: Path,
                                                          tmp_path: Path) -> None:
    # A picture whose header reads fine (so planning passes) but whose pixels cannot be decoded,
    # shown only in the last chunk: that chunk fails, the others succeed, the job fails with its error.
    root = tmp_path / "root"
    shutil.copytree(media, root)
    Image.new("RGB", (64, 64), (0, 0, 255)).save(root / "broken.png")
    data = bytearray((root / "broken.png").read_bytes())
    start = data.index(b"IDAT") + 8
    data[start:-12] = bytes(b ^ 0x5A for b in data[start:-12])
    (root / "broken.png").write_bytes(bytes(data))
    settings = Settings.from_env({"FRAMEFLEET_BROKER_URL": "memory://",
                                  "FRAMEFLEET_STORAGE_URL": f"file://{tmp_path}/results",
                                  "FRAMEFLEET_LOCAL_ROOT": str(root), "FRAMEFLEET_CACHE_DIR": str(tmp_path / "c"),
                                  "FRAMEFLEET_SEGMENT_SECONDS": "1"})
    with Client(settings) as c:
        job = c.submit(chunk_spec([{"type": "image", "src": "broken.png", "length": 1}]), chunks=3)
        done = c.wait(job["id"], timeout=180)
    assert done["status"] == "failed", done
    assert done["error"] == {"code": "bad_media", "message": "broken.png cannot be decoded"}
    folder = tmp_path / "results" / "default" / job["id"]
    assert not (folder / "chunks").exists() and not (folder / "output.mp4").exists()


def test_chunks_come_automatically_above_the_chunk_length(media: Path, tmp_path: Path) -> None:
    settings = Settings.from_env({"FRAMEFLEET_BROKER_URL": "memory://", "FRAMEFLEET_LOCAL_ROOT": str(media),
                                  "FRAMEFLEET_STORAGE_URL": f"file://{tmp_path}/results",
                                  "FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache"),
                                  "FRAMEFLEET_SEGMENT_SECONDS": "1", "FRAMEFLEET_CHUNK_SECONDS": "2"})
    with Client(settings) as c:
        done = c.wait(c.submit(chunk_spec())["id"], timeout=180)
    assert done["status"] == "completed" and done["chunks"] == {"total": 2, "done": 2}  # 4.5 s / 2 s


def test_progress_covers_every_chunk_and_leaves_the_last_share_to_the_join() -> None:
    from framefleet.queue.jobs import Job
    from framefleet.queue.stores.memory import MemoryJobStore
    from framefleet.worker.chunks import _report
    from framefleet.worker.runtime import Runtime

    store = MemoryJobStore()
    store.create(Job(id="j", type="render", tenant="t", payload={}, status="processing",
                     chunks={"total": 4, "spans": [], "done": [], "progress": [0.0] * 4}))
    rt = Runtime(Settings(), store, storage=None)  # type: ignore[arg-type]
    _report(rt, "j", 0)(1.0)
    _report(rt, "j", 2)(1.0)
    _report(rt, "j", 3)(1.0)
    job = store.get("j")
    assert job is not None and job.progress == round(3 / 4 * 0.95, 4) and job.stage == "render"
    _report(rt, "j", 1)(1.0)
    assert store.get("j").progress == 0.95  # type: ignore[union-attr]


def test_one_chunk_is_one_piece(local_fleet: Settings) -> None:
    with Client(local_fleet) as c:
        job = c.submit(chunk_spec(), chunks=1)
        done = c.wait(job["id"], timeout=120)
    assert done["status"] == "completed" and "chunks" not in done


# --- a real fleet --------------------------------------------------------------------------------------------


def slow_spec() -> dict[str, Any]:
    """Two chunks slow enough on 2 cores to be caught mid-render."""
    return {"output": {"width": 1280, "height": 720, "quality": "high", "loudness": None},
            "tracks": [{"clips": [{"type": "video", "src": "pattern.mp4", "loop": True, "length": 16,
                                   "effect": "zoom_in"}]}]}


def test_cancel_stops_every_chunk_s_ffmpeg(fleet_env: dict[str, str], workers: list[Worker], bucket: str) -> None:
    env = {**fleet_env, "FRAMEFLEET_SEGMENT_SECONDS": "8"}
    workers.extend([Worker(env, "render"), Worker(env, "render")])
    with client(env) as c:
        job = c.submit(slow_spec(), chunks=2)
        wait_until(lambda: all(ffmpeg_under(w.pid) for w in workers), 90, "both chunks rendering")
        canceled_at = time.monotonic()
        c.cancel(job["id"])
        wait_until(lambda: not any(ffmpeg_under(w.pid) for w in workers), 10, "every chunk's ffmpeg to stop")
        stopped = time.monotonic() - canceled_at
        done = c.wait(job["id"], timeout=20)
    assert stopped < 3.0
    assert done["status"] == "canceled" and done["error"]["code"] == "canceled"
    wait_until(lambda: not [k for k in output_keys(env, bucket) if job["id"] in k], 10, "no chunk left")


def test_sigkill_mid_chunk_costs_only_that_chunk(fleet_env: dict[str, str], workers: list[Worker],
                                                  bucket: str) -> None:
    env = {**fleet_env, "FRAMEFLEET_SEGMENT_SECONDS": "8"}
    first, second = Worker(env, "render"), Worker(env, "render")
    workers.extend([first, second])
    with client(env) as c:
        job = c.submit(slow_spec(), tenant="acme", chunks=2)
        wait_until(lambda: ffmpeg_under(first.pid) and ffmpeg_under(second.pid), 90, "both chunks rendering")
        os.kill(first.pid, signal.SIGKILL)
        first.proc.wait()
        done = c.wait(job["id"], timeout=240)
    assert done["status"] == "completed", done["error"]
    assert done["chunks"] == {"total": 2, "done": 2} and done["attempts"] == 1
    # one result; the chunk files go as the job is settled (just after its terminal state is written)
    wait_until(lambda: [k for k in output_keys(env, bucket) if job["id"] in k]
               == [f"results/acme/{job['id']}/output.mp4"], 10, "one result and no chunk left")
    assert done["result"]["duration"] == 16.0
    # the survivor rendered its own chunk, then the one its peer died in
    log = "".join(second.log)
    assert "render chunk 1/2 started" in log and "render chunk 2/2 started" in log
