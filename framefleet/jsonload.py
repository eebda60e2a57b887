"""Reading untrusted JSON: the one gate every spec and job payload passes before anything else sees it.

Python's ``json`` accepts things a spec must never contain and fails on others with exceptions no
caller expects: ``1e999`` and ``NaN`` become infinities that crash arithmetic far downstream, an
integer of 5,000 digits raises ``ValueError``, 100,000 nested brackets raise ``RecursionError`` (in
the parser, in pydantic, in ``json.dumps`` when the job is stored), and an escaped lone surrogate
(``"\\udc80"``) is a string no file system, URL or log can encode. :func:`loads` (text) and
:func:`check_document` (an already parsed document: the client and the queue) turn each of these into
a :class:`SpecError` whose problems name the JSON path, so the CLI exits 2 and the queue fails the job
with ``bad_input``, never a traceback.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from framefleet.config import Limits
from framefleet.errors import BadInput, Problem, SpecError

#: Integers longer than this (digits) are refused: no field wants them, and Python refuses to parse
#: more than 4,300 digits with a ``ValueError`` of its own.
MAX_INT_DIGITS = 30
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Refused:
    """A JSON number the document may not hold; kept as a marker so the walk can name its path."""

    def __init__(self, text: str, why: str) -> None:
        self.text, self.why = text, why


def _parse_float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused(text, "is not a finite number")


def _parse_int(text: str) -> int | _Refused:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return _Refused(text, f"is a number of more than {MAX_INT_DIGITS} digits")
    return int(text)


def _parse_constant(text: str) -> _Refused:
    return _Refused(text, "is not a finite number")


def loads(data: str | bytes, *, limits: Limits, what: str = "a render spec") -> Any:
    """Parse untrusted JSON text and check it (:func:`check_document`); raise :class:`SpecError`."""
    if len(data) > limits.max_spec_bytes:
        raise SpecError([Problem("", f"{what} is over the limit of {limits.max_spec_bytes} bytes")])
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError([Problem("", f"not UTF-8 text (byte {exc.start})")]) from None
    try:
        doc = json.loads(data, parse_float=_parse_float, parse_int=_parse_int, parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        raise SpecError([Problem("", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
                        ) from None
    except RecursionError:
        raise SpecError([Problem("", f"nested more than {limits.max_spec_depth} levels deep")]) from None
    check_document(doc, limits=limits, what=what)
    return doc


def check_document(doc: Any, *, limits: Limits, what: str = "a render spec") -> None:
    """Refuse a parsed document that is too deep or too big, or holds a non-finite number, a huge integer,
    a lone surrogate or a value that is not JSON at all. Iterative: any depth is safe to check."""
    problems: list[Problem] = []
    stack: list[tuple[Any, str, int]] = [(doc, "", 0)]
    while stack and len(problems) < 100:
        node, path, depth = stack.pop()
        if depth > limits.max_spec_depth:
            raise SpecError([Problem(path, f"nested more than {limits.max_spec_depth} levels deep")])
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    problems.append(Problem(path, f"key {key!r} is not a string"))
                    continue
                where = f"{path}.{key}" if path else key
                if _SURROGATE.search(key):
                    problems.append(Problem(_printable(where), "has a lone surrogate (not valid Unicode text)"))
                    continue
                stack.append((value, where, depth + 1))
        elif isinstance(node, list | tuple):
            stack.extend((value, f"{path}[{i}]", depth + 1) for i, value in enumerate(node))
        elif isinstance(node, str):
            if _SURROGATE.search(node):
                problems.append(Problem(path, "has a lone surrogate (not valid Unicode text)"))
        elif isinstance(node, _Refused):
            problems.append(Problem(path, f"{_short(node.text)} {node.why}"))
        elif isinstance(node, bool) or node is None:
            pass
        elif isinstance(node, int):
            if abs(node) >= 10**MAX_INT_DIGITS:
                problems.append(Problem(path, f"is a number of more than {MAX_INT_DIGITS} digits"))
        elif isinstance(node, float):
            if not math.isfinite(node):
                problems.append(Problem(path, f"{node} is not a finite number"))
        else:
            problems.append(Problem(path, f"is not a JSON value ({type(node).__name__})"))
    if problems:
        raise SpecError(problems)
    try:
        size = len(json.dumps(doc, ensure_ascii=False).encode("utf-8"))
    except (TypeError, ValueError) as exc:  # a cycle, in a document built in Python
        raise BadInput(f"{what} is not JSON: {exc}") from None
    if size > limits.max_spec_bytes:
        raise SpecError([Problem("", f"{what} is over the limit of {limits.max_spec_bytes} bytes")])


def _short(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:20]}…{text[-10:]}"


def _printable(path: str) -> str:
    """A path whose keys hold surrogates, made printable (the message must not crash the printer)."""
    return _SURROGATE.sub("\ufffd", path)
