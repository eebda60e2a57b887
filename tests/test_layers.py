"""The package's layers point down only: a test of the import graph, read from the source (every import,
at the top or inside a function), so a shortcut upwards fails here before it tangles the code.

    cli · client · doctor · samples · __main__      the programs
    worker/                                         jobs: lifecycle, actors, wiring, the worker process
    providers/                                      generation providers
    compositor/ · queue/ · storage/ · metrics/      the render engine, job state and broker, results, metrics
    assets/                                         fetching sources
    config · provider_config · errors · flags · policy · logs · leftovers · jsonload · threads: the base
"""

from __future__ import annotations

import ast
from pathlib import Path

import framefleet

ROOT = Path(framefleet.__file__).parent
BASE = {"config", "errors", "flags", "policy", "logs", "leftovers", "jsonload", "provider_config", "threads",
        "__init__"}
PROGRAMS = {"cli", "client", "doctor", "samples", "__main__"}
#: What each layer may import besides itself and the base.
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "assets": set(),
    "metrics": set(),
    "storage": set(),
    "queue": set(),
    "compositor": {"assets"},
    "providers": {"assets", "compositor", "metrics"},
    "worker": {"assets", "compositor", "metrics", "providers", "queue", "storage"},
}


def layer(module: str) -> str:
    """``framefleet.worker.lifecycle`` → ``worker``; top-level modules are the base or the programs."""
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    if head in BASE:
        return "base"
    if head in PROGRAMS:
        return "programs"
    return head


def imports(path: Path, module: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")[: -node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
            found |= {f"{name}.{alias.name}" for alias in node.names}
    return {name for name in found if name == "framefleet" or name.startswith("framefleet.")}


def edges() -> dict[tuple[str, str], list[str]]:
    """(from layer, to layer) → the modules that make that edge."""
    known = {".".join(("framefleet", *p.relative_to(ROOT).with_suffix("").parts)) for p in ROOT.rglob("*.py")}
    known |= {m.removesuffix(".__init__") for m in known}
    out: dict[tuple[str, str], list[str]] = {}
    for path in ROOT.rglob("*.py"):
        module = ".".join(("framefleet", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        for target in imports(path, module):
            if target not in known or target == "framefleet":
                continue  # ``from framefleet.x import name``: the module is counted, the name is not one
            a, b = layer(module), layer(target)
            if a != b:
                out.setdefault((a, b), []).append(f"{module} → {target}")
    return out


def test_layers_only_point_down() -> None:
    wrong = {pair: sorted(set(where)) for pair, where in edges().items()
             if pair[0] != "programs" and pair[1] != "base" and pair[1] not in ALLOWED.get(pair[0], set())}
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(
        f"  {a} → {b}: {', '.join(where)}" for (a, b), where in sorted(wrong.items()))


def test_no_layer_imports_the_programs() -> None:
    upward = [where for (a, b), where in edges().items() if b == "programs" and a != "programs"]
    assert not upward, upward


def test_the_graph_is_read_for_real() -> None:
    """The test above must be able to fail: the worker does import the queue, the compositor the assets."""
    found = edges()
    assert ("worker", "queue") in found and ("compositor", "assets") in found and ("worker", "compositor") in found
