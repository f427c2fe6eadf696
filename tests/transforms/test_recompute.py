"""transforms/recompute.py: loops whose iterations are independent are reversed by
recomputing their locals, not by taping them; and a vjp that needs only the shape of what
such a loop writes (np.zeros_like in the reverse sweep) drops the forward loop.

Oracles: central differences (check_grads), hand derivations, and for the numba backend
the python backend's result.
"""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

import s2sgrad
from s2sgrad import ir
from s2sgrad.frontend import load_program
from s2sgrad.testing import check_grads
from s2sgrad.transforms import recompute


def per_row(a, b):
    """One output row per input row, a branch inside: what bundle adjustment looks like."""
    n = a.shape[0]
    out = np.zeros((n, 2))
    for i in range(n):
        u = a[i, 0] * b[i] - a[i, 1]
        s = u * u + a[i, 1] * a[i, 1]
        if s > 0.5:
            r = math.sqrt(s)
            w = u / r
        else:
            w = u * (1.5 - 0.5 * s)
        out[i, 0] = w * b[i]
        out[i, 1] = math.sin(w) + u
    return out


def carried(a, b):
    """t is read before it is bound in an iteration: it carries a value across them."""
    t = 0.0
    total = 0.0
    for i in range(a.shape[0]):
        total = total + t * a[i, 0]
        t = math.tanh(a[i, 1] * b[i])
    return total + t


def bound_twice(a, b):
    total = 0.0
    for i in range(a.shape[0]):
        u = a[i, 0] * b[i]
        u = math.sin(u) + a[i, 1]     # a second binding in the iteration
        total = total + u * u
    return total


def local_read_after(a, b):
    out = np.zeros(a.shape[0])
    for i in range(a.shape[0]):
        u = a[i, 0] * b[i]
        v = math.exp(-u * u)
        out[i] = v * a[i, 1]
    return np.sum(out) + u * v        # the last iteration's locals, read after the loop


def reads_what_it_writes(a, b):
    out = np.zeros(a.shape[0] + 1)
    for i in range(a.shape[0]):
        u = a[i, 0] * b[i] + out[i]   # the previous iteration's write
        out[i + 1] = math.sin(u)
    return np.sum(out * out)


RNG = np.random.default_rng(7)
A = RNG.uniform(-1.2, 1.2, (6, 2))
B = RNG.uniform(-1.5, 1.5, 6)


def loop_of(f):
    fn, _ = load_program(f)
    return fn, next(s for s in ir.walk_stmts(fn.body) if isinstance(s, ir.ForRange))


@pytest.mark.parametrize("f, expected", [
    (per_row, {"u", "s", "r", "w"}),
    (local_read_after, {"u", "v"}),
    (carried, None), (bound_twice, None), (reads_what_it_writes, None),
])
def test_which_loops_recompute(f, expected):
    fn, loop = loop_of(f)
    assert recompute.locals_if_recomputable(loop, fn) == expected


def total_of_rows(a, b):
    return np.sum(per_row(a, b) * np.array([1.0, -0.7]))


def per_row_total_inline(a, b):
    n = a.shape[0]
    total = 0.0
    for i in range(n):
        u = a[i, 0] * b[i] - a[i, 1]
        s = u * u + a[i, 1] * a[i, 1]
        if s > 0.5:
            r = math.sqrt(s)
            w = u / r
        else:
            w = u * (1.5 - 0.5 * s)
        total += w * b[i] - 0.7 * (math.sin(w) + u)
    return total


@pytest.mark.parametrize("f", [total_of_rows, carried, bound_twice, local_read_after, reads_what_it_writes,
                               per_row_total_inline])
def test_gradients_match_differences(f):
    check_grads(f, A, B, wrt=(0, 1), modes=("reverse",))


def test_recomputed_loop_keeps_no_tape_and_numba_agrees():
    g = s2sgrad.grad(total_of_rows, wrt=(0, 1))
    expected = g(A, B)
    inline = s2sgrad.grad(per_row_total_inline, wrt=(0, 1))
    for mine, theirs in zip(inline(A, B), expected):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)
    # nothing taped: the reverse loop recomputes u, s, r, w; the sum needs no value back
    assert "tape_" not in inline.source
    got = s2sgrad.grad(per_row_total_inline, wrt=(0, 1), backend="numba")(A, B)
    for mine, theirs in zip(got, expected):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)


def test_a_vjp_needing_only_the_shape_of_the_output_drops_the_forward_loop():
    """vjp of per_row reads `out` only for np.zeros_like(out): its elements are never
    needed, so the forward loop goes and the reverse loop recomputes what it needs."""
    cotangent = RNG.normal(size=(6, 2))
    v = s2sgrad.vjp(per_row, wrt=(0, 1))
    d_a, d_b = v(A, B, cotangent)
    forward = v.source.split("# reverse sweep")[0]
    assert "for i in" not in forward and "tape_" not in v.source
    step = 1e-6
    for (j, k) in [(0, 0), (3, 1), (5, 0)]:
        e = np.zeros_like(A)
        e[j, k] = step
        fd = np.sum((per_row(A + e, B) - per_row(A - e, B)) * cotangent) / (2 * step)
        assert math.isclose(d_a[j, k], fd, rel_tol=1e-6, abs_tol=1e-9)
    e = np.zeros_like(B)
    e[2] = step
    fd = np.sum((per_row(A, B + e) - per_row(A, B - e)) * cotangent) / (2 * step)
    assert math.isclose(d_b[2], fd, rel_tol=1e-6, abs_tol=1e-9)
    numba = s2sgrad.vjp(per_row, wrt=(0, 1), backend="numba")(A, B, cotangent)
    np.testing.assert_allclose(numba[0], d_a, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(numba[1], d_b, rtol=1e-12, atol=1e-14)


def test_value_and_grad_still_computes_the_value():
    value, _ = s2sgrad.value_and_grad(total_of_rows, wrt=(0, 1))(A, B)
    assert math.isclose(value, total_of_rows(A, B), rel_tol=1e-13)


def noisy_rows(a, b):
    total = 0.0
    for i in range(a.shape[0]):
        noise = random.random()           # drawn once per iteration: never drawn again
        u = a[i, 0] * b[i] + noise
        total += u * u
    return total


def test_a_loop_drawing_random_numbers_is_not_recomputed():
    """Recomputing would draw other numbers than the forward sweep used."""
    fn, loop = loop_of(noisy_rows)
    assert recompute.locals_if_recomputable(loop, fn) is None
    random.seed(3)
    noise = [random.random() for _ in range(A.shape[0])]
    random.seed(3)
    d_a, d_b = s2sgrad.grad(noisy_rows, wrt=(0, 1))(A, B)
    u = A[:, 0] * B + np.array(noise)
    np.testing.assert_allclose(d_a[:, 0], 2 * u * B, rtol=1e-12)   # by hand
    np.testing.assert_allclose(d_b, 2 * u * A[:, 0], rtol=1e-12)


def picks_by_branch(a, b):
    total = 0.0
    for i in range(a.shape[0]):
        u = a[i, 0] * b[i]
        if u > 0.0:
            k = i % 2          # an int local bound on one branch only, used as an index
            v = u * a[i, k]
        else:
            v = math.sin(u)
        total += v * v
    return total


@pytest.mark.parametrize("wrt", [0, 1, (0, 1)])
def test_a_local_bound_on_one_branch_partial_wrt_and_numba(wrt):
    """The recomputation gives k a placeholder before the if (never read: the reverse if
    takes the same branch); numba types it an int, and every wrt agrees with differences
    and across backends."""
    fn, loop = loop_of(picks_by_branch)
    assert recompute.locals_if_recomputable(loop, fn) == {"u", "k", "v"}
    check_grads(picks_by_branch, A, B, wrt=wrt, modes=("reverse",))
    python = s2sgrad.grad(picks_by_branch, wrt=wrt)(A, B)
    numba = s2sgrad.grad(picks_by_branch, wrt=wrt, backend="numba")(A, B)
    for mine, theirs in zip(python if isinstance(wrt, tuple) else [python],
                            numba if isinstance(wrt, tuple) else [numba]):
        np.testing.assert_allclose(theirs, mine, rtol=1e-12, atol=1e-14)
