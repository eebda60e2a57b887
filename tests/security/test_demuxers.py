"""ffmpeg reads only what framefleet fetched (issue 8).

Each trick is a file whose *content* makes ffmpeg's format guessing pick a demuxer that reads other
files: an HLS or DASH playlist, an ffconcat list, an SDP description, saved as ``innocent.mp4``. The
files they point at are a "secret" a tenant does not own: a distinctive red clip outside the tenant's
folder. Every trick, from a local path and over HTTP, must end as ``bad_media`` (exit 2, the source
named, no traceback, no output), never as a render.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from framefleet.compositor import ffmpeg as runner
from framefleet.compositor import formats
from framefleet.errors import BadMedia
from tests.mediatools import close, ffmpeg, pixel
from tests.test_cli import cli, small, write

SECRET_RED = "#ff0000"
#: What refusing a source whose content is a list of other files says (no paths, no ffmpeg words).
REFUSED = "innocent.mp4 is not a supported media file"


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Worker-local files the tenant does not own: red video as MP4 and as MPEG-TS (HLS segments)."""
    folder = tmp_path_factory.mktemp("secret")
    for name, container in (("secret.mp4", "mp4"), ("secret.ts", "mpegts")):
        ffmpeg("-f", "lavfi", "-i", f"color=c={SECRET_RED}:s=320x240:r=30:d=2", "-c:v", "libx264", "-preset",
               "ultrafast", "-pix_fmt", "yuv420p", "-f", container, str(folder / name))
    return folder


def tricks(secret: Path, relative: str) -> dict[str, str]:
    """Each trick's file content; ``relative`` is the secret folder as seen from the tenant's folder."""
    ts, mp4 = secret / "secret.ts", secret / "secret.mp4"
    return {
        "hls": f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nfile://{ts}\n"
               f"#EXTINF:2.0,\n{relative}/secret.ts\n#EXT-X-ENDLIST\n",
        "dash": '<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
                'mediaPresentationDuration="PT2S" minBufferTime="PT1S" '
                'profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"><Period><AdaptationSet '
                'mimeType="video/mp4"><Representation id="1" bandwidth="100000" width="320" height="240" '
                f'codecs="avc1.640014"><BaseURL>file://{mp4}</BaseURL></Representation></AdaptationSet>'
                "</Period></MPD>\n",
        "ffconcat": f"ffconcat version 1.0\nfile '{relative}/secret.mp4'\nfile '{mp4}'\n",
        "sdp": "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=secret\nc=IN IP4 127.0.0.1\nt=0 0\n"
               "m=video 45678 RTP/AVP 96\na=rtpmap:96 H264/90000\n",
    }


@pytest.fixture()
def tenant(tmp_path: Path) -> Path:
    folder = tmp_path / "tenant"
    folder.mkdir()
    return folder


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A real local HTTP server: the folder it serves and its base URL."""
    folder = tmp_path / "www"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def refused(done: object, needle: str, out: Path) -> None:
    assert done.returncode == 2, done.stderr  # type: ignore[attr-defined]
    assert needle in done.stderr, done.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in done.stderr  # type: ignore[attr-defined]
    assert list(out.parent.iterdir()) == []  # no output, no partial output


@pytest.mark.parametrize("trick", ["hls", "dash", "ffconcat", "sdp"])
def test_a_local_list_of_other_files_is_bad_media(trick: str, secret: Path, tenant: Path) -> None:
    (tenant / "innocent.mp4").write_text(tricks(secret, os.path.relpath(secret, tenant))[trick])
    spec = write(tenant, small({"type": "video", "src": "innocent.mp4", "length": 2}))
    out = tenant / "out" / "out.mp4"
    out.parent.mkdir()
    refused(cli("render", str(spec), "-o", str(out)), REFUSED, out)
    done = cli("validate", str(spec))
    assert done.returncode == 2 and f"tracks[0].clips[0].src: {REFUSED}" in done.stderr, done.stderr


@pytest.mark.parametrize("trick", ["hls", "dash", "ffconcat", "sdp"])
def test_a_list_of_other_files_over_http_is_bad_media(trick: str, secret: Path, tenant: Path,
                                                      served: tuple[Path, str], tmp_path: Path) -> None:
    folder, base = served
    # relative references resolve against the cached download's folder: aim them at the secret
    (folder / "innocent.mp4").write_text(tricks(secret, str(secret))[trick])
    spec = write(tenant, small({"type": "video", "src": f"{base}/innocent.mp4", "length": 2}))
    out = tenant / "out" / "out.mp4"
    out.parent.mkdir()
    env = {"FRAMEFLEET_ALLOW_PRIVATE_URLS": "1", "FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache")}
    refused(cli("render", str(spec), "-o", str(out), env=env), f"{base}/{REFUSED}", out)


def test_a_percent_d_in_a_local_name_is_that_file_not_a_sequence(secret: Path, tenant: Path) -> None:
    # frame%d.png is the tenant's blue picture; frame1.png beside it is not theirs (red). The image2
    # demuxer used to read "frame%d.png" as the sequence frame0.png, frame1.png...
    Image.new("RGB", (320, 240), (0, 0, 255)).save(tenant / "frame%d.png")
    Image.new("RGB", (640, 480), (255, 0, 0)).save(tenant / "frame1.png")
    Image.new("RGB", (320, 240), (0, 0, 255)).save(tenant / "shot%d.jpg")
    Image.new("RGB", (640, 480), (255, 0, 0)).save(tenant / "shot1.jpg")
    spec = write(tenant, small({"type": "image", "src": "frame%d.png", "length": 1},
                               {"type": "image", "src": "shot%d.jpg", "length": 1}))
    out = tenant / "out.mp4"
    done = cli("render", str(spec), "-o", str(out))
    assert done.returncode == 0, done.stderr
    for t in (0.5, 1.5):
        assert close(pixel(out, t, 160, 120, (320, 240)), (0, 0, 255)), t


def test_a_cut_short_mp4_is_bad_media(media: Path, tenant: Path) -> None:
    whole = tenant / "whole.mp4"
    ffmpeg("-i", str(media / "red.mp4"), "-c", "copy", "-movflags", "+faststart", str(whole))
    (tenant / "cut.mp4").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    spec = write(tenant, small({"type": "video", "src": "cut.mp4"}))
    out = tenant / "out" / "out.mp4"
    out.parent.mkdir()
    refused(cli("render", str(spec), "-o", str(out)), "cut.mp4 is truncated", out)


@pytest.mark.parametrize(("clip", "needle"), [
    ({"type": "image", "src": "voice.wav", "length": 1}, "voice.wav holds no picture (tracks[0].clips[0].src)"),
    ({"type": "video", "src": "alpha.png", "length": 1},
     "alpha.png is a still picture, not a video: use an image clip (tracks[0].clips[0].src)"),
])
def test_a_source_of_the_wrong_kind_is_bad_media(media: Path, tenant: Path, clip: dict, needle: str) -> None:
    shutil.copy(media / clip["src"], tenant)
    spec = write(tenant, small(clip))
    out = tenant / "out" / "out.mp4"
    out.parent.mkdir()
    refused(cli("render", str(spec), "-o", str(out)), needle, out)


def test_samples_past_the_end_of_the_file_are_bad_media(tmp_path: Path) -> None:
    # A QuickTime file whose boxes fit the file but whose index points past its end: the probe cannot
    # tell, and ffmpeg says "partial file" and exits 0. The run must not count as a success.
    whole = tmp_path / "tone.mov"
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:r=48000:d=3", "-c:a", "pcm_s16le", "-movflags", "+faststart",
           str(whole))
    data = bytearray(whole.read_bytes())
    at = data.index(b"mdat") - 4
    keep = at + 8 + (len(data) - at - 8) // 2 // 4 * 4  # whole samples: the short last packet still decodes
    del data[keep:]
    data[at:at + 4] = (len(data) - at).to_bytes(4, "big")  # the media box now "ends" with the file
    cut = tmp_path / "cut.mov"
    cut.write_bytes(bytes(data))
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", *formats.input_args("mov"),
            "-i", str(cut), "-f", "null", "-"]
    with pytest.raises(BadMedia, match=r"^tone\.mov is truncated") as caught:
        runner.run(argv, total_seconds=3, sources={str(cut): "tone.mov"})
    assert str(tmp_path) not in caught.value.message


def test_every_user_input_names_its_demuxer_and_reads_local_files_only() -> None:
    assert formats.input_options("mov") == {"f": "mov", "protocol_whitelist": "file"}
    assert formats.input_options("image2") == {"f": "image2", "protocol_whitelist": "file", "pattern_type": "none"}
    for listing in ("hls", "dash", "concat", "sdp", "rtp", "rtsp", "lavfi", "image2pipe", "webm_dash_manifest", ""):
        with pytest.raises(ValueError, match="not allowed"):
            formats.input_options(listing)
