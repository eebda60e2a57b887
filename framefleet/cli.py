"""The ``framefleet`` command (SPEC §1). Builds settings once and passes them down.

Exit codes: 0 success, 1 the job failed, 2 bad input or bad configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from framefleet import __version__
from framefleet.config import Limits
from framefleet.errors import BadInput, FramefleetError, SpecError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _read_spec(path: str, limits: Limits) -> Any:
    """The parsed spec file (or standard input), read no further than the size limit allows."""
    from framefleet.jsonload import loads

    try:
        if path == "-":
            data = sys.stdin.buffer.read(limits.max_spec_bytes + 1)
        else:
            with open(path, "rb") as file:
                data = file.read(limits.max_spec_bytes + 1)
    except OSError as exc:
        raise BadInput(f"{_printable(path)}: {exc.strerror or 'cannot be read'}") from None
    return loads(data, limits=limits)


def _printable(text: str) -> str:
    """``text`` safe to print on any terminal (a file name may hold bytes that are not UTF-8)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _output_path(arg: str | None, spec_arg: str, fmt: str) -> Path:
    """Where ``render`` writes: ``-o``, or the spec's name with the format's suffix.

    The suffix must be the format's: the thumbnail (``.jpg``) and captions (``.vtt``) go beside the
    output under its name with their own suffix, so ``-o x.jpg`` would have the thumbnail overwrite
    the video, and a player trusts the suffix anyway."""
    if arg is None:
        return Path(f"{Path(spec_arg).stem if spec_arg != '-' else 'render'}.{fmt}")
    output = Path(arg)
    if output.suffix.lower() != f".{fmt}":
        raise BadInput(f"-o {_printable(arg)}: the output's name must end in .{fmt} (output.format is {fmt})")
    if output.is_dir():
        raise BadInput(f"-o {_printable(arg)}: is a folder; give a file name ending in .{fmt}")
    return output


#: A spec can hold thousands of errors (one per word); the first ones say what is wrong.
MAX_PRINTED_PROBLEMS = 100


def _print_problems(exc: FramefleetError) -> None:
    if isinstance(exc, SpecError):
        for problem in exc.problems[:MAX_PRINTED_PROBLEMS]:
            print(f"error: {_printable(str(problem))}", file=sys.stderr)
        if len(exc.problems) > MAX_PRINTED_PROBLEMS:
            print(f"error: ... and {len(exc.problems) - MAX_PRINTED_PROBLEMS} more", file=sys.stderr)
    else:
        print(f"error: {_printable(exc.message)}", file=sys.stderr)


def _terminate_on_sigterm() -> None:
    """Turn SIGTERM into an exception so ``finally`` blocks run and ffmpeg is killed with us."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def cmd_render(args: argparse.Namespace) -> int:
    from framefleet.compositor.ingredients import has_generations
    from framefleet.compositor.render import render
    from framefleet.compositor.shotstack import at_edit_paths, native
    from framefleet.compositor.validate import load_checked
    from framefleet.config import Settings
    from framefleet.console import ProgressBar
    from framefleet.providers.inprocess import resolve_here

    settings = Settings.from_env()
    raw, edit = native(_read_spec(args.spec, settings.limits), limits=settings.limits)
    base_dir = Path.cwd() if args.spec == "-" else Path(args.spec).resolve().parent
    with at_edit_paths(edit):
        # an invalid spec is refused with its sources' problems too, all in one message
        spec = load_checked(raw, settings=settings, base_dir=base_dir)
    output = _output_path(args.output, args.spec, spec.output.format)
    made: list[dict[str, Any]] = []
    if has_generations(spec):  # SPEC §8: made here with the same providers (offline: local speech, alignment)
        spec, made = resolve_here(raw, spec, settings=settings, base_dir=base_dir)
    bar = ProgressBar(enabled=not args.quiet)
    try:
        with at_edit_paths(edit):
            result = render(spec, output, settings=settings, base_dir=base_dir, on_progress=bar,
                            timeout=args.timeout)
    finally:
        bar.close()
    print(json.dumps({**result.summary(), **({"generations": made} if made else {})}))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from framefleet.compositor.shotstack import at_edit_paths, native
    from framefleet.compositor.validate import validate_local
    from framefleet.config import Settings

    settings = Settings.from_env()
    raw, edit = native(_read_spec(args.spec, settings.limits), limits=settings.limits)
    base_dir = Path.cwd() if args.spec == "-" else Path(args.spec).resolve().parent
    with at_edit_paths(edit):
        summary = validate_local(raw, settings=settings, base_dir=base_dir)
    print(json.dumps(summary))
    return EXIT_OK


def cmd_convert(args: argparse.Namespace) -> int:
    """A Shotstack edit as the native render spec it renders as (its callback goes to stderr: it is
    the job's webhook, not part of the spec)."""
    from framefleet.compositor.shotstack import convert, is_edit
    from framefleet.config import Settings

    limits = Settings.from_env().limits
    raw = _read_spec(args.edit, limits)
    if not is_edit(raw):
        raise BadInput("not a Shotstack edit: it has no top-level timeline")
    converted = convert(raw, limits=limits)
    if converted.webhook:
        print(f"callback: use --webhook {_printable(converted.webhook)} (submit does this itself)", file=sys.stderr)
    print(json.dumps(converted.spec, indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from framefleet.compositor.spec import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from framefleet import doctor
    from framefleet.config import Settings

    results = doctor.checks(Settings.from_env())
    if args.json:
        print(json.dumps([r.__dict__ for r in results], indent=2))
    else:
        print(doctor.report(results))
    return EXIT_OK if doctor.healthy(results) else EXIT_BAD_INPUT


def cmd_worker(args: argparse.Namespace) -> int:
    from framefleet.config import Settings
    from framefleet.logs import setup
    from framefleet.metrics.setup import boot

    settings = Settings.from_env()
    setup(settings.log_format, verbose=args.verbose)
    boot(settings.metrics_dir, settings.metrics_port, child=args.child)
    # only now: the worker's modules define metrics, which must be created in the folder boot prepared
    from framefleet.queue.broker import QUEUES
    from framefleet.worker.process import run

    queues = args.queues or [q for q in QUEUES if q != "render_gpu"]
    return run(settings, queues=queues, processes=args.processes, threads=args.threads, child=args.child)


def _client() -> Any:
    from framefleet.client import Client
    from framefleet.config import Settings

    return Client(Settings.from_env())


def cmd_submit(args: argparse.Namespace) -> int:
    from framefleet.config import Settings
    from framefleet.jsonload import loads

    limits = Settings.from_env().limits
    metadata = None
    if args.metadata:
        try:
            metadata = loads(args.metadata, limits=limits, what="--metadata")
        except SpecError as exc:
            raise BadInput(f"--metadata must be a JSON object: {exc.problems[0]}") from None
        if not isinstance(metadata, dict):
            raise BadInput("--metadata must be a JSON object")
    payload = _read_spec(args.spec, limits)
    with _client() as client:
        job = client.submit(payload, type=args.type, tenant=args.tenant, webhook=args.webhook, metadata=metadata,
                            idempotency_key=args.idempotency_key, chunks=args.chunks)
        if not args.wait:
            print(json.dumps(job))
            return EXIT_OK
        print(f"submitted {job['id']}", file=sys.stderr)
        while True:
            current = client.get(job["id"]) or job
            if current["status"] in ("completed", "failed", "canceled", "expired"):
                break
            print(f"\r{current['status']:<10} {current['stage'] or '':<8} {current['progress'] * 100:5.1f}%",
                  end="", file=sys.stderr, flush=True)
            import time

            time.sleep(0.5)
        print(file=sys.stderr)
        print(json.dumps(current))
        return EXIT_OK if current["status"] == "completed" else EXIT_FAILED


def _job_verb(args: argparse.Namespace, verb: str) -> int:
    with _client() as client:
        job = getattr(client, verb)(args.job_id, tenant=args.tenant)
    if job is None:
        raise BadInput(f"job {args.job_id} not found")
    print(json.dumps(job))
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    return _job_verb(args, "get")


def cmd_cancel(args: argparse.Namespace) -> int:
    return _job_verb(args, "cancel")


def cmd_usage(args: argparse.Namespace) -> int:
    with _client() as client:
        print(json.dumps(client.usage(tenant=args.tenant)))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="framefleet", description="Render layered timelines to MP4.")
    parser.add_argument("--version", action="version", version=f"framefleet {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details (ffmpeg commands)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("render", help="render one spec on this machine")
    p.add_argument("spec", help="render spec JSON file, or - for standard input")
    p.add_argument("-o", "--output", help="output file (default: the spec's name with the format's suffix)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("validate", help="check a spec and its local sources; exit 2 listing every error")
    p.add_argument("spec")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("convert", help="print the render spec a Shotstack edit converts to")
    p.add_argument("edit", help="Shotstack edit JSON file, or - for standard input")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("schema", help="print the JSON Schema of the render spec")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("worker", help="run a worker until SIGTERM (in-flight jobs finish or are handed back)")
    p.add_argument("--queues", nargs="+", help="queues to consume (default: render generate webhooks)")
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="jobs at a time per process")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("submit", help="enqueue a job and print its JSON")
    p.add_argument("spec", help="render spec (or generation request) JSON file, or -")
    p.add_argument("--type", default="render")
    p.add_argument("--tenant", default="default")
    p.add_argument("--webhook")
    p.add_argument("--metadata", help="JSON object echoed back on the job and its webhooks")
    p.add_argument("--idempotency-key")
    p.add_argument("--chunks", type=int, help="render across this many workers at once (overrides output.chunks; "
                                              "1 never splits)")
    p.add_argument("--wait", action="store_true", help="follow the job; exit 1 unless it completed")
    p.set_defaults(func=cmd_submit)

    for name, func, text in (("status", cmd_status, "a job's JSON"), ("cancel", cmd_cancel, "cancel a job")):
        p = sub.add_parser(name, help=text)
        p.add_argument("job_id")
        p.add_argument("--tenant", default=None, help="only this tenant's jobs")
        p.set_defaults(func=func)

    p = sub.add_parser("usage", help="job counts by status and type, and output seconds")
    p.add_argument("--tenant", default=None)
    p.set_defaults(func=cmd_usage)

    p = sub.add_parser("doctor", help="check ffmpeg, encoders (a real NVENC test), fonts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _terminate_on_sigterm()
    try:
        return int(args.func(args))
    except BadInput as exc:
        _print_problems(exc)
        return EXIT_BAD_INPUT
    except FramefleetError as exc:
        _print_problems(exc)
        if exc.detail:
            logging.getLogger("framefleet").info("detail: %s", exc.detail)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: the user gets one line, -v gets the traceback
        logging.getLogger("framefleet").debug("internal error", exc_info=True)
        print(f"error: internal error ({type(exc).__name__}); please report it (-v shows the details)",
              file=sys.stderr)
        return EXIT_FAILED
