"""The compiled ffmpeg command, checked as arguments: no process runs here.

The golden tests spell out the whole argument list and the whole filter graph of a few representative
plans, one filter per line. When one breaks, read the new command before updating it: every number in
it is explained by the comments (frames, seconds, sizes), and a golden that snapshots a bug is worse
than none.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from framefleet.compositor import encoders, graph
from framefleet.compositor.encoders import Encoding
from framefleet.compositor.layers.base import Still
from framefleet.compositor.loudness import Level
from framefleet.compositor.plan import Plan, Span, build_plan
from framefleet.compositor.probe import MediaInfo
from framefleet.compositor.spec import load_spec
from framefleet.errors import SpecError

VIDEO = MediaInfo(duration=10.0, width=1920, height=1080, has_video=True, has_audio=True, demuxer="mov")
MUSIC = MediaInfo(duration=3.0, has_audio=True, demuxer="mp3")
PHOTO = MediaInfo(duration=None, width=800, height=600, has_video=True, is_image=True, demuxer="jpeg_pipe")
MEDIA = {"a.mp4": VIDEO, "m.mp3": MUSIC, "p.jpg": PHOTO}
FILES = {src: Path("/m") / src for src in MEDIA}

#: A short mp4 encoding; MP4, GIF and MP3 are what ``encoders.choose(fmt, "standard", "cpu", 30)`` gives.
CPU = Encoding("mp4", "libx264", "aac", {"preset": "veryfast", "crf": 23})
MP4 = Encoding("mp4", "libx264", "aac", {
    "preset": "veryfast", "crf": 23, "profile:v": "high", "b:a": "192k", "ar": 48000, "ac": 2,
    "aac_coder": "fast", "movflags": "+faststart", "pix_fmt": "yuv420p", "g": 60,
})
GIF = Encoding("gif", "gif", None, {"loop": 0})
MP3 = Encoding("mp3", None, "libmp3lame", {"b:a": "192k", "ar": 48000, "ac": 2})

#: Every command starts with these: quiet, progress on stdout, overwrite the temporary output.
GLOBAL = ("-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-progress", "pipe:1", "-y")
#: The short mp4 encoding's output options, as ffmpeg gets them (format first, then sorted).
CPU_OUT = ("-f", "mp4", "-acodec", "aac", "-crf", "23", "-preset", "veryfast", "-vcodec", "libx264")
#: The MP3 encoding's output options.
MP3_OUT = ("-f", "mp3", "-ac", "2", "-acodec", "libmp3lame", "-ar", "48000", "-b:a", "192k")
#: The sound of a plan with no audio at all: silence exactly as long as the output.
SILENCE = "anullsrc=r=48000:cl=stereo"


def test_the_encodings_here_are_the_ones_framefleet_chooses() -> None:
    assert [encoders.choose(fmt, "standard", "cpu", 30) for fmt in ("mp4", "gif", "mp3")] == [MP4, GIF, MP3]


def plan_of(raw: dict[str, Any]) -> Plan:
    return build_plan(load_spec(raw), media=MEDIA, files=FILES)


def compile_spec(raw: dict[str, Any], stills: dict[str, Still] | None = None, *, encoding: Encoding = CPU,
                 output: str = "/o/out.mp4", **thumbnail: Any) -> graph.Command:
    return graph.compile_command(plan_of(raw), stills=stills or {}, encoding=encoding, output=Path(output),
                                 **thumbnail)


def chain(*filters: str) -> str:
    """A filter graph written one filter per line."""
    return ";".join(filters)


def test_one_video_clip() -> None:
    # 1920x1080 source, trimmed at 1 s, 2 s (60 frames) long, cover-fitted into 1080x1920. It fills the
    # frame, opaque, for the whole output: it is the picture itself, with no background under it.
    cmd = compile_spec({"output": {"preset": "tiktok", "loudness": None},
                        "tracks": [{"clips": [{"type": "video", "src": "a.mp4", "trim": 1, "length": 2}]}]})
    expected = chain(
        # opened one frame (1/30 s) before the trim, so the fps filter starts 0.033333 s in
        "[0:v]fps=fps=30/1:start_time=0.033333[s0]",
        "[s0]trim=end_frame=60[s1]",
        # cover: the centre 608x1080 of the source (1080 * 9/16 = 607.5 → 608), from x = (1920 - 608) / 2
        "[s1]crop=608:1080:656:0[s2]",
        "[s2]scale=1080:1920:flags=bicubic[s3]",
        "[s3]settb=1/30[s4]",
        "[s4]setpts=N+0[s5]",
        # the bottom layer as the picture: one pixel format and aspect
        "[s5]format=yuv420p[s6]",
        "[s6]setsar=1[s7]",
        # last, after any layer drawn on it: frames numbered from 0, the output's frame rate
        "[s7]setpts=N[s8]",
        "[s8]fps=fps=30/1[s9]",
        "[1:a]aresample=48000:async=1:first_pts=0[s10]",
        "[s10]aformat=channel_layouts=stereo:sample_fmts=fltp[s11]",
        "[s11]atrim=end_sample=96000[s12]",
        "[s12]asetpts=PTS-STARTPTS[s13]",
        "[s13]apad=whole_dur=2.000000[s14]",
        "[s14]atrim=end=2.000000[s15]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        # picture and sound are separate inputs, each blind to the other stream;
        # the picture reads lead + 2 s + 2 frames of slack, the sound 2 s + 2 frames
        "-f", "mov", "-an", "-protocol_whitelist", "file", "-ss", "0.966667", "-t", "2.100000", "-i", "/m/a.mp4",
        "-f", "mov", "-protocol_whitelist", "file", "-ss", "1.000000", "-t", "2.066667", "-vn", "-i", "/m/a.mp4",
        "-filter_complex", expected,
        "-map", "[s9]", "-map", "[s15]",
        *CPU_OUT,
        "/o/out.mp4",
    )


def test_clips_that_fill_the_frame_end_to_end_are_concatenated_not_blended() -> None:
    # Two full-frame opaque clips one after the other (1 s each): laid end to end by concat (each from
    # pts 0), then stamped on the timeline; the title above is overlaid as usual.
    cmd = compile_spec({"output": {"loudness": None}, "tracks": [
        {"clips": [{"type": "video", "src": "a.mp4", "length": 1, "volume": 0},
                   {"type": "color", "color": "#ff0000", "length": 1}]},
        {"clips": [{"type": "color", "color": "#00ff0080", "length": 2, "scale": 0.5}]}]})
    expected = chain(
        "[0:v]fps=fps=30/1:start_time=0.000000[s0]",
        "[s0]trim=end_frame=30[s1]",
        "[s1]scale=1920:1080:flags=bicubic[s2]",
        "[s2]settb=1/30[s3]",
        "[s3]setpts=N+0[s4]",
        "[s4]format=yuv420p[s5]",
        "[s5]setsar=1[s6]",
        "[s6]setpts=PTS-STARTPTS[s7]",
        "[1:v]format=yuv420p[s8]",
        "[s8]trim=end_frame=30[s9]",
        "[s9]settb=1/30[s10]",
        "[s10]setpts=N+30[s11]",
        "[s11]format=yuv420p[s12]",
        "[s12]setsar=1[s13]",
        "[s13]setpts=PTS-STARTPTS[s14]",
        "[s7][s14]concat=a=0:n=2:v=1[s15]",
        "[s15]settb=1/30[s16]",
        "[s16]setpts=N+0[s17]",
        "[2:v]format=yuva420p[s18]",
        "[s18]trim=end_frame=60[s19]",
        "[s19]settb=1/30[s20]",
        "[s20]setpts=N+0[s21]",
        "[s21]format=yuva420p[s22]",
        "[s17][s22]overlay=eof_action=pass:format=yuv420:x=480:y=270[s23]",
        "[s23]setpts=N[s24]",
        "[s24]fps=fps=30/1[s25]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        "-f", "mov", "-an", "-protocol_whitelist", "file", "-t", "1.066667", "-i", "/m/a.mp4",
        "-f", "lavfi", "-i", "color=c=0xff0000ff:s=1920x1080:r=30/1:d=1.000000",
        "-f", "lavfi", "-i", "color=c=0x00ff0080:s=960x540:r=30/1:d=2.000000,format=rgba",
        "-f", "lavfi", "-t", "2.000000", "-i", SILENCE,
        "-filter_complex", expected,
        "-map", "[s25]", "-map", "3:a",
        *CPU_OUT,
        "/o/out.mp4",
    )


def test_colour_clip() -> None:
    # Half the frame (fill, scale 0.5), bottom right, at half opacity; no sound anywhere, so the mix is
    # silence even though the output asks for loudness normalisation.
    cmd = compile_spec({"tracks": [{"clips": [{"type": "color", "color": "#3366ff", "length": 1, "scale": 0.5,
                                               "position": "bottom_right", "opacity": 0.5}]}]})
    expected = chain(
        "[0:v]format=yuv420p[s0]",
        "[s0]trim=end_frame=30[s1]",
        "[1:v]format=yuv420p[s2]",
        "[s2]trim=end_frame=30[s3]",
        "[s3]settb=1/30[s4]",
        "[s4]setpts=N+0[s5]",
        "[s5]format=yuva420p[s6]",
        "[s6]lut=a=val*0.5000[s7]",
        "[s1][s7]overlay=eof_action=pass:format=yuv420:x=960:y=540[s8]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        "-f", "lavfi", "-i", "color=c=0x000000:s=1920x1080:r=30/1:d=2.000000",
        "-f", "lavfi", "-i", "color=c=0x3366ffff:s=960x540:r=30/1:d=1.000000",
        "-f", "lavfi", "-t", "1.000000", "-i", SILENCE,
        "-filter_complex", expected,
        "-map", "[s8]", "-map", "2:a",
        *CPU_OUT,
        "/o/out.mp4",
    )


def test_image_with_a_ken_burns_zoom() -> None:
    # An 800x600 photo covers 1920x1080: its centre 800x450 (y from 75) is the picture. The zoom is sampled
    # at that size (smaller than the frame) and scaled up once per frame. Zoom 1 → 1.25 over frames 0..59.
    cmd = compile_spec({"tracks": [{"clips": [{"type": "image", "src": "p.jpg", "length": 2, "effect": "zoom_in"}]}]})
    expected = chain(
        "[0:v]crop=800:450:0:75[s0]",
        "[s0]scale=800:450:flags=bicubic[s1]",
        "[s1]format=yuv420p[s2]",
        "[s2]loop=loop=59:size=1:start=0[s3]",
                "[s3]perspective=eval=frame:interpolation=linear"
        ":x0=(W-W/((1+0.25*((in-1)/59))))*0.5"
        ":x1=((W-W/((1+0.25*((in-1)/59))))*0.5+W/((1+0.25*((in-1)/59))))"
        ":x2=(W-W/((1+0.25*((in-1)/59))))*0.5"
        ":x3=((W-W/((1+0.25*((in-1)/59))))*0.5+W/((1+0.25*((in-1)/59))))"
        ":y0=(H-H/((1+0.25*((in-1)/59))))*0.5"
        ":y1=(H-H/((1+0.25*((in-1)/59))))*0.5"
        ":y2=((H-H/((1+0.25*((in-1)/59))))*0.5+H/((1+0.25*((in-1)/59))))"
        ":y3=((H-H/((1+0.25*((in-1)/59))))*0.5+H/((1+0.25*((in-1)/59))))"
        "[s4]",
        "[s4]scale=1920:1080:flags=bicubic[s5]",
        "[s5]settb=1/30[s6]",
        "[s6]setpts=N+0[s7]",
        "[s7]format=yuv420p[s8]",
        "[s8]setsar=1[s9]",
        "[s9]setpts=N[s10]",
        # a looped picture's rate would be 25: fps gives the output its own without changing a frame
        "[s10]fps=fps=30/1[s11]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        "-f", "jpeg_pipe", "-protocol_whitelist", "file", "-i", "/m/p.jpg",
        "-f", "lavfi", "-t", "2.000000", "-i", SILENCE,
        "-filter_complex", expected,
        "-map", "[s11]", "-map", "1:a",
        *CPU_OUT,
        "/o/out.mp4",
    )


def test_text_still_with_a_fade_in_and_a_slide_out() -> None:
    # 25 fps; the clip is frames 25..74 (1 s to 3 s). A 200x100 still at the top: x = (1080 - 200) / 2,
    # y = 5 % of 1920. Fade in over 1.0..1.4 s; slide out to the left (to x = -200) over 2.6..3.0 s.
    raw = {"output": {"preset": "tiktok", "fps": 25}, "tracks": [{"clips": [
        {"type": "text", "text": "Hi", "start": 1, "length": 2, "position": "top",
         "transition": {"in": "fade", "out": "slide_left", "duration": 0.4}}]}]}
    cmd = compile_spec(raw, {"tracks[0].clips[0]": Still(Path("/w/t.png"), 200, 100)})
    expected = chain(
        "[0:v]format=yuv420p[s0]",
        "[s0]trim=end_frame=75[s1]",
        "[1:v]format=yuva420p[s2]",
        "[s2]loop=loop=49:size=1:start=0[s3]",
        "[s3]settb=1/25[s4]",
        "[s4]setpts=N+25[s5]",
        "[s5]format=yuva420p[s6]",
        "[s6]fade=alpha=1:d=0.400000:st=1.000000:t=in[s7]",
        # the expression's commas are escaped for the graph
        r"[s1][s7]overlay=eof_action=pass:format=yuv420:x=(440+(-200-(440))*pow(clip((t-2.6)/0.4\,0\,1)\,3)):y=96[s8]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        "-f", "lavfi", "-i", "color=c=0x000000:s=1080x1920:r=25/1:d=4.000000",
        "-i", "/w/t.png",
        "-f", "lavfi", "-t", "3.000000", "-i", SILENCE,
        "-filter_complex", expected,
        "-map", "[s8]", "-map", "2:a",
        *CPU_OUT,
        "/o/out.mp4",
    )


def test_captions_are_one_ffconcat_still() -> None:
    # Words up to 1.5 s: 45 frames. The caption pictures (900x200) are centred, their middle at 70 % of
    # the portrait frame's height: y = 1344 - 100.
    raw = {"output": {"preset": "tiktok"}, "tracks": [{"clips": [
        {"type": "captions", "words": [{"text": "Hello", "start": 0, "end": 0.5},
                                       {"text": "there", "start": 0.5, "end": 1.5}]}]}]}
    still = Still(Path("/w/captions.ffconcat"), 900, 200, entries=((Path("/w/c0.png"), 15), (Path("/w/c1.png"), 30)))
    cmd = compile_spec(raw, {"tracks[0].clips[0]": still})
    expected = chain(
        "[0:v]format=yuv420p[s0]",
        "[s0]trim=end_frame=45[s1]",
        "[1:v]format=yuva420p[s2]",
        "[s2]fps=fps=30/1[s3]",
        "[s3]trim=end_frame=45[s4]",
        "[s4]settb=1/30[s5]",
        "[s5]setpts=N+0[s6]",
        "[s6]format=yuva420p[s7]",
        "[s1][s7]overlay=eof_action=pass:format=yuv420:x=90:y=1244[s8]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        "-f", "lavfi", "-i", "color=c=0x000000:s=1080x1920:r=30/1:d=2.500000",
        "-f", "concat", "-protocol_whitelist", "file", "-safe", "0", "-i", "/w/captions.ffconcat",
        "-f", "lavfi", "-t", "1.500000", "-i", SILENCE,
        "-filter_complex", expected,
        "-map", "[s8]", "-map", "2:a",
        *CPU_OUT,
        "/o/out.mp4",
    )


def test_the_same_clip_twice_is_decoded_once_and_split() -> None:
    # Untrimmed: no seek, and the fps filter starts at 0. The second copy is half size, bottom right.
    clip = {"type": "video", "src": "a.mp4", "length": 1}
    cmd = compile_spec({"output": {"loudness": None}, "tracks": [
        {"clips": [clip]}, {"clips": [{**clip, "start": 0, "scale": 0.5, "position": "bottom_right"}]}]})
    expected = chain(
        "[0:v]split=2[s0][s1]",
        # the full-frame copy is the picture; the half-size one is overlaid on it
        "[s0]fps=fps=30/1:start_time=0.000000[s2]",
        "[s2]trim=end_frame=30[s3]",
        "[s3]scale=1920:1080:flags=bicubic[s4]",
        "[s4]settb=1/30[s5]",
        "[s5]setpts=N+0[s6]",
        "[s6]format=yuv420p[s7]",
        "[s7]setsar=1[s8]",
        "[s1]fps=fps=30/1:start_time=0.000000[s9]",
        "[s9]trim=end_frame=30[s10]",
        "[s10]scale=960:540:flags=bicubic[s11]",
        "[s11]settb=1/30[s12]",
        "[s12]setpts=N+0[s13]",
        "[s8][s13]overlay=eof_action=pass:format=yuv420:x=960:y=540[s14]",
        "[s14]setpts=N[s15]",
        "[s15]fps=fps=30/1[s16]",
        "[1:a]asplit=2[s17][s18]",
        "[s17]aresample=48000:async=1:first_pts=0[s19]",
        "[s19]aformat=channel_layouts=stereo:sample_fmts=fltp[s20]",
        "[s20]atrim=end_sample=48000[s21]",
        "[s21]asetpts=PTS-STARTPTS[s22]",
        "[s18]aresample=48000:async=1:first_pts=0[s23]",
        "[s23]aformat=channel_layouts=stereo:sample_fmts=fltp[s24]",
        "[s24]atrim=end_sample=48000[s25]",
        "[s25]asetpts=PTS-STARTPTS[s26]",
        "[s22][s26]amix=dropout_transition=0:duration=longest:inputs=2:normalize=0[s27]",
        "[s27]apad=whole_dur=1.000000[s28]",
        "[s28]atrim=end=1.000000[s29]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        "-f", "mov", "-an", "-protocol_whitelist", "file", "-t", "1.066667", "-i", "/m/a.mp4",
        "-f", "mov", "-protocol_whitelist", "file", "-t", "1.066667", "-vn", "-i", "/m/a.mp4",
        "-filter_complex", expected,
        "-map", "[s16]", "-map", "[s29]",
        *CPU_OUT,
        "/o/out.mp4",
    )


def test_ducking_and_loudness() -> None:
    # A voice from 1 s to 5 s with fades; the music (3 s, trimmed at 0.5 s) loops under the whole 5 s,
    # at 0.3, ducked by the voice, which is delayed before it is split so the key lines up with it.
    # the level is what the measuring pass found: here peaks one gain would push past the ceiling, so
    # loudnorm normalises dynamically
    cmd = compile_spec({"output": {"loudness": -16},
                        "tracks": [{"clips": [{"type": "audio", "src": "a.mp4", "start": 1, "length": 4,
                                               "fade_in": 0.5, "fade_out": 1}]}],
                        "soundtrack": {"src": "m.mp3", "duck": True, "volume": 0.3, "trim": 0.5}},
                       level=Level(0.0, dynamic=True, target=-16))
    expected = chain(
        "[0:v]format=yuv420p[s0]",
        "[s0]trim=end_frame=150[s1]",
        "[1:a]aresample=48000:async=1:first_pts=0[s2]",
        "[s2]aformat=channel_layouts=stereo:sample_fmts=fltp[s3]",
        "[s3]atrim=end_sample=192000[s4]",
        "[s4]asetpts=PTS-STARTPTS[s5]",
        "[s5]afade=d=0.5000:st=0:t=in[s6]",
        "[s6]afade=d=1.0000:st=3.0000:t=out[s7]",
        "[s7]adelay=all=1:delays=48000S[s8]",
        "[s8]asplit=2[s9][s10]",
        "[2:a]aresample=48000:async=1:first_pts=0[s11]",
        "[s11]aformat=channel_layouts=stereo:sample_fmts=fltp[s12]",
        "[s12]atrim=end_sample=240000[s13]",
        "[s13]asetpts=PTS-STARTPTS[s14]",
        "[s14]volume=0.3000[s15]",
        "[s15][s10]sidechaincompress=attack=20:ratio=10:release=400:threshold=0.02[s16]",
        "[s9][s16]amix=dropout_transition=0:duration=longest:inputs=2:normalize=0[s17]",
        "[s17]apad=whole_dur=5.000000[s18]",
        "[s18]atrim=end=5.000000[s19]",
        "[s19]loudnorm=I=-16:LRA=11:TP=-1.5[s20]",
        # its first 3 s come as one frame at 192 kHz: 100 ms frames keep the resampler's buffers small
        "[s20]asetnsamples=n=19200:p=0[s21]",
        "[s21]aresample=48000[s22]",
        "[s22]aformat=channel_layouts=stereo:sample_fmts=fltp[s23]",
        # loudnorm drops a last partial 100 ms block: padded back to the exact length
        "[s23]apad=whole_dur=5.000000[s24]",
        "[s24]atrim=end=5.000000[s25]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        "-f", "lavfi", "-i", "color=c=0x000000:s=1920x1080:r=30/1:d=6.000000",
        "-f", "mov", "-protocol_whitelist", "file", "-t", "4.066667", "-vn", "-i", "/m/a.mp4",
        "-f", "mp3", "-protocol_whitelist", "file", "-ss", "0.500000", "-stream_loop", "-1", "-t", "5.066667", "-vn",
        "-i", "/m/m.mp3",
        "-filter_complex", expected,
        "-map", "[s1]", "-map", "[s25]",
        *CPU_OUT,
        "/o/out.mp4",
    )


def test_thumbnail_is_a_second_output_of_the_same_graph() -> None:
    # Frame 30 of 60, 320 px wide (height kept in proportion, even).
    cmd = compile_spec({"output": {"loudness": None},
                        "tracks": [{"clips": [{"type": "color", "color": "#336699", "length": 2}]}]},
                       thumbnail=Path("/o/out.jpg"), thumbnail_frame=30, thumbnail_width=320)
    expected = chain(
        "[0:v]format=yuv420p[s0]",
        "[s0]trim=end_frame=60[s1]",
        "[s1]settb=1/30[s2]",
        "[s2]setpts=N+0[s3]",
        "[s3]format=yuv420p[s4]",
        "[s4]setsar=1[s5]",
        "[s5]setpts=N[s6]",
        "[s6]fps=fps=30/1[s7]",
        "[s7]split=2[s8][s9]",
        "[s9]trim=end_frame=31:start_frame=30[s10]",
        "[s10]scale=320:-2:flags=bicubic[s11]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        "-f", "lavfi", "-i", "color=c=0x336699ff:s=1920x1080:r=30/1:d=2.000000",
        "-f", "lavfi", "-t", "2.000000", "-i", SILENCE,
        "-filter_complex", expected,
        "-map", "[s8]", "-map", "1:a",
        *CPU_OUT,
        "/o/out.mp4",
        "-map", "[s11]",
        "-f", "image2", "-q:v", "3", "-update", "1", "-vframes", "1",
        "/o/out.jpg",
    )


def test_gif_has_a_palette_and_no_sound() -> None:
    # 10 fps, 480x270 (same aspect as the source: no crop); 1 s from 2 s, opened 0.1 s (one frame) early.
    cmd = compile_spec({"output": {"format": "gif", "fps": 10, "width": 480, "height": 270},
                        "tracks": [{"clips": [{"type": "video", "src": "a.mp4", "trim": 2, "length": 1}]}]},
                       encoding=GIF, output="/o/out.gif")
    expected = chain(
        "[0:v]fps=fps=10/1:start_time=0.100000[s0]",
        "[s0]trim=end_frame=10[s1]",
        "[s1]scale=480:270:flags=bicubic[s2]",
        "[s2]settb=1/10[s3]",
        "[s3]setpts=N+0[s4]",
        "[s4]format=yuv420p[s5]",
        "[s5]setsar=1[s6]",
        "[s6]setpts=N[s7]",
        "[s7]fps=fps=10/1[s8]",
        "[s8]split=2[s9][s10]",
        "[s9]palettegen=stats_mode=diff[s11]",
        "[s10][s11]paletteuse=bayer_scale=3:dither=bayer[s12]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        "-f", "mov", "-an", "-protocol_whitelist", "file", "-ss", "1.900000", "-t", "1.300000", "-i", "/m/a.mp4",
        "-filter_complex", expected,
        "-map", "[s12]",
        "-f", "gif", "-loop", "0", "-vcodec", "gif",
        "/o/out.gif",
    )


def test_mp3_is_the_mix_alone() -> None:
    # A video's sound (0..2 s, the effects bus) then a voice at twice the volume (2..5 s): no picture is
    # opened, and the voice bus comes first in the mix.
    cmd = compile_spec({"output": {"format": "mp3"}, "tracks": [{"clips": [
        {"type": "video", "src": "a.mp4", "length": 2}, {"type": "audio", "src": "m.mp3", "volume": 2}]}]},
                       encoding=MP3, output="/o/out.mp3", level=Level(3.0))
    expected = chain(
        "[0:a]aresample=48000:async=1:first_pts=0[s0]",
        "[s0]aformat=channel_layouts=stereo:sample_fmts=fltp[s1]",
        "[s1]atrim=end_sample=144000[s2]",
        "[s2]asetpts=PTS-STARTPTS[s3]",
        "[s3]volume=2.0000[s4]",
        "[s4]adelay=all=1:delays=96000S[s5]",
        "[1:a]aresample=48000:async=1:first_pts=0[s6]",
        "[s6]aformat=channel_layouts=stereo:sample_fmts=fltp[s7]",
        "[s7]atrim=end_sample=96000[s8]",
        "[s8]asetpts=PTS-STARTPTS[s9]",
        "[s5][s9]amix=dropout_transition=0:duration=longest:inputs=2:normalize=0[s10]",
        "[s10]apad=whole_dur=5.000000[s11]",
        "[s11]atrim=end=5.000000[s12]",
        "[s12]volume=3.00dB[s13]",  # the one gain the measuring pass found
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        "-f", "mp3", "-protocol_whitelist", "file", "-t", "3.066667", "-vn", "-i", "/m/m.mp3",
        "-f", "mov", "-protocol_whitelist", "file", "-t", "2.066667", "-vn", "-i", "/m/a.mp4",
        "-filter_complex", expected,
        "-map", "[s13]",
        *MP3_OUT,
        "/o/out.mp3",
    )


#: Two one-second sounds of m.mp3 back to back on a lane, the first from 0 s of the file, the second
#: from 1 s: 48000 samples each, the first padded to the second's first sample (in case its source
#: runs short), joined by concat into [s9].
BACK_TO_BACK = (
    "[0:a]aresample=48000:async=1:first_pts=0[s0]",
    "[s0]aformat=channel_layouts=stereo:sample_fmts=fltp[s1]",
    "[s1]atrim=end_sample=48000[s2]",
    "[s2]asetpts=PTS-STARTPTS[s3]",
    "[s3]apad=whole_len=48000[s4]",
    "[1:a]aresample=48000:async=1:first_pts=0[s5]",
    "[s5]aformat=channel_layouts=stereo:sample_fmts=fltp[s6]",
    "[s6]atrim=end_sample=48000[s7]",
    "[s7]asetpts=PTS-STARTPTS[s8]",
    "[s4][s8]concat=a=1:n=2:v=0[s9]",
)


def test_sounds_that_never_overlap_share_a_lane() -> None:
    # Four voice clips: 0..1 s and 1..2 s back to back, 0.5..2.5 s over both, 2.5..3 s after it. Two
    # lanes hold them (no more than two play at once), so amix sums two streams, not four. Each lane
    # is a concat: a sound is padded with silence up to the next one's first sample (the first of a
    # lane is delayed to its own), and every length is in samples, so a lane never drifts.
    cmd = compile_spec({"output": {"format": "mp3"}, "tracks": [
        {"clips": [{"type": "audio", "src": "m.mp3", "length": 1},
                   {"type": "audio", "src": "m.mp3", "trim": 1, "length": 1},
                   {"type": "audio", "src": "m.mp3", "start": 2.5, "length": 0.5}]},
        {"clips": [{"type": "audio", "src": "m.mp3", "start": 0.5, "length": 2, "trim": 0.5}]}]},
                       encoding=MP3, output="/o/out.mp3")
    expected = chain(
        *BACK_TO_BACK,  # lane 1: 0..1 s, then 1..2 s
        # lane 2: 0.5..2.5 s delayed 24000 samples and padded to 2.5 s (120000), then 2.5..3 s: a sound
        # goes to the free lane that fell silent last, so back-to-back sounds stay together
        "[2:a]aresample=48000:async=1:first_pts=0[s10]",
        "[s10]aformat=channel_layouts=stereo:sample_fmts=fltp[s11]",
        "[s11]atrim=end_sample=96000[s12]",
        "[s12]asetpts=PTS-STARTPTS[s13]",
        "[s13]adelay=all=1:delays=24000S[s14]",
        "[s14]apad=whole_len=120000[s15]",
        "[3:a]aresample=48000:async=1:first_pts=0[s16]",
        "[s16]aformat=channel_layouts=stereo:sample_fmts=fltp[s17]",
        "[s17]atrim=end_sample=24000[s18]",
        "[s18]asetpts=PTS-STARTPTS[s19]",
        "[s15][s19]concat=a=1:n=2:v=0[s20]",
        "[s9][s20]amix=dropout_transition=0:duration=longest:inputs=2:normalize=0[s21]",
        "[s21]apad=whole_dur=3.000000[s22]",
        "[s22]atrim=end=3.000000[s23]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        "-f", "mp3", "-protocol_whitelist", "file", "-t", "1.066667", "-vn", "-i", "/m/m.mp3",
        "-f", "mp3", "-protocol_whitelist", "file", "-ss", "1.000000", "-t", "1.066667", "-vn", "-i", "/m/m.mp3",
        "-f", "mp3", "-protocol_whitelist", "file", "-ss", "0.500000", "-t", "2.066667", "-vn", "-i", "/m/m.mp3",
        "-f", "mp3", "-protocol_whitelist", "file", "-t", "0.566667", "-vn", "-i", "/m/m.mp3",
        "-filter_complex", expected,
        "-map", "[s23]",
        *MP3_OUT,
        "/o/out.mp3",
    )


def test_a_looping_sound_keeps_a_lane_of_its_own() -> None:
    # A looping clip (0..12 s, read from its file as it is) then a cut (12..13 s) on the same track: they
    # never overlap, but only sound cuts extracted to PCM (always their whole length) share a lane.
    cmd = compile_spec({"output": {"format": "mp3"}, "tracks": [{"clips": [
        {"type": "video", "src": "a.mp4", "length": 12, "loop": True},
        {"type": "video", "src": "a.mp4", "length": 1}]}]}, encoding=MP3, output="/o/out.mp3")
    filters = cmd.graph.split(";")
    assert "[s7]adelay=all=1:delays=576000S[s8]" in filters  # the cut on a lane of its own, 12 s in
    assert "[s3][s8]amix=dropout_transition=0:duration=longest:inputs=2:normalize=0[s9]" in filters
    assert not any("concat" in f for f in filters)


def test_a_stem_is_a_run_of_a_lane_mixed_to_the_sample() -> None:
    # Two voice clips, 1..2 s and 2..3 s, mixed as one stem that ends at frame 105 (3.5 s, where the
    # lane's next sound would start): from the first one's first sample (no delay), 2.5 s exactly
    # (120000 samples), into float PCM. The mix then opens this one file instead of the two.
    plan = plan_of({"output": {"format": "mp3"}, "tracks": [{"clips": [
        {"type": "audio", "src": "m.mp3", "start": 1, "length": 1},
        {"type": "audio", "src": "m.mp3", "trim": 1, "length": 1}]}]})
    cmd = graph.compile_stem(plan, list(plan.audio), end=105, output=Path("/w/stem-0000.wav"))
    expected = chain(
        *BACK_TO_BACK,
        "[s9]apad=whole_len=120000[s10]",
        "[s10]atrim=end_sample=120000[s11]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        "-f", "mp3", "-protocol_whitelist", "file", "-t", "1.066667", "-vn", "-i", "/m/m.mp3",
        "-f", "mp3", "-protocol_whitelist", "file", "-ss", "1.000000", "-t", "1.066667", "-vn", "-i", "/m/m.mp3",
        "-filter_complex", expected,
        "-map", "[s11]",
        "-f", "wav", "-acodec", "pcm_f32le", "-rf64", "auto",
        "/w/stem-0000.wav",
    )


#: 4 s: a video (trim 1 s, zooming in over its 120 frames) with a text from 1 s (frame 30) fading in,
#: and a soundtrack at half volume under the video's own sound.
SEGMENTED = {"tracks": [
    {"clips": [{"type": "video", "src": "a.mp4", "trim": 1, "length": 4, "effect": "zoom_in"}]},
    {"clips": [{"type": "text", "text": "Hi", "start": 1, "length": 3, "transition": {"in": "fade"}}]},
], "soundtrack": {"src": "m.mp3", "volume": 0.5}}


def test_a_time_segment_continues_the_timeline_mid_clip() -> None:
    # Frames 45..104: 45 frames (1.5 s) into both clips. Items keep the timeline's frame numbers, so
    # every layer is stamped from 45, the fade keeps its timestamps and the zoom counts from clip frame
    # 45 (of 0..119); the segment is shifted back to 0 at the end. Pictures only, encoded as the whole.
    part = plan_of(SEGMENTED).window(Span(45, 105))
    cmd = graph.compile_command(part, stills={"tracks[1].clips[0]": Still(Path("/w/t.png"), 200, 100)},
                                encoding=MP4.pictures(), output=Path("/w/pictures-00000045-00000105.mp4"))
    expected = chain(
        # the source is wanted from 1 + 1.5 = 2.5 s: opened at 2.466667, one frame early
        "[0:v]fps=fps=30/1:start_time=0.033333[s0]",
        "[s0]trim=end_frame=60[s1]",
        "[s1]scale=1920:1080:flags=bicubic[s2]",
        "[s2]perspective=eval=frame:interpolation=linear"
        ":x0=(W-W/((1+0.25*(((in-1)+45)/119))))*0.5"
        ":x1=((W-W/((1+0.25*(((in-1)+45)/119))))*0.5+W/((1+0.25*(((in-1)+45)/119))))"
        ":x2=(W-W/((1+0.25*(((in-1)+45)/119))))*0.5"
        ":x3=((W-W/((1+0.25*(((in-1)+45)/119))))*0.5+W/((1+0.25*(((in-1)+45)/119))))"
        ":y0=(H-H/((1+0.25*(((in-1)+45)/119))))*0.5"
        ":y1=(H-H/((1+0.25*(((in-1)+45)/119))))*0.5"
        ":y2=((H-H/((1+0.25*(((in-1)+45)/119))))*0.5+H/((1+0.25*(((in-1)+45)/119))))"
        ":y3=((H-H/((1+0.25*(((in-1)+45)/119))))*0.5+H/((1+0.25*(((in-1)+45)/119))))"
        "[s3]",
        "[s3]settb=1/30[s4]",
        "[s4]setpts=N+45[s5]",
        # the video fills the frame: it is the segment's picture, already on the timeline's frames
        "[s5]format=yuv420p[s6]",
        "[s6]setsar=1[s7]",
        "[1:v]format=yuva420p[s8]",
        "[s8]loop=loop=59:size=1:start=0[s9]",
        "[s9]settb=1/30[s10]",
        "[s10]setpts=N+45[s11]",
        "[s11]format=yuva420p[s12]",
        "[s12]fade=alpha=1:d=0.500000:st=1.000000:t=in[s13]",
        "[s7][s13]overlay=eof_action=pass:format=yuv420:x=860:y=490[s14]",
        "[s14]setpts=N[s15]",
        "[s15]fps=fps=30/1[s16]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        "-f", "mov", "-an", "-protocol_whitelist", "file", "-ss", "2.466667", "-t", "2.100000", "-i", "/m/a.mp4",
        "-i", "/w/t.png",
        "-filter_complex", expected,
        "-map", "[s16]",
        "-f", "mp4", "-crf", "23", "-g", "60", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-profile:v", "high",
        "-vcodec", "libx264",
        "/w/pictures-00000045-00000105.mp4",
    )


#: The sound of SEGMENTED, mixed (its last stream is [s11]): the loudness pass and the sound share it.
SEGMENTED_MIX = (
        "[0:a]aresample=48000:async=1:first_pts=0[s0]",
        "[s0]aformat=channel_layouts=stereo:sample_fmts=fltp[s1]",
        "[s1]atrim=end_sample=192000[s2]",
        "[s2]asetpts=PTS-STARTPTS[s3]",
        "[1:a]aresample=48000:async=1:first_pts=0[s4]",
        "[s4]aformat=channel_layouts=stereo:sample_fmts=fltp[s5]",
        "[s5]atrim=end_sample=192000[s6]",
        "[s6]asetpts=PTS-STARTPTS[s7]",
        "[s7]volume=0.5000[s8]",
        "[s3][s8]amix=dropout_transition=0:duration=longest:inputs=2:normalize=0[s9]",
        "[s9]apad=whole_dur=4.000000[s10]",
        "[s10]atrim=end=4.000000[s11]",
)
SEGMENTED_SOUND_INPUTS = (
        "-f", "mov", "-protocol_whitelist", "file", "-ss", "1.000000", "-t", "4.066667", "-vn", "-i", "/m/a.mp4",
        "-f", "mp3", "-protocol_whitelist", "file", "-stream_loop", "-1", "-t", "4.066667", "-vn", "-i", "/m/m.mp3",
)


def test_the_sound_of_the_whole_timeline_is_one_command() -> None:
    # The sound of the whole 4 s mixed once and encoded with the file's audio options into a file of
    # its own (no picture, no container options): it renders beside the pictures.
    cmd = graph.compile_sound(plan_of(SEGMENTED), encoding=MP4, output=Path("/w/sound.m4a"),
                              level=Level(4.25))
    expected = chain(
        *SEGMENTED_MIX,
        "[s11]volume=4.25dB[s12]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        *SEGMENTED_SOUND_INPUTS,
        "-filter_complex", expected,
        "-map", "[s12]",
        "-f", "mp4", "-aac_coder", "fast", "-ac", "2", "-acodec", "aac", "-ar", "48000", "-b:a", "192k",
        "/w/sound.m4a",
    )


def test_the_loudness_is_measured_over_the_same_mix_first() -> None:
    # The first pass: the same inputs and mix as the sound's, then ebur128 printing its frames to a file
    # the render reads, and the mix itself written as float PCM for the second pass.
    cmd = graph.compile_measure(plan_of(SEGMENTED), printed=Path("/w/loudness.txt"), mixed=Path("/w/mix.wav"))
    expected = chain(
        *SEGMENTED_MIX,
        "[s11]ebur128=metadata=1:peak=true[s12]",
        "[s12]ametadata=file=/w/loudness.txt:mode=print[s13]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        *SEGMENTED_SOUND_INPUTS,
        "-filter_complex", expected,
        "-map", "[s13]",
        "-f", "wav", "-acodec", "pcm_f32le", "-rf64", "auto",
        "/w/mix.wav",
    )


def test_the_second_pass_reads_the_measured_mix_alone() -> None:
    # After measuring, the sound is the mixed file: one input (no voice, music or ducking left to
    # redo), the whole 4 s (192000 samples), brought to its level by one gain.
    plan = graph.mixed_plan(plan_of(SEGMENTED), Path("/w/mix.wav"))
    cmd = graph.compile_sound(plan, encoding=MP4, output=Path("/w/sound.m4a"), level=Level(4.25))
    expected = chain(
        "[0:a]aresample=48000:async=1:first_pts=0[s0]",
        "[s0]aformat=channel_layouts=stereo:sample_fmts=fltp[s1]",
        "[s1]atrim=end_sample=192000[s2]",
        "[s2]asetpts=PTS-STARTPTS[s3]",
        "[s3]apad=whole_dur=4.000000[s4]",
        "[s4]atrim=end=4.000000[s5]",
        "[s5]volume=4.25dB[s6]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL,
        "-f", "wav", "-protocol_whitelist", "file", "-t", "4.066667", "-vn", "-i", "/w/mix.wav",
        "-filter_complex", expected,
        "-map", "[s6]",
        "-f", "mp4", "-aac_coder", "fast", "-ac", "2", "-acodec", "aac", "-ar", "48000", "-b:a", "192k",
        "/w/sound.m4a",
    )


def test_the_join_copies_pictures_and_sound() -> None:
    # The segments' pictures as one ffconcat input and the sound file, both copied; the file's options.
    cmd = graph.compile_join(pictures=Path("/w/join.ffconcat"), sound=Path("/w/sound.m4a"), encoding=MP4,
                             output=Path("/o/out.mp4"))
    assert cmd.graph == ""
    assert cmd.args == (
        *GLOBAL,
        "-f", "concat", "-protocol_whitelist", "file", "-safe", "0", "-i", "/w/join.ffconcat",
        "-i", "/w/sound.m4a",
        "-map", "0:v", "-map", "1:a", "-c", "copy", "-movflags", "+faststart",
        "-f", "mp4", "/o/out.mp4",
    )


def test_the_graph_goes_through_a_script_file() -> None:
    cmd = compile_spec({"tracks": [{"clips": [{"type": "color", "color": "#ff0000", "length": 1}]}]})
    argv = cmd.argv(Path("/tmp/graph.txt"), "ffmpeg")
    at = cmd.args.index("-filter_complex")
    assert argv == ["ffmpeg", *cmd.args[:at], "-filter_complex_script", "/tmp/graph.txt", *cmd.args[at + 2:]]
    assert "-filter_complex" not in argv and cmd.graph not in argv


def test_canvas_fps_is_exact() -> None:
    from framefleet.compositor.canvas import Canvas
    from framefleet.compositor.spec import Output

    assert Canvas.from_output(Output(fps=29.97)).fps == Fraction(2997, 100)


def test_sound_cuts_are_read_from_their_source_in_one_pass() -> None:
    # Two cuts of one recording: the decoder starts half a second before the first (12 s), so the
    # first cut has its decoder's overlap too, and each output keeps its range.
    cmd = graph.compile_extract(Path("/m/a.mp4"), [(12.0, 3.066667, Path("/w/sound-0000.wav")),
                                                   (40.5, 1.566667, Path("/w/sound-0001.wav"))], demuxer="mov")
    assert cmd.graph == ""
    assert cmd.args == (
        *GLOBAL,
        "-f", "mov", "-protocol_whitelist", "file", "-ss", "11.500000", "-vn", "-i", "/m/a.mp4",
        "-map", "0:a", "-af", "aresample=async=1:first_pts=0,apad",
        "-ss", "0.500000", "-t", "3.066667", "-c:a", "pcm_f32le", "-f", "wav", "-rf64", "auto", "/w/sound-0000.wav",
        "-map", "0:a", "-af", "aresample=async=1:first_pts=0,apad",
        "-ss", "29.000000", "-t", "1.566667", "-c:a", "pcm_f32le", "-f", "wav", "-rf64", "auto", "/w/sound-0001.wav",
    )
    assert cmd.argv(Path("/w/graph.txt")) == ["ffmpeg", *cmd.args]  # no graph, no script


def test_clip_filter_is_one_filter_on_its_layer() -> None:
    # An 800x600 photo contained in 320x240 fills it: the picture itself. ``blur`` is a gblur whose sigma
    # follows the frame (12 at a 1080 px short side: 12 * 240 / 1080 = 2.667), after the clip's timing.
    cmd = compile_spec({"output": {"width": 320, "height": 240, "loudness": None}, "tracks": [
        {"clips": [{"type": "image", "src": "p.jpg", "length": 1, "filter": "blur", "fit": "contain"}]}]},
        encoding=GIF, output="/o/out.gif")
    expected = chain(
        "[0:v]scale=320:240:flags=bicubic[s0]",
        "[s0]format=yuv420p[s1]",
        "[s1]loop=loop=29:size=1:start=0[s2]",
        "[s2]settb=1/30[s3]",
        "[s3]setpts=N+0[s4]",
        "[s4]gblur=sigma=2.667[s5]",
        "[s5]format=yuv420p[s6]",
        "[s6]setsar=1[s7]",
        "[s7]setpts=N[s8]",
        "[s8]fps=fps=30/1[s9]",
        "[s9]split=2[s10][s11]",
        "[s10]palettegen=stats_mode=diff[s12]",
        "[s11][s12]paletteuse=bayer_scale=3:dither=bayer[s13]",
    )
    assert cmd.graph == expected


def test_image_output_is_the_one_frame_at_its_time() -> None:
    # format jpg, at 0.5 s: frame 15 alone (a window of the plan), greyscale as hue=s=0, written by the
    # image2 muxer as one JPEG (update: a '%d' in the name is not a pattern), full-range 4:2:0.
    plan = plan_of({"output": {"width": 320, "height": 240, "format": "jpg", "at": 0.5}, "tracks": [
        {"clips": [{"type": "image", "src": "p.jpg", "length": 1, "filter": "greyscale"}]}]})
    cmd = graph.compile_command(plan.window(Span(15, 16)), stills={},
                                encoding=encoders.choose("jpg", "standard", "cpu", 30), output=Path("/o/out.jpg"))
    expected = chain(
        "[0:v]scale=320:240:flags=bicubic[s0]",
        "[s0]format=yuv420p[s1]",
        "[s1]loop=loop=0:size=1:start=0[s2]",
        "[s2]settb=1/30[s3]",
        "[s3]setpts=N+15[s4]",
        "[s4]hue=s=0[s5]",
        "[s5]format=yuv420p[s6]",
        "[s6]setsar=1[s7]",
        "[s7]setpts=N[s8]",
        "[s8]fps=fps=30/1[s9]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL, "-f", "jpeg_pipe", "-protocol_whitelist", "file", "-i", "/m/p.jpg", "-filter_complex", expected,
        "-map", "[s9]", "-f", "image2", "-frames:v", "1", "-pix_fmt", "yuvj420p", "-q:v", "2", "-update", "1",
        "-vcodec", "mjpeg", "/o/out.jpg",
    )


def test_wipes_are_a_window_moved_over_the_padded_layer_after_its_transform() -> None:
    # A 320x240 red layer, mirrored top to bottom and turned 30° clockwise about its centre: its box grows
    # to 398x368 (320 cos 30 + 240 sin 30 = 397.1 → 398; 160 + 207.8 = 367.8 → 368), corners
    # transparent, its corner moved back by half the growth (-39, -64). The reveal (in, over 0.5 s) and the
    # wipe up (out, from 1.5 s) each pad the layer by its size on both sides of their axis, and one
    # window the layer's size moves over the padding: x = 398 shows it all, less cuts its right side
    # back; y = 368 shows it all, less cuts its bottom. The overlay moves by as much as the window
    # (even pixels, as crop cuts 4:2:0), so the layer stays put while its edge sweeps. The wipe fades too.
    cmd = compile_spec({"output": {"width": 320, "height": 240, "loudness": None}, "tracks": [
        {"clips": [{"type": "color", "color": "#ff0000", "length": 2,
                    "transform": {"rotate": 30, "flip": "vertical"},
                    "transition": {"in": "reveal", "out": "wipe_up", "duration": 0.5}}]}]})
    wx = "2*floor((398-398*(1-clip((t-0)/0.5\\,0\\,1)))/2)"
    wy = "2*floor((368-368*clip((t-1.5)/0.5\\,0\\,1))/2)"
    expected = chain(
        "[0:v]format=yuv420p[s0]",
        "[s0]trim=end_frame=60[s1]",
        "[1:v]format=yuv420p[s2]",
        "[s2]trim=end_frame=60[s3]",
        "[s3]settb=1/30[s4]",
        "[s4]setpts=N+0[s5]",
        "[s5]vflip[s6]",
        "[s6]format=yuva420p[s7]",
        "[s7]rotate=30*PI/180:bilinear=1:fillcolor=black@0:oh=368:ow=398[s8]",
        "[s8]fade=alpha=1:d=0.500000:st=1.500000:t=out[s9]",
        "[s9]pad=1194:1104:398:368:color=black@0[s10]",
        f"[s10]crop=398:368:{wx}:{wy}[s11]",
        f"[s1][s11]overlay=eof_action=pass:format=yuv420:x=-39+{wx}-398:y=-64+{wy}-368[s12]",
    )
    assert cmd.graph == expected


def test_speed_scales_the_pictures_clock_and_the_sounds_tempo() -> None:
    # A quarter speed: 1 s of output plays 0.25 s of the source. The picture is opened one output frame
    # early as usual (0.966667), and reads 0.25 x (1 s + 2 frames of slack) past its lead (0.3 s);
    # setpts slows its clock, so the lead becomes 0.033333 / 0.25 = 0.133332 s. The sound reads
    # 0.25 x (1 s + 2 frames) = 0.266667 s and is stretched by two atempo=0.5 (each takes 0.5 to 100).
    # The crop cuts a quarter from the left and half from the bottom (1440x540 of 1920x1080, from
    # x = 480), then contains it (320x120); drift_up rises 24 px (a tenth of 240) into place, fading in.
    cmd = compile_spec({"output": {"width": 320, "height": 240, "loudness": None}, "tracks": [
        {"clips": [{"type": "video", "src": "a.mp4", "trim": 1, "length": 1, "speed": 0.25, "fit": "contain",
                    "crop": {"left": 0.25, "bottom": 0.5}, "transition": {"in": "drift_up", "duration": 0.5}}]}]})
    expected = chain(
        "[0:v]format=yuv420p[s0]",
        "[s0]trim=end_frame=30[s1]",
        "[1:v]setpts=PTS/0.25[s2]",
        "[s2]fps=fps=30/1:start_time=0.133332[s3]",
        "[s3]trim=end_frame=30[s4]",
        "[s4]crop=1440:540:480:0[s5]",
        "[s5]scale=320:120:flags=bicubic[s6]",
        "[s6]settb=1/30[s7]",
        "[s7]setpts=N+0[s8]",
        "[s8]format=yuva420p[s9]",
        "[s9]fade=alpha=1:d=0.500000:st=0.000000:t=in[s10]",
        "[s1][s10]overlay=eof_action=pass:format=yuv420:x=0:y=(60-(-24)*(1-(1-pow(1-clip((t-0)/0.5\\,0\\,1)\\,3))))[s11]",
        "[2:a]aresample=48000:async=1:first_pts=0[s12]",
        "[s12]aformat=channel_layouts=stereo:sample_fmts=fltp[s13]",
        "[s13]atempo=0.5[s14]",
        "[s14]atempo=0.5[s15]",
        "[s15]atrim=end_sample=48000[s16]",
        "[s16]asetpts=PTS-STARTPTS[s17]",
        "[s17]apad=whole_dur=1.000000[s18]",
        "[s18]atrim=end=1.000000[s19]",
    )
    assert cmd.graph == expected
    assert cmd.args[8:31] == (
        "-f", "lavfi", "-i", "color=c=0x000000:s=320x240:r=30/1:d=2.000000",
        "-f", "mov", "-an", "-protocol_whitelist", "file", "-ss", "0.966667", "-t", "0.300000", "-i", "/m/a.mp4",
        "-f", "mov", "-protocol_whitelist", "file", "-ss", "1.000000", "-t", "0.266667",
    )


def test_keyframes_are_per_frame_expressions_on_the_layers_alpha_size_and_place() -> None:
    # A 320x240 red layer from 1 s: opacity eases out from 0 to 1 over its first 0.5 s (eq on the alpha
    # plane: contrast k with brightness (k-1)/2 is val*k), its scale grows from 0.5 to 1 from 0.5 s to
    # 1.5 s (scale with eval=frame, even sizes; the overlay keeps its centre with the frame's own w and h),
    # and offset.x holds -0.25 for a second, then jumps to 0 (constant). Every expression reads the
    # clip's clock, t minus its start on the whole timeline.
    cmd = compile_spec({"output": {"width": 320, "height": 240, "loudness": None}, "tracks": [
        {"clips": [{"type": "color", "color": "#000000", "length": 3}]},
        {"clips": [{"type": "color", "color": "#ff0000", "start": 1, "length": 2,
                    "scale": [{"from": 0.5, "to": 1, "start": 0.5, "length": 1}],
                    "opacity": [{"from": 0, "to": 1, "length": 0.5, "interpolation": "bezier",
                                 "easing": "ease_out"}],
                    "offset": {"x": [{"from": -0.25, "to": 0, "length": 1, "interpolation": "constant"}]}}]}]})
    clock = "(t-1.000000)"
    k = f"(if(lt({clock}\\,0)\\,0\\,(0+1*(1-pow(1-clip(({clock}-0)/0.5\\,0\\,1)\\,3)))))"
    s = f"if(lt({clock}\\,0.5)\\,0.5\\,(0.5+0.5*clip(({clock}-0.5)/1\\,0\\,1)))"
    x = f"if(lt({clock}\\,0)\\,-0.25\\,if(lt({clock}\\,1)\\,-0.25\\,0))"
    expected = chain(
        "[0:v]format=yuv420p[s0]",
        "[s0]trim=end_frame=90[s1]",
        "[s1]settb=1/30[s2]",
        "[s2]setpts=N+0[s3]",
        "[s3]format=yuv420p[s4]",
        "[s4]setsar=1[s5]",
        "[1:v]format=yuv420p[s6]",
        "[s6]trim=end_frame=60[s7]",
        "[s7]settb=1/30[s8]",
        "[s8]setpts=N+30[s9]",
        "[s9]format=yuva420p[s10]",
        "[s10]split=2[s11][s12]",
        "[s12]alphaextract[s13]",
        f"[s13]eq=brightness=({k}-1)/2:contrast={k}:eval=frame[s14]",
        "[s11][s14]alphamerge[s15]",
        f"[s15]scale=eval=frame:flags=bicubic:h=max(2\\,2*trunc(240*{s}/2)):w=max(2\\,2*trunc(320*{s}/2))[s16]",
        f"[s5][s16]overlay=eof_action=pass:format=yuv420:x=0+0.5*(320-w)+({x})*320:y=0+0.5*(240-h)[s17]",
        "[s17]setpts=N[s18]",
        "[s18]fps=fps=30/1[s19]",
    )
    assert cmd.graph == expected


def test_a_segment_starting_mid_clip_keeps_the_keyframes_on_the_timelines_clock() -> None:
    # Frames 45-90 of the same layer: it is stamped from frame 45, and its expressions still read t - 1 s.
    plan = plan_of({"output": {"width": 320, "height": 240, "loudness": None}, "tracks": [
        {"clips": [{"type": "color", "color": "#ff0000", "start": 1, "length": 2,
                    "offset": {"y": [{"from": 0, "to": 0.5, "start": 0.5, "length": 1}]}}]}]})
    cmd = graph.compile_command(plan.window(Span(45, 90)), stills={}, encoding=CPU, output=Path("/o/seg.mp4"))
    assert "setpts=N+45" in cmd.graph
    assert "y=0+(if(lt((t-1.000000)\\,0.5)\\,0\\,(0+0.5*clip(((t-1.000000)-0.5)/1\\,0\\,1))))*240" in cmd.graph


def test_layers_are_bounded_by_their_working_size_at_the_clips_path() -> None:
    # The raster cap (4 x 3840x2160 = 33,177,600 px) bounds each layer as ffmpeg allocates it: after its
    # scale (its peak, when keyframed), crop, rotation box and a wipe's 3x padding.
    uhd = {"width": 3840, "height": 2160, "loudness": None}

    def problems(clip: dict[str, Any]) -> list[str]:
        try:
            plan_of({"output": uhd, "tracks": [{"clips": [{"length": 1, **clip}]}]})
        except SpecError as exc:
            return [str(p) for p in exc.problems]
        return []

    # a 4K video scaled 10x: 38400x21600
    assert problems({"type": "video", "src": "a.mp4", "scale": 10}) == [
        "tracks[0].clips[0]: the layer would be 38400x21600 pixels while it is drawn (after scale, crop, "
        "rotation and wipe padding), over the limit of 33177600: use a smaller scale"]
    # a 4K colour at 2x is at the cap; a wipe pads it to 23040x4320
    assert problems({"type": "color", "color": "#ff0000", "scale": 2}) == []
    assert problems({"type": "color", "color": "#ff0000", "scale": 2, "transition": {"in": "wipe_left"}}) == [
        "tracks[0].clips[0].scale: the colour's picture would be 23040x4320 pixels, over the limit of 33177600; "
        "use a smaller scale"]
    # an 800x600 photo at 6x (4800x3600) fits; turned 45 degrees its box is 5940x5940
    assert problems({"type": "image", "src": "p.jpg", "fit": "none", "scale": 6}) == []
    found = problems({"type": "image", "src": "p.jpg", "fit": "none", "scale": 6, "transform": {"rotate": 45}})
    assert found and found[0].startswith("tracks[0].clips[0]: the layer would be 5940x5940 pixels"), found
    # keyframed: the peak counts (cover 3840x2160 at 4x: 15360x8640)
    found = problems({"type": "video", "src": "a.mp4", "scale": [{"from": 1, "to": 4, "length": 1}]})
    assert found and "15360x8640" in found[0], found


def test_keyframe_lists_are_bounded_and_checked_at_their_paths() -> None:
    many = [{"from": 0, "to": 1, "start": i, "length": 1} for i in range(65)]
    cases = [({"opacity": many}, "tracks[0].clips[0].opacity", "65 keyframes is over the limit of 64"),
             ({"opacity": [{"from": 0, "to": 2, "length": 1}]}, "tracks[0].clips[0].opacity", "outside 0 to 1"),
             ({"scale": [{"from": 0, "to": 1}]}, "tracks[0].clips[0].scale[0].length", "required"),
             ({"offset": {"x": [{"from": 0, "to": 1, "length": 2}, {"from": 1, "to": 0, "start": 1, "length": 1}]}},
              "tracks[0].clips[0].offset.x", "overlap"),
             ({"scale": [{"from": 1, "to": 2, "length": 1}], "transform": {"rotate": 10}},
              "tracks[0].clips[0].scale", "transform.rotate"),
             ({"scale": [{"from": 1, "to": 2, "length": 1}], "transition": {"in": "reveal"}},
              "tracks[0].clips[0].scale", "wipe"),
             ({"opacity": [{"from": 0, "to": 1, "length": 1, "easing": "bouncy"}]},
              "tracks[0].clips[0].opacity[0].easing", "ease_in")]
    for clip, path, says in cases:
        try:
            load_spec({"tracks": [{"clips": [{"type": "color", "color": "#ff0000", "length": 90, **clip}]}]})
        except SpecError as exc:
            assert any(p.path == path and says in p.message for p in exc.problems), exc.problems
        else:
            raise AssertionError(f"{clip} was accepted")


def test_a_luma_matte_becomes_the_alpha_of_the_clip_it_overlaps() -> None:
    # A 160x120 red box at the top left, masked from 0.5 s by a 1 s, 640x360 matte video in its track.
    # The matte is opened one frame early as usual (seek 0.5 - 1/30 → 0, so a lead of 0), read for its
    # 30 frames (1 s + 2 frames of slack: 1.066667 s), scaled to cover the 320x240 frame (full-range:
    # white is 255, not 235) and cut to the box (160x120 at 0,0); white pads the 15 frames before and
    # the 15 after it, where the box is not masked. The box is opaque: the matte becomes its alpha.
    wipe = MediaInfo(duration=1.0, width=640, height=360, has_video=True, demuxer="mov")
    plan = build_plan(load_spec({"output": {"width": 320, "height": 240, "loudness": None}, "tracks": [
        {"clips": [{"type": "color", "color": "#0000ff", "length": 2}]},
        {"clips": [{"type": "color", "color": "#ff0000", "length": 2, "fit": "none", "scale": 0.5,
                    "position": "top_left"},
                   {"type": "luma", "src": "w.mp4", "start": 0.5}]}]}),
        media={**MEDIA, "w.mp4": wipe}, files={**FILES, "w.mp4": Path("/m/w.mp4")})
    cmd = graph.compile_command(plan, stills={}, encoding=CPU, output=Path("/o/out.mp4"))
    expected = chain(
        "[0:v]format=yuv420p[s0]",
        "[s0]trim=end_frame=60[s1]",
        "[s1]settb=1/30[s2]",
        "[s2]setpts=N+0[s3]",
        "[s3]format=yuv420p[s4]",
        "[s4]setsar=1[s5]",
        "[1:v]format=yuv420p[s6]",
        "[s6]trim=end_frame=60[s7]",
        "[s7]settb=1/30[s8]",
        "[s8]setpts=N+0[s9]",
        "[s9]format=yuva420p[s10]",
        "[2:v]fps=fps=30/1:start_time=0.000000[s11]",
        "[s11]trim=end_frame=30[s12]",
        "[s12]scale=320:240:flags=bicubic:force_original_aspect_ratio=increase:out_range=full[s13]",
        "[s13]crop=320:240[s14]",
        "[s14]format=gray[s15]",
        "[s15]crop=160:120:0:0[s16]",
        "[s16]tpad=color=white:start=15:stop=15[s17]",
        "[s17]settb=1/30[s18]",
        "[s18]setpts=N+0[s19]",
        "[s10][s19]alphamerge[s20]",
        "[s20]format=yuva420p[s21]",
        "[s5][s21]overlay=eof_action=pass:format=yuv420:x=0:y=0[s22]",
        "[s22]setpts=N[s23]",
        "[s23]fps=fps=30/1[s24]",
    )
    assert cmd.graph == expected
    assert cmd.args == (
        *GLOBAL, "-f", "lavfi", "-i", "color=c=0x0000ffff:s=320x240:r=30/1:d=2.000000",
        "-f", "lavfi", "-i", "color=c=0xff0000ff:s=160x120:r=30/1:d=2.000000",
        "-f", "mov", "-an", "-protocol_whitelist", "file", "-t", "1.066667", "-i", "/m/w.mp4",
        "-f", "lavfi", "-t", "2.000000", "-i", SILENCE, "-filter_complex", expected,
        "-map", "[s24]", "-map", "3:a", *CPU_OUT, "/o/out.mp4",
    )
