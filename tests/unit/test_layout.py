"""The library's layout is a contract: layers (import-linter), no import cycle, small modules."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[2] / "lib" / "deblurkit"
MAX_LINES = 600


def modules() -> list[Path]:
    return sorted(p for p in LIB.rglob("*.py") if "__pycache__" not in p.parts)


def test_import_linter_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=LIB.parents[1], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the strongly connected components of a directed graph."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            found.append(component)

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_strongly_connected_finds_a_cycle_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert sorted(map(sorted, _strongly_connected(graph))) == [["a", "b", "c"], ["d"]]


def test_no_import_cycle_between_modules():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("deblurkit")
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules if m.startswith("deblurkit")}
    # a package's __init__ re-exporting its own modules is not a cycle of the code
    edges = {m: {t for t in ts if t.startswith("deblurkit") and not m.startswith(t + ".") and not t.startswith(m + ".")}
             for m, ts in edges.items()}
    cycles = [c for c in _strongly_connected(edges) if len(c) > 1]
    assert cycles == []


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(LIB)))
def test_module_is_small_and_says_what_it_holds(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_LINES, f"{path.name} has {len(text.splitlines())} lines (at most {MAX_LINES})"
    doc = ast.get_docstring(ast.parse(text))
    if path.name != "__init__.py" or path.parent != LIB:
        assert doc and "TODO" not in doc and len(doc) > 40, f"{path.relative_to(LIB)} needs a docstring saying what lives there"
