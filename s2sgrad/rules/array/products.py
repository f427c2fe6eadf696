"""Products: matmul (and @), dot, inner, outer, cross, tensordot, einsum.

Each is linear in every operand, so its tangent is one call a tangent (t_a @ b + a @ t_b);
its cotangents are the same products with the other operand (2-D: d_a += d_c @ b.T).
"""
from __future__ import annotations

import copy

from ... import ir
from .core import (ArrayRule, C, RankUnknown, UnsupportedUse, add_all, fixed_ndim, helper, item, matmul,
                   multilinear, mul, np_, shape, T, unknown_ndim)


# ----------------------------------------------------------------------------- matmul, dot
def matmul_ndim(i):
    a, b = i.ndims.get("a"), i.ndims.get("b")
    if a is None or b is None:
        return None
    if a == 0 or b == 0:
        return max(a, b)
    return max(a, b, 2) - (a == 1) - (b == 1)


def _numbers(c):
    """np.dot with a number is multiplication; matmul (@) of a number raises in NumPy, so it
    is refused where the rank says so (rather than an AxisError from the derivative)."""
    na, nb = c.ndims.get("a"), c.ndims.get("b")
    if 0 not in (na, nb):
        return False
    if c.rule.attr != "dot":  # a rank the kinds guessed before a call waits for the call's
        raise RankUnknown("matmul (@) of a number", "@ needs arrays: multiply numbers with *")
    return True


def matmul_vjp(c):
    a, b, g = c.arg("a"), c.arg("b"), c.g
    na, nb = c.ndims.get("a"), c.ndims.get("b")
    if _numbers(c):  # np.dot(number, x) is number * x
        d_a = mul(g, b) if nb == 0 else np_("sum", mul(g, b))
        d_b = mul(g, a) if na == 0 else np_("sum", mul(g, a))
        return [("a", d_a), ("b", d_b)]
    if (na, nb) == (1, 1):
        return [("a", mul(g, b)), ("b", mul(g, a))]
    if (na, nb) == (2, 1):
        return [("a", np_("outer", g, b)), ("b", matmul(T(a), g))]
    if (na, nb) == (1, 2):
        return [("a", matmul(b, g)), ("b", np_("outer", a, g))]
    if (na, nb) == (2, 2):
        return [("a", matmul(g, T(b))), ("b", matmul(T(a), g))]
    if c.rule.attr == "dot" and (na is not None and na > 2 or nb is not None and nb > 2):
        raise UnsupportedUse("np.dot of arrays with more than 2 dimensions",
                             "use np.matmul / @ or np.tensordot, whose batching is explicit")
    grads = c.let("grads", helper("matmul_grads", g, a, b))  # stacks, or ranks unknown
    return [("a", item(grads, 0)), ("b", item(grads, 1))]


def matmul_jvp(c):
    _numbers(c)
    return multilinear("a", "b")(c)


def matmul_batched_jvp(c):
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


MATMUL = ArrayRule("matmul", params=("a", "b"), ndim=matmul_ndim, vjp=matmul_vjp,
                   jvp=matmul_jvp, batched_jvp=matmul_batched_jvp)
DOT = ArrayRule("dot", params=("a", "b", "out"), defaults={"out": None}, ndim=matmul_ndim,
                vjp=matmul_vjp, jvp=matmul_jvp, batched_jvp=matmul_batched_jvp)


# ----------------------------------------------------------------------------- inner, outer
def inner_vjp(c):
    if (c.ndims.get("a"), c.ndims.get("b")) == (1, 1):
        return [("a", mul(c.g, c.arg("b"))), ("b", mul(c.g, c.arg("a")))]
    last = ir.TupleExpr([ir.ListExpr([C(-1)]), ir.ListExpr([C(-1)])])  # the last axes contract
    grads = c.let("grads", helper("tensordot_grads", c.g, c.arg("a"), c.arg("b"), last))
    return [("a", item(grads, 0)), ("b", item(grads, 1))]


INNER = ArrayRule("inner", params=("a", "b"),
                  ndim=lambda i: None if None in (i.ndims.get("a"), i.ndims.get("b"))
                  else max(i.ndims["a"] + i.ndims["b"] - 2, 0),
                  vjp=inner_vjp, jvp=multilinear("a", "b"))


def outer_vjp(c):
    a, b, g = c.arg("a"), c.arg("b"), c.g
    if (c.ndims.get("a"), c.ndims.get("b")) == (1, 1):
        return [("a", matmul(g, b)), ("b", matmul(a, g))]
    return [("a", np_("reshape", matmul(g, np_("ravel", b)), shape(a))),  # outer flattens
            ("b", np_("reshape", matmul(np_("ravel", a), g), shape(b)))]


OUTER = ArrayRule("outer", params=("a", "b", "out"), defaults={"out": None}, ndim=fixed_ndim(2),
                  vjp=outer_vjp, jvp=multilinear("a", "b"))


# ----------------------------------------------------------------------------- cross
def cross_vjp(c):
    grads = c.let("grads", helper("cross_grads", c.g, c.arg("a"), c.arg("b")))
    return [("a", item(grads, 0)), ("b", item(grads, 1))]


# axisa=, axisb=, axisc=, axis= are not taken (refused where written): the last axis only;
# the rank is left to the call (two 2-vectors give a number each)
CROSS = ArrayRule("cross", params=("a", "b"), ndim=unknown_ndim, vjp=cross_vjp, jvp=multilinear("a", "b"))


# ----------------------------------------------------------------------------- tensordot
def tensordot_vjp(c):
    grads = c.let("grads", helper("tensordot_grads", c.g, c.arg("a"), c.arg("b"), c.arg("axes")))
    return [("a", item(grads, 0)), ("b", item(grads, 1))]


TENSORDOT = ArrayRule("tensordot", params=("a", "b", "axes"), defaults={"axes": 2}, ndim=unknown_ndim,
                      vjp=tensordot_vjp, jvp=multilinear("a", "b"))


# ----------------------------------------------------------------------------- einsum
def einsum_ndim(i):
    s = i.args.get("subscripts")
    if not (isinstance(s, ir.Const) and isinstance(s.value, str)) or "..." in s.value:
        return None
    text = s.value.replace(" ", "")
    if "->" in text:
        return len(text.split("->")[1])
    letters = text.replace(",", "")
    return sum(1 for ch in set(letters) if letters.count(ch) == 1)  # implicit: the letters seen once


def einsum_vjp(c):
    subscripts = c.args["subscripts"]
    if not (isinstance(subscripts, ir.Const) and isinstance(subscripts.value, str)):
        raise UnsupportedUse("np.einsum with subscripts that are not a string literal",
                             "write the subscripts as a literal string")
    if "..." in subscripts.value:
        raise UnsupportedUse("np.einsum with '...'", "name every axis in the subscripts")
    ops = c.args["operands"]
    # without the call's optimize=, the helper decides by the operands' sizes
    optimize = [c.args["optimize"]] if "optimize" in c.args else []
    return [(("operands", k), helper("einsum_grad", subscripts, c.g, ir.ListExpr(list(ops)), C(k),
                                     *copy.deepcopy(optimize)))
            for k in range(len(ops))]


def einsum_jvp(c):
    keys = [("operands", k) for k in range(len(c.args["operands"]))]
    return add_all(c.replaced({k: c.tangent(k)}) for k in keys if c.tangent(k) is not None)


# optimize= changes how NumPy orders the contraction, not its value: the tangent keeps it
# (the call is copied), the cotangents' contractions take it too
EINSUM = ArrayRule("einsum", params=("subscripts", "operands"), varargs=True, ndim=einsum_ndim,
                   vjp=einsum_vjp, jvp=einsum_jvp, keyword_only=("optimize",))


ROWS = (MATMUL, DOT, INNER, OUTER, CROSS, TENSORDOT, EINSUM)
METHODS = {"dot": DOT}
