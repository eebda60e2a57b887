"""The sound mix: voice, effects and music buses, music ducked under voice, then brought to its loudness."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from framefleet.compositor import ffgraph, loudness
from framefleet.compositor.layers.base import Context, Stream
from framefleet.compositor.plan import AudioItem

RATE = 48000
#: Ducking: how loud the voice must be to pull the music down, and by how much (10:1 above it).
DUCK = {"threshold": 0.02, "ratio": 10, "attack": 20, "release": 400}


def _conform(stream: Stream, *, align: bool = False) -> Stream:
    """48 kHz stereo float, whatever the rate (8 kHz to 96 kHz) and layout (mono, 5.1: a downmix
    in float keeps the loudness; nothing is scaled down to avoid clipping).

    ``align``: a source's sound is put on its own timestamps. Picture and sound of a file are opened
    separately, and a sound that starts after its picture (a phone's audio track often starts late,
    or has gaps where packets were dropped) would otherwise be played from its first sample at the
    clip's start, early by that much for the rest of the clip: silence fills the start and the gaps."""
    options = {"async": 1, "first_pts": 0} if align else {}
    return stream.filter("aresample", RATE, **options).filter("aformat", sample_fmts="fltp",
                                                               channel_layouts="stereo")


def tempo(stream: Stream, speed: float) -> Stream:
    """Play faster or slower at the same pitch: ``atempo`` (0.5 to 100 per filter), chained below 0.5."""
    while speed < 0.5 - 1e-9:
        stream = stream.filter("atempo", "0.5")
        speed /= 0.5
    return stream if abs(speed - 1) < 1e-9 else stream.filter("atempo", f"{speed:.6g}")


def _item(item: AudioItem, ctx: Context) -> Stream:
    canvas = ctx.canvas
    seconds = canvas.seconds(item.span.frames)
    source = ctx.media_input(item.file, demuxer=item.demuxer, kind="audio", trim=item.trim,
                             frames=item.span.frames, loop=item.loop, speed=item.speed)
    stream = tempo(_conform(source.audio, align=True), item.speed)
    stream = stream.filter("atrim", end=f"{seconds:.6f}").filter("asetpts", "PTS-STARTPTS")
    if item.volume != 1:
        stream = stream.filter("volume", f"{item.volume:.4f}")
    if item.fade_in > 0:
        stream = stream.filter("afade", t="in", st=0, d=f"{min(item.fade_in, seconds):.4f}")
    if item.fade_out > 0:
        d = min(item.fade_out, seconds)
        stream = stream.filter("afade", t="out", st=f"{seconds - d:.4f}", d=f"{d:.4f}")
    delay = round(canvas.seconds(item.span.start) * 1000)
    if delay:
        stream = stream.filter("adelay", delays=str(delay), all=1)
    return stream


def _mix(streams: Sequence[Stream]) -> Stream | None:
    if not streams:
        return None
    if len(streams) == 1:
        return streams[0]
    return ffgraph.filter(list(streams), "amix", inputs=len(streams), duration="longest", normalize=0,
                         dropout_transition=0)


def build(items: Sequence[AudioItem], ctx: Context, *, seconds: float, duck: bool,
          level: loudness.Level | None, cut: tuple[float, float]) -> Stream:
    """One stereo 48 kHz stream exactly ``seconds`` long, brought to its loudness by ``level`` (what
    :func:`measure` found, see :mod:`framefleet.compositor.loudness`), then cut to seconds
    ``[start, end)`` of ``cut`` (an ``output.range``), mixed and normalised as in the whole timeline;
    a cut that spans the whole mix cuts nothing."""
    whole = _whole(items, ctx, seconds=seconds, duck=duck)
    if level is not None and level.dynamic:
        whole = whole.filter("loudnorm", I=f"{level.target:g}", TP=loudness.CEILING_DBTP, LRA=loudness.DYNAMIC_LRA)
        # loudnorm works in 100 ms blocks and drops a last partial one: pad back to the exact length
        whole = _conform(whole).filter("apad", whole_dur=f"{seconds:.6f}").filter("atrim", end=f"{seconds:.6f}")
    elif level is not None:
        whole = whole.filter("volume", f"{level.gain_db:.2f}dB")
    if cut[0] <= 0 and cut[1] >= seconds:
        return whole
    return whole.filter("atrim", start=f"{cut[0]:.6f}", end=f"{cut[1]:.6f}").filter("asetpts", "PTS-STARTPTS")


def measure(items: Sequence[AudioItem], ctx: Context, *, seconds: float, duck: bool, printed: Path) -> Stream:
    """The whole mix through ``ebur128``, its loudness and true peak printed to ``printed`` frame by
    frame (read by :func:`framefleet.compositor.loudness.parse`): the first of the two passes."""
    whole = _whole(items, ctx, seconds=seconds, duck=duck)
    return whole.filter("ebur128", metadata=1, peak="true").filter("ametadata", mode="print", file=str(printed))


def _whole(items: Sequence[AudioItem], ctx: Context, *, seconds: float, duck: bool) -> Stream:
    buses: dict[str, list[Stream]] = {"voice": [], "effect": [], "music": []}
    for item in items:
        buses[item.role].append(_item(item, ctx))
    voice, effect, music = (_mix(buses[k]) for k in ("voice", "effect", "music"))
    if duck and voice is not None and music is not None:
        split = voice.filter_multi_output("asplit")
        voice, key = split[0], split[1]
        music = ffgraph.filter([music, key], "sidechaincompress", **DUCK)
    mixed = _mix([s for s in (voice, effect, music) if s is not None])
    if mixed is None:
        return ctx.input(f"anullsrc=r={RATE}:cl=stereo", f="lavfi", t=f"{seconds:.6f}").audio
    return mixed.filter("apad", whole_dur=f"{seconds:.6f}").filter("atrim", end=f"{seconds:.6f}")
