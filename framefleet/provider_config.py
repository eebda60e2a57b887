"""The providers file of SPEC §8: which provider serves each generation type, with its limits.

TOML or JSON (same keys), one table per type. Read once by :meth:`framefleet.config.Settings.from_env`,
which passes the environment in: a provider's key is read from the variable its ``api_key_env`` names
(the file never holds a key) and is kept out of every repr and message.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framefleet.errors import BadInput

#: Generation types a providers file may configure (``media`` is built in: it fetches).
GENERATION_TYPES = ("speech_from_text", "captions", "image_from_text", "text", "video_from_text",
                    "video_from_image", "lipsync")
#: Which protocols serve which types; anything else is refused when the file is read, not at a job.
SUPPORTED: dict[str, frozenset[str]] = {
    "openai": frozenset({"speech_from_text", "captions", "image_from_text", "text", "video_from_text",
                         "video_from_image"}),
    "replicate": frozenset({"speech_from_text", "image_from_text", "text", "video_from_text", "video_from_image",
                            "lipsync"}),
    "elevenlabs": frozenset({"speech_from_text"}),
    "local": frozenset({"speech_from_text", "captions"}),
}
DEFAULT_BASE_URLS = {"openai": "https://api.openai.com/v1", "replicate": "https://api.replicate.com/v1",
                     "elevenlabs": "https://api.elevenlabs.io/v1", "local": ""}
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
_MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ProviderConfig:
    """One type's provider. Numbers are per request (``timeout``) or across the fleet (the rest)."""

    type: str
    provider: str
    base_url: str = ""
    model: str = ""
    api_key_env: str | None = None
    api_key: str | None = field(default=None, repr=False)
    #: seconds one HTTP request may take (connect, send, read each byte)
    timeout: float = 60.0
    #: requests in flight at once for this type, across the fleet
    concurrency: int = 4
    #: requests started per minute for this type, across the fleet
    rate_per_minute: int = 60
    #: attempts of one request on 5xx and time-outs (backoff between them) before the job itself retries
    retries: int = 3
    #: an asynchronous provider (video, Replicate) is looked at this often, without holding a thread...
    poll_interval: float = 5.0
    #: ...for at most this long, then the job fails with ``timeout``
    max_wait: float = 1800.0
    #: the longest text (script, prompt) a job may send, in characters
    max_characters: int = 20_000
    #: self-hosted servers on a private network: let this provider's base URL reach private addresses
    allow_private: bool = False
    #: every other key of the table (``voice``, ``version``, ``input``, ``size``...), as written
    extra: Mapping[str, Any] = field(default_factory=dict)

    def option(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)


@dataclass(frozen=True)
class ProvidersFile:
    path: Path
    types: Mapping[str, ProviderConfig]

    def get(self, job_type: str) -> ProviderConfig | None:
        return self.types.get(job_type)


_NUMBERS: dict[str, tuple[type, float, float]] = {
    "timeout": (float, 0.1, 3600), "concurrency": (int, 1, 10_000), "rate_per_minute": (int, 1, 1_000_000),
    "retries": (int, 1, 10), "poll_interval": (float, 0.05, 600), "max_wait": (float, 1, 86_400),
    "max_characters": (int, 1, 1_000_000),
}


def _table(job_type: str, raw: Any, environ: Mapping[str, str], where: str) -> ProviderConfig:
    if not isinstance(raw, dict):
        raise BadInput(f"{where}: [{job_type}] must be a table")
    provider = raw.get("provider")
    if provider not in SUPPORTED:
        raise BadInput(f"{where}: [{job_type}].provider must be one of {', '.join(SUPPORTED)}")
    if job_type not in SUPPORTED[provider]:
        raise BadInput(f"{where}: [{job_type}]: the {provider} provider does not do {job_type}")
    values: dict[str, Any] = {}
    for name, (kind, low, high) in _NUMBERS.items():
        if name not in raw:
            continue
        value = raw[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                or not low <= value <= high or (kind is int and value != int(value)):
            raise BadInput(f"{where}: [{job_type}].{name} must be a number from {low:g} to {high:g}")
        values[name] = kind(value)
    for name in ("base_url", "model", "api_key_env"):
        if name in raw and not isinstance(raw[name], str):
            raise BadInput(f"{where}: [{job_type}].{name} must be a string")
    base_url = str(raw.get("base_url") or DEFAULT_BASE_URLS[provider]).rstrip("/")
    if provider != "local" and not base_url.startswith(("http://", "https://")):
        raise BadInput(f"{where}: [{job_type}].base_url must be an http(s) URL")
    key_env = raw.get("api_key_env")
    key = None
    if key_env is not None:
        if not _ENV_NAME.fullmatch(key_env):
            raise BadInput(f"{where}: [{job_type}].api_key_env must name an environment variable")
        key = environ.get(key_env) or None
    allow_private = raw.get("allow_private", False)
    if not isinstance(allow_private, bool):
        raise BadInput(f"{where}: [{job_type}].allow_private must be true or false")
    known = {"provider", "base_url", "model", "api_key_env", "allow_private", *_NUMBERS}
    return ProviderConfig(type=job_type, provider=provider, base_url=base_url, model=str(raw.get("model") or ""),
                          api_key_env=key_env, api_key=key, allow_private=allow_private,
                          extra={k: v for k, v in raw.items() if k not in known}, **values)


def load_providers(path: Path, environ: Mapping[str, str]) -> ProvidersFile:
    """Parse the providers file; any mistake is a :class:`BadInput` naming the table and key."""
    where = "FRAMEFLEET_PROVIDERS"
    try:
        raw = path.read_bytes()[: _MAX_FILE_BYTES + 1]
    except OSError as exc:
        raise BadInput(f"{where}: the providers file cannot be read ({exc.strerror})") from None
    if len(raw) > _MAX_FILE_BYTES:
        raise BadInput(f"{where}: the providers file is over {_MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode()
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise BadInput(f"{where}: the providers file is not valid {kind}: "
                       f"{str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise BadInput(f"{where}: the providers file must hold one table per generation type")
    unknown = sorted(set(data) - set(GENERATION_TYPES))
    if unknown:
        raise BadInput(f"{where}: unknown generation type(s) {', '.join(unknown)} "
                       f"(one of {', '.join(GENERATION_TYPES)})")
    return ProvidersFile(path=path, types={t: _table(t, v, environ, where) for t, v in data.items()})


def configured(providers: ProvidersFile | None, job_type: str) -> ProviderConfig | None:
    """The provider for ``job_type``: the file's, else the local one for speech and captions (offline,
    so a spec with a voice-over renders on any worker), else None."""
    chosen = providers.get(job_type) if providers is not None else None
    if chosen is not None:
        return chosen
    if job_type in SUPPORTED["local"]:
        return ProviderConfig(type=job_type, provider="local")
    return None
