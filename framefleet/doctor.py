"""``framefleet doctor``: what this machine can render with, checked for real rather than assumed."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from framefleet.compositor.encoders import nvenc_status
from framefleet.compositor.text import find_font
from framefleet.config import Settings

ENCODERS = ("libx264", "h264_nvenc", "libvpx-vp9", "aac", "libopus", "libmp3lame")
REQUIRED_ENCODERS = {"libx264", "aac"}
FILTERS = ("overlay", "perspective", "ebur128", "ametadata", "loudnorm", "sidechaincompress", "amix", "fade",
           "palettegen")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True


def _run(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout


def checks(settings: Settings) -> list[Check]:
    """Every check, required or informational; none raises."""
    out: list[Check] = []
    ffmpeg = shutil.which(settings.ffmpeg)
    version = _run([settings.ffmpeg, "-hide_banner", "-version"]).splitlines()
    out.append(Check("ffmpeg", bool(ffmpeg and version), version[0] if version else "not found"))
    out.append(Check("ffprobe", bool(shutil.which(settings.ffprobe)), shutil.which(settings.ffprobe) or "not found"))
    listed = _run([settings.ffmpeg, "-hide_banner", "-encoders"])
    for name in ENCODERS:
        present = re.search(rf"^\s*\S+\s+{re.escape(name)}\s", listed, re.M) is not None
        out.append(Check(f"encoder {name}", present, "available" if present else "missing",
                         required=name in REQUIRED_ENCODERS))
    filters = _run([settings.ffmpeg, "-hide_banner", "-filters"])
    missing = [f for f in FILTERS if not re.search(rf"\s{f}\s", filters)]
    out.append(Check("filters", not missing, "all present" if not missing else f"missing: {', '.join(missing)}"))
    works, why = nvenc_status(settings.ffmpeg) if ffmpeg else (False, "no ffmpeg")
    detail = "h264_nvenc encodes: GPU renders use it" if works else f"no working NVENC ({why}): renders use libx264"
    out.append(Check("nvenc test encode", works, detail, required=False))
    try:
        font = find_font("DejaVu Sans", True)
        families = len({line.split(":")[0] for line in _run(["fc-list", ":", "family"]).splitlines() if line})
        out.append(Check("fonts", True, f"default {font}; {families} families installed"))
    except Exception as exc:  # any failure here is the answer the user needs
        out.append(Check("fonts", False, str(exc)))
    out += script_checks()
    out += fleet_checks(settings)
    from framefleet.providers.health import provider_checks  # generation providers: configured, answering

    out += [Check(name, ok, detail, required=False) for name, ok, detail in provider_checks(settings)]
    try:
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.cache_dir):
            pass
        out.append(Check("cache dir", True, str(settings.cache_dir)))
    except OSError as exc:
        out.append(Check("cache dir", False, f"{settings.cache_dir}: {exc.strerror}"))
    return out


def script_checks() -> list[Check]:
    """Whether text in each script is drawn with a real font rather than boxes, whatever font a spec
    names: fontconfig's fallback chain (informational: renders work, the script shows as boxes)."""
    from pathlib import Path

    from framefleet.compositor.fonts import script_faces

    out = []
    for script, face, package in script_faces():
        detail = (Path(face.path).name if face else f"no font: drawn as boxes; install {package}")
        out.append(Check(f"font {script}", face is not None, detail, required=False))
    return out


def fleet_checks(settings: Settings) -> list[Check]:
    """Broker, job state, storage and this machine's metrics endpoint."""
    import urllib.request

    out: list[Check] = []
    try:
        from framefleet.worker.process import _broker_ping
        from framefleet.worker.wiring import build_runtime

        rt, broker, _ = build_runtime(settings)
        if settings.broker_url.startswith("memory://"):
            out.append(Check("broker", True, "memory:// (embedded worker, this process only)"))
        else:
            _broker_ping(broker, rt)()
            out.append(Check("broker", True, f"{settings.broker_url.split('@')[-1]} answers; job state answers"))
        broker.close()
    except Exception as exc:
        out.append(Check("broker", False, f"{type(exc).__name__}: {exc}"[:200]))
        return out
    try:
        rt.storage.check()
        out.append(Check("storage", True, f"{settings.storage_url} is writable"))
    except Exception as exc:
        out.append(Check("storage", False, f"{settings.storage_url}: {getattr(exc, 'message', exc)}"))
    url = f"http://127.0.0.1:{settings.metrics_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            out.append(Check("metrics", response.status == 200, f"a worker serves {url}", required=False))
    except OSError:
        out.append(Check("metrics", False, f"no worker metrics on port {settings.metrics_port} here", required=False))
    return out


def report(results: list[Check]) -> str:
    width = max(len(c.name) for c in results)
    lines = []
    for c in results:
        mark = "ok" if c.ok else ("FAIL" if c.required else "--")
        lines.append(f"{mark:>4}  {c.name:<{width}}  {c.detail}")
    return "\n".join(lines)


def healthy(results: list[Check]) -> bool:
    return all(c.ok for c in results if c.required)


__all__ = ["Check", "checks", "healthy", "report"]
