"""``framefleet doctor`` names each type's provider and whether it answers."""

from __future__ import annotations

from pathlib import Path

from framefleet.config import Settings
from framefleet.providers.health import provider_checks
from tests.providers.fakes import Reply, serve


def test_doctor_says_which_providers_are_configured_and_answer(tmp_path: Path) -> None:
    with serve() as api:
        api.on("GET", "/v1/models", Reply(200, {"data": []}))
        api.on("GET", "/r/account", Reply(401, {"detail": "Invalid token r8_abc"}))
        toml = tmp_path / "p.toml"
        toml.write_text(f'[text]\nprovider = "openai"\nbase_url = "{api.url}/v1"\nmodel = "gpt-4o-mini"\n'
                        'api_key_env = "OK_KEY"\nallow_private = true\n'
                        f'[image_from_text]\nprovider = "replicate"\nbase_url = "{api.url}/r"\n'
                        'api_key_env = "BAD_KEY"\nallow_private = true\n'
                        f'[video_from_text]\nprovider = "openai"\nbase_url = "{api.url}/v1"\n'
                        'api_key_env = "MISSING_KEY"\n')
        settings = Settings.from_env({"FRAMEFLEET_PROVIDERS": str(toml), "OK_KEY": "k1", "BAD_KEY": "r8_abc"})
        checks = {name: (ok, detail) for name, ok, detail in provider_checks(settings)}
    assert checks["provider text"] == (True, f"openai at {api.url}/v1 (gpt-4o-mini): answers")
    assert checks["provider image_from_text"] == (
        False, f"replicate at {api.url}/r: replicate refused this worker's credentials (HTTP 401)")
    assert checks["provider video_from_text"] == (False, f"openai at {api.url}/v1: MISSING_KEY is not set")
    assert checks["provider speech_from_text"] == (True, "local: espeak-ng installed")
    assert checks["provider captions"][0] is True
    assert checks["provider lipsync"] == (False, "not configured (jobs fail with provider_error)")
    assert api.calls("GET", "/v1/models")[0].headers["Authorization"] == "Bearer k1"
    assert all("r8_abc" not in detail for _, detail in checks.values())
