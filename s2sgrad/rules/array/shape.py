"""Shape changes: reshape, ravel, transpose, swapaxes, moveaxis, expand_dims, squeeze,
atleast_1d/2d/3d, broadcast_to, tile, repeat, flip, roll, joining arrays (concatenate,
stack, hstack, vstack), and picking elements out: triu, tril, diagonal, sort.

All are linear: the tangent is the user's call on the tangent, and the cotangent goes
back through the inverse rearrangement (d_x += np.reshape(d_y, np.shape(x))).
"""
from __future__ import annotations

from ... import ir
from .core import (ArgInfo, ArrayRule, C, NOT_CONST, T, UnsupportedUse, fixed_ndim, helper, identity_vjp, is_const,
                   linear, listwise, neg, np_, same_ndim, shape, unknown_ndim)


def reshape_back(p="a"):
    """The cotangent reshaped to the input's shape, in the same index order (order="F"
    reads and writes elements column first, so its reverse does too)."""
    def vjp(c):
        order = c.args.get("order")
        if order is None or (isinstance(order, ir.Const) and order.value == "C"):
            return [(p, np_("reshape", c.g, shape(c.arg(p))))]
        return [(p, np_("reshape", c.g, shape(c.arg(p)), order=order))]
    return vjp


def _shape_len(i, p="shape"):
    """The length of a shape argument written in the call, or None."""
    e = i.args.get(p)
    if isinstance(e, (ir.TupleExpr, ir.ListExpr)):
        return len(e.elts)
    if isinstance(e, ir.Const) and isinstance(e.value, int):
        return 1
    if isinstance(e, ir.Const) and isinstance(e.value, tuple):
        return len(e.value)
    return None


# ----------------------------------------------------------------------------- reshape, ravel
RESHAPE = ArrayRule("reshape", params=("a", "shape", "order"), defaults={"order": "C"},
                    aliases={"newshape": "shape"},  # NumPy < 2.1 spells it newshape
                    ndim=_shape_len, vjp=reshape_back(), jvp=linear())


def method_reshape_ndim(i):
    shape_args = i.args.get("shape") or []
    if len(shape_args) == 1:  # x.reshape((2, 3))
        return _shape_len(ArgInfo({}, {"shape": shape_args[0]}))
    return len(shape_args)    # x.reshape(2, 3)


METHOD_RESHAPE = ArrayRule("reshape", params=("a", "shape"), varargs=True, ndim=method_reshape_ndim,
                           vjp=reshape_back(), jvp=linear())

RAVEL = ArrayRule("ravel", params=("a", "order"), defaults={"order": "C"}, ndim=fixed_ndim(1),
                  vjp=reshape_back(), jvp=linear())


# ----------------------------------------------------------------------------- transpose
def _inverse_permutation(axes):
    """The axes that undo a transpose: written out when they are constants, as one would
    by hand, else np.argsort(axes)."""
    items = axes.elts if isinstance(axes, (ir.TupleExpr, ir.ListExpr)) else \
        [ir.Const(a) for a in axes.value] if isinstance(axes, ir.Const) and isinstance(axes.value, tuple) else None
    if items is not None and all(isinstance(a, ir.Const) and isinstance(a.value, int) for a in items):
        order = [a.value % len(items) for a in items]
        return ir.TupleExpr([C(order.index(k)) for k in range(len(order))])
    return np_("argsort", axes)


def transpose_vjp(c):
    axes = c.arg("axes")
    if isinstance(axes, ir.Const) and axes.value is None:
        return [("a", T(c.g))]
    return [("a", np_("transpose", c.g, _inverse_permutation(axes)))]


TRANSPOSE = ArrayRule("transpose", params=("a", "axes"), defaults={"axes": None}, ndim=same_ndim(),
                      vjp=transpose_vjp, jvp=linear())


def method_transpose_vjp(c):
    axes = c.args["axes"]  # x.transpose(1, 0) or x.transpose((1, 0))
    if not axes:
        return [("a", T(c.g))]
    order = axes[0] if len(axes) == 1 else ir.TupleExpr(list(axes))
    return [("a", np_("transpose", c.g, _inverse_permutation(order)))]


METHOD_TRANSPOSE = ArrayRule("transpose", params=("a", "axes"), varargs=True, ndim=same_ndim(),
                             vjp=method_transpose_vjp, jvp=linear())
PROPERTY_T = ArrayRule("transpose", params=("a",), ndim=same_ndim(),
                       vjp=lambda c: [("a", T(c.g))], jvp=linear())


def swapaxes_vjp(c):
    return [("a", np_("swapaxes", c.g, c.arg("axis1"), c.arg("axis2")))]


SWAPAXES = ArrayRule("swapaxes", params=("a", "axis1", "axis2"), ndim=same_ndim(),
                     vjp=swapaxes_vjp, jvp=linear())


def moveaxis_vjp(c):
    return [("a", np_("moveaxis", c.g, c.arg("destination"), c.arg("source")))]


MOVEAXIS = ArrayRule("moveaxis", params=("a", "source", "destination"), ndim=same_ndim(),
                     vjp=moveaxis_vjp, jvp=linear())


# ----------------------------------------------------------------------------- expand_dims, squeeze
def expand_dims_ndim(i):
    nd, axis = i.ndims.get("a"), i.const("axis")
    if nd is None or axis is NOT_CONST:
        return None
    return nd + (len(axis) if isinstance(axis, tuple) else 1)


EXPAND_DIMS = ArrayRule("expand_dims", params=("a", "axis"), ndim=expand_dims_ndim,
                        vjp=reshape_back(), jvp=linear())
SQUEEZE = ArrayRule("squeeze", params=("a", "axis"), defaults={"axis": None}, ndim=unknown_ndim,
                    vjp=reshape_back(), jvp=linear())


def atleast_ndim(n):
    return lambda i: None if i.ndims.get("arys") is None else max(i.ndims["arys"], n)


def _atleast_row(n):
    """np.atleast_<n>d of one array (several return a tuple: refused as an extra argument)."""
    return ArrayRule(f"atleast_{n}d", params=("arys",), ndim=atleast_ndim(n),
                     vjp=reshape_back("arys"), jvp=linear("arys"))


ATLEAST_1D, ATLEAST_2D, ATLEAST_3D = _atleast_row(1), _atleast_row(2), _atleast_row(3)


# ----------------------------------------------------------------------------- broadcast_to, tile, repeat
def broadcast_to_vjp(c):
    return [("array", helper("unbroadcast", c.g, c.arg("array")))]


BROADCAST_TO = ArrayRule("broadcast_to", params=("array", "shape", "subok"), defaults={"subok": False},
                         ndim=_shape_len, vjp=broadcast_to_vjp, jvp=linear("array"))


def tile_vjp(c):
    return [("A", helper("untile", c.g, c.arg("A"), c.arg("reps")))]


TILE = ArrayRule("tile", params=("A", "reps"), ndim=unknown_ndim, vjp=tile_vjp, jvp=linear("A"))


def repeat_vjp(c):
    return [("a", helper("unrepeat", c.g, c.arg("a"), c.arg("repeats"), c.arg("axis")))]


REPEAT = ArrayRule("repeat", params=("a", "repeats", "axis"), defaults={"axis": None},
                   ndim=lambda i: 1 if i.const("axis") is None else i.ndims.get("a"),
                   vjp=repeat_vjp, jvp=linear())


# ----------------------------------------------------------------------------- flip
# (cumsum's adjoint flips: with this row that code is differentiable again)
def flip_vjp(c):
    return [("m", np_("flip", c.g, c.arg("axis")))]


FLIP = ArrayRule("flip", params=("m", "axis"), defaults={"axis": None}, ndim=same_ndim("m"),
                 vjp=flip_vjp, jvp=linear("m"))


def _negated(c, p):
    """-shift for np.roll's adjoint: a number negated, a tuple element by element."""
    e = c.arg(p)
    if isinstance(e, (ir.TupleExpr, ir.ListExpr)):
        return ir.TupleExpr([neg(x) for x in e.elts])
    if isinstance(e, ir.Const) and isinstance(e.value, tuple):
        return C(tuple(-v for v in e.value))
    return neg(e) if c.ndims.get(p) == 0 else np_("negative", e)


def roll_vjp(c):
    """Rolled back by the opposite shift (over the same axes, or the flattened array)."""
    axis = c.arg("axis")
    if is_const(axis, None):
        return [("a", np_("roll", c.g, _negated(c, "shift")))]
    return [("a", np_("roll", c.g, _negated(c, "shift"), axis))]


ROLL = ArrayRule("roll", params=("a", "shift", "axis"), defaults={"axis": None}, ndim=same_ndim(),
                 vjp=roll_vjp, jvp=linear())


# ----------------------------------------------------------------------------- triu, tril, diagonal
def triangle_ndim(i):
    """np.triu of a vector is the matrix of its rows repeated, then masked."""
    nd = i.ndims.get("m")
    return None if nd is None else max(nd, 2)


def triangle_vjp(c):
    """The mask again (it is its own adjoint); for a vector, the rows summed back into it."""
    kept = np_(c.rule.attr, c.g, c.arg("k"))
    if c.ndims.get("m") is not None and c.ndims["m"] >= 2:
        return [("m", kept)]
    return [("m", helper("unbroadcast", kept, c.arg("m")))]


TRIU = ArrayRule("triu", params=("m", "k"), defaults={"k": 0}, ndim=triangle_ndim,
                 vjp=triangle_vjp, jvp=linear("m"))
TRIL = ArrayRule("tril", params=("m", "k"), defaults={"k": 0}, ndim=triangle_ndim,
                 vjp=triangle_vjp, jvp=linear("m"))


def diagonal_vjp(c):
    """The cotangent written back on the diagonal of zeros shaped like a."""
    return [("a", helper("undiagonal", c.g, c.arg("a"), c.arg("offset"), c.arg("axis1"), c.arg("axis2")))]


DIAGONAL = ArrayRule("diagonal", params=("a", "offset", "axis1", "axis2"),
                     defaults={"offset": 0, "axis1": 0, "axis2": 1},
                     ndim=lambda i: None if i.ndims.get("a") is None or i.ndims["a"] < 2 else i.ndims["a"] - 1,
                     vjp=diagonal_vjp, jvp=linear())


# ----------------------------------------------------------------------------- sort
# The sorted array is a permutation of a: each element's derivative moves with it.  Tied
# elements (equal values) take their sorted places in NumPy's stable order (the first
# occurrence first); any order of ties gives the same values, this one is the rule.
def _refuse_order(c):
    if not is_const(c.arg("order"), None):
        raise UnsupportedUse("np.sort with order= (fields of a structured array)", "sort a plain array")


def _stable_order(c):
    return c.let("order", np_("argsort", c.arg("a"), kind=C("mergesort")))  # mergesort: stable


def _sorts_a_vector(c):
    return c.ndims.get("a") == 1 and c.const("axis") in (None, 0, -1)


def sort_vjp(c):
    """Each sorted place's cotangent back to where its element came from."""
    _refuse_order(c)
    if _sorts_a_vector(c):  # d_a[order] = g: g read through the inverse permutation
        return [("a", ir.Subscript(c.g, np_("argsort", _stable_order(c))))]
    return [("a", helper("unsort", c.g, c.arg("a"), c.arg("axis")))]


def sort_jvp(c):
    _refuse_order(c)
    t = c.tangent("a")
    if t is None:
        return None
    if _sorts_a_vector(c):
        return ir.Subscript(t, _stable_order(c))
    return helper("sort_like", t, c.arg("a"), c.arg("axis"))


SORT = ArrayRule("sort", params=("a", "axis", "kind", "order"), defaults={"axis": -1, "kind": None, "order": None},
                 ndim=lambda i: 1 if i.const("axis") is None else i.ndims.get("a"),
                 vjp=sort_vjp, jvp=sort_jvp)


# ----------------------------------------------------------------------------- joining arrays
def _refuse_flattened(c):
    if c.rule.attr == "concatenate" and c.const("axis") is None:
        raise UnsupportedUse("np.concatenate with axis=None",
                             "concatenate the raveled arrays: np.concatenate([np.ravel(a), ...])")


def joined_jvp(p):
    inner = listwise(p)

    def jvp(c):
        _refuse_flattened(c)
        return inner(c)
    return jvp


def joined_vjp(how: str, p: str = "arrays"):
    """concatenate / stack / hstack / vstack: each input gets its piece of the cotangent."""
    def vjp(c):
        _refuse_flattened(c)
        arrays = c.args[p]
        axis = c.args.get("axis", C(0))
        if isinstance(arrays, (ir.ListExpr, ir.TupleExpr)):
            parts = c.let("parts", helper("unjoin", c.g, ir.ListExpr(list(arrays.elts)), axis, C(how)))
            return [((p, k), ir.Subscript(parts, C(k))) for k in range(len(arrays.elts))]
        parts = c.let("parts", helper("unjoin", c.g, arrays, axis, C(how)))
        return [(p, parts)]  # a list variable: added element by element (reverse mode)
    return vjp


def joined_ndim(how: str, p: str = "arrays"):
    def ndim(i):
        nd = i.ndims.get(p)
        if how == "concatenate" and i.const("axis") is None:
            return 1  # axis=None: the arrays raveled first
        if nd is None:
            return None
        if how == "stack":
            return nd + 1
        if how == "vstack":
            return max(nd, 2)
        return max(nd, 1)
    return ndim


CONCATENATE = ArrayRule("concatenate", params=("arrays", "axis"), defaults={"axis": 0},
                        ndim=joined_ndim("concatenate"), vjp=joined_vjp("concatenate"),
                        jvp=joined_jvp("arrays"))
STACK = ArrayRule("stack", params=("arrays", "axis"), defaults={"axis": 0},
                  ndim=joined_ndim("stack"), vjp=joined_vjp("stack"), jvp=listwise("arrays"))
HSTACK = ArrayRule("hstack", params=("tup",), ndim=joined_ndim("hstack", "tup"),
                   vjp=joined_vjp("hstack", "tup"), jvp=listwise("tup"))
VSTACK = ArrayRule("vstack", params=("tup",), ndim=joined_ndim("vstack", "tup"),
                   vjp=joined_vjp("vstack", "tup"), jvp=listwise("tup"))


# ----------------------------------------------------------------------------- astype
ASTYPE = ArrayRule("astype", params=("a", "dtype"), ndim=same_ndim(), vjp=identity_vjp(), jvp=linear())


ROWS = (RESHAPE, RAVEL, TRANSPOSE, SWAPAXES, MOVEAXIS, EXPAND_DIMS, SQUEEZE, ATLEAST_1D, ATLEAST_2D,
        ATLEAST_3D, BROADCAST_TO, TILE, REPEAT, FLIP, ROLL, TRIU, TRIL, DIAGONAL, SORT, CONCATENATE, STACK,
        HSTACK, VSTACK)
# ndarray methods; those whose signature differs from the function's have rows of their own
METHODS = {"reshape": METHOD_RESHAPE, "transpose": METHOD_TRANSPOSE, "T": PROPERTY_T,
           "ravel": RAVEL, "flatten": RAVEL, "swapaxes": SWAPAXES, "squeeze": SQUEEZE,
           "repeat": REPEAT, "astype": ASTYPE, "diagonal": DIAGONAL}
