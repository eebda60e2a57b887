"""Cuts benchmark: memory and speed of edits with many cuts, rendered in time segments, in one run.

    framefleet   ``python -m framefleet render`` in a child process, as a user starts it (a fresh
                 ``FRAMEFLEET_CACHE_DIR`` every run, so sources are probed cold); with the default
                 segment settings a long edit renders as several ffmpeg processes and a join
    one piece    the same with ``FRAMEFLEET_SEGMENT_INPUTS`` and ``FRAMEFLEET_SEGMENT_SECONDS`` at 100000:
                 the old behaviour, one ffmpeg graph that opens every clip at once
    bare         ffmpeg re-encoding framefleet's own output with the same encoder settings: the cost of
                 the encode alone, so framefleet/bare is the price of compositing

Peak memory is the resident memory of the whole process tree (framefleet and every ffmpeg it starts,
summed), sampled every 20 ms (``tests/proctree.py``): what a pod's memory limit sees.

1. Memory against cut count: 1920x1080, 30 fps, 3 s cuts, half of them from one long source (with its
   sound) and half from three short b-roll files (muted). The timeline grows with the cuts (10 cuts are
   30 s, 200 cuts are 600 s); the point is that memory and time per output second stay flat. The old
   behaviour (one piece) is measured for 10 and 50 cuts only: more would not fit the machine.
2. The 10-minute edit: 600 s at 1920x1080, 200 cuts (100 from the long source), a title every 30 s,
   ~1,450 caption words (``bold-pop``), a voice-over clip every 12 s and ducked music. One run each of
   framefleet and bare (the render is long).
3. The short: 60 s at 1080x1920, 40 cuts of 1.5 s, a title, captions, voice and ducked music; framefleet
   and bare interleaved (A, B, A, B, ...), median of 3.

Other work on the machine skews wall times: each run starts once the rest of the machine is quiet, the
cores other processes kept busy meanwhile are reported ("other load"), and a run disturbed by more than
0.3 cores is repeated (up to twice; once for a run over 200 s), keeping the least disturbed. CPU seconds
(the command and every process it waited for) are printed too: they hardly depend on other load.

Sources are ffmpeg lavfi test media made once into ``bench/out/media/`` (no downloads); results go to
``bench/out/cuts_results.json``.

    python bench/cuts_bench.py [--quick] [--runs N] [--cuts N [N ...]]

``--quick`` is a smoke test: 10 and 20 cuts, the long edit cut to 60 s, one run of the short. ``--cuts``
runs the memory table alone for other cut counts (``--cuts 10 400``: up to a 20-minute edit), into
``bench/out/cuts_results_custom.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.proctree import run_measured  # noqa: E402  (the repo root must be on sys.path first)

OUT = HERE / "out"
MEDIA = OUT / "media"
WORK = OUT / "cuts"
FPS = 30
WIDE, TALL = (1920, 1080), (1080, 1920)
CUT, SHORT_CUT = 3.0, 1.5
#: The b-roll samples are 8 s long: trims of 0-4 s leave room for a 3 s cut.
TRIMS = (0.0, 1.0, 2.0, 3.0, 4.0)
LONG_VOLUME = 0.3
VOICE_EVERY = 12.0
TITLE_EVERY = 30.0
ONE_PIECE = {"FRAMEFLEET_SEGMENT_INPUTS": "100000", "FRAMEFLEET_SEGMENT_SECONDS": "100000"}
#: The encoder settings framefleet uses for ``quality: standard`` on a CPU (``encoders.choose``).
BARE_ARGS = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-profile:v", "high", "-pix_fmt", "yuv420p",
             "-g", "60", "-c:a", "aac", "-aac_coder", "fast", "-b:a", "192k", "-ar", "48000", "-ac", "2",
             "-movflags", "+faststart")
TIMEOUT = 4 * 3600.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Before each run, wait (up to QUIET_PATIENCE s) until other processes use fewer cores than this.
QUIET_CORES, QUIET_PATIENCE = 0.3, 900.0
MIB = 2**20


# --- media -------------------------------------------------------------------------------------------


def long_source(seconds: float) -> str:
    """A 1080p ``testsrc2`` source with a tone, ``seconds`` long, made once: ultrafast, a keyframe every 2 s."""
    path = MEDIA / f"long-{seconds:.0f}s.mp4"
    if not path.exists():
        part = path.with_suffix(".part.mp4")
        subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                        "-f", "lavfi", "-i", f"testsrc2=s=1920x1080:r={FPS},format=yuv420p",
                        "-f", "lavfi", "-i", "sine=f=520:r=48000:beep_factor=4", "-t", f"{seconds:.3f}",
                        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", "-g", str(2 * FPS),
                        "-c:a", "aac", "-b:a", "96k", "-shortest", str(part)], check=True)
        part.rename(path)
    return str(path)


def voice_words() -> list[dict[str, Any]]:
    words: list[dict[str, Any]] = json.loads((MEDIA / "voiceover.words.json").read_text())["words"]
    return words


def probe_seconds(file: Path, stream: str) -> float:
    """Duration of the first ``stream`` (``v`` or ``a``) of ``file``, from its packets; 0 when it has none."""
    done = subprocess.run(["ffprobe", "-v", "error", "-select_streams", f"{stream}:0", "-show_entries",
                           "stream=duration", "-of", "csv=p=0", str(file)], capture_output=True, text=True,
                          check=False)
    try:
        return float(done.stdout.strip().splitlines()[0])
    except (IndexError, ValueError):
        return 0.0


# --- timelines ---------------------------------------------------------------------------------------


def cuts(count: int, length: float, long_src: str, others: list[str]) -> list[dict[str, Any]]:
    """``count`` back-to-back cuts: even ones from the long source where the timeline is (one continuous
    take cut into pieces, with its sound), odd ones from the short b-roll files in turn (muted)."""
    clips: list[dict[str, Any]] = []
    for i in range(count):
        at = round(i * length, 3)
        if i % 2 == 0:
            clips.append({"type": "video", "src": long_src, "trim": at, "length": length, "volume": LONG_VOLUME})
        else:
            k = i // 2
            clips.append({"type": "video", "src": others[k % len(others)], "trim": TRIMS[k % len(TRIMS)],
                          "length": length, "volume": 0})
    return clips


def talk(seconds: float, width: int, height: int) -> list[dict[str, Any]]:
    """A title every 30 s, a voice-over every 12 s, and its words as ``bold-pop`` captions."""
    base = voice_words()
    spoken = max(w["end"] for w in base)
    starts = [k * VOICE_EVERY for k in range(int(seconds // VOICE_EVERY) + 1) if k * VOICE_EVERY + spoken < seconds]
    words = [{"text": w["text"], "start": round(w["start"] + at, 3), "end": round(w["end"] + at, 3)}
             for at in starts for w in base]
    titles = [{"type": "text", "text": f"Part {k + 1}", "start": k * TITLE_EVERY + 0.5, "length": 3,
               "position": "top", "transition": {"in": "fade", "out": "fade", "duration": 0.3},
               "style": {"size": 90, "bold": True, "stroke_color": "#000000", "stroke_width": 6}}
              for k in range(int(seconds // TITLE_EVERY)) if k * TITLE_EVERY + 3.5 <= seconds]
    size = 96 if height > width else 80
    return [
        {"clips": titles},
        {"clips": [{"type": "captions", "style": "bold-pop", "words": words, "size": size}]},
        {"clips": [{"type": "audio", "src": str(MEDIA / "voiceover.wav"), "role": "voice", "start": at}
                   for at in starts]},
    ]


def output(size: tuple[int, int], seconds: float) -> dict[str, Any]:
    return {"width": size[0], "height": size[1], "fps": FPS, "quality": "standard", "duration": seconds}


def montage(count: int, long_src: str) -> dict[str, Any]:
    """Section 1: cuts only."""
    others = [str(MEDIA / f"broll{n}.mp4") for n in (1, 2, 3)]
    return {"output": output(WIDE, count * CUT), "tracks": [{"clips": cuts(count, CUT, long_src, others)}]}


def edit(seconds: float, long_src: str) -> dict[str, Any]:
    """Section 2: the long edit with titles, captions, voice and ducked music."""
    others = [str(MEDIA / f"broll{n}.mp4") for n in (1, 2, 3)]
    count = round(seconds / CUT)
    return {"output": output(WIDE, seconds),
            "tracks": [{"clips": cuts(count, CUT, long_src, others)}, *talk(seconds, *WIDE)],
            "soundtrack": {"src": str(MEDIA / "music.mp3"), "volume": 0.5, "duck": True}}


def short(long_src: str) -> dict[str, Any]:
    """Section 3: a 9:16 short, 40 cuts of 1.5 s."""
    seconds = 60.0
    others = [str(MEDIA / f"{name}.mp4") for name in ("broll1", "broll2", "broll3", "portrait")]
    return {"output": output(TALL, seconds),
            "tracks": [{"clips": cuts(round(seconds / SHORT_CUT), SHORT_CUT, long_src, others)},
                       *talk(seconds, *TALL)],
            "soundtrack": {"src": str(MEDIA / "music.mp3"), "volume": 0.5, "duck": True}}


def describe(spec: dict[str, Any]) -> str:
    clips = [c for t in spec["tracks"] for c in t["clips"]]
    kinds: dict[str, int] = {}
    for c in clips:
        kinds[c["type"]] = kinds.get(c["type"], 0) + 1
    words = sum(len(c["words"]) for c in clips if c["type"] == "captions")
    out = spec["output"]
    return (f"{out['duration']:.0f} s at {out['width']}x{out['height']}, {out['fps']} fps: "
            f"{kinds.get('video', 0)} cuts, {kinds.get('text', 0)} titles, {words} caption words, "
            f"{kinds.get('audio', 0)} voice clips" + (", ducked music" if spec.get("soundtrack") else ""))


# --- runs --------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One measured command: wall seconds (start-up included), CPU seconds of it and every process it
    waited for, peak resident memory of its process tree, and what framefleet reported. ``others`` is
    the cores the rest of the machine kept busy meanwhile (other work skews wall times, not CPU seconds)."""

    seconds: float
    cpu_seconds: float
    peak_mib: float
    output_seconds: float
    others: float = 0.0
    waited: float = 0.0
    tries: int = 1
    segments: int = 1
    stages: dict[str, float] = field(default_factory=dict)
    video_seconds: float = 0.0
    audio_seconds: float = 0.0

    @property
    def per_output_second(self) -> float:
        return self.seconds / self.output_seconds


@dataclass(frozen=True)
class Cost:
    stdout: str
    seconds: float
    cpu_seconds: float
    peak_mib: float
    others: float
    waited: float
    tries: int = 1


def children_cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def own_cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine since boot: every process, every core (steal counted too)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def wait_quiet(limit: float = QUIET_CORES, window: float = 5.0, patience: float = QUIET_PATIENCE) -> float:
    """Wait until the rest of the machine keeps fewer than ``limit`` cores busy over ``window`` seconds, or
    ``patience`` seconds have passed; returns the seconds waited."""
    began = time.monotonic()
    while True:
        busy, mine = machine_cpu(), own_cpu()
        time.sleep(window)
        others = (machine_cpu() - busy - (own_cpu() - mine)) / window
        if others < limit or time.monotonic() - began > patience:
            return time.monotonic() - began


def measure_once(argv: list[str], env: dict[str, str]) -> Cost:
    waited = wait_quiet()
    busy, mine, kids = machine_cpu(), own_cpu(), children_cpu()
    done = run_measured(argv, env=env, cwd=ROOT, timeout=TIMEOUT)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(argv)}\n{done.stderr[-3000:]}")
    cpu = children_cpu() - kids
    others = (machine_cpu() - busy - cpu - (own_cpu() - mine)) / done.seconds
    return Cost(done.stdout, done.seconds, cpu, done.peak_mib, max(0.0, others), waited)


def measure(argv: list[str], env: dict[str, str]) -> Cost:
    """Run ``argv`` once, after the machine is quiet; again (up to twice, once for a long run) when other
    processes kept more than ``QUIET_CORES`` busy meanwhile. The run with the least other load counts."""
    tries = [measure_once(argv, env)]
    while tries[-1].others > QUIET_CORES and len(tries) < (2 if tries[0].seconds > 200 else 3):
        tries.append(measure_once(argv, env))
    best = min(tries, key=lambda c: c.others)
    return replace(best, tries=len(tries))


def framefleet(spec_file: Path, out: Path, extra_env: dict[str, str] | None = None) -> Run:
    cache = tempfile.mkdtemp(prefix="framefleet-cutsbench-cache-")
    env = {**os.environ, "FRAMEFLEET_CACHE_DIR": cache, "FRAMEFLEET_ENCODER": "cpu", **(extra_env or {})}
    try:
        cost = measure([sys.executable, "-m", "framefleet", "render", str(spec_file), "-o", str(out), "-q"], env)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    summary = json.loads(cost.stdout.strip().splitlines()[-1])
    return Run(cost.seconds, cost.cpu_seconds, cost.peak_mib, float(summary["duration"]), cost.others, cost.waited,
               cost.tries, int(summary.get("segments", 1)), {k: float(v) for k, v in summary["seconds"].items()},
               probe_seconds(out, "v"), probe_seconds(out, "a"))


def bare(source: Path, out: Path) -> Run:
    cost = measure(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), *BARE_ARGS,
                    str(out)], dict(os.environ))
    return Run(cost.seconds, cost.cpu_seconds, cost.peak_mib, probe_seconds(source, "v"), cost.others, cost.waited,
               cost.tries)


def write_spec(name: str, spec: dict[str, Any]) -> Path:
    path = WORK / f"{name}.json"
    path.write_text(json.dumps(spec))
    return path


def check(name: str, run: Run) -> list[str]:
    """Problems with a render's output: streams shorter or longer than the timeline."""
    problems = []
    for kind, got in (("video", run.video_seconds), ("audio", run.audio_seconds)):
        if abs(got - run.output_seconds) > 0.1:
            problems.append(f"{name}: {kind} stream lasts {got:.3f} s, the timeline {run.output_seconds:.3f} s")
    return problems


def median(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


def versus(name: str, spec_file: Path, runs: int) -> tuple[list[Run], list[Run]]:
    """framefleet and bare in turn (A, B, A, B, ...): drift in the machine's speed hits both alike. Each
    bare run re-encodes the file the framefleet run just before it made."""
    ours, theirs = [], []
    for _ in range(runs):
        out = WORK / f"{name}.mp4"
        ours.append(framefleet(spec_file, out))
        theirs.append(bare(out, WORK / f"{name}-bare.mp4"))
    return ours, theirs


def code_version() -> str:
    """The commit the framefleet being measured comes from, and whether its files differ from it."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "--no-optional-locks", "-C", str(ROOT), *args], capture_output=True,
                              text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return f"{ROOT} (not a git checkout)"
    dirty = git("status", "--porcelain", "framefleet")
    return f"{commit}{' with uncommitted changes under framefleet/' if dirty else ''}"


def code_changed_since(moment: float) -> bool:
    """Whether a file of the framefleet package changed after ``moment`` (a run measures one version)."""
    return any(p.stat().st_mtime > moment for p in (ROOT / "framefleet").rglob("*.py"))


# --- report ------------------------------------------------------------------------------------------


def print_versus(title: str, ours: list[Run], theirs: list[Run], target_mib: float, target_ratio: float) -> None:
    a, b = median(ours), median(theirs)
    print(title)
    for name, r, all_runs in (("framefleet", a, ours), ("bare", b, theirs)):
        print(f"  {name:>10}: {r.seconds:8.1f} s   {r.cpu_seconds:8.1f} CPU-s   peak RSS {r.peak_mib:7.0f} MiB   "
              f"{r.output_seconds / r.seconds:5.2f}x realtime   runs {[round(x.seconds, 1) for x in all_runs]}   "
              f"other load {[round(x.others, 2) for x in all_runs]} cores   tries {[x.tries for x in all_runs]}")
    stages = "  ".join(f"{k} {v:.1f} s" for k, v in a.stages.items())
    print(f"  framefleet: {a.segments} segments; stages {stages}")
    ratio = a.seconds / b.seconds
    many = f"median of {len(ours)}, runs interleaved" if len(ours) > 1 else "one run each (the render is long)"
    print(f"  framefleet/bare = {ratio:.2f}   (target <= {target_ratio}; whole command, start-up included; {many})"
          f"{'' if ratio <= target_ratio else '   OVER TARGET'}")
    print(f"    CPU seconds     {a.cpu_seconds / b.cpu_seconds:.2f}   (not skewed by other load)")
    if any(r.others > QUIET_CORES for r in (*ours, *theirs)):
        print("    (other processes were busy during some runs: the wall-time ratio is less reliable than CPU's)")
    print(f"  framefleet peak RSS = {a.peak_mib:.0f} MiB   (target <= {target_mib:.0f})"
          f"{'' if a.peak_mib <= target_mib else '   OVER TARGET'}")


def memory_table(counts: tuple[int, ...], one_piece: tuple[int, ...], long_src: str,
                 problems: list[str]) -> dict[str, Any]:
    """Section 1: one row per cut count, segmented, then the old behaviour (one piece) for the small ones."""
    print(f"1. Memory against cut count: {WIDE[0]}x{WIDE[1]}, {FPS} fps, {CUT:g} s cuts (half from one long "
          f"source with its sound, half from 3 b-roll files, muted).")
    print(f"   The timeline grows with the cuts ({counts[0]} cuts = {counts[0] * CUT:.0f} s ... {counts[-1]} cuts = "
          f"{counts[-1] * CUT:.0f} s): the point is that memory stays flat. One run each.")
    print("    cuts  output  mode        segments   peak RSS   wall s  render s   s per output s  (render only)"
          "  CPU-s per output s  other load")
    rows: dict[str, Run] = {}
    plan = [(n, "segments") for n in counts] + [(n, "one piece") for n in one_piece]
    for n, mode in plan:
        spec_file = write_spec(f"cuts-{n}", montage(n, long_src))
        run = framefleet(spec_file, WORK / f"cuts-{n}-{mode.replace(' ', '-')}.mp4",
                         ONE_PIECE if mode == "one piece" else None)
        rows[f"{n} {mode}"] = run
        problems += check(f"{n} cuts, {mode}", run)
        render = run.stages.get("render", 0.0)
        print(f"    {n:4d}  {run.output_seconds:5.0f} s  {mode:<10}  {run.segments:8d}  {run.peak_mib:6.0f} MiB  "
              f"{run.seconds:7.1f}  {render:8.1f}   {run.per_output_second:14.3f}  "
              f"({render / run.output_seconds:.3f})  {run.cpu_seconds / run.output_seconds:18.3f}  "
              f"{run.others:5.2f} cores{f' (best of {run.tries} tries)' if run.tries > 1 else ''}", flush=True)
    first, last = rows[f"{counts[0]} segments"], rows[f"{counts[-1]} segments"]
    growth = last.per_output_second / first.per_output_second
    print(f"   time per output second, {counts[-1]} cuts vs {counts[0]}: {last.per_output_second:.3f} s vs "
          f"{first.per_output_second:.3f} s = {growth:.2f}x   (target: no growth)"
          f"{'' if growth <= 1.1 else '   GROWS'}")
    cpu = (last.cpu_seconds / last.output_seconds) / (first.cpu_seconds / first.output_seconds)
    print(f"   CPU seconds per output second, {counts[-1]} cuts vs {counts[0]}: {cpu:.2f}x   "
          "(not skewed by other load)")
    mem = last.peak_mib / first.peak_mib
    print(f"   peak RSS, {counts[-1]} cuts vs {counts[0]}: {last.peak_mib:.0f} MiB vs {first.peak_mib:.0f} MiB = "
          f"{mem:.2f}x   (target: flat){'' if mem <= 1.25 else '   NOT FLAT'}")
    return {k: {**asdict(v), "per_output_second": v.per_output_second} for k, v in rows.items()}


def timeline(title: str, name: str, spec: dict[str, Any], runs: int, problems: list[str]) -> dict[str, Any]:
    """Sections 2 and 3: framefleet against bare on one timeline."""
    ours, theirs = versus(name, write_spec(name, spec), runs)
    problems += [p for r in ours for p in check(name, r)]
    print_versus(f"{title}: {describe(spec)}", ours, theirs, 1024, 1.3)
    return {"framefleet": [asdict(r) for r in ours], "bare": [asdict(r) for r in theirs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke test: 10 and 20 cuts, the long edit at 60 s")
    parser.add_argument("--runs", type=int, default=None, help="runs of the short (median reported; default 3)")
    parser.add_argument("--cuts", type=int, nargs="+", metavar="N",
                        help="only the memory table, for these cut counts (segmented; 400 cuts are 20 minutes)")
    args = parser.parse_args()
    counts, one_piece, long_seconds = ((10, 20), (10, 20), 60.0) if args.quick else ((10, 50, 100, 200), (10, 50),
                                                                                      600.0)
    if args.cuts:
        counts, one_piece = tuple(sorted(set(args.cuts))), ()

    from framefleet.samples import make_all

    began = time.perf_counter()
    make_all(MEDIA)
    WORK.mkdir(parents=True, exist_ok=True)
    long_src = long_source(max(long_seconds, max(counts) * CUT, 60.0))
    cores = subprocess.check_output(["nproc"]).decode().strip()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"machine: {cores} cores, {memory:.0f} GiB; framefleet {code_version()}; media ready in "
          f"{time.perf_counter() - began:.0f} s{'  (--quick)' if args.quick else ''}")
    started = time.time()
    problems: list[str] = []
    results: dict[str, Any] = {"quick": args.quick}
    print()
    results["cuts"] = memory_table(counts, one_piece, long_src, problems)
    print()
    if not args.cuts:
        results["edit"] = timeline(f"2. The {long_seconds / 60:.0f}-minute edit", "edit",
                                   edit(long_seconds, long_src), 1, problems)
        print()
        results["short"] = timeline("3. The short", "short", short(long_src),
                                    args.runs or (1 if args.quick else 3), problems)
    if code_changed_since(started):
        problems.append("framefleet's code changed during the run: rows may measure different versions")
    print()
    for p in problems:
        print(f"problem: {p}")
    results["problems"] = problems
    print(f"done in {(time.perf_counter() - began) / 60:.1f} minutes")
    name = "cuts_results_quick.json" if args.quick else "cuts_results_custom.json" if args.cuts else "cuts_results.json"
    (OUT / name).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
