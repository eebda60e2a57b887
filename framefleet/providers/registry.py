"""Provider name → implementation; built on use, so importing framefleet starts nothing."""

from __future__ import annotations

from framefleet.providers.base import Provider


def provider(name: str) -> Provider:
    if name == "openai":
        from framefleet.providers.openai import OpenAIProvider

        return OpenAIProvider()
    if name == "replicate":
        from framefleet.providers.replicate import ReplicateProvider

        return ReplicateProvider()
    if name == "elevenlabs":
        from framefleet.providers.elevenlabs import ElevenLabsProvider

        return ElevenLabsProvider()
    from framefleet.providers.local import LocalProvider

    return LocalProvider()
