"""Derivative rules for the runtime helpers (runtime/helpers.py), so generated code can be
differentiated again: grad of grad, vjp of grad, and forward over reverse.

Generated array code calls the helpers, and the generated module carries a copy of
each.  Their bodies use what s2sgrad does not differentiate (comprehensions, shapes
computed at run time), so a helper is a primitive with a row here, like np.sum in
array/reductions.py: the frontend finds a helper's copy by its name and by the file its
code came from (a generated module), and lowers a call to it as `runtime.<name>(...)`.

Most helpers are the adjoint of a linear NumPy operation, so they are linear in their
cotangent argument `g`: their adjoint is that operation again, and their tangent is
the helper applied to g's tangent.  matmul_grads and tensordot_grads are bilinear:

    d_a, d_b = matmul_grads(g, a, b)      # d_a = g @ b.T,  d_b = a.T @ g
    # adjoint, with cotangents c_a, c_b for d_a, d_b:
    d_g += c_a @ b + a @ c_b ;  d_a += matmul_grads(g, a, c_b)[0] ;  d_b += matmul_grads(g, c_a, b)[1]

add_at(d_x, index, g) adds into d_x in place (np.add.at): it is a statement, which
reverse mode reverses itself (ReverseMode.adjoint_add_at), and whose tangent is the same
statement on tangents, add_at(t_d_x, index, t_g) (ForwardMode.tangent_add_at).
"""
from __future__ import annotations

import copy

from .. import ir
from ..runtime import helpers as runtime
from .array.core import (ArrayRule, C, T, UnsupportedUse, add_all, helper, matmul, mul, np_, same_ndim,
                         sub, unknown_ndim)

GENERATED_FILE_PREFIX = "<s2sgrad generated"


def lookup(obj) -> ArrayRule | None:
    """The row of a runtime helper's copy in a generated module (or of the helper itself)."""
    name = getattr(obj, "__name__", None)
    if name not in RUNTIME_RULES:
        return None
    if obj is getattr(runtime, name, None):
        return RUNTIME_RULES[name]
    code = getattr(obj, "__code__", None)
    if code is not None and code.co_filename.startswith(GENERATED_FILE_PREFIX):
        return RUNTIME_RULES[name]
    return None


def is_add_at(s: ir.Stmt) -> bool:
    """`add_at(d_x, index, g)`: a statement that adds into d_x in place."""
    return isinstance(s, ir.ExprStmt) and s.kind == "expr" and isinstance(s.expr, ir.Call) \
        and isinstance(s.expr.func, ir.Lib) and (s.expr.func.module, s.expr.func.attr) == ("runtime", "add_at")


def _copy(e):
    return copy.deepcopy(e)


def _unsupported_second(helper_name, primitive):
    """A helper whose own derivative is not written yet: a second derivative through
    `primitive` stops with an error at the helper's line of the generated code."""
    def rule(c):
        raise UnsupportedUse(f"{helper_name} (the adjoint of {primitive} in generated code)",
                             f"a second derivative through {primitive} is not available yet; "
                             f"differentiate once, or write the computation without {primitive}.")
    return rule


def _tangent_code_only(helper_name):
    """A helper of tangent code: derivatives of jvp's output are not generated."""
    def rule(c):
        raise UnsupportedUse(f"{helper_name} (a helper of forward-mode code)",
                             "tangent code is not differentiated again; differentiate the function "
                             "itself (s2sgrad.hessian and hvp are forward over reverse).")
    return rule


# ----------------------------------------------------------------------------- linear in g
def _linear_in_g(adjoint, g="g"):
    """A helper linear in its cotangent g: vjp `d_g += adjoint(c)`, jvp the helper on t_g."""
    def vjp(c):
        return [(g, adjoint(c))]

    def jvp(c):
        t = c.tangent(g)
        if t is None:
            return None
        call = _copy(c.call)
        call.args[list(c.rule.params).index(g)] = t
        return call
    return vjp, jvp


_unbroadcast = _linear_in_g(lambda c: np_("broadcast_to", c.g, np_("shape", c.arg("g"))))
_expand_reduced = _linear_in_g(lambda c: np_("reshape", c.g, np_("shape", c.arg("g"))))
_untile = _linear_in_g(lambda c: np_("tile", c.g, c.arg("reps")))
_unrepeat = _linear_in_g(lambda c: np_("reshape", np_("repeat", c.g, c.arg("repeats"), c.arg("axis")),
                                       np_("shape", c.arg("g"))))
_undiff = _linear_in_g(lambda c: np_("diff", c.g, c.arg("n"), c.arg("axis")))
_undiagonal = _linear_in_g(lambda c: np_("diagonal", c.g, c.arg("offset"), c.arg("axis1"), c.arg("axis2")))
# unsort and sort_like are each other's adjoint (a permutation and its inverse)
_unsort = _linear_in_g(lambda c: helper("sort_like", c.g, c.arg("a"), c.arg("axis")))
_sort_like = _linear_in_g(lambda c: helper("unsort", c.g, c.arg("a"), c.arg("axis")), "t")


def _unjoin_adjoint(c):
    """unjoin splits g into one piece per input; its adjoint joins the pieces' cotangents."""
    how = c.const("how")
    if how in ("hstack", "vstack"):
        return np_(how, c.g)
    if how in ("concatenate", "stack"):
        return np_(how, c.g, axis=c.arg("axis"))
    raise UnsupportedUse("unjoin with a join not written as a literal", "")


_unjoin = _linear_in_g(_unjoin_adjoint)


# ----------------------------------------------------------------------------- bilinear
def _bilinear(name, forward):
    """matmul_grads / tensordot_grads: (g, a, b) -> (d_a, d_b), bilinear in (g, b) and (g, a).

    `forward(x, y, c)` is the product the helper is the adjoint of (x @ y)."""
    def vjp(c):
        extra = [c.arg("axes")] if "axes" in c.rule.params else []
        c_a, c_b = ir.Subscript(c.g, C(0)), ir.Subscript(c.g, C(1))
        g, a, b = c.arg("g"), c.arg("a"), c.arg("b")
        return [("g", ir.BinOp("+", forward(c_a, _copy(b), c), forward(_copy(a), _copy(c_b), c))),
                ("a", ir.Subscript(helper(name, _copy(g), _copy(a), _copy(c_b), *map(_copy, extra)), C(0))),
                ("b", ir.Subscript(helper(name, _copy(g), _copy(c_a), _copy(b), *map(_copy, extra)), C(1)))]

    def jvp(c):
        params = list(c.rule.params)
        parts = []
        for k, factors in ((0, ("g", "b")), (1, ("g", "a"))):  # d_a is bilinear in (g, b)
            terms = []
            for p in factors:
                if c.tangent(p) is not None:
                    call = _copy(c.call)
                    call.args[params.index(p)] = _copy(c.tangent(p))
                    terms.append(ir.Subscript(call, C(k)))
            parts.append(add_all(terms) or np_("zeros_like", ir.Subscript(_copy(c.ans), C(k))))
        return ir.TupleExpr(parts)
    return vjp, jvp


_matmul_grads = _bilinear("matmul_grads", lambda x, y, c: matmul(x, y))
_cross_grads = _bilinear("cross_grads", lambda x, y, c: np_("cross", x, y))
_tensordot_grads = _bilinear("tensordot_grads", lambda x, y, c: np_("tensordot", x, y, _copy(c.arg("axes"))))


# ----------------------------------------------------------------------------- constants
def _no_derivative(c):
    return []  # the result does not depend differentiably on the arguments (zeros)


def _zero_tangent(c):
    return None


def _add_at_jvp(c):
    """add_at adds into its first argument: the tangent is the same statement on tangents,
    add_at(t_d_x, index, t_g); forward mode emits it in place of the primal's."""
    t_x, t_g = c.tangent("d_x"), c.tangent("g")
    if t_x is None or t_g is None:
        return None
    call = _copy(c.call)
    call.args[0], call.args[2] = t_x, t_g
    return call


def _add_at_vjp(c):
    raise AssertionError("add_at is a statement: reverse mode reverses it (ReverseMode.adjoint_add_at)")


def _batched_unbroadcast(c):
    """unbroadcast over all directions at once: each direction summed down to x's shape."""
    t = c.tangent("g")
    if t is None:
        return None
    return helper("unbroadcast_directions", t, _copy(c.arg("x")))


def _row(name, params, ndim, vjp, jvp, **kw):
    return ArrayRule(name, module="runtime", params=params, ndim=ndim, vjp=vjp, jvp=jvp, **kw)


def _helper_of_tangent_code(name, params):
    """A helper of tangent code (forward mode): tangent code is not differentiated again."""
    return _row(name, params, unknown_ndim, _tangent_code_only(name), _tangent_code_only(name))


def _second_unsupported(name, params, primitive, ndim=unknown_ndim, **kw):
    """A helper whose own derivative is not written yet, in both modes."""
    return _row(name, params, ndim, _unsupported_second(name, primitive),
                _unsupported_second(name, primitive), **kw)


def _mT(c, e):
    return T(e) if c.ndims.get("a") == 2 else np_("swapaxes", e, C(-1), C(-2))


def _per_matrix_sum(c, e):
    """sum(e) over each matrix, kept to broadcast against it."""
    if c.ndims.get("a") == 2:
        return np_("sum", e)
    return np_("sum", e, axis=C((-2, -1)), keepdims=C(True))


def _cofactor_vjp(c):
    """cofactor(a) = det(a) inv(a).T (a of full rank): with M = inv(a).T and H the cotangent,
    d_a = det(a) (sum(H * M) M - M H.T M), each matrix of a stack."""
    a = c.arg("a")
    m = c.let("inv_t", _mT(c, np_("linalg.inv", _copy(a))))
    d = np_("linalg.det", _copy(a))
    if c.ndims.get("a") != 2:
        d = np_("expand_dims", d, C((-2, -1)))
    h = c.g
    return [("a", mul(d, sub(mul(_per_matrix_sum(c, mul(h, m)), m), matmul(matmul(m, _mT(c, h)), m))))]


def _cofactor_jvp(c):
    """t_cofactor = cofactor sum(M * t_a) - M t_a.T cofactor, M = inv(a).T (each matrix)."""
    t = c.tangent("a")
    if t is None:
        return None
    m = c.let("inv_t", _mT(c, np_("linalg.inv", _copy(c.arg("a")))))
    return sub(mul(c.ans, _per_matrix_sum(c, mul(m, t))), matmul(matmul(m, _mT(c, t)), c.ans))


ROWS = (
    _row("cofactor", ("a",), same_ndim("a"), _cofactor_vjp, _cofactor_jvp),
    _row("unbroadcast", ("g", "x"), same_ndim("x"), *_unbroadcast, batched_jvp=_batched_unbroadcast),
    _row("expand_reduced", ("g", "x", "axis", "keepdims"), unknown_ndim, *_expand_reduced),
    _second_unsupported("prod_others", ("x", "axis"), "np.prod", ndim=same_ndim("x")),
    _row("matmul_grads", ("g", "a", "b"), unknown_ndim, *_matmul_grads, result_kind="tuple"),
    _row("tensordot_grads", ("g", "a", "b", "axes"), unknown_ndim, *_tensordot_grads, result_kind="tuple"),
    _row("cross_grads", ("g", "a", "b"), unknown_ndim, *_cross_grads, result_kind="tuple"),
    _second_unsupported("solve_grads", ("g", "a", "x"), "np.linalg.solve", result_kind="tuple"),
    _second_unsupported("einsum_grad", ("subscripts", "g", "operands", "k", "optimize"), "np.einsum"),
    _row("untile", ("g", "a", "reps"), same_ndim("a"), *_untile),
    _row("unrepeat", ("g", "a", "repeats", "axis"), same_ndim("a"), *_unrepeat),
    _row("undiff", ("g", "n", "axis"), same_ndim("g"), *_undiff),
    _row("unjoin", ("g", "arrays", "axis", "how"), unknown_ndim, *_unjoin, result_kind="tuple"),
    _row("undiagonal", ("g", "a", "offset", "axis1", "axis2"), same_ndim("a"), *_undiagonal),
    _row("unsort", ("g", "a", "axis"), same_ndim("a"), *_unsort),
    _row("sort_like", ("t", "a", "axis"), unknown_ndim, *_sort_like),
    _row("add_at", ("d_x", "index", "g"), unknown_ndim, _add_at_vjp, _add_at_jvp),
    _row("zeros_list", ("xs",), unknown_ndim, _no_derivative, _zero_tangent, result_kind="tuple"),
    _row("zero_tangents", ("xs", "n_dirs"), unknown_ndim, _no_derivative, _zero_tangent, result_kind="tuple"),
    *(_helper_of_tangent_code(name, params) for name, params in [
        ("solve_tangent", ("a", "x", "t_a", "t_b")), ("tangent_like", ("t", "arrays")),
        ("lift_directions", ("t", "x", "ndim")), ("direction", ("ts", "j")),
        ("transpose_directions", ("t",)), ("unbroadcast_directions", ("t", "x"))]),
)

RUNTIME_RULES: dict[str, ArrayRule] = {row.attr: row for row in ROWS}
assert set(RUNTIME_RULES) == set(runtime.__all__), "every runtime helper needs a row here"
