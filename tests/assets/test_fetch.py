"""Fetching sources over real HTTP from a local server: cache, caps, and the private-network guard."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from framefleet.assets.fetch import Fetcher
from framefleet.assets.netguard import address_allowed
from framefleet.compositor.prepare import fetch_all, plan_for
from framefleet.compositor.spec import RenderSpec, load_spec
from framefleet.config import Settings
from framefleet.errors import BadInput, FetchError, TransientFetchError
from tests.httptools import QuietHandler
from tests.mediatools import counting_ffprobe

BODY = b"x" * 5000


class Handler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        Handler.hits.append(self.path)
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/file.bin")
            self.end_headers()
        elif self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
        elif self.path == "/boom":
            self.send_response(503)
            self.end_headers()
        elif self.path.startswith("/file"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.hits = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def fetcher(tmp_path: Path, **env: str) -> Fetcher:
    values = {"FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache"), "FRAMEFLEET_ALLOW_PRIVATE_URLS": "true", **env}
    return Fetcher(Settings.from_env(values), base_dir=tmp_path)


def test_download_is_cached_by_url(tmp_path: Path, server: str) -> None:
    f = fetcher(tmp_path)
    first = f.fetch(f"{server}/file.mp4")
    assert first.read_bytes() == BODY and first.suffix == ".mp4" and f.downloads == 1
    second = fetcher(tmp_path)
    assert second.fetch(f"{server}/file.mp4") == first
    assert second.downloads == 0 and Handler.hits == ["/file.mp4"]  # the second render downloaded nothing


def test_redirects_are_followed(tmp_path: Path, server: str) -> None:
    assert fetcher(tmp_path).fetch(f"{server}/redirect").read_bytes() == BODY


def test_size_cap(tmp_path: Path, server: str) -> None:
    f = fetcher(tmp_path, FRAMEFLEET_MAX_DOWNLOAD_BYTES="1000")
    with pytest.raises(FetchError, match="larger than the download limit"):
        f.fetch(f"{server}/file.bin")
    assert not list((tmp_path / "cache").rglob("*.bin"))


def test_missing_and_failing_urls(tmp_path: Path, server: str) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        fetcher(tmp_path).fetch(f"{server}/missing.mp4")
    with pytest.raises(TransientFetchError):
        fetcher(tmp_path).fetch(f"{server}/boom")


def test_private_addresses_are_refused_by_default(tmp_path: Path, server: str) -> None:
    guarded = Fetcher(Settings.from_env({"FRAMEFLEET_CACHE_DIR": str(tmp_path / "c")}))
    with pytest.raises(FetchError, match="private or reserved address"):
        guarded.fetch(f"{server}/file.bin")
    with pytest.raises(FetchError, match="private or reserved address"):
        guarded.fetch("http://169.254.169.254/latest/meta-data/")
    assert Handler.hits == []


def test_redirect_to_a_private_address_is_refused(tmp_path: Path, server: str) -> None:
    # The first hop is allowed (loopback, in this test); the redirect to the metadata service is not.
    f = fetcher(tmp_path)
    from framefleet.assets import netguard

    original = netguard.resolve

    def only_loopback(host: str, port: int, *, allow_private: bool) -> list[tuple[int, str]]:
        return original(host, port, allow_private=host == "127.0.0.1")

    netguard.resolve = only_loopback  # type: ignore[assignment]
    try:
        with pytest.raises(FetchError, match="private or reserved"):
            f.fetch(f"{server}/to-metadata")
    finally:
        netguard.resolve = original  # type: ignore[assignment]


@pytest.mark.parametrize(("ip", "allowed"), [("8.8.8.8", True), ("127.0.0.1", False), ("10.1.2.3", False),
                                            ("169.254.169.254", False), ("100.64.0.1", False),
                                            ("::1", False), ("::ffff:10.0.0.1", False), ("224.0.0.1", False)])
def test_address_classes(ip: str, allowed: bool) -> None:
    assert address_allowed(ip) is allowed


def test_local_paths_relative_to_the_spec_and_roots(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"png")
    f = fetcher(tmp_path)
    assert f.fetch("a.png") == (tmp_path / "a.png").resolve()
    assert f.fetch(f"file://{tmp_path}/a.png") == (tmp_path / "a.png").resolve()
    with pytest.raises(FetchError, match="file not found"):
        f.fetch("b.png")
    rooted = Fetcher(Settings(), base_dir=tmp_path, local_root=tmp_path / "inside")
    with pytest.raises(FetchError, match="outside the configured media root"):
        rooted.fetch("a.png")


# --- a render's sources, fetched together -----------------------------------------------------------


class Gate(QuietHandler):
    """``/together/…`` answers only once three such requests are in (a barrier: it proves they were
    fetched at once, without timing anything); ``/hang`` sends its headers, then waits for ``release``;
    ``/media/<name>`` serves a file of ``folder``; ``/count/…`` counts the requests in at once (``peak``)
    and holds each until a third is in, for a second at most."""

    barrier = threading.Barrier(3)
    release = threading.Event()
    folder = Path()
    counted = threading.Condition()
    arrived = in_flight = peak = 0

    def do_GET(self) -> None:
        if self.path.startswith("/count"):
            with Gate.counted:
                Gate.arrived += 1
                Gate.in_flight += 1
                Gate.peak = max(Gate.peak, Gate.in_flight)
                Gate.counted.notify_all()
                Gate.counted.wait_for(lambda: Gate.in_flight > 2 or Gate.arrived >= 3, timeout=1)
                Gate.in_flight -= 1  # before the answer: the client's next request comes after it
            self.reply(200, b"WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n")
        elif self.path.startswith("/together"):
            try:
                Gate.barrier.wait(timeout=20)
            except threading.BrokenBarrierError:
                self.reply(500)  # fetched one after another: the test fails with a 5xx
                return
            self.reply(200, b"WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n")
        elif self.path == "/hang":
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            Gate.release.wait(30)
        elif self.path.startswith("/media/"):
            self.reply(200, (Gate.folder / self.path.removeprefix("/media/")).read_bytes())
        else:
            self.reply(503)


@pytest.fixture()
def gate(media: Path) -> Iterator[str]:
    Gate.barrier, Gate.release, Gate.folder = threading.Barrier(3), threading.Event(), media
    Gate.arrived = Gate.in_flight = Gate.peak = 0
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gate)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    Gate.release.set()
    httpd.shutdown()
    httpd.server_close()


def captions_spec(*urls: str) -> RenderSpec:
    return load_spec({"output": {"width": 320, "height": 240, "fps": 10}, "tracks": [
        {"clips": [{"type": "captions", "src": url, "length": 1}]} for url in urls]})


def test_a_render_s_sources_are_fetched_at_once(tmp_path: Path, gate: str) -> None:
    urls = [f"{gate}/together/{n}.vtt" for n in range(3)]
    files = fetch_all(captions_spec(*urls), fetcher(tmp_path))
    assert sorted(files) == sorted(urls) and all(p.read_bytes().startswith(b"WEBVTT") for p in files.values())


def test_the_fetch_concurrency_setting_bounds_the_downloads_at_once(tmp_path: Path, gate: str) -> None:
    """Two at once: the first two wait (a second at most) for a third that cannot start until one of them
    is done. Unbounded, the third comes at once and the peak is three."""
    urls = [f"{gate}/count/{n}.vtt" for n in range(3)]
    files = fetch_all(captions_spec(*urls), fetcher(tmp_path, FRAMEFLEET_FETCH_CONCURRENCY="2"))
    assert sorted(files) == sorted(urls) and Gate.arrived == 3 and Gate.peak == 2
    with pytest.raises(BadInput, match="FRAMEFLEET_FETCH_CONCURRENCY must be positive"):
        Settings.from_env({"FRAMEFLEET_FETCH_CONCURRENCY": "0"})


def test_a_server_error_stops_the_other_downloads_and_is_raised(tmp_path: Path, gate: str) -> None:
    """``/hang`` would take 30 s: the 503 of the other source ends it (the watchdog shuts its socket),
    and nothing of it is left in the cache."""
    f = fetcher(tmp_path)
    with pytest.raises(TransientFetchError, match="HTTP 503"):
        fetch_all(captions_spec(f"{gate}/hang", f"{gate}/boom.vtt"), f)
    assert not Gate.release.is_set()  # it did not wait for the hanging download to end by itself
    assert f.cancel is None and not list((tmp_path / "cache").rglob("*.part*"))


def test_media_is_probed_as_it_arrives_and_not_again_for_the_plan(tmp_path: Path, gate: str) -> None:
    counting, log = counting_ffprobe(tmp_path)
    spec = load_spec({"output": {"width": 320, "height": 240, "fps": 10}, "tracks": [{"clips": [
        {"type": "video", "src": f"{gate}/media/red.mp4"}, {"type": "video", "src": f"{gate}/media/green.mp4"}]}]})
    f = fetcher(tmp_path, FRAMEFLEET_FFPROBE=counting)
    files = fetch_all(spec, f)
    assert log.read_text().count("run") == 2
    plan = plan_for(spec, files, f.settings)
    assert log.read_text().count("run") == 2  # the plan found both probed
    assert plan.frames == 70  # 3 s of red, then 4 s of green, at 10 fps
