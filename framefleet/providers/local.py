"""The offline providers: speech with ``espeak-ng``, word captions with ``pocketsphinx``.

Good for demos, tests, drafts and air-gapped fleets: nothing leaves the machine and nothing is billed
upstream. ``espeak-ng`` speaks dozens of languages intelligibly but robotically; a neural voice (OpenAI,
ElevenLabs) is what a customer hears in a finished product. The aligner places a *known* script on its
audio (forced alignment, English acoustic model shipped in the ``pocketsphinx`` wheel) to within a few
frames; without a script it transcribes with a small English language model, which is a fallback, not
a replacement for Whisper-class transcription.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from framefleet.compositor import ffmpeg
from framefleet.errors import BadInput, BadMedia, Canceled, ProviderError
from framefleet.flags import Flag
from framefleet.metrics import definitions as m
from framefleet.providers.align import align, transcribe
from framefleet.providers.base import Output, Pending, Request

_VOICE = re.compile(r"[A-Za-z0-9_+-]{1,40}")
SAMPLE_RATE = 16_000


def run_process(cmd: list[str], *, cancel: Flag, timeout: float, stdin: bytes | None = None) -> bytes:
    """Run a tool as the compositor runs ffprobe (its own process group, killed on cancel, time-out or
    with its parent). Returns stdout; a time-out or a failure is the provider's error."""
    try:
        done = ffmpeg.capture(cmd, timeout=timeout, cancel=cancel, stdin=stdin)
    except subprocess.TimeoutExpired:
        raise ProviderError(f"{Path(cmd[0]).name} took longer than {timeout:.0f} s") from None
    if done.returncode != 0:
        raise ProviderError(f"{Path(cmd[0]).name} failed", detail=done.stderr.decode(errors="replace")[-500:])
    return done.stdout


def pcm16k(request: Request, src: Path) -> bytes:
    """Mono 16 kHz 16-bit samples of ``src`` (at most the longest allowed output), for the aligner."""
    cmd = [request.ffmpeg, "-v", "error", "-nostdin", "-i", str(src), "-t", f"{request.limits.max_duration:g}",
           "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-acodec", "pcm_s16le", "-"]
    try:
        return run_process(cmd, cancel=request.cancel, timeout=max(60.0, request.config.timeout))
    except ProviderError as exc:
        raise BadMedia("src: the audio cannot be decoded", detail=exc.detail) from None


class LocalProvider:
    name = "local"

    def __init__(self, espeak: str = "espeak-ng") -> None:
        self.espeak = espeak

    def run(self, request: Request) -> Output | Pending:
        started = time.monotonic()
        try:
            out = self._speech(request) if request.type == "speech_from_text" else self._captions(request)
            m.PROVIDER_REQUESTS.labels(self.name, request.type, "ok").inc()
            return out
        except Canceled:
            m.PROVIDER_REQUESTS.labels(self.name, request.type, "canceled").inc()
            raise
        except Exception:
            m.PROVIDER_REQUESTS.labels(self.name, request.type, "failed").inc()
            raise
        finally:
            m.PROVIDER_SECONDS.labels(self.name, request.type).observe(time.monotonic() - started)

    def cancel(self, request: Request) -> None:
        return None  # nothing runs upstream

    def _speech(self, request: Request) -> Output:
        text = request.text("text")
        voice = request.option("voice", "") or request.option("language", "") or "en-us"
        if not _VOICE.fullmatch(voice):
            raise BadInput("voice: must be an espeak-ng voice name such as en-us")
        fmt = request.choice("format", ("mp3", "wav"), "mp3")
        wav = request.work / "speech.wav"
        # the text goes on stdin: a script starting with '-' is never read as an option
        run_process([self.espeak, "-v", voice, "-w", str(wav), "--stdin"], cancel=request.cancel,
                    timeout=request.config.timeout, stdin=text.encode())
        samples = pcm16k(request, wav)
        words = align(samples, text, cancel=request.cancel)
        path = wav
        if fmt == "mp3":
            path = request.work / "speech.mp3"
            run_process([request.ffmpeg, "-v", "error", "-nostdin", "-y", "-i", str(wav), "-c:a", "libmp3lame",
                         "-q:a", "3", str(path)], cancel=request.cancel, timeout=request.config.timeout)
        return Output(path=path, content_type="audio/mpeg" if fmt == "mp3" else "audio/wav",
                      usage={"characters": len(text)}, words=words, language=voice)

    def _captions(self, request: Request) -> Output:
        src = request.payload.get("src")
        if not isinstance(src, str) or not src:
            raise BadInput("src: a captions job needs the audio or video to caption")
        language = request.option("language", "en") or "en"
        if not language.lower().startswith("en"):
            raise BadInput("language: the local captions provider knows English only; configure a "
                           "transcription service for other languages")
        script = request.text("text", required=False)
        samples = pcm16k(request, request.fetch(src))
        seconds = len(samples) / 2 / SAMPLE_RATE
        if not samples:
            raise BadMedia("src: has no sound to caption")
        words = align(samples, script, cancel=request.cancel) if script else transcribe(samples,
                                                                                        cancel=request.cancel)
        path = request.work / "words.json"  # the caller writes the result document; this is a placeholder
        path.write_text("")
        return Output(path=path, content_type="application/json", usage={"audio_seconds": round(seconds, 3)},
                      words=words, language="en")
