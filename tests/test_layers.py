"""The house has layers: a package imports only packages below it (imports inside functions count),
no two packages import each other through any chain, and only `pipelines/` imports Ray.

Read from the source with `ast`, so the check needs nothing installed and fails on the line that
breaks the rule. The order is the one `docs/architecture.md` draws.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A package may import its own modules and any package of a lower rank.
LAYERS: list[set[str]] = [
    {"avu._paths", "avu._timefmt", "avu.media", "avu.metrics", "avu._retrieval_metrics"},
    {"avu.models", "avu.data", "avu.perception"},
    {"avu.speech", "avu.events", "avu.train", "avu.speakers"},
    {"avu.ingest"},
    {"avu.store"},
    {"avu.summaries"},
    {"avu.index"},
    {"pipelines"},
    {"avu.eval", "avu.bench"},
    {"avu.cli", "dashboard", "avu", "avu.__main__"},
]
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def _modules() -> dict[str, Path]:
    out = {}
    for top in ("avu", "pipelines", "dashboard"):
        for p in sorted((ROOT / top).rglob("*.py")):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


MODULES = _modules()


def package_of(module: str) -> str:
    """The layer unit a module belongs to: the longest prefix named in LAYERS."""
    if module == "avu":
        return module
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in RANK and ".".join(parts[:n]) != "avu":
            return ".".join(parts[:n])
    raise AssertionError(f"{module} belongs to no layer: add its package to LAYERS in {__file__}")


def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import of ours in `path`, at any depth."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_pkg else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import sub` imports the submodule when there is one
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in MODULES else mod for a in node.names]
        else:
            continue
        found += [(t, node.lineno) for t in targets if t.split(".")[0] in ("avu", "pipelines", "dashboard", "ray")]
    return found


def test_every_import_points_down():
    wrong = []
    for module, path in MODULES.items():
        src = package_of(module)
        for target, line in _imports(module, path):
            if target.split(".")[0] == "ray":
                if src != "pipelines":
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports Ray (only pipelines/ may)")
                continue
            dst = package_of(target)
            if dst != src and RANK[dst] > RANK[src] and src != "avu":
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({src}, layer {RANK[src]}) imports {target} "
                             f"({dst}, layer {RANK[dst]})")
    assert not wrong, "imports that point up:\n" + "\n".join(wrong)


def test_no_cycle_between_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        src = package_of(module)
        for target, _ in _imports(module, path):
            if src != "avu" and target.split(".")[0] != "ray" and package_of(target) != src:
                graph[src].add(package_of(target))
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(nxt):] + [node, nxt])
                                     if nxt in trail else f"import cycle through {node} -> {nxt}")
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for pkg in sorted(graph):
        if pkg not in state and pkg != "avu":
            visit(pkg, [])


def test_layer_check_catches_an_upward_import(tmp_path):
    """The checker itself: an import from media up to the index is found at its line."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from avu.index import open_index\n")
    (target, line), = _imports("avu.media.bad", bad)
    assert (target, line) == ("avu.index", 2)
    assert RANK[package_of(target)] > RANK[package_of("avu.media.bad")]


def test_actors_load_only_what_their_work_needs():
    """A decode actor never loads torch or the index; an embed actor writes fragments with `lance`
    and never loads lancedb or sentence-transformers (each costs seconds and hundreds of MB per process)."""
    import subprocess
    import sys

    code = """
import dataclasses, sys
import pipelines._actors as A, pipelines._decoder as D
from tests.factory import LEAN
cfg = dataclasses.asdict(LEAN)
D.Decoder.__ray_metadata__.modified_class(cfg)
heavy = ("torch", "lancedb", "sentence_transformers", "transformers", "sklearn")
print(sorted(m for m in heavy if m in sys.modules))
A.Embedder.__ray_metadata__.modified_class(cfg, 1)
print(sorted(m for m in heavy if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    decoder, embedder = out.stdout.strip().splitlines()
    assert decoder == "[]"
    assert embedder == "['torch']"
