"""Closure under differentiation: the code s2sgrad generates is itself in the subset it
differentiates, so grad of grad (of grad ...) works, loops and tapes included.

Oracles: sympy derivatives of the same computation unrolled (the loops' trip counts and
branch decisions taken from running the function), scipy's Rosenbrock Hessian, and
central differences of the first derivative (for the corpus and the NumPy op table).

Second derivatives that stop with an error, for an honest reason, and so are left out of
the property tests below:
- through np.prod, np.einsum, np.linalg.solve: their adjoints use the runtime helpers
  prod_others, einsum_grad and solve_grads, whose own derivatives are not written yet
  (an UnsupportedCallError at the helper's line of the generated code; tested below).
Every scalar corpus function is twice differentiable by s2sgrad at its test points.
"""
import copy
import inspect
import math
import os
import sys
import zlib

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import rosen_der, rosen_hess, rosen_hess_prod

import s2sgrad
from s2sgrad.rules import runtime_helpers as runtime_rules
from s2sgrad.runtime import helpers as runtime
from s2sgrad.errors import NonScalarOutputError, UnsupportedCallError

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/: the shared helper modules
import corpus  # noqa: E402
import numpy_ops  # noqa: E402

X = sp.Symbol("x")


def _derivatives(expr, x_value, orders):
    out, d = [], expr
    for k in range(1, max(orders) + 1):
        d = sp.diff(d, X)
        if k in orders:
            out.append(float(sp.lambdify(X, d, "math")(x_value)))
    return out


def _value(expr, x_value):
    return float(expr.subs(X, x_value))


# --- scalar functions with loops, against sympy ---------------------------------------

def recurrence(x, n):
    s = 0.0
    for i in range(n):
        s = s * math.sin(x) + x
    return s


def recurrence_sym(n):
    s = sp.Float(0)
    for i in range(n):
        s = s * sp.sin(X) + X
    return s


def growth_while(x):
    s = 1.0
    while s < 40.0:
        s = s * x + math.exp(0.1 * x)
    return s


def growth_while_sym(x_value):
    s = sp.Float(1)
    while _value(s, x_value) < 40.0:
        s = s * X + sp.exp(X / 10)
    return s


def early_break(x, n):
    s = 0.5
    for i in range(n):
        s = s * math.cos(x) + x * x
        if s > 2.2:
            break
    return s * x


def early_break_sym(x_value, n):
    s = sp.Float(0.5)
    for i in range(n):
        s = s * sp.cos(X) + X * X
        if _value(s, x_value) > 2.2:
            break
    return s * X


def branches(x, n):
    s = x
    for i in range(n):
        if s > 1.0:
            s = math.sqrt(s) * x
        else:
            s = s + x ** 2
        if i % 2 == 0:
            s = s + math.sin(x * s)
    return s


def branches_sym(x_value, n):
    s = X
    for i in range(n):
        if _value(s, x_value) > 1.0:
            s = sp.sqrt(s) * X
        else:
            s = s + X ** 2
        if i % 2 == 0:
            s = s + sp.sin(X * s)
    return s


def states_on_a_list(x, n):
    hs = []
    h = x
    for i in range(n):
        h = math.tanh(1.3 * h + 0.1)
        hs.append(h)
    total = 0.0
    for i in range(n):
        total = total + hs[i] * hs[n - 1 - i] * x
    return total


def states_on_a_list_sym(n):
    hs, h = [], X
    for i in range(n):
        h = sp.tanh(1.3 * h + 0.1)
        hs.append(h)
    return sum(hs[i] * hs[n - 1 - i] * X for i in range(n))


def step(s, x):
    return s * math.tanh(x) + math.sin(s)


def helper_in_a_loop(x, n):
    s = 0.3
    k = 0
    while k < n:
        s = step(s, x)
        k = k + 1
    return s


def helper_in_a_loop_sym(n):
    s = sp.Float(0.3)
    for k in range(n):
        s = s * sp.tanh(X) + sp.sin(s)
    return s


SYMPY_CASES = [
    # (function, its extra arguments, sympy expression builder given x, points)
    (recurrence, (4,), lambda x: recurrence_sym(4), (0.6,)),
    (growth_while, (), growth_while_sym, (1.3,)),  # 9 trips
    (early_break, (6,), lambda x: early_break_sym(x, 6), (1.2,)),  # a break in the 4th trip
    (branches, (4,), lambda x: branches_sym(x, 4), (0.6,)),  # both branches taken
    (states_on_a_list, (3,), lambda x: states_on_a_list_sym(3), (0.6,)),
    (helper_in_a_loop, (3,), lambda x: helper_in_a_loop_sym(3), (1.7,)),
]


@pytest.mark.parametrize("f, extra, sym, x", [(f, e, s, x) for f, e, s, xs in SYMPY_CASES for x in xs],
                         ids=[f"{c[0].__name__}-{x}" for c in SYMPY_CASES for x in c[3]])
def test_second_and_third_derivatives_match_sympy(f, extra, sym, x):
    expr = sym(x)
    d1, d2, d3 = _derivatives(expr, x, (1, 2, 3))
    g = s2sgrad.grad(f)
    gg = s2sgrad.grad(g)
    ggg = s2sgrad.grad(gg)
    assert f(x, *extra) == pytest.approx(_value(expr, x), rel=1e-12)
    assert g(x, *extra) == pytest.approx(d1, rel=1e-10, abs=1e-12)
    assert gg(x, *extra) == pytest.approx(d2, rel=1e-9, abs=1e-10)
    assert ggg(x, *extra) == pytest.approx(d3, rel=1e-8, abs=1e-9)


def test_fourth_derivative_of_a_loop():
    x = 0.8
    d4 = _derivatives(recurrence_sym(3), x, (4,))[0]
    g4 = s2sgrad.grad(s2sgrad.grad(s2sgrad.grad(s2sgrad.grad(recurrence))))
    assert g4(x, 3) == pytest.approx(d4, rel=1e-8)


def test_grad_of_grad_of_a_loop_runs_the_reverse_loop_forward():
    """The second-order code is the first-order code differentiated: its forward sweep
    holds the first gradient's reverse loop, and its reverse sweep runs that loop's
    indices forward again, popping and pushing the same tapes."""
    gg = s2sgrad.grad(s2sgrad.grad(early_break))
    gg(1.2, 6)
    src = gg.source
    assert "for i in reversed(range(n)[:trips]):" in src  # the first gradient's reverse loop
    assert "for i in range(n)[:trips]:" in src            # ... and its reverse
    assert "s = tape_s.pop()" in src and "d_tape_s.append(" in src
    assert "import s2sgrad" not in src


def test_mixed_partials_and_wrt_by_name():
    def f(x, y):
        s = 0.0
        for i in range(3):
            s = s * y + math.sin(x * s + y)
        return s
    x_, y_ = sp.symbols("x y")
    s = sp.Float(0)
    for i in range(3):
        s = s * y_ + sp.sin(x_ * s + y_)
    point = {x_: 0.4, y_: 1.1}
    dxy = float(sp.diff(s, x_, y_).subs(point))
    dyy = float(sp.diff(s, y_, 2).subs(point))
    assert s2sgrad.grad(s2sgrad.grad(f, wrt="x"), wrt="y")(0.4, 1.1) == pytest.approx(dxy, rel=1e-10)
    assert s2sgrad.grad(s2sgrad.grad(f, wrt=1), wrt="y")(0.4, 1.1) == pytest.approx(dyy, rel=1e-10)


def test_derivatives_of_value_and_grad_and_vjp():
    x, c = 0.9, 2.5
    d1, d2, d3 = _derivatives(recurrence_sym(4), x, (1, 2, 3))
    vg = s2sgrad.value_and_grad(recurrence)
    # value_and_grad returns a tuple: its derivatives are vjps with a cotangent for each part
    assert s2sgrad.vjp(vg)(x, 4, (1.0, 0.0)) == pytest.approx(d1, rel=1e-10)
    assert s2sgrad.vjp(vg)(x, 4, (0.0, 1.0)) == pytest.approx(d2, rel=1e-9)
    with pytest.raises(NonScalarOutputError):
        s2sgrad.grad(vg)(x, 4)
    # vjp(f)(x, n, c) = c f'(x): its parameters are f's and the cotangent, last
    v = s2sgrad.vjp(recurrence)
    assert s2sgrad.grad(v)(x, 4, c) == pytest.approx(c * d2, rel=1e-9)
    assert s2sgrad.grad(v, wrt=2)(x, 4, c) == pytest.approx(d1, rel=1e-10)
    # vjp of a vjp: two cotangents, in order
    assert s2sgrad.vjp(v)(x, 4, c, 3.0) == pytest.approx(3.0 * c * d2, rel=1e-9)
    assert s2sgrad.grad(s2sgrad.vjp(v))(x, 4, c, 3.0) == pytest.approx(3.0 * c * d3, rel=1e-8)


def test_integer_arguments_are_promoted_at_every_order():
    assert s2sgrad.grad(s2sgrad.grad(recurrence))(1, 3) == \
        pytest.approx(s2sgrad.grad(s2sgrad.grad(recurrence))(1.0, 3))


# --- the scalar corpus: grad of grad against differences of grad -----------------------

def _names(f, wrt):
    params = list(inspect.signature(f).parameters)
    return [params[w] if isinstance(w, int) else w for w in (wrt if isinstance(wrt, tuple) else (wrt,))]


def _random_like(x, rng):
    if isinstance(x, np.ndarray):
        return rng.standard_normal(x.shape)
    if isinstance(x, (list, tuple)):
        return type(x)(_random_like(e, rng) for e in x)
    return float(rng.standard_normal())


def _dot(a, b):
    if isinstance(b, (list, tuple)):
        return sum(_dot(ai, bi) for ai, bi in zip(a, b))
    return float(np.sum(np.asarray(a, dtype=float) * b))


def _moved(x, d, h):
    if isinstance(x, (list, tuple)):
        return type(x)(_moved(e, de, h) for e, de in zip(x, d))
    return x + h * d


def check_hessian_vector_product(f, point, wrt, seed, eps=1e-5, rtol=1e-4, atol=1e-6):
    """u . (H v) from vjp(grad(f)) against the central difference of grad(f) . v along u."""
    rng = np.random.default_rng(seed)
    params = list(inspect.signature(f).parameters)
    names = _names(f, wrt)
    xs = [point[params.index(n)] for n in names]
    v = [_random_like(x, rng) for x in xs]
    u = [_random_like(x, rng) for x in xs]
    several = isinstance(wrt, tuple)
    g = s2sgrad.grad(f, wrt=wrt)
    hv = s2sgrad.vjp(g, wrt=wrt)
    out = hv(*copy.deepcopy(point), copy.deepcopy(tuple(v) if several else v[0]))
    ad = _dot(out if several else (out,), u)

    def g_dot_v(h):
        moved = list(copy.deepcopy(point))
        for n, x, d in zip(names, xs, u):
            moved[params.index(n)] = _moved(x, d, h)
        grads = g(*moved)
        return _dot(grads if several else (grads,), v)

    fd = (g_dot_v(eps) - g_dot_v(-eps)) / (2 * eps)
    assert abs(ad - fd) <= atol + rtol * max(abs(ad), abs(fd)), (f.__name__, point, ad, fd)


def _point(c):
    return c.sample(np.random.default_rng(zlib.crc32(c.name.encode())))


@pytest.mark.parametrize("c", corpus.CORPUS, ids=[c.name for c in corpus.CORPUS])
def test_corpus_hessian_vector_products(c):
    check_hessian_vector_product(c.func, _point(c), c.wrt, seed=1)


THIRD_ORDER = ["newton_sqrt", "first_above", "discounted_returns", "scale_in_place",
               "polar_roundtrip", "softmax_first", "nested_return"]


@pytest.mark.parametrize("name", THIRD_ORDER)
def test_corpus_third_derivatives(name):
    """w . T[v, u] from vjp(vjp(grad(f))) against differences of vjp(grad(f))."""
    c = next(c for c in corpus.CORPUS if c.name == name)
    point, wrt = _point(c), c.wrt
    rng = np.random.default_rng(2)
    params = list(inspect.signature(c.func).parameters)
    names = _names(c.func, wrt)
    xs = [point[params.index(n)] for n in names]
    v, w, u = ([_random_like(x, rng) for x in xs] for _ in range(3))
    several = isinstance(wrt, tuple)
    pack = tuple if several else (lambda parts: parts[0])
    hv = s2sgrad.vjp(s2sgrad.grad(c.func, wrt=wrt), wrt=wrt)
    third = s2sgrad.vjp(hv, wrt=wrt)
    out = third(*copy.deepcopy(point), pack(copy.deepcopy(v)), pack(copy.deepcopy(w)))
    ad = _dot(out if several else (out,), u)

    def hv_dot_w(h):
        moved = list(copy.deepcopy(point))
        for n, x, d in zip(names, xs, u):
            moved[params.index(n)] = _moved(x, d, h)
        got = hv(*moved, pack(copy.deepcopy(v)))
        return _dot(got if several else (got,), w)

    fd = (hv_dot_w(1e-4) - hv_dot_w(-1e-4)) / 2e-4
    assert abs(ad - fd) <= 1e-5 + 1e-4 * max(abs(ad), abs(fd)), (ad, fd)


def test_third_order_names_exist():
    assert set(THIRD_ORDER) <= {c.name for c in corpus.CORPUS}


# --- arrays ------------------------------------------------------------------------------

def rosen_vectorized(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosen_loop(x):
    s = 0.0
    for i in range(len(x) - 1):
        s = s + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def cube_sum(x):
    return np.sum(x ** 3)


ROSEN_X = np.array([0.3, -0.7, 1.2, 0.5, 0.9, -1.1])


@pytest.mark.parametrize("f", [rosen_vectorized, rosen_loop])
def test_rosenbrock_hessian_vector_products_match_scipy(f):
    g = s2sgrad.grad(f)
    np.testing.assert_allclose(g(ROSEN_X), rosen_der(ROSEN_X), rtol=1e-12)
    hv = s2sgrad.vjp(g)
    rng = np.random.default_rng(0)
    for _ in range(3):
        v = rng.standard_normal(ROSEN_X.shape)
        np.testing.assert_allclose(hv(ROSEN_X, v), rosen_hess_prod(ROSEN_X, v), rtol=1e-12, atol=1e-10)
    hessian = np.array([hv(ROSEN_X, e) for e in np.eye(len(ROSEN_X))])
    np.testing.assert_allclose(hessian, rosen_hess(ROSEN_X), rtol=1e-12, atol=1e-10)


def test_cube_sum_second_and_third_derivatives():
    x = np.array([0.5, -1.5, 2.0])
    v, w = np.array([1.0, 2.0, -1.0]), np.array([0.5, 0.3, 2.0])
    hv = s2sgrad.vjp(s2sgrad.grad(cube_sum))
    np.testing.assert_allclose(hv(x, v), 6 * x * v, rtol=1e-14)
    np.testing.assert_allclose(s2sgrad.vjp(hv)(x, v, w), 6 * v * w, rtol=1e-14)


rosen_gradient = s2sgrad.grad(rosen_loop)


def rosen_gradient_first(x):
    return rosen_gradient(x)[0]


def rosen_gradient_product(x):
    d = rosen_gradient(x)
    return d[2] * d[1]


def test_a_gradient_called_inside_a_function_is_differentiated():
    """A Derivative used in user code is its generated function, differentiated as such."""
    np.testing.assert_allclose(s2sgrad.grad(rosen_gradient_first)(ROSEN_X), rosen_hess(ROSEN_X)[0],
                               rtol=1e-12, atol=1e-10)
    d, h = rosen_der(ROSEN_X), rosen_hess(ROSEN_X)
    np.testing.assert_allclose(s2sgrad.grad(rosen_gradient_product)(ROSEN_X), d[2] * h[1] + d[1] * h[2],
                               rtol=1e-12, atol=1e-8)


# one or more table rows for each runtime helper first-order code calls, and common ops
ARRAY_CASES = ["column_times_row", "leading_axes_add", "np_max_axis1", "np_std_keepdims", "np_cumsum_axis1",
               "softmax_keepdims", "matmul_matrix_vector", "matmul_batched", "np_matmul_batched_shared",
               "inner_matrices", "tensordot_axes_lists", "inv", "slogdet_indexed", "tile_tuple", "repeat_axis",
               "repeat_no_axis", "concatenate_axis1", "stack_axis1", "vstack_vectors", "diff_twice",
               "index_array_repeated", "index_rows_repeated", "write_rows_in_loop", "rnn",
               "list_append_then_stack", "cross_entropy", "scipy_logsumexp_axis"]
ARRAY_BY_NAME = {c.name: c for c in numpy_ops.CASES + numpy_ops.SCIPY_CASES}


@pytest.mark.parametrize("name", ARRAY_CASES)
def test_array_hessian_vector_products(name):
    c = ARRAY_BY_NAME[name]
    check_hessian_vector_product(c.func, _point(c), c.wrt, seed=3)


# --- errors ------------------------------------------------------------------------------

def product_of_entries(x):
    return np.prod(x)


def test_a_second_derivative_without_a_rule_points_into_the_generated_code():
    g = s2sgrad.grad(product_of_entries)
    x = np.array([1.0, 2.0, 3.0])
    g(x)
    with pytest.raises(UnsupportedCallError) as info:
        s2sgrad.vjp(g)(x, x)
    err = info.value
    assert err.pos.file.startswith("<s2sgrad generated grad_product_of_entries")
    assert "prod_others" in err.pos.text and "np.prod" in str(err)


# --- the rule table for the runtime helpers ----------------------------------------------

def test_every_runtime_helper_has_rules_in_both_modes():
    assert set(runtime_rules.RUNTIME_RULES) == set(runtime.__all__)
    for name, row in runtime_rules.RUNTIME_RULES.items():
        assert row.module == "runtime" and row.vjp is not None and row.jvp is not None, name
        assert runtime_rules.lookup(getattr(runtime, name)) is row


def test_a_user_function_named_like_a_helper_is_not_a_helper():
    def unbroadcast(g, x):
        return g
    assert runtime_rules.lookup(unbroadcast) is None


class _JvpContext:
    """A stand-in for forward mode's JvpContext (branch jvp-rules): what the runtime rows read."""

    def __init__(self, rule, call, tangents):
        self.rule, self.call, self.tangents = rule, call, tangents
        self.args = s2sgrad.rules.array.core.bind(rule, call)
        self.ans = s2sgrad.ir.Name("out")

    def tangent(self, key):
        return self.tangents.get(key)


def _helper_call(name, n_args):
    ir = s2sgrad.ir
    return ir.Call(ir.Lib("runtime", name), [ir.Name(f"a{k}") for k in range(n_args)])


JVP_POINTS = {
    # helper: (arguments, which are differentiated)
    "unbroadcast": ((np.ones((3, 2, 4)), np.ones((2, 1))), (0,)),
    "expand_reduced": ((np.ones((2, 4)), np.ones((2, 3, 4)), 1, False), (0,)),
    "untile": ((np.ones((4, 6)), np.ones((2, 3)), (2, 2)), (0,)),
    "unrepeat": ((np.ones(6), np.ones((3,)), 2, None), (0,)),
    "undiff": ((np.ones((3, 4)), 2, 1), (0,)),
    "matmul_grads": ((np.ones((2, 5)), np.ones((2, 3)), np.ones((3, 5))), (0, 1, 2)),
    "tensordot_grads": ((np.ones((2, 5)), np.ones((2, 3, 4)), np.ones((3, 4, 5)), 2), (0, 1, 2)),
}


@pytest.mark.parametrize("name", sorted(JVP_POINTS))
def test_runtime_rows_jvp_against_differences(name):
    """Each linear or bilinear helper's jvp row, printed and run, against differences."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    shapes, active = JVP_POINTS[name]
    args = [rng.standard_normal(a.shape) if isinstance(a, np.ndarray) else a for a in shapes]
    dirs = {k: rng.standard_normal(np.shape(args[k])) for k in active}
    row = runtime_rules.RUNTIME_RULES[name]
    call = _helper_call(name, len(args))
    tangents = {row.params[k]: s2sgrad.ir.Name(f"t{k}") for k in active}
    tangent = row.jvp(_JvpContext(row, call, tangents))
    text = s2sgrad.backends.python.PythonPrinter().expr(tangent)
    env = {"np": np, **{h: getattr(runtime, h) for h in runtime.__all__}}
    env.update({f"a{k}": a for k, a in enumerate(args)}, **{f"t{k}": d for k, d in dirs.items()})
    env["out"] = getattr(runtime, name)(*args)
    got = eval(text, env)

    def at(h):
        return getattr(runtime, name)(*[a + h * dirs[k] if k in dirs else a for k, a in enumerate(args)])
    eps = 1e-6
    parts = (lambda v: v) if row.result_kind == "tuple" else (lambda v: (v,))
    for g, p, m in zip(parts(got), parts(at(eps)), parts(at(-eps))):
        np.testing.assert_allclose(g, (p - m) / (2 * eps), rtol=1e-6, atol=1e-8)


def test_source_before_a_call_and_caching():
    g = s2sgrad.grad(recurrence)
    gg = s2sgrad.grad(g)
    assert "def grad_grad_recurrence(x, n):" in gg.source  # code for guessed kinds, before a call
    assert s2sgrad.grad(g) is gg  # the same derivative of the same Derivative is not regenerated
    assert gg(0.9, 4) == pytest.approx(_derivatives(recurrence_sym(4), 0.9, (2,))[0], rel=1e-10)
