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
    assert found["tracks[0].clips[0]"] == "give exactly one of words, src or of"
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
    assert "'in'" in text and "'from'" in text and "'in_'" not in text and "'from_'" not in text
    assert {"video", "image", "text", "captions", "audio", "color"} <= set(str(schema["$defs"]).split("'"))



def _voice(**request: object) -> dict:
    return {"type": "audio", "id": "vo", "src": {"generate": "speech_from_text", **request}}


def test_generation_requests_are_checked_at_their_paths_without_running() -> None:
    found = problems(spec(
        {"type": "image", "length": 2, "src": {"generate": "speech_from_text", "text": "hi"}},
        {"type": "audio", "src": {"generate": "speech_from_text", "format": "ogg"}},
        {"type": "audio", "src": {"generate": "dance", "text": "hi"}},
        {"type": "video", "src": {"generate": "lipsync", "video": {"generate": "media", "src": "a.mp4"},
                                  "audio": "ftp://x/a.wav"}},
        {"type": "audio", "src": {"text": "no type"}},
        {"type": "audio", "src": "generate:0123"},
    ))
    assert found == {
        "tracks[0].clips[0].src.generate": "speech_from_text cannot make the source of an image clip "
                                           "(use image_from_text, media)",
        "tracks[0].clips[1].src.format": "must be mp3 or wav",
        "tracks[0].clips[1].src.text": "required for speech_from_text",
        "tracks[0].clips[2].src.generate": "unknown generation type 'dance' (one of speech_from_text, captions, "
                                           "image_from_text, text, video_from_text, video_from_image, lipsync, media)",
        "tracks[0].clips[3].src.video": "a generation request cannot take another generation as its source: "
                                        "generate it in its own clip",
        "tracks[0].clips[3].src.audio": "unsupported source scheme 'ftp' (use https://, s3://, job:, file:// or "
                                        "a path)",
        "tracks[0].clips[4].src": 'must be a path or URL, or a generation request {"generate": TYPE, ...}',
        "tracks[0].clips[5].src": "unsupported source scheme 'generate' (use https://, s3://, job:, file:// or "
                                  "a path)",
    }


def test_captions_of_a_clip_need_its_id_and_sound_and_generations_are_capped() -> None:
    found = problems(spec(_voice(text="Hi"), {"type": "captions", "of": "nobody"},
                          {"type": "color", "id": "bg", "color": "#000000", "length": 1},
                          {"type": "captions", "of": "bg"}, {"type": "audio", "id": "vo", "src": "a.wav"}))
    assert found == {"tracks[0].clips[1].of": "no clip has the id 'nobody'",
                     "tracks[0].clips[3].of": "'bg' is a color clip: captions need an audio or video clip",
                     "tracks[0].clips[4].id": "'vo' is already the id of tracks[0].clips[0]"}
    many = spec(*[_voice(text=f"line {n}") | {"id": f"v{n}"} for n in range(3)])
    assert problems(many, Limits(max_generations=2)) == {"tracks": "3 generations is over the limit of 2"}
    assert problems(spec({"type": "captions", "of": "x", "words": []})) == {
        "tracks[0].clips[0]": "give exactly one of words, src or of"}


def test_merge_fields_fill_generation_requests_and_one_request_is_one_generation() -> None:
    from framefleet.compositor.generated import Generated
    from framefleet.compositor.ingredients import first_needs

    raw = spec(_voice(text="Hola {{name}}", voice="{{voice}}"),
               {"type": "audio", "src": {"voice": "es", "text": "Hola Ana", "generate": "speech_from_text"}},
               {"type": "captions", "of": "vo"})
    raw["merge"] = {"name": "Ana", "voice": "es"}
    loaded = load_spec(raw)
    src = loaded.tracks[0].clips[0].src
    assert isinstance(src, Generated) and src.request == {"generate": "speech_from_text", "text": "Hola Ana",
                                                          "voice": "es"}
    (need,) = first_needs(loaded)  # the same request twice, keys in another order: made once
    assert need.payload == {"text": "Hola Ana", "voice": "es"}
    assert need.paths == ("tracks[0].clips[0].src", "tracks[0].clips[1].src")
    assert problems(spec(_voice(text="Hi {{who}}"))) == {"tracks[0].clips[0].src.text":
                                                         "no merge value for placeholder {{who}}"}
