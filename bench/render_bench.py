"""Render benchmark: one reference timeline, three ways, in one run.

    framefleet   the compositor: one ffmpeg process, one filter graph
    moviepy      an equivalent MoviePy 2 script (frames composited in Python/NumPy)
    bare         ffmpeg re-encoding framefleet's own output with the same encoder settings: the cost of
                 the encode alone, so framefleet/bare is the price of compositing

The timeline: 20 s at 1080x1920, 30 fps; three video clips, an image with a Ken Burns zoom, a title,
word-by-word captions, a voice-over and music ducked under it. Each engine runs in its own process;
peak memory is the largest resident set of that process and the processes it waited for (ffmpeg).

    python bench/render_bench.py [--skip-moviepy] [--runs N] [--moviepy-runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
MEDIA = OUT / "media"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
W, H, FPS, SECONDS = 1080, 1920, 30, 20.0
VOICE_AT = (0.0, 12.0)


def words() -> list[dict[str, float | str]]:
    base = json.loads((MEDIA / "voiceover.words.json").read_text())["words"]
    return [{"text": w["text"], "start": round(w["start"] + at, 3), "end": round(w["end"] + at, 3)}
            for at in VOICE_AT for w in base if w["end"] + at < SECONDS]


def spec() -> dict:
    return {
        "output": {"width": W, "height": H, "fps": FPS, "quality": "standard", "duration": SECONDS},
        "tracks": [
            {"clips": [
                {"type": "video", "src": "broll1.mp4", "length": 5, "volume": 0},
                {"type": "video", "src": "broll2.mp4", "length": 5, "volume": 0},
                {"type": "video", "src": "broll3.mp4", "length": 5, "volume": 0},
                {"type": "image", "src": "photo.jpg", "length": 5, "effect": "zoom_in"},
            ]},
            {"clips": [{"type": "text", "text": "3 tips for better sleep", "start": 0.5, "length": 3,
                        "position": "top", "style": {"size": 90, "bold": True, "stroke_color": "#000000",
                                                     "stroke_width": 6}}]},
            {"clips": [{"type": "captions", "style": "word", "words": words(), "size": 96}]},
            {"clips": [{"type": "audio", "src": "voiceover.wav", "start": at} for at in VOICE_AT]},
        ],
        "soundtrack": {"src": "music.mp3", "volume": 0.6, "duck": True},
    }


def usage() -> dict[str, float]:
    """What this process and the processes it waited for (ffmpeg) used, from one look at each:

    cpu_seconds   CPU time: steadier than wall time on a busy box
    major_faults  pages read back from disk: a page the kernel reclaimed while it sat unused (a library,
                  a Python module) costs a disk read when touched again, so a count that moves between
                  runs tells a cold start from a slow render
    peak_rss_mib  the largest resident set of this process or of one it waited for
    """
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"cpu_seconds": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
            "major_faults": own.ru_majflt + kids.ru_majflt,
            "peak_rss_mib": max(own.ru_maxrss, kids.ru_maxrss) / 1024}


# --- engines (each runs in a fresh process) ----------------------------------------------------------


def engine_framefleet(out: Path) -> float:
    from framefleet.compositor.render import render
    from framefleet.compositor.spec import load_spec
    from framefleet.config import Settings

    result = render(load_spec(spec()), out, settings=Settings.from_env(), base_dir=MEDIA)
    return result.seconds["render"]


def engine_bare(out: Path) -> float:
    source = OUT / "framefleet.mp4"
    started = time.perf_counter()
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(source),
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-profile:v", "high",
                    "-pix_fmt", "yuv420p", "-g", "60", "-c:a", "aac", "-aac_coder", "fast", "-b:a", "192k",
                    "-ar", "48000", "-movflags", "+faststart", str(out)], check=True)
    return time.perf_counter() - started


def engine_moviepy(out: Path) -> float:
    from moviepy import (
        AudioFileClip,
        CompositeAudioClip,
        CompositeVideoClip,
        ImageClip,
        TextClip,
        VideoFileClip,
        afx,
        vfx,
    )

    def cover(clip):  # type: ignore[no-untyped-def]
        scale = max(W / clip.w, H / clip.h)
        clip = clip.resized(scale)
        return clip.cropped(x_center=clip.w / 2, y_center=clip.h / 2, width=W, height=H)

    layers = []
    for i, name in enumerate(("broll1.mp4", "broll2.mp4", "broll3.mp4")):
        clip = VideoFileClip(str(MEDIA / name), audio=False).subclipped(0, 5)
        layers.append(cover(clip).with_start(5 * i))
    photo = cover(ImageClip(str(MEDIA / "photo.jpg")).with_duration(5))
    zoom = photo.resized(lambda t: 1 + 0.25 * t / 5)
    zoom = zoom.with_effects([vfx.Crop(x_center=W / 2, y_center=H / 2, width=W, height=H)])
    layers.append(zoom.with_start(15).with_position("center"))
    title = TextClip(font=FONT, text="3 tips for better sleep", font_size=90, color="white",
                     stroke_color="black", stroke_width=6)
    layers.append(title.with_start(0.5).with_duration(3).with_position(("center", 96)))
    for w in words():
        caption = TextClip(font=FONT, text=str(w["text"]), font_size=96, color="white", stroke_color="black",
                           stroke_width=6)
        layers.append(caption.with_start(float(w["start"])).with_duration(float(w["end"]) - float(w["start"]))
                      .with_position(("center", int(H * 0.7))))
    video = CompositeVideoClip(layers, size=(W, H)).with_duration(SECONDS)
    voices = [AudioFileClip(str(MEDIA / "voiceover.wav")).with_start(at) for at in VOICE_AT]
    music = AudioFileClip(str(MEDIA / "music.mp3")).with_effects([afx.AudioLoop(duration=SECONDS)])
    ducked = [afx.MultiplyVolume(0.6)]
    for at, voice in zip(VOICE_AT, voices, strict=True):  # no sidechain in MoviePy: duck the voice spans
        ducked.append(afx.MultiplyVolume(0.25, start_time=at, end_time=min(SECONDS, at + voice.duration)))
    music = music.with_effects(ducked)
    video = video.with_audio(CompositeAudioClip([music, *voices]).with_duration(SECONDS))
    video.write_videofile(str(out), fps=FPS, codec="libx264", preset="veryfast", audio_codec="aac",
                          audio_bitrate="192k", threads=2, ffmpeg_params=["-crf", "23", "-pix_fmt", "yuv420p"],
                          logger=None)
    return 0.0


ENGINES = {"framefleet": engine_framefleet, "bare": engine_bare, "moviepy": engine_moviepy}


def run_engine(name: str) -> dict[str, float]:
    """Run one engine in a child process, as a user would start it; wall seconds (start-up included),
    seconds of its ffmpeg stage, and peak RSS."""
    out = OUT / f"{name}.mp4"
    # A fresh cache every run: framefleet probes its sources cold, as it does for assets it has not seen.
    env = {**os.environ, "FRAMEFLEET_CACHE_DIR": tempfile.mkdtemp(prefix="framefleet-bench-cache-")}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--engine", name], capture_output=True, text=True, check=False,
                          env=env)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    return {"seconds": wall, "ffmpeg_seconds": stats["ffmpeg_seconds"], "cpu_seconds": stats["cpu_seconds"],
            "peak_rss_mib": stats["peak_rss_mib"], "major_faults": stats["major_faults"],
            "bytes": out.stat().st_size}


def rounds_of(runs: int, rounds: int) -> list[int]:
    """The ``runs`` rounds (of ``rounds``) an engine runs in, spread evenly: 3 of 5 are 0, 2 and 4."""
    if runs >= rounds:
        return list(range(rounds))
    if runs <= 1:
        return [rounds // 2] if runs == 1 else []
    return sorted({round(k * (rounds - 1) / (runs - 1)) for k in range(runs)})


def medians(runs: dict[str, int]) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[int, float]]]]:
    """Run the engines in rounds (A, B, C, A, B, A, B, C, …) so that drift in the machine's speed over
    the bench hits all alike; an engine with fewer runs is spread over the rounds, not bunched at one
    end. Each engine's median run, and its seconds (for paired ratios) and major faults by round.

    The run after a MoviePy run is preceded by an untimed one of the same engine: MoviePy's two minutes
    push the other engine's libraries and modules out of memory, and that run would measure a cold
    start that the engine after it (warmed by the ffmpeg libraries the two share) never pays."""
    total = max(runs.values())
    plan = {name: rounds_of(n, total) for name, n in runs.items()}
    samples: dict[str, dict[int, dict[str, float]]] = {name: {} for name in runs}
    previous = "framefleet"  # main() ran it once to warm up
    for i in range(total):
        for name in runs:
            if i in plan[name]:
                if previous == "moviepy" and name != "moviepy":
                    run_engine(name)
                samples[name][i] = run_engine(name)
                previous = name
    out: dict[str, dict[str, float]] = {}
    for name, rounds in samples.items():
        runs_of = sorted(rounds.values(), key=lambda r: r["seconds"])
        out[name] = {**runs_of[len(runs_of) // 2], "runs": len(runs_of)}
    by_round = {key: {name: {i: r[key] for i, r in rounds.items()} for name, rounds in samples.items()}
                for key in ("seconds", "major_faults")}
    return out, by_round


def paired(seconds: dict[str, dict[int, float]], top: str, bottom: str) -> float:
    """Median, over the rounds both ran in, of ``top``'s time over ``bottom``'s: two runs minutes apart
    rather than two medians taken across the whole bench."""
    ratios = sorted(seconds[top][i] / seconds[bottom][i] for i in seconds[top].keys() & seconds[bottom].keys())
    return ratios[len(ratios) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=sorted(ENGINES), help=argparse.SUPPRESS)
    parser.add_argument("--skip-moviepy", action="store_true", help="framefleet and bare only")
    parser.add_argument("--runs", type=int, default=5, help="runs of framefleet and bare (median reported)")
    parser.add_argument("--moviepy-runs", type=int, default=3,
                        help="runs of MoviePy (median reported): one run swings by 10 %% between benches")
    args = parser.parse_args()
    if args.engine:
        stage = ENGINES[args.engine](OUT / f"{args.engine}.mp4")
        print(json.dumps({"ffmpeg_seconds": stage, **usage()}))
        return

    from framefleet.samples import make_all

    make_all(MEDIA)
    cores = subprocess.check_output(["nproc"]).decode().strip()
    print(f"timeline: {SECONDS:.0f} s at {W}x{H}, {FPS} fps; 3 videos, Ken Burns image, title, "
          f"{len(words())} caption words, voice + ducked music; {cores} cores")
    run_engine("framefleet")  # warm the page cache and make the file the bare encode reads
    engines = {"framefleet": args.runs, "bare": args.runs}
    if not args.skip_moviepy:
        engines["moviepy"] = args.moviepy_runs
    results, by_round = medians(engines)
    seconds = by_round["seconds"]
    for name, r in results.items():
        print(f"{name:>10}: {r['seconds']:7.2f} s   {r['cpu_seconds']:7.2f} CPU-s   "
              f"peak RSS {r['peak_rss_mib']:7.1f} MiB   {SECONDS / r['seconds']:5.2f}x realtime   "
              f"major faults by round {[int(n) for n in by_round['major_faults'][name].values()]}")
    ff = results["framefleet"]["seconds"]
    print(f"framefleet/bare    = {ff / results['bare']['seconds']:.2f}   (target <= 1.2; whole command, start-up "
          f"included; median of {args.runs}, runs interleaved)")
    print(f"  paired by round    {paired(seconds, 'framefleet', 'bare'):.2f}")
    print(f"  ffmpeg stage only  {results['framefleet']['ffmpeg_seconds'] / results['bare']['ffmpeg_seconds']:.2f}")
    print(f"  CPU seconds        {results['framefleet']['cpu_seconds'] / results['bare']['cpu_seconds']:.2f}")
    if "moviepy" in results:
        print(f"moviepy/framefleet = {results['moviepy']['seconds'] / ff:.2f}   (target >= 13; MoviePy median of "
              f"{args.moviepy_runs}: {sorted(round(v, 1) for v in seconds['moviepy'].values())} s)")
        print(f"  paired by round    {paired(seconds, 'moviepy', 'framefleet'):.2f}   "
              f"(MoviePy / bare {paired(seconds, 'moviepy', 'bare'):.1f}: MoviePy's own speed, which "
              "moves between benches)")
    print(f"framefleet peak RSS = {results['framefleet']['peak_rss_mib']:.0f} MiB   (target <= 1024)")
    (OUT / "results.json").write_text(json.dumps({**results, "seconds_by_round": seconds,
                                                  "major_faults_by_round": by_round["major_faults"]}, indent=2))


if __name__ == "__main__":
    main()
