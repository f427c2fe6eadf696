"""The rule table for NumPy's array primitives: one row a primitive.

Element-wise functions (np.sin, np.maximum, ...) are in rules.py and get their partials
from sympy.  The primitives here are not element-wise (reductions, products, shape
changes), so each row states its vector-Jacobian product directly, as IR:

    sum:     d_x += np.expand_dims(d_s, axis)       (in-place += broadcasts it back)
    matmul:  d_a += d_c @ b.T ;  d_b += a.T @ d_c   (2-D; other ranks in their own rows)

Every contribution is added in place to an adjoint that already has the primal's shape,
so a contribution only has to *broadcast* to that shape.  A row also says how many
dimensions its result has (`ndim`), for kinds.py; None means unknown.

A row's `vjp(c)` gets a VjpContext and returns (parameter, contribution) pairs; it may
first bind temporaries with `c.let`.  Where the rank of an argument is not known when
the code is generated, rows fall back on the small runtime helpers in runtime.py.

A row's `jvp(c)` is forward mode: it gets a JvpContext and returns the IR of the
result's tangent (None: zero).  Most primitives are linear, and their tangent is the
user's own call with the argument swapped for its tangent, so it reads like the line
it came from:

    s = np.sum(x, axis=0)   ->   t_s = np.sum(t_x, axis=0)
    c = a @ b               ->   t_c = t_a @ b + a @ t_b
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .. import ir


@dataclass(frozen=True)
class ArrayRule:
    attr: str                      # printed as np.<attr> (module "numpy") or <module>.<attr>
    params: tuple[str, ...]        # NumPy's parameter names, to bind positional and keyword args
    defaults: dict = field(default_factory=dict)
    ndim: Callable | None = None   # (ArgInfo) -> result ndim or None
    vjp: Callable | None = None    # (VjpContext) -> [(param, contribution)]; None: no derivative
    module: str = "numpy"
    varargs: bool = False          # the last parameter collects the remaining positional args
    result_kind: str = "array"     # "array" | "scalar" | "tuple"
    jvp: Callable | None = None    # (JvpContext) -> IR of the result's tangent, or None (zero)
    # vector mode: (JvpContext with tangents that have a leading axis of directions) -> the
    # tangent for all directions at once, or NotImplemented (forward.py then loops over them)
    batched_jvp: Callable | None = None

    @property
    def lib(self) -> ir.Lib:
        return ir.Lib(self.module, self.attr)


class _Bound:
    """Reading a primitive's bound arguments (both contexts)."""
    args: dict[str, Any]

    def arg(self, name):
        return self.args[name]

    def const(self, name):
        """The value of an argument that must be a constant (axis, keepdims)."""
        e = self.args[name]
        return e.value if isinstance(e, ir.Const) else _NOT_CONST


@dataclass
class VjpContext(_Bound):
    args: dict[str, Any]           # bound arguments (IR); varargs: a list of IR
    ndims: dict[str, Any]          # rank of each argument when known (None: unknown)
    out: ir.Expr                   # the primal result
    g: ir.Expr                     # its cotangent
    let: Callable                  # (base name, IR) -> Name of a temporary bound to it
    rule: ArrayRule


@dataclass
class JvpContext(_Bound):
    args: dict[str, Any]           # bound arguments (IR), as bind() returns them; varargs: a list
    ndims: dict[str, Any]          # rank of each argument when known (None: unknown)
    out: ir.Expr                   # the primal result, computed before the tangent
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


_NOT_CONST = object()


# ----------------------------------------------------------------------------- IR builders
def np_(attr: str, *args, **kwargs) -> ir.Call:
    return ir.Call(ir.Lib("numpy", attr), list(args), [(k, v) for k, v in kwargs.items()])


def with_args(call: ir.Call, replacements: dict[int, ir.Expr]) -> ir.Call:
    """A copy of `call` with some argument expressions swapped: id(original) -> new IR.

    The copy keeps how the user spelled the call (method, operator, keywords), so the
    tangent of `np.sum(x, axis=0)` prints as `np.sum(t_x, axis=0)`.  The new IR goes in
    as it is; everything else is copied.
    """
    return copy.deepcopy(call, memo=dict(replacements))  # deepcopy takes a seeded memo as done


def helper(name: str, *args) -> ir.Call:
    """A call to a runtime helper that the generated module carries (runtime.py)."""
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


# ----------------------------------------------------------------------------- rank rules
@dataclass
class ArgInfo:
    ndims: dict[str, Any]   # parameter -> ndim (0 for scalars) or None
    args: dict[str, Any]    # parameter -> IR

    def const(self, name):
        e = self.args.get(name)
        return e.value if isinstance(e, ir.Const) else _NOT_CONST


def _same(p="a"):
    return lambda i: i.ndims.get(p)


def _reduced(p="a"):
    def ndim(i):
        axis, keep, nd = i.const("axis"), i.const("keepdims"), i.ndims.get(p)
        if keep is True:
            return nd
        if axis is None:
            return 0
        if axis is _NOT_CONST or nd is None:
            return None
        return nd - (len(axis) if isinstance(axis, tuple) else 1)
    return ndim


def _fixed(n):
    return lambda i: n


def _matmul_ndim(i):
    a, b = i.ndims.get("a"), i.ndims.get("b")
    if a is None or b is None:
        return None
    if a == 0 or b == 0:
        return max(a, b)
    return max(a, b, 2) - (a == 1) - (b == 1)


def _shape_len(i, p="shape"):
    e = i.args.get(p)
    if isinstance(e, ir.TupleExpr) or isinstance(e, ir.ListExpr):
        return len(e.elts)
    if isinstance(e, ir.Const) and isinstance(e.value, int):
        return 1
    if isinstance(e, ir.Const) and isinstance(e.value, tuple):
        return len(e.value)
    return None


# ----------------------------------------------------------------------------- reductions
def expand(c: VjpContext, e: ir.Expr) -> ir.Expr:
    """A reduction's cotangent with the reduced axes put back (size 1), so it broadcasts."""
    axis, keep = c.const("axis"), c.const("keepdims")
    if keep is True or (axis is None and keep is not _NOT_CONST):
        return e
    if keep is _NOT_CONST:
        return helper("expand_reduced", e, c.arg("a"), c.arg("axis"), c.arg("keepdims"))
    return np_("expand_dims", e, c.arg("axis"))


def _count(c: VjpContext) -> ir.Expr:
    """How many elements each reduced value summed: x.size / result.size."""
    if c.const("axis") is None:
        return size(c.arg("a"))
    return div(size(c.arg("a")), size(c.out))


def _sum_vjp(c):
    return [("a", expand(c, c.g))]


def _mean_vjp(c):
    return [("a", div(expand(c, c.g), _count(c)))]


def _prod_vjp(c):
    # the product of the *other* elements, computed without dividing (zeros allowed)
    return [("a", mul(expand(c, c.g), helper("prod_others", c.arg("a"), c.arg("axis"))))]


def _extreme_vjp(c):
    # every element equal to the max gets an equal share (torch.amax, jax.numpy.max)
    winners = c.let("winners", ir.Compare(c.arg("a"), ["=="], [expand(c, c.out)]))
    return [("a", div(mul(expand(c, c.g), winners), _over_reduced(c, "sum", winners)))]


def _over_reduced(c, reduction: str, e):
    """`reduction` of e over the reduced axes, kept to broadcast against e; over all axes a
    number, which broadcasts the same (and compiles under numba, whose sum has no keepdims)."""
    if _is(c.arg("axis"), None):
        return np_(reduction, e)
    return np_(reduction, e, axis=c.arg("axis"), keepdims=C(True))


def _centered(c):
    """a - its mean over the reduced axes."""
    return sub(c.arg("a"), _over_reduced(c, "mean", c.arg("a")))


def _dof(c):
    ddof = c.arg("ddof")
    n = _count(c)
    return n if isinstance(ddof, ir.Const) and ddof.value == 0 else sub(n, ddof)


def _var_vjp(c):
    return [("a", div(mul(mul(C(2), expand(c, c.g)), _centered(c)), _dof(c)))]


def _std_vjp(c):
    return [("a", div(mul(expand(c, div(c.g, c.out)), _centered(c)), _dof(c)))]


def _cumsum_vjp(c):
    axis = c.arg("axis")
    if c.const("axis") is None:  # cumsum of the flattened array
        rev = np_("flip", np_("cumsum", np_("flip", c.g)))
        return [("a", np_("reshape", rev, shape(c.arg("a"))))]
    return [("a", np_("flip", np_("cumsum", np_("flip", c.g, axis), axis), axis))]


def _norm_vjp(c):
    order = c.const("ord")
    if order not in (None, "fro") and not (order == 2 and c.ndims.get("x") == 1):
        raise _unsupported(f"np.linalg.norm with ord={order!r}", "use the default 2-norm / Frobenius norm")
    c.args["a"] = c.args["x"]
    return [("x", mul(expand(c, div(c.g, c.out)), c.arg("x")))]


def _logsumexp_vjp(c):
    if not (isinstance(c.arg("b"), ir.Const) and c.arg("b").value is None):
        raise _unsupported("scipy.special.logsumexp with weights b", "multiply by exp(log b) inside instead")
    return [("a", mul(expand(c, c.g), np_("exp", sub(c.arg("a"), expand(c, c.out)))))]


class UnsupportedUse(Exception):
    """A primitive used in a form that has no rule (raised as UnsupportedCallError by reverse.py)."""

    def __init__(self, what, hint):
        super().__init__(what)
        self.what, self.hint = what, hint


def _unsupported(what, hint):
    return UnsupportedUse(what, hint)


# ----------------------------------------------------------------------------- products
def _matmul_vjp(c):
    a, b, g = c.arg("a"), c.arg("b"), c.g
    na, nb = c.ndims.get("a"), c.ndims.get("b")
    if (na, nb) == (1, 1):
        return [("a", mul(g, b)), ("b", mul(g, a))]
    if (na, nb) == (2, 1):
        return [("a", np_("outer", g, b)), ("b", matmul(T(a), g))]
    if (na, nb) == (1, 2):
        return [("a", matmul(b, g)), ("b", np_("outer", a, g))]
    if (na, nb) == (2, 2):
        return [("a", matmul(g, T(b))), ("b", matmul(T(a), g))]
    if c.rule.attr == "dot" and (na is not None and na > 2 or nb is not None and nb > 2):
        raise _unsupported("np.dot of arrays with more than 2 dimensions",
                           "use np.matmul / @ or np.tensordot, whose batching is explicit")
    grads = c.let("grads", helper("matmul_grads", g, a, b))
    return [("a", ir.Subscript(grads, C(0))), ("b", ir.Subscript(grads, C(1)))]


def _inner_vjp(c):
    if (c.ndims.get("a"), c.ndims.get("b")) == (1, 1):
        return [("a", mul(c.g, c.arg("b"))), ("b", mul(c.g, c.arg("a")))]
    grads = c.let("grads", helper("tensordot_grads", c.g, c.arg("a"), c.arg("b"),
                                  ir.TupleExpr([ir.ListExpr([C(-1)]), ir.ListExpr([C(-1)])])))
    return [("a", ir.Subscript(grads, C(0))), ("b", ir.Subscript(grads, C(1)))]


def _outer_vjp(c):
    a, b, g = c.arg("a"), c.arg("b"), c.g
    if (c.ndims.get("a"), c.ndims.get("b")) == (1, 1):
        return [("a", matmul(g, b)), ("b", matmul(a, g))]
    return [("a", np_("reshape", matmul(g, np_("ravel", b)), shape(a))),
            ("b", np_("reshape", matmul(np_("ravel", a), g), shape(b)))]


def _tensordot_vjp(c):
    grads = c.let("grads", helper("tensordot_grads", c.g, c.arg("a"), c.arg("b"), c.arg("axes")))
    return [("a", ir.Subscript(grads, C(0))), ("b", ir.Subscript(grads, C(1)))]


def _einsum_vjp(c):
    subscripts = c.args["subscripts"]
    if not (isinstance(subscripts, ir.Const) and isinstance(subscripts.value, str)):
        raise _unsupported("np.einsum with subscripts that are not a string literal",
                           "write the subscripts as a literal string")
    if "..." in subscripts.value:
        raise _unsupported("np.einsum with '...'", "name every axis in the subscripts")
    ops = c.args["operands"]
    out = []
    for k in range(len(ops)):
        contribution = helper("einsum_grad", subscripts, c.g, ir.ListExpr(list(ops)), C(k))
        out.append((("operands", k), contribution))
    return out


def _trace_vjp(c):
    if not (c.const("axis1") == 0 and c.const("axis2") == 1):
        raise _unsupported("np.trace over axes other than (0, 1)", "transpose the array first")
    a = c.arg("a")
    eye = np_("eye", ir.Subscript(shape(a), C(0)), ir.Subscript(shape(a), C(1)), k=c.arg("offset"))
    return [("a", mul(c.g, eye))]


# ----------------------------------------------------------------------------- linear algebra
def _solve_vjp(c):
    a, x = c.arg("a"), c.out
    if c.ndims.get("a") != 2 or c.ndims.get("b") not in (1, 2):
        grads = c.let("grads", helper("solve_grads", c.g, a, x))
        return [("a", ir.Subscript(grads, C(0))), ("b", ir.Subscript(grads, C(1)))]
    g_b = c.let("g_b", np_("linalg.solve", T(a), c.g))
    if c.ndims.get("b") == 1:
        d_a = neg(np_("outer", g_b, x))
    elif c.ndims.get("b") == 2 and c.ndims.get("a") == 2:
        d_a = neg(matmul(g_b, T(x)))
    else:
        d_a = neg(matmul(g_b, T(x)))
    return [("a", d_a), ("b", g_b)]


def _inv_vjp(c):
    return [("a", neg(matmul(matmul(T(c.out), c.g), T(c.out))))]


def _det_vjp(c):
    return [("a", mul(mul(c.g, c.out), T(np_("linalg.inv", c.arg("a")))))]


def _slogdet_vjp(c):
    # slogdet returns (sign, logabsdet); only logabsdet carries a derivative
    return [("a", mul(ir.Subscript(c.g, C(1)), T(np_("linalg.inv", c.arg("a")))))]


# ----------------------------------------------------------------------------- shape
def _reshape_back(p="a"):
    return lambda c: [(p, np_("reshape", c.g, shape(c.arg(p))))]


def _identity(p="a"):
    return lambda c: [(p, c.g)]


def _transpose_vjp(c):
    axes = c.arg("axes")
    if isinstance(axes, ir.Const) and axes.value is None:
        return [("a", T(c.g))]
    return [("a", np_("transpose", c.g, _inverse_permutation(axes)))]


def _method_transpose_vjp(c):
    axes = c.args["axes"]
    if not axes:
        return [("a", T(c.g))]
    order = axes[0] if len(axes) == 1 else ir.TupleExpr(list(axes))
    return [("a", np_("transpose", c.g, _inverse_permutation(order)))]


def _inverse_permutation(axes):
    """The axes that undo a transpose: written out when they are constants, as one would
    by hand, else np.argsort(axes)."""
    items = axes.elts if isinstance(axes, (ir.TupleExpr, ir.ListExpr)) else \
        [ir.Const(a) for a in axes.value] if isinstance(axes, ir.Const) and isinstance(axes.value, tuple) else None
    if items is not None and all(isinstance(a, ir.Const) and isinstance(a.value, int) for a in items):
        order = [a.value % len(items) for a in items]
        return ir.TupleExpr([C(order.index(k)) for k in range(len(order))])
    return np_("argsort", axes)


def _swapaxes_vjp(c):
    return [("a", np_("swapaxes", c.g, c.arg("axis1"), c.arg("axis2")))]


def _moveaxis_vjp(c):
    return [("a", np_("moveaxis", c.g, c.arg("destination"), c.arg("source")))]


def _broadcast_to_vjp(c):
    return [("array", helper("unbroadcast", c.g, c.arg("array")))]


def _tile_vjp(c):
    return [("A", helper("untile", c.g, c.arg("A"), c.arg("reps")))]


def _repeat_vjp(c):
    return [("a", helper("unrepeat", c.g, c.arg("a"), c.arg("repeats"), c.arg("axis")))]


def _diff_vjp(c):
    return [("a", helper("undiff", c.g, c.arg("n"), c.arg("axis")))]


def _joined(how: str):
    """concatenate / stack / hstack / vstack: each input gets its piece of the cotangent."""
    def vjp(c):
        arrays = c.args["arrays"]
        axis = c.args.get("axis", C(0))
        if isinstance(arrays, (ir.ListExpr, ir.TupleExpr)):
            parts = c.let("parts", helper("unjoin", c.g, ir.ListExpr(list(arrays.elts)), axis, C(how)))
            return [(("arrays", k), ir.Subscript(parts, C(k))) for k in range(len(arrays.elts))]
        parts = c.let("parts", helper("unjoin", c.g, arrays, axis, C(how)))
        return [("arrays", parts)]  # a list variable: element by element (reverse.py)
    return vjp


def _joined_ndim(how):
    def ndim(i):
        nd = i.ndims.get("arrays")
        if nd is None:
            return None
        if how == "stack":
            return nd + 1
        if how == "vstack":
            return max(nd, 2)
        return max(nd, 1)
    return ndim


def _array_vjp(c):
    obj = c.args["object"]
    if isinstance(obj, (ir.ListExpr, ir.TupleExpr)):
        return [(("object", k), ir.Subscript(c.g, C(k))) for k in range(len(obj.elts))]
    return [("object", c.g)]


def _array_ndim(i):
    obj = i.args.get("object")
    nd = i.ndims.get("object")
    if isinstance(obj, (ir.ListExpr, ir.TupleExpr)):
        return None if nd is None else nd + 1
    return nd


def _expand_dims_ndim(i):
    nd, axis = i.ndims.get("a"), i.const("axis")
    if nd is None or axis is _NOT_CONST:
        return None
    return nd + (len(axis) if isinstance(axis, tuple) else 1)


def _squeeze_ndim(i):
    return None


def _reshape_ndim(i):
    return _shape_len(i, "newshape")


def _method_reshape_ndim(i):
    shape_args = i.args.get("shape") or []
    if len(shape_args) == 1:
        return _shape_len(ArgInfo({}, {"s": shape_args[0]}), "s")
    return len(shape_args)


def _method_reshape_vjp(c):
    return [("a", np_("reshape", c.g, shape(c.arg("a"))))]


# ----------------------------------------------------------------------------- forward mode
def add_all(terms):
    """t1 + t2 + ...; None for no term (a zero tangent)."""
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    out = terms[0]
    for t in terms[1:]:
        out = ir.BinOp("+", out, t)
    return out


def _linear(p="a"):
    """A primitive linear in p: the user's call on p's tangent (np.sum(t_x, axis=0))."""
    def jvp(c):
        t = c.tangent(p)
        return None if t is None else c.replaced({p: t})
    return jvp


def _multilinear(*params):
    """Linear in each of params: one term a parameter with a tangent (t_a @ b + a @ t_b)."""
    def jvp(c):
        return add_all(c.replaced({p: c.tangent(p)}) for p in params if c.tangent(p) is not None)
    return jvp


def _batched_reduction(c):
    """np.sum / np.mean over all directions at once: the reduced axes move up by one."""
    shifted = _shifted_axes(c)
    if c.tangent("a") is None or shifted is NotImplemented or c.const("dtype") is not None \
            or c.const("keepdims") is _NOT_CONST:
        return NotImplemented
    kwargs = {"axis": C(shifted)}
    if c.const("keepdims") is True:
        kwargs["keepdims"] = C(True)
    return np_(c.rule.attr, c.tangent("a"), **kwargs)


def _shifted_axes(c):
    """The primitive's reduced axes for a tangent whose directions' axis comes first."""
    axis, nd = c.const("axis"), c.ndims.get("a")
    if axis is _NOT_CONST or (axis is None and nd is None):
        return NotImplemented
    if axis is None:
        return tuple(range(1, nd + 1))
    axes = axis if isinstance(axis, tuple) else (axis,)
    shifted = tuple(a + 1 if a >= 0 else a for a in axes)
    return shifted if isinstance(axis, tuple) else shifted[0]


def _batched_prod(c):
    """np.prod over all directions: the other elements' product times each tangent, summed."""
    shifted = _shifted_axes(c)
    if c.tangent("a") is None or shifted is NotImplemented or c.const("keepdims") is _NOT_CONST:
        return NotImplemented
    kwargs = {"axis": C(shifted)}
    if c.const("keepdims") is True:
        kwargs["keepdims"] = C(True)
    return np_("sum", mul(helper("prod_others", c.arg("a"), c.arg("axis")), c.tangent("a")), **kwargs)


def _batched_array(c):
    """np.array([x, y]) of numbers over all directions: the tangents stacked after the
    directions' axis; an element without one gets zeros like an element with one."""
    elements = c.arg("object")
    if not isinstance(elements, (ir.ListExpr, ir.TupleExpr)) or c.const("dtype") is not None:
        return NotImplemented
    keys = [("object", k) for k in range(len(elements.elts))]
    present = [c.tangent(k) for k in keys if c.tangent(k) is not None]
    if not present:
        return None
    parts = [c.tangent(k) if c.tangent(k) is not None else np_("zeros_like", copy.deepcopy(present[0]))
             for k in keys]
    return np_("stack", ir.ListExpr(parts), axis=C(1))


def _batched_matmul(c):
    """a @ b over all directions at once: t_a @ b broadcasts; a @ t_b needs t_b's
    directions kept first where b is a vector (t_b @ a.T)."""
    na, nb = c.ndims.get("a"), c.ndims.get("b")
    if na is None or nb is None or 0 in (na, nb) or max(na, nb) > 2:  # stacks: direction by direction
        return NotImplemented
    terms = []
    if c.tangent("a") is not None:
        terms.append(matmul(c.tangent("a"), c.arg("b")))
    if c.tangent("b") is not None:
        if nb == 2:
            terms.append(matmul(c.arg("a"), c.tangent("b")))
        else:
            terms.append(matmul(c.tangent("b"), T(c.arg("a")) if na == 2 else c.arg("a")))
    return add_all(terms)


def _einsum_jvp(c):
    keys = [("operands", k) for k in range(len(c.args["operands"]))]
    return add_all(c.replaced({k: c.tangent(k)}) for k in keys if c.tangent(k) is not None)


def _zero_element(c, key):
    """The zero tangent of an element of a list literal: 0.0 for a number, else zeros_like."""
    e = c.argument(key)
    if c.ndims.get(key[0]) == 0 or isinstance(e, ir.Const) and isinstance(e.value, (int, float)):
        return C(0.0)
    return c.zero_like(key)


def _listwise(p):
    """np.concatenate([a, b]), np.array([x, y]): linear in every element of the list.

    A list literal gets each element's tangent (a zero for an inactive one); a list held
    in a variable (np.stack(hs)) gets the list of tangents.
    """
    def jvp(c):
        elements = c.arg(p)
        if not isinstance(elements, (ir.ListExpr, ir.TupleExpr)):
            return _linear(p)(c)
        keys = [(p, k) for k in range(len(elements.elts))]
        if all(c.tangent(k) is None for k in keys):
            return None
        zero = {k: _zero_element(c, k) for k in keys if c.tangent(k) is None}
        return c.replaced({k: zero[k] if k in zero else c.tangent(k) for k in keys})
    return jvp


def _is(e, value) -> bool:
    return isinstance(e, ir.Const) and e.value is value


def _reduce(c, e, p="a"):
    """np.sum of e over the primitive's own axes (and keepdims): the result's shape."""
    kwargs = {} if _is(c.arg("axis"), None) else {"axis": c.arg("axis")}
    if not _is(c.arg("keepdims"), False):
        kwargs["keepdims"] = c.arg("keepdims")
    return np_("sum", e, **kwargs)


def _prod_jvp(c):
    t = c.tangent("a")
    return None if t is None else _reduce(c, mul(helper("prod_others", c.arg("a"), c.arg("axis")), t))


def _extreme_jvp(c):
    # the tied maxima share: the mean of their tangents (as the vjp shares the cotangent)
    t = c.tangent("a")
    if t is None:
        return None
    winners = c.let("winners", ir.Compare(c.arg("a"), ["=="], [expand(c, c.out)]))
    return div(_reduce(c, mul(winners, t)), _reduce(c, winners))


def _var_jvp(c):
    t = c.tangent("a")
    return None if t is None else div(mul(C(2), _reduce(c, mul(_centered(c), t))), _dof(c))


def _std_jvp(c):
    t = c.tangent("a")
    return None if t is None else div(_reduce(c, mul(_centered(c), t)), mul(_dof(c), c.out))


def _norm_jvp(c):
    order = c.const("ord")
    if order not in (None, "fro") and not (order == 2 and c.ndims.get("x") == 1):
        raise _unsupported(f"np.linalg.norm with ord={order!r}", "use the default 2-norm / Frobenius norm")
    t = c.tangent("x")
    return None if t is None else div(_reduce(c, mul(c.arg("x"), t), "x"), c.out)


def _logsumexp_jvp(c):
    if not _is(c.arg("b"), None):
        raise _unsupported("scipy.special.logsumexp with weights b", "multiply by exp(log b) inside instead")
    if not _is(c.arg("return_sign"), False):
        raise _unsupported("scipy.special.logsumexp with return_sign", "leave return_sign at False")
    t = c.tangent("a")
    if t is None:
        return None
    return _reduce(c, mul(np_("exp", sub(c.arg("a"), expand(c, c.out))), t))


def _solve_jvp(c):
    # x = solve(a, b):  t_x = solve(a, t_b - t_a @ x)
    t_a, t_b, x = c.tangent("a"), c.tangent("b"), c.out
    if t_a is None and t_b is None:
        return None
    na, nb = c.ndims.get("a"), c.ndims.get("b")
    if (na == 2 and nb is not None) or (na is not None and nb == na):  # b's columns are x's
        if t_a is None:
            return c.replaced({"b": t_b})
        rhs = matmul(neg(t_a), x) if t_b is None else sub(t_b, matmul(t_a, x))
        return c.replaced({"b": rhs})
    # a stack of systems, b one vector a system (or ranks unknown)
    return helper("solve_tangent", c.arg("a"), x, C(None) if t_a is None else t_a,
                  C(None) if t_b is None else t_b)


def _inv_jvp(c):
    t = c.tangent("a")
    return None if t is None else matmul(matmul(neg(c.out), t), c.out)


def _logdet_tangent(c, t):
    """d log|det a| = trace(a^-1 t_a), one trace a matrix of the stack."""
    kwargs = {} if c.ndims.get("a") == 2 else {"axis1": C(-2), "axis2": C(-1)}
    return np_("trace", np_("linalg.solve", c.arg("a"), t), **kwargs)


def _det_jvp(c):
    t = c.tangent("a")
    return None if t is None else mul(c.out, _logdet_tangent(c, t))


def _slogdet_jvp(c):
    # (sign, logabsdet): the sign is constant where it is differentiable
    t = c.tangent("a")
    return None if t is None else ir.TupleExpr([C(0.0), _logdet_tangent(c, t)])


_R = ("a", "axis", "dtype", "out", "keepdims")
_RD = {"axis": None, "dtype": None, "out": None, "keepdims": False}
_M = ("a", "axis", "out", "keepdims")
_MD = {"axis": None, "out": None, "keepdims": False}
_V = ("a", "axis", "dtype", "out", "ddof", "keepdims")
_VD = {"axis": None, "dtype": None, "out": None, "ddof": 0, "keepdims": False}


def _rows():
    r = ArrayRule
    return [
        # reductions
        r("sum", _R, _RD, _reduced(), _sum_vjp, jvp=_linear(), batched_jvp=_batched_reduction),
        r("mean", _R, _RD, _reduced(), _mean_vjp, jvp=_linear(), batched_jvp=_batched_reduction),
        r("prod", _R, _RD, _reduced(), _prod_vjp, jvp=_prod_jvp, batched_jvp=_batched_prod),
        r("max", _M, _MD, _reduced(), _extreme_vjp, jvp=_extreme_jvp),
        r("amax", _M, _MD, _reduced(), _extreme_vjp, jvp=_extreme_jvp),
        r("min", _M, _MD, _reduced(), _extreme_vjp, jvp=_extreme_jvp),
        r("amin", _M, _MD, _reduced(), _extreme_vjp, jvp=_extreme_jvp),
        r("var", _V, _VD, _reduced(), _var_vjp, jvp=_var_jvp),
        r("std", _V, _VD, _reduced(), _std_vjp, jvp=_std_jvp),
        r("cumsum", ("a", "axis", "dtype", "out"), {"axis": None, "dtype": None, "out": None},
          lambda i: 1 if i.const("axis") is None else i.ndims.get("a"), _cumsum_vjp, jvp=_linear()),
        r("linalg.norm", ("x", "ord", "axis", "keepdims"), {"ord": None, "axis": None, "keepdims": False},
          lambda i: _reduced("x")(i), _norm_vjp, jvp=_norm_jvp),
        r("logsumexp", ("a", "axis", "b", "keepdims", "return_sign"),
          {"axis": None, "b": None, "keepdims": False, "return_sign": False},
          _reduced(), _logsumexp_vjp, module="scipy.special", jvp=_logsumexp_jvp),
        # products
        r("dot", ("a", "b", "out"), {"out": None}, _matmul_ndim, _matmul_vjp, jvp=_multilinear("a", "b"),
          batched_jvp=_batched_matmul),
        r("matmul", ("a", "b"), {}, _matmul_ndim, _matmul_vjp, jvp=_multilinear("a", "b"),
          batched_jvp=_batched_matmul),
        r("inner", ("a", "b"), {}, lambda i: None if None in (i.ndims.get("a"), i.ndims.get("b"))
          else max(i.ndims["a"] + i.ndims["b"] - 2, 0), _inner_vjp, jvp=_multilinear("a", "b")),
        r("outer", ("a", "b", "out"), {"out": None}, _fixed(2), _outer_vjp, jvp=_multilinear("a", "b")),
        r("tensordot", ("a", "b", "axes"), {"axes": 2}, lambda i: None, _tensordot_vjp,
          jvp=_multilinear("a", "b")),
        r("einsum", ("subscripts", "operands"), {}, _einsum_ndim, _einsum_vjp, varargs=True, jvp=_einsum_jvp),
        r("trace", ("a", "offset", "axis1", "axis2", "dtype", "out"),
          {"offset": 0, "axis1": 0, "axis2": 1, "dtype": None, "out": None},
          lambda i: None if i.ndims.get("a") is None else i.ndims["a"] - 2, _trace_vjp, jvp=_linear()),
        # linear algebra
        r("linalg.solve", ("a", "b"), {}, _same("b"), _solve_vjp, jvp=_solve_jvp),
        r("linalg.inv", ("a",), {}, _same(), _inv_vjp, jvp=_inv_jvp),
        r("linalg.det", ("a",), {}, lambda i: None if i.ndims.get("a") is None else i.ndims["a"] - 2,
          _det_vjp, jvp=_det_jvp),
        r("linalg.slogdet", ("a",), {}, lambda i: None, _slogdet_vjp, result_kind="tuple",
          jvp=_slogdet_jvp),
        # shape
        r("reshape", ("a", "newshape", "order"), {"order": "C"}, _reshape_ndim, _reshape_back(), jvp=_linear()),
        r("ravel", ("a", "order"), {"order": "C"}, _fixed(1), _reshape_back(), jvp=_linear()),
        r("transpose", ("a", "axes"), {"axes": None}, _same(), _transpose_vjp, jvp=_linear()),
        r("swapaxes", ("a", "axis1", "axis2"), {}, _same(), _swapaxes_vjp, jvp=_linear()),
        r("moveaxis", ("a", "source", "destination"), {}, _same(), _moveaxis_vjp, jvp=_linear()),
        r("expand_dims", ("a", "axis"), {}, _expand_dims_ndim, _reshape_back(), jvp=_linear()),
        r("squeeze", ("a", "axis"), {"axis": None}, _squeeze_ndim, _reshape_back(), jvp=_linear()),
        r("broadcast_to", ("array", "shape", "subok"), {"subok": False},
          lambda i: _shape_len(i), _broadcast_to_vjp, jvp=_linear("array")),
        r("tile", ("A", "reps"), {}, lambda i: None, _tile_vjp, jvp=_linear("A")),
        r("repeat", ("a", "repeats", "axis"), {"axis": None},
          lambda i: 1 if i.const("axis") is None else i.ndims.get("a"), _repeat_vjp, jvp=_linear()),
        r("concatenate", ("arrays", "axis"), {"axis": 0}, _joined_ndim("concatenate"), _joined("concatenate"),
          jvp=_listwise("arrays")),
        r("stack", ("arrays", "axis"), {"axis": 0}, _joined_ndim("stack"), _joined("stack"),
          jvp=_listwise("arrays")),
        r("hstack", ("arrays",), {}, _joined_ndim("hstack"), _joined("hstack"), jvp=_listwise("arrays")),
        r("vstack", ("arrays",), {}, _joined_ndim("vstack"), _joined("vstack"), jvp=_listwise("arrays")),
        r("diff", ("a", "n", "axis"), {"n": 1, "axis": -1}, _same(), _diff_vjp, jvp=_linear()),
        r("copy", ("a",), {}, _same(), _identity(), jvp=_linear()),
        r("array", ("object", "dtype"), {"dtype": None}, _array_ndim, _array_vjp, jvp=_listwise("object"),
          batched_jvp=_batched_array),
        r("asarray", ("object", "dtype"), {"dtype": None}, _array_ndim, _array_vjp, jvp=_listwise("object"),
          batched_jvp=_batched_array),
    ]


def _einsum_ndim(i):
    s = i.args.get("subscripts")
    if not (isinstance(s, ir.Const) and isinstance(s.value, str)) or "..." in s.value:
        return None
    text = s.value.replace(" ", "")
    if "->" in text:
        return len(text.split("->")[1])
    letters = text.replace(",", "")
    return sum(1 for ch in set(letters) if letters.count(ch) == 1)


ARRAY_RULES: dict[Any, ArrayRule] = {}
for _rule in _rows():
    _obj = np
    try:
        if _rule.module == "scipy.special":
            import scipy.special as _obj
        for _part in _rule.attr.split("."):
            _obj = getattr(_obj, _part)
    except (ImportError, AttributeError):  # pragma: no cover - scipy absent
        continue
    ARRAY_RULES[_obj] = _rule
RULES_BY_NAME = {(r.module, r.attr): r for r in ARRAY_RULES.values()}

# Methods of ndarray: name -> (rule, how its arguments bind).  Methods whose NumPy
# signature differs from the function's (reshape(*shape), transpose(*axes)) get rows of
# their own.
METHOD_RULES: dict[str, ArrayRule] = {
    name: RULES_BY_NAME[("numpy", name)]
    for name in ("sum", "mean", "prod", "max", "min", "var", "std", "cumsum", "dot", "ravel",
                 "swapaxes", "squeeze", "repeat", "copy", "trace")
}
METHOD_RULES.update({
    "reshape": ArrayRule("reshape", ("a", "shape"), {}, _method_reshape_ndim, _method_reshape_vjp,
                         varargs=True, jvp=_linear()),
    "transpose": ArrayRule("transpose", ("a", "axes"), {}, _same(), _method_transpose_vjp, varargs=True,
                           jvp=_linear()),
    "flatten": ArrayRule("ravel", ("a", "order"), {"order": "C"}, _fixed(1), _reshape_back(), jvp=_linear()),
    "T": ArrayRule("transpose", ("a",), {}, _same(), lambda c: [("a", T(c.g))], jvp=_linear()),
    "astype": ArrayRule("astype", ("a", "dtype"), {}, _same(), _identity(), jvp=_linear()),
    "clip": None,  # element-wise: rules.py (np.clip)
})

# Constructors: their values are constants; only their rank matters.
CONSTRUCTORS = {
    np.zeros: "shape", np.ones: "shape", np.empty: "shape", np.full: "shape",
    np.zeros_like: "like", np.ones_like: "like", np.empty_like: "like", np.full_like: "like",
    np.eye: 2, np.identity: 2, np.arange: 1, np.linspace: 1,
}
# NumPy functions refused with a clear message (no rule yet): the message names them.


def lookup(obj) -> ArrayRule | None:
    try:
        return ARRAY_RULES.get(obj)
    except TypeError:  # unhashable objects have no rule
        return None


def rule_of_call(call: ir.Expr) -> ArrayRule | None:
    """The array rule of a call, or None (element-wise, user or foreign calls)."""
    if not isinstance(call, ir.Call) or not isinstance(call.func, ir.Lib):
        return None
    if call.method is not None and call.method != "@":
        return METHOD_RULES.get(call.method)
    return RULES_BY_NAME.get((call.func.module, call.func.attr))


def bind(rule: ArrayRule, call: ir.Call) -> dict:
    """The call's arguments by NumPy parameter name, defaults filled in as constants."""
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
        out["newshape" if k == "shape" and "newshape" in params else k] = v
    for p, d in rule.defaults.items():
        out.setdefault(p, ir.Const(d))
    return out
