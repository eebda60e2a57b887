from __future__ import annotations

from pathlib import Path

import pytest

from framefleet.compositor import captions as cap
from framefleet.errors import BadInput

W = cap.TimedWord


def test_srt_and_vtt_cues_become_phrases(tmp_path: Path) -> None:
    srt = tmp_path / "a.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,000\nHello <i>big</i> world\n\n"
                   "2\n00:00:03,000 --> 00:00:04,500\nBye\n")
    phrases = cap.load_file(srt)
    assert [[w.text for w in p] for p in phrases] == [["Hello", "big", "world"], ["Bye"]]
    assert phrases[0][0].start == 1.0 and phrases[0][-1].end == pytest.approx(2.0)
    vtt = tmp_path / "a.vtt"
    vtt.write_text("WEBVTT\n\n00:01.000 --> 00:02.000 align:center\nHi there\n")
    assert [w.text for w in cap.load_file(vtt)[0]] == ["Hi", "there"]


def test_json_words_and_whisper_segments(tmp_path: Path) -> None:
    f = tmp_path / "w.json"
    f.write_text('{"segments": [{"words": [{"word": " Hi", "start": 0, "end": 0.5}]}]}')
    assert cap.load_file(f) == [[W("Hi", 0, 0.5)]]
    f.write_text('[{"text": "x"}]')
    with pytest.raises(BadInput):
        cap.load_file(f)


def test_grouping_breaks_on_count_pause_and_sentence_end() -> None:
    words = [W("a", 0, .2), W("b", .2, .4), W("c.", .4, .6), W("d", .6, .8), W("e", 2.0, 2.2)]
    groups = cap.group_phrases(words, max_words=4)
    assert [[w.text for w in g] for g in groups] == [["a", "b", "c."], ["d"], ["e"]]


def test_states_per_style() -> None:
    phrases = [[W("one", 0, .5), W("two", .5, 1.0)], [W("three", 3.0, 3.5)]]
    word = cap.states(phrases, "word")
    assert [(s.words, s.start, s.end) for s in word] == [(("one",), 0, .5), (("two",), .5, 1.0), (("three",), 3.0, 3.5)]
    pop = cap.states(phrases, "bold-pop")
    assert [(s.active, s.start, s.end) for s in pop] == [(0, 0, .5), (1, .5, 1.0), (0, 3.0, 3.5)]
    clean = cap.states(phrases, "clean", uppercase=True)
    assert clean[0].words == ("ONE", "TWO") and clean[0].active == -1
    assert cap.states(phrases, "none") == []


def test_short_gaps_hold_the_caption() -> None:
    phrases = [[W("a", 0, .5)], [W("b", .8, 1.0)]]
    assert cap.states(phrases, "clean")[0].end == .8


def test_webvtt_output() -> None:
    text = cap.webvtt([(1.5, 2.25, "Hello"), (0.0, 1.0, "First")])
    assert text.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.000\nFirst\n")
    assert "00:00:01.500 --> 00:00:02.250\nHello" in text


def test_every_cue_form_accepted_before_still_parses_and_a_malformed_time_is_refused(tmp_path: Path) -> None:
    vtt = tmp_path / "forms.vtt"
    vtt.write_bytes(
        "\ufeffWEBVTT\r\n\r\nNOTE a comment\r\n\r\nSTYLE\r\n::cue { color: red }\r\n\r\n"
        "intro\r\n01:02.5-->01:03.25 line:0 align:start\r\n<c.yellow>Hi</c> {\\an8}there <> x\r\n\r\n"
        "123:00:00.000 --> 123:00:01.000\r\nlate -->\r\n".encode()
    )
    phrases = cap.load_file(vtt)
    assert [[w.text for w in p] for p in phrases] == [["Hi", "there", "<>", "x"], ["late", "-->"]]
    assert phrases[0][0].start == pytest.approx(62.5) and phrases[0][-1].end == pytest.approx(63.25)
    assert phrases[1][0].start == 123 * 3600
    srt = tmp_path / "bad.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03 --> 00:00:04,000\nno fraction\n")
    with pytest.raises(BadInput, match="line 6: malformed time '00:00:03'"):
        cap.load_file(srt)


def test_webvtt_output_keeps_each_cue_on_one_line_and_escapes_markup() -> None:
    text = cap.webvtt([(0.0, 1.0, "a\n\n00:00:05.000 --> 00:01:00.000\n<b>x</b> & y")])
    assert text.count("-->") == 1
    assert text.endswith("00:00:00.000 --> 00:00:01.000\n"
                         "a 00:00:05.000 --&gt; 00:01:00.000 &lt;b&gt;x&lt;/b&gt; &amp; y\n")
