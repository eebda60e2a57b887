"""Generation jobs against a local server that speaks OpenAI's documented API, end to end."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.providers.fakes import Reply, clip, picture, serve, tone
from tests.providers.jobtools import fleet, local_file, run

KEY = "sk-test-0123456789"


def providers(url: str, *types: str, **extra: str) -> str:
    more = "".join(f"{k} = {v}\n" for k, v in extra.items())
    return "".join(f'[{t}]\nprovider = "openai"\nbase_url = "{url}/v1"\napi_key_env = "OPENAI_KEY"\n'
                   f"allow_private = true\npoll_interval = 0.1\n{more}\n" for t in types)


def test_speech(tmp_path: Path) -> None:
    with serve() as api:
        api.on("POST", "/v1/audio/speech", Reply(200, tone(tmp_path / "t.mp3", 1.0), {"Content-Type": "audio/mpeg"}))
        with fleet(tmp_path, providers(api.url, "speech_from_text"), OPENAI_KEY=KEY) as c:
            job = run(c, {"text": "Hello taco world", "voice": "nova"}, "speech_from_text")
        assert job["status"] == "completed", job
        sent = api.calls("POST", "/v1/audio/speech")[0]
        assert json.loads(sent.body) == {"model": "gpt-4o-mini-tts", "input": "Hello taco world", "voice": "nova",
                                         "response_format": "mp3"}
        assert sent.headers["Authorization"] == f"Bearer {KEY}"
        assert job["result"]["content_type"] == "audio/mpeg" and abs(job["result"]["duration"] - 1.0) < 0.1
        assert job["usage"] == {"provider": "openai", "model": "gpt-4o-mini-tts", "characters": 16}


def test_transcription_with_word_times_becomes_captions(tmp_path: Path) -> None:
    tone(tmp_path / "voice.mp3", 2.0)
    answer = {"text": "Hi there", "language": "english", "duration": 2.0,
              "words": [{"word": "Hi", "start": 0.1, "end": 0.4}, {"word": "there", "start": 0.5, "end": 0.9}]}
    with serve() as api:
        api.on("POST", "/v1/audio/transcriptions", Reply(200, answer))
        with fleet(tmp_path, providers(api.url, "captions"), OPENAI_KEY=KEY) as c:
            job = run(c, {"src": str(tmp_path / "voice.mp3")}, "captions")
            usage = c.usage(tenant="acme")
        assert job["status"] == "completed", job
        body = api.calls("POST", "/v1/audio/transcriptions")[0].body
        assert b'name="response_format"\r\n\r\nverbose_json' in body
        assert b'name="timestamp_granularities[]"\r\n\r\nword' in body
        document = json.loads(local_file(job["result"]["url"]).read_text())
        assert document["words"] == [{"text": "Hi", "start": 0.1, "end": 0.4}, {"text": "there", "start": 0.5,
                                                                                 "end": 0.9}]
        vtt = local_file(job["result"]["vtt_url"]).read_text()
        assert vtt.startswith("WEBVTT") and "00:00:00.100 --> 00:00:00.900\nHi there" in vtt
        assert usage["generation"] == {"captions": {"openai": {"jobs": 1, "audio_seconds": 2.0}}}


def test_image_and_text(tmp_path: Path) -> None:
    png = base64.b64encode(picture(tmp_path / "p.png", "64x48")).decode()
    with serve() as api:
        api.on("POST", "/v1/images/generations", Reply(200, {"data": [{"b64_json": png}]}))
        api.on("POST", "/v1/chat/completions",
               Reply(200, {"choices": [{"message": {"content": "Tacos!"}, "finish_reason": "stop"}],
                           "usage": {"total_tokens": 42}}),
               Reply(200, {"choices": [{"message": {"content": None, "refusal": "I can't help with that."},
                                        "finish_reason": "stop"}]}))
        with fleet(tmp_path, providers(api.url, "image_from_text", "text"), OPENAI_KEY=KEY) as c:
            image = run(c, {"prompt": "a taco", "aspect_ratio": "9:16"}, "image_from_text")
            text = run(c, {"prompt": "Say tacos", "system": "Be brief"}, "text")
            refused = run(c, {"prompt": "something bad"}, "text")
        assert (image["result"]["width"], image["result"]["height"]) == (64, 48)
        assert json.loads(api.calls("POST", "/v1/images/generations")[0].body)["size"] == "1024x1536"
        assert image["usage"]["images"] == 1
        assert text["result"]["text"] == "Tacos!" and text["usage"]["tokens"] == 42
        assert json.loads(api.calls("POST", "/v1/chat/completions")[0].body)["messages"][0] == {
            "role": "system", "content": "Be brief"}
        assert refused["status"] == "failed"
        assert refused["error"] == {"code": "provider_error",
                                    "message": "the text request was refused by openai's content policy"}


def test_video_is_created_polled_without_a_thread_and_downloaded(tmp_path: Path) -> None:
    mp4 = clip(tmp_path / "v.mp4", 1.0)
    with serve() as api:
        api.on("POST", "/v1/videos", Reply(200, {"id": "video_123", "status": "queued"}))
        api.on("GET", "/v1/videos/video_123", Reply(200, {"id": "video_123", "status": "in_progress", "progress": 30}),
               Reply(200, {"id": "video_123", "status": "in_progress", "progress": 60}),
               Reply(200, {"id": "video_123", "status": "completed"}))
        api.on("GET", "/v1/videos/video_123/content", Reply(200, mp4, {"Content-Type": "video/mp4"}))
        with fleet(tmp_path, providers(api.url, "video_from_text"), OPENAI_KEY=KEY) as c:
            job = run(c, {"prompt": "tacos falling", "duration": 4, "aspect_ratio": "9:16"}, "video_from_text")
        assert job["status"] == "completed", job
        assert json.loads(api.calls("POST", "/v1/videos")[0].body) == {
            "model": "sora-2", "prompt": "tacos falling", "seconds": "4", "size": "720x1280"}
        assert len(api.calls("GET", "/v1/videos/video_123")) == 3
        assert job["attempts"] == 1  # parked between polls, never counted as a new attempt
        assert (job["result"]["width"], job["result"]["height"], job["result"]["content_type"]) == (128, 72,
                                                                                                    "video/mp4")
        assert job["usage"] == {"provider": "openai", "model": "sora-2", "video_seconds": 4.0}


def test_unconfigured_types_fail_naming_the_missing_configuration(tmp_path: Path) -> None:
    with fleet(tmp_path) as c:
        job = run(c, {"prompt": "a taco"}, "image_from_text")
    assert job["status"] == "failed"
    assert job["error"]["code"] == "provider_error"
    assert "no provider configured for image_from_text" in job["error"]["message"]
    assert "[image_from_text]" in job["error"]["message"]
