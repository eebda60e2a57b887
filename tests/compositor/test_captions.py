from __future__ import annotations

import subprocess
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


def test_character_references_are_decoded_when_read(tmp_path: Path) -> None:
    srt = tmp_path / "a.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:03,000\nFish &amp; chips &lt;b&gt; 10&nbsp;km &#x1F525; caf&#233;"
                   " &bogus; &#7; &#99999999; AT&T\n")
    words = [w.text for w in cap.load_file(srt)[0]]
    assert words == ["Fish", "&", "chips", "<b>", "10\u00a0km", "🔥", "café", "&bogus;", "\ufffd", "&#99999999;",
                     "AT&T"]
    vtt = tmp_path / "a.vtt"
    vtt.write_text("WEBVTT\n\n00:01.000 --> 00:02.000\n&lrm;Tom &amp;&amp; Jerry&gt;\n")
    assert [w.text for w in cap.load_file(vtt)[0]] == ["\u200eTom", "&&", "Jerry>"]


def test_references_decode_in_linear_time_without_errors() -> None:
    digits = "&#" + "9" * 100_000 + ";"
    assert cap.decode_entities(digits) == digits  # not one int() of 100,000 digits
    assert cap.decode_entities("&" * 200_000 + "amp;") == "&" * 200_000


def test_inline_webvtt_timestamps_are_word_timings(tmp_path: Path) -> None:
    vtt = tmp_path / "k.vtt"
    vtt.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:05.000\n"
                   "<v Roger><c.yellow>One</c> <00:00:02.000>two <00:00:03.500><b>three</b> four"
                   " <00:00:03.000>five <00:00:09.000>six</v>\n")
    words = cap.load_file(vtt)[0]
    assert [w.text for w in words] == ["One", "two", "three", "four", "five", "six"]
    assert (words[0].start, words[0].end) == (1.0, 2.0)
    assert (words[1].start, words[1].end) == (2.0, 3.5)
    # out of order (3.0) and past the cue's end (9.0) stamps are ignored: three to six share 3.5-5.0
    assert words[2].start == 3.5 and words[-1].end == 5.0 and words[3].start < words[4].start < words[5].start
    karaoke = cap.states([words], "karaoke")
    assert [(s.active, s.start) for s in karaoke][:3] == [(0, 1.0), (1, 2.0), (2, 3.5)]


def test_styling_tags_are_dropped_and_split_words_rejoin(tmp_path: Path) -> None:
    srt = tmp_path / "s.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:02,000\n{\\an8}<font color=\"#ff0\">Bo</font><u>ld</u> <i>move</i>"
                   " <00:00:01.000>now\n")
    words = cap.load_file(srt)[0]
    assert [w.text for w in words] == ["Bold", "move", "now"] and words[-1].start == 1.0


def test_the_sidecar_is_valid_webvtt_and_reads_back_the_same(tmp_path: Path) -> None:
    texts = ["a & b", "<i>not a tag</i>", "x --> y", "10\u00a0km", "\u200fשלום &amp;", "two\nlines", "🔥 日本語"]
    cues = [(float(n), n + 0.5, text) for n, text in enumerate(texts)]
    document = cap.webvtt(cues)
    blocks = document.split("\n\n")
    assert blocks[0] == "WEBVTT" and len([b for b in blocks[1:] if b]) == len(texts)
    for block in blocks[1:]:
        if block:
            number, timing, payload = block.strip("\n").split("\n")
            assert number.isdigit() and "-->" in timing and "-->" not in payload and "<" not in payload
            assert all(payload.startswith(("amp;", "lt;", "gt;", "nbsp;", "lrm;", "rlm;"), i + 1)
                       for i, ch in enumerate(payload) if ch == "&")
    sidecar = tmp_path / "out.vtt"
    sidecar.write_text(document, encoding="utf-8")
    read = [" ".join(w.text for w in phrase) for phrase in cap.load_file(sidecar)]
    assert read == [cap.clean_word(text) for text in texts]
    done = subprocess.run(["ffmpeg", "-v", "error", "-i", str(sidecar), "-f", "srt", "-"], capture_output=True,
                          text=True, check=False, timeout=60)
    timings = [line for line in done.stdout.splitlines() if line.startswith("00:00:")]
    assert done.returncode == 0 and len(timings) == len(texts) and "a & b" in done.stdout  # ffmpeg reads it too
