"""ElevenLabs text-to-speech with timestamps: audio and word captions in one request.

As documented: ``POST /text-to-speech/{voice_id}/with-timestamps?output_format=mp3_44100_128`` with
``{text, model_id}`` and the ``xi-api-key`` header answers ``{audio_base64, alignment: {characters,
character_start_times_seconds, character_end_times_seconds}}``. The characters are joined back into the
script's words, each timed from its first character's start to its last character's end, so captions
need no transcription step.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from framefleet.errors import BadInput, ProviderError
from framefleet.providers.base import Output, Pending, Request, Word
from framefleet.providers.http import ProviderHTTP

_VOICE_ID = re.compile(r"[A-Za-z0-9]{1,64}")
_FORMATS = {"mp3": ("mp3_44100_128", "audio/mpeg"), "wav": ("pcm_44100", "audio/wav")}


def words_from_characters(alignment: Any, limit: int) -> list[Word]:
    """Words (runs of non-space characters) timed by their characters; malformed alignment raises."""
    try:
        chars = alignment["characters"]
        starts = alignment["character_start_times_seconds"]
        ends = alignment["character_end_times_seconds"]
        if not (isinstance(chars, list) and len(chars) == len(starts) == len(ends)):
            raise TypeError
        words: list[Word] = []
        current, first, last = "", 0.0, 0.0
        for char, start, end in zip(chars, starts, ends, strict=True):
            if not isinstance(char, str):
                raise TypeError
            if char.isspace():
                if current:
                    words.append(Word(current, first, last))
                current = ""
                continue
            if not current:
                first = float(start)
            current, last = current + char, float(end)
            if len(words) >= limit:
                break
        if current and len(words) < limit:
            words.append(Word(current, first, last))
        return words
    except (KeyError, TypeError, ValueError):
        raise ProviderError("elevenlabs sent an answer without a usable alignment") from None


class ElevenLabsProvider:
    name = "elevenlabs"

    def cancel(self, request: Request) -> None:
        return None  # one synchronous request: abandoning it is the cancel

    def run(self, request: Request) -> Output | Pending:
        text = request.text("text")
        voice = request.option("voice", "") or "21m00Tcm4TlvDq8ikWAM"
        if not _VOICE_ID.fullmatch(voice):
            raise BadInput("voice: must be an ElevenLabs voice id")
        fmt = request.choice("format", ("mp3", "wav"), "mp3")
        output_format, kind = _FORMATS[fmt]
        http = ProviderHTTP.for_config(request.config, cancel=request.cancel)
        model = request.model or "eleven_multilingual_v2"
        body: dict[str, Any] = {"text": text, "model_id": model}
        if request.option("language"):
            body["language_code"] = request.option("language")
        data = http.json("POST", f"/text-to-speech/{voice}/with-timestamps?output_format={output_format}", body)
        if not isinstance(data, dict) or not isinstance(data.get("audio_base64"), str):
            raise ProviderError("elevenlabs sent an answer without audio")
        try:
            audio = base64.b64decode(data["audio_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise ProviderError("elevenlabs sent audio that cannot be read") from None
        words = words_from_characters(data.get("alignment") or data.get("normalized_alignment"),
                                      request.limits.max_caption_words)
        path = request.work / "speech.mp3"
        if fmt == "wav":  # raw PCM: give it a WAV header so every player and ffmpeg reads it
            path = request.work / "speech.wav"
            path.write_bytes(_wav(audio, 44100))
        else:
            path.write_bytes(audio)
        return Output(path=path, content_type=kind, usage={"characters": len(text)}, words=words,
                      model=model)


def _wav(pcm: bytes, rate: int) -> bytes:
    import struct

    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", len(pcm))
    return header + pcm
