"""What every array rule is written with: the row (ArrayRule), the contexts its rules get
(VjpContext, JvpContext), binding a call to the row's parameters, and IR shorthands.

A row says, for one NumPy primitive:

    ndim(i)          the rank of the result (ArgInfo: the arguments' ranks and IR); None: unknown
    vjp(c)           reverse mode: (parameter, contribution) pairs, given the cotangent c.g
    jvp(c)           forward mode: the IR of the result's tangent (None: zero)
    batched_jvp(c)   vector mode: the tangent for all directions at once, or NotImplemented

Every contribution is added in place to an adjoint that already has the primal's shape,
so it only has to *broadcast* to that shape.  Both contexts give the primal's result as
`c.ans` and bind temporaries with `c.let(base, IR)`.  Where a rank is not known when the
code is generated, rules fall back on the runtime helpers (runtime/helpers.py).
"""
from __future__ import annotations

import copy
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Callable

from ... import ir
from ...errors import RankUnknownError, UnsupportedCallError

NOT_CONST = object()  # what const() gives for an argument that is not a constant
# in a rule's ndims: the parameters whose argument is a list held in a variable (np.sum(xs)
# with xs built by append); their rank is the elements'
LISTS = "<lists>"


def held_list(ndims: dict, p: str) -> bool:
    """Whether argument p is a Python list held in a variable (not a list literal)."""
    return p in ndims.get(LISTS, ())


@dataclass(frozen=True)
class ArrayRule:
    attr: str                      # printed as np.<attr> (module "numpy") or <module>.<attr>
    _: KW_ONLY
    params: tuple[str, ...]        # NumPy's parameter names, to bind positional and keyword args
    defaults: dict = field(default_factory=dict)
    ndim: Callable | None = None   # (ArgInfo) -> result ndim or None
    vjp: Callable | None = None    # (VjpContext) -> [(param, contribution)]; None: no derivative
    jvp: Callable | None = None    # (JvpContext) -> IR of the result's tangent, or None (zero)
    # vector mode: (JvpContext with tangents that have a leading axis of directions) -> the
    # tangent for all directions at once, or NotImplemented (forward mode then loops over them)
    batched_jvp: Callable | None = None
    module: str = "numpy"
    varargs: bool = False          # the last parameter collects the remaining positional args
    result_kind: str = "array"     # "array" | "scalar" | "tuple"
    aliases: dict = field(default_factory=dict)  # another keyword spelling -> the parameter
    # keyword-only parameters after the varargs (np.einsum's optimize=)
    keyword_only: tuple[str, ...] = ()

    @property
    def lib(self) -> ir.Lib:
        return ir.Lib(self.module, self.attr)


class UnsupportedUse(Exception):
    """A primitive used in a form that has no rule (the passes raise `error`, an
    UnsupportedCallError, at the statement)."""
    error = UnsupportedCallError

    def __init__(self, what, hint):
        super().__init__(what)
        self.what, self.hint = what, hint


class RankUnknown(UnsupportedUse):
    """A form with a rule for some ranks of its arguments, used where the rank is not
    known: the code generated for guessed argument kinds waits for a call's own."""
    error = RankUnknownError


def is_const(e, value) -> bool:
    """Whether the IR is the constant `value` (None, True, False: compared by identity)."""
    return isinstance(e, ir.Const) and e.value is value


class _Bound:
    """Reading a primitive's bound arguments (both contexts)."""
    args: dict[str, Any]

    def arg(self, name):
        return self.args[name]

    def const(self, name):
        """The value of an argument that must be a constant (axis, keepdims)."""
        e = self.args[name]
        return e.value if isinstance(e, ir.Const) else NOT_CONST


@dataclass
class VjpContext(_Bound):
    args: dict[str, Any]           # bound arguments (IR); varargs: a list of IR
    ndims: dict[str, Any]          # rank of each argument when known (None: unknown)
    ans: ir.Expr                   # the primal's result
    g: ir.Expr                     # its cotangent
    let: Callable                  # (base name, IR) -> Name of a temporary bound to it
    rule: ArrayRule


@dataclass
class JvpContext(_Bound):
    args: dict[str, Any]           # bound arguments (IR), as bind() returns them; varargs: a list
    ndims: dict[str, Any]          # rank of each argument when known (None: unknown)
    ans: ir.Expr                   # the primal's result, computed before the tangent
    call: ir.Call                  # the primal call
    tangents: dict                 # param (or (param, k) for an element of a list) -> tangent IR;
                                   # a key absent: that argument's tangent is zero
    let: Callable                  # (base name, IR) -> Name of a temporary bound to it
    rule: ArrayRule

    def tangent(self, key) -> ir.Expr | None:
        return self.tangents.get(key)

    def argument(self, key) -> ir.Expr:
        """The argument IR a tangent key names: `a`, or element k of a list ("arrays", k)."""
        if not isinstance(key, tuple):
            return self.args[key]
        param, k = key
        e = self.args[param]
        return e[k] if isinstance(e, list) else e.elts[k]

    def zero_like(self, key) -> ir.Expr:
        return np_("zeros_like", copy.deepcopy(self.argument(key)))

    def replaced(self, tangents: dict) -> ir.Call:
        """The primal call with the arguments these keys name swapped for the given IR."""
        return with_args(self.call, {id(self.argument(k)): v for k, v in tangents.items()})


def bind(rule: ArrayRule, call: ir.Call) -> dict:
    """The call's arguments by the row's parameter names, defaults filled in as constants."""
    out: dict = {}
    args = list(call.args)
    params = list(rule.params)
    if rule.varargs:
        fixed = params[:-1]
        for p, a in zip(fixed, args):
            out[p] = a
        out[params[-1]] = args[len(fixed):]
    else:
        for p, a in zip(params, args):
            out[p] = a
    for k, v in call.kwargs:
        out[rule.aliases.get(k, k)] = v
    for p, d in rule.defaults.items():
        out.setdefault(p, ir.Const(d))
    return out


def argument_not_taken(rule: ArrayRule, call: ir.Call) -> str | None:
    """How a call passes an argument the row has no parameter for (`the argument where=`,
    `a 3rd positional argument`), or None: bind() would drop it, so it is refused."""
    if not rule.varargs and len(call.args) > len(rule.params):
        n = len(call.args)
        return f"a {n}{'tsnrhtdd'[(n // 10 % 10 != 1) * (n % 10 < 4) * n % 10::4]} positional argument"
    for k, _ in call.kwargs:
        if rule.aliases.get(k, k) not in rule.params + rule.keyword_only:
            return f"the argument `{k}=`"
    return None


def with_args(call: ir.Call, replacements: dict[int, ir.Expr]) -> ir.Call:
    """A copy of `call` with some argument expressions swapped: id(original) -> new IR.

    The copy keeps how the user spelled the call (method, operator, keywords), so the
    tangent of `np.sum(x, axis=0)` prints as `np.sum(t_x, axis=0)`.  The new IR goes in
    as it is; everything else is copied.
    """
    return copy.deepcopy(call, memo=dict(replacements))  # deepcopy takes a seeded memo as done


# ----------------------------------------------------------------------------- rank rules
@dataclass
class ArgInfo:
    ndims: dict[str, Any]   # parameter -> ndim (0 for scalars) or None
    args: dict[str, Any]    # parameter -> IR

    def const(self, name):
        e = self.args.get(name)
        return e.value if isinstance(e, ir.Const) else NOT_CONST


def same_ndim(p="a"):
    """The result has the rank of argument p."""
    return lambda i: i.ndims.get(p)


def fixed_ndim(n):
    return lambda i: n


def unknown_ndim(i):
    return None


# ----------------------------------------------------------------------------- IR shorthands
def np_(attr: str, *args, **kwargs) -> ir.Call:
    return ir.Call(ir.Lib("numpy", attr), list(args), [(k, v) for k, v in kwargs.items()])


def helper(name: str, *args) -> ir.Call:
    """A call to a runtime helper that the generated module carries (runtime/helpers.py)."""
    return ir.Call(ir.Lib("runtime", name), list(args))


def C(value) -> ir.Const:
    return ir.Const(value)


def mul(a, b):
    return ir.BinOp("*", a, b)


def div(a, b):
    return ir.BinOp("/", a, b)


def sub(a, b):
    return ir.BinOp("-", a, b)


def neg(a):
    return ir.UnaryOp("-", a)


def item(e, k: int):
    """e[k]: one element of a tuple-valued helper's result."""
    return ir.Subscript(e, C(k))


def matmul(a, b):
    return ir.Call(ir.Lib("numpy", "matmul"), [a, b], method="@")


def T(a):
    """a.T, simplified: (x.T).T is x, and (a @ b).T is b.T @ a.T (both 2-D here)."""
    if isinstance(a, ir.Call) and a.method == "T":
        return a.args[0]
    if isinstance(a, ir.Call) and a.method == "@":
        return matmul(T(a.args[1]), T(a.args[0]))
    return ir.Call(ir.Lib("numpy", "transpose"), [a], method="T", prop=True)


def size(a):
    return np_("size", a)


def shape(a):
    return np_("shape", a)


def add_all(terms):
    """t1 + t2 + ...; None for no term (a zero tangent)."""
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    out = terms[0]
    for t in terms[1:]:
        out = ir.BinOp("+", out, t)
    return out


# ----------------------------------------------------------------------------- common rules
def identity_vjp(p="a"):
    """The cotangent passes unchanged (copy, astype)."""
    return lambda c: [(p, c.g)]


def linear(p="a"):
    """jvp of a primitive linear in p: the user's call on p's tangent (np.sum(t_x, axis=0))."""
    def jvp(c):
        t = c.tangent(p)
        return None if t is None else c.replaced({p: t})
    return jvp


def multilinear(*params):
    """jvp of a primitive linear in each of params: one term a tangent (t_a @ b + a @ t_b)."""
    def jvp(c):
        return add_all(c.replaced({p: c.tangent(p)}) for p in params if c.tangent(p) is not None)
    return jvp


def _zero_element(c, key):
    """The zero tangent of an element of a list literal: 0.0 for a number, else zeros_like."""
    e = c.argument(key)
    if c.ndims.get(key[0]) == 0 or isinstance(e, ir.Const) and isinstance(e.value, (int, float)):
        return C(0.0)
    return c.zero_like(key)


def listwise(p):
    """jvp of np.concatenate([a, b]), np.array([x, y]): linear in every element of the list.

    A list literal gets each element's tangent (a zero for an inactive one); a list held
    in a variable (np.stack(hs)) gets the list of tangents.
    """
    def jvp(c):
        elements = c.arg(p)
        if not isinstance(elements, (ir.ListExpr, ir.TupleExpr)):
            return linear(p)(c)
        keys = [(p, k) for k in range(len(elements.elts))]
        if all(c.tangent(k) is None for k in keys):
            return None
        zero = {k: _zero_element(c, k) for k in keys if c.tangent(k) is None}
        return c.replaced({k: zero[k] if k in zero else c.tangent(k) for k in keys})
    return jvp
