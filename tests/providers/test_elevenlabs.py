"""Speech with timestamps against a local server that speaks ElevenLabs' documented API."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.providers.fakes import Reply, serve, tone
from tests.providers.jobtools import fleet, run


def alignment(text: str, step: float = 0.1) -> dict[str, list[object]]:
    return {"characters": list(text), "character_start_times_seconds": [round(i * step, 3) for i in range(len(text))],
            "character_end_times_seconds": [round((i + 1) * step, 3) for i in range(len(text))]}


def test_speech_with_character_alignment_gives_word_times(tmp_path: Path) -> None:
    audio = base64.b64encode(tone(tmp_path / "t.mp3", 1.0)).decode()
    with serve() as api:
        path = "/v1/text-to-speech/EXAVITQu4vr4xnSDxMaL/with-timestamps?output_format=mp3_44100_128"
        api.on("POST", path, Reply(200, {"audio_base64": audio, "alignment": alignment("Hi  there!")}))
        toml = (f'[speech_from_text]\nprovider = "elevenlabs"\nbase_url = "{api.url}/v1"\napi_key_env = "XI"\n'
                'allow_private = true\nvoice = "EXAVITQu4vr4xnSDxMaL"\n')
        with fleet(tmp_path, toml, XI="xi-secret") as c:
            job = run(c, {"text": "Hi  there!"}, "speech_from_text")
        assert job["status"] == "completed", job
        sent = api.calls("POST", path)[0]
        assert sent.headers["xi-api-key"] == "xi-secret"
        assert json.loads(sent.body) == {"text": "Hi  there!", "model_id": "eleven_multilingual_v2"}
        assert job["result"]["words"] == [{"text": "Hi", "start": 0.0, "end": 0.2},
                                          {"text": "there!", "start": 0.4, "end": 1.0}]
        assert job["usage"] == {"provider": "elevenlabs", "model": "eleven_multilingual_v2", "characters": 10}


def test_malformed_alignment_is_a_provider_error(tmp_path: Path) -> None:
    audio = base64.b64encode(b"ID3").decode()
    with serve() as api:
        path = "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/with-timestamps?output_format=mp3_44100_128"
        api.on("POST", path, Reply(200, {"audio_base64": audio, "alignment": {"characters": ["a"]}}))
        toml = f'[speech_from_text]\nprovider = "elevenlabs"\nbase_url = "{api.url}/v1"\nallow_private = true\n'
        with fleet(tmp_path, toml) as c:
            job = run(c, {"text": "a"}, "speech_from_text")
        assert job["error"] == {"code": "provider_error",
                                "message": "elevenlabs sent an answer without a usable alignment"}
