"""Reductions and scans: sum, mean, prod, max/min, var, std, norm, logsumexp, trace,
cumsum, diff.

A reduction's cotangent has the reduced axes removed; `expand` puts them back (size 1)
so it broadcasts against the input:

    s = np.sum(x, axis=1)   ->   d_x += np.expand_dims(d_s, 1)
"""
from __future__ import annotations

import copy
from dataclasses import replace

from ... import ir
from .core import (NOT_CONST, ArrayRule, held_list, C, RankUnknown, UnsupportedUse, div, helper, is_const, linear, listwise, mul,
                   np_, same_ndim, shape, size, sub)


# ----------------------------------------------------------------------------- shared
def reduced_ndim(p="a"):
    """The rank after reducing p over `axis` (keepdims kept)."""
    def ndim(i):
        axis, keep, nd = i.const("axis"), i.const("keepdims"), i.ndims.get(p)
        if keep is True:
            return nd
        if axis is None:
            return 0
        if axis is NOT_CONST or nd is None:
            return None
        if isinstance(i.args.get(p), (ir.ListExpr, ir.TupleExpr)) or held_list(i.ndims, p):
            nd += 1  # np.sum([x, y], axis=0): the list is the first axis
        removed = len(axis) if isinstance(axis, tuple) else 1
        # fewer axes than reduced ones: the kinds are a guess (x of np.sum(x**2, axis=0),
        # before any call, is guessed a number); the rank is then not known
        return nd - removed if nd >= removed else None
    return ndim


def expand(c, e: ir.Expr) -> ir.Expr:
    """A reduction's cotangent with the reduced axes put back (size 1), so it broadcasts."""
    axis, keep = c.const("axis"), c.const("keepdims")
    if keep is True or (axis is None and keep is not NOT_CONST):
        return e
    if keep is NOT_CONST:
        return helper("expand_reduced", e, c.arg("a"), c.arg("axis"), c.arg("keepdims"))
    if axis is not NOT_CONST and reduced_ndim()(c) == 0:
        return e  # every axis reduced: a number, which broadcasts (numba's expand_dims takes arrays)
    return np_("expand_dims", e, c.arg("axis"))


def reduce_like(c, e):
    """np.sum of e over the primitive's own axes (and keepdims): the result's shape."""
    kwargs = {} if is_const(c.arg("axis"), None) else {"axis": c.arg("axis")}
    if not is_const(c.arg("keepdims"), False):
        kwargs["keepdims"] = c.arg("keepdims")
    return np_("sum", e, **kwargs)


def _over_reduced(c, reduction: str, e):
    """`reduction` of e over the reduced axes, kept to broadcast against e; over all axes a
    number, which broadcasts the same (and compiles under numba, whose sum has no keepdims)."""
    if is_const(c.arg("axis"), None):
        return np_(reduction, e)
    return np_(reduction, e, axis=c.arg("axis"), keepdims=C(True))


def _count(c) -> ir.Expr:
    """How many elements each reduced value summed: x.size / result.size."""
    if c.const("axis") is None:
        return size(c.arg("a"))
    return div(size(c.arg("a")), size(c.ans))


def _shifted_axes(c):
    """The reduced axes for a tangent whose directions' axis comes first (vector mode)."""
    axis, nd = c.const("axis"), c.ndims.get("a")
    if axis is NOT_CONST or (axis is None and nd is None):
        return NotImplemented
    if axis is None:
        return tuple(range(1, nd + 1))
    axes = axis if isinstance(axis, tuple) else (axis,)
    shifted = tuple(a + 1 if a >= 0 else a for a in axes)
    return shifted if isinstance(axis, tuple) else shifted[0]


def _batched(c, reduction: str, e):
    """`reduction` of e (a tangent with the directions' axis first) over the primitive's
    axes moved up by one, or NotImplemented where they are not known."""
    shifted = _shifted_axes(c)
    if shifted is NotImplemented or c.const("keepdims") is NOT_CONST:
        return NotImplemented
    if shifted == () and reduction in ("sum", "mean", "max", "min", "prod"):
        return e  # a reduction of a number: each direction's tangent as it is (numba has no axis=())
    kwargs = {"axis": C(shifted)}
    if c.const("keepdims") is True:
        kwargs["keepdims"] = C(True)
    return np_(reduction, e, **kwargs)


R_PARAMS = ("a", "axis", "dtype", "out", "keepdims")
R_DEFAULTS = {"axis": None, "dtype": None, "out": None, "keepdims": False}


# ----------------------------------------------------------------------------- sum, mean
def _list_literal(c):
    """The elements of np.sum([x, y]) / np.mean([x, y]), or None for an array argument.
    Over all axes (or axis 0, the list's own) each element gets the cotangent; other
    axes and keepdims are refused."""
    e = c.args["a"]
    listed = held_list(c.ndims, "a")
    if not (listed or isinstance(e, (ir.ListExpr, ir.TupleExpr))):
        return None
    if c.const("axis") not in (None, 0) or not is_const(c.arg("keepdims"), False):
        raise UnsupportedUse(f"np.{c.rule.attr} of a list with an axis other than None or 0, or keepdims",
                             "make the list an array first: np.array([...]) or np.stack([...])")
    return e if listed else e.elts


def _spread(c):
    """A list variable's cotangent, indexable by element: g broadcast to np.shape(xs)."""
    return np_("broadcast_to", c.g, shape(c.arg("a")))


def sum_vjp(c):
    elements = _list_literal(c)
    if isinstance(elements, ir.Name):
        return [("a", _spread(c))]
    if elements is not None:
        return [(("a", k), c.g) for k in range(len(elements))]
    return [("a", expand(c, c.g))]


def batched_linear_reduction(c):
    """np.sum / np.mean over all directions at once: the reduced axes move up by one."""
    if c.tangent("a") is None or c.const("dtype") is not None or \
            isinstance(c.args["a"], (ir.ListExpr, ir.TupleExpr)) or held_list(c.ndims, "a"):
        return NotImplemented
    return _batched(c, c.rule.attr, c.tangent("a"))


SUM = ArrayRule("sum", params=R_PARAMS, defaults=R_DEFAULTS, ndim=reduced_ndim(),
                vjp=sum_vjp, jvp=lambda c: linear_reduction_jvp(c), batched_jvp=batched_linear_reduction)


def mean_vjp(c):
    elements = _list_literal(c)
    if isinstance(elements, ir.Name):
        return [("a", div(_spread(c), _count(c)))]
    if elements is not None:  # each element's share: 1 / (len * its size), or 1 / len along axis 0
        n = C(len(elements))
        return [(("a", k), div(c.g, n if c.const("axis") == 0 else mul(n, size(copy.deepcopy(x)))))
                for k, x in enumerate(elements)]
    return [("a", div(expand(c, c.g), _count(c)))]


def linear_reduction_jvp(c):
    """np.sum / np.mean: linear, in every element of a list too (np.sum([t_x, t_y]))."""
    _list_literal(c)
    return listwise("a")(c)


MEAN = ArrayRule("mean", params=R_PARAMS, defaults=R_DEFAULTS, ndim=reduced_ndim(),
                 vjp=mean_vjp, jvp=linear_reduction_jvp, batched_jvp=batched_linear_reduction)


# ----------------------------------------------------------------------------- prod
def _others(c):
    """The product of the *other* elements, computed without dividing (zeros allowed)."""
    return helper("prod_others", c.arg("a"), c.arg("axis"))


def prod_vjp(c):
    return [("a", mul(expand(c, c.g), _others(c)))]


def prod_jvp(c):
    t = c.tangent("a")
    return None if t is None else reduce_like(c, mul(_others(c), t))


def prod_batched_jvp(c):
    """The other elements' product times each direction's tangent, summed."""
    if c.tangent("a") is None:
        return NotImplemented
    return _batched(c, "sum", mul(_others(c), c.tangent("a")))


PROD = ArrayRule("prod", params=R_PARAMS, defaults=R_DEFAULTS, ndim=reduced_ndim(),
                 vjp=prod_vjp, jvp=prod_jvp, batched_jvp=prod_batched_jvp)


# ----------------------------------------------------------------------------- max, min
# Every element equal to the extreme gets an equal share (torch.amax, jax.numpy.max).
def _winners(c):
    return c.let("winners", ir.Compare(c.arg("a"), ["=="], [expand(c, c.ans)]))


def extreme_vjp(c):
    winners = _winners(c)
    # the share (a float) first: g = -1 folds to -(share), never to -winners (a bool array)
    return [("a", mul(expand(c, c.g), div(winners, _over_reduced(c, "sum", winners))))]


def extreme_jvp(c):
    # the tied extremes share: the mean of their tangents
    t = c.tangent("a")
    if t is None:
        return None
    winners = _winners(c)
    return div(reduce_like(c, mul(winners, t)), reduce_like(c, winners))


MAX = ArrayRule("max", params=("a", "axis", "out", "keepdims"),
                defaults={"axis": None, "out": None, "keepdims": False},
                ndim=reduced_ndim(), vjp=extreme_vjp, jvp=extreme_jvp)
AMAX = replace(MAX, attr="amax")
MIN = replace(MAX, attr="min")
AMIN = replace(MAX, attr="amin")


# ----------------------------------------------------------------------------- var, std
def _centered(c):
    """a - its mean over the reduced axes."""
    return sub(c.arg("a"), _over_reduced(c, "mean", c.arg("a")))


def _dof(c):
    ddof = c.arg("ddof")
    n = _count(c)
    return n if isinstance(ddof, ir.Const) and ddof.value == 0 else sub(n, ddof)


def var_vjp(c):
    return [("a", div(mul(mul(C(2), expand(c, c.g)), _centered(c)), _dof(c)))]


def var_jvp(c):
    t = c.tangent("a")
    return None if t is None else div(mul(C(2), reduce_like(c, mul(_centered(c), t))), _dof(c))


V_PARAMS = ("a", "axis", "dtype", "out", "ddof", "keepdims")
V_DEFAULTS = {"axis": None, "dtype": None, "out": None, "ddof": 0, "keepdims": False}
VAR = ArrayRule("var", params=V_PARAMS, defaults=V_DEFAULTS, ndim=reduced_ndim(),
                vjp=var_vjp, jvp=var_jvp)


def std_vjp(c):  # d std = d var / (2 std)
    return [("a", div(mul(expand(c, div(c.g, c.ans)), _centered(c)), _dof(c)))]


def std_jvp(c):
    t = c.tangent("a")
    return None if t is None else div(reduce_like(c, mul(_centered(c), t)), mul(_dof(c), c.ans))


STD = ArrayRule("std", params=V_PARAMS, defaults=V_DEFAULTS, ndim=reduced_ndim(),
                vjp=std_vjp, jvp=std_jvp)


# ----------------------------------------------------------------------------- norm
def _check_norm_order(c):
    order = c.const("ord")
    if order == 2 and c.ndims.get("x") is None:  # a vector's 2-norm, or a matrix's?
        raise RankUnknown("np.linalg.norm with ord=2 of an array of unknown rank",
                          "the 2-norm of a vector has a rule once a call shows x is 1-D; ord=None "
                          "is the same norm for a vector and is known before any call")
    if order not in (None, "fro") and not (order == 2 and c.ndims.get("x") == 1):
        raise UnsupportedUse(f"np.linalg.norm with ord={order!r}", "use the default 2-norm / Frobenius norm")


def _nonzero_norm(c):
    """|x|, with 1 where it is 0: d |x| = x / |x| is then 0 at the zero vector, the
    subgradient PyTorch and JAX give (x is 0 there, so x / 1 is 0)."""
    return ir.BinOp("+", c.ans, ir.Compare(copy.deepcopy(c.ans), ["=="], [C(0.0)]))


def norm_vjp(c):  # d |x| = x / |x|
    _check_norm_order(c)
    c.args["a"] = c.args["x"]  # expand() reads the input as "a"
    return [("x", mul(expand(c, div(c.g, _nonzero_norm(c))), c.arg("x")))]


def norm_jvp(c):
    _check_norm_order(c)
    t = c.tangent("x")
    return None if t is None else div(reduce_like(c, mul(c.arg("x"), t)), _nonzero_norm(c))


NORM = ArrayRule("linalg.norm", params=("x", "ord", "axis", "keepdims"),
                 defaults={"ord": None, "axis": None, "keepdims": False},
                 ndim=reduced_ndim("x"), vjp=norm_vjp, jvp=norm_jvp)


# ----------------------------------------------------------------------------- logsumexp
def _softmax(c):
    """exp(a - logsumexp(a)): the derivative of logsumexp, read from its result."""
    return np_("exp", sub(c.arg("a"), expand(c, c.ans)))


def _refuse_weights(c):
    if not is_const(c.arg("b"), None):
        raise UnsupportedUse("scipy.special.logsumexp with weights b", "multiply by exp(log b) inside instead")


def _refuse_sign(c):
    if not is_const(c.arg("return_sign"), False):
        raise UnsupportedUse("scipy.special.logsumexp with return_sign", "leave return_sign at False")


def logsumexp_vjp(c):
    _refuse_weights(c)
    _refuse_sign(c)
    return [("a", mul(expand(c, c.g), _softmax(c)))]


def logsumexp_jvp(c):
    _refuse_weights(c)
    _refuse_sign(c)
    t = c.tangent("a")
    return None if t is None else reduce_like(c, mul(_softmax(c), t))


LOGSUMEXP = ArrayRule("logsumexp", module="scipy.special",
                      params=("a", "axis", "b", "keepdims", "return_sign"),
                      defaults={"axis": None, "b": None, "keepdims": False, "return_sign": False},
                      ndim=reduced_ndim(), vjp=logsumexp_vjp, jvp=logsumexp_jvp)


# ----------------------------------------------------------------------------- trace
def trace_vjp(c):
    if not (c.const("axis1") == 0 and c.const("axis2") == 1):
        raise UnsupportedUse("np.trace over axes other than (0, 1)", "transpose the array first")
    a = c.arg("a")
    eye = np_("eye", ir.Subscript(shape(a), C(0)), ir.Subscript(shape(a), C(1)), k=c.arg("offset"))
    return [("a", mul(c.g, eye))]


TRACE = ArrayRule("trace", params=("a", "offset", "axis1", "axis2", "dtype", "out"),
                  defaults={"offset": 0, "axis1": 0, "axis2": 1, "dtype": None, "out": None},
                  ndim=lambda i: None if i.ndims.get("a") is None or i.ndims["a"] < 2 else i.ndims["a"] - 2,
                  vjp=trace_vjp, jvp=linear())


# ----------------------------------------------------------------------------- cumsum, diff
def cumsum_vjp(c):
    """The cotangent summed from the end: flip, cumsum, flip back."""
    axis = c.arg("axis")
    if c.const("axis") is None:  # cumsum of the flattened array
        rev = np_("flip", np_("cumsum", np_("flip", c.g)))
        return [("a", np_("reshape", rev, shape(c.arg("a"))))]
    return [("a", np_("flip", np_("cumsum", np_("flip", c.g, axis), axis), axis))]


CUMSUM = ArrayRule("cumsum", params=("a", "axis", "dtype", "out"),
                   defaults={"axis": None, "dtype": None, "out": None},
                   ndim=lambda i: 1 if i.const("axis") is None else i.ndims.get("a"),
                   vjp=cumsum_vjp, jvp=linear())


def diff_vjp(c):
    return [("a", helper("undiff", c.g, c.arg("n"), c.arg("axis")))]


DIFF = ArrayRule("diff", params=("a", "n", "axis"), defaults={"n": 1, "axis": -1},
                 ndim=same_ndim(), vjp=diff_vjp, jvp=linear())


ROWS = (SUM, MEAN, PROD, MAX, AMAX, MIN, AMIN, VAR, STD, NORM, LOGSUMEXP, TRACE, CUMSUM, DIFF)
METHODS = {"sum": SUM, "mean": MEAN, "prod": PROD, "max": MAX, "min": MIN, "var": VAR,
           "std": STD, "cumsum": CUMSUM, "trace": TRACE}
