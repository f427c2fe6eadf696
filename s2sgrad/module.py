"""Builds one generated module: the requested derivative, the adjoints of the helper
functions it calls, copies of those helpers, and the constants they read.

This is where the passes meet: frontend -> controlflow -> reverse -> optimize -> codegen.
"""
from __future__ import annotations

import importlib
import inspect
import math

from . import codegen, controlflow, forward, frontend, ir, kinds, optimize, reverse, runtime
from .naming import Namer

LITERAL_TYPES = (int, float, bool, str, type(None), complex)


class ModuleBuilder:
    """`param_kinds`: the kinds of the main function's arguments (kinds.py); None
    guesses them from the body."""

    def __init__(self, pyfunc, param_kinds: dict | None = None):
        self.main, self.functions = frontend.load_program(pyfunc)
        self.namer = Namer(self._user_names())
        self.lowered: dict = {}
        self.fn_names: dict = {}     # user function -> printed name
        self.vjps: dict = {}         # (user function, active args, kinds) -> printed name
        self.jvps: dict = {}         # (user function, active args, kinds, batched) -> printed name
        self.emitted: list[ir.Function] = []
        self._kinds: dict = {}       # (user function, argument kinds) -> variable kinds
        main = self.lower(pyfunc)
        # guessed kinds give `.source` before a call; a call always brings the real ones
        self.guessed = param_kinds is None
        self.param_kinds = param_kinds or kinds.guess_params(main)

    def kinds_of(self, pyfunc, arg_kinds) -> dict:
        """The kind of every variable of a user function called with arguments of these kinds."""
        fn = self.lower(pyfunc)
        key = (pyfunc, tuple(arg_kinds))
        if key not in self._kinds:
            params = {p: (k if k is not None else kinds.ANY_ARRAY) for p, k in zip(fn.params, arg_kinds)}
            for p in fn.params[len(arg_kinds):]:
                params[p] = kinds.SCALAR
            self._kinds[key] = kinds.KindInference(fn, params, self._result_kind).run()
        return self._kinds[key]

    def _result_kind(self, pyfunc, arg_kinds):
        fn = self.lower(pyfunc)
        return self.kinds_of(pyfunc, arg_kinds).get(fn.result) or kinds.ANY_ARRAY

    def _user_names(self) -> set[str]:
        names = {"math", "np"}
        for fn in self.functions.values():
            names.add(fn.name)
            names |= set(fn.params) | ir.assigned_names(fn.body)
            for s in ir.walk_stmts(fn.body):
                for e in ir.stmt_exprs(s):
                    for sub in ir.subexprs(e):
                        if isinstance(sub, (ir.Global, ir.Foreign)):
                            names.add(sub.name)
        return names

    def lower(self, pyfunc) -> ir.Function:
        if pyfunc not in self.lowered:
            fn = self.functions[pyfunc]
            self.lowered[pyfunc] = controlflow.lower_jumps(fn, self.namer.fresh)
        return self.lowered[pyfunc]

    # ------------------------------------------------------------------ requests
    def derivative(self, spec: reverse.AdjointSpec, pyfunc=None, arg_kinds=None) -> ir.Function:
        pyfunc = pyfunc or self.main.pyfunc
        fn = self.lower(pyfunc)
        if arg_kinds is None:
            arg_kinds = [self.param_kinds[p] for p in fn.params]
        var_kinds = self.kinds_of(pyfunc, arg_kinds)
        fn = reverse.ReverseMode(fn, spec, self.namer, self, var_kinds).run()
        fn = optimize.optimize(fn)
        self.emitted.append(fn)
        return fn

    def vjp_of(self, pyfunc, active_args: list[int], arg_kinds: list) -> str:
        key = (pyfunc, tuple(active_args), tuple(arg_kinds))
        if key not in self.vjps:
            fn = self.lower(pyfunc)
            name = self.namer.fresh(f"vjp_{fn.name}")
            self.vjps[key] = name
            spec = reverse.AdjointSpec([fn.params[i] for i in active_args], "vjp", name, helper=True)
            self.derivative(spec, pyfunc, arg_kinds)
        return self.vjps[key]

    def tangent(self, spec: forward.TangentSpec, pyfunc=None, arg_kinds=None) -> ir.Function:
        pyfunc = pyfunc or self.main.pyfunc
        fn = self.lower(pyfunc)
        if arg_kinds is None:
            arg_kinds = [self.param_kinds[p] for p in fn.params]
        var_kinds = self.kinds_of(pyfunc, arg_kinds)
        fn = forward.ForwardMode(fn, spec, self.namer, self, var_kinds).run()
        fn = optimize.optimize(fn)
        self.emitted.append(fn)
        return fn

    def jvp_of(self, pyfunc, active_args: list[int], arg_kinds: list, batched: bool) -> str:
        """The name of the tangent function of a callee, generated on first request."""
        key = (pyfunc, tuple(active_args), tuple(arg_kinds), batched)
        if key not in self.jvps:
            fn = self.lower(pyfunc)
            name = self.namer.fresh(f"jvp_{fn.name}")
            self.jvps[key] = name
            spec = forward.TangentSpec([fn.params[i] for i in active_args], name, batched)
            self.tangent(spec, pyfunc, arg_kinds)
        return self.jvps[key]

    # ------------------------------------------------------------------ printing
    def source(self, header: str) -> tuple[str, dict]:
        """The module's text and the objects it needs that cannot be written as literals."""
        primals = self._primal_copies()
        functions = primals + self.emitted[::-1]
        global_names, inject, constant_lines = self._globals(functions)
        printer = codegen.PythonPrinter(global_names, self.fn_names)
        modules = self._modules_used(functions)
        lines = [f'"""{header}"""']
        if "math" in modules:
            lines.append("import math")
        helpers = self._helpers_used(functions)
        if "numpy" in modules or helpers:
            lines.append("import numpy as np")
        for name in sorted(modules - {"math", "numpy", "builtins", "runtime", "s2sgrad"}):
            lines.append(f"import {name}")
        lines += constant_lines
        text = "\n".join(lines) + "\n"
        for name in helpers:
            text += "\n\n" + inspect.getsource(getattr(runtime, name))
        for fn in functions:
            text += "\n\n" + printer.function(fn)
        return text, inject

    def _helpers_used(self, functions) -> list[str]:
        """The runtime helpers the functions call (and those helpers call), in a fixed order."""
        used = {sub.attr for sub in _subexpressions(functions)
                if isinstance(sub, ir.Lib) and sub.module == "runtime"}
        if any("unbroadcast(" in inspect.getsource(getattr(runtime, h)) for h in used):
            used.add("unbroadcast")
        return [h for h in runtime.__all__ if h in used]

    def _primal_copies(self) -> list[ir.Function]:
        """Copies of the user functions the generated code calls, in dependency order."""
        needed, order = set(), []

        def visit(fns):
            for fn in fns:
                for s in ir.walk_stmts(fn.body):
                    if isinstance(s, ir.CallAssign) and s.call.func.key not in needed:
                        needed.add(s.call.func.key)
                        visit([self.lower(s.call.func.key)])
                        order.append(s.call.func.key)

        visit(self.emitted)
        copies = []
        for pyfunc in order:
            fn = self.lower(pyfunc)
            if pyfunc not in self.fn_names:  # keep the user's name unless another function has it
                claimed = set(self.fn_names.values()) | {f.name for f in self.emitted}
                self.fn_names[pyfunc] = fn.name if fn.name not in claimed else self.namer.fresh(fn.name)
            body = list(fn.body) + [ir.Return(ir.Name(fn.result))]
            copy_fn = ir.Function(self.fn_names[pyfunc], fn.params, fn.defaults, body,
                                  doc=f"Copy of {fn.name} ({_short(fn.file)}:{fn.line}).")
            copies.append(optimize.optimize(copy_fn))
        return copies

    def _globals(self, functions):
        names, inject, lines, seen = {}, {}, [], {}
        for sub in _subexpressions(functions):
            if isinstance(sub, ir.Global) and (sub.origin, sub.name) not in names:
                printed = sub.name if sub.name not in seen else self.namer.fresh(sub.name)
                seen[printed] = sub.value
                names[(sub.origin, sub.name)] = printed
                literal = _literal(sub.value)
                if literal is not None:
                    lines.append(f"{printed} = {literal}")
                else:
                    inject[printed] = sub.value
                    lines.append(f"# {printed}: {type(sub.value).__name__} from "
                                 f"{sub.origin}, passed in when loaded")
            elif isinstance(sub, ir.Foreign) and sub.name not in seen:
                seen[sub.name] = sub.obj
                imp = _import_line(sub.obj, sub.name)
                if imp:
                    lines.append(imp)
                else:
                    inject[sub.name] = sub.obj
        return names, inject, lines

    def _modules_used(self, functions) -> set[str]:
        used = set()
        for sub in _subexpressions(functions):
            if isinstance(sub, ir.Lib):
                used.add(sub.module)
            if isinstance(sub, ir.Const) and isinstance(sub.value, float) and \
                    (math.isinf(sub.value) or math.isnan(sub.value)):
                used.add("math")
        return used


def _subexpressions(functions):
    """Every expression of every statement of the functions."""
    for fn in functions:
        for s in ir.walk_stmts(fn.body):
            for e in ir.stmt_exprs(s):
                yield from ir.subexprs(e)


def _literal(value) -> str | None:
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        return None
    if isinstance(value, LITERAL_TYPES):
        return repr(value)
    if isinstance(value, tuple) and all(_literal(v) is not None for v in value):
        return repr(value)
    return None


def _import_line(obj, name: str) -> str | None:
    module, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qual or "." in qual or "<" in qual:
        return None
    try:
        if getattr(importlib.import_module(module), qual) is not obj:
            return None
    except Exception:
        return None
    return f"from {module} import {qual}" + (f" as {name}" if name != qual else "")


def _short(path: str) -> str:
    import os
    return os.path.basename(path)
