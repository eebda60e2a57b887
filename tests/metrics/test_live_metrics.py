"""A real Prometheus scrapes a real multi-process worker after real renders."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from framefleet.client import Client
from framefleet.config import Settings
from tests.deploy.test_deploy import dashboard_and_alert_metrics
from tests.fleettools import Receiver, RedisServer, Worker, free_port


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str) -> dict[str, float]:
    """``name{labels}`` → value, from the exposition text."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


@pytest.fixture()
def prometheus(tmp_path: Path) -> Iterator[Any]:
    if not shutil.which("prometheus"):
        pytest.fail("prometheus is not installed (make test installs Debian's prometheus package)")
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start(target_port: int) -> str:
        config = tmp_path / "prometheus.yml"
        config.write_text(f"global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: framefleet\n"
                          f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n")
        procs.append(subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=30)


def query(base: str, promql: str) -> list[dict[str, Any]]:
    status, body = get(f"{base}/api/v1/query?query={urllib.parse.quote(promql)}")
    assert status == 200, body
    return json.loads(body)["data"]["result"]  # type: ignore[no-any-return]


def test_metrics_health_and_prometheus(fleet_env: dict[str, str], workers: list[Worker], media: Path,
                                       receiver: Receiver, redis_server: RedisServer, prometheus: Any) -> None:
    worker = Worker(fleet_env, processes=2)
    workers.append(worker)
    base = f"http://127.0.0.1:{worker.metrics_port}"
    assert get(f"{base}/healthz")[0] == 200
    status, body = get(f"{base}/readyz")
    assert status == 200 and json.loads(body)["checks"] == {"broker": "ok", "ffmpeg": "ok", "storage": "ok",
                                                            "processes": "ok"}

    spec = {"output": {"width": 320, "height": 240},
            "tracks": [{"clips": [{"type": "video", "src": str(media / "red.mp4"), "length": 1}]}]}
    with Client(Settings.from_env(fleet_env)) as client:
        done = [client.wait(client.submit(spec, webhook=receiver.url)["id"], timeout=60) for _ in range(2)]
        failed = client.wait(client.submit({"tracks": [{"clips": [{"type": "video", "src": "corrupt.mp4"}]}]})["id"],
                             timeout=60)
        waiting = client.submit({**spec, "output": {**spec["output"], "encoder": "gpu"}})  # no GPU worker here
        assert client.get(waiting["id"])["status"] == "queued"  # type: ignore[index]
    assert [d["status"] for d in done] == ["completed", "completed"] and failed["status"] == "failed"
    receiver.wait_for(2)

    # The render_gpu job waits, held in its tenant's line (no GPU worker releases it), in the backlog list
    # KEDA watches beside Dramatiq's own.
    r = redis.Redis.from_url(fleet_env["FRAMEFLEET_BROKER_URL"])
    assert r.type("framefleet:backlog:render_gpu") == b"list" and r.llen("framefleet:backlog:render_gpu") == 1

    scrape = samples(get(f"{base}/metrics")[1])
    completed = sum(v for k, v in scrape.items() if k.startswith("framefleet_jobs_total{")
                    and 'status="completed"' in k)
    assert completed == 2  # two worker processes, one sum
    assert scrape['framefleet_job_failures_total{code="bad_media",type="render"}'] == 1
    assert scrape['framefleet_queue_depth{queue="render_gpu"}'] == 1
    assert any(k.startswith("framefleet_stage_duration_seconds_bucket{") and 'encoder="libx264"' in k
               for k in scrape)
    assert any(k.startswith("dramatiq_messages_total{") for k in scrape)
    names = {k.split("{", 1)[0] for k in scrape}
    missing = dashboard_and_alert_metrics() - names - {"up"}
    assert not missing, f"named by the dashboard or alerts but not exported: {missing}"

    server = prometheus(worker.metrics_port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            result = query(server, 'sum(framefleet_jobs_total{status="completed"})')
        except (OSError, AssertionError):
            result = []
        if result and float(result[0]["value"][1]) == 2:
            break
        time.sleep(0.5)
    else:
        pytest.fail("Prometheus never saw the completed jobs")
    assert float(query(server, 'up{job="framefleet"}')[0]["value"][1]) == 1
    for name in dashboard_and_alert_metrics():
        assert query(server, f'count({{__name__="{name}"}})'), name

    redis_server.stop()
    try:
        time.sleep(5.5)  # past the readiness cache
        status, body = get(f"{base}/readyz")
        assert status == 503 and json.loads(body)["checks"]["broker"].startswith("failing")
        assert get(f"{base}/healthz")[0] == 200
    finally:
        redis_server.start()
