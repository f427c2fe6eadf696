"""Reading a Python file without running it: the namespace its functions see, built from
its imports and definitions alone.

Only these parts of the file are executed, each checked first:
  - imports of numpy, math, scipy.special and functools (`import numpy as np`,
    `from math import sin`);
  - `from helpers import smooth` (or `from .helpers import ...`) of a sibling module in
    the same folder, itself read the same way (never imported);
  - `def` statements, compiled from the file's own syntax tree with their line numbers,
    so s2sgrad's frontend reads their source from the file as usual; annotations are
    never evaluated, defaults must be constants (evaluate.py) and decorators
    functools.cache or functools.lru_cache;
  - module constants: `NAME = <expression evaluate.py accepts>`.

Nothing else runs.  A name bound by a statement that did not run is left unbound and
remembered with the reason (`skipped`), so an error about it says why; a statement
that did not run and might change a constant (`setup()`, `W[0] = 2`) unbinds the
mutable constants before it.  `if __name__ == "__main__":` blocks are ignored: they do
not run when the module is imported either.
"""
from __future__ import annotations

import __future__
import ast
import importlib
import os
import symtable
from dataclasses import dataclass, field

import numpy as np

from ..errors import S2SGradError, SourcePos
from .evaluate import DECORATORS, NotStatic, evaluate

SAFE_IMPORTS = {"numpy", "numpy.linalg", "math", "scipy.special", "functools"}


class FileReadError(S2SGradError):
    """The file cannot be read statically: missing, not Python, or outside what is read."""


@dataclass
class Binding:
    """How a module-level name gets its value, and the text that binds it in a written module."""

    name: str
    kind: str                 # "import" | "constant" | "def" | "alias"
    text: str
    module: "StaticModule"    # where the names it reads are looked up
    line: int
    reads: set = field(default_factory=set)

    @property
    def key(self):
        """Equal for two bindings that are the same in a written module."""
        return ("import", self.text) if self.kind == "import" else (self.module.path, self.line, self.name)


class Reader:
    """Reads files statically, each once; a sibling module is read when imported."""

    def __init__(self):
        self.modules: dict[str, StaticModule] = {}
        self._reading: set[str] = set()

    def read(self, path: str) -> StaticModule:
        key = os.path.abspath(path)
        if key not in self.modules:
            self._reading.add(key)
            try:
                self.modules[key] = StaticModule(path, self)
            finally:
                self._reading.discard(key)
        return self.modules[key]

    def is_reading(self, path: str) -> bool:
        return os.path.abspath(path) in self._reading


class StaticModule:
    def __init__(self, path: str, reader: Reader):
        self.path = os.path.normpath(path)
        self.reader = reader
        self.name = os.path.splitext(os.path.basename(self.path))[0]
        self.text = _read_text(self.path)
        self.lines = self.text.splitlines()
        self.tree = _parse(self.text, self.path)
        self.namespace: dict = {"__name__": self.name, "__file__": self.path}
        self.bindings: dict[str, Binding] = {}
        self.skipped: dict[str, tuple] = {}      # name -> (why it has no value, SourcePos)
        self.defs: dict = {}                     # code object -> Binding of its def
        self._global_writes = _names_declared_global(self.tree)
        for node in self.tree.body:
            self._statement(node)

    # ------------------------------------------------------------------ statements
    def _statement(self, node):
        if _is_docstring(node) or _is_main_guard(node) or isinstance(node, ast.Pass):
            return
        try:
            if isinstance(node, ast.Import):
                return self._import(node)
            if isinstance(node, ast.ImportFrom):
                return self._import_from(node)
            if isinstance(node, ast.FunctionDef):
                return self._def(node)
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and self._constant(node):
                return
        except NotStatic as exc:
            return self._not_run(node, exc.reason, exc.node)
        self._not_run(node, f"line {node.lineno} (`{self._first_line(node)}`) is not run when s2sgrad "
                            f"reads a file")

    def _bind(self, binding: Binding, value):
        self.namespace[binding.name] = value
        self.bindings[binding.name] = binding
        self.skipped.pop(binding.name, None)

    def _import(self, node: ast.Import):
        for alias in node.names:
            if alias.name not in SAFE_IMPORTS:
                self._unbind(alias.asname or alias.name.split(".")[0],
                             f"`import {alias.name}` is not run when s2sgrad reads a "
                             f"file: it imports only {', '.join(sorted(SAFE_IMPORTS))} and sibling modules "
                             f"with `from module import name`", node)
                continue
            module = importlib.import_module(alias.name)
            name = alias.asname or alias.name.split(".")[0]
            value = module if alias.asname else importlib.import_module(name)
            text = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
            self._bind(Binding(name, "import", text, self, node.lineno), value)

    def _import_from(self, node: ast.ImportFrom):
        if node.level == 0 and node.module in SAFE_IMPORTS:
            module = importlib.import_module(node.module)
            for alias in node.names:
                name = alias.asname or alias.name
                if alias.name == "*" or not hasattr(module, alias.name):
                    raise NotStatic(f"`from {node.module} import {alias.name}` is not read", node)
                text = f"from {node.module} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                self._bind(Binding(name, "import", text, self, node.lineno), getattr(module, alias.name))
            return
        sibling = self._sibling(node)
        for alias in node.names:
            name = alias.asname or alias.name
            found = sibling.bindings.get(alias.name) if sibling is not None else None
            if found is None:
                why = sibling.skipped.get(alias.name) if sibling is not None else None
                if why is None:
                    why = (f"`from {'.' * node.level}{node.module or ''} import {alias.name}` is not read: s2sgrad "
                           f"reads only sibling modules in the same folder, and the names they define",
                           self.pos(node))
                self.namespace.pop(name, None)
                self.bindings.pop(name, None)
                self.skipped[name] = why
                continue
            if name != alias.name:  # `from helpers import smooth as sm`: sm = smooth
                found = Binding(name, "alias", f"{name} = {alias.name}", sibling, node.lineno, {alias.name})
            self._bind(found, sibling.namespace[alias.name])

    def _sibling(self, node: ast.ImportFrom) -> StaticModule | None:
        """The sibling module `from helpers import x` names, read statically, if there is one."""
        if node.level > 1 or not node.module or "." in node.module:
            return None
        path = os.path.join(os.path.dirname(self.path), node.module + ".py")
        if not os.path.isfile(path) or self.reader.is_reading(path):
            return None
        return self.reader.read(path)

    def _def(self, node: ast.FunctionDef):
        for d in node.decorator_list:
            try:
                value = evaluate(d, self.namespace)
                known = value in DECORATORS or (isinstance(d, ast.Call) and evaluate(d.func, self.namespace)
                                                is DECORATORS[1])
            except NotStatic:
                known = False
            if not known:
                raise NotStatic(f"the decorator `@{ast.unparse(d)}` is not one s2sgrad applies without "
                                f"running the file (functools.cache, functools.lru_cache)", d)
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            evaluate(default, self.namespace)  # what the def statement evaluates: constants only
        module = ast.Module(body=[node], type_ignores=[])
        code = compile(module, self.path, "exec", flags=__future__.annotations.compiler_flag, dont_inherit=True)
        exec(code, self.namespace)  # binds the function: decorators and defaults checked above
        text = self._text_with_comments(node)
        binding = Binding(node.name, "def", text, self, node.lineno, _reads(text, self.path))
        self._bind(binding, self.namespace[node.name])
        raw = self.namespace[node.name]
        self.defs[getattr(raw, "__wrapped__", raw).__code__] = binding

    def _constant(self, node) -> bool:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if len(targets) != 1 or not isinstance(targets[0], ast.Name) or node.value is None:
            return False
        name = targets[0].id
        text = "\n".join(self.lines[node.lineno - 1:node.end_lineno])
        reads = _reads(text, self.path) - {name} if name not in _loads(node.value) else None
        if reads is None or name in self._global_writes:
            return False  # `N = N + 1`, or rebound by a function's `global N`
        value = evaluate(node.value, self.namespace)
        self._bind(Binding(name, "constant", text, self, node.lineno, reads), value)
        return True

    # ------------------------------------------------------------------ what did not run
    def _not_run(self, node, why: str, at=None):
        """Unbind what the statement would bind, and the constants it might change."""
        at = at or node
        stored = _stored_names(node)
        run = list(_walk_run(node))
        may_mutate = any(isinstance(n, ast.Call) for n in run) or bool(stored)
        mentioned = {n.id for n in run if isinstance(n, ast.Name)}
        attribute_writes = {n.value.id for n in run if isinstance(n, ast.Attribute)
                            and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Name)}
        for name in list(self.bindings):
            value = self.namespace.get(name)
            mutable = isinstance(value, (np.ndarray, list))
            if name in stored or name in attribute_writes or (mutable and (may_mutate or name in mentioned)):
                self._unbind(name, f"line {node.lineno} (`{self._first_line(node)}`) is not run when s2sgrad "
                                   f"reads a file, and it may change `{name}`", node)
        for name in stored:
            self._unbind(name, why, at)

    def _unbind(self, name: str, why: str, node):
        self.namespace.pop(name, None)
        self.bindings.pop(name, None)
        self.skipped[name] = (why, self.pos(node))

    # ------------------------------------------------------------------ positions and text
    def _first_line(self, node) -> str:
        line = self.lines[node.lineno - 1].strip()
        return line if len(line) <= 60 else line[:57] + "..."

    def pos(self, node, func: str = "<module>") -> SourcePos:
        text = self.lines[node.lineno - 1] if node.lineno - 1 < len(self.lines) else ""
        return SourcePos(self.path, node.lineno, node.col_offset, node.end_lineno or node.lineno,
                         node.end_col_offset or len(text), func, text)

    def _text_with_comments(self, node) -> str:
        """The def as written: its decorators, the comment lines right above it, its body."""
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        while start > 1 and self.lines[start - 2].lstrip().startswith("#"):
            start -= 1
        return "\n".join(self.lines[start - 1:node.end_lineno])

    def function_node(self, name: str) -> ast.FunctionDef | None:
        for node in self.tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return node
        return None

    def public_functions(self) -> list[str]:
        """The names of the functions the file itself defines at top level, not starting with _."""
        return [n.name for n in self.tree.body if isinstance(n, ast.FunctionDef)
                and not n.name.startswith("_") and self.bindings.get(n.name) is not None
                and self.bindings[n.name].module is self]


# ---------------------------------------------------------------------- helpers
def _read_text(path: str) -> str:
    if not os.path.exists(path):
        raise FileReadError(f"no such file: {path}", hint="give the path of a Python file, as FILE.py::FUNC.")
    if os.path.isdir(path):
        raise FileReadError(f"{path} is a folder, not a Python file", hint="give FILE.py::FUNC.")
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise FileReadError(f"cannot read {path}: {exc}") from None


def _parse(text: str, path: str) -> ast.Module:
    try:
        return ast.parse(text, path)
    except SyntaxError as exc:
        line = exc.lineno or 1
        source_line = text.splitlines()[line - 1] if text.splitlines() and line <= len(text.splitlines()) else ""
        col = max((exc.offset or 1) - 1, 0)
        end = exc.end_offset - 1 if exc.end_offset and exc.end_lineno == line and exc.end_offset > exc.offset \
            else col + 1
        pos = SourcePos(path, line, col, line, end, "<module>", source_line)
        raise FileReadError(f"syntax error in {path}: {exc.msg}", pos, hint="fix the file so Python can parse it.") from None


def _is_docstring(node) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def _is_main_guard(node) -> bool:
    """`if __name__ == "__main__":`, which an import does not run either."""
    return isinstance(node, ast.If) and not node.orelse and isinstance(node.test, ast.Compare) \
        and ast.unparse(node.test).replace("'", '"') in ('__name__ == "__main__"', '"__main__" == __name__')


def _stored_names(node) -> set[str]:
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
    for n in ast.walk(node):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in n.names}
    return names


def _walk_run(node):
    """The nodes a statement evaluates when it runs: a def's decorators, defaults and
    annotations, not its body (nor a lambda's)."""
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = n.args
            todo += n.decorator_list + a.defaults + [d for d in a.kw_defaults if d is not None]
            todo += [x.annotation for x in a.posonlyargs + a.args + a.kwonlyargs if x.annotation is not None]
            todo += [n.returns] if n.returns is not None else []
        elif isinstance(n, ast.Lambda):
            todo += n.args.defaults
        else:
            todo += list(ast.iter_child_nodes(n))


def _loads(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _names_declared_global(tree) -> set[str]:
    return {name for n in ast.walk(tree) if isinstance(n, ast.Global) for name in n.names}


def _reads(text: str, path: str) -> set[str]:
    """The module-level names a statement reads, in its own code and its functions'."""
    return module_reads(symtable.symtable(text, path, "exec"))


def module_reads(table: symtable.SymbolTable) -> set[str]:
    """Names a module's code reads from module level (its functions' globals included),
    less those it binds itself."""
    bound = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    reads = {s.get_name() for s in table.get_symbols() if s.is_referenced()}

    def visit(t):
        for child in t.get_children():
            if child.get_type() in ("function", "class"):
                reads.update(s.get_name() for s in child.get_symbols() if s.is_global() and s.is_referenced())
            visit(child)
    visit(table)
    return {n for n in reads if n not in bound}
