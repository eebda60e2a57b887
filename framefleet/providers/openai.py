"""OpenAI-compatible HTTP: speech, transcription with word times, images, chat and asynchronous video.

``base_url`` points the same code at OpenAI or at any server that copies its API (vLLM, LocalAI,
Kokoro-FastAPI, faster-whisper servers...). Endpoints, as documented:

- ``POST /audio/speech`` {model, input, voice, response_format} → audio bytes
- ``POST /audio/transcriptions`` multipart, ``response_format=verbose_json``,
  ``timestamp_granularities[]=word`` → {text, language, duration, words: [{word, start, end}]}
- ``POST /images/generations`` {model, prompt, size, n: 1} → {data: [{b64_json | url}]}
- ``POST /chat/completions`` {model, messages, max_tokens} → {choices: [{message: {content, refusal}}], usage}
- ``POST /videos`` → {id, status}; ``GET /videos/{id}`` until ``completed`` or ``failed``;
  ``GET /videos/{id}/content`` → MP4; ``DELETE /videos/{id}`` stops one we no longer want.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import mimetypes
import re
import time
from typing import Any

from framefleet.errors import BadInput, ProviderError, Timeout
from framefleet.providers.base import Output, Pending, Request, Word
from framefleet.providers.http import ProviderHTTP

DEFAULT_MODELS = {"speech_from_text": "gpt-4o-mini-tts", "captions": "whisper-1", "image_from_text": "gpt-image-1",
                  "text": "gpt-4o-mini", "video_from_text": "sora-2", "video_from_image": "sora-2"}
_IMAGE_SIZES = {"1:1": "1024x1024", "9:16": "1024x1536", "4:5": "1024x1536", "16:9": "1536x1024"}
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_VIDEO_SIZES = {"9:16": "720x1280", "16:9": "1280x720"}


def _malformed(what: str) -> ProviderError:
    return ProviderError(f"openai sent an answer without {what}")


class OpenAIProvider:
    name = "openai"

    def http(self, request: Request) -> ProviderHTTP:
        return ProviderHTTP.for_config(request.config, cancel=request.cancel)

    def model(self, request: Request) -> str:
        return request.model or DEFAULT_MODELS[request.type]

    def run(self, request: Request) -> Output | Pending:
        handler = {"speech_from_text": self._speech, "captions": self._captions, "image_from_text": self._image,
                   "text": self._text, "video_from_text": self._video, "video_from_image": self._video}
        done = handler[request.type](request)
        if isinstance(done, Output):
            done.model = self.model(request)
        return done

    def cancel(self, request: Request) -> None:
        video = (request.state or {}).get("id")
        if isinstance(video, str):
            with contextlib.suppress(Exception):  # best effort: the job is canceled either way
                self.http(request).call("DELETE", f"/videos/{video}", None, None)

    # -- audio ----------------------------------------------------------------------------------------

    def _speech(self, request: Request) -> Output:
        text = request.text("text")
        fmt = request.choice("format", ("mp3", "wav"), "mp3")
        body: dict[str, Any] = {"model": self.model(request), "input": text,
                                "voice": request.option("voice", "alloy") or "alloy", "response_format": fmt}
        if request.option("instructions"):
            body["instructions"] = request.option("instructions")
        path = request.work / f"speech.{fmt}"
        self.http(request).download("POST", "/audio/speech", body, path, max_bytes=request.limits.max_download_bytes)
        return Output(path=path, content_type="audio/mpeg" if fmt == "mp3" else "audio/wav",
                      usage={"characters": len(text)})

    def _captions(self, request: Request) -> Output:
        src = request.payload.get("src")
        if not isinstance(src, str) or not src:
            raise BadInput("src: a captions job needs the audio or video to caption")
        media = request.fetch(src)
        fields: dict[str, str | list[str]] = {"model": self.model(request), "response_format": "verbose_json",
                                              "timestamp_granularities[]": ["word", "segment"]}
        if request.option("language"):
            fields["language"] = request.option("language")
        script = request.text("text", required=False)
        if script:  # the known script steers spelling; the words' times still come from the audio
            fields["prompt"] = script
        kind = mimetypes.guess_type(media.name)[0] or "application/octet-stream"
        data = self.http(request).multipart("/audio/transcriptions", fields, ("file", media, kind))
        words = data.get("words") if isinstance(data, dict) else None
        if not isinstance(words, list):
            raise _malformed("word timestamps")
        out = []
        for item in words[: request.limits.max_caption_words]:
            try:
                out.append(Word(str(item["word"]).strip(), float(item["start"]), float(item["end"])))
            except (KeyError, TypeError, ValueError):
                raise _malformed("well-formed word timestamps") from None
        duration = data.get("duration")
        seconds = float(duration) if isinstance(duration, int | float) else (out[-1].end if out else 0.0)
        path = request.work / "words.json"
        path.write_text("")
        language = data.get("language")
        return Output(path=path, content_type="application/json", usage={"audio_seconds": round(seconds, 3)},
                      words=out, language=language if isinstance(language, str) else None)

    # -- images and text ------------------------------------------------------------------------------

    def _image(self, request: Request) -> Output:
        prompt = request.text("prompt")
        width = request.number("width", None, low=16, high=request.limits.max_width)
        height = request.number("height", None, low=16, high=request.limits.max_height)
        if width and height:
            size = f"{int(width)}x{int(height)}"
        else:
            size = _IMAGE_SIZES.get(str(request.payload.get("aspect_ratio", "1:1")), "")
            if not size:
                raise BadInput(f"aspect_ratio: must be one of {', '.join(_IMAGE_SIZES)}")
        data = self.http(request).json("POST", "/images/generations",
                                       {"model": self.model(request), "prompt": prompt, "size": size, "n": 1})
        items = data.get("data") if isinstance(data, dict) else None
        first = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else None
        if first is None:
            raise _malformed("an image")
        if isinstance(first.get("b64_json"), str):
            try:
                raw = base64.b64decode(first["b64_json"], validate=True)
            except (binascii.Error, ValueError):
                raise _malformed("a readable image") from None
            path = request.work / "image.png"
            path.write_bytes(raw)
        elif isinstance(first.get("url"), str):
            path = request.fetch(first["url"])
        else:
            raise _malformed("an image")
        return Output(path=path, content_type=mimetypes.guess_type(path.name)[0] or "image/png", usage={"images": 1})

    def _text(self, request: Request) -> Output:
        prompt = request.text("prompt")
        messages = [{"role": "user", "content": prompt}]
        system = request.text("system", required=False)
        if system:
            messages.insert(0, {"role": "system", "content": system})
        max_tokens = request.number("max_tokens", 1024, low=1, high=100_000)
        data = self.http(request).json("POST", "/chat/completions", {
            "model": self.model(request), "messages": messages, "max_tokens": int(max_tokens or 1024)})
        try:
            choice = data["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise _malformed("a completion") from None
        if message.get("refusal") or choice.get("finish_reason") == "content_filter":
            raise ProviderError("the text request was refused by openai's content policy")
        content = message.get("content")
        if not isinstance(content, str):
            raise _malformed("a completion")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        tokens = usage.get("total_tokens", 0) if isinstance(usage.get("total_tokens"), int) else 0
        path = request.work / "text.txt"
        path.write_text(content)
        return Output(path=path, content_type="text/plain", usage={"tokens": tokens}, text=content)

    # -- video: create, then poll without holding a thread, then download ----------------------------

    def _video(self, request: Request) -> Output | Pending:
        http = self.http(request)
        state = request.state
        if state is None:
            seconds = int(request.number("duration", 4, low=1, high=60) or 4)
            aspect = str(request.payload.get("aspect_ratio", "16:9"))
            if aspect not in _VIDEO_SIZES:
                raise BadInput(f"aspect_ratio: must be one of {', '.join(_VIDEO_SIZES)}")
            fields: dict[str, str | list[str]] = {"model": self.model(request), "prompt": request.text("prompt"),
                                                  "seconds": str(seconds), "size": _VIDEO_SIZES[aspect]}
            if request.type == "video_from_image":
                image = request.payload.get("image")
                if not isinstance(image, str) or not image:
                    raise BadInput("image: a video_from_image job needs an image source")
                path = request.fetch(image)
                data = http.multipart("/videos", fields, ("input_reference", path,
                                                          mimetypes.guess_type(path.name)[0] or "image/png"))
            else:
                data = http.json("POST", "/videos", fields)
            if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not _ID.fullmatch(data["id"]):
                raise _malformed("a video id")  # it goes into our next URLs: no '/', '?' or '..' from outside
            state = {"id": data["id"], "seconds": seconds, "since": time.time()}
            return Pending(state, request.config.poll_interval)
        data = http.json("GET", f"/videos/{state['id']}")
        status = data.get("status") if isinstance(data, dict) else None
        if status == "failed":
            raise ProviderError("openai could not make the video")
        if status != "completed":
            if time.time() - float(state.get("since", 0)) > request.config.max_wait:
                self.cancel(request)
                raise Timeout(f"openai did not finish the video within {request.config.max_wait:.0f} s")
            progress = data.get("progress") if isinstance(data, dict) else None
            if isinstance(progress, int | float):
                request.progress("render", max(0.0, min(1.0, float(progress) / 100)))
            return Pending(state, request.config.poll_interval)
        path = request.work / "video.mp4"
        http.download("GET", f"/videos/{state['id']}/content", None, path, max_bytes=request.limits.max_download_bytes)
        return Output(path=path, content_type="video/mp4", usage={"video_seconds": float(state["seconds"])})
