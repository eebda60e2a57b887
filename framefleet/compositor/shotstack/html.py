"""The styled-text subset of Shotstack's ``html`` asset, read as one framefleet text clip.

Templates use ``html`` assets mostly for titles: a paragraph or two, a span, one look set in CSS. That
subset draws exactly as a text clip does: ``p``, ``div``, ``span``, ``b``/``strong`` and ``br``, styled by
rules on tag names, classes and ids and by ``style`` attributes, with ``color``, ``font-size``,
``font-family``, ``font-weight``, ``text-align`` and ``background(-color)``. A text clip has one style,
so two different values of a property (a red word in a white line) are refused, as is every other tag,
selector and property: a browser would draw them, framefleet would not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from framefleet.errors import Problem

TAGS = frozenset({"p", "div", "span", "b", "strong", "br"})
BLOCKS = frozenset({"p", "div", "br"})
PROPERTIES = ("color", "font-size", "font-family", "font-weight", "text-align", "background", "background-color")
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_SELECTOR = re.compile(r"^(\*|[a-z]+|\.[A-Za-z0-9_-]+|#[A-Za-z0-9_-]+)$")
MAX_HTML = 20_000


@dataclass
class Styled:
    """The text and the one style it is drawn in (CSS names, values as written)."""

    text: str = ""
    css: dict[str, str] = field(default_factory=dict)


def _declarations(block: str, where: str, problems: list[Problem]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in block.split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition(":")
        name, value = name.strip().lower(), value.strip().removesuffix("!important").strip()
        if not sep or not value:
            problems.append(Problem(where, f"cannot read the CSS declaration {part.strip()[:40]!r}"))
        elif name not in PROPERTIES:
            problems.append(Problem(where, f"CSS property {name[:40]!r} is not supported "
                                           f"(only {', '.join(PROPERTIES)})"))
        else:
            out["background" if name == "background-color" else name] = value
    return out


def _rules(css: str, where: str, problems: list[Problem]) -> list[tuple[str, dict[str, str]]]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules: list[tuple[str, dict[str, str]]] = []
    for selectors, block in _RULE.findall(css):
        declarations = _declarations(block, where, problems)
        for written in selectors.split(","):
            selector = written.strip()
            if not _SELECTOR.match(selector):
                problems.append(Problem(where, f"CSS selector {selector[:40]!r} is not supported "
                                               "(a tag name, .class or #id)"))
                continue
            rules.append((selector, declarations))
    if _RULE.sub("", css).strip():
        problems.append(Problem(where, "cannot read the CSS (rules are selector { property: value; })"))
    return rules


class _Reader(HTMLParser):
    def __init__(self, where: str, problems: list[Problem]) -> None:
        super().__init__(convert_charrefs=True)
        self.where, self.problems = where, problems
        self.lines: list[str] = [""]
        self.open: list[tuple[str, set[str], dict[str, str]]] = []
        self.used: list[tuple[set[str], dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TAGS:
            self.problems.append(Problem(self.where, f"<{tag}> is not supported (only {', '.join(sorted(TAGS))})"))
            return
        if tag in BLOCKS and self.lines[-1].strip():
            self.lines.append("")
        if tag == "br":
            return
        names = {tag, "*"}
        inline: dict[str, str] = {}
        for name, value in attrs:
            if name == "class":
                names |= {f".{c}" for c in (value or "").split()}
            elif name == "id":
                names.add(f"#{value}")
            elif name == "style":
                inline = _declarations(value or "", self.where, self.problems)
            else:
                self.problems.append(Problem(self.where, f"attribute {name!r} is not supported (class, id, style)"))
        self.open.append((tag, names, inline))

    def handle_endtag(self, tag: str) -> None:
        if tag in TAGS and tag != "br" and self.open and self.open[-1][0] == tag:
            self.open.pop()
            if tag in BLOCKS and self.lines[-1].strip():
                self.lines.append("")

    def handle_data(self, data: str) -> None:
        text = re.sub(r"\s+", " ", data)
        if not text.strip():
            if self.lines[-1] and not self.lines[-1].endswith(" "):
                self.lines[-1] += " "
            return
        self.lines[-1] += text
        names: set[str] = set().union(*(n for _, n, _ in self.open)) if self.open else {"*"}
        inline: dict[str, str] = {}
        for _, _, declared in self.open:
            inline.update(declared)
        self.used.append((names, inline))


def read(html: str, css: str, *, path: str, problems: list[Problem]) -> Styled:
    """The text of ``html`` and its one style; problems at ``path.html`` and ``path.css``."""
    if len(html) > MAX_HTML or len(css) > MAX_HTML:
        problems.append(Problem(path, f"html and css are limited to {MAX_HTML} characters each"))
        return Styled()
    rules = _rules(css, f"{path}.css", problems)
    reader = _Reader(f"{path}.html", problems)
    reader.feed(html)
    reader.close()
    text = "\n".join(line.strip() for line in reader.lines if line.strip())
    if not text:
        problems.append(Problem(f"{path}.html", "has no text to draw"))
    style: dict[str, str] = {}
    for names, inline in reader.used:
        here: dict[str, str] = {}
        for selector, declarations in rules:  # later rules win, as in CSS of equal weight
            if selector in names:
                here.update(declarations)
        here.update(inline)
        for name, value in here.items():
            if style.setdefault(name, value) != value:
                problems.append(Problem(f"{path}.html", f"{name} is {style[name]!r} in one place and {value!r} "
                                                        "in another: a text is drawn in one style (use one "
                                                        "html clip per style)"))
    return Styled(text, style)
