"""The derivative rule table for scalar and element-wise functions: one row a function.

Most rows name the sympy function that states the math; sympy then differentiates it
(partials.py).  A row may say its derivative is written with the function's own value,
`ans` (`with_ans`): d exp(x) = ans, d tanh(x) = 1 - ans**2, d cbrt(x) = 1 / (3 ans**2).
Where a statement's whole value is a call of such a function, its partials then read
the statement's target instead of calling the function again (`y = np.tanh(z)`:
`d_z += d_y * (1 - y ** 2)`).  sympy's own exp, tanh and sqrt already differentiate that
way; a function whose derivative sympy would write otherwise gets a sympy function of
its own from `ans_function` (cbrt: sympy's x**(1/3) is NaN for x < 0 in NumPy).

The other kinds of row cover what sympy should not differentiate:

- ZERO:      piecewise constant (floor, round, int, sign): no derivative flows.
- IDENTITY:  the value passes through unchanged (float).
- STOP:      s2sgrad.stop_gradient: the value passes, the derivative is zero.
- INERT:     not a number-valued function (print, len, range): never differentiated.
- a `piecewise` builder: the function written with *selectors*, values the adjoint reads
  but never differentiates (abs(x) = x * sign(x) with sign(x) held constant).  The
  selector picks the branch Python's own function takes, ties included.

A row is looked up by the Python object, so `math.sin`, `from math import sin` and
`import math as m; m.sin` all find the same row.  `printed` is how generated code
spells the function.
"""
from __future__ import annotations

import builtins
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import sympy as sp
from sympy.codegen import cfunctions as cf

from .. import ir

ZERO, IDENTITY, STOP, INERT = "zero", "identity", "stop", "inert"


@dataclass(frozen=True)
class Rule:
    module: str
    attr: str
    sympy: Callable | None = None  # sympy args -> sympy expression
    kind: str = "sympy"            # "sympy" | ZERO | IDENTITY | STOP | INERT | "piecewise"
    piecewise: Callable | None = None  # (sympy args, ir args, opaque) -> sympy expression
    with_ans: bool = False         # its derivative is written with its value (see above)
    params: tuple = ()             # parameter names keyword arguments bind to (np.clip's a_min)
    aliases: dict = field(default_factory=dict)  # other spellings of them (x.clip(min=...))

    @property
    def lib(self) -> ir.Lib:
        return ir.Lib(self.module, self.attr)


def _selector(test: ir.Expr) -> ir.Expr:
    """1.0 where `test` holds, else 0.0: `float(a >= b)`."""
    return ir.Call(ir.Lib("builtins", "float"), [test])


def _abs(s, a, opaque):
    return s[0] * opaque(ir.Call(ir.Lib("numpy", "sign"), [a[0]]))


def _max_or_min(first_wins: str, last_wins: str):
    # Python's max(a, b) returns a unless b > a (min: unless b < a): ties go to a.
    def build(s, a, opaque):
        acc_s, acc_a = s[0], a[0]
        for si, ai in zip(s[1:], a[1:]):
            keep = opaque(_selector(ir.Compare(acc_a, [first_wins], [ai])))
            take = opaque(_selector(ir.Compare(ai, [last_wins], [acc_a])))
            acc_s = acc_s * keep + si * take
            acc_a = ir.Call(ir.Lib("builtins", "max" if first_wins == ">=" else "min"), [acc_a, ai])
        return acc_s
    return build


def _hypot(*xs):
    return cf.hypot(*xs) if len(xs) == 2 else sp.sqrt(sum(x ** 2 for x in xs))


def _log(x, base=None):
    return sp.log(x) if base is None else sp.log(x) / sp.log(base)


def ans_function(name: str, derivative: Callable) -> type[sp.Function]:
    """A sympy function whose derivative is written with its own value:
    `derivative(*args, ans=...)` gives the partial (a tuple of them for several arguments).
    sympy applies the chain rule through it and never rewrites it, so where its value
    is at hand (a statement's target) the derivative reads that value."""
    def fdiff(self, argindex=1):
        d = derivative(*self.args, ans=self)
        return d[argindex - 1] if isinstance(d, tuple) else d

    def _eval_is_real(self):
        return all(a.is_real for a in self.args) or None
    return type(name, (sp.Function,), {"fdiff": fdiff, "_eval_is_real": _eval_is_real})


def derivative_function(name: str, derivative: Callable) -> type[sp.Function]:
    """A sympy function printed as a library call (scipy.special.gammaln) whose
    derivative is `derivative(*args)` (a tuple of partials for several arguments)."""
    return ans_function(name, lambda *args, ans: derivative(*args))


# d cbrt(x) = 1 / (3 cbrt(x)**2), which NumPy computes at x < 0 (x**(-2/3) is NaN there)
Cbrt = ans_function("cbrt", lambda x, ans: 1 / (3 * ans ** 2))
# d expit(x) = expit(x) (1 - expit(x)); exp(-x) / (1 + exp(-x))**2 is inf / inf for x << 0
Expit = ans_function("expit", lambda x, ans: ans * (1 - ans))
# d sqrt(u) = u' / (2 sqrt(u)), kept so: sympy rewrites d sqrt(i x) as sqrt(i x) / (2 x),
# 0 / 0 at x = 0 where the chain rule gives i / 0 = inf (as PyTorch and JAX do)
Sqrt = ans_function("sqrt", lambda x, ans: 1 / (2 * ans))


class Power(sp.Function):
    """`a ** b` with an exponent that is not a number (`x ** n`, `x ** y`).  sympy's own
    d/da a**b is b a**b / a, nan at a = 0; the chain rule's b a**(b - 1) is not.  d/db is
    a**b log(a), taken as 0 at a = 0 for b > 0 (0 log 0 = 0: PyTorch's and JAX's value)."""

    def fdiff(self, argindex=1):
        a, b = self.args
        if argindex == 1:
            return b * Power(a, b - 1)
        # log(1) where a == 0 (JAX's replace-zero): no log(0) is ever computed, no warning
        return self * sp.log(sp.Piecewise((1, sp.Eq(a, 0)), (a, True)))

    def _eval_is_real(self):
        return None


def _row(obj, module, attr, sympy=None, kind="sympy", piecewise=None, with_ans=False, **binding):
    return obj, Rule(module, attr, sympy, kind, piecewise, with_ans, **binding)


SCALAR_RULES: dict[Any, Rule] = dict([
    _row(math.sin, "math", "sin", sp.sin),
    _row(math.cos, "math", "cos", sp.cos),
    _row(math.tan, "math", "tan", sp.tan),
    _row(math.asin, "math", "asin", sp.asin),
    _row(math.acos, "math", "acos", sp.acos),
    _row(math.atan, "math", "atan", sp.atan),
    _row(math.atan2, "math", "atan2", sp.atan2),
    _row(math.sinh, "math", "sinh", sp.sinh),
    _row(math.cosh, "math", "cosh", sp.cosh),
    _row(math.tanh, "math", "tanh", sp.tanh, with_ans=True),  # sympy: 1 - tanh(x)**2
    _row(math.asinh, "math", "asinh", sp.asinh),
    _row(math.acosh, "math", "acosh", sp.acosh),
    _row(math.atanh, "math", "atanh", sp.atanh),
    _row(math.exp, "math", "exp", sp.exp, with_ans=True),     # sympy: exp(x)
    _row(math.expm1, "math", "expm1", cf.expm1),
    _row(math.log, "math", "log", _log),
    _row(math.log1p, "math", "log1p", cf.log1p),
    _row(math.log2, "math", "log2", cf.log2),
    _row(math.log10, "math", "log10", cf.log10),
    _row(math.sqrt, "math", "sqrt", Sqrt, with_ans=True),
    _row(math.pow, "math", "pow", lambda a, b: a ** b),
    _row(builtins.pow, "builtins", "pow", lambda a, b: a ** b),
    _row(math.hypot, "math", "hypot", _hypot),
    _row(math.erf, "math", "erf", sp.erf),
    _row(math.erfc, "math", "erfc", sp.erfc),
    _row(builtins.abs, "builtins", "abs", kind="piecewise", piecewise=_abs),
    _row(math.fabs, "math", "fabs", kind="piecewise", piecewise=_abs),
    _row(builtins.max, "builtins", "max", kind="piecewise", piecewise=_max_or_min(">=", ">")),
    _row(builtins.min, "builtins", "min", kind="piecewise", piecewise=_max_or_min("<=", "<")),
    _row(math.floor, "math", "floor", kind=ZERO),
    _row(math.ceil, "math", "ceil", kind=ZERO),
    _row(math.trunc, "math", "trunc", kind=ZERO),
    _row(builtins.round, "builtins", "round", kind=ZERO),
    _row(builtins.int, "builtins", "int", kind=ZERO),
    _row(builtins.bool, "builtins", "bool", kind=ZERO),
    _row(math.isnan, "math", "isnan", kind=ZERO),
    _row(math.isinf, "math", "isinf", kind=ZERO),
    _row(math.isfinite, "math", "isfinite", kind=ZERO),
    _row(math.copysign, "math", "copysign", kind="piecewise",
         piecewise=lambda s, a, opaque: s[0] * opaque(ir.Call(
             ir.Lib("numpy", "sign"), [ir.BinOp("*", a[0], ir.Call(ir.Lib("math", "copysign"),
                                                                    [ir.Const(1.0), a[1]]))]))),
    _row(builtins.float, "builtins", "float", kind=IDENTITY),
    _row(builtins.print, "builtins", "print", kind=INERT),
    _row(builtins.len, "builtins", "len", kind=INERT),
    _row(builtins.range, "builtins", "range", kind=INERT),
    _row(builtins.isinstance, "builtins", "isinstance", kind=INERT),
])
if hasattr(math, "cbrt"):  # Python 3.11
    SCALAR_RULES.update([_row(math.cbrt, "math", "cbrt", Cbrt, with_ans=True)])

def _np_extreme(wins: str):
    """np.maximum / np.minimum: at a tie each argument gets half, as torch.maximum does."""
    def build(s, a, opaque):
        tie = ir.BinOp("*", ir.Const(0.5), ir.Compare(a[0], ["=="], [a[1]]))
        first = opaque(ir.BinOp("+", ir.Compare(a[0], [wins], [a[1]]), tie))
        second = opaque(ir.BinOp("+", ir.Compare(a[1], [wins], [a[0]]), tie))
        return s[0] * first + s[1] * second
    return build


def _indicator(test: ir.Expr) -> ir.Expr:
    """1.0 where the mask holds, else 0.0: a number, so `-mask` never arises."""
    return ir.Call(ir.Lib("numpy", "where"), [test, ir.Const(1.0), ir.Const(0.0)])


def _where(s, a, opaque):
    """np.where(c, a, b): the derivative follows the branch each element took."""
    not_c = ir.Call(ir.Lib("numpy", "logical_not"), [a[0]])
    return s[1] * opaque(_indicator(a[0])) + s[2] * opaque(_indicator(not_c))


def _clip(s, a, opaque):
    """np.clip(x, lo, hi), which NumPy computes as minimum(maximum(x, lo), hi): x's
    derivative passes where lo <= x <= hi (ends included, as in torch), lo's where x < lo
    <= hi, hi's everywhere else (x > hi, and every x when lo > hi: the result is hi)."""
    x, lo, hi = (list(a) + [ir.Const(None)] * 3)[:3]
    has_lo = not (isinstance(lo, ir.Const) and lo.value is None)
    has_hi = not (isinstance(hi, ir.Const) and hi.value is None)

    def both(p, q):
        return ir.Call(ir.Lib("numpy", "logical_and"), [p, q])

    def either(p, q):
        return ir.Call(ir.Lib("numpy", "logical_or"), [p, q])

    if not (has_lo or has_hi):
        return s[0]
    if not has_hi:
        return s[0] * opaque(_indicator(ir.Compare(x, [">="], [lo]))) \
            + s[1] * opaque(_indicator(ir.Compare(x, ["<"], [lo])))
    if not has_lo:
        return s[0] * opaque(_indicator(ir.Compare(x, ["<="], [hi]))) \
            + s[2] * opaque(_indicator(ir.Compare(x, [">"], [hi])))
    above_lo, below_lo = ir.Compare(x, [">="], [lo]), ir.Compare(x, ["<"], [lo])
    passes_x = both(above_lo, ir.Compare(x, ["<="], [hi]))
    passes_lo = both(below_lo, ir.Compare(lo, ["<="], [hi]))
    passes_hi = either(both(above_lo, ir.Compare(x, [">"], [hi])), both(below_lo, ir.Compare(lo, [">"], [hi])))
    return s[0] * opaque(_indicator(passes_x)) + s[1] * opaque(_indicator(passes_lo)) \
        + s[2] * opaque(_indicator(passes_hi))


def _np_row(attr, sympy=None, kind="sympy", piecewise=None, module="numpy", obj=None, with_ans=False,
            **binding):
    return _row(obj if obj is not None else getattr(np, attr), module, attr, sympy, kind, piecewise,
                with_ans, **binding)


# NumPy's element-wise functions: the same math, applied element by element.
NUMPY_RULES: dict[Any, Rule] = dict([
    _np_row("sin", sp.sin), _np_row("cos", sp.cos), _np_row("tan", sp.tan),
    _np_row("arcsin", sp.asin), _np_row("arccos", sp.acos), _np_row("arctan", sp.atan),
    _np_row("arctan2", sp.atan2), _np_row("sinh", sp.sinh), _np_row("cosh", sp.cosh),
    _np_row("tanh", sp.tanh, with_ans=True), _np_row("arcsinh", sp.asinh), _np_row("arccosh", sp.acosh),
    _np_row("arctanh", sp.atanh), _np_row("exp", sp.exp, with_ans=True), _np_row("expm1", cf.expm1),
    _np_row("exp2", lambda x: 2 ** x), _np_row("log", sp.log), _np_row("log1p", cf.log1p),
    _np_row("log2", cf.log2), _np_row("log10", cf.log10), _np_row("sqrt", Sqrt, with_ans=True),
    _np_row("cbrt", Cbrt, with_ans=True),
    _np_row("square", lambda x: x ** 2), _np_row("reciprocal", lambda x: 1 / x),
    _np_row("power", lambda a, b: a ** b), _np_row("float_power", lambda a, b: a ** b),
    _np_row("hypot", cf.hypot), _np_row("negative", lambda x: -x), _np_row("positive", lambda x: x),
    _np_row("add", lambda a, b: a + b), _np_row("subtract", lambda a, b: a - b),
    _np_row("multiply", lambda a, b: a * b), _np_row("divide", lambda a, b: a / b),
    _np_row("deg2rad", lambda x: x * sp.pi / 180), _np_row("rad2deg", lambda x: x * 180 / sp.pi),
    _np_row("abs", kind="piecewise", piecewise=_abs), _np_row("fabs", kind="piecewise", piecewise=_abs),
    _np_row("absolute", kind="piecewise", piecewise=_abs),
    _np_row("maximum", kind="piecewise", piecewise=_np_extreme(">")),
    _np_row("minimum", kind="piecewise", piecewise=_np_extreme("<")),
    _np_row("where", kind="piecewise", piecewise=_where),
    _np_row("clip", kind="piecewise", piecewise=_clip, params=("a", "a_min", "a_max"),
            aliases={"min": "a_min", "max": "a_max"}),
    _np_row("float64", kind=IDENTITY), _np_row("float32", kind=IDENTITY),
    *(_np_row(name, kind=ZERO) for name in (
        "sign", "floor", "ceil", "round", "rint", "trunc", "fix", "isnan", "isinf", "isfinite",
        "greater", "greater_equal", "less", "less_equal", "equal", "not_equal",
        "logical_and", "logical_or", "logical_not", "logical_xor", "heaviside", "signbit")),
    # constructors and shape queries: constants, whatever their arguments
    *(_np_row(name, kind=ZERO) for name in (
        "zeros", "ones", "empty", "eye", "identity",
        "zeros_like", "ones_like", "empty_like", "shape", "size", "ndim",
        "argmax", "argmin", "argsort", "count_nonzero", "nonzero", "flatnonzero",
        # index arrays (integers): constants of their int arguments or of a shape
        "tril_indices", "triu_indices", "diag_indices", "indices", "tril_indices_from",
        "triu_indices_from", "diag_indices_from", "unravel_index", "ravel_multi_index")),
])

def _mod(s, a, opaque):
    """np.mod(a, b) = a - b * floor(a / b), the floor held constant (as the % operator)."""
    return s[0] - s[1] * opaque(ir.BinOp("//", a[0], a[1]))


def _fmod(s, a, opaque):
    """fmod(a, b) = a - b * trunc(a / b), the quotient held constant (PyTorch's rule)."""
    quotient = ir.Call(ir.Lib("numpy", "trunc"), [ir.BinOp("/", a[0], a[1])])
    return s[0] - s[1] * opaque(quotient)


NUMPY_RULES.update(dict([
    _np_row("remainder", kind="piecewise", piecewise=_mod),  # np.mod is np.remainder
    _np_row("fmod", kind="piecewise", piecewise=_fmod),
]))
SCALAR_RULES.update([_row(math.fmod, "math", "fmod", kind="piecewise", piecewise=_fmod)])


# scipy.special's functions, written as sympy functions printed back as scipy's calls.
def _where_zero(x, then, otherwise):
    return sp.Piecewise((then, sp.Eq(x, 0)), (otherwise, True))


class OneWhereZero(sp.Function):
    """`d`, or 1 where `x == 0`: a divisor that is never 0 where the numerator x is (sympy
    would rewrite x / Piecewise(...) as x * Piecewise(..., 1 / d), dividing by 0 there).
    Printed as a selection (partials.to_ir)."""

    def fdiff(self, argindex=1):
        return sp.S.Zero if argindex == 1 else _where_zero(self.args[0], 0, 1)

    def _eval_is_real(self):
        return self.args[1].is_real


# d erfcx(x) = 2 x erfcx(x) - 2 / sqrt(pi)  (erfcx(x) = exp(x**2) erfc(x))
Erfcx = derivative_function("erfcx", lambda x: 2 * x * Erfcx(x) - 2 / sp.sqrt(sp.pi))
# d ndtr(x) is the normal density
Ndtr = derivative_function("ndtr", lambda x: sp.exp(-x ** 2 / 2) / sp.sqrt(2 * sp.pi))
# d log_ndtr(x) = density / ndtr = sqrt(2/pi) / erfcx(-x / sqrt(2)): no exp(-x**2/2) / ndtr(x)
# underflowing to 0 / 0 for x << 0 (there it is ~ -x), and 0 (erfcx overflows) for x >> 0
LogNdtr = derivative_function("log_ndtr", lambda x: sp.sqrt(2 / sp.pi) / Erfcx(-x / sp.sqrt(2)))
Logit = derivative_function("logit", lambda x: 1 / (x * (1 - x)))
# polygamma(n, x): n is an order, an integer (like int(), it carries no derivative)
Polygamma = derivative_function("polygamma", lambda n, x: (sp.S.Zero, Polygamma(n + 1, x)))
Digamma = derivative_function("psi", lambda x: Polygamma(1, x))
Gammaln = derivative_function("gammaln", lambda x: Digamma(x))
# xlogy(x, y) = x log(y), 0 where x == 0 (any y): d/dx is log(y), 0 where x == 0 (as
# torch.xlogy), written xlogy(x != 0, y) so no log(0) is computed; d/dy is x / y, 0 where
# x == 0 (the function is 0 all along x = 0), with no 0 / 0 computed there
Xlogy = derivative_function("xlogy", lambda x, y: (Xlogy(_where_zero(x, 0, 1), y), x / OneWhereZero(x, y)))
Xlog1py = derivative_function("xlog1py", lambda x, y: (Xlog1py(_where_zero(x, 0, 1), y),
                                                       x / OneWhereZero(x, 1 + y)))
SPECIAL_FUNCTIONS = (Erfcx, Ndtr, LogNdtr, Logit, Polygamma, Digamma, Gammaln, Xlogy, Xlog1py)

try:  # scipy is optional: its special functions get rows only where it is installed
    import scipy.special as _special

    def _special_row(attr, sympy, **kw):
        return _np_row(attr, sympy, module="scipy.special", obj=getattr(_special, attr), **kw)
    NUMPY_RULES.update(dict([
        _special_row("erf", sp.erf), _special_row("erfc", sp.erfc), _special_row("erfcx", Erfcx),
        _special_row("expit", Expit, with_ans=True), _special_row("logit", Logit),
        _special_row("ndtr", Ndtr), _special_row("log_ndtr", LogNdtr),
        _special_row("gammaln", Gammaln), _special_row("psi", Digamma),  # scipy.special.digamma is psi
        _special_row("polygamma", Polygamma),
        _special_row("xlogy", Xlogy), _special_row("xlog1py", Xlog1py),
    ]))
except ImportError:  # pragma: no cover
    pass

SCALAR_RULES.update(NUMPY_RULES)

# Binary operators that are not plain sympy arithmetic.
#   a // b is piecewise constant; a % b = a - b * floor(a / b) with the floor held constant.
OPERATOR_RULES = {
    "//": None,  # zero derivative
    "%": lambda sa, sb, a, b, opaque: sa - sb * opaque(ir.BinOp("//", a, b)),
}

# How sympy functions that appear in derivatives are printed back.
SYMPY_PRINTED: dict[Any, ir.Lib] = {
    sp.sin: ir.Lib("math", "sin"), sp.cos: ir.Lib("math", "cos"), sp.tan: ir.Lib("math", "tan"),
    sp.asin: ir.Lib("math", "asin"), sp.acos: ir.Lib("math", "acos"),
    sp.atan: ir.Lib("math", "atan"), sp.atan2: ir.Lib("math", "atan2"),
    sp.sinh: ir.Lib("math", "sinh"), sp.cosh: ir.Lib("math", "cosh"),
    sp.tanh: ir.Lib("math", "tanh"), sp.asinh: ir.Lib("math", "asinh"),
    sp.acosh: ir.Lib("math", "acosh"), sp.atanh: ir.Lib("math", "atanh"),
    sp.exp: ir.Lib("math", "exp"), sp.log: ir.Lib("math", "log"),
    sp.erf: ir.Lib("math", "erf"), sp.erfc: ir.Lib("math", "erfc"),
    sp.Abs: ir.Lib("builtins", "abs"), sp.sign: ir.Lib("numpy", "sign"),
    cf.expm1: ir.Lib("math", "expm1"), cf.log1p: ir.Lib("math", "log1p"),
    cf.log2: ir.Lib("math", "log2"), cf.log10: ir.Lib("math", "log10"),
    cf.hypot: ir.Lib("math", "hypot"),
    Cbrt: ir.Lib("numpy", "cbrt"),  # (numba compiles np.cbrt of a number, not math.cbrt)
    Sqrt: ir.Lib("math", "sqrt"),
    Expit: ir.Lib("scipy.special", "expit"),
    sp.sec: None, sp.csc: None, sp.cot: None,  # rewritten into sin/cos before printing
}
SYMPY_CONSTANTS = {sp.pi: ir.Lib("math", "pi"), sp.E: ir.Lib("math", "e")}

# The same functions printed for array statements: element-wise NumPy.
SYMPY_PRINTED_NUMPY: dict[Any, ir.Lib] = {
    sp.sin: "sin", sp.cos: "cos", sp.tan: "tan", sp.asin: "arcsin", sp.acos: "arccos",
    sp.atan: "arctan", sp.atan2: "arctan2", sp.sinh: "sinh", sp.cosh: "cosh", sp.tanh: "tanh",
    sp.asinh: "arcsinh", sp.acosh: "arccosh", sp.atanh: "arctanh", sp.exp: "exp", sp.log: "log",
    sp.Abs: "abs", sp.sign: "sign", cf.expm1: "expm1", cf.log1p: "log1p", cf.log2: "log2",
    cf.log10: "log10", cf.hypot: "hypot",
}
SYMPY_PRINTED_NUMPY = {k: ir.Lib("numpy", v) for k, v in SYMPY_PRINTED_NUMPY.items()}
SYMPY_PRINTED_NUMPY.update({sp.erf: ir.Lib("scipy.special", "erf"), sp.erfc: ir.Lib("scipy.special", "erfc"),
                            Cbrt: ir.Lib("numpy", "cbrt"), Expit: ir.Lib("scipy.special", "expit"),
                            Sqrt: ir.Lib("numpy", "sqrt")})
# scipy.special's functions print as themselves, for numbers and arrays alike
for _f in SPECIAL_FUNCTIONS:
    SYMPY_PRINTED[_f] = SYMPY_PRINTED_NUMPY[_f] = ir.Lib("scipy.special", _f.__name__)


def lookup(obj) -> Rule | None:
    try:
        return SCALAR_RULES.get(obj)
    except TypeError:  # unhashable objects have no rule
        return None


# The rule of a Lib reference, for IR built by the passes themselves (selectors, np.sign:
# a row of NUMPY_RULES) and for stop_gradient, which the frontend lowers to a Lib.
RULES_BY_NAME: dict[tuple[str, str], Rule] = {(r.module, r.attr): r for r in SCALAR_RULES.values()}
RULES_BY_NAME[("s2sgrad", "stop_gradient")] = Rule("s2sgrad", "stop_gradient", kind=STOP)
