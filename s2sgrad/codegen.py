"""Printers: IR to Python source.

`PythonPrinter` prints expressions with the fewest parentheses that keep the tree's
meaning, and statements with four-space indentation.  Targets that need other spellings
(numba, CUDA) subclass it and override `_print_<Node>` methods or the FUNCTIONS table,
the way sympy's printers do.
"""
from __future__ import annotations

import math

from . import ir

# Python operator precedence, higher binds tighter.
PREC = {"ifexp": 1, "or": 2, "and": 3, "not": 4, "compare": 5,
        "|": 8, "^": 9, "&": 10,
        "+": 11, "-": 11, "*": 12, "/": 12, "//": 12, "%": 12, "@": 12,
        "unary": 13, "**": 14, "atom": 17}

MODULE_ALIASES = {"math": "math", "numpy": "np", "builtins": "", "runtime": ""}


class PythonPrinter:
    """Prints IR for the `python` target."""

    def __init__(self, global_names: dict | None = None, fn_names: dict | None = None):
        self.global_names = global_names or {}  # (origin, name) -> printed name
        self.fn_names = fn_names or {}          # python function (or custom wrapper) -> printed name

    # ------------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr, prec: int = 0) -> str:
        text, own = getattr(self, "_print_" + type(e).__name__)(e)
        return f"({text})" if own < prec else text

    def _print_Name(self, e):
        return e.id, PREC["atom"]

    def _print_Const(self, e):
        v = e.value
        if isinstance(v, float):
            if math.isinf(v):
                return ("-math.inf" if v < 0 else "math.inf"), (PREC["unary"] if v < 0 else PREC["atom"])
            if math.isnan(v):
                return "math.nan", PREC["atom"]
        if v is Ellipsis:
            return "...", PREC["atom"]
        text = repr(v)
        return text, (PREC["unary"] if text.startswith("-") else PREC["atom"])

    def _print_Global(self, e):
        return self.global_names.get((e.origin, e.name), e.name), PREC["atom"]

    def _print_Lib(self, e):
        alias = MODULE_ALIASES.get(e.module, e.module)
        return (f"{alias}.{e.attr}" if alias else e.attr), PREC["atom"]

    def _print_UserFn(self, e):
        return self.fn_names.get(e.key, e.key.__name__), PREC["atom"]

    def _print_CustomFn(self, e):
        return self.fn_names.get(e.rule, e.name), PREC["atom"]

    def _print_Foreign(self, e):
        return e.name, PREC["atom"]

    def _print_Ref(self, e):
        return e.name, PREC["atom"]

    def _print_Raw(self, e):
        return e.text, PREC["atom"]

    def _print_BinOp(self, e):
        p = PREC[e.op]
        if e.op == "**":  # right-associative; a unary minus on the left needs parentheses
            return f"{self.expr(e.left, p + 1)} ** {self.expr(e.right, PREC['unary'])}", p
        return f"{self.expr(e.left, p)} {e.op} {self.expr(e.right, p + 1)}", p

    def _print_UnaryOp(self, e):
        if e.op == "not":
            return f"not {self.expr(e.operand, PREC['not'])}", PREC["not"]
        return f"{e.op}{self.expr(e.operand, PREC['unary'])}", PREC["unary"]

    def _print_BoolOp(self, e):
        p = PREC[e.op]
        return f" {e.op} ".join(self.expr(v, p + 1) for v in e.values), p

    def _print_Compare(self, e):
        p = PREC["compare"]
        parts = [self.expr(e.left, p + 1)]
        for op, c in zip(e.ops, e.comparators):
            parts += [op, self.expr(c, p + 1)]
        return " ".join(parts), p

    def _print_Call(self, e):
        if isinstance(e.func, ir.Lib) and (e.func.module, e.func.attr) == ("s2sgrad", "stop_gradient"):
            # stop_gradient only matters to the differentiator; its value is its argument.
            arg = e.args[0]
            return getattr(self, "_print_" + type(arg).__name__)(arg)
        if e.method == "@":
            p = PREC["@"]
            return f"{self.expr(e.args[0], p)} @ {self.expr(e.args[1], p + 1)}", p
        if e.method is not None:  # x.sum(axis=0), x.T: as the user wrote it
            head = f"{self.expr(e.args[0], PREC['atom'])}.{e.method}"
            if e.prop:
                return head, PREC["atom"]
            args = [self.expr(a) for a in e.args[1:]] + [f"{k}={self.expr(v)}" for k, v in e.kwargs]
            return f"{head}({', '.join(args)})", PREC["atom"]
        args = [self.expr(a) for a in e.args] + [f"{k}={self.expr(v)}" for k, v in e.kwargs]
        return f"{self.expr(e.func, PREC['atom'])}({', '.join(args)})", PREC["atom"]

    def _print_Attr(self, e):
        return f"{self.expr(e.value, PREC['atom'])}.{e.attr}", PREC["atom"]

    def _print_Slice(self, e):
        parts = ["" if p is None else self.expr(p) for p in (e.lower, e.upper)]
        text = ":".join(parts)
        if e.step is not None:
            text += ":" + self.expr(e.step)
        return text, PREC["atom"]

    def _print_Subscript(self, e):
        index = self.expr(e.index)
        if isinstance(e.index, ir.TupleExpr) and e.index.elts:
            index = index[1:-1]
        return f"{self.expr(e.value, PREC['atom'])}[{index}]", PREC["atom"]

    def _print_IfExp(self, e):
        p = PREC["ifexp"]
        return f"{self.expr(e.body, p + 1)} if {self.expr(e.test, p + 1)} else {self.expr(e.orelse, p)}", p

    def _print_TupleExpr(self, e):
        inner = ", ".join(self.expr(x) for x in e.elts)
        return (f"({inner},)" if len(e.elts) == 1 else f"({inner})"), PREC["atom"]

    def _print_ListExpr(self, e):
        return "[" + ", ".join(self.expr(x) for x in e.elts) + "]", PREC["atom"]

    # ------------------------------------------------------------------ statements
    def block(self, stmts: list[ir.Stmt], indent: int) -> list[str]:
        lines: list[str] = []
        for s in stmts:
            lines += getattr(self, "_stmt_" + type(s).__name__)(s, indent)
        return lines or [" " * indent + "pass"]

    def _target(self, t) -> str:
        return self.expr(t)

    def _stmt_Assign(self, s, ind):
        pad = " " * ind
        if s.aug:
            return [f"{pad}{self._target(s.targets[0])} {s.aug}= {self.expr(s.values[0])}"]
        lhs = ", ".join(self._target(t) for t in s.targets)
        rhs = ", ".join(self.expr(v) for v in s.values)
        return [f"{pad}{lhs} = {rhs}"]

    def _stmt_CallAssign(self, s, ind):
        lhs = ", ".join(t.id for t in s.targets)
        if s.unpack and len(s.targets) == 1:
            lhs += ","
        return [f"{' ' * ind}{lhs} = {self.expr(s.call)}"]

    def _stmt_Append(self, s, ind):
        return [f"{' ' * ind}{s.target.id}.append({self.expr(s.value)})"]

    def _stmt_Pop(self, s, ind):
        if s.into is None:
            return [f"{' ' * ind}{s.target.id}.pop()"]
        return [f"{' ' * ind}{self._target(s.into)} = {s.target.id}.pop()"]

    def _stmt_ExprStmt(self, s, ind):
        pad = " " * ind
        if s.kind == "raise":
            return [f"{pad}raise {self.expr(s.expr)}"]
        if s.kind == "assert":
            msg = f", {self.expr(s.msg)}" if s.msg is not None else ""
            return [f"{pad}assert {self.expr(s.expr)}{msg}"]
        return [f"{pad}{self.expr(s.expr)}"]

    def _stmt_If(self, s, ind):
        pad = " " * ind
        lines = [f"{pad}if {self.expr(s.test)}:"] + self.block(s.body, ind + 4)
        orelse = s.orelse
        while len(orelse) == 1 and isinstance(orelse[0], ir.If) and orelse[0].orelse is not None:
            lines += [f"{pad}elif {self.expr(orelse[0].test)}:"] + self.block(orelse[0].body, ind + 4)
            orelse = orelse[0].orelse
        if orelse:
            lines += [f"{pad}else:"] + self.block(orelse, ind + 4)
        return lines

    def _range(self, s) -> str:
        args = s.args
        if len(args) == 3 and isinstance(args[2], ir.Const) and args[2].value == 1:
            args = args[:2]
        if len(args) == 2 and isinstance(args[0], ir.Const) and args[0].value == 0:
            args = args[1:]
        text = f"range({', '.join(self.expr(a) for a in args)})"
        if s.limit is not None:
            text += f"[:{self.expr(s.limit)}]"
        return f"reversed({text})" if s.reverse else text

    def _stmt_ForRange(self, s, ind):
        return [f"{' ' * ind}for {s.target.id} in {self._range(s)}:"] + self.block(s.body, ind + 4)

    def _stmt_ForEach(self, s, ind):
        return [f"{' ' * ind}for {s.target.id} in {s.seq.id}:"] + self.block(s.body, ind + 4)

    def _stmt_While(self, s, ind):
        return [f"{' ' * ind}while {self.expr(s.test)}:"] + self.block(s.body, ind + 4)

    def _stmt_Break(self, s, ind):
        return [" " * ind + "break"]

    def _stmt_Comment(self, s, ind):
        return [" " * ind + "# " + s.text]

    def _stmt_Return(self, s, ind):
        return [" " * ind + ("return" if s.value is None else f"return {self.expr(s.value)}")]

    # ------------------------------------------------------------------ functions
    def function(self, fn: ir.Function) -> str:
        return "\n".join(self.function_lines(fn)) + "\n"

    def function_lines(self, fn: ir.Function) -> list[str]:
        params = []
        for p in fn.params:
            params.append(f"{p}={self.expr(fn.defaults[p])}" if p in fn.defaults else p)
        lines = [f"def {fn.name}({', '.join(params)}):"]
        if fn.doc:
            lines.append(f'    """{fn.doc}"""')
        lines += self.block(fn.body, 4)
        return lines


def expr_source(e: ir.Expr) -> str:
    """An expression's text with default names: for keys and messages."""
    return PythonPrinter().expr(e)


class _Line(str):
    """A printed line that remembers the user statement it came from (for compile errors)."""
    pos = None


class NumbaPrinter(PythonPrinter):
    """Prints IR for the `numba` target: the same Python, compiled by numba.njit.

    Differences from Python: every function is decorated; reversed ranges become ranges
    with a negative step (numba has no `reversed`); typed tapes (tapes.py) are an array,
    a count and, before a for loop, a reservation of room.  Each printed line keeps the
    position of the statement it came from, so a numba compile error can point at the
    user's line.
    """

    cache = True  # off for a module holding objects passed in at load (module.py)

    @property
    def decorator(self) -> str:
        return f"@numba.njit(cache={self.cache})"

    def block(self, stmts, indent):
        lines: list[str] = []
        current = None  # a generated statement belongs to the user statement above it
        for s in stmts:
            current = s.pos or current
            for line in getattr(self, "_stmt_" + type(s).__name__)(s, indent):
                if not isinstance(line, _Line):
                    line = _Line(line)
                if line.pos is None:
                    line.pos = current
                lines.append(line)
        return lines or [" " * indent + "pass"]

    def _print_Call(self, e):
        if isinstance(e.func, ir.Lib) and (e.func.module, e.func.attr) == ("builtins", "float") \
                and len(e.args) == 1:
            return f"np.float64({self.expr(e.args[0])})", PREC["atom"]  # numba has no float(bool)
        if isinstance(e.func, ir.Lib) and (e.func.module, e.func.attr) == ("numpy", "linalg.norm"):
            # numba knows no ord='fro'; it is the default for matrices anyway
            fro = [a for a in e.args[1:] if isinstance(a, ir.Const) and a.value == "fro"]
            if fro:
                e = ir.Call(e.func, [a for a in e.args if a not in fro], e.kwargs, e.method, e.prop)
            if any(k == "ord" and isinstance(v, ir.Const) and v.value == "fro" for k, v in e.kwargs):
                e = ir.Call(e.func, e.args, [(k, v) for k, v in e.kwargs if k != "ord"], e.method, e.prop)
        return super()._print_Call(e)

    def function_lines(self, fn: ir.Function) -> list[str]:
        return [self.decorator] + super().function_lines(fn)

    def positions(self, fn: ir.Function) -> list:
        """The source position of each line `function(fn)` prints (None where unknown)."""
        out = []
        for line in self.function_lines(fn):  # a docstring may span lines
            out += [getattr(line, "pos", None)] * (line.count("\n") + 1)
        return out

    def _range(self, s) -> str:
        if not s.reverse and s.limit is None:
            return super()._range(s)
        args = list(s.args)
        a, b, step = (ir.Const(0), args[0], ir.Const(1)) if len(args) == 1 else \
            (args[0], args[1], args[2] if len(args) == 3 else ir.Const(1))
        A, B = self.expr(a, PREC["+"]), self.expr(b, PREC["+"])
        zero = isinstance(a, ir.Const) and a.value == 0
        if isinstance(step, ir.Const) and step.value == 1:
            stop = B
            if s.limit is not None:
                limit = self.expr(s.limit, PREC["+"])
                stop = f"min({limit}, {B})" if zero else f"min({A} + {limit}, {B})"
            if not s.reverse:
                return f"range({stop})" if zero else f"range({A}, {stop})"
            return f"range({stop} - 1, {'-1' if zero else A + ' - 1'}, -1)"
        S = self.expr(step, PREC["*"])
        trips = f"len(range({A}, {B}, {S}))"  # the first `limit` of them, for a limit
        if s.limit is not None:
            trips = f"min({self.expr(s.limit)}, {trips})"
        if not s.reverse:
            return f"range({A}, {A} + {S} * {trips}, {S})"
        return f"range({A} + {S} * ({trips} - 1), {A} - {S}, -{S})"

    # ------------------------------------------------------------------ typed tapes
    def _stmt_TapeNew(self, s, ind):
        pad = " " * ind
        return [f"{pad}{s.tape.id} = np.empty(0, np.{s.dtype})", f"{pad}{s.count.id} = 0"]

    def _stmt_TapeReserve(self, s, ind):
        extra = self.expr(s.extra, PREC["+"] + 1)
        return [f"{' ' * ind}{s.tape.id} = tape_reserve({s.tape.id}, {s.count.id} + {extra})"]

    def _stmt_TapePush(self, s, ind):
        pad = " " * ind
        lines = []
        if s.checked:
            lines += [f"{pad}if {s.count.id} == {s.tape.id}.shape[0]:",
                      f"{pad}    {s.tape.id} = tape_reserve({s.tape.id}, 2 * {s.count.id} + 16)"]
        return lines + [f"{pad}{s.tape.id}[{s.count.id}] = {self.expr(s.value)}", f"{pad}{s.count.id} += 1"]

    def _stmt_TapePop(self, s, ind):
        pad = " " * ind
        lines = [f"{pad}{s.count.id} -= 1"]
        if s.into is not None:
            lines.append(f"{pad}{self._target(s.into)} = {s.tape.id}[{s.count.id}]")
        return lines


PRINTERS = {"python": PythonPrinter, "numba": NumbaPrinter}
