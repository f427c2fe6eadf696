"""Lowering: a live Python function to IR.

Reads the function's source (source.py), parses it with libcst keeping positions, resolves
every name against the function's locals, closure cells, globals and builtins, and
lowers the body to IR.  Calls to user functions are pulled out into their own
statements, conditional expressions into if statements, so every remaining expression
is one the differentiator can hand to sympy.  Break, continue and early returns are made
explicit afterwards by controlflow.py.
"""
from __future__ import annotations

import ast
import builtins
import functools
import inspect
import types

import libcst as cst
import numpy as np
from libcst.metadata import MetadataWrapper, PositionProvider

from .. import ir
from ..custom import CustomDerivative
from ..errors import (CallValueNeededError, DictKeyError, RecursiveCallError, SourcePos, UndefinedNameError,
                      UnsupportedCallError, UnsupportedSyntaxError)
from ..rules import registry
from ..rules.array import core as array_core
from . import reach
from .desugar import Desugaring, assigned_in
from .dicts import Fields, Specialized, flat_name
from .source import Source, is_user_function, resolve_nonlocal, stop_gradient, unwrap

BINOPS = {cst.Add: "+", cst.Subtract: "-", cst.Multiply: "*", cst.Divide: "/",
          cst.FloorDivide: "//", cst.Modulo: "%", cst.Power: "**", cst.MatrixMultiply: "@",
          cst.BitAnd: "&", cst.BitOr: "|", cst.BitXor: "^"}
AUGOPS = {cst.AddAssign: "+", cst.SubtractAssign: "-", cst.MultiplyAssign: "*",
          cst.DivideAssign: "/", cst.FloorDivideAssign: "//", cst.ModuloAssign: "%",
          cst.PowerAssign: "**"}
CMPOPS = {cst.LessThan: "<", cst.GreaterThan: ">", cst.LessThanEqual: "<=",
          cst.GreaterThanEqual: ">=", cst.Equal: "==", cst.NotEqual: "!=", cst.In: "in",
          cst.NotIn: "not in", cst.Is: "is", cst.IsNot: "is not"}
FORBIDDEN_CALLS = {builtins.exec: "exec()", builtins.eval: "eval()", builtins.globals: "globals()",
                   builtins.locals: "locals()", builtins.compile: "compile()"}


def load_program(pyfunc, static: dict | None = None, guessing: bool = False,
                 layout: dict | None = None) -> tuple[ir.Function, dict]:
    """The IR of `pyfunc` and of every user function it calls, keyed by function object
    (a helper called with dicts by a dicts.Specialized key).  `static`: parameters bound
    to the values of a call (functions, objects; reach.py); `guessing`: no call's values
    are known yet, so a parameter called as a function or read as an object waits for
    them (CallValueNeededError); `layout`: the keys of each dict argument of pyfunc
    (frontend/dicts.py), None guesses them from the body."""
    functions: dict = {}
    if static:
        pyfunc = reach.specialise(pyfunc, static)
    _load(pyfunc, functions, stack=[], guessing=guessing, layout=layout)
    return functions[pyfunc], functions


def guessed_dicts(pyfunc) -> dict:
    """The dict parameters of pyfunc the body suggests, with the constant keys it reads."""
    return Lowerer(pyfunc).guess_layout()


def _load(pyfunc, functions: dict, stack: list, call_pos=None, guessing: bool = False,
          layout: dict | None = {}):
    if pyfunc in functions:
        return
    if pyfunc in stack:
        cycle = " -> ".join(f.__name__ for f in stack + [pyfunc])
        raise RecursiveCallError(f"recursive call ({cycle}) is not supported", call_pos)
    fn, callees = Lowerer(pyfunc, layout, helper=bool(stack), guessing=guessing).lower()
    stack.append(pyfunc)
    for callee, pos in callees:
        _load(callee, functions, stack, pos, guessing)
    stack.pop()
    functions[pyfunc] = fn


@functools.lru_cache(maxsize=64)
def _parsed(text: str):
    """The libcst tree of a function's source and its nodes' positions, kept per source
    text: a function is lowered again for each kinds of arguments, and parsing and
    positions are most of the cost for long functions.  libcst trees are immutable, and
    lowering keys its own tables by their nodes, so lowerings can share one."""
    wrapper = MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True)
    return wrapper, wrapper.resolve(PositionProvider)


class Lowerer(Desugaring):
    """Lowers one function definition to IR (Python's conveniences through desugar.py)."""

    def __init__(self, pyfunc, layout: dict | None = None, helper: bool = False, guessing: bool = False):
        self.pyfunc = pyfunc
        self.helper = helper  # called by the differentiated function: *args may be bound
        self.guessing = guessing
        self.src = Source(pyfunc)
        try:
            self.wrapper, self.positions = _parsed(self.src.text)
        except cst.ParserSyntaxError:
            # inspect gives the lines a lambda sits on, which may be a piece of a larger
            # expression (`g = grad(lambda x: x * x,` with the call going on below)
            raise UnsupportedSyntaxError(
                f"the source of {pyfunc.__qualname__} cannot be read on its own: its lines are "
                f"part of a larger expression", self.src.first_line_pos(),
                "define the function with def, on lines of its own.") from None
        self.stand_ins: dict = {}  # nodes made here (a lambda's def) -> the node they stand for
        self.fndef = next((n for n in self.wrapper.module.body if isinstance(n, cst.FunctionDef)), None)
        if self.fndef is None:
            self.fndef = self._lambda_as_def(pyfunc)
        self.callees: list = []
        self.nonlocals: set[str] = set()  # names read from closure, globals or builtins
        self.temp_count = 0
        self.plain_targets: set[int] = set()  # names only bound, never read, where they stand
        self.static = reach.bindings(pyfunc)  # names bound to values of the call (reach.py)
        self.lifted = tuple(getattr(pyfunc, "__s2sgrad_lifted__", ()))
        self.local_functions = dict(getattr(pyfunc, "__s2sgrad_local_functions__", {}))
        self.locals = self._local_names()
        self.renames: dict[str, str] = {}  # a comprehension's variables, while it is lowered
        self.local_imports = self._scan_imports()
        self.list_names = self._scan_list_names()
        self._find_local_functions()
        # dicts, flattened (frontend/dicts.py): the keys of each dict parameter (None: guessed
        # from the body), each dict variable's {key: variable}, names bound to something else,
        # and the loop variables of a for over a dict's keys while its body is unrolled
        self.layout = dict(pyfunc.layout) if isinstance(pyfunc, Specialized) else layout
        self.dicts: dict[str, dict[str, str]] = {}
        self.records: set[str] = set()  # the dict variables that are dataclasses, read as `p.W`
        self.plain_names: set[str] = set()
        self.const_names: dict[str, str] = {}

    # ------------------------------------------------------------------ helpers
    def _lambda_as_def(self, pyfunc) -> cst.FunctionDef:
        """A lambda as the def it means, `def name(params): return body`, named after the
        variable it is assigned to; the lambda is found among those on its source lines
        by its parameters and the positions of its code."""
        found, named = [], {}

        class FindLambda(cst.CSTVisitor):
            def visit_Lambda(self, node):
                found.append(node)

            def visit_Assign(self, node):
                if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
                    named[node.value] = node.targets[0].target.value

        self.wrapper.module.visit(FindLambda())
        code = pyfunc.__code__
        wanted = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
        matches = [lam for lam in found if self._lambda_params(lam) == wanted
                   and self._holds_code(lam, code)]
        if len(matches) != 1:
            pos = self.pos(found[0]) if found else self.src.first_line_pos()
            raise UnsupportedSyntaxError(
                f"cannot tell which lambda on these lines is {pyfunc.__qualname__}", pos,
                "write it as `def f(x): return ...`, or put the lambda on a line of its own.")
        lam = matches[0]
        name = pyfunc.__name__ if pyfunc.__name__.isidentifier() else named.get(lam, "lambda_fn")
        ret = cst.Return(value=lam.body)
        fndef = cst.FunctionDef(name=cst.Name(name), params=lam.params,
                                body=cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[ret])]))
        self.stand_ins.update({ret: lam.body, fndef: lam, fndef.name: lam})
        return fndef

    @staticmethod
    def _lambda_params(lam) -> list[str]:
        p = lam.params
        if isinstance(p.star_arg, cst.Param) or p.star_kwarg is not None:
            return []
        return [q.name.value for q in list(p.posonly_params) + list(p.params) + list(p.kwonly_params)]

    def _holds_code(self, lam, code) -> bool:
        """Whether every position of the code's instructions lies inside the lambda."""
        rng = self.positions[lam]
        start = (self.src.first_line + rng.start.line - 1, rng.start.column + self.src.indent)
        end = (self.src.first_line + rng.end.line - 1, rng.end.column + self.src.indent)
        for line, end_line, col, end_col in code.co_positions():
            if line is None or col is None or (line, col) == (code.co_firstlineno, 0):
                continue
            if not (start <= (line, col) and (end_line, end_col) <= end):
                return False
        return True

    def pos(self, node) -> SourcePos:
        return self.src.pos(self.positions[self.stand_ins.get(node, node)])

    def unsupported(self, what: str, node, hint: str | None = None):
        return UnsupportedSyntaxError(f"{what} is not supported in a differentiated function",
                                      self.pos(node), hint)

    def fresh(self, base: str) -> str:
        # temporaries the lowering adds: unique, and never a name the user wrote
        while True:
            self.temp_count += 1
            name = f"{base}_{self.temp_count}"
            if name not in self.locals:
                self.locals.add(name)
                return name

    def _local_names(self) -> set[str]:
        names = {p.name.value for p in self._params()}
        if isinstance(self.fndef.params.star_arg, cst.Param):
            names.add(self.fndef.params.star_arg.name.value)
        plain = self.plain_targets

        class Collect(cst.CSTVisitor):
            def visit_FunctionDef(self, node):
                return False  # a nested function's variables are its own

            def visit_Lambda(self, node):
                return False

            def visit_AssignTarget(self, node):
                self._targets(node.target, True)

            def visit_AugAssign(self, node):
                self._targets(node.target, False)

            def visit_AnnAssign(self, node):
                self._targets(node.target, True)

            def visit_For(self, node):
                self._targets(node.target, True)

            def _targets(self, t, bound_only):
                if isinstance(t, cst.Name):
                    names.add(t.value)
                    if bound_only:
                        plain.add(id(t))
                elif isinstance(t, (cst.Tuple, cst.List)):
                    for el in t.elements:
                        self._targets(el.value, bound_only)

        self.fndef.body.visit(Collect())
        assigned = names - {p.name.value for p in self._params()}
        for n in set(self.static) & assigned:
            raise self.unsupported(f"assigning to `{n}`, which is bound to a {type(self.static[n]).__name__}",
                                   self.fndef.name, "use a new name for the new value.")
        return (names - set(self.static)) | set(self.lifted)

    def _params(self):
        p = self.fndef.params
        return list(p.posonly_params) + list(p.params) + list(p.kwonly_params)

    def _find_local_functions(self) -> None:
        """Functions defined at the top level of the body (`def g(t): ...`, `g = lambda t:
        ...`): lowered as functions of their own and called where the body calls them,
        the enclosing variables they read passed as extra arguments (reach.py)."""
        found = {}
        for stmt in self.fndef.body.body:
            if isinstance(stmt, cst.FunctionDef):
                found[stmt.name.value] = stmt
            elif isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 \
                    and isinstance(stmt.body[0], cst.Assign) and len(stmt.body[0].targets) == 1 \
                    and isinstance(stmt.body[0].targets[0].target, cst.Name) \
                    and isinstance(stmt.body[0].value, cst.Lambda):
                found[stmt.body[0].targets[0].target.value] = stmt.body[0].value
        self.local_defs = {id(node) for node in found.values()}
        if not found:
            return
        if getattr(self.pyfunc, "__s2sgrad_nested__", False):
            raise self.unsupported("a function defined inside a nested function", next(iter(found.values())),
                                   "define it in the enclosing function or at module level.")
        counts = self._assignment_counts()
        params = {q.name.value for q in self._params()}
        for name, node in found.items():
            if counts.get(name, 0) != (1 if isinstance(node, cst.Lambda) else 0) or name in params:
                raise self.unsupported(f"the local function `{name}` bound more than once", node,
                                       "give each local function a name of its own.")
        codes = {name: self._nested_code(name, node) for name, node in found.items()}
        # a module or function the body imports is read by them as the body reads it
        imported = {v: self.local_imports[v][0] for c in codes.values() for v in c.co_freevars
                    if v in self.local_imports}
        for name, node in found.items():
            for v in set(codes[name].co_freevars) & set(imported):
                self.imported_before_use(v, node)
        outer = set(self.pyfunc.__code__.co_freevars) | set(found) | set(self.static) | set(imported)
        lifted = {n: [v for v in c.co_freevars if v not in outer] for n, c in codes.items()}
        changed = True
        while changed:  # calling a sibling local function passes on what the sibling reads
            changed = False
            for n, c in codes.items():
                for v in [v for sib in c.co_freevars if sib in found for v in lifted[sib]]:
                    if v not in lifted[n]:
                        lifted[n].append(v)
                        changed = True
        siblings: dict = {}
        for name, node in found.items():
            siblings[name] = reach.nested_function(self.pyfunc, codes[name], name, self._literal_defaults(node),
                                                   tuple(lifted[name]), siblings, imported)
        self.local_functions.update(siblings)
        self.locals -= set(found)

    def _assignment_counts(self) -> dict:
        counts: dict = {}

        class Count(cst.CSTVisitor):
            def visit_FunctionDef(self, node):
                return False

            def visit_Lambda(self, node):
                return False

            def visit_AssignTarget(self, node):
                for n in _target_names(node.target):
                    counts[n] = counts.get(n, 0) + 1

            def visit_AugAssign(self, node):
                self.visit_AssignTarget(node)

            def visit_AnnAssign(self, node):
                self.visit_AssignTarget(node)

            def visit_For(self, node):
                self.visit_AssignTarget(node)

        self.fndef.body.visit(Count())
        return counts

    def _nested_code(self, name: str, node):
        """The code object of a def or lambda of the body, among the function's constants."""
        if isinstance(node, cst.FunctionDef) and (node.decorators or node.asynchronous is not None):
            raise self.unsupported("a decorated or async nested function", node,
                                   "define it at module level.")
        want = name if isinstance(node, cst.FunctionDef) else "<lambda>"
        line = self.pos(node).line
        codes = [c for c in self.pyfunc.__code__.co_consts
                 if isinstance(c, types.CodeType) and c.co_name == want and c.co_firstlineno == line]
        if len(codes) != 1:
            raise self.unsupported(f"the local function `{name}` (its code cannot be told apart)", node,
                                   "define it on lines of its own.")
        return codes[0]

    def _literal_defaults(self, node) -> tuple:
        """A local function's default values, which must be literals (`k=2.0`)."""
        p = node.params
        if any(q.default is not None for q in p.kwonly_params) or isinstance(p.star_arg, cst.Param) \
                or p.star_kwarg is not None:
            raise self.unsupported("keyword-only defaults or `*args` in a local function", node,
                                   "give it plain parameters.")
        out = []
        for q in list(p.posonly_params) + list(p.params):
            if q.default is not None:
                try:
                    out.append(ast.literal_eval(self.src_of(q.default)))
                except (ValueError, SyntaxError):
                    raise self.unsupported("a default value that is not a literal in a local function",
                                           q.default, "pass the value as an argument.") from None
        return tuple(out)
    # ------------------------------------------------------------------ dicts
    def guess_layout(self) -> dict:
        """Before a call brings them, the dict parameters are those the body reads by a
        constant key (`p["W"]`, `p.get("W")`) or otherwise uses as a dict (`**p`,
        `"W" in p`, `p.items()`), with the keys it names, in order."""
        params = {p.name.value for p in self._params()}
        star = self.fndef.params.star_kwarg
        if isinstance(star, cst.Param):
            params.add(star.name.value)
        keys: dict[str, dict] = {}

        def note(node, key=None):
            if isinstance(node, cst.Name) and node.value in params:
                found = keys.setdefault(node.value, {})
                if isinstance(key, cst.SimpleString):
                    found[key.evaluated_value] = None

        class Uses(cst.CSTVisitor):
            def visit_Subscript(self, node):
                if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index) \
                        and isinstance(node.slice[0].slice.value, cst.SimpleString):
                    note(node.value, node.slice[0].slice.value)

            def visit_Call(self, node):
                f = node.func
                if isinstance(f, cst.Attribute) and f.attr.value in ("get", "items", "values", "keys"):
                    note(f.value, node.args[0].value if f.attr.value == "get" and node.args else None)
                for a in node.args:
                    if a.star == "**":
                        note(a.value)

            def visit_ComparisonTarget(self, node):
                if isinstance(node.operator, (cst.In, cst.NotIn)):
                    note(node.comparator)

        self.fndef.body.visit(Uses())
        if isinstance(star, cst.Param):
            keys.setdefault(star.name.value, {})
        return {p: tuple(k) for p, k in keys.items()}

    def declare_dict(self, var: str, keys) -> dict[str, str]:
        """The variables of dict `var`'s entries, `var_key`, each unlike any other name."""
        flats = {}
        for key in keys:
            if not isinstance(key, str):
                raise UnsupportedSyntaxError(f"the dict `{var}` has a key {key!r} that is not a string",
                                             self.src.first_line_pos(), "use string keys.")
            name = flat_name(var, key)
            if name in self.locals:
                name = self.fresh(name)
            self.locals.add(name)
            flats[key] = name
        self.dicts[var] = flats
        return flats

    def dict_var(self, node) -> str | None:
        """The dict variable a node names, or None (a dataclass's is no dict to Python:
        not indexed, looped over, `**`-unpacked)."""
        var = self.passed_var(node)
        return var if var not in self.records else None

    def passed_var(self, node) -> str | None:
        """The dict or dataclass variable a node names (what may be passed to a helper)."""
        if isinstance(node, cst.Name) and node.value in self.dicts and node.value not in self.const_names:
            return node.value
        return None

    def what(self, var: str) -> str:
        return "dataclass" if var in self.records else "dict"

    def record_field(self, node: cst.Attribute) -> ir.Expr:
        """`p.W` of a dataclass taken as wrt: the variable of its field W."""
        var, attr = node.value.value, node.attr.value
        if attr not in self.dicts[var]:
            fields = ", ".join(self.dicts[var])
            raise UndefinedNameError(
                f"`{self.src_of(node)}`: the dataclass `{var}` is taken as wrt, one parameter per field "
                f"({fields}), and `{attr}` is none of them", self.pos(node),
                f"read its fields only; compute `{attr}` from them in the function, or pass the "
                f"dataclass as an argument not taken as wrt (its attributes are then read as constants).")
        return ir.Name(self.dicts[var][attr], pos=self.pos(node))

    def dict_key(self, node, var: str) -> str:
        """A key of dict `var`: a string constant, or a name holding one (a module constant,
        the variable of a for over the dict's keys)."""
        key = self.expr(node)
        value = key.value if isinstance(key, (ir.Const, ir.Global)) else None
        if not isinstance(value, str):
            raise UnsupportedSyntaxError(
                f"reading the dict `{var}` with the key `{self.src_of(node)}`, which is not a constant "
                f"string, is not supported in a differentiated function", self.pos(node),
                f"read it with a string constant, `{var}[\"W\"]`, or loop over it: "
                f"`for k in {var}:` (the loop is unrolled, one copy of the body per key).")
        return value

    def dict_entry(self, var: str, key: str, node) -> ir.Name:
        if key not in self.dicts[var]:
            keys = ", ".join(repr(k) for k in self.dicts[var]) or "none"
            raise DictKeyError(f"the dict `{var}` has no key {key!r} (its keys: {keys})", self.pos(node),
                               f"pass a dict with the key {key!r}, or read it with "
                               f"`{var}.get({key!r}, default)`.")
        return ir.Name(self.dicts[var][key], pos=self.pos(node))

    def dict_whole(self, var: str, node):
        if var in self.records:
            return self.unsupported(
                f"the dataclass `{var}`, taken as wrt, used as a whole (`{self.src_of(node)}`)", node,
                f"read its fields (`{var}.W`), or pass it on to a function of yours as `{var}`.")
        return self.unsupported(
            f"the dict `{var}` used as a whole (`{self.src_of(node)}`)", node,
            f"read its entries by constant key (`{var}[\"W\"]`, `{var}.get(\"W\", 0.0)`), loop over it "
            f"(`for k in {var}:`), or pass it on to a function of yours, as `{var}` or `**{var}`.")

    def dict_write(self, var: str, node):
        return self.unsupported(
            f"writing into the dict `{var}`", node,
            f"a differentiated function reads its dicts only: build a new one "
            f"(`new = {{**{var}, \"W\": value}}`) or keep the value in a variable.")

    def dict_entries(self, node) -> dict | None:
        """{key: value expression} of a dict display `{"a": x, **d}` or of `dict(a=x, **d)`,
        later keys replacing earlier ones as Python does; None for anything else."""
        if isinstance(node, cst.Dict):
            entries = {}
            for el in node.elements:
                if isinstance(el, cst.StarredDictElement):
                    entries.update(self.splatted(el.value))
                else:
                    entries[self.dict_key(el.key, "{...}")] = self.expr(el.value)
            return entries
        if isinstance(node, cst.Call) and self.resolve_callee(node.func) is dict:
            entries = {}
            for a in node.args:
                more = self.splatted(a.value) if a.star == "**" else \
                    {a.keyword.value: self.expr(a.value)} if a.keyword is not None and not a.star else None
                if more is None:
                    raise self.unsupported("`dict(...)` with positional arguments", a,
                                           "write `dict(a=x, b=y)` or `{\"a\": x, \"b\": y}`.")
                twice = next((k for k in more if k in entries), None)
                if twice is not None:  # Python raises TypeError here
                    raise UnsupportedCallError(f"`dict(...)` given the key {twice!r} twice", self.pos(a),
                                               "give each key once, or write `{**d, \"a\": x}`.")
                entries.update(more)
            return entries
        return None

    def splatted(self, node) -> dict:
        """The entries of `**d`: a dict variable's, or a dict display's."""
        var = self.dict_var(node)
        if var is not None:
            return {k: ir.Name(v, pos=self.pos(node)) for k, v in self.dicts[var].items()}
        entries = self.dict_entries(node)
        if entries is None:
            raise self.unsupported(f"`**{self.src_of(node)}`, which is not a dict s2sgrad knows the keys of",
                                   node, "unpack a dict argument or a dict built in the function.")
        return entries

    def dict_assign(self, var: str, entries: dict, target_node, pos) -> list[ir.Stmt]:
        """`d = {"a": x, "b": y}` as `d_a, d_b = x, y` (all values read before any is bound)."""
        if var in self.plain_names or var in self.const_names:
            raise self.unsupported(f"the name `{var}` bound to a dict and to something else", target_node,
                                   "give the dict a name of its own.")
        if var in self.dicts and list(self.dicts[var]) != list(entries):
            raise self.unsupported(f"the dict `{var}` bound again with other keys "
                                   f"({', '.join(map(repr, entries))} instead of "
                                   f"{', '.join(map(repr, self.dicts[var]))})", target_node,
                                   "give each dict its own name.")
        pre: list[ir.Stmt] = []
        values = [self.value_from(v, pre) for v in entries.values()]
        flats = self.dicts[var] if var in self.dicts else self.declare_dict(var, entries)
        if not entries:
            return pre
        targets = [ir.Name(flats[k], pos=self.pos(target_node)) for k in entries]
        return pre + [ir.Assign(targets, values, pos=pos)]

    def dict_loop(self, node, pos) -> list[ir.Stmt] | None:
        """`for k in d`, `for v in d.values()`, `for k, v in d.items()`: unrolled, one copy of
        the body per key with `k` the key as a constant and `v` bound to the entry."""
        it, what = node.iter, "keys"
        if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and not it.args \
                and it.func.attr.value in ("keys", "values", "items"):
            it, what = it.func.value, it.func.attr.value
        var = self.dict_var(it)
        if var is None:
            return None
        t = node.target
        names = [el.value for el in t.elements] if isinstance(t, (cst.Tuple, cst.List)) else [t]
        if not all(isinstance(n, cst.Name) for n in names) or len(names) != (2 if what == "items" else 1):
            raise self.unsupported(f"this target of a loop over `{var}.{what}()`", t,
                                   "write `for k in d:`, `for v in d.values():` or `for k, v in d.items():`.")
        jumps = []

        class Jumps(cst.CSTVisitor):
            def visit_Break(self, n):
                jumps.append(n)

            def visit_Continue(self, n):
                jumps.append(n)

        node.body.visit(Jumps())
        if jumps or node.orelse is not None:
            raise self.unsupported(f"`{'else' if not jumps else self.src_of(jumps[0])}` in a loop over the "
                                   f"dict `{var}`", jumps[0] if jumps else node.orelse,
                                   "the loop is unrolled, one copy of the body per key: use an `if` instead.")
        key_name = names[0].value if what in ("keys", "items") else None
        value_name = names[-1].value if what in ("values", "items") else None
        if key_name is not None and key_name in self.plain_names | set(self.dicts):
            raise self.unsupported(f"the loop variable `{key_name}`, also bound to something else", names[0],
                                   "give the loop variable a name of its own.")
        if value_name is not None:
            self.plain_names.add(value_name)
        out: list[ir.Stmt] = []
        for key, flat in list(self.dicts[var].items()):
            if key_name is not None:
                self.const_names[key_name] = key
            if value_name is not None:
                out.append(ir.Assign([ir.Name(value_name, pos=self.pos(names[-1]))], [ir.Name(flat)], pos=pos))
            out += self.block(node.body.body)
        self.const_names.pop(key_name, None)
        return out

    # ------------------------------------------------------------------ function
    def lower(self) -> tuple[ir.Function, list]:
        fd = self.fndef
        if fd.asynchronous is not None:
            raise self.unsupported("an async function", fd, "differentiate a plain `def` function.")
        p = fd.params
        if self.layout is None:
            self.layout = self.guess_layout()
        gathered = isinstance(p.star_kwarg, cst.Param) and p.star_kwarg.name.value in self.layout
        star_ok = self.helper and isinstance(p.star_arg, cst.Param) and not p.kwonly_params
        for star in (None if star_ok else p.star_arg, None if gathered else p.star_kwarg):
            if isinstance(star, cst.Param):
                raise self.unsupported("a `*args` / `**kwargs` parameter", star,
                                       "list the parameters explicitly (a helper the differentiated "
                                       "function calls may take `*args` and `**kwargs`).")
        params, defaults, dict_params = [], {}, {}
        for param in self._params() + ([p.star_kwarg] if gathered else []):
            name = param.name.value
            if name in self.static:
                continue  # bound to a value of the call: read like a global
            if name in self.layout:  # one parameter per key
                flats = self.declare_dict(name, self.layout[name])
                if isinstance(self.layout[name], Fields):
                    self.records.add(name)
                dict_params[name] = list(flats.items())
                params += flats.values()
                continue
            self.plain_names.add(name)
            params.append(name)
            if param.default is not None:
                defaults[name] = self.expr(param.default)
        if star_ok:
            params.append(p.star_arg.name.value)  # bound to a tuple of the extra arguments
        params += [v for v in self.lifted if v not in params]
        if self.lifted:
            # a local function's calls pass every argument (defaults filled in where it is
            # called), so its own defaults go: the enclosing variables come after them
            defaults = {}
        body = self.block(fd.body.body, top=True)
        self._refuse_unlowered(body)
        fn = ir.Function(fd.name.value, params, defaults, body, pos=self.pos(fd.name),
                         doc="", file=self.src.file, line=self.src.first_line, pyfunc=self.pyfunc)
        fn.nonlocals = self.nonlocals
        fn.dict_params = dict_params  # dict parameter -> [(key, its parameter)]
        fn.record_params = self.records & set(dict_params)  # of those, the dataclasses
        return fn, self.callees

    def _refuse_unlowered(self, body) -> None:
        """A comprehension or sum(...) left where no statement could be put before it (a
        while condition, a short-circuit operand)."""
        for s in ir.walk_stmts(body):
            for e in ir.stmt_exprs(s):
                for sub in ir.subexprs(e):
                    if isinstance(sub, _Unlowered):
                        raise self.unsupported("a comprehension or sum(...) here", sub.node,
                                               "compute it in a variable first.")

    # ------------------------------------------------------------------ statements
    def block(self, nodes, top=False) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        for i, node in enumerate(nodes):
            if isinstance(node, cst.SimpleStatementLine):
                for small in node.body:
                    if i == 0 and top and isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)):
                        continue  # docstring
                    out += self.small(small)
            elif isinstance(node, cst.BaseSmallStatement):  # `for p in hs: t = p` on one line
                out += self.small(node)
            else:
                out += self.compound(node)
        return out

    def small(self, node) -> list[ir.Stmt]:
        pos = self.pos(node)
        if isinstance(node, cst.Assign):
            if len(node.targets) != 1:
                return self.chained_assign(node, pos)
            if id(node.value) in self.local_defs:
                return []  # `g = lambda t: ...`: lowered as a function of its own
            return self.assign(node.targets[0].target, node.value, pos)
        if isinstance(node, cst.AnnAssign):
            return [] if node.value is None else self.assign(node.target, node.value, pos)
        if isinstance(node, cst.AugAssign):
            op = AUGOPS.get(type(node.operator))
            if op is None:
                raise self.unsupported(f"augmented assignment `{type(node.operator).__name__}`", node)
            joined = self.list_join(node.target, node.value, pos, aug=True) if op == "+" else None
            if joined is not None:
                return joined
            pre: list[ir.Stmt] = []
            target = self.target(node.target)
            value = self.value(node.value, pre)
            return pre + [ir.Assign([target], [value], aug=op, pos=pos)]
        if isinstance(node, cst.Expr):
            return self.expr_stmt(node, pos)
        if isinstance(node, cst.Return):
            pre = []
            value = None if node.value is None else self.value(node.value, pre)
            return pre + [ir.Return(value, pos=pos)]
        if isinstance(node, cst.Break):
            return [ir.Break(pos=pos)]
        if isinstance(node, cst.Continue):
            return [ir.Continue(pos=pos)]
        if isinstance(node, cst.Pass):
            return []
        if isinstance(node, cst.Assert):
            pre = []
            test = self.value(node.test, pre)
            msg = None if node.msg is None else self.value(node.msg, pre)
            return pre + [ir.ExprStmt(test, kind="assert", msg=msg, pos=pos)]
        if isinstance(node, cst.Raise):
            exc = ir.Const(None) if node.exc is None else self.expr(node.exc)
            return [ir.ExprStmt(exc, kind="raise", pos=pos)]
        if isinstance(node, cst.Del):
            var = self.dict_var(node.target.value) if isinstance(node.target, cst.Subscript) else None
            if var is not None:
                raise self.dict_write(var, node)
            return self.delete(node)
        if isinstance(node, cst.Global):
            raise self.unsupported("a `global` statement", node,
                                   "return the value instead of writing a global.")
        if isinstance(node, cst.Nonlocal):
            raise self.unsupported("a `nonlocal` statement", node,
                                   "return the value instead of writing an enclosing variable.")
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            if any(stmt is node for _, stmt in self.local_imports.values()):
                return []  # its names resolve like module-level ones (desugar.py)
            raise self.unsupported("an import inside a block of the function", node,
                                   "import at module level, or at the top of the function body.")
        if isinstance(node, cst.Del):
            return self.delete(node)
        raise self.unsupported(f"the statement `{type(node).__name__}`", node)

    def compound(self, node) -> list[ir.Stmt]:
        pos = self.pos(node)
        if isinstance(node, cst.If):
            pre: list[ir.Stmt] = []
            test = self.value(node.test, pre)
            orelse = []
            if isinstance(node.orelse, cst.If):
                orelse = self.compound(node.orelse)
            elif isinstance(node.orelse, cst.Else):
                orelse = self.block(node.orelse.body.body)
            return pre + [ir.If(test, self.block(node.body.body), orelse, pos=pos)]
        if isinstance(node, cst.For):
            return self.for_loop(node, pos)
        if isinstance(node, cst.While):
            if node.orelse is not None:
                raise self.unsupported("`while ... else`", node.orelse)
            test = self.expr(node.test)  # evaluated by the forward sweep alone: kept as written
            if any(isinstance(e, ir.Call) and isinstance(e.func, ir.UserFn) for e in ir.subexprs(test)):
                raise self.unsupported("a call to a user function in a while condition", node.test,
                                       "compute the condition in a variable before the loop "
                                       "and at the end of the body.")
            return [ir.While(test, self.block(node.body.body), pos=pos)]
        if isinstance(node, cst.FunctionDef):
            if id(node) in self.local_defs:
                return []  # lowered as a function of its own
            raise self.unsupported("a function defined inside a block", node,
                                   "define it at the top level of the function's body, or at module level.")
        if isinstance(node, cst.ClassDef):
            raise self.unsupported("a class definition", node, "define it at module level.")
        if isinstance(node, cst.With):
            raise self.unsupported("a `with` block", node,
                                   "move the with block out of the differentiated function.")
        if isinstance(node, (cst.Try,)) or type(node).__name__ == "TryStar":
            raise self.unsupported("a `try` block", node,
                                   "move the error handling out of the differentiated function.")
        raise self.unsupported(f"the statement `{type(node).__name__}`", node)

    def for_loop(self, node, pos) -> list[ir.Stmt]:
        if node.asynchronous is not None:
            raise self.unsupported("`async for`", node)
        unrolled = self.dict_loop(node, pos)
        if unrolled is not None:
            return unrolled
        if node.orelse is not None:
            raise self.unsupported("`for ... else`", node.orelse)
        if not isinstance(node.target, cst.Name) or self.loop_kind(node.iter) in ("enumerate", "zip"):
            writes = assigned_in(node.body)
            return self.index_loop(node.target, node.iter, lambda: self.block(node.body.body), pos, writes)
        target = ir.Name(node.target.value, pos=self.pos(node.target))
        body = self.block(node.body.body)
        it, reverse, limit = node.iter, False, None
        pre: list[ir.Stmt] = []
        # generated reverse loops: reversed(range(a, b, c)[:trips]), and the range(...)[:trips]
        # of their own reverse
        if isinstance(it, cst.Call) and self.resolve_callee(it.func) is reversed and len(it.args) == 1 \
                and it.args[0].keyword is None and not it.args[0].star:
            it, reverse = it.args[0].value, True
        if isinstance(it, cst.Subscript) and len(it.slice) == 1 and isinstance(it.slice[0].slice, cst.Slice):
            part = it.slice[0].slice
            if part.lower is None and part.step is None and part.upper is not None:
                it, limit = it.value, self.value(part.upper, pre)
        if isinstance(it, cst.Call) and self.resolve_callee(it.func) is range:
            if it.args and any(a.keyword is not None or a.star for a in it.args) or not 1 <= len(it.args) <= 3:
                raise self.unsupported("this form of range()", it)
            args = [self.value(a.value, pre) for a in it.args]
            if len(args) == 1:
                args = [ir.Const(0), args[0]]
            if len(args) == 2:
                args.append(ir.Const(1))
            return pre + [ir.ForRange(target, args, body, reverse=reverse, limit=limit, pos=pos)]
        if reverse or limit is not None:
            raise self.unsupported("this loop (s2sgrad reverses `reversed(range(...))` and "
                                   "`range(...)[:n]` only)", node.iter,
                                   "loop over range(...) and index the sequence.")
        pre = []
        seq = self.value(it, pre)
        if not isinstance(seq, ir.Name):
            name = ir.Name(self.fresh("items"), pos=self.pos(it))
            pre.append(ir.Assign([name], [seq], pos=self.pos(it)))
            seq = name
        return pre + [ir.ForEach(target, seq, body, pos=pos)]

    def assign(self, target_node, value_node, pos) -> list[ir.Stmt]:
        joined = self.list_join(target_node, value_node, pos, aug=False)
        if joined is not None:
            return joined
        pre: list[ir.Stmt] = []
        if isinstance(target_node, (cst.Tuple, cst.List)):
            targets = [self.target(el.value) for el in target_node.elements]
            if isinstance(value_node, (cst.Tuple, cst.List)) and len(value_node.elements) == len(targets):
                values = [self.value(el.value, pre) for el in value_node.elements]
                return pre + [ir.Assign(targets, values, pos=pos)]
            value = self.expr(value_node)
            if _is_unit_call(value):
                value = self.call_args(value, pre)
                if not all(isinstance(t, ir.Name) for t in targets):
                    raise self.unsupported("unpacking a call's result into list elements", target_node)
                return pre + [ir.CallAssign(targets, True, value, pos=pos)]
            value = self.value_from(value, pre)
            values = [ir.Subscript(value, ir.Const(k), pos=value.pos) for k in range(len(targets))]
            if not isinstance(value, ir.Name):
                tmp = ir.Name(self.fresh("packed"))
                pre.append(ir.Assign([tmp], [value], pos=pos))
                values = [ir.Subscript(tmp, ir.Const(k)) for k in range(len(targets))]
            return pre + [ir.Assign(targets, values, pos=pos)]
        entries = self.dict_entries(value_node)
        if entries is not None:
            if not isinstance(target_node, cst.Name):
                raise self.unsupported("a dict stored other than in a variable of its own", target_node,
                                       "assign it to a variable: `d = {...}`.")
            return self.dict_assign(target_node.value, entries, target_node, pos)
        target = self.target(target_node)
        value = self.expr(value_node)
        if _is_pop(value):  # v = tape.pop(): a tape of generated code
            return [ir.Pop(value.func.value, into=target, pos=pos)]
        if _is_unit_call(value) and isinstance(target, ir.Name):
            return pre + [ir.CallAssign([target], False, self.call_args(value, pre), pos=pos)]
        if isinstance(value, ir.IfExp) and isinstance(target, ir.Name) and not _constant_branches(value):
            return pre + self.if_exp_stmt(target, value, pre, pos)
        # y[i] = np.sum(x), x = np.mean(x, axis=0): the primitive gets a variable of its own,
        # so its rule can read both its operand and its result
        top = registry.rule_of_call(value) is None or (
            isinstance(target, ir.Name) and target.id not in ir.names_in(value))
        return pre + [ir.Assign([target], [self.value_from(value, pre, top=top)], pos=pos)]

    def expr_stmt(self, node, pos) -> list[ir.Stmt]:
        v = node.value
        if isinstance(v, cst.Call) and self._is_add_at(v.func):
            return self.add_at_stmt(v, pos)
        if isinstance(v, cst.Call) and isinstance(v.func, cst.Attribute) and v.func.attr.value == "append" \
                and isinstance(v.func.value, cst.Name) and v.func.value.value in self.locals:
            if len(v.args) != 1:
                raise self.unsupported("append with other than one argument", v)
            pre: list[ir.Stmt] = []
            value = self.value(v.args[0].value, pre)
            return pre + [ir.Append(ir.Name(v.func.value.value), value, pos=pos)]
        if isinstance(v, cst.Call) and isinstance(v.func, cst.Attribute) and v.func.attr.value == "pop" \
                and isinstance(v.func.value, cst.Name) and v.func.value.value in self.locals and not v.args:
            return [ir.Pop(ir.Name(v.func.value.value), pos=pos)]
        if isinstance(v, (cst.Yield, cst.Await)):
            raise self.unsupported("`yield`" if isinstance(v, cst.Yield) else "`await`", v)
        if isinstance(v, (cst.SimpleString, cst.ConcatenatedString, cst.Ellipsis)):
            return []
        pre = []
        value = self.value_from(self.expr(v), pre, top=True)
        self._refuse_writing_call(value, v)
        return pre + [ir.ExprStmt(value, pos=pos)]

    def _is_add_at(self, func) -> bool:
        """`np.add.at`: numpy's unbuffered in-place addition."""
        if not (isinstance(func, cst.Attribute) and func.attr.value == "at"
                and isinstance(func.value, cst.Attribute) and func.value.attr.value == "add"
                and isinstance(func.value.value, cst.Name)):
            return False
        try:
            module = self.resolve_callee(func.value.value)
        except Exception:  # not a name s2sgrad can resolve: not np.add.at
            return False
        return module is np

    def add_at_stmt(self, node: cst.Call, pos) -> list[ir.Stmt]:
        """np.add.at(y, index, v) into a local array y: y[index] += v with repeated indices
        adding up, the statement generated code already reverses (runtime add_at)."""
        args = node.args
        if len(args) != 3 or any(a.keyword or a.star for a in args) or not isinstance(args[0].value, cst.Name) \
                or args[0].value.value not in self.locals:
            raise self.unsupported("`np.add.at` other than np.add.at(y, index, values) into a local array y",
                                   node, "write np.add.at(y, index, values) with y a variable of the function.")
        pre: list[ir.Stmt] = []
        index = self.value(args[1].value, pre)
        value = self.value(args[2].value, pre)
        call = ir.Call(ir.Lib("runtime", "add_at"), [ir.Name(args[0].value.value), index, value])
        return pre + [ir.ExprStmt(call, pos=pos)]

    def _refuse_writing_call(self, e: ir.Expr, node) -> None:
        """A call with no rule and no source, kept for its effect (np.copyto(out, x),
        a compiled helper filling `out`): s2sgrad cannot see whether it writes into the
        variables it is given, so it is refused rather than treated as a constant."""
        if not (isinstance(e, ir.Call) and isinstance(e.func, ir.Foreign)) or e.func.obj in EFFECT_ONLY_CALLS:
            return
        given = sorted(set().union(*(ir.names_in(a) for a in e.args + [v for _, v in e.kwargs])))
        if given:
            raise self.unsupported(
                f"calling `{self.src_of(node.func)}` (no derivative rule, no Python source) for its "
                f"effect on `{given[0]}`", node,
                "s2sgrad cannot see whether it writes into its arguments: assign what it computes "
                "instead (`out = x * x` rather than `np.copyto(out, x * x)`), or give the function a "
                "rule with s2sgrad.custom_derivative.")

    # ------------------------------------------------------------------ expressions
    def target(self, node) -> ir.Expr:
        if isinstance(node, cst.Name):
            if node.value in self.dicts or node.value in self.const_names:
                what = self.what(node.value) if node.value in self.dicts else "loop variable over a dict's keys"
                raise self.unsupported(f"rebinding the {what} `{node.value}` to something else", node,
                                       "give the new value a name of its own.")
            self.plain_names.add(node.value)
            return ir.Name(node.value, pos=self.pos(node))
        if isinstance(node, cst.Subscript) and self.dict_var(node.value) is not None:
            raise self.dict_write(node.value.value, node)
        if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) \
                and node.value.value not in self.locals:
            raise self.unsupported(
                f"writing into `{node.value.value}`, a global or a closure's variable", node,
                "s2sgrad reads globals and closure values as constants and never writes them: "
                "pass the array as an argument and return what the function computes.")
        if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name):
            return ir.Subscript(ir.Name(node.value.value, pos=self.pos(node.value)),
                                self.index(node), pos=self.pos(node))
        if isinstance(node, cst.Attribute):
            raise self.unsupported(f"writing the attribute `{self.src_of(node)}`", node,
                                   "s2sgrad reads objects' attributes but never writes them: "
                                   "return the value instead.")
        raise self.unsupported(f"assignment to `{self.src_of(node)}`", node,
                               "assign to a variable or to an element `xs[i]` of a list variable.")

    def value(self, node, pre: list) -> ir.Expr:
        """An expression with user calls and conditional expressions pulled into `pre`."""
        return self.value_from(self.expr(node), pre)

    def value_from(self, e: ir.Expr, pre: list, top: bool = False) -> ir.Expr:
        """`e` with user calls, conditional expressions and foreign calls pulled into `pre`.

        A foreign call (random.random(), time.time()) may give another value each time:
        held in a variable, the reverse sweep reads the value the forward sweep used.
        `top` is set for a statement's whole right-hand side, already its own statement.
        """
        if isinstance(e, _Unlowered):
            if isinstance(e.node, cst.Call):
                return self.sum_of(e.node, pre, e.pos)
            return self.comprehension(e.node, pre, e.pos)
        if _is_pop(e):  # d_x += d_xs.pop(): the pop is a statement of its own
            name = ir.Name(self.fresh(e.func.value.id), pos=e.pos)
            pre.append(ir.Pop(e.func.value, into=name, pos=e.pos))
            return name
        if isinstance(e, ir.Call) and isinstance(e.func, ir.Foreign) and not top:
            e.args = [self.value_from(a, pre) for a in e.args]
            e.kwargs = [(k, self.value_from(v, pre)) for k, v in e.kwargs]
            name = ir.Name(self.fresh(e.func.name.split(".")[-1]), pos=e.pos)
            pre.append(ir.Assign([name], [e], pos=e.pos))
            return name
        rule = registry.rule_of_call(e)
        if rule is not None:
            # an array primitive is a statement of its own, on named operands (keyword
            # ones too: np.sum(a=x * x) gets an adjoint for x * x as np.sum(x * x) does)
            self._refuse_arguments_no_rule_takes(rule, e)
            e.args = [self.operand(a, pre) for a in e.args]
            e.kwargs = [(k, self.operand(v, pre)) for k, v in e.kwargs]
            if top:
                return e
            base = "matmul" if e.method == "@" else (e.method or e.func.attr.split(".")[-1])
            name = ir.Name(self.fresh(base if base != "T" else "transposed"), pos=e.pos)
            pre.append(ir.Assign([name], [e], pos=e.pos))
            return name
        if _is_unit_call(e):
            call = self.call_args(e, pre)
            base = e.func.key.__name__ if isinstance(e.func, ir.UserFn) else e.func.name
            if not base.isidentifier():  # a lambda's "<lambda>"
                base = "lambda_value"
            name = ir.Name(self.fresh(base), pos=e.pos)
            pre.append(ir.CallAssign([name], False, call, pos=e.pos))
            return name
        if isinstance(e, ir.IfExp) and not _constant_branches(e):
            name = ir.Name(self.fresh("choice"), pos=e.pos)
            pre += self.if_exp_stmt(name, e, pre, e.pos)
            return name
        if isinstance(e, (ir.BoolOp, ir.IfExp)):
            return e  # short-circuit operands are evaluated in place
        for field_name in ("left", "right", "operand", "value", "index"):
            if hasattr(e, field_name) and isinstance(getattr(e, field_name), ir.Expr):
                setattr(e, field_name, self.value_from(getattr(e, field_name), pre))
        for field_name in ("args", "elts", "comparators"):
            if hasattr(e, field_name):
                setattr(e, field_name, [self.value_from(a, pre) for a in getattr(e, field_name)])
        if isinstance(e, ir.Compare):
            e.left = self.value_from(e.left, pre)
        if isinstance(e, ir.Subscript) and not isinstance(e.value, (ir.Name, ir.Subscript, ir.Attr)) \
                and ir.names_in(e.value):
            # np.sin(x)[:, None]: the indexed value gets a name, so its adjoint has one
            name = ir.Name(self.fresh("arg"), pos=e.value.pos)
            pre.append(ir.Assign([name], [e.value], pos=e.value.pos))
            e.value = name
        return e

    def _refuse_arguments_no_rule_takes(self, rule, e: ir.Call) -> None:
        """A primitive's rule declares the parameters it handles; an argument for any other
        (np.sum's where= and initial=, reshape's order=) would be ignored: refused."""
        unknown = array_core.argument_not_taken(rule, e)
        if unknown is not None:
            shown = f"np.{rule.attr}" if rule.module == "numpy" else f"{rule.module}.{rule.attr}"
            raise UnsupportedSyntaxError(
                f"{unknown} of `{shown}` is not supported in a differentiated function", e.pos,
                f"s2sgrad's rule for {shown} takes {', '.join(rule.params)}; compute the same "
                f"without it, or give the call a rule with s2sgrad.custom_derivative.")

    def operand(self, e: ir.Expr, pre: list) -> ir.Expr:
        """An array primitive's operand: a variable, an element, or a constant; anything
        computed gets a variable of its own, whose adjoint the primitive's rule adds to."""
        if isinstance(e, ir.Call) and e.method == "T" and _is_atom(e.args[0]):
            return e  # x @ W.T reads as written
        e = self.value_from(e, pre)
        if isinstance(e, (ir.ListExpr, ir.TupleExpr)):
            e.elts = [self.operand(x, pre) for x in e.elts]
            return e
        if _is_atom(e) or not ir.names_in(e):
            return e
        name = ir.Name(self.fresh("arg"), pos=e.pos)
        pre.append(ir.Assign([name], [e], pos=e.pos))
        return name

    def if_exp_stmt(self, target: ir.Name, e: ir.IfExp, pre: list, pos) -> list[ir.Stmt]:
        """`t = a if c else b` as an if statement, so only the taken branch is evaluated."""
        test = self.value_from(e.test, pre)
        body_pre, orelse_pre = [], []
        body = self.value_from(e.body, body_pre)
        orelse = self.value_from(e.orelse, orelse_pre)
        return [ir.If(test, body_pre + [ir.Assign([target], [body], pos=pos)],
                      orelse_pre + [ir.Assign([target], [orelse], pos=pos)], pos=pos)]

    def _specialised_call(self, call: ir.Call, node) -> ir.Call:
        """A user function's call with the functions and objects it is passed (_Bound)
        taken out of its arguments: the callee is a stand-in with those bound (reach.py)."""
        callee = call.func.key
        values = [a for a in call.args + [v for _, v in call.kwargs] if isinstance(a, _Bound)]
        if values:
            sig = inspect.signature(callee, follow_wrapped=False)
            try:
                bound = sig.bind(*call.args, **dict(call.kwargs))
            except TypeError as exc:
                raise UnsupportedCallError(f"call to `{callee.__name__}`: {exc}", self.pos(node),
                                           "call it with arguments matching its parameters.") from None
            static = {k: v.value for k, v in bound.arguments.items() if isinstance(v, _Bound)}
            callee = reach.specialise(callee, static)
            kinds_of = {k: p.kind for k, p in sig.parameters.items()}
            args = [v for k, v in bound.arguments.items() if k not in static
                    and kinds_of[k] is inspect.Parameter.POSITIONAL_ONLY]
            kwargs = [(k, v) for k, v in bound.arguments.items() if k not in static
                      and kinds_of[k] is not inspect.Parameter.POSITIONAL_ONLY]
            call = ir.Call(ir.UserFn(callee), args, kwargs)
        self.callees.append((callee, self.pos(node)))
        return call

    def call_args(self, call: ir.Call, pre: list) -> ir.Call:
        """Bind a user call's arguments to the callee's parameters, positionally."""
        if isinstance(call.func, ir.CustomFn):
            callee = call.func.rule
            sig = callee.signature()
        else:
            callee = call.func.key
            sig = inspect.signature(callee, follow_wrapped=False)
        try:
            bound = sig.bind(*call.args, **dict(call.kwargs))
        except TypeError as exc:
            raise UnsupportedCallError(f"call to `{callee.__name__}`: {exc}", call.pos,
                                       "call it with arguments matching its parameters.") from None
        args = []
        for name, param in sig.parameters.items():
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                extra = bound.arguments.get(name, ())
                args.append(self.value_from(ir.TupleExpr(list(extra), pos=call.pos), pre))
            elif name in bound.arguments:
                args.append(self.value_from(bound.arguments[name], pre))
            else:
                args.append(self.default_value(callee, name, param.default, call.pos))
        if isinstance(call.func, ir.UserFn):  # what a local function reads of the enclosing one
            args += [ir.Name(v) for v in getattr(callee, "__s2sgrad_lifted__", ())]
        return ir.Call(call.func, args, pos=call.pos)

    def specialized_call(self, callee, args, kwargs, node) -> ir.Call:
        """A call passing dicts (or keywords a `**kw` parameter gathers): to the callee
        lowered with those parameters flattened, given one argument per key."""
        sig = inspect.signature(callee, follow_wrapped=False)
        try:
            bound = sig.bind(*args, **dict(kwargs))
        except TypeError as exc:
            raise UnsupportedCallError(f"call to `{callee.__name__}`: {exc}", self.pos(node),
                                       "call it with arguments matching its parameters.") from None
        layout, flat = [], []
        for name, param in sig.parameters.items():
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                raise self.unsupported(f"calling `{callee.__name__}`, which takes `*{name}`", node,
                                       "list its parameters explicitly.")
            value = bound.arguments.get(name, {} if param.kind is inspect.Parameter.VAR_KEYWORD else None)
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                entries = {k: v for k, v in value.items()}
            elif isinstance(value, _DictRef):
                entries = {k: ir.Name(v, pos=value.pos) for k, v in self.dicts[value.var].items()}
                if value.var in self.records:  # its fields read as attributes there too
                    layout.append((name, Fields(entries)))
                    flat += entries.values()
                    continue
            elif name in bound.arguments:
                flat.append(value)
                continue
            else:
                flat.append(self.default_value(callee, name, param.default, self.pos(node)))
                continue
            ref = next((v for v in entries.values() if isinstance(v, _DictRef)), None)
            if ref is not None:
                raise UnsupportedSyntaxError(f"the dict `{ref.var}` inside the keyword arguments of "
                                             f"`{callee.__name__}`", ref.pos, "pass dicts one level deep.")
            layout.append((name, tuple(entries)))
            flat += entries.values()
        key = Specialized(callee, tuple(layout))
        self.callees.append((key, self.pos(node)))
        return ir.Call(ir.UserFn(key), flat)

    def default_value(self, callee, name, default, pos) -> ir.Expr:
        if isinstance(default, (int, float, bool, str, type(None))):
            return ir.Const(default)
        raise UnsupportedCallError(f"default value of parameter `{name}` of `{callee.__name__}` "
                                   f"is not a number", pos, "pass the argument explicitly.")

    def expr(self, node) -> ir.Expr:
        pos = self.pos(node)
        e = self._expr(node)
        e.pos = e.pos or pos
        return e

    def _expr(self, node) -> ir.Expr:
        if isinstance(node, cst.Name):
            return self.name(node)
        if isinstance(node, cst.Integer):
            return ir.Const(int(node.value.replace("_", ""), 0))
        if isinstance(node, cst.Float):
            return ir.Const(float(node.value.replace("_", "")))
        if isinstance(node, cst.SimpleString):
            return ir.Const(node.evaluated_value)
        if isinstance(node, (cst.ConcatenatedString, cst.FormattedString)):
            return self.raw_text(node)
        if isinstance(node, cst.BinaryOperation):
            joined = self.joined_literals(node)
            if joined is not None:
                return joined
            op = BINOPS.get(type(node.operator))
            if op is None:
                raise self.unsupported(f"the operator `{self.src_of(node.operator).strip()}`", node)
            if op == "@":  # an array primitive, printed back as the operator
                return ir.Call(ir.Lib("numpy", "matmul"), [self.expr(node.left), self.expr(node.right)],
                               method="@")
            return ir.BinOp(op, self.expr(node.left), self.expr(node.right))
        if isinstance(node, cst.UnaryOperation):
            op = {cst.Minus: "-", cst.Plus: "+", cst.Not: "not"}.get(type(node.operator))
            if isinstance(node.operator, cst.BitInvert):
                op = "~"  # not of a mask: no derivative flows through it
            operand = self.expr(node.expression)
            if op == "-" and isinstance(operand, ir.Const) and type(operand.value) in (int, float):
                return ir.Const(-operand.value)  # axis=-1 is a constant
            return ir.UnaryOp(op, operand)
        if isinstance(node, cst.BooleanOperation):
            op = "and" if isinstance(node.operator, cst.And) else "or"
            return ir.BoolOp(op, [self.expr(node.left), self.expr(node.right)])
        if isinstance(node, cst.Comparison) and len(node.comparisons) == 1 \
                and isinstance(node.comparisons[0].operator, (cst.In, cst.NotIn)) \
                and self.dict_var(node.comparisons[0].comparator) is not None:
            var = node.comparisons[0].comparator.value  # "b" in params: known from the keys
            found = self.dict_key(node.left, var) in self.dicts[var]
            return ir.Const(found if isinstance(node.comparisons[0].operator, cst.In) else not found)
        if isinstance(node, cst.Comparison):
            return ir.Compare(self.expr(node.left), [CMPOPS[type(c.operator)] for c in node.comparisons],
                              [self.expr(c.comparator) for c in node.comparisons])
        if isinstance(node, cst.IfExp):
            return ir.IfExp(self.expr(node.test), self.expr(node.body), self.expr(node.orelse))
        if isinstance(node, cst.Tuple):
            return ir.TupleExpr([self.element(el) for el in node.elements])
        if isinstance(node, cst.List):
            return ir.ListExpr([self.element(el) for el in node.elements])
        if isinstance(node, cst.Subscript) and self.dict_var(node.value) is not None:
            var = node.value.value
            if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
                raise self.unsupported(f"this index of the dict `{var}`", node, f"write `{var}[\"W\"]`.")
            return self.dict_entry(var, self.dict_key(node.slice[0].slice.value, var), node)
        if isinstance(node, cst.Call) and self.resolve_callee(node.func) is dict:
            raise UnsupportedCallError("`dict(...)` called other than as the value of a variable", self.pos(node),
                                       "assign it to a variable first: `d = dict(a=x)`, then read `d[\"a\"]`.")
        if isinstance(node, cst.Dict):
            raise self.unsupported("a dict built other than as the value of a variable", node,
                                   "assign it to a variable first: `d = {...}`, then read `d[\"a\"]`.")
        if isinstance(node, cst.Subscript):
            return ir.Subscript(self.expr(node.value), self.index(node))
        if isinstance(node, cst.Ellipsis):
            return ir.Const(Ellipsis)
        if isinstance(node, cst.Attribute):
            return self.attribute(node)
        if isinstance(node, cst.Call):
            return self.call(node)
        if isinstance(node, (cst.Yield,)):
            raise self.unsupported("`yield` (a generator)", node,
                                   "collect the values in a list and return a number computed from it.")
        if isinstance(node, cst.Await):
            raise self.unsupported("`await`", node)
        if isinstance(node, cst.Lambda):
            raise self.unsupported("a lambda inside a larger expression", node,
                                   "assign it to a name first (`g = lambda t: ...`) and call that.")
        if isinstance(node, (cst.ListComp, cst.GeneratorExp)):
            return _Unlowered(node)  # lowered by value_from, where its loop has a place
        if isinstance(node, (cst.SetComp, cst.DictComp)):
            what = "set" if isinstance(node, cst.SetComp) else "dict"
            raise self.unsupported(f"a {what} comprehension", node,
                                   "build a list (a list comprehension, or a for loop with appends) instead.")
        if isinstance(node, cst.NamedExpr):
            raise self.unsupported("an assignment expression `:=`", node)
        raise self.unsupported(f"the expression `{self.src_of(node)}`", node)

    def raw_text(self, node) -> ir.Raw:
        """An f-string (for print or raise), kept as written; the names it reads must be local."""
        reads = set()

        class Names(cst.CSTVisitor):
            def visit_Name(self, n):
                reads.add(n.value)

        node.visit(Names())
        for n in reads & (set(self.dicts) | set(self.const_names)):
            raise self.unsupported(f"the dict `{n}` or a loop variable over a dict's keys in an f-string",
                                   node, "print its entries: `params[\"W\"]`, one at a time.")
        for n in reads - self.locals:
            found, value = self.lookup(n)
            if not found:
                raise UndefinedNameError(f"name `{n}` is not defined", self.pos(node))
            if not isinstance(value, (types.ModuleType, types.BuiltinFunctionType)):
                raise self.unsupported(f"a global name `{n}` inside an f-string", node,
                                       "read it into a local variable first.")
        return ir.Raw(self.src_of(node), frozenset(reads & self.locals))

    def element(self, el) -> ir.Expr:
        if isinstance(el, cst.StarredElement):
            raise self.unsupported("unpacking with `*`", el)
        return self.expr(el.value)

    def index(self, node: cst.Subscript) -> ir.Expr:
        items = []
        for el in node.slice:
            if isinstance(el.slice, cst.Slice):
                parts = [None if p is None else self.expr(p)
                         for p in (el.slice.lower, el.slice.upper, el.slice.step)]
                items.append(ir.Slice(*parts, pos=self.pos(el)))
                continue
            if el.slice.star is not None:
                raise self.unsupported("unpacking with `*` in an index", el)
            items.append(self.expr(el.slice.value))
        return items[0] if len(items) == 1 else ir.TupleExpr(items)

    def src_of(self, node) -> str:
        return self.wrapper.module.code_for_node(node)

    # ------------------------------------------------------------------ names
    def local_name(self, n: str) -> str:
        """The variable a name of the source stands for (a comprehension's own: a fresh one)."""
        return self.renames.get(n, n)

    def is_local(self, n: str) -> bool:
        return n in self.locals or n in self.renames

    def name(self, node: cst.Name) -> ir.Expr:
        n = node.value
        if n in self.const_names:  # the key of an unrolled loop over a dict
            return ir.Const(self.const_names[n])
        if n in self.dicts:
            raise self.dict_whole(n, node)
        if self.is_local(n):
            return ir.Name(self.local_name(n))
        if n in self.local_imports:
            self.imported_before_use(n, node)
        if n in ("True", "False", "None"):
            return ir.Const({"True": True, "False": False, "None": None}[n])
        if n in self.local_functions:
            return ir.UserFn(self.local_functions[n])
        if n in self.static:
            self.nonlocals.add(n)
            return self.bound_value(self.static[n], n, node)
        found, value = self.lookup(n)
        if not found:
            raise UndefinedNameError(f"name `{n}` is not defined", self.pos(node))
        return self.from_value(value, n, node)

    def bound_value(self, value, path: str, node) -> ir.Expr:
        """IR for a value read through a name bound to a call's value, or an attribute of
        an object (`self.N`, `p.W`): numbers and arrays are constants, read live like
        globals; functions are callees; anything else is refused."""
        if reach.is_plain_value(value):
            origin = f"{self.pyfunc.__qualname__}:{path}"
            return ir.Global(path.replace(".", "_"), value, origin)
        if callable(value) and not isinstance(value, type):
            return self.from_value(value, path.split(".")[-1], node)
        raise self.unsupported(
            f"reading `{self.src_of(node)}` (a {type(value).__name__}) as a value", node,
            "s2sgrad reads numbers and arrays from objects (`self.N`, `p.W`) and calls their "
            "functions and methods; pass anything else as an argument of its own.")

    def reach_value(self, node):
        """(value, path) when the expression names a function or object the code is
        specialised on (reach.py), or an attribute of such an object; else None."""
        if isinstance(node, cst.Name):
            n = node.value
            if n in self.local_functions:
                return self.local_functions[n], n
            if n in self.static:
                self.nonlocals.add(n)
                return self.static[n], n
            if n in self.locals:
                return None
            found, value = resolve_nonlocal(self.pyfunc, n)
            if found and reach.is_static(value):
                self.nonlocals.add(n)
                return value, n
            return None
        if isinstance(node, cst.Attribute):
            base = self.reach_value(node.value)
            if base is None or not reach.is_static(base[0]) or isinstance(base[0], type):
                return None
            obj, path = base
            attr = node.attr.value
            if not hasattr(obj, attr):
                raise UndefinedNameError(f"`{self.src_of(node.value)}` ({type(obj).__name__}) has no "
                                         f"attribute `{attr}`", self.pos(node))
            path = f"{path}.{attr}"
            self.nonlocals.add(path)
            return getattr(obj, attr), path
        return None

    def _depend_on_module_attribute(self, module, node: cst.Attribute) -> None:
        """`config.K`, `helpers.h` read from a module of the user's: the generated code
        depends on what the attribute holds now (a rebound `config.K = 3.0` regenerates it,
        as a rebound global does); NumPy's and math's attributes are their functions."""
        name = module.__name__
        if name == "math" or name == "numpy" or name.startswith("numpy."):
            return
        path = self.src_of(node)
        if all(part.isidentifier() for part in path.split(".")) and not self.is_local(path.split(".")[0]):
            self.nonlocals.add(path)

    def _unbound_parameter(self, node) -> str | None:
        """The parameter an expression's base names, when the function calls it or reads
        an attribute of it: its value is needed to generate the code (a call brings it)."""
        while isinstance(node, cst.Attribute):
            node = node.value
        if self.guessing and isinstance(node, cst.Name) and node.value in {q.name.value for q in self._params()} \
                and node.value not in self.static:
            return node.value
        return None

    def _needs_value(self, param: str, node):
        return CallValueNeededError(
            f"`{self.src_of(node)}` uses the parameter `{param}` as a function or object: the "
            f"derivative is generated for the value passed", self.pos(node),
            f"pass a function (a def, lambda, functools.partial, method or numba function) or an "
            f"object whose number and array attributes the code reads as `{param}`; the code is "
            f"generated at the first call.")

    def lookup(self, n: str):
        if n in self.local_imports:
            return True, self.local_imports[n][0]
        self.nonlocals.add(n)
        return resolve_nonlocal(self.pyfunc, n)

    def from_value(self, value, name: str, node, origin: str | None = None) -> ir.Expr:
        """IR for a resolved non-local value."""
        if isinstance(value, CustomDerivative):  # before anything else: it may wrap anything
            return ir.CustomFn(value, name)
        if isinstance(value, types.ModuleType):
            return _ModuleRef(value)
        rule = registry.scalar_rule(value)
        if rule is not None:
            return rule.lib
        prim = registry.primitive_rule(value)
        if prim is not None:
            return prim.lib
        if value is stop_gradient:
            return ir.Lib("s2sgrad", "stop_gradient")
        generated = getattr(value, "__s2sgrad_function__", None)
        if callable(generated):
            # g = s2sgrad.grad(f) called in the function: its generated code, a function like
            # any other (for the argument kinds of g's latest call)
            return ir.UserFn(generated())
        if value is list:  # list(xs): a copy of a list (generated vjps copy a cotangent)
            return ir.Lib("builtins", "list")
        if callable(value) and value in FORBIDDEN_CALLS:
            raise self.unsupported(FORBIDDEN_CALLS[value], node,
                                   "s2sgrad must see the code it differentiates.")
        if is_user_function(unwrap(value)):
            return ir.UserFn(unwrap(value))
        py_func = reach.numba_py_func(value)
        if py_func is not None and is_user_function(py_func):  # @njit: differentiated through its source
            return ir.UserFn(py_func)
        if callable(value):
            return ir.Foreign(value, name)
        if origin is None:
            closure = name in self.pyfunc.__code__.co_freevars
            origin = f"{self.pyfunc.__qualname__}.<closure>" if closure else self.pyfunc.__module__
        return ir.Global(name, value, origin)

    def attribute(self, node: cst.Attribute) -> ir.Expr:
        if isinstance(node.value, cst.Name) and node.value.value in self.records:
            return self.record_field(node)
        hit = self.reach_value(node)
        if hit is not None:  # self.N, p.W: an attribute of an object the code is specialised on
            return self.bound_value(hit[0], hit[1], node)
        base = self.expr(node.value)
        if isinstance(base, _ModuleRef):
            attr = node.attr.value
            if not hasattr(base.module, attr):
                raise UndefinedNameError(f"module `{base.module.__name__}` has no attribute `{attr}`",
                                         self.pos(node))
            value = getattr(base.module, attr)
            if base.module.__name__ in ("math", "numpy") and isinstance(value, float):
                return ir.Lib(base.module.__name__, attr)
            self._depend_on_module_attribute(base.module, node)
            if value is None:  # np.newaxis
                return ir.Const(None)
            out = self.from_value(value, attr, node, origin=base.module.__name__)
            if isinstance(out, ir.Foreign):
                out.display = self.src_of(node)  # np.sort, as the user wrote it
            return out
        attr = node.attr.value
        if attr in ARRAY_ATTRIBUTES:
            return ir.Attr(base, attr)
        if attr == "T":
            return ir.Call(ir.Lib("numpy", "transpose"), [base], method="T", prop=True)
        if isinstance(node.value, cst.Name) and self._unbound_parameter(node.value):
            raise self._needs_value(node.value.value, node)
        raise self.unsupported(f"the attribute access `{self.src_of(node)}`", node,
                               "s2sgrad knows the array attributes .T, .shape, .ndim, .size and .dtype.")

    def method_call(self, node: cst.Call) -> ir.Expr:
        """`x.sum(axis=0)`: the NumPy function with x first, printed back as a method."""
        name = node.func.attr.value
        var = self.dict_var(node.func.value)
        if var is not None:
            return self.dict_method(var, name, node)
        if isinstance(node.func.value, cst.Name) and node.func.value.value in self.records:
            var = node.func.value.value
            raise self.unsupported(f"calling `{var}.{name}()`, a method of the dataclass `{var}` taken as wrt",
                                   node.func, f"only its fields are read (`{var}.W`): compute what "
                                              f"`.{name}()` does from them in the function.")
        param = self._unbound_parameter(node.func.value)
        if param is not None and name not in registry.METHOD_RULES:
            raise self._needs_value(param, node.func)
        base = self.expr(node.func.value)
        args, kwargs = self.call_arguments(node)
        if name in registry.METHOD_RULES:
            rule = registry.METHOD_RULES[name]
            lib = ir.Lib("numpy", "clip") if rule is None else rule.lib
            call = ir.Call(lib, [base] + args, kwargs, method=name)
            if name == "astype" and not _float_dtype(args[0] if args else dict(kwargs).get("dtype")):
                # a cast to an integer or boolean type: no derivative flows through it
                return ir.Call(ir.Lib("s2sgrad", "stop_gradient"), [call])
            return call
        if name == "pop" and isinstance(base, ir.Name) and not node.args:
            return ir.Call(ir.Attr(base, "pop"), [])  # lowered to ir.Pop by value_from
        hint = "write it with a NumPy function s2sgrad knows, or use stop_gradient."
        if name == "append":
            hint = "append as a statement of its own: `xs.append(v)`."
        raise self.unsupported(f"the method call `.{name}()`", node.func, hint)

    def dict_method(self, var: str, name: str, node: cst.Call) -> ir.Expr:
        """`d.get("k", default)`: the entry, or the default where the dict has no such key."""
        if name == "get" and 1 <= len(node.args) <= 2 and not any(a.keyword or a.star for a in node.args):
            key = self.dict_key(node.args[0].value, var)
            if key in self.dicts[var]:
                return self.dict_entry(var, key, node)
            return self.expr(node.args[1].value) if len(node.args) == 2 else ir.Const(None)
        if name in ("update", "pop", "popitem", "setdefault", "clear"):
            raise self.dict_write(var, node)
        if name in ("keys", "values", "items"):
            raise self.unsupported(f"`{var}.{name}()` other than as what a for loop runs over", node,
                                   f"loop over it: `for k, v in {var}.items():` (unrolled, one copy of the "
                                   f"body per key).")
        raise self.unsupported(f"the dict method `.{name}()`", node.func,
                               f"read the entries by constant key: `{var}[\"W\"]`.")

    def call_arguments(self, node: cst.Call, statics: bool = False):
        """The call's positional and keyword arguments as IR; `statics`: (a user function's
        call) a function or object passed is a _Bound value its callee is specialised on."""
        args, kwargs = [], []
        for a in node.args:
            if a.star == "**":  # the entries of a dict, as keyword arguments
                kwargs += list(self.splatted(a.value).items())
                continue
            if a.star:
                raise self.unsupported("`*args` in a call", a, "pass the arguments one by one.")
            var = self.passed_var(a.value)
            if var is not None:  # a dict passed on whole: only to a function of the user's
                (kwargs.append((a.keyword.value, _DictRef(var, self.pos(a.value)))) if a.keyword is not None
                 else args.append(_DictRef(var, self.pos(a.value))))
                continue
            hit = self.reach_value(a.value) if statics else None
            if hit is not None and reach.is_static(hit[0]):
                self._refuse_lifted_value(hit[0], a.value)
                if a.keyword is None:
                    args.append(_Bound(hit[0]))
                else:
                    kwargs.append((a.keyword.value, _Bound(hit[0])))
                continue
            if a.keyword is not None:
                value = self.expr(a.value)
                if a.keyword.value == "out" and not (isinstance(value, ir.Const) and value.value is None):
                    raise self.unsupported(
                        "`out=`: a call writing its result into an argument", a,
                        "assign the result instead: `y = np.multiply(a, b)` rather than "
                        "`np.multiply(a, b, out=y)`.")
                kwargs.append((a.keyword.value, value))
            else:
                args.append(self.expr(a.value))
        return args, kwargs

    def _names_module(self, node) -> bool:
        """Whether an expression node names a module (np, np.linalg, scipy.special)."""
        if isinstance(node, cst.Name):
            if node.value in self.local_imports and not self.is_local(node.value):
                return isinstance(self.local_imports[node.value][0], types.ModuleType)
            return not self.is_local(node.value) and isinstance(
                resolve_nonlocal(self.pyfunc, node.value)[1], types.ModuleType)
        if isinstance(node, cst.Attribute) and self._names_module(node.value):
            return isinstance(self.expr(node), _ModuleRef)
        return False

    def resolve_callee(self, node):
        """The Python object a call's function expression names, if it is not local."""
        if isinstance(node, cst.Name) and not self.is_local(node.value):
            return self.lookup(node.value)[1]
        return None

    def _refuse_lifted_value(self, fn, node) -> None:
        if getattr(fn, "__s2sgrad_lifted__", ()):
            raise self.unsupported(
                f"passing `{self.src_of(node)}`, a local function reading the variables "
                f"{', '.join(fn.__s2sgrad_lifted__)} of the enclosing function, as a value", node,
                "call it in the function that defines it, or pass those variables as its arguments.")

    def call(self, node: cst.Call) -> ir.Expr:
        hit = self.reach_value(node.func)
        target = reach.callable_target(hit[0]) if hit is not None else None
        if target is not None:  # a partial, a bound method (self.helper), a numba function
            fn, pre_args, pre_kwargs = target
            args, kwargs = self.call_arguments(node, statics=True)
            given = {k for k, _ in kwargs}
            call = ir.Call(ir.UserFn(fn), [_Bound(v) for v in pre_args] + args,
                           [(k, _Bound(v)) for k, v in pre_kwargs.items() if k not in given] + kwargs)
            return self._specialised_call(call, node)
        if hit is None and not isinstance(node.func, cst.Attribute):
            param = self._unbound_parameter(node.func)
            if param is not None:
                raise self._needs_value(param, node.func)
            if isinstance(node.func, cst.Name) and node.func.value in {q.name.value for q in self._params()}:
                raise self.unsupported(f"calling the parameter `{node.func.value}`, which was not passed "
                                       f"a function", node.func,
                                       "pass a def, lambda, functools.partial, method or numba function.")
        if isinstance(node.func, cst.Attribute) and not self._names_module(node.func.value) and hit is None:
            return self.method_call(node)
        if self.resolve_callee(node.func) is len and len(node.args) == 1 and self.dict_var(node.args[0].value):
            return ir.Const(len(self.dicts[node.args[0].value.value]))
        func = self.expr(node.func)
        if self.is_sum_call(func):
            return _Unlowered(node)  # a loop adding the items (desugar.py), put in by value_from
        args, kwargs = self.call_arguments(node, statics=isinstance(func, ir.UserFn))
        names = [k for k, _ in kwargs]
        if len(set(names)) < len(names):
            twice = next(k for k in names if names.count(k) > 1)
            raise UnsupportedCallError(f"`{self.src_of(node.func)}` given the keyword argument `{twice}` twice",
                                       self.pos(node), "pass each keyword argument once.")
        if isinstance(func, ir.UserFn) and _takes_dicts(func.key, args, kwargs):
            return self.specialized_call(func.key, args, kwargs, node)
        ref = next((a for a in args + [v for _, v in kwargs] if isinstance(a, _DictRef)), None)
        if ref is not None:
            raise UnsupportedSyntaxError(
                f"the {self.what(ref.var)} `{ref.var}` passed to `{self.src_of(node.func)}` is not supported "
                f"in a differentiated function", ref.pos,
                "pass its entries (`params[\"W\"]`, `p.W`); a whole dict or dataclass goes only to a "
                "function of yours.")
        if isinstance(func, ir.UserFn):
            return self._specialised_call(ir.Call(func, args, kwargs), node)
        ufunc = _numpy_ufunc(func)
        if ufunc is not None and len(args) > ufunc.nin:
            raise self.unsupported(f"`{self.src_of(node)}`: a ufunc's positional `out` argument", node,
                                   "assign the result instead: `y = np.multiply(a, b)`.")
        if isinstance(func, ir.Foreign) and isinstance(func.obj, type) and issubclass(func.obj, BaseException):
            pass  # constructing an exception to raise
        elif isinstance(func, _ModuleRef) or not isinstance(func, (ir.Lib, ir.UserFn, ir.CustomFn, ir.Foreign)):
            raise self.unsupported(f"calling `{self.src_of(node.func)}`", node.func)
        return ir.Call(func, args, kwargs)


ARRAY_ATTRIBUTES = ("shape", "ndim", "size", "dtype")
# calls with no rule that may be statements of their own: they write into no argument
EFFECT_ONLY_CALLS = (print,)


def _target_names(t) -> list[str]:
    if isinstance(t, cst.Name):
        return [t.value]
    if isinstance(t, (cst.Tuple, cst.List)):
        return [n for el in t.elements for n in _target_names(el.value)]
    return []


def _numpy_ufunc(func: ir.Expr):
    """The NumPy ufunc a library callee names (np.multiply), or None."""
    if not (isinstance(func, ir.Lib) and func.module == "numpy"):
        return None
    obj = np
    for part in func.attr.split("."):
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, np.ufunc) else None


def _is_unit_call(e: ir.Expr) -> bool:
    """A call the differentiator reverses as a unit: a user function, or one with custom rules."""
    return isinstance(e, ir.Call) and isinstance(e.func, (ir.UserFn, ir.CustomFn))


def _is_pop(e) -> bool:
    """`xs.pop()` of a local list (tapes and list adjoints of generated code)."""
    return isinstance(e, ir.Call) and isinstance(e.func, ir.Attr) and e.func.attr == "pop" \
        and isinstance(e.func.value, ir.Name) and not e.args


def _float_dtype(e) -> bool:
    """Whether an astype argument names a floating type (np.float32, float, "float64")."""
    if isinstance(e, ir.Lib):
        return e.attr in ("float", "float64", "float32", "float16", "longdouble")
    if isinstance(e, ir.Const) and isinstance(e.value, str):
        return e.value.startswith("float") or e.value in ("f", "d", "f4", "f8")
    return False


class _Unlowered(ir.Expr):
    """A comprehension or sum(...) call: lowered by value_from into a loop before the
    statement that uses it."""

    def __init__(self, node):
        self.node = node
        self.pos = None


class _Bound(ir.Expr):
    """A function or object passed to a user function: bound in the callee's stand-in,
    never an argument of the generated call (lowering only)."""

    def __init__(self, value):
        self.value = value
        self.pos = None
class _DictRef(ir.Expr):
    """A dict variable passed whole to a call: the callee is lowered with it flattened."""

    def __init__(self, var: str, pos):
        self.var, self.pos = var, pos


def _takes_dicts(callee, args, kwargs) -> bool:
    """Whether a user call passes a dict, or calls a function with a `**kw` parameter."""
    if any(isinstance(a, _DictRef) for a in args + [v for _, v in kwargs]):
        return True
    kinds = {p.kind for p in inspect.signature(callee, follow_wrapped=False).parameters.values()}
    # a `*args, **kwargs` wrapper is refused at its own line, when it is lowered
    return inspect.Parameter.VAR_KEYWORD in kinds and inspect.Parameter.VAR_POSITIONAL not in kinds


class _ModuleRef(ir.Expr):
    """A module named in the source (math, np): only valid as the base of an attribute."""

    def __init__(self, module):
        self.module = module
        self.pos = None


def _is_atom(e: ir.Expr) -> bool:
    """A variable, an element of one, or its transpose: x, xs[i], x[1:3, None], W.T."""
    if isinstance(e, ir.Name):
        return True
    if isinstance(e, ir.Call) and e.method == "T":
        return _is_atom(e.args[0])
    return isinstance(e, ir.Subscript) and isinstance(e.value, ir.Name) and \
        not (ir.names_in(e.index) & {e.value.id})


def _constant_branches(e: ir.IfExp) -> bool:
    return isinstance(e.body, ir.Const) and isinstance(e.orelse, ir.Const)
