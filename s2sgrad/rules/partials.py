"""The bridge to sympy: local partial derivatives of one statement's right-hand side.

`to_sympy` turns an IR expression into a sympy expression.  Active variables (and list
elements of active lists) become real symbols; every subexpression through which no
derivative flows (an integer index, a condition, floor(x), a module constant) becomes
an *opaque* symbol that stands for its IR and is printed back unchanged.  sympy then
differentiates with respect to the active symbols, `sympy.cse` shares common
subexpressions, and `to_ir` turns the partials back into IR the printers know.

The result `ans`: where a statement `y = f(...)` calls, as its whole value, a function
whose row's derivative is written with its value (scalar.py, `with_ans`), the partials
read y instead of calling f again: `d_z += d_y * (1 - y ** 2)` for `y = np.tanh(z)`.
The passes ask `reads_result` first and put such a derivative where y holds the new
value: in reverse mode before y's old value is restored, in forward mode after the
statement.  It is not done where the partials would also need the old value of y
(`y = np.tanh(y * w)`), nor where y's old value is one of several operands (its shape
could change), so a derivative never needs both values of one variable.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import sympy as sp

from .. import ir
from . import scalar as rules
from ..backends.python import PythonPrinter, expr_source
from ..errors import UnsupportedCallError, UnsupportedSyntaxError

_SYMPY_BINOPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b,
                 "*": lambda a, b: a * b, "/": lambda a, b: a / b,
                 "**": lambda a, b: a ** b}


def rule_of(func: ir.Expr) -> rules.Rule | None:
    return rules.RULES_BY_NAME.get((func.module, func.attr)) if isinstance(func, ir.Lib) else None


def carries(e: ir.Expr, active: Callable[[str], bool]) -> bool:
    """Whether a derivative can flow out of `e` from an active variable."""
    if isinstance(e, ir.Name):
        return active(e.id)
    if isinstance(e, ir.Subscript):
        return carries(e.value, active)
    if isinstance(e, (ir.Compare,)) or (isinstance(e, ir.UnaryOp) and e.op in ("not", "~")):
        return False
    if isinstance(e, ir.BinOp) and e.op in ("//", "&", "|", "^"):  # masks and integer division
        return False
    if isinstance(e, ir.IfExp):
        return carries(e.body, active) or carries(e.orelse, active)
    if isinstance(e, (ir.Attr, ir.Slice)):
        return False
    if isinstance(e, ir.Call):
        rule = rule_of(e.func)
        if rule is not None and rule.kind in (rules.ZERO, rules.STOP, rules.INERT):
            return False
        return any(carries(a, active) for a in e.args + [v for _, v in e.kwargs])
    return any(carries(c, active) for c in ir.children(e))


def _positional(rule, e: ir.Call) -> list[ir.Expr]:
    """The call's arguments in the rule's order: keywords bind to the row's `params`
    (np.clip(x, a_min=0.0)); any other keyword is refused, never ignored."""
    args = list(e.args)
    for k, v in e.kwargs:
        if k == "out" and isinstance(v, ir.Const) and v.value is None:
            continue  # the default: a new array
        name = rule.aliases.get(k, k)
        if name not in rule.params:
            raise UnsupportedSyntaxError(
                f"the keyword argument `{k}=` to `{expr_source(e.func)}` in a differentiated expression", e.pos,
                f"its rule takes {', '.join(rule.params) or 'positional arguments only'}.")
        i = rule.params.index(name)
        args += [ir.Const(None)] * (i + 1 - len(args))
        if not (isinstance(args[i], ir.Const) and args[i].value is None):
            raise UnsupportedSyntaxError(f"`{name}` given twice to `{expr_source(e.func)}`", e.pos)
        args[i] = v
    return args


class _KeyPrinter(PythonPrinter):
    """Prints module constants with their module, so same-named ones get different symbols."""

    def _print_Global(self, e):
        return f"{e.origin}.{e.name}", 17


def _key(e: ir.Expr) -> str:
    return _KeyPrinter().expr(e)


class ToSympy:
    """Converts one statement's expressions, remembering what each symbol stands for."""

    def __init__(self, active: Callable[[str], bool]):
        self.active = active
        self.atoms: dict[sp.Symbol, ir.Expr] = {}    # active symbol -> Name / Subscript
        self.opaque: dict[sp.Symbol, ir.Expr] = {}   # constant symbol -> its IR

    def symbol_for(self, e: ir.Expr) -> sp.Symbol:
        """The active symbol of a variable or list element."""
        key = _key(e)
        sym = sp.Symbol(key if isinstance(e, ir.Name) else f"[{key}]", real=True)
        self.atoms[sym] = e
        return sym

    def hold(self, e: ir.Expr) -> sp.Symbol:
        """An opaque symbol: a value the derivative reads but does not differentiate."""
        sym = sp.Symbol(f"@{_key(e)}", real=True)
        self.opaque[sym] = e
        return sym

    def __call__(self, e: ir.Expr):
        if isinstance(e, ir.Const) and isinstance(e.value, (int, float)) and not isinstance(e.value, bool):
            return sp.Integer(e.value) if isinstance(e.value, int) else sp.Float(e.value, precision=53)
        if not carries(e, self.active):
            return self.hold(e)
        if isinstance(e, (ir.Name, ir.Subscript)):
            return self.symbol_for(e)
        if isinstance(e, ir.BinOp):
            a, b = self(e.left), self(e.right)
            if e.op == "**" and not b.is_number:
                return rules.Power(a, b)
            if e.op in _SYMPY_BINOPS:
                return _SYMPY_BINOPS[e.op](a, b)
            if e.op == "%":
                return rules.OPERATOR_RULES["%"](a, b, e.left, e.right, self.hold)
        if isinstance(e, ir.UnaryOp) and e.op in "+-":
            return -self(e.operand) if e.op == "-" else self(e.operand)
        if isinstance(e, ir.Call):
            return self._call(e)
        raise UnsupportedSyntaxError(
            f"s2sgrad cannot differentiate through `{expr_source(e)}` "
            f"({type(e).__name__} carrying a derivative)", e.pos)

    def _call(self, e: ir.Call):
        rule = rule_of(e.func)
        if rule is None:
            shown = getattr(e.func, "display", "") or expr_source(e.func)
            raise UnsupportedCallError(
                f"call to `{shown}` has no derivative rule and no Python source, "
                f"and its result depends on a differentiated input", e.pos, no_rule_hint(shown))
        positional = _positional(rule, e)
        args = [self(a) for a in positional]
        if rule.kind == rules.IDENTITY:
            return args[0]
        if rule.kind == "piecewise":
            return rule.piecewise(args, positional, self.hold)
        return rule.sympy(*args)


def no_rule_hint(shown: str) -> str:
    """What to do about a call with no rule and no source."""
    short = shown.split(".")[-1]
    return (f"s2sgrad has no derivative rule for it: give it one with "
            f"`{short} = s2sgrad.custom_derivative({shown})` and a `@{short}.reverse` rule, "
            f"write it as a Python function s2sgrad can read, or wrap the call in "
            f"s2sgrad.stop_gradient(...) if its result should be a constant.")


# The statement's result in partials written with it ('$' is in no symbol of an IR key)
ANS = sp.Symbol("@ans$", real=True)


def _written_with_ans(g, value):
    """g with the statement's whole value replaced by ANS; for a power, its other powers
    of the same base too (d sqrt(u) = u**(-1/2) / 2 = 1 / (2 ans))."""
    g = g.xreplace({value: ANS})
    if value.is_Pow and value.exp.is_Rational:
        base, e = value.base, value.exp
        g = g.replace(lambda p: p.is_Pow and p.base == base and (p.exp / e).is_Integer,
                      lambda p: ANS ** (p.exp / e))
    return g


@lru_cache(maxsize=4096)
def _partials(expr: sp.Expr, wrt: tuple[sp.Symbol, ...], with_ans: bool = False):
    """cse'd partial derivatives, cached by expression: a repeated shape costs nothing."""
    grads = [sp.diff(expr, s) for s in wrt]
    if with_ans:
        grads = [_written_with_ans(g, expr) for g in grads]
    return sp.cse(grads, symbols=sp.numbered_symbols("@cse$", real=True), optimizations=None)


def _written_with_its_value(value: ir.Expr, result) -> bool:
    """Whether `result = value` assigns a variable a call of a row written with its value."""
    rule = rule_of(value.func) if isinstance(value, ir.Call) else None
    return isinstance(result, ir.Name) and rule is not None and rule.with_ans


def _operands_allow(result: ir.Name, conv: ToSympy) -> bool:
    """Whether the operands either do not read `result` or are all `result` itself
    (x = np.cbrt(x)): else the new value could have another shape than the old."""
    leaves = list(conv.atoms.values()) + list(conv.opaque.values())
    if not any(result.id in ir.names_in(x) for x in leaves):
        return True
    return all(isinstance(x, ir.Name) and x.id == result.id for x in leaves)


def _canonical_partials(expr, wrt, symbols, with_ans=False):
    """_partials of expr with its symbols renamed in the order the converter met them, so
    statements of one shape (`v3 = v2 * v1`, `v4 = v3 * v2`) share one cache entry:
    sympy's derivatives are the costly part of generating long straight-line code."""
    canon = {sym: sp.Symbol(f"@s{i}$", **sym.assumptions0) for i, sym in enumerate(symbols)}
    back = {c: sym for sym, c in canon.items()}
    replacements, grads = _partials(expr.xreplace(canon), tuple(canon[s] for s in wrt), with_ans)
    return [(sym, sub.xreplace(back)) for sym, sub in replacements], [g.xreplace(back) for g in grads]


def _derive(value: ir.Expr, active: Callable[[str], bool], result):
    """(converter, cse replacements, partials, whether they read `result`)."""
    conv = ToSympy(active)
    expr = conv(value)
    wrt = tuple(sorted(conv.atoms, key=lambda s: s.name))
    others = sorted(expr.free_symbols - set(conv.atoms) - set(conv.opaque), key=lambda s: s.name)
    symbols = [*conv.atoms, *conv.opaque, *others]
    if _written_with_its_value(value, result) and _operands_allow(result, conv):
        replacements, grads = _canonical_partials(expr, wrt, symbols, True)
        used = set().union(*(e.free_symbols for e in [*grads, *(sub for _, sub in replacements)]))
        old = {sym for sym, e in {**conv.atoms, **conv.opaque}.items() if result.id in ir.names_in(e)}
        if ANS in used and not used & old:  # never both values of the target
            return conv, replacements, grads, True
    return (conv, *_canonical_partials(expr, wrt, symbols), False)


def reads_result(value: ir.Expr, result: ir.Expr, active: Callable[[str], bool]) -> bool:
    """Whether the partials of `result = value` read `result` itself (`partials` with
    `result=`): then they need the statement's new value of it, not the old one."""
    return _written_with_its_value(value, result) and _derive(value, active, result)[3]


def partials(value: ir.Expr, active: Callable[[str], bool], fresh: Callable[[str], str],
             numpy: bool = False, result: ir.Expr | None = None):
    """Partials of `value` with respect to its active atoms.

    Returns (temps, grads): `temps` are (name, IR) assignments of shared subexpressions
    to emit first; `grads` are (atom IR, partial IR) pairs, zero partials left out.
    `numpy` prints the partials with NumPy's element-wise functions (array statements).
    `result` is the variable the statement assigns `value` to: where `reads_result`
    says so, the partials read it instead of computing the call again.
    """
    conv, replacements, grads, with_ans = _derive(value, active, result)
    wrt = tuple(sorted(conv.atoms, key=lambda s: s.name))
    names = {**conv.opaque, **conv.atoms}
    if with_ans:
        names[ANS] = ir.Name(result.id)
    def printed(e):
        return to_ir(e, names, numpy)
    temps = []
    for sym, sub in replacements:
        name = fresh("tmp")
        temps.append((name, printed(sub)))
        names[sym] = ir.Name(name)
    out = [(conv.atoms[s], printed(g)) for s, g in zip(wrt, grads) if g != 0]
    return temps, out


def leaves(value: ir.Expr, active: Callable[[str], bool]) -> list[ir.Expr]:
    """The values an element-wise expression combines: its atoms and held subexpressions."""
    conv = ToSympy(active)
    conv(value)
    return list(conv.atoms.values()) + list(conv.opaque.values())


# ---------------------------------------------------------------------- sympy back to IR
def _is_negative(e) -> bool:
    c, _ = e.as_coeff_Mul()
    return bool(c.is_number and c < 0)


def to_ir(e, names: dict, numpy: bool = False) -> ir.Expr:
    """A sympy expression as IR; symbols become the IR they stand for.

    `numpy` prints functions for array statements (np.cos rather than math.cos).
    """
    if e.is_Symbol:
        return names[e]
    if e in rules.SYMPY_CONSTANTS:
        return rules.SYMPY_CONSTANTS[e]
    if e.is_Integer:
        return ir.Const(int(e))
    if e.is_Rational:
        return ir.BinOp("/", ir.Const(int(e.p)), ir.Const(int(e.q)))
    if e.is_Float:
        return ir.Const(float(e))
    if e.is_Number:
        return ir.Const(float(e))
    if e.is_Add:
        terms = e.as_ordered_terms()
        terms = [t for t in terms if not _is_negative(t)] + [t for t in terms if _is_negative(t)]
        acc = to_ir(terms[0], names, numpy)
        for t in terms[1:]:
            if _is_negative(t):
                acc = ir.BinOp("-", acc, to_ir(-t, names, numpy))
            else:
                acc = ir.BinOp("+", acc, to_ir(t, names, numpy))
        return acc
    if e.is_Mul:
        return _mul_to_ir(e, names, numpy)
    if e.is_Pow:
        return _pow_to_ir(e, names, numpy)
    if e.func is rules.Power:
        return ir.BinOp("**", to_ir(e.args[0], names, numpy), to_ir(e.args[1], names, numpy))
    if isinstance(e, sp.Piecewise):
        return _piecewise_to_ir(e, names, numpy)
    if e.func is rules.OneWhereZero:
        x, d = e.args
        piecewise = sp.Piecewise((1, sp.Eq(x, 0)), (d, True))
        if not isinstance(piecewise, sp.Piecewise):  # x a number: sympy decided the piece
            return to_ir(piecewise, names, numpy)
        return _piecewise_to_ir(piecewise, names, numpy)
    if isinstance(e, sp.Eq):
        return ir.Compare(to_ir(e.lhs, names, numpy), ["=="], [to_ir(e.rhs, names, numpy)])
    if e.func in (sp.sec, sp.csc, sp.cot):
        return to_ir(e.rewrite(sp.cos) if e.func is sp.sec else e.rewrite(sp.sin), names, numpy)
    lib = (rules.SYMPY_PRINTED_NUMPY if numpy else rules.SYMPY_PRINTED).get(e.func)
    if lib is not None:
        return ir.Call(lib, [to_ir(a, names, numpy) for a in e.args])
    raise NotImplementedError(f"s2sgrad internal error: no printer for sympy {e.func}")


def _piecewise_to_ir(e, names, numpy):
    """`v1 if c1 else v2` (np.where(c1, v1, v2) in array statements), the last piece's
    condition being True."""
    (value, cond), rest = e.args[0], e.args[1:]
    other = to_ir(sp.Piecewise(*rest), names, numpy) if len(rest) > 1 else to_ir(rest[0][0], names, numpy)
    test, value = to_ir(cond, names, numpy), to_ir(value, names, numpy)
    if numpy:
        return ir.Call(ir.Lib("numpy", "where"), [test, value, other])
    return ir.IfExp(test, value, other)


def _lib(attr: str, numpy: bool) -> ir.Lib:
    return ir.Lib("numpy" if numpy else "math", attr)


def _mul_to_ir(e, names, numpy):
    if _is_negative(e):
        return ir.UnaryOp("-", to_ir(-e, names, numpy))
    num, den = [], []
    for f in e.as_ordered_factors():
        if f.is_Rational and not f.is_Integer:
            if f.p != 1:
                num.append(ir.Const(int(f.p)))
            den.append(ir.Const(int(f.q)))
        elif f.is_Pow and f.exp.is_number and f.exp < 0:
            den.append(to_ir(sp.Pow(f.base, -f.exp), names, numpy))
        else:
            num.append(to_ir(f, names, numpy))
    product = lambda xs: xs[0] if len(xs) == 1 else ir.BinOp("*", product(xs[:-1]), xs[-1])
    top = product(num) if num else ir.Const(1)
    return ir.BinOp("/", top, product(den)) if den else top


def _pow_to_ir(e, names, numpy):
    base, exp = e.base, e.exp
    if exp == sp.Rational(1, 2):
        return ir.Call(_lib("sqrt", numpy), [to_ir(base, names, numpy)])
    if exp.is_number and exp < 0:
        return ir.BinOp("/", ir.Const(1), to_ir(sp.Pow(base, -exp), names, numpy))
    if base == sp.E:
        return ir.Call(_lib("exp", numpy), [to_ir(exp, names, numpy)])
    return ir.BinOp("**", to_ir(base, names, numpy), to_ir(exp, names, numpy))
