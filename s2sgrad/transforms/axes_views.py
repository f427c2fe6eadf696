"""np.transpose with axes, np.moveaxis and np.swapaxes for the numba target: calls of the
runtime helpers of the same names, which numba compiles as views made from the array's
shape and strides (runtime/numba.py).

numba's own implementations of these three take seconds each to compile (np.moveaxis
of a matrix about ten), in every generated module that calls one, which the adjoints
of transposes, moveaxis, swapaxes and np.flip along an axis all do.  The helpers give
the same views and raise where NumPy raises (axes that are not a permutation, an axis
out of bounds).  `x.T` and `np.transpose(x)` stay: numba compiles those fast.
"""
from __future__ import annotations

import copy
import dataclasses

from .. import ir

_HELPERS = {"transpose": "transpose_axes", "moveaxis": "moveaxis", "swapaxes": "swapaxes"}
_ARGUMENTS = {"transpose": ("a", "axes"), "moveaxis": ("a", "source", "destination"),
              "swapaxes": ("a", "axis1", "axis2")}


def as_views(fn: ir.Function) -> ir.Function:
    """A copy of fn whose transposes with axes, moveaxis and swapaxes call the helpers."""
    fn = copy.deepcopy(fn)
    for s in ir.walk_stmts(fn.body):
        for f in dataclasses.fields(s):
            value = getattr(s, f.name)
            if isinstance(value, ir.Expr):
                setattr(s, f.name, _rewritten(value))
            elif isinstance(value, list) and value and all(isinstance(v, ir.Expr) for v in value):
                setattr(s, f.name, [_rewritten(v) for v in value])
    return fn


def _rewritten(e: ir.Expr) -> ir.Expr:
    e = ir.map_children(e, _rewritten)
    if not (isinstance(e, ir.Call) and isinstance(e.func, ir.Lib) and e.func.module == "numpy"
            and e.func.attr in _HELPERS):
        return e
    args = _positional(e)
    if args is None:
        return e
    return ir.Call(ir.Lib("runtime", _HELPERS[e.func.attr]), args)


def _positional(e: ir.Call) -> list[ir.Expr] | None:
    """The call's arguments in the helper's order, or None for a form it does not take
    (np.transpose(x): numba's is fast; x.transpose(1, 0, 2): the axes as a tuple)."""
    names = _ARGUMENTS[e.func.attr]
    args = list(e.args)
    if e.func.attr == "transpose" and len(args) > 2:  # x.transpose(1, 0): the axes one by one
        args = [args[0], ir.TupleExpr(args[1:])]
    given = dict(zip(names, args))
    for key, value in e.kwargs:
        if key not in names or key in given:
            return None
        given[key] = value
    if len(given) != len(names):
        return None
    return [given[n] for n in names]
