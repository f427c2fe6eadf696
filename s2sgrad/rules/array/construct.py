"""Arrays built from values: np.array, np.asarray (of a list of numbers or arrays), np.copy,
np.full and np.full_like (every element the fill value), and the ranges np.linspace
(start + (stop - start) * k / (num - 1)) and np.arange (start + k * step).

(Constructors whose values are constants — np.zeros, np.eye, np.ones_like — have no
derivative: they are scalar rules of kind ZERO, and analysis/kinds.py knows their ranks.)
"""
from __future__ import annotations

import copy

from ... import ir
from .core import ArrayRule, C, UnsupportedUse, held_list, helper, identity_vjp, is_const, linear, listwise, np_, same_ndim


def array_ndim(p):
    def ndim(i):
        obj, nd = i.args.get(p), i.ndims.get(p)
        if isinstance(obj, (ir.ListExpr, ir.TupleExpr)) or held_list(i.ndims, p):
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


# ----------------------------------------------------------------------------- full, full_like
def _shape_ndim(i, p="shape"):
    """The rank of an array of the shape written in the call (a tuple, a number), or None."""
    e, nd = i.args.get(p), i.ndims.get(p)
    if isinstance(e, (ir.TupleExpr, ir.ListExpr)):
        return len(e.elts)
    if isinstance(e, ir.Const) and isinstance(e.value, tuple):
        return len(e.value)
    if nd == 0:
        return 1
    return None


def _refuse_fill_dtype(c):
    if not is_const(c.arg("dtype"), None):
        raise UnsupportedUse(f"np.{c.rule.attr} with dtype= and a fill value carrying a derivative",
                             "leave dtype out (the fill value's own type), or cast the result")


def fill_vjp(c):
    """Every element is the fill value: it gets the cotangent summed down to its own shape."""
    _refuse_fill_dtype(c)
    if c.ndims.get("fill_value") == 0:
        return [("fill_value", np_("sum", c.g))]
    return [("fill_value", helper("unbroadcast", c.g, c.arg("fill_value")))]


def fill_jvp(c):
    """The same constructor, filled with the fill value's tangent."""
    _refuse_fill_dtype(c)
    t = c.tangent("fill_value")
    return None if t is None else c.replaced({"fill_value": t})


FULL = ArrayRule("full", params=("shape", "fill_value", "dtype", "order"),
                 defaults={"dtype": None, "order": "C"}, ndim=_shape_ndim, vjp=fill_vjp, jvp=fill_jvp)


def _full_like_ndim(i):
    if not (isinstance(i.args.get("shape"), ir.Const) and i.args["shape"].value is None):
        return _shape_ndim(i)
    return i.ndims.get("a")


FULL_LIKE = ArrayRule("full_like", params=("a", "fill_value", "dtype", "order", "subok", "shape"),
                      defaults={"dtype": None, "order": "K", "subok": True, "shape": None},
                      ndim=_full_like_ndim, vjp=fill_vjp, jvp=fill_jvp)


# ----------------------------------------------------------------------------- linspace, arange
def _refuse_range_options(c, numbers=("start", "stop")):
    """Ranges of numbers, as returned: array ends (one range per element), retstep= and
    dtype= have no rule."""
    name = c.rule.attr
    for p in numbers:
        if c.ndims.get(p) not in (0, None) or isinstance(c.args.get(p), (ir.ListExpr, ir.TupleExpr)):
            raise UnsupportedUse(f"np.{name} with an array `{p}` carrying a derivative",
                                 f"build the ranges from a number each, or as start + (stop - start) * t "
                                 f"with t = np.{name}(0.0, 1.0, ...)")
    if not is_const(c.args.get("dtype", C(None)), None):
        raise UnsupportedUse(f"np.{name} with dtype= and an end carrying a derivative",
                             "leave dtype out, or cast the result")
    if name == "linspace" and not is_const(c.args.get("retstep"), False):
        raise UnsupportedUse("np.linspace with retstep=True and an end carrying a derivative",
                             "compute the step as (stop - start) / (num - 1)")


def _fractions(c) -> ir.Expr:
    """k / (num - 1) (k / num without the endpoint): where each point lies between the ends."""
    num = copy.deepcopy(c.args["num"])
    if is_const(c.args["endpoint"], True):  # (written without endpoint=, which numba lacks)
        return c.let("fractions", np_("linspace", C(0.0), C(1.0), num))
    if is_const(c.args["endpoint"], False):
        return c.let("fractions", ir.BinOp("/", np_("arange", num), copy.deepcopy(num)))
    return c.let("fractions", np_("linspace", C(0.0), C(1.0), num, endpoint=copy.deepcopy(c.args["endpoint"])))


def linspace_vjp(c):
    _refuse_range_options(c)
    t = _fractions(c)
    return [("start", np_("sum", ir.BinOp("*", c.g, ir.BinOp("-", C(1.0), t)))),
            ("stop", np_("sum", ir.BinOp("*", c.g, copy.deepcopy(t))))]


def linspace_jvp(c):
    _refuse_range_options(c)
    t = _fractions(c)
    terms = []
    if c.tangent("start") is not None:
        terms.append(ir.BinOp("*", c.tangent("start"), ir.BinOp("-", C(1.0), t)))
    if c.tangent("stop") is not None:
        terms.append(ir.BinOp("*", c.tangent("stop"), copy.deepcopy(t)))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else ir.BinOp("+", terms[0], terms[1])


LINSPACE = ArrayRule("linspace", params=("start", "stop", "num", "endpoint", "retstep", "dtype", "axis"),
                     defaults={"num": 50, "endpoint": True, "retstep": False, "dtype": None, "axis": 0},
                     ndim=lambda i: 1, vjp=linspace_vjp, jvp=linspace_jvp)


def _arange_counts(c) -> ir.Expr:
    """0, 1, 2, ...: how many steps each element is from start."""
    return c.let("steps", np_("arange", np_("size", copy.deepcopy(c.ans))))


def _arange_stop_only(c) -> bool:
    """np.arange(stop): 0, 1, ..., whatever stop is (bound to `start`, NumPy's first name)."""
    return is_const(c.args.get("stop"), None)


def arange_vjp(c):
    """start + k * step: start gets every element's cotangent, step k of element k's;
    stop only decides how many there are (no derivative, but where it is an element's end)."""
    if _arange_stop_only(c):
        return []
    _refuse_range_options(c, ("start", "stop", "step"))
    return [("start", np_("sum", c.g)),
            ("step", np_("sum", ir.BinOp("*", c.g, _arange_counts(c))))]


def arange_jvp(c):
    if _arange_stop_only(c):
        return None
    _refuse_range_options(c, ("start", "stop", "step"))
    terms = []
    if c.tangent("start") is not None:
        terms.append(ir.BinOp("*", c.tangent("start"), np_("ones_like", copy.deepcopy(c.ans), dtype=ir.Lib("builtins", "float"))))
    if c.tangent("step") is not None:
        terms.append(ir.BinOp("*", c.tangent("step"), _arange_counts(c)))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else ir.BinOp("+", terms[0], terms[1])


ARANGE = ArrayRule("arange", params=("start", "stop", "step", "dtype"),
                   defaults={"stop": None, "step": 1, "dtype": None},
                   ndim=lambda i: 1, vjp=arange_vjp, jvp=arange_jvp)


ROWS = (ARRAY, ASARRAY, COPY, FULL, FULL_LIKE, LINSPACE, ARANGE)
METHODS = {"copy": COPY}
