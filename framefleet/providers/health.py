"""``framefleet doctor``'s provider checks: which provider serves each type, and whether it answers."""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace

from framefleet.config import Settings
from framefleet.errors import FramefleetError
from framefleet.provider_config import GENERATION_TYPES, ProviderConfig, configured
from framefleet.providers.http import ProviderHTTP

#: A cheap authenticated GET per protocol: it answers 200 only with a working key.
PROBES = {"openai": "/models", "replicate": "/account", "elevenlabs": "/models"}


def _local(config: ProviderConfig) -> tuple[bool, str]:
    if config.type == "speech_from_text":
        found = shutil.which("espeak-ng")
        return bool(found), "local: espeak-ng installed" if found else "local: espeak-ng is not installed"
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        return False, "local: the pocketsphinx package is not installed"
    return True, "local: pocketsphinx aligner with its English model"


def _remote(config: ProviderConfig) -> tuple[bool, str]:
    where = f"{config.provider} at {config.base_url}" + (f" ({config.model})" if config.model else "")
    if config.api_key_env and not config.api_key:
        return False, f"{where}: {config.api_key_env} is not set"
    quick = replace(config, timeout=min(config.timeout, 5.0), retries=1)
    try:
        ProviderHTTP.for_config(quick, cancel=threading.Event()).json("GET", PROBES[config.provider])
    except FramefleetError as exc:
        return False, f"{where}: {exc.message}"
    return True, f"{where}: answers"


def provider_checks(settings: Settings) -> list[tuple[str, bool, str]]:
    """(name, ok, detail) per generation type; none raises."""
    out: list[tuple[str, bool, str]] = []
    for job_type in GENERATION_TYPES:
        config = configured(settings.providers, job_type)
        if config is None:
            out.append((f"provider {job_type}", False, "not configured (jobs fail with provider_error)"))
            continue
        ok, detail = _local(config) if config.provider == "local" else _remote(config)
        out.append((f"provider {job_type}", ok, detail))
    return out
