"""``framefleet render`` of a spec that generates media: its generations run here, with the same providers.

No broker, no job store: each request runs in this process (offline with the local speech and alignment
providers) and its result is kept under ``<FRAMEFLEET_CACHE_DIR>/generated/<content key>``, keyed like
the fleet's cache (type, payload, provider), so rendering the same spec again generates nothing. An
asynchronous provider is polled here, in the foreground: a local render has no other work to do.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from framefleet.assets.fetch import Fetcher
from framefleet.compositor.ingredients import Made, Need, check_sizes, content_key, provider_for, resolve
from framefleet.compositor.probe import probe
from framefleet.compositor.spec import RenderSpec, merged
from framefleet.config import Settings
from framefleet.errors import (
    BadInput,
    BadMedia,
    Canceled,
    FramefleetError,
    GenerationFailed,
    Problem,
    SpecError,
    Timeout,
)
from framefleet.flags import Flag
from framefleet.provider_config import ProviderConfig
from framefleet.providers.base import Output, Pending, Request
from framefleet.providers.registry import provider


def resolve_here(raw: Any, spec: RenderSpec, *, settings: Settings, base_dir: Path,
                 cancel: Flag | None = None) -> tuple[RenderSpec, list[dict[str, Any]]]:
    """The spec with every generation made here (or found in the cache) and put in place, and what each
    one was: path, type, provider, usage, whether it came from the cache."""
    from framefleet.compositor.spec import load_spec

    doc, _ = merged(raw, limits=settings.limits)
    fetcher = Fetcher(settings, base_dir=base_dir, cancel=cancel)
    used: list[dict[str, Any]] = []
    stop = cancel or threading.Event()

    def make(needs: Sequence[Need]) -> Mapping[str, Made]:
        return {need.key: _one(need, settings=settings, fetcher=fetcher, cancel=stop, used=used) for need in needs}

    resolved = resolve(doc, spec, make)
    assert resolved is not None  # make never waits
    return load_spec(resolved, limits=settings.limits), used


def _one(need: Need, *, settings: Settings, fetcher: Fetcher, cancel: Flag, used: list[dict[str, Any]]) -> Made:
    config = provider_for(settings, need)
    check_sizes(need, config)
    folder = settings.cache_dir / "generated" / content_key(need, config)
    row: dict[str, Any] = {"at": need.paths[0], "type": need.type,
                           "provider": config.provider if config else "fetch", "cached": True}
    meta = folder / "made.json"
    if not meta.is_file():
        row["cached"] = False
        try:
            _make(need, config, folder, settings=settings, fetcher=fetcher, cancel=cancel)
        except Canceled:
            raise
        except BadInput as exc:
            raise SpecError([Problem(need.paths[0], exc.message)]) from None
        except FramefleetError as exc:
            raise GenerationFailed(exc.code, f"{need.paths[0]}: {exc.message}") from None
    facts = json.loads(meta.read_text())
    row.update(model=facts.get("model", ""), usage=facts.get("usage", {}))
    used.append(row)
    words = facts.get("words")
    return Made(source=str(folder / facts["file"]), duration=facts.get("duration"),
                words=tuple(words) if isinstance(words, list) else None)


def _make(need: Need, config: ProviderConfig | None, folder: Path, *, settings: Settings, fetcher: Fetcher,
          cancel: Flag) -> None:
    """Run one generation and leave its file and ``made.json`` in ``folder`` (whole, or not at all)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".part-"))
    try:
        facts: dict[str, Any] = {}
        if config is None:  # media: the fetched file itself
            src = fetcher.fetch(str(need.payload["src"]))
            out = Output(path=src, content_type="", usage={})
        else:
            out = _run(need, config, work, settings=settings, fetcher=fetcher, cancel=cancel)
            facts.update(model=out.model or need.payload.get("model") or config.model
                         or ("espeak-ng" if need.type == "speech_from_text" else "pocketsphinx"), usage=out.usage)
        if need.type == "captions":
            words = [w.as_dict() for w in out.words or []]
            target = work / "captions.json"
            target.write_text(json.dumps({"words": words}))
            facts.update(file=target.name, words=words)
        else:
            target = work / f"output{out.path.suffix}"
            if out.path != target:
                shutil.copyfile(out.path, target)
            facts["file"] = target.name
            if out.words is not None:
                facts["words"] = [w.as_dict() for w in out.words]
            try:
                info = probe(target, name="the generated file", ffprobe=settings.ffprobe, cancel=cancel)
                facts["duration"] = info.duration if info.duration and not info.is_still else None
            except BadMedia:
                if config is not None:
                    raise
        (work / "made.json").write_text(json.dumps(facts))
        for entry in work.iterdir():  # the provider's own files: only the result is kept
            if entry.name not in (target.name, "made.json"):
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        try:
            os.replace(work, folder)
        except OSError:
            if not (folder / "made.json").is_file():  # not another render of the same spec, done first
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(need: Need, config: ProviderConfig, work: Path, *, settings: Settings, fetcher: Fetcher,
         cancel: Flag) -> Output:
    state: dict[str, Any] | None = None
    deadline = time.monotonic() + config.max_wait
    while True:
        request = Request(type=need.type, payload=need.payload, config=config, work=work, cancel=cancel,
                          limits=settings.limits, fetch=fetcher.fetch,
                          ffmpeg=settings.ffmpeg, ffprobe=settings.ffprobe, state=state)
        done = provider(config.provider).run(request)
        if isinstance(done, Output):
            return done
        assert isinstance(done, Pending)
        if time.monotonic() + done.after > deadline:
            provider(config.provider).cancel(request)
            raise Timeout(f"the {config.provider} {need.type} took longer than {config.max_wait:.0f} s")
        state = done.state
        end = time.monotonic() + done.after
        while time.monotonic() < end:
            if cancel.is_set():
                provider(config.provider).cancel(request)
                raise Canceled("the render was canceled")
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))
