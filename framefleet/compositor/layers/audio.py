"""The sound mix: voice, effects and music buses, music ducked under voice, then brought to its loudness."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from framefleet.compositor import ffgraph, loudness
from framefleet.compositor.canvas import Canvas
from framefleet.compositor.layers.base import Context, Stream
from framefleet.compositor.plan import AudioItem

RATE = 48000
#: The rate loudnorm works (and hands its output on) at.
LOUDNORM_RATE = 192000
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


def sample(canvas: Canvas, frame: int) -> int:
    """The mix's sample at the start of ``frame``: exact at any frame rate (29.97 fps puts frames
    1601.6 samples apart), so sounds placed by frames never drift from the pictures."""
    return round(Fraction(frame) * RATE / canvas.fps)


def span_samples(item: AudioItem, canvas: Canvas) -> tuple[int, int]:
    """Where ``item`` starts and ends in the mix, in samples."""
    return sample(canvas, item.span.start), sample(canvas, item.span.end)


def lanes(items: Sequence[AudioItem], canvas: Canvas) -> list[list[AudioItem]]:
    """The sounds of a bus packed onto as few lanes as they need: sounds that never overlap share one.

    ``amix`` sums every input over the whole timeline, silence included, so one input per sound made
    the mix's work (and its buffers) grow with the number of cuts times the length of the edit: 100
    cuts of a 10-minute edit took 17 CPU-s to mix. A lane plays its sounds one after the other
    (``concat``), so the mix sums as many streams as sounds play at once.

    A looping source, played from its file as it is, gets a lane of its own. Only the sound cuts
    extracted to PCM (:func:`framefleet.compositor.render.extract_sounds`), which always hold their
    whole length, share one: a lane's ``concat`` ends at the first stream that has no samples at all."""
    packed: list[list[AudioItem]] = []
    ends: list[int] = []
    for (start, end), item in sorted(((span_samples(i, canvas), i) for i in items), key=lambda p: p[0]):
        free = [n for n, lane in enumerate(packed) if ends[n] <= start and not lane[0].loop]
        if free and not item.loop:
            n = max(free, key=lambda k: ends[k])  # the lane that fell silent last: cuts stay together
            packed[n].append(item)
            ends[n] = end
        else:
            packed.append([item])
            ends.append(end)
    return packed


def _item(item: AudioItem, ctx: Context) -> Stream:
    canvas = ctx.canvas
    seconds = canvas.seconds(item.span.frames)
    start, end = span_samples(item, canvas)
    source = ctx.media_input(item.file, demuxer=item.demuxer, kind="audio", trim=item.trim,
                             frames=item.span.frames, loop=item.loop, speed=item.speed)
    stream = tempo(_conform(source.audio, align=True), item.speed)
    # cut by samples, not seconds: back-to-back sounds then tile their lane exactly
    stream = stream.filter("atrim", end_sample=end - start).filter("asetpts", "PTS-STARTPTS")
    if item.volume != 1:
        stream = stream.filter("volume", f"{item.volume:.4f}")
    if item.fade_in > 0:
        stream = stream.filter("afade", t="in", st=0, d=f"{min(item.fade_in, seconds):.4f}")
    if item.fade_out > 0:
        d = min(item.fade_out, seconds)
        stream = stream.filter("afade", t="out", st=f"{seconds - d:.4f}", d=f"{d:.4f}")
    return stream


def _lane(lane: Sequence[AudioItem], ctx: Context, origin: int = 0) -> Stream:
    """One lane as one stream, from sample ``origin`` of the mix: each sound padded with silence up to
    the next one's first sample, the first delayed to its own."""
    starts = [span_samples(item, ctx.canvas)[0] - origin for item in lane]
    streams = []
    for n, item in enumerate(lane):
        stream = _item(item, ctx)
        if n == 0 and starts[0]:
            stream = stream.filter("adelay", delays=f"{starts[0]}S", all=1)
        if n + 1 < len(lane):
            # the first stream starts at the lane's first sample (it is delayed), the others at their own;
            # a sound shorter than its span (its source ran out) is padded to the next one too
            stream = stream.filter("apad", whole_len=starts[n + 1] - (starts[n] if n else 0))
        streams.append(stream)
    if len(streams) == 1:
        return streams[0]
    return ffgraph.filter(streams, "concat", n=len(streams), v=0, a=1)


def stem(lane: Sequence[AudioItem], ctx: Context, *, end: int) -> Stream:
    """A run of one lane's sounds mixed on their own, from the first one's first sample to sample
    ``end`` of the mix exactly (where the lane's next sound starts): :func:`lanes` long enough to open
    too many files at once are mixed in stems first (``render.STEM_CUTS``)."""
    origin = span_samples(lane[0], ctx.canvas)[0]
    return _lane(lane, ctx, origin).filter("apad", whole_len=end - origin).filter("atrim", end_sample=end - origin)


def _mix(streams: Sequence[Stream]) -> Stream | None:
    if not streams:
        return None
    if len(streams) == 1:
        return streams[0]
    return ffgraph.filter(list(streams), "amix", inputs=len(streams), duration="longest", normalize=0,
                         dropout_transition=0)


def _bus(items: Sequence[AudioItem], ctx: Context) -> Stream | None:
    return _mix([_lane(lane, ctx) for lane in lanes(items, ctx.canvas)])


def build(items: Sequence[AudioItem], ctx: Context, *, seconds: float, duck: bool,
          level: loudness.Level | None, cut: tuple[float, float]) -> Stream:
    """One stereo 48 kHz stream exactly ``seconds`` long, brought to its loudness by ``level`` (what
    :func:`measure` found, see :mod:`framefleet.compositor.loudness`), then cut to seconds
    ``[start, end)`` of ``cut`` (an ``output.range``), mixed and normalised as in the whole timeline;
    a cut that spans the whole mix cuts nothing."""
    whole = _whole(items, ctx, seconds=seconds, duck=duck)
    if level is not None and level.dynamic:
        whole = whole.filter("loudnorm", I=f"{level.target:g}", TP=loudness.CEILING_DBTP, LRA=loudness.DYNAMIC_LRA)
        # loudnorm hands on its first 3 s as one frame, at 192 kHz; the resampler's buffers grow to the
        # largest frame they see and stay (50 MiB): 100 ms frames, as loudnorm sends the rest
        whole = whole.filter("asetnsamples", n=LOUDNORM_RATE // 10, p=0)
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
    voice, effect, music = (_bus([item for item in items if item.role == role], ctx)
                            for role in ("voice", "effect", "music"))
    if duck and voice is not None and music is not None:
        split = voice.filter_multi_output("asplit")
        voice, key = split[0], split[1]
        music = ffgraph.filter([music, key], "sidechaincompress", **DUCK)
    mixed = _mix([s for s in (voice, effect, music) if s is not None])
    if mixed is None:
        return ctx.input(f"anullsrc=r={RATE}:cl=stereo", f="lavfi", t=f"{seconds:.6f}").audio
    return mixed.filter("apad", whole_dur=f"{seconds:.6f}").filter("atrim", end=f"{seconds:.6f}")
