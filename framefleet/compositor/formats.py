"""Which ffmpeg demuxers may read a user's source, and the input options that pin each one down.

ffprobe and ffmpeg choose a demuxer by *content*, and several demuxers read other files named inside
the one they were given: an HLS or DASH playlist, an ffconcat list, an SDP description (RTP), an
image-sequence pattern (``frame%d.png``), ``lavfi``. A "video" that is really such a list makes ffmpeg
render worker-local files the tenant does not own, whatever the path check on ``src`` said. So a user's
source is probed only with :data:`DEMUXERS` allowed and only the ``file`` protocol, and is then opened
with the demuxer the probe found, named explicitly (``-f``), never guessed again.

The allowlist is what people really send to a video compositor, and every format on it reads only its
own bytes:

* ``mov`` (mp4, m4a, mov, 3gp): external data references are off by default (``enable_drefs``) and
  never turned on here; ``matroska`` (mkv, webm), ``avi``, ``mpegts`` and ``mpeg`` (camera and broadcast
  files), ``flv``, ``ogg``;
* sound: ``mp3``, ``wav``, ``flac``, ``aac`` (ADTS), ``aiff``;
* pictures: the single-image ``*_pipe`` demuxers ffprobe picks from a file's content (png, jpeg, webp,
  bmp, tiff, svg), ``gif``, and ``image2`` (what ffprobe reports for a ``.svg`` file), which is always
  opened with ``-pattern_type none`` so that ``%d`` or ``*`` in a file name is never a sequence or a
  glob. SVGs are drawn by librsvg with no base location, so an SVG's links to other files load nothing.

Left out on purpose: every playlist, list or network demuxer (``hls``, ``dash``, ``concat``, ``sdp``,
``rtp``, ``rtsp``, ``webm_dash_manifest``, ``lavfi``, ``image2pipe``), and formats no customer sends a
compositor whose parsers are rarely exercised (``mxf``, ``asf``, raw elementary streams, ``apng``, ...):
each one we accept is attack surface. A rejected file is ``bad_media`` ("is not a supported media file").
"""

from __future__ import annotations

#: The demuxers a user's source may be read with (ffmpeg's names, first of each demuxer's aliases).
DEMUXERS = frozenset({
    "mov", "matroska", "avi", "mpegts", "mpeg", "flv", "ogg",
    "mp3", "wav", "flac", "aac", "aiff",
    "image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "svg_pipe", "gif",
})

#: Demuxers whose result is one picture, not a timed stream.
IMAGES = frozenset({"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "svg_pipe", "gif"})

#: The only protocol a user's source (a local file, or a download already in our cache) is read with.
PROTOCOLS = "file"


def demuxer(format_name: str) -> str:
    """ffprobe's ``format_name`` (``mov,mp4,m4a,3gp,3g2,mj2``) as the name ``-f`` takes (``mov``)."""
    return format_name.split(",", 1)[0].strip()


def input_options(name: str) -> dict[str, str]:
    """The ffmpeg input options that open a user's source with demuxer ``name`` and nothing else.

    Raises ``ValueError`` for a demuxer outside :data:`DEMUXERS`: the probe refuses those first, so
    reaching here with one is a bug, and it must not become an ffmpeg run that guesses.
    """
    if name not in DEMUXERS:
        raise ValueError(f"demuxer {name!r} is not allowed for user sources")
    options = {"f": name, "protocol_whitelist": PROTOCOLS}
    if name == "image2":
        options["pattern_type"] = "none"
    return options


def input_args(name: str) -> list[str]:
    """:func:`input_options` as ffmpeg arguments, for a command written without the graph builder."""
    return [arg for key, value in input_options(name).items() for arg in (f"-{key}", value)]
