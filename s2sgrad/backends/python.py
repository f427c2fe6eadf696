"""Printers: IR to Python source.

`PythonPrinter` prints expressions with the fewest parentheses that keep the tree's
meaning, and statements with four-space indentation.  Targets that need other spellings
(numba, CUDA) subclass it and override `_print_<Node>` methods or the FUNCTIONS table,
the way sympy's printers do.
"""
from __future__ import annotations

import math

from .. import ir

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
        """A slice outside brackets (an index held in a tuple: add_at(d_X, (slice(None), i), g))."""
        parts = [self.expr(p) if p is not None else "None" for p in (e.lower, e.upper, e.step)]
        while len(parts) > 1 and parts[-1] == "None":
            parts.pop()
        return f"slice({', '.join(parts)})", PREC["atom"]

    def _slice_syntax(self, e) -> str:
        """`a:b:c`, as written inside brackets."""
        text = ":".join("" if p is None else self.expr(p) for p in (e.lower, e.upper))
        return text + (":" + self.expr(e.step) if e.step is not None else "")

    def _index(self, index) -> str:
        """What goes between a subscript's brackets: slices as a:b, a tuple without parens."""
        if isinstance(index, ir.Slice):
            return self._slice_syntax(index)
        if isinstance(index, ir.TupleExpr) and index.elts:
            inner = ", ".join(self._index(x) if isinstance(x, ir.Slice) else self.expr(x) for x in index.elts)
            return inner + ("," if len(index.elts) == 1 else "")
        return self.expr(index)

    def _print_Subscript(self, e):
        return f"{self.expr(e.value, PREC['atom'])}[{self._index(e.index)}]", PREC["atom"]

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
        if all(line.lstrip().startswith("#") for line in lines):  # nothing but comments
            lines.append(" " * indent + "pass")
        return lines

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


Printer = PythonPrinter  # the backend registry's name for this target's printer

# math's functions under NumPy's names: NumPy gives IEEE values (inf, nan) where math raises
MATH_AS_NUMPY = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2",
                 "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "pow": "power",
                 "fabs": "abs", **{f: f for f in ("sin", "cos", "tan", "sinh", "cosh", "tanh", "exp",
                                                   "log", "expm1", "log1p", "log2", "log10", "sqrt", "hypot",
                                                   "copysign", "floor", "ceil", "trunc", "isnan", "isinf",
                                                   "isfinite", "pi", "e", "inf", "nan")}}


class IEEEPrinter(PythonPrinter):
    """The python target for points where Python's floats raise (a derivative at x = 0 of
    sqrt, 1/x at a pole, asin at 1): called with np.float64 numbers, it computes with
    NumPy's functions, which give inf or nan there as PyTorch and JAX do.  api.py uses it
    only when the plain code raised ZeroDivisionError, OverflowError or a math domain
    error and the function itself did not."""

    def _print_Lib(self, e):
        if e.module == "math" and e.attr in MATH_AS_NUMPY:
            return f"np.{MATH_AS_NUMPY[e.attr]}", PREC["atom"]
        if e.module == "builtins" and e.attr == "float":
            return "np.float64", PREC["atom"]  # float() would turn an np.float64 back
        return super()._print_Lib(e)

    def _print_Call(self, e):
        if isinstance(e.func, ir.Lib) and (e.func.module, e.func.attr) == ("math", "log") and len(e.args) == 2:
            x, base = (self.expr(a) for a in e.args)
            return f"np.log({x}) / np.log({base})", PREC["/"]
        return super()._print_Call(e)
