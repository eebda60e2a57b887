"""Sources a hostile tenant might aim at: other tenants' objects, the fleet's results, slow servers.

Real parts throughout: moto's S3 server over HTTP, a local HTTP server that trickles bytes, and a fleet of
worker subprocesses on a real redis-server for the end-to-end case.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from framefleet.assets.fetch import Fetcher
from framefleet.client import Client
from framefleet.config import Settings
from framefleet.errors import Canceled, FetchError
from tests.fleettools import Worker


def s3_settings(tmp_path: Path, endpoint: str, bucket: str, places: str = "") -> Settings:
    return Settings.from_env({"FRAMEFLEET_S3_ENDPOINT_URL": endpoint, "FRAMEFLEET_CACHE_DIR": str(tmp_path / "c"),
                              "FRAMEFLEET_STORAGE_URL": f"s3://{bucket}/results", "FRAMEFLEET_S3_SOURCES": places})


@pytest.fixture()
def objects(s3_endpoint: str, bucket: str) -> str:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    for key in ("uploads/acme/clip.bin", "uploads/acme-evil/clip.bin", "uploads/other/clip.bin", "prod.env",
                "results/other/job1/output.mp4"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def test_queued_jobs_read_no_s3_source_unless_its_place_is_allowed(tmp_path: Path, s3_endpoint: str,
                                                                   objects: str) -> None:
    closed = Fetcher(s3_settings(tmp_path, s3_endpoint, objects), tenant="acme", confined=True)
    with pytest.raises(FetchError, match="not open to your jobs"):
        closed.fetch(f"s3://{objects}/uploads/acme/clip.bin")

    places = f"s3://{objects}/uploads/{{tenant}} s3://{objects}/results/"  # results listed by mistake
    acme = Fetcher(s3_settings(tmp_path, s3_endpoint, objects, places), tenant="acme", confined=True)
    assert acme.fetch(f"s3://{objects}/uploads/acme/clip.bin").read_bytes() == b"uploads/acme/clip.bin"
    refused = {
        f"s3://{objects}/uploads/other/clip.bin": "not open to your jobs",
        f"s3://{objects}/uploads/acme-evil/clip.bin": "not open to your jobs",  # a prefix is a folder
        f"s3://{objects}/prod.env": "not open to your jobs",
        f"s3://{objects}/uploads/acme/../other/clip.bin": "'..' segments",
        f"s3://{objects}/uploads/acme//clip.bin": "'..' segments",
        f"s3://{objects}/results/other/job1/output.mp4": "job:<id>",  # never, even when listed
        "s3://another-bucket/uploads/acme/clip.bin": "not open to your jobs",
    }
    for src, message in refused.items():
        with pytest.raises(FetchError, match=message):
            acme.fetch(src)
    assert acme.downloads == 1 and not list((tmp_path / "c" / "assets").rglob("*env*"))


def test_local_renders_trust_their_user_unless_places_are_set(tmp_path: Path, s3_endpoint: str,
                                                              objects: str) -> None:
    local = Fetcher(s3_settings(tmp_path, s3_endpoint, objects))
    assert local.fetch(f"s3://{objects}/prod.env").read_bytes() == b"prod.env"
    bound = Fetcher(s3_settings(tmp_path / "b", s3_endpoint, objects, f"s3://{objects}/uploads/acme"))
    with pytest.raises(FetchError, match="not open"):
        bound.fetch(f"s3://{objects}/prod.env")


def test_a_media_job_cannot_take_an_internal_object(fleet_env: dict[str, str], workers: list[Worker],
                                                    objects: str) -> None:
    env = {**fleet_env, "FRAMEFLEET_S3_SOURCES": f"s3://{objects}/uploads/{{tenant}}/"}
    workers.append(Worker(env))
    with Client(Settings.from_env(env)) as c:
        stolen = c.submit({"src": f"s3://{objects}/prod.env"}, type="media", tenant="acme")
        other = c.submit({"tracks": [{"clips": [{"type": "video", "length": 1,
                                                 "src": f"s3://{objects}/results/other/job1/output.mp4"}]}]},
                         tenant="acme")
        own = c.submit({"src": f"s3://{objects}/uploads/acme/clip.bin"}, type="media", tenant="acme")
        done = [c.wait(j["id"], timeout=60) for j in (stolen, other, own)]
    for job in done[:2]:
        assert job["status"] == "failed" and job["error"]["code"] == "bad_input" and job["attempts"] == 1
        assert objects not in job["error"]["message"]  # the operator's bucket names are not echoed
    assert done[2]["status"] == "completed", done[2]
    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=env["FRAMEFLEET_S3_ENDPOINT_URL"])
            .list_objects_v2(Bucket=objects)["Contents"]]
    assert [k for k in keys if k.startswith("results/acme/")] == [f"results/acme/{done[2]['id']}/output.bin"]


class Trickle(http.server.BaseHTTPRequestHandler):
    """Promises 1000 bytes and sends one every 0.2 s: no single read ever times out."""

    sending = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        Trickle.sending.set()
        try:
            for _ in range(1000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)  # the server's pace, not synchronisation
        except OSError:
            pass  # the client hung up, as it should

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def trickle() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    Trickle.sending.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/slow.mp4"
    httpd.shutdown()
    httpd.server_close()


def test_a_trickling_server_meets_the_download_deadline(tmp_path: Path, trickle: str) -> None:
    fetcher = Fetcher(Settings.from_env({"FRAMEFLEET_CACHE_DIR": str(tmp_path / "c"),
                                         "FRAMEFLEET_ALLOW_PRIVATE_URLS": "true",
                                         "FRAMEFLEET_DOWNLOAD_DEADLINE": "1.5"}))
    started = time.monotonic()
    with pytest.raises(FetchError, match="download deadline"):
        fetcher.fetch(trickle)
    assert time.monotonic() - started < 10  # a per-read time-out alone would wait 200 s
    assert not [p for p in (tmp_path / "c").rglob("*") if p.is_file()]  # no half file kept


def test_cancel_ends_a_download_blocked_on_a_slow_server(tmp_path: Path, trickle: str) -> None:
    cancel = threading.Event()
    fetcher = Fetcher(Settings.from_env({"FRAMEFLEET_CACHE_DIR": str(tmp_path / "c"),
                                         "FRAMEFLEET_ALLOW_PRIVATE_URLS": "true"}), cancel=cancel)
    outcome: list[BaseException] = []
    ended = threading.Event()

    def download() -> None:
        try:
            fetcher.fetch(trickle)
        except BaseException as exc:
            outcome.append(exc)
        ended.set()

    threading.Thread(target=download, daemon=True).start()
    assert Trickle.sending.wait(10)
    cancel.set()
    assert ended.wait(2), "the download did not stop within 2 s of the cancel"
    assert isinstance(outcome[0], Canceled)


def _stuck_ffprobe(folder: Path) -> Path:
    """An ffprobe that, asked to probe, says so in a file and then never answers: a source that keeps
    ffprobe busy for as long as the worker lets it. Other calls go to the real ffprobe."""
    script = folder / "ffprobe"
    script.write_text('#!/bin/sh\ncase "$*" in *-show_streams*) touch "$0.probing"; exec sleep 600;; esac\n'
                      'exec ffprobe "$@"\n')
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("stage", ["fetch", "probe"])
def test_cancel_is_obeyed_within_two_seconds_before_the_render(stage: str, fleet_env: dict[str, str],
                                                               workers: list[Worker], media: Path,
                                                               tmp_path: Path, trickle: str) -> None:
    from tests.proctree import descendants

    stuck = _stuck_ffprobe(tmp_path)
    env = {**fleet_env, "FRAMEFLEET_FFPROBE": str(stuck)}
    worker = Worker(env)
    workers.append(worker)
    src = trickle if stage == "fetch" else str(media / "red.mp4")
    started = Trickle.sending.is_set if stage == "fetch" else stuck.with_name("ffprobe.probing").exists
    with Client(Settings.from_env(env)) as c:
        job = c.submit({"tracks": [{"clips": [{"type": "video", "src": src, "length": 1}]}]})
        deadline = time.monotonic() + 60
        while not started():
            assert time.monotonic() < deadline, f"the job never reached {stage}"
            time.sleep(0.05)  # polling a condition, not waiting for one to happen by itself
        assert (c.get(job["id"]) or {}).get("status") == "processing"
        canceled_at = time.monotonic()
        c.cancel(job["id"])
        done = c.wait(job["id"], timeout=10)
        took = time.monotonic() - canceled_at
    assert done["status"] == "canceled" and done["error"]["code"] == "canceled"
    assert took < 2.0, f"canceled after {took:.1f} s"
    children = descendants(worker.pid)
    assert not [pid for pid in children if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep")]
