"""Arrays built from values: np.array, np.asarray (of a list of numbers or arrays), np.copy.

(Constructors whose values are constants — np.zeros, np.eye, np.arange — have no
derivative: they are scalar rules of kind ZERO, and analysis/kinds.py knows their ranks.)
"""
from __future__ import annotations

import copy

from ... import ir
from .core import ArrayRule, C, identity_vjp, linear, listwise, np_, same_ndim


def array_ndim(p):
    def ndim(i):
        obj, nd = i.args.get(p), i.ndims.get(p)
        if isinstance(obj, (ir.ListExpr, ir.TupleExpr)):
            return None if nd is None else nd + 1  # np.array([x, y]): one axis more than x
        return nd
    return ndim


def array_vjp(p):
    """Element k of a list literal gets d_out[k]; an array passes its cotangent unchanged."""
    def vjp(c):
        obj = c.args[p]
        if isinstance(obj, (ir.ListExpr, ir.TupleExpr)):
            return [((p, k), ir.Subscript(c.g, C(k))) for k in range(len(obj.elts))]
        return [(p, c.g)]
    return vjp


def array_batched_jvp(p):
    """np.array([x, y]) of numbers over all directions: the tangents stacked after the
    directions' axis; an element without one gets zeros like an element with one."""
    def batched(c):
        elements = c.arg(p)
        if not isinstance(elements, (ir.ListExpr, ir.TupleExpr)) or c.const("dtype") is not None:
            return NotImplemented
        keys = [(p, k) for k in range(len(elements.elts))]
        present = [c.tangent(k) for k in keys if c.tangent(k) is not None]
        if not present:
            return None
        parts = [c.tangent(k) if c.tangent(k) is not None else np_("zeros_like", copy.deepcopy(present[0]))
                 for k in keys]
        return np_("stack", ir.ListExpr(parts), axis=C(1))
    return batched


def _array_row(attr, p):
    return ArrayRule(attr, params=(p, "dtype"), defaults={"dtype": None}, ndim=array_ndim(p),
                     vjp=array_vjp(p), jvp=listwise(p), batched_jvp=array_batched_jvp(p))


ARRAY = _array_row("array", "object")
ASARRAY = _array_row("asarray", "a")

COPY = ArrayRule("copy", params=("a",), ndim=same_ndim(), vjp=identity_vjp(), jvp=linear())


ROWS = (ARRAY, ASARRAY, COPY)
METHODS = {"copy": COPY}
