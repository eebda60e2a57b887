"""Replicate predictions: one protocol for hundreds of image, video, speech and lip-sync models.

As documented: ``POST /predictions`` {version, input} (or ``POST /models/{owner}/{name}/predictions``
{input} for official models, when ``model`` has no version), then ``GET /predictions/{id}`` until
``succeeded``, ``failed`` or ``canceled``; ``POST /predictions/{id}/cancel`` stops one we no longer want.
``output`` is a URL, a list of URLs, or (language models) a list of strings.

The payload's fields go in ``input`` under the same names (renamed by the table's ``input_names``,
e.g. ``{prompt = "text"}``), over the defaults of the table's ``input``. Sources given as https URLs are
passed on; any other source (``job:``, an allowed local file) is sent inline as a data URL, up to
``MAX_INLINE_BYTES``.
"""

from __future__ import annotations

import base64
import contextlib
import mimetypes
import re
import time
from typing import Any

from framefleet.compositor.probe import probe
from framefleet.errors import BadInput, BadMedia, ProviderError, Timeout
from framefleet.providers.base import Output, Pending, Request
from framefleet.providers.http import ProviderHTTP

MAX_INLINE_BYTES = 10 * 1024 * 1024
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_PASSED = ("prompt", "text", "duration", "aspect_ratio", "width", "height", "voice", "seed", "negative_prompt",
           "language")
_SOURCES = ("image", "video", "audio")
_KINDS = {"speech_from_text": "audio/mpeg", "image_from_text": "image/png", "video_from_text": "video/mp4",
          "video_from_image": "video/mp4", "lipsync": "video/mp4"}


class ReplicateProvider:
    name = "replicate"

    def http(self, request: Request) -> ProviderHTTP:
        return ProviderHTTP.for_config(request.config, cancel=request.cancel)

    def cancel(self, request: Request) -> None:
        prediction = (request.state or {}).get("id")
        if isinstance(prediction, str):
            with contextlib.suppress(Exception):  # best effort: the job is canceled either way
                self.http(request).call("POST", f"/predictions/{prediction}/cancel", b"", "application/json")

    def _source(self, request: Request, value: Any, name: str) -> str:
        if not isinstance(value, str) or not value:
            raise BadInput(f"{name}: must be a source (URL or job:<id>)")
        if value.startswith("https://"):
            return value
        path = request.fetch(value)
        if path.stat().st_size > MAX_INLINE_BYTES:
            raise BadInput(f"{name}: sources sent to replicate inline may be at most {MAX_INLINE_BYTES} bytes; "
                           "give an https:// URL")
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"

    def _input(self, request: Request) -> dict[str, Any]:
        defaults = request.config.option("input", {})
        names = request.config.option("input_names", {})
        body: dict[str, Any] = dict(defaults) if isinstance(defaults, dict) else {}
        rename = names if isinstance(names, dict) else {}
        for key in _PASSED:
            if key in request.payload:
                if key in ("prompt", "text"):
                    request.text(key)  # length cap
                body[str(rename.get(key, key))] = request.payload[key]
        for key in _SOURCES:
            if key in request.payload:
                body[str(rename.get(key, key))] = self._source(request, request.payload[key], key)
        if request.type == "lipsync" and not all(k in request.payload for k in ("video", "audio")):
            raise BadInput("a lipsync job needs a video and an audio source")
        if not body:
            raise BadInput("the request has nothing to send to replicate")
        return body

    def _create(self, request: Request, http: ProviderHTTP) -> dict[str, Any]:
        model = request.model
        if not model:
            raise ProviderError(f"no replicate model configured for {request.type}")
        owner_name, _, version = model.partition(":")
        body: dict[str, Any] = {"input": self._input(request)}
        if version:
            body["version"] = version
            data = http.json("POST", "/predictions", body)
        else:
            data = http.json("POST", f"/models/{owner_name}/predictions", body)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not _ID.fullmatch(data["id"]):
            # it goes into our next URLs: no '/', '?' or '..' from outside
            raise ProviderError("replicate sent an answer without a prediction id")
        return data

    def run(self, request: Request) -> Output | Pending:
        http = self.http(request)
        if request.state is None:
            data = self._create(request, http)
            state = {"id": data["id"], "since": time.time()}
        else:
            state = request.state
            data = http.json("GET", f"/predictions/{state['id']}")
        status = data.get("status") if isinstance(data, dict) else None
        if status in ("failed", "canceled", "aborted"):
            raise ProviderError(f"replicate could not make the {request.type.replace('_', ' ')} ({status})")
        if status != "succeeded":
            if time.time() - float(state["since"]) > request.config.max_wait:
                self.cancel(Request(**{**request.__dict__, "state": state}))
                raise Timeout(f"replicate did not finish within {request.config.max_wait:.0f} s")
            return Pending(state, request.config.poll_interval)
        return self._output(request, data)

    def _output(self, request: Request, data: dict[str, Any]) -> Output:
        output = data.get("output")
        if request.type == "text":
            text: str | None = "".join(output) if isinstance(output, list) and all(isinstance(s, str) for s in output) \
                else output if isinstance(output, str) else None
            if text is None:
                raise ProviderError("replicate sent an answer without text")
            metrics: dict[str, Any] = data["metrics"] if isinstance(data.get("metrics"), dict) else {}
            counts = [metrics.get(k) for k in ("input_token_count", "output_token_count")]
            tokens = sum(int(c) for c in counts if isinstance(c, int | float))
            path = request.work / "text.txt"
            path.write_text(text)
            return Output(path=path, content_type="text/plain", usage={"tokens": tokens}, text=text)
        urls = output if isinstance(output, list) else [output]
        if not urls or not all(isinstance(u, str) and u.startswith(("https://", "http://")) for u in urls):
            raise ProviderError("replicate sent an answer without a file")
        path = request.fetch(str(urls[0]))  # guarded, capped and canceled like any source
        kind = mimetypes.guess_type(path.name)[0] or _KINDS[request.type]
        if request.type == "image_from_text":
            return Output(path=path, content_type=kind, usage={"images": len(urls)})
        if request.type == "speech_from_text":
            return Output(path=path, content_type=kind, usage={"characters": len(str(request.payload.get("text", "")))})
        try:
            info = probe(path, name="the provider's video", ffprobe=request.ffprobe, cancel=request.cancel)
        except BadMedia:
            raise ProviderError("replicate sent a video that cannot be read") from None
        return Output(path=path, content_type=kind, usage={"video_seconds": round(info.duration or 0.0, 3)})
