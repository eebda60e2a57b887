"""Generation jobs against a local server that speaks Replicate's predictions API."""

from __future__ import annotations

import json
from pathlib import Path

from tests.providers.fakes import Reply, picture, serve
from tests.providers.jobtools import fleet, run

TOKEN = "r8_secret"


def providers(url: str, job_type: str, model: str) -> str:
    return (f'[{job_type}]\nprovider = "replicate"\nbase_url = "{url}/v1"\nmodel = "{model}"\n'
            f'api_key_env = "REPLICATE_TOKEN"\nallow_private = true\npoll_interval = 0.1\n'
            f'input = {{num_outputs = 1}}\ninput_names = {{aspect_ratio = "ratio"}}\n')


def test_image_prediction_created_polled_and_fetched(tmp_path: Path) -> None:
    png = picture(tmp_path / "out.png", "40x30")
    with serve() as api:
        out = f"{api.url}/files/out.png"
        api.on("POST", "/v1/models/black-forest-labs/flux-schnell/predictions",
               Reply(201, {"id": "p1", "status": "starting"}))
        api.on("GET", "/v1/predictions/p1", Reply(200, {"id": "p1", "status": "processing"}),
               Reply(200, {"id": "p1", "status": "succeeded", "output": [out]}))
        api.on("GET", "/files/out.png", Reply(200, png, {"Content-Type": "image/png"}))
        with fleet(tmp_path, providers(api.url, "image_from_text", "black-forest-labs/flux-schnell"),
                   REPLICATE_TOKEN=TOKEN) as c:
            job = run(c, {"prompt": "a taco", "aspect_ratio": "9:16"}, "image_from_text")
        assert job["status"] == "completed", job
        created = api.calls("POST", "/v1/models/black-forest-labs/flux-schnell/predictions")[0]
        assert json.loads(created.body) == {"input": {"num_outputs": 1, "prompt": "a taco", "ratio": "9:16"}}
        assert created.headers["Authorization"] == f"Bearer {TOKEN}"
        assert (job["result"]["width"], job["result"]["height"]) == (40, 30)
        assert job["usage"] == {"provider": "replicate", "model": "black-forest-labs/flux-schnell", "images": 1}


def test_a_versioned_model_and_a_failed_prediction(tmp_path: Path) -> None:
    with serve() as api:
        api.on("POST", "/v1/predictions", Reply(201, {"id": "p2", "status": "starting"}))
        api.on("GET", "/v1/predictions/p2", Reply(200, {"id": "p2", "status": "failed",
                                                        "error": "CUDA out of memory at /srv/model.py"}))
        with fleet(tmp_path, providers(api.url, "video_from_text", "acme/wan:abc123"), REPLICATE_TOKEN=TOKEN) as c:
            job = run(c, {"prompt": "tacos"}, "video_from_text")
        assert json.loads(api.calls("POST", "/v1/predictions")[0].body)["version"] == "abc123"
        assert job["error"] == {"code": "provider_error", "message": "replicate could not make the video from text "
                                                                     "(failed)"}


def test_cancel_mid_run_cancels_the_prediction_upstream(tmp_path: Path) -> None:
    with serve() as api:
        api.on("POST", "/v1/models/acme/lipsync/predictions", Reply(201, {"id": "p3", "status": "starting"}))
        api.on("GET", "/v1/predictions/p3", Reply(200, {"id": "p3", "status": "processing"}))
        api.on("POST", "/v1/predictions/p3/cancel", Reply(200, {"id": "p3", "status": "canceled"}))
        (tmp_path / "a.wav").write_bytes(b"RIFF")
        with fleet(tmp_path, providers(api.url, "lipsync", "acme/lipsync"), REPLICATE_TOKEN=TOKEN) as c:
            job = c.submit({"video": "https://example.com/face.mp4", "audio": str(tmp_path / "a.wav")},
                           type="lipsync", tenant="acme")
            assert api.wait_for("GET", "/v1/predictions/p3", 2)
            c.cancel(job["id"])
            done = c.wait(job["id"], timeout=20)
            cancels = api.wait_for("POST", "/v1/predictions/p3/cancel")
        assert done["status"] == "canceled"
        assert len(cancels) == 1 and cancels[0].headers["Authorization"] == f"Bearer {TOKEN}"
        sent = json.loads(api.calls("POST", "/v1/models/acme/lipsync/predictions")[0].body)["input"]
        assert sent["video"] == "https://example.com/face.mp4"
        assert sent["audio"].startswith("data:audio/")  # a local source goes inline
        assert "usage" not in done
