"""Nothing left behind, nothing unbounded (issue 8, item 5): killed renders' leftovers are swept at worker
start (never a live process's), caches stay under their caps across processes, job fields have limits,
text logs keep one record to a line, permanent storage errors are not retried, webhook URLs are checked
at submit and their query strings never logged."""

from __future__ import annotations

import http.server
import io
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from framefleet import leftovers, logs
from framefleet.config import Settings
from framefleet.errors import SpecError, StorageError, StorageRefused
from framefleet.queue.jobs import Job, new_id
from framefleet.queue.stores.memory import MemoryJobStore
from framefleet.storage.local import LocalStorage
from framefleet.storage.s3 import S3Storage
from framefleet.worker.generate import run_generation
from framefleet.worker.runtime import Runtime
from tests.fleettools import Worker, wait_until
from tests.httptools import QuietHandler
from tests.proctree import alive, ffmpeg_under

ROOT = Path(__file__).resolve().parents[2]


class Holder:
    """A live process owning a work folder and a ``.part-`` file, as a running render would."""

    def __init__(self, tmp: Path, part_folder: Path) -> None:
        code = textwrap.dedent(f"""
            import os, sys
            from pathlib import Path
            from framefleet import leftovers
            with leftovers.workdir(Path({str(tmp)!r})) as work:
                fd, part = leftovers.part_file(Path({str(part_folder)!r}))
                print(work, part, flush=True)
                sys.stdin.read()
        """)
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        work, part = self.proc.stdout.readline().split()
        self.work, self.part = Path(work), Path(part)

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


def test_sigkilled_render_leftovers_are_swept_by_the_next_worker_and_render(
        media: Path, tmp_path: Path, redis_url: str) -> None:
    tmp, cache, out = tmp_path / "tmp", tmp_path / "cache", tmp_path / "out"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "FRAMEFLEET_CACHE_DIR": str(cache)}
    spec = tmp_path / "long.json"
    # webm: one ffmpeg writes the output's .part from the start (mp4 renders pieces in the work folder first)
    spec.write_text(json.dumps({"output": {"width": 320, "height": 240, "format": "webm"}, "tracks": [{"clips": [
        {"type": "video", "src": str(media / "pattern.mp4"), "loop": True, "length": 600}]}]}))
    render = subprocess.Popen([sys.executable, "-m", "framefleet", "render", str(spec), "-o", str(out / "long.webm")],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    part = out / f".long.webm.{render.pid}.part"
    try:
        wait_until(lambda: ffmpeg_under(render.pid) and part.exists(), 60,
                   "the render's ffmpeg to write its .part file")
        ffmpegs = ffmpeg_under(render.pid)
    finally:
        render.send_signal(signal.SIGKILL)
        render.wait()
    wait_until(lambda: not [pid for pid in ffmpegs if alive(pid)], 60, "ffmpeg to die with its parent")
    stale_work = [p for p in tmp.iterdir() if p.name.startswith(f"framefleet-work-{render.pid}-")]
    assert len(stale_work) == 1 and part.exists()  # what SIGKILL leaves behind
    # what other killed processes leave in the caches and in local storage
    stale_parts = [cache / "assets" / "ab" / f".part-{render.pid}-x1", cache / "jobs" / "j1" / f".part-{render.pid}-x2",
                   tmp_path / "results" / ".incoming" / f".part-{render.pid}-x3"]
    for stale in stale_parts:
        stale.parent.mkdir(parents=True, exist_ok=True)
        stale.write_bytes(b"half a file")
    dead_worker = cache / "work" / f"framefleet-work-{render.pid}-w1"  # a killed worker process's job folders
    (dead_worker / "job1").mkdir(parents=True)
    (dead_worker / leftovers.OWNER).touch()
    holder = Holder(tmp, cache / "assets" / "ab")  # a live render beside the worker: never touched
    try:
        worker = Worker({**env, "FRAMEFLEET_BROKER_URL": redis_url,
                         "FRAMEFLEET_STORAGE_URL": f"file://{tmp_path / 'results'}"}, "generate")
        worker.stop()
        assert not stale_work[0].exists()
        assert not [p for p in stale_parts if p.exists()]
        assert not dead_worker.exists()
        assert holder.work.is_dir() and holder.part.is_file()
    finally:
        holder.close()
    # the next render to the same place removes the killed one's .part beside the output
    short = tmp_path / "short.json"
    short.write_text(json.dumps({"output": {"width": 160, "height": 120, "format": "webm"}, "tracks": [{"clips": [
        {"type": "color", "color": "#102030", "length": 0.5}]}]}))
    done = subprocess.run([sys.executable, "-m", "framefleet", "render", str(short), "-o", str(out / "long.webm")],
                          env=env, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["long.webm"]
    assert not [p for p in tmp.iterdir() if p.name.startswith("framefleet-work-")]


def test_sweep_keeps_a_live_process_s_folder_even_when_old(tmp_path: Path) -> None:
    holder = Holder(tmp_path, tmp_path)
    try:
        old = time.time() - 10 * 86400
        os.utime(holder.work, (old, old))
        os.utime(holder.part, (old, old))
        assert leftovers.sweep(tmp_path, max_age=1.0) == []
        assert holder.work.is_dir() and holder.part.is_file()
    finally:
        holder.close()
    dead = leftovers.sweep(tmp_path, max_age=1.0)  # its owner gone: the lock is free, the pid is not running
    assert dead == [holder.part] and not holder.part.exists()


# -- caches -----------------------------------------------------------------------------------------------

@pytest.fixture()
def blobs() -> Iterator[str]:
    """A local HTTP server answering ``/<name>`` with 100 KB."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self.reply(200, self.path.encode().ljust(100_000, b"."))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _fetch_in_process(cache: Path, urls: list[str], cap: int) -> subprocess.Popen[str]:
    code = textwrap.dedent(f"""
        import sys
        from framefleet.assets.fetch import Fetcher
        from framefleet.config import Settings
        settings = Settings.from_env({{"FRAMEFLEET_CACHE_DIR": {str(cache)!r}, "FRAMEFLEET_ALLOW_PRIVATE_URLS": "1",
                                       "FRAMEFLEET_CACHE_MAX_BYTES": "{cap}"}})
        for url in sys.argv[1:]:
            path = Fetcher(settings).fetch(url)
            assert path.read_bytes().startswith(url.rsplit("/", 1)[1].encode(), 1), url
    """)
    return subprocess.Popen([sys.executable, "-c", code, *urls], cwd=ROOT, stderr=subprocess.PIPE, text=True)


def _cached(cache: Path) -> dict[str, int]:
    found = {}
    for path in (cache / "assets").rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            found[path.read_bytes()[:12].split(b".")[0].decode()] = path.stat().st_size
    return found


def _run(proc: subprocess.Popen[str]) -> None:
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err


def test_asset_cache_evicts_least_recently_used_across_processes(tmp_path: Path, blobs: str) -> None:
    cache, cap = tmp_path / "cache", 350_000
    _run(_fetch_in_process(cache, [f"{blobs}/a", f"{blobs}/b", f"{blobs}/c"], cap))
    assert set(_cached(cache)) == {"/a", "/b", "/c"}
    _run(_fetch_in_process(cache, [f"{blobs}/a", f"{blobs}/d"], cap))  # another process: a hit, then a miss
    assert set(_cached(cache)) == {"/a", "/c", "/d"}  # /b was the least recently used
    # two processes filling the cache at once: both finish, and it ends within its cap
    first = _fetch_in_process(cache, [f"{blobs}/x{i}" for i in range(12)], cap)
    second = _fetch_in_process(cache, [f"{blobs}/y{i}" for i in range(12)], cap)
    _run(first)
    _run(second)
    assert sum(_cached(cache).values()) <= cap


def test_cache_trim_spares_live_part_files_and_open_readers(tmp_path: Path) -> None:
    from framefleet.assets.cache import CacheDir

    root = tmp_path / "assets"
    (root / "aa").mkdir(parents=True)
    old = time.time() - 7200
    for name in ("one", "two", "three"):
        (root / "aa" / name).write_bytes(b"x" * 1000)
        os.utime(root / "aa" / name, (old, old))
        old += 10
    fd, live_part = leftovers.part_file(root / "aa")
    os.write(fd, b"y" * 5000)
    os.utime(live_part, (0, 0))  # very old, but its writer is alive
    reader = open(root / "aa" / "one", "rb")  # noqa: SIM115 - held open across the eviction
    try:
        assert CacheDir(root, max_bytes=2000, part_grace=1).trim() == [root / "aa" / "one"]
        assert reader.read() == b"x" * 1000  # POSIX: an unlinked file stays readable through an open fd
        assert live_part.is_file()
    finally:
        reader.close()
        os.close(fd)


def test_probe_cache_keeps_at_most_its_entry_cap(media: Path, tmp_path: Path) -> None:
    from framefleet.compositor.probe import probe

    for name in ("red.mp4", "green.mp4", "blue.jpg", "voice.wav"):
        probe(media / name, name=name, cache_dir=tmp_path, cache_entries=2)
    entries = [p for p in (tmp_path / "probe").rglob("*.json")]
    assert len(entries) == 2


# -- job fields -------------------------------------------------------------------------------------------

@pytest.fixture()
def client(tmp_path: Path) -> Iterator[Any]:
    from framefleet.client import Client

    with Client(Settings.from_env({"FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache"),
                                   "FRAMEFLEET_STORAGE_URL": f"file://{tmp_path / 'out'}"})) as made:
        yield made


PAYLOAD = {"output": {"width": 160, "height": 120}, "tracks": [{"clips": [{"type": "color", "color": "#000",
                                                                          "length": 1}]}]}


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    top = node
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    return top


@pytest.mark.parametrize(("field", "kwargs"), [
    ("tenant", {"tenant": ".."}),
    ("tenant", {"tenant": "é" * 128}),
    ("tenant", {"tenant": "acme\nlevel=error forged"}),
    ("idempotency_key", {"idempotency_key": "k" * 256}),
    ("idempotency_key", {"idempotency_key": "k\r\nX-Forged: 1"}),
    ("metadata", {"metadata": {"blob": "x" * 20_000_000}}),
    ("metadata", {"metadata": _deep(100_000)}),
    ("webhook", {"webhook": "http://127.0.0.1:9/hook?token=SECRET"}),
    ("webhook", {"webhook": "https://user:SECRET@example.com/hook"}),
    ("webhook", {"webhook": "ftp://example.com/hook"}),
])
def test_submit_refuses_fields_outside_their_limits(client: Any, field: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(SpecError) as caught:
        client.submit(PAYLOAD, **kwargs)
    assert caught.value.code == "bad_input"
    assert [p.path.split(".")[0] for p in caught.value.problems] == [field]
    assert "SECRET" not in caught.value.message
    assert client.usage()["jobs"] == 0  # nothing was queued


def test_cli_submit_names_the_refused_field(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(PAYLOAD))
    env = {**os.environ, "FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache")}
    for args, needle in ((["--tenant", ".."], "error: tenant: must be 1-64 characters"),
                         (["--metadata", json.dumps({"k": "v" * 17_000})], "error: metadata: is 17"),
                         (["--webhook", "http://10.0.0.1/h?token=SECRET"], "error: webhook: host")):
        done = subprocess.run([sys.executable, "-m", "framefleet", "submit", str(spec), *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2 and needle in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and "SECRET" not in done.stderr


# -- logs -------------------------------------------------------------------------------------------------

def test_a_log_record_is_one_line_whatever_its_fields_hold() -> None:
    for fmt in ("text", "json"):  # json.dumps already escaped everything: checked, not changed
        _one_line(fmt)


def _one_line(fmt: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.TextFormatter("%(levelname)s %(name)s: %(message)s") if fmt == "text"
                         else logs.JsonFormatter())
    log = logging.getLogger("framefleet.test.oneline")
    log.addHandler(handler)
    log.propagate = False
    try:
        with logs.job_context("j1\nINFO forged: job done", "acme\r\nERROR framefleet: forged\x1b[2J\u2028x"):
            log.warning("caption %s", "line\nERROR fake: second line\x85")
            try:
                raise ValueError("bad\nERROR fake: from a traceback")
            except ValueError:
                log.exception("failed")
    finally:
        log.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    if fmt == "json":
        records = [json.loads(line) for line in lines]
        assert records[0]["tenant"] == "acme\r\nERROR framefleet: forged\x1b[2J\u2028x"  # intact, escaped in JSON
        assert "ERROR fake: from a traceback" in records[1]["exception"]
    else:
        assert "\x1b" not in stream.getvalue() and "tenant=acme\\r\\nERROR framefleet: forged\\e[2J\\u2028x" in lines[0]
        assert "line\\nERROR fake: second line\\x85" in lines[0]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_logs_never_print_a_url_s_query_string_or_credentials(fmt: str) -> None:
    record = logging.LogRecord("dramatiq.worker.WorkerThread", logging.ERROR, __file__, 1,
                               "Failed to process message %s with unhandled exception.",
                               ("deliver_webhook('https://u:pw@hooks.example.com/in?token=SECRET', '{}')",), None)
    line = (logs.TextFormatter() if fmt == "text" else logs.JsonFormatter()).format(record)
    assert "SECRET" not in line and "pw" not in line and "https://hooks.example.com/in?" in line


# -- storage errors ---------------------------------------------------------------------------------------

def _media_job(store: MemoryJobStore, media: Path) -> str:
    job = Job(id=new_id(), type="media", tenant="acme", payload={"src": "red.mp4"}, queue="generate")
    store.create(job)
    return job.id


def _permanent(media: Path, tmp_path: Path, s3_endpoint: str) -> None:
    settings = Settings.from_env({"FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache"), "FRAMEFLEET_LOCAL_ROOT": str(media)})
    store = MemoryJobStore()
    missing = S3Storage("no-such-bucket-here", client=boto3.client("s3", endpoint_url=s3_endpoint))
    rt = Runtime(settings, store, missing)
    job_id = _media_job(store, media)
    run_generation(rt, job_id, last_try=False)  # not the last try, yet not retried
    job = store.get(job_id)
    assert job is not None and job.status == "failed" and job.attempts == 1
    assert job.error is not None and job.error["code"] == "internal"
    assert "refused" in job.error["message"] and "NoSuchBucket" in job.error["message"]


def test_permanent_storage_error_fails_at_once_and_a_transient_one_is_retried(
        media: Path, tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    _permanent(media, tmp_path / "permanent", s3_endpoint)
    _transient(media, tmp_path / "transient")


def _transient(media: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="x",
                          aws_secret_access_key="x", region_name="us-east-1",
                          config=Config(retries={"max_attempts": 1}, connect_timeout=2))
    settings = Settings.from_env({"FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache"), "FRAMEFLEET_LOCAL_ROOT": str(media)})
    store = MemoryJobStore()
    rt = Runtime(settings, store, S3Storage("renders", client=client))
    job_id = _media_job(store, media)
    with pytest.raises(StorageError) as caught:
        run_generation(rt, job_id, last_try=False)
    assert caught.value.transient and not isinstance(caught.value, StorageRefused)
    job = store.get(job_id)
    assert job is not None and job.status == "queued" and job.attempts == 1  # back on the queue for a retry


def test_local_storage_refuses_bad_names_for_good(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "results")
    source = tmp_path / "a.mp4"
    source.write_bytes(b"x")
    for key in ("../escape/output.mp4", f"{'é' * 128}/j/output.mp4", ".."):
        with pytest.raises(StorageRefused):
            storage.put(source, key, content_type="video/mp4")
