"""Generation through a real fleet: Redis broker and state, a ``framefleet worker`` process, S3 results."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import boto3

from framefleet.client import Client
from framefleet.config import Settings
from tests.fleettools import Worker


def test_speech_then_captions_end_to_end_with_usage(fleet_env: dict[str, str], workers: list[Worker],
                                                    bucket: str, receiver: object) -> None:
    workers.append(Worker(fleet_env, "generate", "webhooks", threads=2))
    script = "Meet Santiago. He sells tacos."
    with Client(Settings.from_env(fleet_env)) as c:
        speech = c.submit({"text": script, "voice": "en-us"}, type="speech_from_text", tenant="acme",
                          webhook=receiver.url, metadata={"ref": "vo-1"})  # type: ignore[attr-defined]
        speech = c.wait(speech["id"], timeout=60)
        captions = c.submit({"src": f"job:{speech['id']}", "text": script}, type="captions", tenant="acme")
        captions = c.wait(captions["id"], timeout=60)
        usage = c.usage(tenant="acme")
    assert speech["status"] == "completed", speech
    assert speech["result"]["content_type"] == "audio/mpeg" and speech["result"]["duration"] > 1.0
    assert captions["status"] == "completed", captions
    assert (speech["stage"], captions["progress"]) == ("upload", 1.0)
    s3 = boto3.client("s3", endpoint_url=fleet_env["FRAMEFLEET_S3_ENDPOINT_URL"])
    key = f"results/{captions['result']['key']}"
    document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert [w["text"] for w in document["words"]] == script.split()
    assert s3.get_object(Bucket=bucket, Key=key.replace(".json", ".vtt"))["Body"].read().startswith(b"WEBVTT")
    # the speech's own word times (aligned as it was made) and the captions job agree within a frame or two
    for mine, theirs in zip(speech["result"]["words"], document["words"], strict=True):
        assert abs(mine["start"] - theirs["start"]) < 0.05
    assert usage["generation"] == {
        "speech_from_text": {"local": {"jobs": 1, "characters": len(script)}},
        "captions": {"local": {"jobs": 1, "audio_seconds": captions["usage"]["audio_seconds"]}}}
    assert usage["by_type"] == {"speech_from_text": 1, "captions": 1}
    events = receiver.wait_for(1)  # type: ignore[attr-defined]
    assert events[0]["data"]["type"] == "speech_from_text" and events[0]["data"]["metadata"] == {"ref": "vo-1"}


def test_fleet_wide_concurrency_parks_jobs_instead_of_holding_threads(fleet_env: dict[str, str],
                                                                      workers: list[Worker], tmp_path: Path) -> None:
    providers = tmp_path / "providers.toml"
    providers.write_text('[speech_from_text]\nprovider = "local"\nconcurrency = 1\n')
    env = {**fleet_env, "FRAMEFLEET_PROVIDERS": str(providers)}
    workers.append(Worker(env, "generate", threads=3))
    with Client(Settings.from_env(env)) as c:
        jobs = [c.submit({"text": f"Taco number {n}."}, type="speech_from_text", tenant="acme") for n in range(3)]
        done = [c.wait(j["id"], timeout=90) for j in jobs]
    assert [j["status"] for j in done] == ["completed"] * 3
    assert all(j["attempts"] == 1 for j in done)
    assert "Traceback" not in "".join(workers[0].log)
    with urllib.request.urlopen(f"http://127.0.0.1:{workers[0].metrics_port}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    waits = [line for line in metrics.splitlines() if line.startswith("framefleet_provider_rate_limit_waits_total{")
             and 'source="fleet"' in line]
    assert waits and float(waits[0].rsplit(" ", 1)[1]) >= 1  # three at once, one slot: the others were parked
    assert 'framefleet_provider_requests_total{outcome="ok",provider="local",type="speech_from_text"} 3.0' in metrics
