"""Property-based fuzzing of everything a tenant hands framefleet (issue 8): specs and media files.

Whatever comes in, the command ends with exit 0, 1 or 2 and a message, never a traceback, and a render
that did not succeed leaves no output and no ``.part`` file. Deterministic (a fixed derivation of the
examples, no example database) and bounded, so it runs in ``make test`` in well under a minute.

- Specs: valid examples, mutated 1-3 times where the spec's JSON Schema says fields are (and where it
  does not): wrong types, huge, negative and non-finite numbers, odd Unicode (lone surrogates, controls,
  ``%d``, placeholders), deep nesting, unknown keys, removed keys. Fed to ``framefleet validate``.
- Media: a tiny valid MP4, PNG and WAV with a few bytes flipped or the tail cut off, rendered.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framefleet.compositor.spec import json_schema
from tests.mediatools import ffmpeg
from tests.security.clitools import assert_no_crash, run_cli

FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])

# --- specs ---------------------------------------------------------------------------------------------------

BASES: list[dict[str, Any]] = [
    {"output": {"width": 64, "height": 64, "thumbnail": {"at": 0.5}},
     "tracks": [{"clips": [{"type": "color", "gradient": {"from": "red", "to": "#00f", "angle": 45}, "length": 1},
                           {"type": "text", "text": "Hi {{name}}", "length": 1, "start": 0.5,
                            "style": {"size": 20, "stroke_width": 2, "background": "#0008"},
                            "transition": {"in": "fade", "duration": 0.2}}]}],
     "merge": {"name": "there"}},
    {"output": {"width": 64, "height": 64, "format": "webm", "duration": 2},
     "tracks": [{"clips": [{"type": "video", "src": "red.mp4", "trim": 0.5, "loop": True, "effect": "zoom_in"},
                           {"type": "audio", "src": "voice.wav", "trim": 1, "fade_in": 0.2, "role": "voice"}]}],
     "soundtrack": {"src": "music.wav", "trim": 0.2, "duck": True}},
    {"output": {"preset": "square", "resolution": "480p", "fps": 12, "width": 64, "height": 64},
     "tracks": [{"clips": [{"type": "image", "src": "small_red.png", "length": 1, "fit": "contain",
                            "offset": {"x": 0.1, "y": -0.1}}]},
                {"clips": [{"type": "captions", "style": "karaoke", "max_words": 2,
                            "words": [{"text": "one", "start": 0, "end": 0.4}, {"text": "two", "start": 0.4,
                                                                                   "end": 0.9}]}]}]},
    {"output": {"width": 64, "height": 64, "format": "mp3"},
     "tracks": [{"clips": [{"type": "captions", "src": "words.srt"}, {"type": "audio", "src": "music.wav"}]}]},
]

#: The object each key of a spec holds, to look its fields up in the schema.
OBJECT_OF_KEY = {"output": "Output", "soundtrack": "Soundtrack", "style": "TextStyle", "gradient": "Gradient",
                 "transition": "Transition", "offset": "Offset", "thumbnail": "Thumbnail"}
CLIP_DEFS = {"video": "VideoClip", "image": "ImageClip", "text": "TextClip", "captions": "CaptionsClip",
             "audio": "AudioClip", "color": "ColorClip"}


def _schema_facts() -> tuple[dict[str, list[str]], list[Any]]:
    """Each object's field names, and every enumerated value anywhere in the schema."""
    defs = json_schema()["$defs"]
    fields = {name: sorted(d.get("properties", {})) for name, d in defs.items()}
    enums: list[Any] = []
    stack: list[Any] = list(defs.values())
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            enums += node.get("enum", [])
            stack += list(node.values())
        elif isinstance(node, list):
            stack += node
    return fields, sorted(set(enums), key=str)


FIELDS, ENUMS = _schema_facts()

ODD_TEXT = ["", " ", "\udc80", "a\ud800b", "\x00", "line\nbreak\r\x85\x1c", "%d%n%s%x", "{{name}}", "{{missing}}",
            "../../../etc/passwd", "file:///etc/passwd", "/dev/zero", "https://127.0.0.1/x.mp4", "s3://b/k",
            "job:nope", "ftp://x/y", "😀" * 3, "\u202eevil", "x" * 6000, "#", "#12345", "nan", "inf", "-0", "1e999",
            "red.mp4", "music.wav", "words.srt", "small_red.png", "DejaVu Sans", "Nope Font", "x.ttf"]
#: Raw JSON number text, put into the document verbatim (Python cannot write most of it).
RAW_NUMBERS = ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "1e308", "-0.0", "4.9e-324", "9" * 400,
               "1" + "0" * 40]
DEEP = [40, 1000, 100_000]

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1, 0.0001, 2, 10, 61, 3600, 3601, 1e6, 1e9, 2**31, 2**63, -1e9, 1e300]),
    st.sampled_from(ODD_TEXT),
    st.text(max_size=12),
    st.sampled_from(ENUMS),
    st.sampled_from([f"__RAW_{i}__" for i in range(len(RAW_NUMBERS))]),
    st.sampled_from([f"__DEEP_{i}__" for i in range(len(DEEP))]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.sampled_from(["type", "src", "x", "length",
                                                                                        "text", "start", "end"]),
                                                                       inner, max_size=3)), max_leaves=6)


def _slots(doc: Any, key: str = "") -> list[tuple[Any, Any, str]]:
    """Every (container, key-or-index, its key in the parent) in the document."""
    found: list[tuple[Any, Any, str]] = []
    stack: list[tuple[Any, str]] = [(doc, key)]
    while stack:
        node, name = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            found.append((node, k, name))
            stack.append((v, k if isinstance(k, str) else name))
    return found


def _fields_of(container: dict[str, Any], name: str) -> list[str]:
    kind = container.get("type")
    if isinstance(kind, str) and kind in CLIP_DEFS:
        return FIELDS[CLIP_DEFS[kind]]
    if name in OBJECT_OF_KEY:
        return FIELDS[OBJECT_OF_KEY[name]]
    if name == "words":
        return FIELDS["Word"]
    return FIELDS["Track"] if name == "tracks" else ["output", "tracks", "merge", "soundtrack"]


#: Values of the right kind at odd places: what a spec that validates may still hold.
plausible = st.one_of(st.sampled_from(ENUMS), st.sampled_from([0, 0.01, 0.5, 1, 2.9, 3, 4, 10, 60, 359.9, 1e6]),
                      st.sampled_from(ODD_TEXT), st.booleans())


@st.composite
def hostile_specs(draw: st.DrawFn, *, mild: bool = False) -> str:
    """A valid example spec, mutated, as the JSON text a hostile tenant could send. ``mild``: one value
    changed to one of the right kind, so most specs still validate and reach the render."""
    doc = json.loads(json.dumps(draw(st.sampled_from(BASES))))
    for _ in range(1 if mild else draw(st.sampled_from([1, 1, 1, 2, 3]))):
        slots = _slots(doc)
        leaves = [slot for slot in slots if not isinstance(slot[0][slot[1]], dict | list)]
        # mostly one value changed in a spec otherwise valid: that reaches the plan and the render's rules
        container, key, name = draw(st.sampled_from(leaves if leaves and (mild or draw(st.booleans())) else slots))
        if mild:
            container[key] = draw(plausible)
            continue
        action = draw(st.sampled_from(["set", "set", "field", "field", "delete", "unknown"]))
        if action == "set":
            container[key] = draw(values)
        elif action == "delete" and isinstance(container, dict):
            del container[key]
        elif isinstance(container, dict):
            known = _fields_of(container, name)
            field = draw(st.sampled_from(known)) if action == "field" else draw(st.text(min_size=1, max_size=8))
            container[field] = draw(values)
    text = json.dumps(doc)  # lone surrogates come out as \udc80 escapes, as a hostile file would hold them
    for i, raw in enumerate(RAW_NUMBERS):
        text = text.replace(f'"__RAW_{i}__"', raw)
    for i, depth in enumerate(DEEP):
        text = text.replace(f'"__DEEP_{i}__"', "[" * depth + "]" * depth)
    return text


@pytest.fixture(scope="module")
def sources(media: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the examples' sources, where each fuzzed spec is written."""
    folder = tmp_path_factory.mktemp("fuzz_specs")
    for name in ("red.mp4", "voice.wav", "music.wav", "small_red.png", "words.srt"):
        shutil.copy(media / name, folder / name)
    return folder


@settings(FUZZ, max_examples=250)
@given(text=hostile_specs())
def test_validate_never_crashes_on_a_hostile_spec(text: str, sources: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMEFLEET_CACHE_DIR", str(sources / "cache"))
    spec = sources / "spec.json"
    spec.write_text(text, encoding="utf-8")
    code, out = run_cli(capsys, "validate", str(spec))
    assert_no_crash(code, out)
    assert code in (0, 2), out  # validate answers, it has no job to fail


@settings(FUZZ, max_examples=25)
@given(text=hostile_specs(mild=True))
def test_render_never_crashes_on_a_hostile_spec(text: str, sources: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """What validate accepts must render or fail cleanly. Tight limits keep every render to seconds."""
    for name, value in {"CACHE_DIR": str(sources / "cache"), "MAX_DURATION": "3", "MAX_PIXELS": str(128 * 128),
                        "MAX_WIDTH": "128", "MAX_HEIGHT": "128"}.items():
        monkeypatch.setenv(f"FRAMEFLEET_{name}", value)
    spec = sources / "render.json"
    spec.write_text(text, encoding="utf-8")
    out = Path(tempfile.mkdtemp(dir=tmp_path))  # one folder per example (examples may repeat)
    named = re.search(r'"format": "(mp4|webm|gif|mp3)"', text)  # -o must carry the format's suffix
    output = out / f"o.{named.group(1) if named else 'mp4'}"
    code, said = run_cli(capsys, "render", str(spec), "-q", "--timeout", "60", "-o", str(output))
    assert_no_crash(code, said)
    left = sorted(p.name for p in out.iterdir())
    assert code == 0 or left == [], (left, said)  # a failed render leaves nothing
    assert not [n for n in left if n.endswith(".part")], left


# --- media ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A valid half-second MP4 (picture and sound), a PNG and a WAV, small enough to mutate byte by byte."""
    folder = tmp_path_factory.mktemp("fuzz_media")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=32x32:r=10:d=0.5", "-f", "lavfi", "-i", "sine=f=440:r=8000:d=0.5",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           str(folder / "tiny.mp4"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=16x16", "-frames:v", "1", str(folder / "tiny.png"))
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:r=8000:d=0.3", "-ac", "1", str(folder / "tiny.wav"))
    return {name: (folder / name).read_bytes() for name in ("tiny.mp4", "tiny.png", "tiny.wav")}


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, list[tuple[float, int]], float | None]:
    """Which file, which bytes to flip (where, as a fraction of its length; with what) and where to cut it."""
    name = draw(st.sampled_from(["tiny.mp4", "tiny.png", "tiny.wav"]))
    flips = draw(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), max_size=6))
    cut = draw(st.one_of(st.none(), st.floats(0, 1, exclude_max=True)))
    return name, flips, cut


def _mutate(data: bytes, flips: list[tuple[float, int]], cut: float | None) -> bytes:
    out = bytearray(data)
    for where, mask in flips:
        out[int(where * len(out))] ^= mask
    return bytes(out[: int(cut * len(out))] if cut is not None else out)


CLIP_FOR = {"tiny.mp4": {"type": "video", "src": "{src}", "length": 0.5},
            "tiny.png": {"type": "image", "src": "{src}", "length": 0.5},
            "tiny.wav": {"type": "audio", "src": "{src}", "length": 0.5}}


@settings(FUZZ, max_examples=16)
@given(case=mutations())
def test_render_never_crashes_or_leaves_output_on_a_broken_file(case: tuple[str, list[tuple[float, int]], float | None],
                                                                 tiny_media: dict[str, bytes], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    name, flips, cut = case
    data = _mutate(tiny_media[name], flips, cut)
    work = Path(tempfile.mkdtemp(dir=tmp_path))  # one folder per example (examples may repeat)
    (work / "out").mkdir()
    monkeypatch.setenv("FRAMEFLEET_CACHE_DIR", str(work / "cache"))
    src = f"broken{Path(name).suffix}"
    (work / src).write_bytes(data)
    clip = {k: v.format(src=src) if isinstance(v, str) else v for k, v in CLIP_FOR[name].items()}
    clips = [clip] if clip["type"] != "audio" else [{"type": "color", "color": "#123", "length": 0.5}, clip]
    (work / "spec.json").write_text(json.dumps({"output": {"width": 32, "height": 32, "fps": 10,
                                                           "thumbnail": {"at": 0.2}},
                                                "tracks": [{"clips": clips}]}))
    output = work / "out" / "o.mp4"
    code, out = run_cli(capsys, "render", str(work / "spec.json"), "-q", "--timeout", "60", "-o", str(output))
    assert_no_crash(code, out)
    left = sorted(p.name for p in (work / "out").iterdir())
    if code == 0:
        assert output.stat().st_size > 0 and left == ["o.jpg", "o.mp4"], (left, out)
    else:
        assert left == [], (left, out)  # no partial output, no .part, no thumbnail
