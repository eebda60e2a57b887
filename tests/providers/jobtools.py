"""An in-process fleet for generation tests: memory:// broker, embedded worker, results in a folder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from framefleet.client import Client
from framefleet.config import Settings


@contextmanager
def fleet(tmp_path: Path, providers: str | None = None, **env: str) -> Iterator[Client]:
    values = {"FRAMEFLEET_BROKER_URL": "memory://", "FRAMEFLEET_STORAGE_URL": f"file://{tmp_path}/results",
              "FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache"), "FRAMEFLEET_ALLOW_PRIVATE_URLS": "true",
              "FRAMEFLEET_LOCAL_ROOT": str(tmp_path), **env}
    if providers is not None:
        path = tmp_path / "providers.toml"
        path.write_text(providers)
        values["FRAMEFLEET_PROVIDERS"] = str(path)
    client = Client(Settings.from_env(values))
    try:
        yield client
    finally:
        client.close()


def run(client: Client, payload: dict[str, Any], type: str, timeout: float = 60) -> dict[str, Any]:
    job = client.submit(payload, type=type, tenant="acme")
    return client.wait(job["id"], timeout=timeout)


def local_file(url: str) -> Path:
    """The file behind a ``file://`` result URL."""
    return Path(urlsplit(url).path)
