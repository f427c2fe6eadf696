"""Forward mode: s2sgrad.jvp on every corpus function of the scalar and NumPy corpora.

The directional derivative along a random tangent must equal the gradient (reverse
mode, itself checked against finite differences in test_corpus / test_numpy_ops)
dotted with that tangent, to 1e-12.  Two independent code paths, one answer.
"""
import math
import os
import sys
import zlib

import numpy as np
import pytest

import s2sgrad

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/: the shared helper modules
import corpus  # noqa: E402
import numpy_ops  # noqa: E402

ALL = corpus.CORPUS + numpy_ops.CASES + numpy_ops.SCIPY_CASES


def _wrt_names(f, wrt):
    import inspect
    params = list(inspect.signature(f).parameters)
    items = wrt if isinstance(wrt, tuple) else (wrt,)
    return [params[w] if isinstance(w, int) else w for w in items]


def _random_like(value, rng):
    if isinstance(value, np.ndarray):
        return rng.standard_normal(value.shape)
    if isinstance(value, (list, tuple)):
        return type(value)(_random_like(v, rng) for v in value)
    return float(rng.standard_normal())


def _dot(g, t):
    """<g, t> and the sum of |g_i t_i| (the scale a rounding error is relative to)."""
    if isinstance(g, (list, tuple)):
        pairs = [_dot(a, b) for a, b in zip(g, t)]
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs)
    g, t = np.asarray(g, dtype=float), np.asarray(t, dtype=float)
    return float(np.sum(g * t)), float(np.sum(np.abs(g * t)))


@pytest.mark.parametrize("c", ALL, ids=[c.name for c in ALL])
def test_jvp_agrees_with_grad(c):
    rng = np.random.default_rng(zlib.crc32(c.name.encode()))
    names = _wrt_names(c.func, c.wrt)
    wrt = tuple(names)
    jvp = s2sgrad.jvp(c.func, wrt=wrt)
    grad = s2sgrad.grad(c.func, wrt=wrt)
    import inspect
    params = list(inspect.signature(c.func).parameters)
    for _ in range(2):
        point = c.sample(rng)
        tangents = [_random_like(point[params.index(n)], rng) for n in names]
        value, tangent = jvp(*point, *tangents)
        expected, scale = _dot(grad(*point), tangents)
        assert value == pytest.approx(c.func(*point), rel=1e-12, abs=1e-12)
        assert abs(tangent - expected) <= 1e-12 * max(1.0, scale), (tangent, expected)


def _array_wrt(c):
    """Cases whose wrt arguments are numbers or arrays (a Jacobian needs array inputs)."""
    point = c.sample(np.random.default_rng(0))
    import inspect
    params = list(inspect.signature(c.func).parameters)
    return all(not isinstance(point[params.index(n)], (list, tuple)) for n in _wrt_names(c.func, c.wrt))


VECTOR = [c for c in ALL if _array_wrt(c)]


@pytest.mark.parametrize("c", VECTOR, ids=[c.name for c in VECTOR])
def test_vector_forward_mode_gives_the_gradient(c):
    """jacobian(mode="forward") of a scalar function: every direction in one pass."""
    rng = np.random.default_rng(zlib.crc32(c.name.encode()) + 1)
    wrt = tuple(_wrt_names(c.func, c.wrt))
    jac = s2sgrad.jacobian(c.func, wrt=wrt, mode="forward")
    grad = s2sgrad.grad(c.func, wrt=wrt)
    point = c.sample(rng)
    for j, g in zip(jac(*point), grad(*point)):
        np.testing.assert_allclose(j, g, rtol=1e-12, atol=1e-12)


# --- the generated tangent code, and calling conventions ----------------------------

def two_inputs(a, b):
    z = a * math.sin(b) + b ** 2
    return z


def test_tangent_statement_reads_like_the_chain_rule():
    t = s2sgrad.jvp(two_inputs, wrt=(0, 1))
    assert "    # tangent of: z = a * math.sin(b) + b ** 2\n" \
           "    t_z = t_a * math.sin(b) + t_b * (a * math.cos(b) + 2 * b)\n" \
           "    z = a * math.sin(b) + b ** 2\n" in t.source
    value, tangent = t(0.5, 2.0, 1.0, 0.0)
    assert value == pytest.approx(0.5 * math.sin(2.0) + 4.0)
    assert tangent == pytest.approx(math.sin(2.0))  # hand derivation: dz/da
    assert "import s2sgrad" not in t.source


def keyword_only(x, *, scale=2.0, shift=0.5):
    return scale * math.sin(x) + shift * x * scale


def test_wrt_names_keyword_parameters_and_the_rest_are_constants():
    x, scale, shift = 1.0, 3.0, 0.5
    assert s2sgrad.grad(keyword_only, wrt="scale")(x, scale=scale) == \
        pytest.approx(math.sin(x) + shift * x)
    assert s2sgrad.grad(keyword_only, wrt=("x", "shift"))(x, scale=scale) == \
        pytest.approx((scale * math.cos(x) + shift * scale, x * scale))
    value, tangent = s2sgrad.jvp(keyword_only, wrt="scale")(x, 1.0, scale=scale)
    assert tangent == pytest.approx(math.sin(x) + shift * x)
    jac = s2sgrad.jacobian(keyword_only, wrt=("scale", "x"))(x, scale=scale)
    assert jac == pytest.approx((math.sin(x) + shift * x, scale * math.cos(x) + shift * scale))


def test_jvp_needs_one_tangent_per_wrt_entry():
    with pytest.raises(TypeError, match="one per wrt entry"):
        s2sgrad.jvp(two_inputs, wrt=(0, 1))(0.5)


def in_place_update(x, v):
    y = x * 1.0
    y[0] += v
    return y * x


def test_tangent_of_an_array_written_in_place_is_its_own():
    """y = x * 1.0 is a new array: writing into y must not write into x's tangent."""
    x, tx = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    keep = tx.copy()
    _, tangent = s2sgrad.jvp(in_place_update, wrt=(0, 1))(x, 0.7, tx, 1.0)
    np.testing.assert_array_equal(tx, keep)  # the caller's tangent is untouched
    y = x.copy()
    y[0] += 0.7
    t_y = tx.copy()
    t_y[0] += 1.0
    np.testing.assert_allclose(tangent, t_y * x + y * tx, rtol=1e-14)  # product rule by hand
