"""Cancel flags for tests: a cancel that arrives part-way through work, at the same point every run."""

from __future__ import annotations


class SetAfter:
    """A cancel flag raised after it has been looked at ``calls`` times."""

    def __init__(self, calls: int) -> None:
        self.calls, self.seen = calls, 0

    def is_set(self) -> bool:
        self.seen += 1
        return self.seen > self.calls
