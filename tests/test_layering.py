"""lsr's import structure: the layers of pyproject.toml's import-linter contracts, and no import cycles at all."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept():
    lint = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--no-logo"], cwd=ROOT,
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, from every import statement (inside functions too).

    A package's ``__init__`` is the package's own module; ``from a import b`` imports ``a`` and, when it is a module, ``a.b``.
    """
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")[: len(name.split(".")) - node.level + (path.name == "__init__.py")]
                    base = ".".join(anchor + ([base] if base else []))
                targets.add(base)
                targets.update(f"{base}.{alias.name}" for alias in node.names)
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules in order, the first repeated at the end), or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_no_import_cycles():
    cycle = find_cycle(import_graph(ROOT / "lsr"))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_a_cycle_is_found_and_named():
    graph = {"lsr": {"lsr.search"}, "lsr.search": {"lsr.index"}, "lsr.index": {"lsr"}, "lsr.errors": set()}
    assert find_cycle(graph) == ["lsr", "lsr.search", "lsr.index", "lsr"]
    assert find_cycle({"lsr": {"lsr.errors"}, "lsr.errors": set()}) is None
