from __future__ import annotations

import pytest

from framefleet.compositor.spec import apply_merge, json_path, json_schema, load_spec
from framefleet.config import Limits
from framefleet.errors import SpecError


def spec(*clips: dict, **output: object) -> dict:
    return {"output": dict(output), "tracks": [{"clips": list(clips)}]}


def problems(raw: dict, limits: Limits | None = None) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        load_spec(raw, limits=limits)
    return {p.path: p.message for p in info.value.problems}


def test_minimal_spec_gets_defaults() -> None:
    loaded = load_spec(spec({"type": "color", "color": "red", "length": 2}))
    assert loaded.output.fps == 30 and loaded.output.format == "mp4" and loaded.output.loudness == -14
    clip = loaded.tracks[0].clips[0]
    assert clip.color == "#ff0000ff" and clip.fit == "fill"


def test_every_error_is_reported_with_its_json_path() -> None:
    found = problems({"tracks": [
        {"clips": [{"type": "video", "src": "a.mp4", "length": -1}]},
        {"clips": [{"type": "text", "text": "hi"}, {"type": "sparkle"}, {"type": "image", "src": "x.png",
                                                                      "length": 1, "postion": "top"}]},
    ]})
    assert found["tracks[0].clips[0].length"] == "Input should be greater than 0"
    assert "unknown clip type 'sparkle'" in found["tracks[1].clips[1]"]
    assert found["tracks[1].clips[2].postion"] == "unknown field"
    assert "tracks[1].clips[0].length" not in found  # reported after the shape is valid


def test_missing_length_for_stills_is_named() -> None:
    found = problems(spec({"type": "text", "text": "hi"}, {"type": "image", "src": "a.png"}))
    assert found == {"tracks[0].clips[0].length": "required for text clips",
                     "tracks[0].clips[1].length": "required for image clips"}


def test_merge_fields_fill_strings_and_keep_types() -> None:
    raw = spec({"type": "text", "text": "Hi {{name}}!", "length": "{{len}}"})
    raw["merge"] = {"name": "Santiago", "len": 2.5}
    loaded = load_spec(raw)
    clip = loaded.tracks[0].clips[0]
    assert clip.text == "Hi Santiago!" and clip.length == 2.5


def test_unknown_placeholder_is_an_error_naming_it() -> None:
    found = problems(spec({"type": "text", "text": "Hi {{ who }}", "length": 1}))
    assert found == {"tracks[0].clips[0].text": "no merge value for placeholder {{who}}"}


def test_merge_does_not_touch_the_merge_object_itself() -> None:
    doc, errors = apply_merge({"merge": {"a": "{{b}}"}, "x": "{{a}}"}, {"a": "{{b}}"})
    assert doc["merge"] == {"a": "{{b}}"} and errors == []


@pytest.mark.parametrize(("output", "path"), [
    ({"width": 100000, "height": 1080}, "output.width"),
    ({"width": 1081, "height": 1920}, "output"),
    ({"fps": 240}, "output.fps"),
    ({"resolution": "8k"}, "output.resolution"),
])
def test_absurd_outputs_are_refused(output: dict, path: str) -> None:
    assert path in problems(spec({"type": "color", "color": "#000", "length": 1}, **output))


def test_limits_are_configurable() -> None:
    found = problems(spec({"type": "color", "color": "#000", "length": 30}), Limits(max_duration=10))
    assert "30.0 s is over the limit of 10 s" in found["tracks[0].clips[0].length"]


def test_bad_colour_and_source_scheme() -> None:
    found = problems(spec({"type": "color", "color": "#zzz", "length": 1},
                          {"type": "video", "src": "ftp://host/a.mp4"}))
    assert "not a colour" in found["tracks[0].clips[0].color"]
    assert "unsupported source scheme 'ftp'" in found["tracks[0].clips[1].src"]


def test_captions_need_words_or_src_and_words_ordered() -> None:
    found = problems(spec({"type": "captions"}, {"type": "captions", "words": [{"text": "a", "start": 2, "end": 1}]}))
    assert found["tracks[0].clips[0]"] == "give exactly one of words or src"
    assert found["tracks[0].clips[1].words[0]"] == "end is before start"


def test_transitions_longer_than_clip() -> None:
    found = problems(spec({"type": "color", "color": "#000", "length": 0.5,
                           "transition": {"in": "fade", "out": "fade", "duration": 0.4}}))
    assert found == {"tracks[0].clips[0].transition.duration": "transitions are longer than the clip"}


def test_json_path_drops_union_tags() -> None:
    assert json_path(("tracks", 1, "clips", 0, "video", "src")) == "tracks[1].clips[0].src"
    assert json_path(("output", "fps")) == "output.fps"


def test_schema_uses_the_names_users_write() -> None:
    schema = json_schema()
    text = str(schema)
    assert schema["title"] == "framefleet render spec"
    assert "'in'" in text and "'from'" in text and "in_" not in text
    assert {"video", "image", "text", "captions", "audio", "color"} <= set(str(schema["$defs"]).split("'"))

