"""Fetching sources over real HTTP from a local server: cache, caps, and the private-network guard."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from framefleet.assets.fetch import Fetcher
from framefleet.assets.netguard import address_allowed
from framefleet.config import Settings
from framefleet.errors import FetchError, TransientFetchError

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
