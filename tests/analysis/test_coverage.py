"""Whole-array writes (analysis/coverage.py): a loop that refills a work array makes the
saves of the values it overwrites dead, and only then.

Each function refills `q` inside a loop over points and updates it in place; the
gradient is checked against central differences on both backends, and the generated
text says whether the in-place update's old values are still taped.  The near misses
(a loop one short, an array one longer, a write under a branch, a read before the
write, a length rebound) must keep their saves: dropping one would give a wrong
gradient, which the differences would catch.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import s2sgrad

X = np.array([[0.3, -0.7, 1.1], [0.9, 0.2, -0.4], [-1.2, 0.5, 0.8]])
W = np.array([0.6, -1.3, 0.4])


def refilled(w, x):
    n = x.shape[0]
    d = x.shape[1]
    q = np.zeros(d)
    total = 0.0
    for i in range(n):
        for j in range(d):
            q[j] = math.exp(w[j]) * x[i, j]
        for j in range(1, d):
            q[j] += math.sin(w[j - 1]) * x[i, j - 1] * x[i, j]
        for j in range(d):
            total += q[j] * q[j]
    return total


def refilled_over_shape(w, x):
    q = np.zeros(x.shape[1])
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(q.shape[0]):
            q[j] = math.sin(w[j]) * x[i, j]
        for j in range(1, q.shape[0]):
            q[j] += w[j] * w[j] * x[i, j - 1]
        total += q[0] * q[1] + q[2] * q[2]
    return total


def one_short(w, x):
    d = x.shape[1]
    q = np.zeros(d)
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(d - 1):          # q[d - 1] keeps the last point's value
            q[j] = math.exp(w[j]) * x[i, j]
        for j in range(1, d):
            q[j] += math.sin(w[j - 1]) * x[i, j - 1] * x[i, j]
        for j in range(d):
            total += q[j] * q[j]
    return total


def one_longer(w, x):
    d = x.shape[1]
    q = np.zeros(d + 1)                 # q[d] is never refilled
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(d):
            q[j] = math.exp(w[j]) * x[i, j]
        for j in range(1, d + 1):
            q[j] += math.sin(w[j - 1]) * x[i, j - 1]
        for j in range(d + 1):
            total += q[j] * q[j]
    return total


def under_a_branch(w, x):
    d = x.shape[1]
    q = np.zeros(d)
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(d):
            if x[i, j] > 0.0:           # some elements keep their old values
                q[j] = math.exp(w[j]) * x[i, j]
        for j in range(1, d):
            q[j] += math.sin(w[j - 1]) * x[i, j - 1] * x[i, j]
        for j in range(d):
            total += q[j] * q[j]
    return total


def read_before_write(w, x):
    d = x.shape[1]
    q = np.zeros(d)
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(d):
            q[j] = q[j] * w[j] + x[i, j]   # reads the old value
        for j in range(1, d):
            q[j] += math.sin(w[j - 1]) * x[i, j - 1] * x[i, j]
        for j in range(d):
            total += q[j] * q[j]
    return total


def length_rebound(w, x):
    d = x.shape[1]
    q = np.zeros(d)
    total = 0.0
    for i in range(x.shape[0]):
        d = 2                           # the loop below covers q[:2] only
        for j in range(d):
            q[j] = math.exp(w[j]) * x[i, j]
        for j in range(1, 3):
            q[j] += math.sin(w[j - 1]) * x[i, j - 1] * x[i, j]
        for j in range(3):
            total += q[j] * q[j]
    return total


def _numeric(f, w, x, h=1e-6):
    out = np.zeros_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = h
        out[i] = (f(w + e, x) - f(w - e, x)) / (2 * h)
    return out


ALL = [refilled, refilled_over_shape, one_short, one_longer, under_a_branch, read_before_write,
       length_rebound]
# refilled_over_shape keeps its saves: the lowering binds range(q.shape[0])'s bound to a
# variable each trip (taped with the rest), a length the analysis does not follow
DROPS_THE_SAVES = {refilled}


@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("f", ALL, ids=lambda f: f.__name__)
def test_gradient_matches_differences(f, backend):
    g = s2sgrad.grad(f, backend=backend)
    for x in (X, X[:2], -X):
        np.testing.assert_allclose(g(W, x), _numeric(f, W, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("f", ALL, ids=lambda f: f.__name__)
def test_both_arguments_and_forward_mode_match_differences(f, backend):
    """wrt both arguments (x's adjoint reads the saves too), and the tangent in a random
    direction (the forward code goes through the same dead-code pass)."""
    dx = np.linspace(-1.0, 1.0, X.size).reshape(X.shape)
    dw = np.array([0.5, -0.25, 1.0])
    g_w, g_x = s2sgrad.grad(f, wrt=(0, 1), backend=backend)(W, X)
    h = 1e-6
    numeric_x = np.zeros_like(X)
    for idx in np.ndindex(X.shape):
        e = np.zeros_like(X)
        e[idx] = h
        numeric_x[idx] = (f(W, X + e) - f(W, X - e)) / (2 * h)
    np.testing.assert_allclose(g_w, _numeric(f, W, X), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g_x, numeric_x, rtol=1e-6, atol=1e-8)
    value, tangent = s2sgrad.jvp(f, wrt=(0, 1), backend=backend)(W, X, dw, dx)
    directional = (f(W + h * dw, X + h * dx) - f(W - h * dw, X - h * dx)) / (2 * h)
    assert value == pytest.approx(f(W, X), rel=1e-12)
    assert tangent == pytest.approx(directional, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("f", ALL, ids=lambda f: f.__name__)
def test_the_in_place_update_is_taped_unless_a_refill_covers_it(f):
    g = s2sgrad.grad(f, backend="python")
    g(W, X)
    # the refill's saves stay (the previous point's q is read by its reverse sweep); the
    # in-place update's are the second
    saves = g.source.count("tape_q_items.append(q[j])")
    assert saves == (1 if f in DROPS_THE_SAVES else 2), g.source
