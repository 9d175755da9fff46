"""The package's shape: imports go one way between its files, and no file is too long to read."""
import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
MODULES = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
           for p in sorted((ROOT / "painter").rglob("*.py"))}
# the method registry imports its methods to list them, and each method registers itself there
REGISTRY = "painter.same_artist.method"


def _imported(name, path):
    """The painter modules that module ``name`` imports, at module level or inside functions."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            # "from .pkg import mod" imports the module, "from .mod import name" the module holding it
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def test_no_import_cycle_but_the_method_registry():
    graph = nx.DiGraph((name, t) for name, path in MODULES.items() for t in _imported(name, path))
    cycles = [c for c in nx.simple_cycles(graph) if not (len(c) == 2 and REGISTRY in c)]
    assert not cycles


def test_no_module_over_400_lines():
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > 400}
    assert not long


def test_make_benchmarks_runs_every_suite_script():
    """benchmarks/ is the suite: each script there runs in `make benchmarks`, but for the modules they share."""
    target = (ROOT / "Makefile").read_text().split("\nbenchmarks:", 1)[1].split("\n\n", 1)[0]
    shared = {"shared_data.py", "results_tables.py", "cold_run_table.py"}
    scripts = {p.name for p in (ROOT / "benchmarks").glob("*.*") if p.suffix in (".py", ".sh")} - shared
    assert {s for s in scripts if f"benchmarks/{s} " not in target} == set()
