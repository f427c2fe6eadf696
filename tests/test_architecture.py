"""The package's structure, read from its source with `ast` (nothing here imports the
modules it checks, so a module that fails to import is still checked):

- the import graph of s2sgrad.* has no cycle.  Every `import` and `from ... import`
  counts, at module level or inside a function, relative ones resolved; importing a
  package `s2sgrad.x` is importing s2sgrad/x/__init__.py, and `from s2sgrad.x import y`
  imports the submodule s2sgrad.x.y where there is one, else s2sgrad/x/__init__.py;
- no s2sgrad module reaches a private name (`_name`, not `__dunder__`) of another one,
  by `from m import _name` or by `m._name` on a name bound to a module;
- the tests: no test file defines the same name twice at top level or in a class (ruff's
  F811: the first definition never runs), test file basenames are unique (pytest's
  default import mode needs that: the folders have no __init__.py), and each folder of
  tests/ names a stage of the package.

Offences that exist today are listed below, each with where and why, so this passes now
and fails on any new one.  An entry that no longer occurs fails too: remove it, so the
lists only shrink.
"""
from __future__ import annotations

import ast
import collections
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PACKAGE = TESTS.parent / "s2sgrad"
ROOT = PACKAGE.name

# ---------------------------------------------------------------------- known offences
# Import cycles known today, each as the set of modules of its strongly connected
# component (a cycle found must be exactly one of these).
KNOWN_CYCLES: set[frozenset] = set()

# Private names one s2sgrad module takes from another: (file, "module._name").  Keyed
# without the line, so edits elsewhere in the file do not break this; the line is below.
KNOWN_PRIVATE: set[tuple] = set()

# ---------------------------------------------------------------------- reading the package
def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = package_modules()


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def resolve_from(importer: str, node: ast.ImportFrom) -> str:
    """The absolute module a `from ... import` names (relative levels resolved)."""
    if not node.level:
        return node.module
    is_package = MODULES[importer].name == "__init__.py"
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


class Imports:
    """Every import of one module: the s2sgrad modules it imports (with lines), the
    private names it takes from them, and the local names bound to s2sgrad modules."""

    def __init__(self, name: str):
        self.name = name
        self.path = MODULES[name]
        self.tree = ast.parse(self.path.read_text(), str(self.path))
        self.edges: list[tuple[str, int]] = []      # (imported module, line)
        self.private: list[tuple[int, str]] = []    # (line, "module._name")
        self.bound: dict[str, str] = {}             # local name -> s2sgrad module
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self._import(alias, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                self._import_from(node)
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Attribute):
                base = self.module_of(node.value)
                if base is not None and is_private(node.attr) and base != self.name:
                    self.private.append((node.lineno, f"{base}.{node.attr}"))
        self.edges.sort(key=lambda e: e[1])  # ast.walk is breadth first: report the first line
        self.private.sort()

    def _import(self, alias: ast.alias, line: int):
        mod = alias.name
        if not _ours(mod):
            return
        for part in mod.split("."):
            if is_private(part):
                self.private.append((line, mod))
                break
        self.edges.append((mod, line))
        if alias.asname:
            self.bound[alias.asname] = mod
        else:  # `import s2sgrad.x.y` binds `s2sgrad`
            self.bound[mod.split(".")[0]] = mod.split(".")[0]

    def _import_from(self, node: ast.ImportFrom):
        mod = resolve_from(self.name, node)
        if not _ours(mod):
            return
        for alias in node.names:
            sub = f"{mod}.{alias.name}"
            if sub in MODULES:  # a submodule: importing it runs that module
                self.edges.append((sub, node.lineno))
                self.bound[alias.asname or alias.name] = sub
            else:
                self.edges.append((mod, node.lineno))
            if alias.name != "*" and is_private(alias.name) and sub != self.name:
                self.private.append((node.lineno, sub))

    def module_of(self, e: ast.expr) -> str | None:
        """The s2sgrad module an expression names (`rules`, `s2sgrad.rules.arrays`), if any."""
        if isinstance(e, ast.Name):
            return self.bound.get(e.id)
        if isinstance(e, ast.Attribute):
            base = self.module_of(e.value)
            if base is not None and f"{base}.{e.attr}" in MODULES:
                return f"{base}.{e.attr}"
        return None


def _ours(mod: str | None) -> bool:
    return mod is not None and (mod == ROOT or mod.startswith(ROOT + "."))


def read_package() -> dict[str, Imports]:
    return {name: Imports(name) for name in MODULES}


def rel(name: str) -> str:
    return MODULES[name].relative_to(PACKAGE).as_posix()


# ---------------------------------------------------------------------- cycles
def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components (iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = set()
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.add(w)
                        if w == v:
                            break
                    out.append(comp)
    return out


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The components that hold a cycle (more than one module, or one importing itself)."""
    return [c for c in strongly_connected(graph)
            if len(c) > 1 or next(iter(c)) in graph[next(iter(c))]]


def a_cycle(graph: dict[str, set[str]], comp: set[str]) -> list[str]:
    """A shortest cycle through the first module of a component, for the message."""
    start = min(comp)
    prev, queue = {start: None}, collections.deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(graph[v] & comp):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return path[::-1] + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    raise AssertionError(f"no cycle through {start}")


def import_graph(package: dict[str, Imports]):
    graph = {name: set() for name in package}
    where = {}
    for name, imports in package.items():
        for mod, line in imports.edges:
            if mod in MODULES:
                graph[name].add(mod)
                where.setdefault((name, mod), f"s2sgrad/{rel(name)}:{line}")
    return graph, where


def describe(graph, where, comp) -> str:
    path = a_cycle(graph, comp)
    steps = [f"  {a} -> {b}  ({where[a, b]})" for a, b in zip(path, path[1:])]
    return f"import cycle among {sorted(comp)}:\n" + "\n".join(steps)


# ---------------------------------------------------------------------- the checker's own tests
def test_the_cycle_finder_on_a_small_graph():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"a"}}
    assert sorted(map(sorted, cycles(graph))) == [["a", "b", "c"], ["e"]]
    assert a_cycle(graph, {"a", "b", "c"}) == ["a", "b", "c", "a"]
    assert a_cycle(graph, {"e"}) == ["e", "e"]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_relative_imports_resolve_like_python():
    tree = ast.parse("from .. import ir\nfrom ..rules import arrays\nfrom . import walk\nfrom .source import x")
    got = [resolve_from("s2sgrad.frontend.lowering", n) for n in tree.body]
    assert got == ["s2sgrad", "s2sgrad.rules", "s2sgrad.frontend", "s2sgrad.frontend.source"]
    # in a package's __init__.py, `.` is the package itself
    assert resolve_from("s2sgrad.backends", tree.body[2]) == "s2sgrad.backends"
    assert resolve_from("s2sgrad", ast.parse("from .api import grad").body[0]) == "s2sgrad.api"


def test_the_package_is_read_whole():
    # the graph knows the modules the layout promises, and sees edges everyone relies on
    for name in ("s2sgrad", "s2sgrad.ir", "s2sgrad.ir.nodes", "s2sgrad.frontend.controlflow",
                 "s2sgrad.analysis.activity", "s2sgrad.transforms.optimize", "s2sgrad.backends.python"):
        assert name in MODULES
    graph, _ = import_graph(read_package())
    assert "s2sgrad.ir" in graph["s2sgrad.frontend.controlflow"]          # from .. import ir
    assert "s2sgrad.ir.nodes" in graph["s2sgrad.ir.walk"]                  # from .nodes import ...
    assert "s2sgrad.backends.python" in graph["s2sgrad.transforms.optimize"]  # from ..backends import python


# ---------------------------------------------------------------------- the package
def test_no_import_cycles():
    package = read_package()
    graph, where = import_graph(package)
    found = cycles(graph)
    new = [describe(graph, where, c) for c in found if frozenset(c) not in KNOWN_CYCLES]
    assert not new, "\n\n".join(new)
    stale = KNOWN_CYCLES - {frozenset(c) for c in found}
    assert not stale, f"these known cycles are gone: remove them from KNOWN_CYCLES: {stale}"


def test_no_private_names_across_modules():
    found = collections.defaultdict(list)  # (file, name) -> lines
    for name, imports in read_package().items():
        for line, what in imports.private:
            found[rel(name), what].append(line)
    new = sorted(set(found) - KNOWN_PRIVATE)
    assert not new, "private names of another module:\n" + "\n".join(
        f"  s2sgrad/{f}:{line}: {what}" for f, what in new for line in found[f, what])
    stale = KNOWN_PRIVATE - set(found)
    assert not stale, f"these are gone: remove them from KNOWN_PRIVATE: {sorted(stale)}"


@pytest.fixture
def small_package(tmp_path, monkeypatch):
    """A package of five modules in tmp_path, which the checks then read instead."""
    src = {"__init__.py": "",
           "a.py": "def _hidden():\n    pass\n",
           "b.py": "from .a import _hidden\n\n\ndef g():\n    from . import c\n",
           "c.py": "from . import a\nimport s2sgrad.b\n\n\ndef f():\n    return a._hidden()\n",
           "d.py": "import s2sgrad.a as m\nx = m.__name__\n",
           "sub/__init__.py": "from .e import y\n",
           "sub/e.py": "from . import z\ny = 1\n"}
    for path, text in src.items():
        (tmp_path / "s2sgrad" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "s2sgrad" / path).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "s2sgrad")
    monkeypatch.setattr(sys.modules[__name__], "MODULES", package_modules())


def test_the_checks_on_a_small_package(small_package):
    package = read_package()
    # private names: imported by name, and reached as an attribute of a module; dunders are not
    assert {name: imports.private for name, imports in package.items()} == {
        "s2sgrad": [], "s2sgrad.a": [], "s2sgrad.b": [(1, "s2sgrad.a._hidden")],
        "s2sgrad.c": [(6, "s2sgrad.a._hidden")], "s2sgrad.d": [], "s2sgrad.sub": [], "s2sgrad.sub.e": []}
    # cycles: b -> c inside a function, c -> b at module level; sub/__init__.py -> sub.e ->
    # sub (a name, not a submodule: the package's __init__.py)
    graph, where = import_graph(package)
    assert sorted(map(sorted, cycles(graph))) == [["s2sgrad.b", "s2sgrad.c"], ["s2sgrad.sub", "s2sgrad.sub.e"]]
    text = describe(graph, where, {"s2sgrad.b", "s2sgrad.c"})
    assert "s2sgrad.b -> s2sgrad.c  (s2sgrad/b.py:5)" in text
    assert "s2sgrad.c -> s2sgrad.b  (s2sgrad/c.py:2)" in text


# ---------------------------------------------------------------------- the tests
TEST_FILES = sorted(TESTS.rglob("test_*.py"))


def duplicate_definitions(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, name) of each def or class that rebinds a name already defined in the same
    body (the module, or a class): F811, the earlier one silently never runs."""
    out = []

    def scan(body, where):
        seen = {}
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                decorators = [ast.unparse(d) for d in node.decorator_list]
                redefines = any(d.endswith((".setter", ".deleter")) or d in ("overload", "typing.overload")
                                for d in decorators)
                if node.name in seen and not redefines:
                    out.append((node.lineno, f"{where}{node.name} (first at line {seen[node.name]})"))
                seen.setdefault(node.name, node.lineno)
                if isinstance(node, ast.ClassDef):
                    scan(node.body, f"{where}{node.name}.")

    scan(tree.body, "")
    return out


def test_the_duplicate_finder():
    tree = ast.parse("def test_a(): pass\nclass T:\n    def test_m(self): pass\n    def test_m(self): pass\n"
                     "def test_b(): pass\ndef test_a(): pass\n")
    assert duplicate_definitions(tree) == [(4, "T.test_m (first at line 3)"), (6, "test_a (first at line 1)")]


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.relative_to(TESTS).as_posix())
def test_no_duplicate_test_names(path):
    dups = duplicate_definitions(ast.parse(path.read_text(), str(path)))
    assert not dups, "\n".join(f"{path.relative_to(TESTS)}:{line}: redefines {what}" for line, what in dups)


def test_test_file_basenames_are_unique():
    by_name = collections.defaultdict(list)
    for path in TEST_FILES:
        by_name[path.name].append(path.relative_to(TESTS).as_posix())
    assert {n: ps for n, ps in by_name.items() if len(ps) > 1} == {}


# test folders of no single stage: the differential fuzzer judges the whole pipeline at once
WHOLE_PIPELINE_FOLDERS = {"fuzz"}


def test_test_folders_mirror_the_package():
    folders = [p for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))
               and p.name not in WHOLE_PIPELINE_FOLDERS]
    assert folders, "tests/ has its per-stage folders"
    for folder in folders:
        assert (PACKAGE / folder.name / "__init__.py").exists(), f"tests/{folder.name}/ names no s2sgrad stage"
        assert not list(folder.rglob("__init__.py")), f"tests/{folder.name}/ must have no __init__.py"
    assert not (TESTS / "__init__.py").exists()


def test_the_readme_tree_lists_every_module():
    """README's "How it works" is the package's map: every module (and folder) has its line."""
    readme = (PACKAGE.parent / "README.md").read_text()
    tree = readme[readme.index("## How it works"):readme.index("Where to add things")]
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.name if path.name != "__init__.py" else path.parent.name + "/"
        if name == "s2sgrad/":
            continue
        if name not in tree:
            missing.append(str(path.relative_to(PACKAGE.parent)))
    assert not missing, f"README's How it works tree misses: {missing}"
