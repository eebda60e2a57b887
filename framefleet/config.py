"""Settings: the only place that reads the environment (SPEC §2).

Everything else receives a :class:`Settings` (or the piece of it it needs) from its caller, so tests build
settings from a plain dict and nothing changes behaviour behind a caller's back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from framefleet.errors import BadInput
from framefleet.provider_config import ProvidersFile, load_providers

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Limits:
    """Bounds on what one spec may ask for; each is an environment variable (``FRAMEFLEET_MAX_*``)."""

    max_duration: float = 3600.0
    max_width: int = 3840
    max_height: int = 3840
    max_pixels: int = 3840 * 2160
    max_clips: int = 500
    max_tracks: int = 50
    #: A spec's JSON may be at most this long (bytes) and nested this deep: parsing and validating
    #: a document costs time and stack in proportion to both, before any rule can refuse it.
    max_spec_bytes: int = 10 * 1024**2
    max_spec_depth: int = 32
    #: A job's ``metadata`` (a JSON object echoed on the job and its webhooks) may be at most this long
    #: serialised (bytes) and nested this deep; an ``idempotency_key`` at most this many characters.
    max_metadata_bytes: int = 16 * 1024
    max_metadata_depth: int = 8
    max_idempotency_key: int = 255
    max_download_bytes: int = 2 * 1024**3
    download_timeout: float = 60.0
    #: A whole download (all redirects, every byte) must end within this many seconds: a server that
    #: trickles one byte at a time never trips the per-read ``download_timeout``.
    download_deadline: float = 600.0
    #: A captions file (SRT, WebVTT, JSON words) may be at most this long (bytes) and hold this many
    #: words, in files and inline: an hour of fast speech is about 11,000 words, and its word-timed
    #: JSON (the most verbose format, ~150 bytes a word) under 2 MB, so both leave twice that room.
    max_caption_bytes: int = 5 * 1024**2
    max_caption_words: int = 20_000
    #: No picture framefleet draws (text, a caption state, a gradient) or sizes for ffmpeg (a colour,
    #: a scaled text) may exceed this many pixels: four 4K frames (133 MB as RGBA) leaves room for
    #: text taller or wider than the frame while a 5 KB spec cannot ask for a 600 GiB image.
    max_raster_pixels: int = 4 * 3840 * 2160
    #: A render spec may ask for at most this many generations (``{"generate": ...}`` sources and captions
    #: ``of`` a clip): each is a job billed to the tenant, so one spec cannot order thousands of them.
    max_generations: int = 20
    #: An animated ``opacity``, ``offset.x``/``y`` or ``scale`` may have at most this many keyframes: each
    #: is a term of an expression ffmpeg evaluates for every frame (nested, so parsing grows with it too).
    max_keyframes: int = 64


@dataclass(frozen=True)
class Settings:
    """framefleet's configuration, built from the environment once, by the program's entry point."""

    broker_url: str = "memory://"
    storage_url: str = "file://./framefleet-output"
    s3_endpoint_url: str | None = None
    url_ttl: int = 86400
    webhook_secret: str | None = None
    metrics_port: int = 9191
    encoder: str = "auto"
    allow_private_urls: bool = False
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "framefleet")
    #: Local files a queued job may read; ``None`` means queued jobs read no local files at all.
    local_root: Path | None = None
    #: ``s3://bucket/prefix`` places queued jobs may read (``{tenant}`` stands for the job's tenant);
    #: empty means queued jobs read no ``s3://`` source at all.
    s3_sources: tuple[str, ...] = ()
    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    limits: Limits = field(default_factory=Limits)
    #: Where job state lives when the broker is not Redis (RabbitMQ): a redis:// URL.
    state_url: str | None = None
    #: Queued jobs older than this (seconds) become ``expired``.
    job_ttl: float = 86400.0
    #: A render running longer than this (seconds) is stopped and fails with ``timeout``.
    render_time_limit: float = 3600.0
    #: After SIGTERM, running jobs get this long (seconds) to finish before they are handed back.
    shutdown_grace: float = 300.0
    #: How long an idle worker waits between polls of an empty Redis queue, at most (milliseconds).
    poll_ms: int = 100
    #: Where worker processes of one pod share metric files (wiped when the pod's worker starts).
    metrics_dir: Path | None = None
    #: ``json`` (one object a line, for log shippers), ``text`` (for terminals) or ``auto``.
    log_format: str = "auto"
    #: First webhook retry after this many milliseconds, doubling up to 6 hours.
    webhook_min_backoff_ms: int = 10_000
    #: A render is cut into time segments that each open at most this many video or image clips...
    segment_inputs: int = 6
    #: ...and last at most this many seconds; a timeline within both renders in one piece.
    segment_seconds: float = 60.0
    #: A queued render longer than this is split into chunks of about this length (SPEC §7).
    chunk_seconds: float = 120.0
    #: Fair shares: new jobs wait in one line per tenant and are released to the queues in turns, so one
    #: tenant's backlog cannot hold back another tenant's next job.
    fair: bool = True
    #: At most this many jobs of one tenant run (or are released to run) at once; 0: no cap.
    tenant_concurrency: int = 0
    #: Jobs released ahead into each queue, ready for the next free worker thread.
    dispatch_ahead: int = 2
    #: The asset cache (downloads) and the cache of ``job:`` results are each trimmed to this many bytes,
    #: least recently used first.
    cache_max_bytes: int = 10 * 1024**3
    #: The probe cache keeps at most this many results (a few hundred bytes each).
    probe_cache_max_entries: int = 100_000
    #: Sources one render fetches at once (browsers open six connections a host): a render of ten remote
    #: clips waits about as long as its largest takes, not for the sum of them.
    fetch_concurrency: int = 6
    #: The cores one render's ffmpeg sizes its threads for; 0: the cores this process may use (its CPU
    #: affinity, capped by a cgroup CPU quota), which a pod running several renders at once can lower.
    ffmpeg_cores: int = 0
    #: A render waiting for the generations its spec asks for is parked (no thread held) and looks at them
    #: again after 0.25 s, doubling up to this many seconds.
    render_wait_poll: float = 5.0
    #: The providers file of SPEC §8 (TOML or JSON: one table per generation type), parsed, with each
    #: provider's key read from the variable its ``api_key_env`` names (never shown in a repr); None: the
    #: local providers for speech and captions, and ``provider_error`` for the types that need a service.
    #: Loaded here so no other module reads the environment.
    providers: ProvidersFile | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every ``FRAMEFLEET_*`` variable; a malformed value is a :class:`BadInput` naming it."""
        env = os.environ if environ is None else environ

        def get(name: str, default: str | None = None) -> str | None:
            value = env.get(f"FRAMEFLEET_{name}")
            return default if value is None or value == "" else value

        def number(name: str, default: float, kind: type = float) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise BadInput(f"FRAMEFLEET_{name} must be a number, got {raw!r}") from None
            if value <= 0:
                raise BadInput(f"FRAMEFLEET_{name} must be positive, got {raw!r}")
            return float(value)

        def whole(name: str, default: int) -> int:
            raw = get(name)
            if raw is None:
                return default
            if not raw.strip().isdigit():
                raise BadInput(f"FRAMEFLEET_{name} must be a whole number (0 or more), got {raw!r}")
            return int(raw)

        def flag(name: str) -> bool:
            raw = (get(name) or "").strip().lower()
            if raw in _TRUE:
                return True
            if raw in _FALSE:
                return False
            raise BadInput(f"FRAMEFLEET_{name} must be true or false, got {raw!r}")

        def s3_sources(raw: str) -> tuple[str, ...]:
            places = tuple(p for p in raw.replace(",", " ").split() if p)
            for place in places:
                bucket = place.removeprefix("s3://").split("/", 1)[0]
                if not place.startswith("s3://") or not bucket or "{" in bucket:
                    raise BadInput(f"FRAMEFLEET_S3_SOURCES: {place!r} is not an s3://bucket/prefix place")
            return places

        encoder = (get("ENCODER") or "auto").lower()
        if encoder not in {"auto", "cpu", "gpu"}:
            raise BadInput(f"FRAMEFLEET_ENCODER must be auto, cpu or gpu, got {encoder!r}")
        defaults = Limits()
        limits = Limits(
            max_duration=number("MAX_DURATION", defaults.max_duration),
            max_width=int(number("MAX_WIDTH", defaults.max_width, int)),
            max_height=int(number("MAX_HEIGHT", defaults.max_height, int)),
            max_pixels=int(number("MAX_PIXELS", defaults.max_pixels, int)),
            max_clips=int(number("MAX_CLIPS", defaults.max_clips, int)),
            max_tracks=int(number("MAX_TRACKS", defaults.max_tracks, int)),
            max_spec_bytes=int(number("MAX_SPEC_BYTES", defaults.max_spec_bytes, int)),
            max_spec_depth=int(number("MAX_SPEC_DEPTH", defaults.max_spec_depth, int)),
            max_metadata_bytes=int(number("MAX_METADATA_BYTES", defaults.max_metadata_bytes, int)),
            max_metadata_depth=int(number("MAX_METADATA_DEPTH", defaults.max_metadata_depth, int)),
            max_idempotency_key=int(number("MAX_IDEMPOTENCY_KEY", defaults.max_idempotency_key, int)),
            max_download_bytes=int(number("MAX_DOWNLOAD_BYTES", defaults.max_download_bytes, int)),
            download_timeout=number("DOWNLOAD_TIMEOUT", defaults.download_timeout),
            download_deadline=number("DOWNLOAD_DEADLINE", defaults.download_deadline),
            max_caption_bytes=int(number("MAX_CAPTION_BYTES", defaults.max_caption_bytes, int)),
            max_caption_words=int(number("MAX_CAPTION_WORDS", defaults.max_caption_words, int)),
            max_raster_pixels=int(number("MAX_RASTER_PIXELS", defaults.max_raster_pixels, int)),
            max_generations=int(number("MAX_GENERATIONS", defaults.max_generations, int)),
            max_keyframes=int(number("MAX_KEYFRAMES", defaults.max_keyframes, int)),
        )
        cache = get("CACHE_DIR")
        xdg = env.get("XDG_CACHE_HOME")
        home_cache = Path(xdg) / "framefleet" if xdg else Path.home() / ".cache" / "framefleet"
        root = get("LOCAL_ROOT")
        providers_path = get("PROVIDERS")
        return cls(
            broker_url=get("BROKER_URL", "memory://") or "memory://",
            storage_url=get("STORAGE_URL", "file://./framefleet-output") or "",
            s3_endpoint_url=get("S3_ENDPOINT_URL"),
            url_ttl=int(number("URL_TTL", 86400, int)),
            webhook_secret=get("WEBHOOK_SECRET"),
            metrics_port=int(number("METRICS_PORT", 9191, int)),
            encoder=encoder,
            allow_private_urls=flag("ALLOW_PRIVATE_URLS"),
            cache_dir=Path(cache) if cache else home_cache,
            local_root=Path(root).resolve() if root else None,
            s3_sources=s3_sources(get("S3_SOURCES") or ""),
            state_url=get("STATE_URL"),
            job_ttl=number("JOB_TTL", 86400.0),
            render_time_limit=number("RENDER_TIME_LIMIT", 3600.0),
            shutdown_grace=number("SHUTDOWN_GRACE", 300.0),
            poll_ms=int(number("POLL_MS", 100, int)),
            metrics_dir=Path(get("METRICS_DIR")) if get("METRICS_DIR") else None,  # type: ignore[arg-type]
            log_format=(get("LOG_FORMAT") or "auto").lower(),
            webhook_min_backoff_ms=int(number("WEBHOOK_MIN_BACKOFF_MS", 10_000, int)),
            segment_inputs=int(number("SEGMENT_INPUTS", 6, int)),
            segment_seconds=number("SEGMENT_SECONDS", 60.0),
            chunk_seconds=number("CHUNK_SECONDS", 120.0),
            fair=flag("FAIR") if get("FAIR") is not None else True,
            tenant_concurrency=int(whole("TENANT_CONCURRENCY", 0)),
            dispatch_ahead=int(number("DISPATCH_AHEAD", 2, int)),
            cache_max_bytes=int(number("CACHE_MAX_BYTES", 10 * 1024**3, int)),
            probe_cache_max_entries=int(number("PROBE_CACHE_MAX_ENTRIES", 100_000, int)),
            fetch_concurrency=int(number("FETCH_CONCURRENCY", 6, int)),
            ffmpeg_cores=int(whole("FFMPEG_CORES", 0)),
            render_wait_poll=number("RENDER_WAIT_POLL", 5.0),
            providers=load_providers(Path(providers_path), env) if providers_path else None,
            ffmpeg=get("FFMPEG", "ffmpeg") or "ffmpeg",
            ffprobe=get("FFPROBE", "ffprobe") or "ffprobe",
            limits=limits,
        )
