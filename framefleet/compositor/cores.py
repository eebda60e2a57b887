"""How many threads each part of an ffmpeg run may start, sized to the cores this process may use.

Left to itself, ffmpeg sizes its threads by the cores it can see, and in a container those are the
node's, not the pod's: a pod limited to 4 CPUs on a 64-core node gets an x264 with 96 frame threads,
16 decoding threads for every open clip and 64 filter threads. Run with those counts (on 2 cores), the
reference render's pictures peaked at 2.7 GiB instead of 0.4 and took 50 % more CPU time. The cores
are taken from the process's CPU affinity and its cgroup CPU quota
(:func:`framefleet.threads.usable_cores`), or from ``FRAMEFLEET_FFMPEG_CORES``.

Decoding gets few threads. Only one or two clips decode at any moment (one after the other, or a
picture over a picture), and frame threads each hold frames of their own: on 2 cores one decoding
thread a clip took 4 to 7 % less CPU than three, and about 15 MiB less memory a 1080p clip opened
(93 MiB less for a segment of six). Above 3 cores the clips get half the cores, at most 4, so that a
4K source still decodes faster than the encoder needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Encoders whose thread count follows the cores: x264 wants frame threads at 1.5 a core (its own rule
#: for the cores it sees), VP9 one a core. NVENC works on the GPU; the still-picture encoders write one frame.
_PER_CORE = {"libx264": 1.5, "libvpx-vp9": 1.0}
#: A clip's decoder never gets more threads than this: each holds frames of its own.
MAX_DECODE_THREADS = 4


@dataclass(frozen=True)
class FFmpegThreads:
    """Thread counts for one ffmpeg run on ``cores`` cores."""

    cores: int

    def __post_init__(self) -> None:
        if self.cores < 1:
            raise ValueError(f"cores must be at least 1, not {self.cores}")

    @property
    def decode(self) -> int:
        """Threads of each input's decoders."""
        return 1 if self.cores <= 3 else min(MAX_DECODE_THREADS, self.cores // 2)

    @property
    def filters(self) -> int:
        """Threads of the filter graph (slice threading: scale, perspective, overlay)."""
        return self.cores

    def encode(self, codec: str) -> int | None:
        """Threads of encoder ``codec``, or None where its count does not depend on the cores."""
        per_core = _PER_CORE.get(codec)
        return None if per_core is None else max(1, int(self.cores * per_core))

    def apply(self, argv: Sequence[str]) -> list[str]:
        """``argv`` (an ffmpeg command, binary first) with the thread counts written in: the filter
        threads first, ``-threads`` before every input and before every video encoder it sizes. A
        command that sets ``-threads`` itself is left as it is."""
        if "-threads" in argv:
            return list(argv)
        out = [argv[0], "-filter_complex_threads", str(self.filters), "-filter_threads", str(self.filters)]
        for i, arg in enumerate(argv[1:], start=1):
            if arg == "-i":
                out += ["-threads", str(self.decode)]
            elif arg in ("-vcodec", "-c:v") and i + 1 < len(argv):
                threads = self.encode(argv[i + 1])
                if threads is not None:
                    out += ["-threads", str(threads)]
            out.append(arg)
        return out
