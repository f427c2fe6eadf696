"""Linear algebra: np.linalg.solve, inv, det, slogdet.

Their rules read the result (`c.ans`): the solution x, the inverse, the determinant.
"""
from __future__ import annotations

import copy

from ... import ir
from .core import (ArrayRule, C, helper, item, matmul, mul, neg, np_, same_ndim, sub, T,
                   unknown_ndim)


def _stacked_ndim(i):
    """A matrix (or a stack of them) to a number (or a stack of numbers)."""
    return None if i.ndims.get("a") is None else i.ndims["a"] - 2


# ----------------------------------------------------------------------------- solve
def solve_vjp(c):
    # x = solve(a, b):  d_b = solve(a.T, d_x),  d_a = -d_b x.T
    a, x = c.arg("a"), c.ans
    if c.ndims.get("a") != 2 or c.ndims.get("b") not in (1, 2):  # stacks, or ranks unknown
        grads = c.let("grads", helper("solve_grads", c.g, a, x))
        return [("a", item(grads, 0)), ("b", item(grads, 1))]
    g_b = c.let("g_b", np_("linalg.solve", T(a), c.g))
    d_a = neg(np_("outer", g_b, x)) if c.ndims.get("b") == 1 else neg(matmul(g_b, T(x)))
    return [("a", d_a), ("b", g_b)]


def solve_jvp(c):
    # x = solve(a, b):  t_x = solve(a, t_b - t_a @ x)
    t_a, t_b, x = c.tangent("a"), c.tangent("b"), c.ans
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


SOLVE = ArrayRule("linalg.solve", params=("a", "b"), ndim=same_ndim("b"), vjp=solve_vjp, jvp=solve_jvp)


def mT(c, e):
    """The transpose of each matrix: e.T for a matrix, its last two axes swapped for a stack."""
    return T(e) if c.ndims.get("a") == 2 else np_("swapaxes", e, C(-1), C(-2))


# ----------------------------------------------------------------------------- inv
def inv_vjp(c):  # d_a = -inv.T @ d_inv @ inv.T (each matrix of a stack)
    return [("a", neg(matmul(matmul(mT(c, c.ans), c.g), mT(c, c.ans))))]


def inv_jvp(c):  # t_inv = -inv @ t_a @ inv
    t = c.tangent("a")
    return None if t is None else matmul(matmul(neg(c.ans), t), c.ans)


INV = ArrayRule("linalg.inv", params=("a",), ndim=same_ndim(), vjp=inv_vjp, jvp=inv_jvp)


# ----------------------------------------------------------------------------- det, slogdet
def det_vjp(c):
    """d_a = d_det * cofactor(a) (det(a) inv(a).T where a is invertible, and defined where it
    is singular, as in PyTorch and JAX); a stack: each d_det over its matrix's two axes."""
    cof = helper("cofactor", c.arg("a"))
    if c.ndims.get("a") == 2:
        return [("a", mul(c.g, cof))]
    return [("a", mul(np_("expand_dims", c.g, C((-2, -1))), cof))]


def det_jvp(c):  # t_det = sum(cofactor(a) * t_a) over each matrix
    t = c.tangent("a")
    if t is None:
        return None
    kwargs = {} if c.ndims.get("a") == 2 else {"axis": C((-2, -1))}
    return np_("sum", mul(helper("cofactor", c.arg("a")), t), **kwargs)


DET = ArrayRule("linalg.det", params=("a",), ndim=_stacked_ndim, vjp=det_vjp, jvp=det_jvp)


def _inverse_transposed(c) -> ir.Expr:
    """inv(a).T as cofactor(a) / det(a), det from slogdet's own result (sign * exp(logabsdet)):
    at a singular matrix (logabsdet = -inf) it is inf or nan, as the function's -inf
    suggests, where inv(a) would raise."""
    det = mul(ir.Subscript(copy.deepcopy(c.ans), C(0)), np_("exp", ir.Subscript(copy.deepcopy(c.ans), C(1))))
    if c.ndims.get("a") != 2:
        det = np_("expand_dims", det, C((-2, -1)))
    return ir.BinOp("/", helper("cofactor", c.arg("a")), det)


def slogdet_vjp(c):
    # slogdet returns (sign, logabsdet); only logabsdet carries a derivative
    g = ir.Subscript(c.g, C(1))
    if c.ndims.get("a") != 2:
        g = np_("expand_dims", g, C((-2, -1)))
    return [("a", mul(g, _inverse_transposed(c)))]


def slogdet_jvp(c):
    # the sign is constant where it is differentiable; d log|det a| = sum(inv(a).T * t_a)
    t = c.tangent("a")
    if t is None:
        return None
    kwargs = {} if c.ndims.get("a") == 2 else {"axis": C((-2, -1))}
    return ir.TupleExpr([C(0.0), np_("sum", mul(_inverse_transposed(c), t), **kwargs)])


SLOGDET = ArrayRule("linalg.slogdet", params=("a",), ndim=unknown_ndim, result_kind="tuple",
                    vjp=slogdet_vjp, jvp=slogdet_jvp)


ROWS = (SOLVE, INV, DET, SLOGDET)
METHODS: dict = {}
