"""The compiled ffmpeg command, checked as arguments: no process runs here."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from framefleet.compositor import encoders, graph
from framefleet.compositor.layers.base import Still
from framefleet.compositor.plan import build_plan
from framefleet.compositor.probe import MediaInfo
from framefleet.compositor.spec import load_spec

VIDEO = MediaInfo(duration=10.0, width=1920, height=1080, has_video=True, has_audio=True)
CPU = encoders.Encoding("mp4", "libx264", "aac", {"preset": "veryfast", "crf": 23})


def compile_spec(raw: dict, stills: dict | None = None) -> graph.Command:
    spec = load_spec(raw)
    plan = build_plan(spec, media={"a.mp4": VIDEO, "m.mp3": MediaInfo(duration=3.0, has_audio=True)},
                      files={"a.mp4": Path("/m/a.mp4"), "m.mp3": Path("/m/m.mp3")})
    return graph.compile_command(plan, stills=stills or {}, encoding=CPU, output=Path("/o/out.mp4"))


def test_one_video_clip_compiles_to_a_single_graph() -> None:
    cmd = compile_spec({"output": {"preset": "tiktok", "loudness": None},
                        "tracks": [{"clips": [{"type": "video", "src": "a.mp4", "trim": 1, "length": 2}]}]})
    args = list(cmd.args)
    assert args[:8] == ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-progress", "pipe:1", "-y"]
    args = args[8:]
    assert args[:4] == ["-f", "lavfi", "-i", "color=c=0x000000:s=1080x1920:r=30/1:d=3.000000"]
    # picture and sound are separate inputs, each blind to the other stream
    # the picture opens one frame early; the fps filter starts exactly at the trim point
    assert args[4:10] == ["-an", "-ss", "0.966667", "-t", "2.100000", "-i"]
    assert args[11:17] == ["-ss", "1.000000", "-t", "2.066667", "-vn", "-i"]
    tail = args[args.index("-map"):]
    for pair in (["-f", "mp4"], ["-preset", "veryfast"], ["-crf", "23"], ["-vcodec", "libx264"], ["-acodec", "aac"]):
        assert any(tail[i:i + 2] == pair for i in range(len(tail))), pair
    assert tail[-1] == "/o/out.mp4"
    assert "-filter_complex" in args and args.count("-i") == 3
    assert "[1:v]fps=fps=30/1:start_time=0.033333[" in cmd.graph
    assert "crop=608:1080:656:0" in cmd.graph and "scale=1080:1920:flags=bicubic" in cmd.graph
    assert "setpts=N+0" in cmd.graph and "overlay=eof_action=pass:format=yuv420:x=0:y=0" in cmd.graph
    assert "[2:a]aresample=48000" in cmd.graph and "loudnorm" not in cmd.graph


def test_the_graph_goes_through_a_script_file() -> None:
    cmd = compile_spec({"tracks": [{"clips": [{"type": "color", "color": "#ff0000", "length": 1}]}]})
    argv = cmd.argv(Path("/tmp/graph.txt"), "ffmpeg")
    assert argv[0] == "ffmpeg" and "-filter_complex" not in argv
    assert argv[argv.index("-filter_complex_script") + 1] == "/tmp/graph.txt"
    assert "color=c=0xff0000ff:s=1920x1080:r=30/1:d=1.000000" in argv


def test_the_same_clip_twice_is_decoded_once_and_split() -> None:
    clip = {"type": "video", "src": "a.mp4", "length": 1}
    cmd = compile_spec({"output": {"loudness": None},
                        "tracks": [{"clips": [clip]}, {"clips": [{**clip, "start": 0, "scale": 0.5}]}]})
    assert list(cmd.args).count("/m/a.mp4") == 2  # once for the picture, once for the sound
    assert "[1:v]split=2" in cmd.graph and "[2:a]asplit=2" in cmd.graph


def test_ducking_and_loudness() -> None:
    cmd = compile_spec({"output": {"loudness": -16},
                        "tracks": [{"clips": [{"type": "audio", "src": "a.mp4"}]}],
                        "soundtrack": {"src": "m.mp3", "duck": True, "volume": 0.3}})
    assert "sidechaincompress" in cmd.graph and "loudnorm=I=-16:LRA=11:TP=-1.5" in cmd.graph
    assert "apad=whole_dur=10.000000" in cmd.graph and "volume=0.3000" in cmd.graph
    stream_loop = list(cmd.args).index("-stream_loop")
    assert cmd.args[stream_loop + 1] == "-1" and "/m/m.mp3" in cmd.args[stream_loop:stream_loop + 7]


def test_text_still_is_looped_and_placed_with_a_margin(tmp_path: Path) -> None:
    raw = {"output": {"preset": "tiktok", "fps": 25}, "tracks": [{"clips": [
        {"type": "text", "text": "Hi", "start": 1, "length": 2, "position": "top"}]}]}
    cmd = compile_spec(raw, {"tracks[0].clips[0]": Still(Path("/w/t.png"), 200, 100)})
    assert "loop=loop=49:size=1:start=0" in cmd.graph and "setpts=N+25" in cmd.graph
    assert "settb=1/25" in cmd.graph and "x=440:y=96" in cmd.graph


def test_canvas_fps_is_exact() -> None:
    from framefleet.compositor.canvas import Canvas
    from framefleet.compositor.spec import Output

    assert Canvas.from_output(Output(fps=29.97)).fps == Fraction(2997, 100)
