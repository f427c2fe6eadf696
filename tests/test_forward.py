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

sys.path.insert(0, os.path.dirname(__file__))
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
