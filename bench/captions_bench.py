"""Captions: Pillow pictures played as one stream (what framefleet does) against libass (ffmpeg's ``ass``).

Runs the render benchmark's timeline without encoding (``-f null``), three ways, and prints the filter
graph's CPU seconds: with framefleet's caption overlay, with no captions, and with the same words
burned in by libass. The difference to "no captions" is what captions cost.

    python bench/captions_bench.py      (after bench/render_bench.py has made the media)
"""

from __future__ import annotations

import copy
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import render_bench as rb

from framefleet.assets.fetch import Fetcher
from framefleet.compositor import encoders, graph, plan, raster
from framefleet.compositor.prepare import fetch_all, probe_all
from framefleet.compositor.spec import load_spec
from framefleet.config import Settings


def video_only_command(raw: dict[str, Any], extra_filter: str | None = None) -> list[str]:
    """The framefleet command for ``raw``, picture only, to the null muxer; ``extra_filter`` appended."""
    settings = Settings.from_env()
    spec = load_spec(raw)
    files = fetch_all(spec, Fetcher(settings, base_dir=rb.MEDIA))
    timeline = plan.build_plan(spec, media=probe_all(spec, files, settings), files=files)
    work = Path(tempfile.mkdtemp(prefix="framefleet-capbench-"))
    prepared = raster.prepare(timeline, work)
    command = graph.compile_command(timeline, stills=prepared.stills, output=Path("/dev/null"),
                                    encoding=encoders.Encoding("mp4", "libx264", None, {}))
    argv = command.argv(work / "graph.txt")
    at = argv.index("-map")
    label, text = argv[at + 1], command.graph
    if extra_filter:
        text, label = f"{text};{label}{extra_filter}[captioned]", "[captioned]"
    (work / "graph.txt").write_text(text)
    return [*argv[:at], "-map", label, "-f", "null", "-"]


def ass_file(path: Path) -> Path:
    def stamp(x: float) -> str:
        return f"{int(x // 3600)}:{int(x % 3600 // 60):02d}:{x % 60:05.2f}"

    lines = ["[Script Info]", "ScriptType: v4.00+", f"PlayResX: {rb.W}", f"PlayResY: {rb.H}", "", "[V4+ Styles]",
             "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
             "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
             "Alignment, MarginL, MarginR, MarginV, Encoding",
             "Style: W,DejaVu Sans,96,&H00FFFFFF,&H00FFFFFF,&H00000000,&H00000000,-1,0,0,0,100,100,0,0,1,6,0,5,"
             "10,10,10,1", "", "[Events]",
             "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"]
    for w in rb.words():
        lines.append(f"Dialogue: 0,{stamp(float(w['start']))},{stamp(float(w['end']))},W,,0,0,0,,"
                     f"{{\\pos({rb.W // 2},{int(rb.H * 0.7)})}}{w['text']}")
    path.write_text("\n".join(lines) + "\n")
    return path


def cpu_seconds(argv: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    with_pillow = rb.spec()
    without = copy.deepcopy(with_pillow)
    without["tracks"][2]["clips"] = []
    ass = ass_file(Path(tempfile.mkdtemp()) / "captions.ass")
    variants = {"framefleet (Pillow pictures, one overlay)": video_only_command(with_pillow),
                "no captions": video_only_command(without),
                "libass (ffmpeg's ass filter)": video_only_command(without, f"ass={ass}")}
    runs: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(3):
        for name, argv in variants.items():
            runs[name].append(cpu_seconds(argv))
    base = sorted(runs["no captions"])[1]
    print(f"{len(rb.words())} caption words over {rb.SECONDS:.0f} s at {rb.W}x{rb.H}; filter graph CPU, median of 3")
    for name, values in runs.items():
        median = sorted(values)[1]
        print(f"  {name:42s} {median:6.2f} CPU-s   captions cost {median - base:+.2f}")


if __name__ == "__main__":
    main()
