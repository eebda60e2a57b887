"""Hostile captions and pictures (issue 8, items 3 and 4): each ends quickly, bounded, at its JSON path.

- caption text built to make a regex backtrack must not hold the GIL (a worker's heartbeat thread ticks
  throughout the parse);
- captions files and word lists are capped; thousands of cues under a short output draw only the
  states on screen;
- a small spec asking for an enormous picture (text, captions, colour) is refused by ``validate``, by
  the queue's loader and by the rasteriser itself, before any pixel is allocated;
- caption words with line breaks are drawn like words with spaces; control characters and non-finite
  times are refused at their path.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from framefleet.compositor import captions as cap
from framefleet.compositor import plan, raster, text
from framefleet.compositor.spec import RenderSpec, load_spec
from framefleet.config import Limits
from framefleet.errors import BadInput, SpecError
from tests.mediatools import frame
from tests.proctree import run_measured


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "framefleet", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=120, check=False)


def write(folder: Path, spec: dict[str, Any] | str, name: str = "spec.json") -> Path:
    path = folder / name
    path.write_text(spec if isinstance(spec, str) else json.dumps(spec), encoding="utf-8")
    return path


def small(*clips: dict[str, Any], **output: Any) -> dict[str, Any]:
    return {"output": {"width": 320, "height": 240, "fps": 10, **output}, "tracks": [{"clips": list(clips)}]}


def refused(done: subprocess.CompletedProcess[str], needle: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert needle in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def _srt(cues: int, *, step: float = 0.5) -> str:
    def stamp(t: float) -> str:
        ms = round(t * 1000)
        return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "".join(f"{i + 1}\n{stamp(i * step)} --> {stamp((i + 1) * step)}\ncue {i} here\n\n" for i in range(cues))


# --- parsing: linear, never holding the GIL ------------------------------------------------------------


def _longest_pause_while(work: Callable[[], object]) -> tuple[float, float]:
    """Run ``work`` while another thread ticks every millisecond, as a worker's heartbeat would; return
    the longest gap between two ticks and how long ``work`` took. A parse that holds the GIL (the C
    regex engine never lets go of it) stops the ticks for its whole length."""
    ticks: list[float] = []
    started, stop = threading.Event(), threading.Event()

    def tick() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            started.set()
            time.sleep(0.001)

    ticker = threading.Thread(target=tick)
    ticker.start()
    started.wait()
    begin = time.monotonic()
    try:
        work()
    except BadInput:
        pass  # refusing is as good as parsing, if it is quick
    finally:
        took = time.monotonic() - begin
        seen = len(ticks)
        while len(ticks) == seen and time.monotonic() - begin < 60:  # one tick after the work, to close the gap
            time.sleep(0.001)
        stop.set()
        ticker.join()
    return max(b - a for a, b in itertools.pairwise(ticks)), took


HOSTILE_CUES = {
    "a line of digits": "1\n" + "9" * 50_000 + "\n\n2\n00:00:01,000 --> 00:00:02,000\nhello\n",
    "digits around an arrow": "9" * 50_000 + " --> " + "9" * 50_000 + "\nhello\n",
    "unclosed tags": "1\n00:00:01,000 --> 00:00:02,000\n" + "<" * 100_000 + "\n",
    "unclosed overrides": "1\n00:00:01,000 --> 00:00:02,000\n" + "{\\" * 50_000 + "\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_CUES))
def test_hostile_caption_text_parses_without_stalling_other_threads(name: str) -> None:
    pause, took = _longest_pause_while(lambda: cap.parse_cues(HOSTILE_CUES[name]))
    assert pause < 0.25, f"{name}: the ticking thread was stalled {pause:.2f} s"
    assert took < 1.0, f"{name}: parsing took {took:.2f} s"


def test_a_malformed_time_is_refused_naming_its_line() -> None:
    with pytest.raises(BadInput) as info:
        cap.parse_cues("1\n00:00:01,000 --> 00:00:02,000\nfine\n\n2\n00:00:03,000 --> " + "9" * 5000 + "\nx\n")
    assert "captions file line 6: malformed time '99999999999999999999…'" in info.value.message


def test_captions_files_are_capped_in_bytes_and_words(tmp_path: Path) -> None:
    srt = write(tmp_path, _srt(40), "forty.srt")  # 120 words
    assert len(cap.load_file(srt, limits=Limits(max_caption_words=120))) == 40
    with pytest.raises(BadInput, match="holds more than 119 words"):
        cap.load_file(srt, limits=Limits(max_caption_words=119))
    with pytest.raises(BadInput, match="larger than 100 bytes"):
        cap.load_file(srt, limits=Limits(max_caption_bytes=100))
    words = write(tmp_path, json.dumps([{"text": "w", "start": i, "end": i + 1} for i in range(50)]), "w.json")
    with pytest.raises(BadInput, match="holds more than 49 words"):
        cap.load_file(words, limits=Limits(max_caption_words=49))


def test_the_word_cap_is_a_setting_applied_to_files_and_inline_words(tmp_path: Path) -> None:
    write(tmp_path, _srt(40), "forty.srt")
    env = {"FRAMEFLEET_MAX_CAPTION_WORDS": "100"}
    refused(cli("validate", str(write(tmp_path, small({"type": "captions", "src": "forty.srt"}))), env=env),
            "tracks[0].clips[0].src: captions file holds more than 100 words")
    inline = [{"text": "w", "start": i * 0.1, "end": i * 0.1 + 0.1} for i in range(101)]
    refused(cli("validate", str(write(tmp_path, small({"type": "captions", "words": inline}))), env=env),
            "tracks[0].clips[0].words: 101 words is over the limit of 100")


def test_deeply_nested_or_huge_numbers_in_a_json_captions_file_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "[" * 100_000 + "]" * 100_000, "deep.json")
    write(tmp_path, '[{"text": "a", "start": 0, "end": ' + "9" * 5000 + "}]", "long.json")
    for name in ("deep.json", "long.json"):
        refused(cli("validate", str(write(tmp_path, small({"type": "captions", "src": name})))),
                "tracks[0].clips[0].src: captions file is not valid JSON")


# --- thousands of cues, a short output ---------------------------------------------------------------


def test_only_the_caption_states_inside_the_output_are_drawn(tmp_path: Path) -> None:
    """6,000 cues (50 minutes) under a 2 s output: the states of its first 2 s are drawn, no more, and
    the sidecar holds only those cues."""
    write(tmp_path, _srt(6000), "many.srt")
    spec = load_spec(small({"type": "captions", "src": "many.srt", "style": "clean"}, duration=2))
    files = {"many.srt": tmp_path / "many.srt"}
    phrases = {"tracks[0].clips[0]": cap.load_file(files["many.srt"])}
    timeline = plan.build_plan(spec, media={}, files=files, phrases=phrases)
    work = tmp_path / "work"
    work.mkdir()
    prepared = raster.prepare(timeline, work, fonts=files)
    assert len(list(work.glob("cap-*-0*.tga"))) == 4  # cues 0-3 cover 0-2 s
    assert [text for _, _, text in prepared.cues] == ["cue 0 here", "cue 1 here", "cue 2 here", "cue 3 here"]


def test_six_thousand_cues_with_a_short_output_render_in_bounded_time_and_memory(tmp_path: Path) -> None:
    write(tmp_path, _srt(6000), "many.srt")
    spec = write(tmp_path, {"output": {"width": 1080, "height": 1920, "duration": 2},
                            "tracks": [{"clips": [{"type": "color", "color": "#203040", "length": 2}]},
                                       {"clips": [{"type": "captions", "src": "many.srt", "style": "bold-pop"}]}]})
    done = run_measured([sys.executable, "-m", "framefleet", "render", str(spec), "-o", str(tmp_path / "o.mp4")],
                        timeout=60)
    assert done.returncode == 0, done.stderr
    # before: every one of 18,000 bold-pop states drawn (4 minutes); now a render of a 2 s 1080x1920
    # colour (about 400 MiB with ffmpeg) and the 12 states on screen
    assert done.peak_mib < 700, done.peak_mib
    assert done.seconds < 30, done.seconds
    vtt = (tmp_path / "o.vtt").read_text()
    assert "cue 3 here" in vtt and "cue 4 here" not in vtt


# --- pictures that would not fit in memory ---------------------------------------------------------------

HUGE = {
    "text": ({"type": "text", "text": " ".join(["lorem ipsum dolor sit amet"] * 180), "length": 1,
              "style": {"size": 2000}}, "tracks[0].clips[0].style.size: the text's picture would be "),
    "scaled text": ({"type": "text", "text": "hi", "length": 1, "scale": 10, "style": {"size": 500}},
                    "tracks[0].clips[0].scale: the scaled text would be "),
    "gradient": ({"type": "color", "gradient": {"from": "red", "to": "blue"}, "scale": 10, "length": 1},
                 "tracks[0].clips[0].scale: the colour's picture would be 38400x21600 pixels"),
    "colour": ({"type": "color", "color": "red", "scale": 10, "length": 1},
               "tracks[0].clips[0].scale: the colour's picture would be 38400x21600 pixels"),
    "captions": ({"type": "captions", "size": 1000, "max_words": 30,
                  "words": [{"text": f"word{i}", "start": i / 10, "end": i / 10 + 0.1} for i in range(30)]},
                 "tracks[0].clips[0].size: the captions' picture would be "),
}


@pytest.mark.parametrize("kind", sorted(HUGE))
def test_a_picture_over_the_pixel_cap_is_refused_by_validate_and_the_queue(tmp_path: Path, kind: str) -> None:
    clip, needle = HUGE[kind]
    raw = {"output": {"preset": "youtube", "resolution": "2160p"}, "tracks": [{"clips": [clip]}]}
    assert len(json.dumps(raw)) < 6000
    started = time.monotonic()
    refused(cli("validate", str(write(tmp_path, raw))), needle)
    assert time.monotonic() - started < 20
    with pytest.raises(SpecError) as info:  # what submit and the worker run
        load_spec(raw)
    assert any(needle.startswith(f"{p.path}: ") for p in info.value.problems), info.value.problems


def test_a_captions_file_over_the_pixel_cap_is_refused_by_validate(tmp_path: Path) -> None:
    write(tmp_path, "1\n00:00:00,000 --> 00:00:05,000\n" + " ".join(f"w{i}" for i in range(300)) + "\n", "long.srt")
    raw = {"output": {"preset": "youtube", "resolution": "2160p"},
           "tracks": [{"clips": [{"type": "captions", "src": "long.srt", "size": 1000}]}]}
    refused(cli("validate", str(write(tmp_path, raw))), "tracks[0].clips[0].size: the captions' picture would be ")


def test_the_rasteriser_refuses_an_oversized_picture_before_drawing_it(tmp_path: Path) -> None:
    """Defence in depth: a plan that skipped validation still never allocates the picture."""
    with pytest.raises(BadInput, match="over the limit of 1000000 pixels"):
        text.blank(2000, 1000, max_pixels=1_000_000)
    raw = {"output": {"preset": "youtube", "resolution": "2160p"}, "tracks": [{"clips": [HUGE["text"][0]]}]}
    spec = RenderSpec.model_validate(raw)  # the model only: no size checks
    timeline = plan.build_plan(spec, media={}, files={})
    with pytest.raises(SpecError) as info:
        raster.prepare(timeline, tmp_path)
    assert [p.path for p in info.value.problems] == ["tracks[0].clips[0].style.size"]
    assert not list(tmp_path.iterdir())


# --- words that validate accepted and render crashed on ----------------------------------------------------


@pytest.mark.parametrize("brk", ["\n", "\r", "\r\n", "\x85", "\x1c", "\u2028", "\t"])
def test_line_breaks_in_caption_words_are_drawn_as_spaces(tmp_path: Path, brk: str) -> None:
    def render(word: str, name: str) -> tuple[np.ndarray, str]:
        clip = {"type": "captions", "words": [{"text": word, "start": 0, "end": 1}], "stroke_width": 0,
                "size": 120}
        out = tmp_path / f"{name}.mp4"
        done = cli("render", str(write(tmp_path, small(clip), f"{name}.json")), "-o", str(out))
        assert done.returncode == 0, done.stderr
        return frame(out, 0.5, (320, 240)), out.with_suffix(".vtt").read_text()

    broken, broken_vtt = render(f"AB{brk}CD", "broken")
    spaced, _ = render("AB CD", "spaced")
    assert spaced.max() > 200  # the caption is drawn
    difference = int(np.abs(broken.astype(int) - spaced.astype(int)).max())
    assert difference <= 8, f"the word with {brk!r} is drawn unlike the word with a space ({difference})"
    assert "\nAB CD\n" in broken_vtt and broken_vtt.count("-->") == 1


def test_the_same_words_from_a_json_file_are_cleaned_alike(tmp_path: Path) -> None:
    f = write(tmp_path, json.dumps([{"text": "AB\n\nCD\x85", "start": 0, "end": 1}]), "w.json")
    assert cap.load_file(f) == [[cap.TimedWord("AB CD", 0, 1)]]


@pytest.mark.parametrize("where", ["inline", "file"])
def test_control_characters_in_words_are_refused_at_their_path(tmp_path: Path, where: str) -> None:
    word = {"text": "bell\u0007", "start": 0, "end": 1}
    if where == "inline":
        clip: dict[str, Any] = {"type": "captions", "words": [word]}
        needle = "tracks[0].clips[0].words[0].text: holds control character U+0007"
    else:
        write(tmp_path, json.dumps({"words": [word]}), "w.json")
        clip, needle = {"type": "captions", "src": "w.json"}, "tracks[0].clips[0].src: captions file: word 0 holds"
    spec = write(tmp_path, small(clip))
    refused(cli("validate", str(spec)), needle)
    refused(cli("render", str(spec), "-o", str(tmp_path / "o.mp4")), needle)
    assert not (tmp_path / "o.mp4").exists()


def test_control_characters_in_an_srt_are_refused_naming_the_line(tmp_path: Path) -> None:
    write(tmp_path, "1\n00:00:00,000 --> 00:00:01,000\nfine\n\n2\n00:00:01,000 --> 00:00:02,000\nnul\x00\n", "c.srt")
    refused(cli("validate", str(write(tmp_path, small({"type": "captions", "src": "c.srt"})))),
            "tracks[0].clips[0].src: captions file line 7: control character U+0000")


def test_a_text_clip_with_a_control_character_is_refused(tmp_path: Path) -> None:
    spec = write(tmp_path, small({"type": "text", "text": "esc\u001b[31m", "length": 1}))
    refused(cli("validate", str(spec)), "tracks[0].clips[0].text: holds control character U+001B")


@pytest.mark.parametrize("where", ["inline", "file"])
def test_an_infinite_word_end_is_refused_at_its_path(tmp_path: Path, where: str) -> None:
    word = '{"text": "a", "start": 0, "end": 1e999}'
    if where == "inline":
        clip, needle = f'{{"type": "captions", "words": [{word}]}}', "tracks[0].clips[0].words[0].end: "
    else:
        write(tmp_path, f"[{word}]", "w.json")
        clip = '{"type": "captions", "src": "w.json"}'
        needle = "tracks[0].clips[0].src: captions file: word 0 has a start or end that is not a finite number"
    spec = write(tmp_path, f'{{"output": {{"width": 320, "height": 240}}, "tracks": [{{"clips": [{clip}]}}]}}')
    for verb in (["validate", str(spec)], ["render", str(spec), "-o", str(tmp_path / "o.mp4")]):
        done = cli(*verb)
        refused(done, needle)
        assert "finite" in done.stderr
