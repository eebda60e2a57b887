"""Reading one object of a Shotstack edit: fields taken one by one, every problem at its edit path.

A converter that reads fields with ``dict.get`` drops whatever it does not ask for. :class:`Node`
remembers what was read; :meth:`Node.done` refuses every field left over, with the reason given for it
(what to use instead) or "unknown field". So a template never renders differently from what its author
wrote without saying so.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from framefleet.errors import Problem


class Node:
    """A JSON object at ``path`` of the edit; ``problems`` is shared by the whole conversion."""

    def __init__(self, raw: Any, path: str, problems: list[Problem], *, what: str = "an object") -> None:
        self.path, self.problems = path, problems
        self.raw: dict[str, Any] = raw if isinstance(raw, dict) else {}
        self._read: set[str] = set()
        if not isinstance(raw, dict):
            problems.append(Problem(path, f"must be {what}"))

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self.raw and self.raw[key] is not None

    def take(self, key: str) -> Any:
        self._read.add(key)
        return self.raw.get(key)

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.at(key) if key else self.path, message))

    def child(self, key: str) -> Node | None:
        """The object at ``key``, or None when absent."""
        value = self.take(key)
        return None if value is None else Node(value, self.at(key), self.problems)

    def number(self, key: str, *, low: float | None = None, high: float | None = None) -> float | None:
        value = self.take(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.problem(key, "must be a number")
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            self.problem(key, f"{value:g} is outside {low:g} to {high:g}" if low is not None and high is not None
                         else f"{value:g} is out of range")
            return None
        return float(value)

    def string(self, key: str, choices: Collection[str] | None = None) -> str | None:
        value = self.take(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(key, "must be a string")
            return None
        if choices is not None and value not in choices:
            self.problem(key, f"unknown value {value[:60]!r} (one of {', '.join(sorted(choices))})")
            return None
        return value

    def boolean(self, key: str) -> bool | None:
        value = self.take(key)
        if value is not None and not isinstance(value, bool):
            self.problem(key, "must be true or false")
            return None
        return value

    def items(self, key: str) -> list[Any]:
        """A list field (empty when absent)."""
        value = self.take(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(key, "must be a list")
            return []
        return value

    def done(self, instead: Mapping[str, str] | None = None) -> None:
        """Refuse every field not read (null counts as absent): none is dropped without a word."""
        for key, value in self.raw.items():
            if key not in self._read and value is not None:  # SDKs write null for every unset field
                self.problem(key, (instead or {}).get(key, "unknown field"))
