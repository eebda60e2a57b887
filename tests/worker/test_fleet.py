"""Whole-fleet behaviour with real parts: redis-server, moto's S3 over HTTP, worker subprocesses."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from framefleet.client import Client
from framefleet.config import Settings
from tests.fleettools import Receiver, Worker, wait_until
from tests.mediatools import facts
from tests.proctree import alive


def client(env: dict[str, str]) -> Client:
    return Client(Settings.from_env(env))


def small_spec(media: Path, seconds: float = 1.0, **output: Any) -> dict[str, Any]:
    return {"output": {"width": 320, "height": 240, "thumbnail": {"at": 0.2}, **output},
            "tracks": [{"clips": [{"type": "video", "src": str(media / "red.mp4"), "length": seconds}]},
                       {"clips": [{"type": "text", "text": "hi", "length": seconds}]}]}


def long_spec(media: Path, seconds: float = 40.0) -> dict[str, Any]:
    """Slow enough on 2 cores to be caught mid-render."""
    return {"output": {"width": 1280, "height": 720, "quality": "high"},
            "tracks": [{"clips": [{"type": "video", "src": str(media / "pattern.mp4"), "loop": True,
                                   "length": seconds, "effect": "zoom_in"}]}]}


def rendering(c: Client, spec: dict[str, Any], worker: Worker, **submit: Any) -> tuple[dict[str, Any], list[int]]:
    """Submit ``spec``; once ``worker``'s ffmpeg renders it, return the job and that ffmpeg's pids."""
    job = c.submit(spec, **submit)
    wait_until(lambda: worker.ffmpeg() and (c.get(job["id"]) or {}).get("stage") == "render", 60, "render start")
    return job, worker.ffmpeg()


def exits(worker: Worker, timeout: float) -> int:
    """The worker's exit code once it stops; its log (with the thread stacks it dumps when it is slow to
    stop) in the failure when it does not stop in time."""
    try:
        return worker.proc.wait(timeout=timeout)
    except Exception:
        raise AssertionError("the worker did not stop in time:\n" + "".join(worker.log[-200:])) from None


def gone(pids: list[int]) -> bool:
    return not any(alive(pid) for pid in pids)


def output_keys(env: dict[str, str], bucket: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=env["FRAMEFLEET_S3_ENDPOINT_URL"])
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_render_job_end_to_end(fleet_env: dict[str, str], workers: list[Worker], media: Path, bucket: str,
                               receiver: Receiver, tmp_path: Path) -> None:
    workers.append(Worker(fleet_env))
    with client(fleet_env) as c:
        job = c.submit(small_spec(media), tenant="acme", webhook=receiver.url, metadata={"my_ref": "post-123"})
        assert job["status"] == "queued" and job["metadata"] == {"my_ref": "post-123"}
        done = c.wait(job["id"], timeout=60)
    assert done["status"] == "completed", done
    assert done["attempts"] == 1 and done["progress"] == 1.0 and done["started_at"] and done["finished_at"]
    result = done["result"]
    assert result["content_type"] == "video/mp4" and result["duration"] == 1.0 and result["width"] == 320
    out = tmp_path / "result.mp4"
    with urllib.request.urlopen(result["url"]) as response:  # presigned URL, over HTTP
        out.write_bytes(response.read())
    assert facts(out)["video"]["codec_name"] == "h264" and out.stat().st_size == result["size_bytes"]
    with urllib.request.urlopen(result["thumbnail_url"]) as response:
        assert response.read()[:2] == b"\xff\xd8"
    assert f"results/acme/{job['id']}/output.mp4" in output_keys(fleet_env, bucket)
    events = receiver.wait_for(1)
    assert receiver.bad_signatures == 0 and len(events) == 1
    event = events[0]
    assert event["type"] == "job.completed" and event["id"].startswith("evt_")
    assert event["data"]["job_id"] == job["id"] and event["data"]["result_url"] == result["url"]
    assert event["data"]["metadata"] == {"my_ref": "post-123"} and event["data"]["error"] is None


def test_bad_media_and_private_urls_fail_with_codes(fleet_env: dict[str, str], workers: list[Worker],
                                                    media: Path) -> None:
    env = {**fleet_env, "FRAMEFLEET_ALLOW_PRIVATE_URLS": "false"}
    workers.append(Worker(env))
    with client(env) as c:
        cases = {
            "corrupt": {"type": "video", "src": "corrupt.mp4"},  # relative to FRAMEFLEET_LOCAL_ROOT
            "loopback": {"type": "video", "src": "http://127.0.0.1:9/a.mp4"},
            "metadata": {"type": "image", "src": "http://169.254.169.254/latest/meta-data/x.png", "length": 1},
            "outside_root": {"type": "image", "src": "/etc/hostname", "length": 1},
        }
        jobs = {name: c.submit({"tracks": [{"clips": [clip]}]}) for name, clip in cases.items()}
        done = {name: c.wait(j["id"], timeout=60) for name, j in jobs.items()}
    assert done["corrupt"]["error"]["code"] == "bad_media"
    assert done["corrupt"]["error"]["message"] == "tracks[0].clips[0].src: corrupt.mp4 cannot be decoded"
    for name in ("loopback", "metadata"):
        assert done[name]["error"]["code"] == "bad_input"
        assert "private or reserved address" in done[name]["error"]["message"]
    assert "outside the configured media root" in done["outside_root"]["error"]["message"]
    for job in done.values():
        assert job["status"] == "failed" and job["attempts"] == 1  # permanent: no retries
        assert str(media) not in job["error"]["message"]  # no server paths shown to customers


def test_idempotency_and_tenant_isolation(fleet_env: dict[str, str], workers: list[Worker], media: Path) -> None:
    workers.append(Worker(fleet_env))
    with client(fleet_env) as c:
        first = c.submit(small_spec(media), tenant="acme", idempotency_key="order-1")
        again = c.submit(small_spec(media), tenant="acme", idempotency_key="order-1")
        assert again["id"] == first["id"]
        done = c.wait(first["id"], timeout=60)
        assert done["status"] == "completed"
        assert c.get(first["id"], tenant="globex") is None
        assert c.get(first["id"], tenant="acme") is not None
        reuse = {"tracks": [{"clips": [{"type": "video", "src": f"job:{first['id']}", "length": 0.5}]}],
                 "output": {"width": 160, "height": 120}}
        mine = c.wait(c.submit(reuse, tenant="acme")["id"], timeout=60)
        theirs = c.wait(c.submit(reuse, tenant="globex")["id"], timeout=60)
    assert mine["status"] == "completed", mine
    assert theirs["status"] == "failed" and f"job:{first['id']} not found" in theirs["error"]["message"]


def test_cancel_stops_ffmpeg_within_two_seconds(fleet_env: dict[str, str], workers: list[Worker], media: Path,
                                                receiver: Receiver) -> None:
    worker = Worker(fleet_env)
    workers.append(worker)
    with client(fleet_env) as c:
        job, running = rendering(c, long_spec(media), worker, webhook=receiver.url)
        canceled_at = time.monotonic()
        c.cancel(job["id"])
        wait_until(lambda: gone(running), 5, "ffmpeg to stop")
        assert time.monotonic() - canceled_at < 2.0
        done = c.wait(job["id"], timeout=10)
    assert done["status"] == "canceled" and done["error"]["code"] == "canceled"
    assert receiver.wait_for(1)[0]["type"] == "job.canceled"


def test_sigkill_mid_render_another_worker_finishes_once(fleet_env: dict[str, str], workers: list[Worker],
                                                         media: Path, bucket: str) -> None:
    first = Worker(fleet_env, "render")
    workers.append(first)
    with client(fleet_env) as c:
        job = c.submit(long_spec(media, 12), tenant="acme")
        wait_until(lambda: first.ffmpeg() and (c.get(job["id"]) or {}).get("progress", 0) > 0.05, 60, "progress")
        running = first.ffmpeg()
        os.kill(first.pid, signal.SIGKILL)
        first.proc.wait()
        wait_until(lambda: gone(running), 5, "the orphaned ffmpeg to die with its worker")
        killed_at = time.monotonic()
        workers.append(Worker(fleet_env, "render"))
        done = c.wait(job["id"], timeout=120)
    assert done["status"] == "completed", done
    assert done["attempts"] == 2
    assert time.monotonic() - killed_at < 90
    keys = [k for k in output_keys(fleet_env, bucket) if job["id"] in k]
    assert keys == [f"results/acme/{job['id']}/output.mp4"]


def test_sigterm_hands_the_job_back_after_the_grace_period(fleet_env: dict[str, str], workers: list[Worker],
                                                           media: Path) -> None:
    first = Worker(fleet_env, "render", FRAMEFLEET_SHUTDOWN_GRACE="1")
    workers.append(first)
    with client(fleet_env) as c:
        job, running = rendering(c, long_spec(media, 10), first)
        first.proc.send_signal(signal.SIGTERM)
        assert exits(first, 30) == 0
        assert gone(running)
        assert c.get(job["id"])["status"] == "queued"  # type: ignore[index]
        workers.append(Worker(fleet_env, "render"))
        done = c.wait(job["id"], timeout=120)
    assert done["status"] == "completed" and done["attempts"] == 1


def test_sigterm_lets_a_short_job_finish(fleet_env: dict[str, str], workers: list[Worker], media: Path) -> None:
    worker = Worker(fleet_env, "render")
    workers.append(worker)
    with client(fleet_env) as c:
        job, _ = rendering(c, long_spec(media, 4), worker)
        worker.proc.send_signal(signal.SIGTERM)
        assert exits(worker, 60) == 0
        assert c.get(job["id"])["status"] == "completed"  # type: ignore[index]


def test_webhook_retries_keep_the_event_id(fleet_env: dict[str, str], workers: list[Worker], media: Path,
                                           receiver: Receiver) -> None:
    receiver.fail_first = 2
    workers.append(Worker(fleet_env))
    with client(fleet_env) as c:
        job = c.submit(small_spec(media), webhook=receiver.url)
        c.wait(job["id"], timeout=60)
    events = receiver.wait_for(1, timeout=30)
    assert receiver.attempts == 3 and len(events) == 1 and receiver.bad_signatures == 0
    assert events[0]["id"] == f"evt_{job['id']}_completed"


def test_generation_jobs(fleet_env: dict[str, str], workers: list[Worker], media: Path) -> None:
    workers.append(Worker(fleet_env))
    with client(fleet_env) as c:
        stored = c.wait(c.submit({"src": str(media / "alpha.png")}, type="media")["id"], timeout=60)
        missing = c.wait(c.submit({"prompt": "a lake"}, type="image_from_text")["id"], timeout=60)
    assert stored["status"] == "completed" and stored["result"]["content_type"] == "image/png"
    assert missing["status"] == "failed"
    assert missing["error"]["code"] == "provider_error"
    assert missing["error"]["message"].startswith("no provider configured for image_from_text")


def test_worker_survives_a_redis_restart(fleet_env: dict[str, str], workers: list[Worker], media: Path,
                                         redis_server: Any) -> None:
    workers.append(Worker(fleet_env))
    redis_server.stop()
    time.sleep(2)  # how long Redis stays down: the outage itself, not a wait for something to happen
    redis_server.start()
    with client(fleet_env) as c:
        done = c.wait(c.submit(small_spec(media))["id"], timeout=90)
    assert done["status"] == "completed"


def test_cli_submit_wait_status_usage(fleet_env: dict[str, str], workers: list[Worker], media: Path,
                                      tmp_path: Path) -> None:
    import subprocess
    import sys

    workers.append(Worker(fleet_env))
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(small_spec(media)))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "framefleet", *args], env=fleet_env, capture_output=True,
                              text=True, timeout=120, check=False)

    done = cli("submit", str(spec), "--tenant", "acme", "--metadata", '{"k": 1}', "--wait")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "completed" and job["metadata"] == {"k": 1}
    status = cli("status", job["id"], "--tenant", "acme")
    assert json.loads(status.stdout)["id"] == job["id"]
    assert cli("status", job["id"], "--tenant", "globex").returncode == 2
    usage = json.loads(cli("usage", "--tenant", "acme").stdout)
    assert usage["by_status"]["completed"] == 1 and usage["output_seconds"] == 1.0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"tracks": [{"clips": [{"type": "nope"}]}]}))
    refused = cli("submit", str(bad))
    assert refused.returncode == 2 and "unknown clip type" in refused.stderr
    failing = tmp_path / "failing.json"
    failing.write_text(json.dumps({"tracks": [{"clips": [{"type": "video", "src": str(media / "corrupt.mp4")}]}]}))
    assert cli("submit", str(failing), "--wait").returncode == 1


@pytest.mark.parametrize("attempts", [3])
def test_a_job_that_keeps_killing_workers_is_abandoned(attempts: int) -> None:
    from framefleet.queue.jobs import Job, new_id
    from framefleet.queue.stores.memory import MemoryJobStore
    from framefleet.storage.local import LocalStorage
    from framefleet.worker.lifecycle import claim
    from framefleet.worker.runtime import Runtime

    store = MemoryJobStore()
    # its workers died twice already, and the one holding it now stopped renewing its lease: the third death
    job, _ = store.create(Job(id=new_id(), type="render", tenant="t", payload={}, status="processing",
                              attempts=attempts, deaths=attempts - 1, worker="host:1", lease_until=0.0))
    rt = Runtime(Settings(), store, LocalStorage(Path("/tmp")))
    assert claim(rt, job.id) is None
    final = store.get(job.id)
    assert final is not None and final.status == "failed"
    assert final.error == {"code": "internal",
                           "message": "the job stopped the worker running it 3 times and was abandoned"}


def test_render_time_limit_stops_ffmpeg(fleet_env: dict[str, str], workers: list[Worker], media: Path) -> None:
    worker = Worker(fleet_env, "render", FRAMEFLEET_RENDER_TIME_LIMIT="2")
    workers.append(worker)
    with client(fleet_env) as c:
        done = c.wait(c.submit(long_spec(media))["id"], timeout=60)
    assert done["status"] == "failed" and done["error"]["code"] == "timeout"
    assert not worker.ffmpeg()


def test_doctor_checks_the_fleet(fleet_env: dict[str, str], workers: list[Worker]) -> None:
    import subprocess
    import sys

    worker = Worker(fleet_env)
    workers.append(worker)
    env = {**fleet_env, "FRAMEFLEET_METRICS_PORT": str(worker.metrics_port)}
    done = subprocess.run([sys.executable, "-m", "framefleet", "doctor", "--json"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    checks = {c["name"]: c for c in json.loads(done.stdout)}
    assert done.returncode == 0, done.stdout
    assert checks["broker"]["ok"] and checks["storage"]["ok"] and checks["metrics"]["ok"]
    broken = subprocess.run([sys.executable, "-m", "framefleet", "doctor", "--json"],
                            env={**env, "FRAMEFLEET_BROKER_URL": "redis://127.0.0.1:1/0"}, capture_output=True,
                            text=True, timeout=60, check=False)
    assert broken.returncode == 2 and not {c["name"]: c for c in json.loads(broken.stdout)}["broker"]["ok"]


def test_expired_jobs_tell_their_webhook() -> None:
    from framefleet.queue.jobs import Job, new_id
    from framefleet.queue.stores.memory import MemoryJobStore
    from framefleet.storage.local import LocalStorage
    from framefleet.worker.endings import expire
    from framefleet.worker.runtime import Runtime

    sent: list[tuple[str, str]] = []
    rt = Runtime(Settings(webhook_secret="s", job_ttl=60), MemoryJobStore(), LocalStorage(Path("/tmp")))
    rt.notify = lambda url, body: sent.append((url, body))
    old, _ = rt.store.create(Job(id=new_id(), type="render", tenant="t", payload={}, created_at=time.time() - 120,
                                 webhook_url="https://example.com/h"))
    rt.store.create(Job(id=new_id(), type="render", tenant="t", payload={}))
    assert expire(rt) == [old.id]
    assert len(sent) == 1 and json.loads(sent[0][1])["type"] == "job.failed"
    assert json.loads(sent[0][1])["data"]["error"]["code"] == "expired"


def test_worker_logs_are_json_lines_tagged_with_the_job(fleet_env: dict[str, str], workers: list[Worker],
                                                        media: Path) -> None:
    worker = Worker(fleet_env, FRAMEFLEET_LOG_FORMAT="json")
    workers.append(worker)
    with client(fleet_env) as c:
        job = c.wait(c.submit(small_spec(media), tenant="acme")["id"], timeout=60)
    wait_until(lambda: any("render job completed" in line for line in worker.log), 10, "the completion log line")
    entries = [json.loads(line) for line in worker.log if line.startswith("{")]
    tagged = [e for e in entries if e.get("job_id") == job["id"]]
    assert tagged and all(e["tenant"] == "acme" for e in tagged)
    messages = [e["message"] for e in tagged]
    assert any(m.startswith("render job started (attempt 1") for m in messages)
    assert "render job completed" in messages
    assert any(e.get("stage") == "upload" for e in tagged)
    assert all({"ts", "level", "logger", "message"} <= set(e) for e in entries)


def test_redis_restart_during_a_render(fleet_env: dict[str, str], workers: list[Worker], media: Path,
                                       redis_server: Any) -> None:
    worker = Worker(fleet_env, "render")
    workers.append(worker)
    with client(fleet_env) as c:
        job, _ = rendering(c, long_spec(media, 8), worker)
    redis_server.stop()
    time.sleep(2)  # how long Redis stays down: the outage itself, not a wait for something to happen
    redis_server.start()
    with client(fleet_env) as c:
        done = c.wait(job["id"], timeout=150)
    assert done["status"] == "completed", done
