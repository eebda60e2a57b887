"""Text in every script, checked by pixel: colour emoji, no missing-glyph boxes, bidi order, CJK wrapping,
caption highlights in right-to-left text, and sizes measured without drawing equal to the drawn ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from framefleet import doctor
from framefleet.compositor import bidi, fonts, measure
from framefleet.compositor.spec import CaptionsClip, load_spec
from framefleet.compositor.text import (
    Look,
    Run,
    caption_image,
    draw_runs,
    find_font,
    layout_runs,
    text_image,
    text_paragraphs,
)
from framefleet.config import Limits

WHITE, RED, GREEN, YELLOW = (255, 255, 255, 255), (255, 0, 0, 255), (0, 255, 0, 255), (255, 220, 0, 255)
CAP = 4 * 3840 * 2160
REGULAR = find_font("DejaVu Sans")
BOLD = find_font("DejaVu Sans", True)
#: Latin, Greek and Cyrillic only: every other script comes from the fallback chain.
LATIN_ONLY = find_font("Noto Sans")
#: A code point no font has (plane 16 private use): the chosen font draws its missing-glyph box.
NO_GLYPH = "\U0010fffd"
SAMPLES = {
    "cjk": "日本語のキャプション한국어中文",
    "arabic": "مرحبابالعالم",
    "hebrew": "שלוםעולם",
    "devanagari": "नमस्तेदुनिया",
    "thai": "สวัสดีชาวโลก",
}


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGBA")).astype(int)


def _text(text: str, *, size: int = 64, width: int = 4000, font: str = REGULAR) -> Image.Image:
    return text_image(text, font_file=font, size=size, fill=WHITE, look=Look(max_width=width), max_pixels=CAP)


def _columns(image: Image.Image, color: tuple[int, int, int, int]) -> np.ndarray:
    """The x of every opaque pixel of ``color`` (within a small tolerance)."""
    px = _pixels(image)
    near = (np.abs(px[..., :3] - np.array(color[:3])).max(axis=2) < 40) & (px[..., 3] > 200)
    return np.nonzero(near)[1]


def test_the_fallback_chain_comes_from_fontconfig() -> None:
    chain = fonts.chain(REGULAR)
    assert chain.faces[0].path == REGULAR
    emoji = chain.face(ord("🔥"))
    assert emoji.color and "Emoji" in emoji.path
    assert "CJK" in chain.face(ord("語")).path
    assert "Thai" in chain.face(ord("ส")).path and "Devanagari" in chain.face(ord("न")).path
    assert chain.face(ord("A")) is chain.faces[0]


def test_emoji_carry_colour() -> None:
    image = _text("Hello 🔥🚀 émoji")
    px = _pixels(image)
    saturated = (px[..., :3].max(axis=2) - px[..., :3].min(axis=2) > 120) & (px[..., 3] > 200)
    xs = np.nonzero(saturated)[1]
    assert saturated.sum() > 500  # white text alone has no saturated pixel; a box would be white
    hello = _text("Hello").width
    assert xs.min() > hello * 0.9 and xs.max() < image.width - _text("émoji").width * 0.9  # where the emoji are
    # the colour font has one size (109 px): drawn there and scaled, an emoji is as tall as the text
    small, large = _text("🔥", size=40), _text("🔥", size=160)
    assert 3.5 < large.width / small.width < 4.5 and abs(small.height - _text("A", size=40).height) <= 12


@pytest.mark.parametrize("script", sorted(SAMPLES))
def test_no_character_draws_as_the_missing_glyph_box(script: str) -> None:
    assert "NotoSans-" in LATIN_ONLY
    box = _pixels(_text(NO_GLYPH, font=LATIN_ONLY))
    assert (box[..., 3] > 0).sum() > 100  # the box itself is drawn: the comparison means something
    for ch in SAMPLES[script]:
        picture = _pixels(_text(ch, font=LATIN_ONLY))
        assert picture.shape != box.shape or not np.array_equal(picture, box), f"{ch!r} drew as a box"


def test_rtl_paragraph_puts_a_trailing_latin_word_at_the_left() -> None:
    font = text_paragraphs("x", font_file=REGULAR, size=64, fill=WHITE)[0][0].font
    runs = [Run("שלום", font, WHITE), Run("עולם", font, WHITE), Run("ABC", font, RED)]
    image = draw_runs([runs], Look(max_width=4000), max_pixels=CAP)
    red, white = _columns(image, RED), _columns(image, WHITE)
    assert red.size and white.size and red.max() < white.min()  # bidi: ABC ends the line on the left


def test_hebrew_inside_a_latin_line_is_reversed() -> None:
    font = text_paragraphs("x", font_file=REGULAR, size=64, fill=WHITE)[0][0].font
    runs = [Run("Hello", font, WHITE), Run("שלום", font, RED), Run("עולם", font, GREEN), Run("bye", font, WHITE)]
    image = draw_runs([runs], Look(max_width=4000), max_pixels=CAP)
    red, green, white = _columns(image, RED), _columns(image, GREEN), _columns(image, WHITE)
    assert white.min() < green.min() and green.max() < red.min() and red.max() < white.max()


def test_arabic_digits_and_letters_in_bidi_order() -> None:
    font = text_paragraphs("x", font_file=REGULAR, size=64, fill=WHITE)[0][0].font
    runs = [Run("مرحبا", font, WHITE), Run("2024", font, RED)]
    image = draw_runs([runs], Look(max_width=4000), max_pixels=CAP)
    assert _columns(image, RED).max() < _columns(image, WHITE).min()


def test_cjk_wraps_within_max_width() -> None:
    text = "日本語のキャプションはスペースがないので長い行は文字の間で折り返す必要があります。"
    image = _text(text, size=64, width=600)
    one_line = _text("日", size=64).height
    assert image.width <= 600 and image.height > 4 * one_line
    # a line never starts with the full stop: the last line holds it with a character before it
    assert _text("す。", size=64).width <= image.width


def test_layout_measures_what_is_drawn() -> None:
    look = Look(max_width=700, stroke_width=6, stroke_fill=(0, 0, 0, 255), padding=12)
    text = "Hello 🔥 שלום עולם 日本語のキャプションは長いので折り返す नमस्ते 2024"
    paragraphs = text_paragraphs(text, font_file=BOLD, size=72, fill=WHITE)
    layout = layout_runs(paragraphs, look)
    image = draw_runs(paragraphs, look, max_pixels=CAP)
    assert (layout.width, layout.height) == image.size and len(layout.lines) >= 3
    assert image.width <= 700


def _caption(words: list[str], active: int, style: str) -> Image.Image:
    return caption_image(words, active, style=style, font_file=BOLD, size=64, fill=WHITE, highlight=YELLOW,
                         look=Look(max_width=4000), max_pixels=CAP)


def test_karaoke_highlight_lands_on_the_spoken_word_in_rtl() -> None:
    words = ["אחת", "שתיים", "שלוש"]
    first = _caption(words, 0, "karaoke")
    lit, plain = _columns(first, YELLOW), _columns(first, WHITE)
    assert lit.size and lit.min() > plain.max()  # the first Hebrew word is the rightmost
    second = _caption(words, 1, "karaoke")
    lit, plain = _columns(second, YELLOW), _columns(second, WHITE)
    assert lit.min() > plain.max() and lit.max() - lit.min() > first.width * 0.5


def test_bold_pop_enlarges_the_spoken_word_in_rtl() -> None:
    image = _caption(["אחת", "שתיים", "שלוש"], 2, "bold-pop")
    lit, plain = _columns(image, YELLOW), _columns(image, WHITE)
    assert lit.size and lit.max() < plain.min()  # the last word is the leftmost


def test_chinese_caption_words_join_without_spaces() -> None:
    joined = _caption(["我们", "今天", "很好"], -1, "clean")
    assert joined.width == _caption(["我们今天很好"], -1, "clean").width
    assert _caption(["one", "two"], -1, "clean").width > _caption(["onetwo"], -1, "clean").width


def test_doctor_names_the_font_for_each_script_and_the_package_when_one_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checks = {c.name: c for c in doctor.script_checks()}
    assert all(checks[f"font {name}"].ok for name, _, _ in fonts.SCRIPTS)
    assert checks["font emoji"].detail == "NotoColorEmoji.ttf" and "CJK" in checks["font CJK"].detail
    # a machine with DejaVu alone: fontconfig itself, given a configuration that knows only that folder
    conf = tmp_path / "fonts.conf"
    conf.write_text(f"<?xml version='1.0'?><fontconfig><dir>{Path(REGULAR).parent}</dir>"
                    f"<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>")
    monkeypatch.setenv("FONTCONFIG_FILE", str(conf))
    fonts.fallbacks.cache_clear()
    try:
        bare = {c.name: c for c in doctor.script_checks()}
    finally:
        monkeypatch.undo()
        fonts.fallbacks.cache_clear()
    assert not bare["font emoji"].ok and "install fonts-noto-color-emoji" in bare["font emoji"].detail
    assert not bare["font CJK"].ok and "install fonts-noto-cjk" in bare["font CJK"].detail
    assert not bare["font Thai"].ok and bare["font Hebrew"].ok  # DejaVu has Hebrew
    assert all(not c.required for c in bare.values())


def test_every_install_route_installs_the_script_fonts() -> None:
    root = Path(__file__).resolve().parents[2]
    packages = {package for _, _, package in fonts.SCRIPTS}
    make = (root / "Makefile").read_text()
    system = make[make.index("SYSTEM_PACKAGES :="):make.index("TEST_PACKAGES :=")]
    for text in (system, (root / "deploy/Dockerfile").read_text(), (root / "deploy/Dockerfile.gpu").read_text()):
        assert packages <= set(text.replace("\\", " ").split())


def test_the_world_captions_example_is_valid_and_holds_emoji_and_rtl() -> None:
    root = Path(__file__).resolve().parents[2]
    spec = load_spec(json.loads((root / "examples/captions_world.json").read_text(encoding="utf-8")))
    words = " ".join(w.text for _, clip in spec.clips() if isinstance(clip, CaptionsClip) for w in clip.words or [])
    assert any(0x1F300 <= ord(ch) <= 0x1FAFF for ch in words)
    assert bidi.base_level("مرحبا") == 1 and "مرحبا" in words and "שלום" in words
    assert list(measure.spec_problems(spec, Limits())) == []
    assert "captions_world" in (root / "Makefile").read_text().split("EXAMPLES :=", 1)[1].splitlines()[0]
