"""Specs that generate their own media (SPEC §8), through a real Redis worker: script → speech → aligned
captions → render, the words on screen when they are spoken, the content cache, usage and failures."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import boto3
import numpy as np

from framefleet.client import Client
from framefleet.config import Settings
from tests.fleettools import Worker
from tests.providers.jobtools import fleet, run

SIZE, FPS, START = 240, 25, 0.6
SCRIPT = "Meet Santiago. He sells tacos every single day."


def _spec(**merge: str) -> dict[str, Any]:
    return {
        "output": {"width": SIZE, "height": SIZE, "fps": FPS, "loudness": None, "quality": "draft"},
        "merge": {"line": SCRIPT, **merge},
        "tracks": [
            {"clips": [{"type": "color", "color": "#000000", "length": 5}]},
            {"clips": [{"type": "audio", "id": "vo", "start": START,
                        "src": {"generate": "speech_from_text", "text": "{{line}}", "voice": "en-us"}}]},
            {"clips": [{"type": "captions", "of": "vo", "style": "word", "color": "#ffffff", "stroke_width": 0,
                        "size": 90, "position": "center"}]},
        ],
    }


def _frames(video: Path) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, SIZE, SIZE)


def test_script_to_voice_to_captions_on_screen_when_spoken_and_cached(fleet_env: dict[str, str],
                                                                      workers: list[Worker], bucket: str,
                                                                      tmp_path: Path) -> None:
    workers.append(Worker(fleet_env, "render", "generate", threads=1))  # one thread: the render must not hold it
    with Client(Settings.from_env(fleet_env)) as c:
        first = c.wait(c.submit(_spec(), tenant="acme")["id"], timeout=120)
        assert first["status"] == "completed", first
        (made,) = first["result"]["generations"]
        speech = c.get(made["job_id"], tenant="acme")
        second = c.wait(c.submit(_spec(), tenant="acme")["id"], timeout=120)
        usage = c.usage(tenant="acme")
    assert speech is not None and speech["type"] == "speech_from_text" and speech["status"] == "completed"
    assert made["at"] == "tracks[1].clips[0].src"
    # the cache: the second render used the same job, and nothing more was generated or charged
    assert second["status"] == "completed" and second["result"]["generations"][0]["job_id"] == made["job_id"]
    assert second["result"]["generations"][0]["cached"] is True
    assert usage["by_type"] == {"render": 2, "speech_from_text": 1}
    assert usage["generation"] == {"speech_from_text": {"local": {"jobs": 1, "characters": len(SCRIPT)}}}
    assert "Traceback" not in "".join(workers[0].log)

    video = tmp_path / "out.mp4"
    s3 = boto3.client("s3", endpoint_url=fleet_env["FRAMEFLEET_S3_ENDPOINT_URL"])
    s3.download_file(bucket, f"results/{first['result']['key']}", str(video))
    frames = _frames(video)
    bright = (frames > 128).reshape(len(frames), -1)
    changed = [i for i in range(1, len(frames)) if np.count_nonzero(bright[i] != bright[i - 1]) > 20]
    words = speech["result"]["words"]
    assert [w["text"] for w in words] == SCRIPT.split()
    for word in words:  # each word appears (the picture changes) within two frames of its aligned start
        due = round((START + word["start"]) * FPS)
        assert min(abs(i - due) for i in changed) <= 2, (word, due, changed)
        shown = round((START + (word["start"] + word["end"]) / 2) * FPS)
        assert bright[shown].any(), word  # and is on screen while it is spoken
    assert not bright[round(START * FPS) - 3].any()  # nothing before the voice starts


def test_a_failing_generation_fails_the_render_with_its_code_at_its_path(tmp_path: Path) -> None:
    spec = _spec()
    spec["tracks"][1]["clips"][0]["src"]["voice"] = "not a voice!"
    with fleet(tmp_path) as c:
        job = run(c, spec, "render")
        jobs = c.usage(tenant="acme")["by_type"]
    assert job["status"] == "failed"
    assert job["error"]["code"] == "bad_input"
    assert job["error"]["message"].startswith("tracks[1].clips[0].src: voice: must be an espeak-ng voice name")
    assert jobs == {"render": 1, "speech_from_text": 1}  # the generation ran as a job of the tenant


def test_a_type_no_provider_serves_fails_before_any_job(tmp_path: Path) -> None:
    spec = _spec()
    spec["tracks"][0]["clips"][0] = {"type": "image", "length": 5, "src": {"generate": "image_from_text",
                                                                           "prompt": "a taco stand at dusk"}}
    with fleet(tmp_path) as c:
        job = run(c, spec, "render")
        jobs = c.usage(tenant="acme")["by_type"]
    assert (job["status"], job["error"]["code"]) == ("failed", "provider_error")
    assert job["error"]["message"].startswith("tracks[0].clips[0].src: no provider configured for image_from_text")
    assert jobs == {"render": 1}
