"""The graph compiler, held to ffmpeg-python's argument lists (captured once, kept here as literals), and run
for real: the expected lists below are what ffmpeg-python 0.2.0 produced for the same graphs."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from framefleet.compositor import ffgraph as ff
from tests.mediatools import facts

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                  reason="ffmpeg is installed by `make system-test`")


def test_two_input_overlay() -> None:
    bg = ff.input("color=c=0x000000:s=1080x1920:r=30/1:d=3.000000", f="lavfi").video
    bg = bg.filter("format", "yuv420p").filter("trim", end_frame=90)
    clip = ff.input("/m/a.mp4", ss="1.000000", t="2.066667").video
    clip = clip.filter("fps", fps="30/1").filter("trim", end_frame=60).filter("scale", 1080, 1920, flags="bicubic")
    clip = clip.filter("settb", "1/30").filter("setpts", "N+0")
    top = ff.overlay(bg, clip, x="if(lt(t,1.000000),-1080+1080*clip((t-0)/1,0,1),0)", y=0, eof_action="pass",
                     format="yuv420")
    out = ff.output(top, "/o/out.mp4", f="mp4", vcodec="libx264", preset="veryfast", crf=23)
    assert out.get_args() == [
        "-f", "lavfi", "-i", "color=c=0x000000:s=1080x1920:r=30/1:d=3.000000",
        "-ss", "1.000000", "-t", "2.066667", "-i", "/m/a.mp4",
        "-filter_complex",
        "[0:v]format=yuv420p[s0];[s0]trim=end_frame=90[s1];[1:v]fps=fps=30/1[s2];[s2]trim=end_frame=60[s3];"
        "[s3]scale=1080:1920:flags=bicubic[s4];[s4]settb=1/30[s5];[s5]setpts=N+0[s6];"
        r"[s1][s6]overlay=eof_action=pass:format=yuv420:x=if(lt(t\,1.000000)\,-1080+1080*clip((t-0)/1\,0\,1)\,0)"
        ":y=0[s7]",
        "-map", "[s7]", "-f", "mp4", "-crf", "23", "-preset", "veryfast", "-vcodec", "libx264", "/o/out.mp4"]


def test_split_with_two_consumers_gets_as_many_outputs_as_are_used() -> None:
    split = ff.input("/m/a.mp4").video.filter_multi_output("split", "5")  # the count is the consumers'
    a = split[0].filter("scale", 640, 360)
    b = split[1].filter("scale", 320, 180).filter("format", "yuva420p").filter("lut", a="val*0.5000")
    assert ff.output(ff.overlay(a, b, x=10, y=10), "/o/out.mp4", f="mp4").get_args() == [
        "-i", "/m/a.mp4", "-filter_complex",
        "[0:v]split=2[s0][s1];[s0]scale=640:360[s2];[s1]scale=320:180[s3];[s3]format=yuva420p[s4];"
        "[s4]lut=a=val*0.5000[s5];[s2][s5]overlay=eof_action=repeat:x=10:y=10[s6]",
        "-map", "[s6]", "-f", "mp4", "/o/out.mp4"]


def test_ducked_audio_mix() -> None:
    voice = ff.input("/m/v.wav").audio.filter("aresample", 48000)
    voice = voice.filter("aformat", sample_fmts="fltp", channel_layouts="stereo")
    music = ff.input("/m/m.mp3", stream_loop=-1, t="10.066667").audio.filter("volume", "0.3000")
    split = voice.filter_multi_output("asplit")
    music = ff.filter([music, split[1]], "sidechaincompress", threshold=0.02, ratio=10, attack=20, release=400)
    mixed = ff.filter([split[0], music], "amix", inputs=2, duration="longest", normalize=0, dropout_transition=0)
    mixed = mixed.filter("apad", whole_dur="10.000000").filter("atrim", end="10.000000")
    mixed = mixed.filter("loudnorm", I="-16", TP=-1.5, LRA=11)
    assert ff.output(mixed, "/o/out.m4a", acodec="aac", audio_bitrate="192k").get_args() == [
        "-i", "/m/v.wav", "-stream_loop", "-1", "-t", "10.066667", "-i", "/m/m.mp3", "-filter_complex",
        "[0:a]aresample=48000[s0];[s0]aformat=channel_layouts=stereo:sample_fmts=fltp[s1];[s1]asplit=2[s2][s3];"
        "[1:a]volume=0.3000[s4];[s4][s3]sidechaincompress=attack=20:ratio=10:release=400:threshold=0.02[s5];"
        "[s2][s5]amix=dropout_transition=0:duration=longest:inputs=2:normalize=0[s6];"
        "[s6]apad=whole_dur=10.000000[s7];[s7]atrim=end=10.000000[s8];[s8]loudnorm=I=-16:LRA=11:TP=-1.5[s9]",
        "-map", "[s9]", "-b:a", "192k", "-acodec", "aac", "/o/out.m4a"]


def test_one_input_for_picture_and_sound() -> None:
    source = ff.input("/m/a.mp4", ss="0.500000", t="1.000000")
    video = source.video.filter("fps", fps="25/1")
    audio = source.audio.filter("afade", t="in", st=0, d="0.2500").filter("adelay", delays="500", all=1)
    out = ff.output(video, audio, "/o/out.mp4", f="mp4", vcodec="libx264", acodec="aac", movflags="+faststart",
                    pix_fmt="yuv420p")
    assert out.get_args() == [
        "-ss", "0.500000", "-t", "1.000000", "-i", "/m/a.mp4", "-filter_complex",
        "[0:v]fps=fps=25/1[s0];[0:a]afade=d=0.2500:st=0:t=in[s1];[s1]adelay=all=1:delays=500[s2]",
        "-map", "[s0]", "-map", "[s2]", "-f", "mp4", "-acodec", "aac", "-movflags", "+faststart",
        "-pix_fmt", "yuv420p", "-vcodec", "libx264", "/o/out.mp4"]


def test_main_output_and_thumbnail_merged() -> None:
    video = ff.input("color=c=red:s=320x240:r=30:d=2", f="lavfi").video.filter("format", "yuv420p")
    split = video.filter_multi_output("split")
    still = split[1].filter("trim", start_frame=15, end_frame=16).filter("scale", 160, -2, flags="bicubic")
    options: dict[str, ff.Option] = {"q:v": 3, "f": "image2"}
    thumb = ff.output(still, "/o/t.jpg", vframes=1, **options)
    main = ff.output(split[0], "/o/out.mp4", f="mp4", vcodec="libx264", crf=23)
    assert ff.merge_outputs(main, thumb).get_args() == [
        "-f", "lavfi", "-i", "color=c=red:s=320x240:r=30:d=2", "-filter_complex",
        "[0:v]format=yuv420p[s0];[s0]split=2[s1][s2];[s2]trim=end_frame=16:start_frame=15[s3];"
        "[s3]scale=160:-2:flags=bicubic[s4]",
        "-map", "[s1]", "-f", "mp4", "-crf", "23", "-vcodec", "libx264", "/o/out.mp4",
        "-map", "[s4]", "-f", "image2", "-q:v", "3", "-vframes", "1", "/o/t.jpg"]


def test_expressions_are_escaped_like_ffmpeg_python() -> None:
    left, top = "(W-W/(1.2))*clip(on/89,0,1)", "(H-H/(1.2))*0.5"
    image = ff.input("/w/p.png").video.filter("loop", loop=89, size=1, start=0)
    image = image.filter("perspective", eval="frame", interpolation="linear", x0=left, y0=top,
                         x1=f"({left}+W/(1.2))", y1=top, x2=left, y2="H", x3="W", y3="H")
    text = ff.input("/w/caps.txt", f="concat", safe=0).video
    text = text.filter("drawtext", text="it's 10:30, [live]; go", fontcolor="white@0.5")
    top_layer = ff.overlay(image, text, x="if(lt(t,1.0),0,1)", y="clip((t-1)/2,0,1)*(H-h)")
    assert ff.output(top_layer, "/o/out.gif", format="gif").get_args() == [
        "-i", "/w/p.png", "-f", "concat", "-safe", "0", "-i", "/w/caps.txt", "-filter_complex",
        r"[0:v]loop=loop=89:size=1:start=0[s0];[s0]perspective=eval=frame:interpolation=linear:"
        r"x0=(W-W/(1.2))*clip(on/89\,0\,1):x1=((W-W/(1.2))*clip(on/89\,0\,1)+W/(1.2)):"
        r"x2=(W-W/(1.2))*clip(on/89\,0\,1):x3=W:y0=(H-H/(1.2))*0.5:y1=(H-H/(1.2))*0.5:y2=H:y3=H[s1];"
        r"[1:v]drawtext=fontcolor=white@0.5:text=it\\\'s 10\\:30\, \[live\]\; go[s2];"
        r"[s1][s2]overlay=eof_action=repeat:x=if(lt(t\,1.0)\,0\,1):y=clip((t-1)/2\,0\,1)*(H-h)[s3]",
        "-map", "[s3]", "-f", "gif", "/o/out.gif"]


def test_gif_palette_and_special_output_options() -> None:
    split = ff.input("/m/a.mp4").video.filter("scale", 320, -2).filter_multi_output("split")
    palette = split[0].filter("palettegen", stats_mode="diff")
    gif = ff.filter([split[1], palette], "paletteuse", dither="bayer", bayer_scale=3)
    assert ff.output(gif, "/o/out.gif", f="gif", video_bitrate="1M", r=10).get_args() == [
        "-i", "/m/a.mp4", "-filter_complex",
        "[0:v]scale=320:-2[s0];[s0]split=2[s1][s2];[s1]palettegen=stats_mode=diff[s3];"
        "[s2][s3]paletteuse=bayer_scale=3:dither=bayer[s4]",
        "-map", "[s4]", "-f", "gif", "-b:v", "1M", "-r", "10", "/o/out.gif"]


def test_streams_straight_from_inputs_need_no_graph() -> None:
    whole = ff.output(ff.input("/m/a.mp4", ss=1), "/o/out.mkv", c="copy")
    assert whole.get_args() == ["-ss", "1", "-i", "/m/a.mp4", "-c", "copy", "/o/out.mkv"]
    source = ff.input(Path("/m/a.mp4"))
    both = ff.compile(ff.output(source.video, source.audio, Path("/o/out.mkv"), c="copy"))
    assert both == ff.Compiled(("-i", "/m/a.mp4", "-map", "0:v", "-map", "0:a", "-c", "copy", "/o/out.mkv"), "")


def test_compile_puts_global_options_first_and_hands_out_the_graph() -> None:
    video = ff.input("/m/a.mp4").video.filter("hflip")
    compiled = ff.compile(ff.output(video, "/o/a.mp4"), ff.output(ff.input("/m/b.mp4"), "/o/b.mp4"),
                          global_args=["-hide_banner", "-y"])
    assert compiled.args == ("-hide_banner", "-y", "-i", "/m/a.mp4", "-i", "/m/b.mp4", "-filter_complex",
                             "[0:v]hflip[s0]", "-map", "[s0]", "/o/a.mp4", "-map", "1", "/o/b.mp4")
    assert compiled.graph == "[0:v]hflip[s0]"


def test_positional_arguments_are_escaped_once() -> None:
    # ffmpeg-python escaped them twice, so the filter received a\:b\=c (see the real run below).
    stream = ff.input("testsrc", f="lavfi").video.filter("metadata", "add", "k", "a:b=c")
    assert ff.compile(ff.output(stream, "-", f="null")).graph == r"[0:v]metadata=add:k:a\\:b\\=c[s0]"


def test_nodes_are_values() -> None:
    assert ff.input("/m/a.mp4", t=1) == ff.input("/m/a.mp4", t="1")
    assert hash(ff.input("/m/a.mp4", f="lavfi")) == hash(ff.input("/m/a.mp4", format="lavfi"))
    a = ff.input("/m/a.mp4").video
    assert a.filter("scale", 1, 2, flags="x") == a.filter("scale", 1, 2, flags="x")
    assert a.filter("hflip") != a.filter("vflip")  # ffmpeg-python took these for one node (name not hashed)
    assert a.filter("scale", 1) != a.filter("scale", 1.0) != a.filter("scale", True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.label = 3  # type: ignore[misc]
    # Opened twice, read once; one input stream may feed several filters (ffmpeg decodes it once).
    twice = ff.merge_outputs(ff.output(ff.input("/m/a.mp4").video.filter("hflip"), "/o/1.mp4"),
                             ff.output(ff.input("/m/a.mp4").video.filter("vflip"), "/o/2.mp4"))
    assert twice.get_args() == ["-i", "/m/a.mp4", "-filter_complex", "[0:v]hflip[s0];[0:v]vflip[s1]",
                                "-map", "[s0]", "/o/1.mp4", "-map", "[s1]", "/o/2.mp4"]


def test_a_long_chain_compiles_without_recursion() -> None:
    stream = ff.input("/m/a.mp4").video
    for i in range(5000):
        stream = stream.filter("setpts", f"PTS+{i}")
    graph = ff.compile(ff.output(stream, "/o/out.mp4")).graph
    assert graph.count(";") == 4999 and graph.endswith("[s4998]setpts=PTS+4999[s4999]")


def test_a_filter_output_used_twice_is_refused_by_name() -> None:
    scaled = ff.input("/m/a.mp4").video.filter("scale", 640, 360)
    out = ff.output(ff.overlay(scaled, scaled.filter("hflip")), "/o/out.mp4")
    with pytest.raises(ValueError, match=r"stream scale\(640, 360\) is used 2 times \(by overlay, hflip\).*split"):
        out.get_args()
    split = scaled.filter_multi_output("split")
    reused = ff.merge_outputs(ff.output(split[0], "/o/a.mp4"), ff.output(split[0].filter("hflip"), "/o/b.mp4"))
    with pytest.raises(ValueError, match=r"split\(\)\[0\] is used 2 times \(by output '/o/a.mp4', hflip\)"):
        ff.compile(reused)


def test_misused_outputs_are_refused() -> None:
    with pytest.raises(ValueError, match=r"'/o/out\.mp4' has no streams"):
        ff.output("/o/out.mp4")
    with pytest.raises(ValueError, match="filename"):
        ff.output(ff.input("/m/a.mp4"))
    with pytest.raises(ValueError, match="not both"):
        ff.output(ff.input("/m/a.mp4"), "/o/out.mp4", f="mp4", format="mp4")
    with pytest.raises(ValueError, match="no input stream"):
        ff.filter([], "amix")
    with pytest.raises(ValueError, match="selector"):
        _ = ff.input("/m/a.mp4").video.filter("hflip").audio


@pytest.mark.slow
@needs_ffmpeg
def test_a_compiled_graph_renders(tmp_path: Path) -> None:
    background = ff.input("color=c=blue:s=160x120:r=25:d=1", f="lavfi").video
    pattern = ff.input("testsrc=s=64x48:r=25:d=1", f="lavfi").video.filter("format", "yuv420p")
    video = ff.overlay(background, pattern, x="if(lt(t,0.5),0,96)", y="(H-h)/2", eof_action="pass")
    audio = ff.input("anullsrc=r=48000:cl=stereo", f="lavfi", t=1).audio
    target = tmp_path / "out.mp4"
    out = ff.output(video, audio, target, f="mp4", vcodec="libx264", acodec="aac", pix_fmt="yuv420p",
                    preset="ultrafast")
    compiled = ff.compile(out, global_args=["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
    subprocess.run(["ffmpeg", *compiled.args], check=True, capture_output=True, timeout=60)
    found = facts(target)
    assert abs(float(found["format"]["duration"]) - 1.0) < 0.1
    assert (found["video"]["width"], found["video"]["height"], found["video"]["nb_read_frames"]) == (160, 120, "25")
    assert found["audio"]["sample_rate"] == "48000"


@pytest.mark.slow
@needs_ffmpeg
def test_a_positional_argument_reaches_the_filter_unchanged(tmp_path: Path) -> None:
    log = tmp_path / "meta.txt"
    stream = ff.input("testsrc=s=32x32:r=25:d=0.04", f="lavfi").video.filter("metadata", "add", "k", "a:b=c")
    stream = stream.filter("metadata", "print", file=str(log))
    compiled = ff.compile(ff.output(stream, "-", f="null"), global_args=["-hide_banner", "-nostdin", "-y"])
    subprocess.run(["ffmpeg", "-loglevel", "error", *compiled.args], check=True, capture_output=True, timeout=60)
    assert "k=a:b=c" in log.read_text().splitlines()
