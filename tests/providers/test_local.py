"""The offline providers: espeak-ng speech and pocketsphinx alignment, checked against the audio itself."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import numpy as np

from framefleet.providers.align import align, number_words
from tests.providers.jobtools import fleet, local_file, run

RATE = 16_000


def samples(path: Path) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float32)


def onsets(audio: np.ndarray, silence: float = 0.15) -> list[float]:
    """Where sound starts after at least ``silence`` seconds of quiet (10 ms frames), found in the audio alone."""
    frame = RATE // 100
    count = len(audio) // frame
    rms = np.sqrt((audio[: count * frame].reshape(count, frame) ** 2).mean(axis=1))
    loud = rms > 0.05 * rms.max()
    out, quiet = [], int(silence * 100)
    run_of_quiet = quiet
    for i, is_loud in enumerate(loud):
        if is_loud and run_of_quiet >= quiet:
            out.append(i / 100)
        run_of_quiet = 0 if is_loud else run_of_quiet + 1
    return out


def test_speech_words_start_where_the_audio_does(tmp_path: Path) -> None:
    script = "Tacos. Burritos. Nachos. Quesadillas."
    with fleet(tmp_path) as c:
        job = run(c, {"text": script, "format": "wav"}, "speech_from_text")
        usage = c.usage(tenant="acme")
    assert job["status"] == "completed", job
    assert job["usage"] == {"provider": "local", "model": "espeak-ng", "characters": len(script)}
    audio = samples(local_file(job["result"]["url"]))
    assert abs(job["result"]["duration"] - len(audio) / RATE) < 0.05
    heard = onsets(audio)
    words = job["result"]["words"]
    assert [w["text"] for w in words] == script.split()
    assert len(heard) == 4, heard  # the sentence pauses split the sound into four runs
    for word, onset in zip(words, heard, strict=True):
        assert abs(word["start"] - onset) < 0.08, (word, onset)
    assert usage["generation"] == {"speech_from_text": {"local": {"jobs": 1, "characters": len(script)}}}


def test_captions_align_a_known_script_to_another_jobs_audio(tmp_path: Path) -> None:
    script = "Meet Santiago. He sells tacos in 2024."
    with fleet(tmp_path) as c:
        speech = run(c, {"text": script}, "speech_from_text")
        captions = run(c, {"src": f"job:{speech['id']}", "text": script}, "captions")
    assert captions["status"] == "completed", captions
    document = json.loads(local_file(captions["result"]["url"]).read_text())
    assert [w["text"] for w in document["words"]] == script.split()
    heard = onsets(samples(local_file(speech["result"]["url"])))
    assert abs(document["words"][0]["start"] - heard[0]) < 0.08
    second = document["words"][2]  # "He", after the first sentence's pause
    assert min(abs(second["start"] - h) for h in heard[1:]) < 0.1, (second, heard)
    starts = [w["start"] for w in document["words"]]
    assert starts == sorted(starts)
    assert captions["usage"]["provider"] == "local" and captions["usage"]["audio_seconds"] > 1.5
    assert local_file(captions["result"]["vtt_url"]).read_text().startswith("WEBVTT")


def test_local_captions_refuse_other_languages_and_bad_media(tmp_path: Path) -> None:
    (tmp_path / "notes.mp3").write_text("not audio")
    with fleet(tmp_path) as c:
        french = run(c, {"src": str(tmp_path / "notes.mp3"), "language": "fr"}, "captions")
        broken = run(c, {"src": str(tmp_path / "notes.mp3"), "text": "hello"}, "captions")
    assert french["error"]["code"] == "bad_input" and "English only" in french["error"]["message"]
    assert broken["error"] == {"code": "bad_media", "message": "src: the audio cannot be decoded"}


def test_a_script_that_does_not_match_is_spread_not_dropped() -> None:
    silence_then_tone = np.concatenate([np.zeros(RATE // 2), 8000 * np.sin(np.arange(RATE) * 0.1)])
    words = align(silence_then_tone.astype("<i2").tobytes(), "completely different words", cancel=threading.Event())
    assert [w.text for w in words] == ["completely", "different", "words"]
    assert abs(words[0].start - 0.5) < 0.03 and abs(words[-1].end - 1.5) < 0.03
    assert number_words(2024) == ["two", "thousand", "twenty", "four"]
