"""ffmpeg filter graphs as immutable values, compiled to one argument list.

A typed stand-in for the subset of ffmpeg-python the compositor uses, with the same argument lists, so
golden tests written against ffmpeg-python keep passing. Inputs, filters and outputs are frozen
dataclasses that point only upstream, so a graph is an immutable DAG: a layer can hand out a stream
without anyone changing it behind its back. Nodes that look the same are the same node (as in
ffmpeg-python): opening one file twice gives one ``-i``. Equality and hashing go through a digest taken
once per node, so neither recurses down a long chain of overlays.

:func:`compile` walks the DAG from the outputs exactly as ffmpeg-python does (depth first, inputs in
order), which fixes the input numbers and the ``[sN]`` labels. Nothing here touches files or starts a
process; only the project's runner (``compositor/ffmpeg.py``) does.

Where this differs from ffmpeg-python, on purpose (none of it changes a graph the compositor builds today):
positional filter arguments are escaped once (ffmpeg-python escaped them twice, so ``a:b`` reached the
filter as ``a\\:b``); the filter name is part of a node's identity (ffmpeg-python left it out, so ``hflip`` and
``vflip`` on one stream became one node); global options come first, through ``compile(global_args=...)``;
a stream used twice is refused, as before, but the message names it and its users; ``video_size`` is a
string (ffmpeg-python indexed it, turning ``"640x480"`` into ``6x4`` on inputs).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

Value = str | int | float
Option = Value | None  # None: an option without a value, e.g. ``-re``
Node: TypeAlias = "Input | Filter | Output | Merged"

_OPTION_CHARS = "\\'=:"  # special inside one filter's options
_GRAPH_CHARS = "\\'[],;"  # special between the filters of a graph
_SPLITS = frozenset({"split", "asplit"})


def _escape(text: str, chars: str) -> str:
    # Backslash first, so the backslashes added for the other characters are not doubled.
    for ch in sorted(chars, key=lambda c: c != "\\"):
        text = text.replace(ch, "\\" + ch)
    return text


def _pairs(options: dict[str, Option]) -> tuple[tuple[str, str | None], ...]:
    # Stored as text: two values ffmpeg would read the same way (1 and "1") make the same node.
    return tuple(sorted((k, None if v is None else str(v)) for k, v in options.items()))


class _Keyed:
    """Identity by content digest: O(1) equality and hashing however deep the graph is."""

    _key: bytes

    def _seal(self, *parts: object) -> None:
        text = repr((type(self).__name__, *parts)).encode()
        object.__setattr__(self, "_key", hashlib.blake2b(text, digest_size=16).digest())

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and isinstance(other, _Keyed) and other._key == self._key

    def __hash__(self) -> int:
        return hash(self._key)


@dataclass(frozen=True, eq=False)
class Input(_Keyed):
    filename: str
    options: tuple[tuple[str, str | None], ...] = ()
    _key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._seal(self.filename, self.options)

    def args(self) -> list[str]:
        opts = dict(self.options)
        fmt, size = opts.pop("format", None), opts.pop("video_size", None)
        return [*(["-f", fmt] if fmt else []), *(["-video_size", size] if size else []), *_flags(opts),
                "-i", self.filename]


@dataclass(frozen=True, eq=False)
class Stream(_Keyed):
    """One outgoing pad of a node; ``selector`` picks an input's streams (``v``, ``a``, ``v:0``)."""

    node: Input | Filter
    label: int | None = None
    selector: str | None = None
    _key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._seal(self.node._key, self.label, self.selector)

    def __getitem__(self, selector: str) -> Stream:
        if self.selector is not None or not isinstance(self.node, Input):
            raise ValueError(f"only an input's whole stream takes a selector, not {_describe(self)}")
        return Stream(self.node, self.label, selector)

    @property
    def video(self) -> Stream:
        return self["v"]

    @property
    def audio(self) -> Stream:
        return self["a"]

    def filter(self, name: str, /, *args: Value, **kwargs: Value) -> Stream:
        return filter(self, name, *args, **kwargs)

    def filter_multi_output(self, name: str, /, *args: Value, **kwargs: Value) -> Filter:
        return filter_multi_output(self, name, *args, **kwargs)


@dataclass(frozen=True, eq=False)
class Filter(_Keyed):
    name: str
    inputs: tuple[Stream, ...]
    args: tuple[str, ...] = ()
    kwargs: tuple[tuple[str, str], ...] = ()
    _key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ValueError(f"filter {self.name!r} has no input stream")
        self._seal(self.name, tuple(s._key for s in self.inputs), self.args, self.kwargs)

    def __getitem__(self, index: int) -> Stream:
        return Stream(self, index)

    def stream(self, label: int | None = None) -> Stream:
        return Stream(self, label)

    def text(self, outputs: int) -> str:
        """The filter as the graph spells it; a split gets as many outputs as are used, like ffmpeg-python."""
        args = (str(outputs),) if self.name in _SPLITS else self.args
        params = [_escape(a, _OPTION_CHARS) for a in args]
        params += sorted(f"{_escape(k, _OPTION_CHARS)}={_escape(v, _OPTION_CHARS)}" for k, v in self.kwargs)
        text = _escape(self.name, _OPTION_CHARS) + (f"={':'.join(params)}" if params else "")
        return _escape(text, _GRAPH_CHARS)


@dataclass(frozen=True, eq=False)
class Output(_Keyed):
    streams: tuple[Stream, ...]
    filename: str
    options: tuple[tuple[str, str | None], ...] = ()
    _key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.streams:
            raise ValueError(f"output {self.filename!r} has no streams: ffmpeg would pick its own")
        self._seal(tuple(s._key for s in self.streams), self.filename, self.options)

    def get_args(self) -> list[str]:
        return list(compile(self).args)


@dataclass(frozen=True, eq=False)
class Merged(_Keyed):
    """Several outputs written by one ffmpeg run (one decode, one graph)."""

    outputs: tuple[Output | Merged, ...]
    _key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.outputs:
            raise ValueError("merge_outputs() needs at least one output")
        self._seal(tuple(o._key for o in self.outputs))

    def get_args(self) -> list[str]:
        return list(compile(self).args)


@dataclass(frozen=True)
class Compiled:
    """The argument list (without the program name) and the filter graph it carries, for a script file."""

    args: tuple[str, ...]
    graph: str


def _flags(options: dict[str, str | None]) -> list[str]:
    return [a for k in sorted(options) for a in (f"-{k}", options[k]) if a is not None]


def _fmt(options: dict[str, Option]) -> dict[str, Option]:
    if "f" in options:
        if "format" in options:
            raise ValueError("give the format as f= or format=, not both")
        fmt = options.pop("f")
        if fmt:
            options["format"] = fmt
    return options


def input(filename: str | os.PathLike[str], /, **options: Option) -> Stream:
    """``-i filename``, options first (``f="lavfi"``, ``ss=...``, ``stream_loop=-1``)."""
    return Stream(Input(os.fspath(filename), _pairs(_fmt(options))))


def filter_multi_output(streams: Stream | Sequence[Stream], name: str, /, *args: Value, **kwargs: Value) -> Filter:
    """For filters with several outputs (``split``): index the node, ``node[0]``, ``node[1]``, for each."""
    inputs = (streams,) if isinstance(streams, Stream) else tuple(streams)
    return Filter(name, inputs, tuple(str(a) for a in args), tuple(sorted((k, str(v)) for k, v in kwargs.items())))


def filter(streams: Stream | Sequence[Stream], name: str, /, *args: Value, **kwargs: Value) -> Stream:
    return filter_multi_output(streams, name, *args, **kwargs).stream()


def overlay(main: Stream, over: Stream, /, eof_action: str = "repeat", **kwargs: Value) -> Stream:
    """``eof_action`` is always written, as ffmpeg-python does, so graphs stay byte-identical."""
    return filter([main, over], "overlay", eof_action=eof_action, **kwargs)


def output(*streams_and_filename: Stream | str | os.PathLike[str], **options: Option) -> Output:
    """``output(stream, ..., filename, **options)``; ``f``/``format`` → ``-f``, ``video_bitrate`` → ``-b:v``."""
    *streams, filename = streams_and_filename or (None,)
    if not isinstance(filename, str | os.PathLike):
        raise ValueError("output() takes the streams, then the filename")
    mapped = tuple(s for s in streams if isinstance(s, Stream))
    if len(mapped) != len(streams):
        raise TypeError("output() takes streams before the filename")
    return Output(mapped, os.fspath(filename), _pairs(_fmt(options)))


def merge_outputs(*outputs: Output | Merged) -> Merged:
    return Merged(outputs)


def _upstream(node: Node) -> Iterator[tuple[Node, int | None]]:
    if isinstance(node, Filter | Output):
        yield from ((s.node, s.label) for s in (node.inputs if isinstance(node, Filter) else node.streams))
    elif isinstance(node, Merged):
        yield from ((o, None) for o in node.outputs)


def _describe(stream: Stream) -> str:
    node = stream.node
    if isinstance(node, Input):
        return f"input {node.filename!r}" + (f" [{stream.selector}]" if stream.selector else "")
    params = ", ".join([*node.args, *(f"{k}={v}" for k, v in node.kwargs)])
    text = f"{node.name}({params[:60] + '…' if len(params) > 60 else params})"
    return text + ("" if stream.label is None else f"[{stream.label}]")


def _name(node: Node) -> str:
    if isinstance(node, Filter):
        return node.name
    return f"output {node.filename!r}" if isinstance(node, Output) else "merge_outputs"


def _walk(root: Node) -> tuple[list[Node], dict[Node, dict[int | None, list[Node]]]]:
    """ffmpeg-python's topological sort (depth first, parents in order), as a loop: no recursion limit."""
    order: list[Node] = []
    users: dict[Node, dict[int | None, list[Node]]] = {}
    seen = {root}
    stack = [(root, _upstream(root))]
    while stack:
        node, parents = stack[-1]
        for parent, label in parents:
            users.setdefault(parent, {}).setdefault(label, []).append(node)
            if parent not in seen:
                seen.add(parent)
                stack.append((parent, _upstream(parent)))
                break
        else:
            stack.pop()
            order.append(node)
    return order, users


def compile(*outputs: Output | Merged, global_args: Sequence[str] = ()) -> Compiled:
    """One argument list for ``outputs``: ``global_args``, inputs, ``-filter_complex``, then each output.

    Global options go first: ffmpeg-python appends them after the outputs, where ffmpeg only tolerates them.
    A filter's output may feed one consumer only (ffmpeg would fail at run time); an input's stream may feed
    several, as ffmpeg allows (it decodes once).
    """
    order, users = _walk(outputs[0] if len(outputs) == 1 else merge_outputs(*outputs))
    inputs = [n for n in order if isinstance(n, Input)]
    filters = [n for n in order if isinstance(n, Filter)]
    names: dict[tuple[Node, int | None], str] = {(n, None): str(i) for i, n in enumerate(inputs)}
    pads: dict[Filter, list[str]] = {}
    for f in filters:
        pads[f] = []
        for label, consumers in sorted(users[f].items(), key=lambda item: -1 if item[0] is None else item[0]):
            if len(consumers) > 1:
                raise ValueError(f"stream {_describe(Stream(f, label))} is used {len(consumers)} times (by "
                                 f"{', '.join(map(_name, consumers))}); ffmpeg needs a split/asplit to use it twice")
            names[f, label] = f"s{len(names) - len(inputs)}"  # s0, s1, … in walk order
            pads[f].append(f"[{names[f, label]}]")

    def pad(stream: Stream) -> str:
        return names[stream.node, stream.label] + (f":{stream.selector}" if stream.selector else "")

    graph = ";".join("".join(f"[{pad(s)}]" for s in f.inputs) + f.text(len(pads[f])) + "".join(pads[f])
                     for f in filters)
    args = [*global_args, *(a for n in inputs for a in n.args())]
    if graph:
        args += ["-filter_complex", graph]
    for out in (n for n in order if isinstance(n, Output)):
        for s in out.streams:
            name = pad(s) if isinstance(s.node, Input) else f"[{pad(s)}]"  # inputs are mapped without brackets
            if name != "0" or len(out.streams) > 1:
                args += ["-map", name]
        opts = dict(out.options)
        for key, flag in (("format", "-f"), ("video_bitrate", "-b:v"), ("audio_bitrate", "-b:a"),
                          ("video_size", "-video_size")):
            if key in opts:
                value = opts.pop(key)
                args += [flag] if value is None else [flag, value]
        args += [*_flags(opts), out.filename]
    return Compiled(tuple(args), graph)
