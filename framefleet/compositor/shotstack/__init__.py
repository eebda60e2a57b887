"""Shotstack Edit JSON as input (SPEC §9): ``convert`` an edit into a native render spec.

Every way in (``render``, ``validate``, ``submit``, ``Client.submit``) calls :func:`native` on what it
read: a render spec passes through untouched, an edit (recognised by its top-level ``timeline``) is
converted, and :func:`at_edit_paths` reports what is wrong with the result at the edit's paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from framefleet.compositor.shotstack.convert import Converted, convert, is_edit
from framefleet.config import Limits
from framefleet.errors import SpecError

__all__ = ["Converted", "at_edit_paths", "convert", "is_edit", "native"]


def native(raw: Any, *, limits: Limits | None = None) -> tuple[Any, Converted | None]:
    """The render spec to use for ``raw``, and the conversion when ``raw`` was a Shotstack edit."""
    if not is_edit(raw):
        return raw, None
    converted = convert(raw, limits=limits)
    return converted.spec, converted


@contextmanager
def at_edit_paths(converted: Converted | None) -> Iterator[None]:
    """Problems raised inside, moved to the edit's paths when the spec came from an edit."""
    try:
        yield
    except SpecError as exc:
        if converted is None:
            raise
        raise converted.translate(exc) from None
