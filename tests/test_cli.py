"""The ``framefleet`` command as users run it: a subprocess, exit codes, stdout and stderr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.proctree import alive, ffmpeg_under


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "framefleet", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=120, check=False)


def write(folder: Path, spec: dict[str, Any], name: str = "spec.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(spec))
    return path


def small(*clips: dict, **output: Any) -> dict[str, Any]:
    return {"output": {"width": 320, "height": 240, **output}, "tracks": [{"clips": list(clips)}]}


def test_render_prints_a_json_summary(media: Path, tmp_path: Path) -> None:
    spec = write(media, small({"type": "video", "src": "red.mp4", "length": 1}), "cli_ok.json")
    done = cli("render", str(spec), "-o", str(tmp_path / "out.mp4"))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["duration"] == 1.0 and summary["width"] == 320 and summary["encoder"] == "libx264"
    assert (tmp_path / "out.mp4").stat().st_size == summary["size_bytes"]
    assert "render" in done.stderr  # progress goes to stderr


@pytest.mark.parametrize(("clip", "needle"), [
    ({"type": "video", "src": "nope.mp4"}, "tracks[0].clips[0].src: file not found"),
    ({"type": "video", "src": "corrupt.mp4"}, "corrupt.mp4 cannot be decoded"),
    ({"type": "image", "src": "notes.txt", "length": 1}, "notes.txt"),
    ({"type": "hologram"}, "tracks[0].clips[0]: unknown clip type 'hologram'"),
    ({"type": "text", "text": "{{who}}", "length": 1}, "placeholder {{who}}"),
    ({"type": "color", "color": "#000", "length": -2}, "tracks[0].clips[0].length"),
])
def test_bad_input_exits_2_naming_the_problem(media: Path, tmp_path: Path, clip: dict, needle: str) -> None:
    spec = write(media, small(clip), f"bad_{tmp_path.name}.json")
    out = tmp_path / "out.mp4"
    for verb in (["validate", str(spec)], ["render", str(spec), "-o", str(out)]):
        done = cli(*verb)
        assert done.returncode == 2, (verb, done.stderr)
        assert needle in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no partial output


def test_absurd_size_and_invalid_json(media: Path, tmp_path: Path) -> None:
    spec = write(tmp_path, small({"type": "color", "color": "#000", "length": 1}, width=100000, height=100000))
    done = cli("validate", str(spec))
    assert done.returncode == 2 and "output.width: 100000 px is over the limit" in done.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    done = cli("validate", str(broken))
    assert done.returncode == 2 and "not valid JSON" in done.stderr


def test_validate_reports_every_error_at_once(tmp_path: Path) -> None:
    spec = write(tmp_path, {"tracks": [{"clips": [{"type": "video", "src": "a.mp4"},
                                                  {"type": "image", "src": "b.png", "length": 1}]}]})
    done = cli("validate", str(spec))
    assert done.returncode == 2
    assert "tracks[0].clips[0].src: file not found" in done.stderr
    assert "tracks[0].clips[1].src: file not found" in done.stderr


def test_validate_ok_prints_the_timeline(media: Path) -> None:
    spec = write(media, small({"type": "video", "src": "red.mp4", "trim": 0.5}), "cli_valid.json")
    done = cli("validate", str(spec))
    assert done.returncode == 0 and json.loads(done.stdout)["duration"] == 2.5


def test_schema_is_json_schema() -> None:
    done = cli("schema")
    assert done.returncode == 0 and json.loads(done.stdout)["title"] == "framefleet render spec"


def test_doctor_reports_encoders_and_nvenc() -> None:
    done = cli("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(done.stdout)}
    assert checks["encoder libx264"]["ok"] and checks["ffmpeg"]["ok"]
    assert "nvenc test encode" in checks and checks["nvenc test encode"]["required"] is False
    assert done.returncode == 0


def test_gpu_encoder_without_nvenc_fails_clearly(media: Path, tmp_path: Path) -> None:
    from framefleet.compositor.encoders import nvenc_works

    if nvenc_works():
        pytest.skip("this machine has a working NVENC")
    spec = write(media, small({"type": "video", "src": "red.mp4", "length": 0.5}, encoder="gpu"), "cli_gpu.json")
    done = cli("render", str(spec), "-o", str(tmp_path / "o.mp4"))
    assert done.returncode == 2 and "NVENC cannot encode on this machine" in done.stderr


def test_sigterm_kills_ffmpeg_and_leaves_no_output(media: Path, tmp_path: Path) -> None:
    spec = write(media, small({"type": "video", "src": "pattern.mp4", "loop": True, "length": 600,
                               "effect": "zoom_in"}, width=1280, height=720), "cli_long.json")
    out = tmp_path / "long.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "framefleet", "render", str(spec), "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not ffmpeg_under(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    started = ffmpeg_under(proc.pid)
    if not started:
        proc.kill()
        proc.communicate()
        pytest.fail("ffmpeg never started")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=15)
    assert proc.returncode != 0
    assert not [pid for pid in started if alive(pid)]  # killed before the render exited, not after
    assert list(tmp_path.iterdir()) == []
