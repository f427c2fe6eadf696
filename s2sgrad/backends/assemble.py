"""Builds one generated module: the requested derivative, the adjoints of the helper
functions it calls, copies of those helpers, and the constants they read.

This is where the passes meet: frontend -> controlflow -> kinds -> reverse or forward
-> optimize -> (tapes, for compiled targets; lending and loop_locals, for numba) -> the target's printer.
"""
from __future__ import annotations

import builtins
import dataclasses
import importlib
import inspect
import math
import types

import numpy as np

from .. import backends, custom, frontend, ir
from ..analysis import kinds
from ..frontend import controlflow
from ..frontend.dicts import Fields
from ..runtime import helpers as runtime
from ..transforms import axes_views, batched, common, forward, lending, loop_locals, optimize, reverse, tapes
from ..transforms.naming import GENERATED_CODE_NAMES, Namer, rename_reserved

LITERAL_TYPES = (int, float, bool, str, type(None), complex)


class ModuleBuilder:
    """`param_kinds`: the kinds of the main function's arguments (analysis/kinds.py); None
    guesses them from the body.  A dict argument's kind names its keys: the main function
    is lowered with one parameter per key (frontend/dicts.py), and `param_kinds` then
    holds the kinds of those; `argument_kinds` the kinds per argument, dicts whole."""

    def __init__(self, pyfunc, param_kinds: dict | None = None, param_types: dict | None = None,
                 keeps_values: bool = False):
        # parameters passed a function or object: the code is specialised on it (reach.py)
        static = {p: k.value.obj for p, k in (param_kinds or {}).items() if kinds.is_static(k)}
        layout = None if param_kinds is None else {
            p: (Fields if k.by_attribute else tuple)(key for key, _ in k.fields)
            for p, k in param_kinds.items() if kinds.is_dict(k)}
        self.main, self.functions = frontend.load_program(pyfunc, static, guessing=param_kinds is None,
                                                          layout=layout)
        # "bool" | "int" | "float" of the main function's number arguments: the element
        # types of typed tapes (tapes.py) for the compiled targets
        self.param_types = self._flattened(param_types or {})
        # numba code keeps the values of calls in loops on its tapes (kept_values.py)
        self.keeps_values = keeps_values
        self.entry: str | None = None  # the derivative asked for (not a helper's)
        self.rooms: tuple[str, list[str]] | None = None  # its work in lent rooms, their dtypes
        self._tape_info: dict = {}   # id of an emitted function -> (variable kinds, number types)
        self.namer = Namer(self._user_names())
        self.lowered: dict = {}
        self.fn_names: dict = {}     # user function (or custom wrapper) -> printed name
        self.vjps: dict = {}         # (user function, active args, kinds) -> printed name
        self.scalar_vjps: set = set()  # those pulling back a number (its cotangent shares no memory)
        self.jvps: dict = {}         # (user function, active args, kinds, batched) -> printed name
        self.emitted: list[ir.Function] = []
        self._kinds: dict = {}       # (user function, argument kinds) -> variable kinds
        self.rule_names: dict = {}   # (custom wrapper, "reverse" | "forward") -> printed name
        self.rule_copies: list = []  # rule functions copied into the module
        self.outside: dict = {}      # printed name -> object imported or passed in (no source)
        self._no_source: set = set()  # ids of callables whose source cannot be copied
        main = self.lower(self.main.pyfunc)
        # guessed kinds give `.source` before a call; a call always brings the real ones
        self.guessed = param_kinds is None
        if param_kinds is None:
            guess = kinds.guess_params(main)
            self.param_kinds = {p: guess[q] for p, q in zip(self.main.params, main.params)}
            self.argument_kinds = {p: kinds.dict_of((key, self.param_kinds[flat]) for key, flat in entries)
                                   for p, entries in self.main.dict_params.items()}
            self.argument_kinds.update({p: k for p, k in self.param_kinds.items() if p in self._user_params()})
        else:
            self.argument_kinds = param_kinds
            self.param_kinds = self._flattened({p: dict(k.fields) if kinds.is_dict(k) else k
                                                for p, k in param_kinds.items()})

    def _user_params(self) -> list[str]:
        return list(inspect.signature(self.main.pyfunc, follow_wrapped=False).parameters)

    def _flattened(self, per_argument: dict) -> dict:
        """Per parameter of the lowered main function: a dict argument's value (a dict or a
        tuple in key order) spread over the parameters of its keys."""
        out = {}
        for p, v in per_argument.items():
            entries = self.main.dict_params.get(p)
            if entries is None:
                out[p] = v
            else:
                values = v if isinstance(v, dict) else dict(zip((key for key, _ in entries), v))
                out.update({flat: values[key] for key, flat in entries})
        return out

    def flat_wrt(self, names) -> list[str]:
        """wrt as parameters of the lowered main function: a dict, all its keys' ones."""
        dicts = self.main.dict_params
        return [flat for n in names for flat in ([f for _, f in dicts[n]] if n in dicts else [n])]

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

    def variable_kinds(self):
        """(user function, kinds of its variables) for every call's argument kinds so far."""
        return [(pyfunc, var_kinds) for (pyfunc, _), var_kinds in self._kinds.items()]

    def result_kind(self, pyfunc, arg_kinds):
        """The kind of what pyfunc returns for arguments of these kinds."""
        return self._result_kind(pyfunc, arg_kinds)

    def _result_kind(self, pyfunc, arg_kinds):
        if isinstance(pyfunc, custom.CustomDerivative):
            if self._load_source(pyfunc.fn):  # from its source, like a user function
                return self._result_kind(pyfunc.fn, arg_kinds)
            if any(k is None for k in arg_kinds):
                return None  # not known yet: the fixpoint comes back
            return kinds.SCALAR if all(k == kinds.SCALAR for k in arg_kinds) else kinds.ANY_ARRAY
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
            self.lowered[pyfunc] = rename_reserved(controlflow.lower_jumps(fn, self.namer.fresh), self.namer)
        return self.lowered[pyfunc]

    def _lowered_names(self, pyfunc, names) -> list[str]:
        """The lowered function's names of the user's parameters `names` (naming.py may
        have renamed a parameter called like something generated code needs: `np`)."""
        table = dict(zip(self.functions[pyfunc].params, self.lower(pyfunc).params))
        return [table.get(n, n) for n in names]

    # ------------------------------------------------------------------ requests
    def _request(self, spec, pyfunc, arg_kinds):
        """(pyfunc, its lowered IR, its variables' kinds, spec with lowered wrt names) of a
        derivative asked for: of the main function with its arguments' kinds by default."""
        wrt = spec.wrt if pyfunc else self.flat_wrt(spec.wrt)
        pyfunc = pyfunc or self.main.pyfunc
        fn = self.lower(pyfunc)
        if arg_kinds is None:
            arg_kinds = [self.param_kinds[p] for p in self.functions[pyfunc].params]
        spec = dataclasses.replace(spec, wrt=self._lowered_names(pyfunc, wrt))
        return pyfunc, fn, self.kinds_of(pyfunc, arg_kinds), spec

    def derivative(self, spec: reverse.AdjointSpec, pyfunc=None, arg_kinds=None) -> ir.Function:
        pyfunc, fn, var_kinds, spec = self._request(spec, pyfunc, arg_kinds)
        mode = reverse.ReverseMode(fn, spec, self.namer, self, var_kinds)
        fn = optimize.optimize(mode.run())
        var_kinds = mode.kinds  # with the variables the passes added (invariant_calls.py's tables)
        self._note_dicts(fn, spec.helper)
        self.emitted.append(fn)
        if not spec.helper:
            self.entry = fn.name  # what api.py calls
        types = dict(zip(self._lowered_names(pyfunc, self.param_types), self.param_types.values()))
        self._tape_info[id(fn)] = (var_kinds, types if not spec.helper else {})
        return fn

    def _note_dicts(self, fn: ir.Function, helper: bool) -> None:
        """The main function's docstring says which parameters hold a dict's entries."""
        if helper or not self.main.dict_params:
            return
        table = dict(zip(self.main.params, self.lower(self.main.pyfunc).params))
        for var, entries in self.main.dict_params.items():
            if var in self.main.record_params:
                spread = ", ".join(f"{table.get(flat, flat)} = {var}.{key}" for key, flat in entries)
                fn.doc += f"\n\n    The dataclass {var} is passed one field a parameter: {spread}."
                continue
            spread = ", ".join(f"{table.get(flat, flat)} = {var}[{key!r}]" for key, flat in entries)
            fn.doc += f"\n\n    The dict {var} is passed one entry a parameter: {spread or 'no entries'}."

    def vjp_of(self, pyfunc, active_args: list[int], arg_kinds: list) -> str:
        key = (pyfunc, tuple(active_args), tuple(arg_kinds))
        if key not in self.vjps:
            fn = self.lower(pyfunc)
            name = self.namer.fresh(f"vjp_{fn.name}")
            self.vjps[key] = name
            if kinds.is_scalar(self._result_kind(pyfunc, arg_kinds)):
                self.scalar_vjps.add(name)
            spec = reverse.AdjointSpec([fn.params[i] for i in active_args], "vjp", name, helper=True)
            self.derivative(spec, pyfunc, arg_kinds)
        return self.vjps[key]

    def tangent(self, spec: forward.TangentSpec, pyfunc=None, arg_kinds=None) -> ir.Function:
        pyfunc, fn, var_kinds, spec = self._request(spec, pyfunc, arg_kinds)
        mode = batched.BatchedForwardMode if spec.batched else forward.ForwardMode
        fn = mode(fn, spec, self.namer, self, var_kinds).run()
        fn = optimize.optimize(fn)
        self._note_dicts(fn, spec.helper)
        self.emitted.append(fn)
        return fn

    def jvp_of(self, pyfunc, active_args: list[int], arg_kinds: list, batched: bool) -> str:
        """The name of the tangent function of a callee, generated on first request."""
        key = (pyfunc, tuple(active_args), tuple(arg_kinds), batched)
        if key not in self.jvps:
            fn = self.lower(pyfunc)
            name = self.namer.fresh(f"jvp_{fn.name}")
            self.jvps[key] = name
            spec = forward.TangentSpec([fn.params[i] for i in active_args], name, batched, helper=True)
            self.tangent(spec, pyfunc, arg_kinds)
        return self.jvps[key]

    def custom_rule_name(self, wrapper, which: str, spelled: str | None = None) -> str:
        """The printed name of a custom_derivative's "reverse" or "forward" rule, which the
        module then defines (a copy of its source) or imports or is passed.  `spelled`:
        how the call names the function, for a rule without a name of its own (a lambda)."""
        key = (wrapper, which)
        if key not in self.rule_names:
            rule = wrapper.rule(which)
            if rule is None:
                raise custom.missing_rule(wrapper, which, name=spelled)
            base = getattr(rule, "__name__", "")
            if not base.isidentifier():  # a lambda
                base = f"{spelled or custom.name_of(wrapper)}_{which}"
            if rule in self.fn_names:
                name = self.fn_names[rule]
            elif self._load_source(rule):
                name = self.fn_names[rule] = self._claim(base)
                self.rule_copies.append(rule)
            else:
                name = self._claim(base)
                self.outside[name] = rule
            self.rule_names[key] = name
        return self.rule_names[key]

    def _load_source(self, pyfunc) -> bool:
        """Whether pyfunc is a def whose source s2sgrad reads (then lowered, with its callees)."""
        if pyfunc in self.functions:
            return True
        if id(pyfunc) in self._no_source or not isinstance(pyfunc, types.FunctionType):
            return False
        try:
            _, functions = frontend.load_program(pyfunc)
        except Exception:  # noqa: BLE001 - outside the subset or unreadable: use the object
            self._no_source.add(id(pyfunc))
            return False
        for key, fn in functions.items():
            self.functions.setdefault(key, fn)
        return True

    def _claim(self, base: str) -> str:
        """A module-level name for a custom function or rule: its own unless already used."""
        used = set(self.fn_names.values()) | {f.name for f in self.emitted} | set(self.outside) \
            | (self.namer.taken - {self.main.name})
        name = base if base not in used and base not in dir(builtins) else self.namer.fresh(base)
        self.namer.reserve([name])
        return name

    def _custom_primal(self, e: ir.CustomFn):
        """Name the function under a custom_derivative; the copy to make of it, if any."""
        wrapper = e.rule
        fn = wrapper.fn
        if wrapper not in self.fn_names:
            if self._load_source(fn):
                self.fn_names[wrapper] = self.fn_names.get(fn) or self._claim(e.name)
                self.fn_names[fn] = self.fn_names[wrapper]
            else:
                self.fn_names[wrapper] = self._claim(e.name)
                self.outside[self.fn_names[wrapper]] = fn
        return fn if fn in self.functions else None

    # ------------------------------------------------------------------ printing
    def source(self, header: str, target: str = "python", ieee: bool = False) -> tuple[str, dict]:
        """The module's text and the objects it needs that cannot be written as literals.

        For the compiled targets ("numba") tapes of numbers become typed arrays
        (tapes.py), every function is compiled, and `self.line_positions` maps each
        line of the text (1-based) to the user statement it came from.  `ieee`: the
        python target printed with NumPy's math (python.IEEEPrinter), for the points
        where Python's floats raise.
        """
        functions = self.functions_for(target)
        global_names, inject, constant_lines = self._globals(functions)
        printer_class = backends.module("python").IEEEPrinter if ieee else backends.printer(target)
        printer = printer_class(global_names, self.fn_names)
        if inject:  # numba's disk cache would keep the objects of the first load
            printer.cache = False
        modules = self._modules_used(functions)
        lines = [f'"""{header}"""']
        if "math" in modules:
            lines.append("import math")
        helpers = self._helpers_used(functions, target)
        if "numpy" in modules or helpers or target != "python" or ieee:
            lines.append("import numpy as np")
        if target != "python":
            lines.append("import numba")
            compiled = _compiled_helpers()
            if any(h in compiled.OVERLOADS or h in compiled.VIEWS or h.startswith("np.") for h in helpers):
                lines.append("import numba.extending")
            lines += sorted({f"import {compiled.IMPORTS[h]}" for h in helpers if h in compiled.IMPORTS})
        for name in sorted(modules - {"math", "numpy", "builtins", "runtime", "s2sgrad"}):
            lines.append(f"import {name}")
        lines += constant_lines
        text = "\n".join(lines) + "\n"
        decorator = getattr(printer, "decorator", None)
        for name in helpers:
            text += "\n\n" + _helper_source(name, decorator)
        return self.print_functions(printer, functions, text), inject

    def functions_for(self, target: str) -> list[ir.Function]:
        """The module's functions: copies of the user functions called, then the derivatives
        (callees first); for a compiled target with typed tapes (tapes.py)."""
        emitted = self.emitted[::-1]
        if target != "python":
            emitted = [tapes.typed_tapes(fn, *self._tape_info.get(id(fn), ({}, {})), self.namer)
                       for fn in emitted]
        functions = self._primal_copies() + emitted
        if target == "numba":
            functions = lending.lend(functions, set(self.vjps.values()), self.scalar_vjps, self.namer)
            functions = [loop_locals.in_locals(fn, self.namer) for fn in functions]
            functions = [axes_views.as_views(fn) for fn in functions]
            functions = self._entry_in_rooms(functions)
        return functions

    def _entry_in_rooms(self, functions: list[ir.Function]) -> list[ir.Function]:
        """The functions, the entry's work in rooms its caller lends where it makes tapes
        (lending.in_rooms); `self.rooms` says which function that is and its rooms' types."""
        self.rooms = None
        out = []
        for fn in functions:
            lent = lending.in_rooms(fn, self.namer) if fn.name == self.entry else None
            if lent is None:
                out.append(fn)
                continue
            work, lender, dtypes = lent
            out += [work, lender]
            self.rooms = (work.name, dtypes)
        return out

    def print_functions(self, printer, functions, text: str) -> str:
        """`text` followed by the functions printed; for a compiled target's printer (one
        that has `positions`) `self.line_positions` maps each line to its user statement."""
        self.line_positions = {}
        for fn in functions:
            text += "\n\n"
            if hasattr(printer, "positions"):
                first = text.count("\n") + 1
                for k, pos in enumerate(printer.positions(fn)):
                    self.line_positions[first + k] = pos
            text += printer.function(fn)
        return text

    def globals_for(self, functions):
        """(printed names of globals, objects passed in at load, constant lines)."""
        return self._globals(functions)

    def _helpers_used(self, functions, target: str = "python") -> list[str]:
        """The runtime helpers the functions call (and those helpers call), in a fixed order."""
        used = {sub.attr for sub in _subexpressions(functions)
                if isinstance(sub, ir.Lib) and sub.module == "runtime"}
        if any((isinstance(s, ir.TapeReserve) and s.fresh is None) or (isinstance(s, ir.TapePush) and s.checked)
               for fn in functions for s in ir.walk_stmts(fn.body)):
            used.add("tape_reserve")  # how the numba printer makes room on a typed tape
        if any("unbroadcast(" in inspect.getsource(getattr(runtime, h)) for h in used if hasattr(runtime, h)):
            used.add("unbroadcast")
        names = list(runtime.__all__)
        if target != "python":
            compiled = _compiled_helpers()
            if any("unbroadcast(" in inspect.getsource(f) for h in used for f in compiled.OVERLOADS.get(h, [])):
                used.add("unbroadcast")  # an overload's text calls it (unbroadcast_directions')
            names += [h for h in compiled.COMPILED + compiled.VIEWS if h not in names]
            used |= {f"np.{sub.attr}" for sub in _subexpressions(functions) if isinstance(sub, ir.Lib)
                     and sub.module == "numpy" and sub.attr in compiled.NUMPY_OVERLOADS}
            names += [f"np.{name}" for name in compiled.NUMPY_OVERLOADS]
            if "np.flip" in used:
                used.add("swapaxes")  # flip_compiled's view of an axis
        return [h for h in names if h in used]

    def _primal_copies(self) -> list[ir.Function]:
        """Copies of the user functions the generated code calls, in dependency order."""
        needed, order = set(), []

        def need(pyfunc):
            if pyfunc not in needed:
                needed.add(pyfunc)
                visit([self.lower(pyfunc)])
                order.append(pyfunc)

        def visit(fns):
            for fn in fns:
                for s in ir.walk_stmts(fn.body):
                    if isinstance(s, ir.CallAssign) and isinstance(s.call.func, ir.UserFn):
                        need(s.call.func.key)
                    for e in ir.stmt_exprs(s):
                        for sub in ir.subexprs(e):
                            if isinstance(sub, ir.CustomFn) and self._custom_primal(sub) is not None:
                                need(sub.rule.fn)
                            elif isinstance(sub, ir.UserFn):  # called inside `a and f(x)`
                                need(sub.key)

        for rule in self.rule_copies:
            need(rule)
        visit(self.emitted)
        copies = []
        for pyfunc in order:
            fn = self.lower(pyfunc)
            if pyfunc not in self.fn_names:  # keep the user's name unless another function has it
                claimed = set(self.fn_names.values()) | {f.name for f in self.emitted} | GENERATED_CODE_NAMES
                self.fn_names[pyfunc] = fn.name if fn.name not in claimed else self.namer.fresh(fn.name)
            body = _return_last(list(fn.body), fn.result)
            copy_fn = ir.Function(self.fn_names[pyfunc], fn.params, fn.defaults, body,
                                  doc=f"Copy of {common.origin(fn)}.")
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
        for name, obj in self.outside.items():  # custom functions and rules without source
            imp = _import_line(obj, name)
            if imp:
                lines.append(imp)
            else:
                inject[name] = obj
                what = " ".join(str(part) for part in (
                    type(obj).__name__, getattr(obj, "__qualname__", getattr(obj, "__name__", None))) if part)
                module = getattr(obj, "__module__", None)
                lines.append(f"# {name}: {what}{f' from {module}' if module else ''}, passed in when loaded")
        return names, inject, lines

    def _modules_used(self, functions) -> set[str]:
        used = set()
        for sub in _subexpressions(functions):
            if isinstance(sub, ir.Lib):
                used.add(sub.module)
            if isinstance(sub, ir.Global) and isinstance(sub.value, np.generic):
                used.add("numpy")  # a NumPy scalar's literal is np.float64(3.0)
            if isinstance(sub, ir.Const) and isinstance(sub.value, float) and \
                    (math.isinf(sub.value) or math.isnan(sub.value)):
                used.add("math")
        return used


def _compiled_helpers():
    """runtime_numba, imported only where compiled code is generated (it imports numba)."""
    from ..runtime import numba as runtime_numba
    return runtime_numba


def _helper_source(name: str, decorator: str | None) -> str:
    """The text of a runtime helper in a generated module; for a compiled target, its
    compiled form (runtime/numba.py says which)."""
    if decorator is None:
        return inspect.getsource(getattr(runtime, name))
    compiled = _compiled_helpers()
    if name.startswith("np."):
        return inspect.getsource(compiled.NUMPY_OVERLOADS[name[3:]])
    if name in compiled.VIEWS:
        return "\n\n".join(inspect.getsource(f) for f in [getattr(compiled, name), getattr(compiled, name + "_compiled")])
    if name in compiled.OVERLOADS:
        return "\n\n".join(inspect.getsource(f) for f in [getattr(runtime, name)] + compiled.OVERLOADS[name])
    source = inspect.getsource(getattr(compiled if name in compiled.COMPILED else runtime, name))
    return decorator + "\n" + source


def _return_last(body: list, result: str) -> list:
    """The body, then `return result`; `result = v` last and only there becomes `return v`."""
    last = body[-1] if body else None
    if isinstance(last, ir.Assign) and not last.aug and len(last.targets) == 1 \
            and isinstance(last.targets[0], ir.Name) and last.targets[0].id == result \
            and result not in ir.assigned_names(body[:-1]) \
            and not any(result in ir.stmt_reads(s) for s in ir.walk_stmts(body)):
        return body[:-1] + [ir.Return(last.values[0], pos=last.pos)]
    return body + [ir.Return(ir.Name(result))]


def _subexpressions(functions):
    """Every expression of every statement of the functions, and of their parameters'
    defaults (`a=np.array([1.0, 2.0])`, `a=D0` need NumPy's import, D0's binding)."""
    for fn in functions:
        for default in fn.defaults.values():
            yield from ir.subexprs(default)
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
