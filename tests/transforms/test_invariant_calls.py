"""Invariant calls (transforms/invariant_calls.py, numba target): a call in a loop nest
whose value does not change with the outer loop is computed into a table before it.

Every gradient is checked element by element against central differences of the
function itself, on two calls with other values; the value of value_and_grad must be
njit(f)'s bit for bit (the table holds the function's own calls).  The generated code is
read for where the calls went, and the cases the pass must leave alone are checked to
keep their calls in the loop (and to stay right)."""
import math

import numba
import numpy as np
import pytest

import s2sgrad
from test_kept_values import fd_gradient, scaled_rows  # GMM's shape: exp(w[j]) the same for every row i


def two_deep(q, x):
    """Two inner loops, two calls of the same value (one table), one from a range with a
    start (its entry is [c, j - 1])."""
    k, d = q.shape
    total = 0.0
    for i in range(x.shape[0]):
        for c in range(k):
            for j in range(1, d):
                total += math.exp(q[c, j]) * x[i, j] + math.tanh(q[c, j] * 0.5) * math.exp(q[c, j])
    return total


def inside_another_loop(w, x):
    """The call changes with t, the loop around the outer one: its table is filled in
    each t, before the i loop."""
    total = 0.0
    for t in range(w.shape[0]):
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                total += math.sqrt(w[t, j] * w[t, j] + 1.0) * x[i, j]
    return total


def rebound_in_loop(w, x):
    """w is rebound in the loop: the call's value changes, and it stays."""
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(w.shape[0]):
            total += math.exp(w[j]) * x[i, j]
        w = w * 0.5
    return total


def written_in_loop(w, x):
    """A copy of w written into in the loop: the call reads it, and stays."""
    v = w.copy()
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(v.shape[0]):
            total += math.exp(v[j]) * x[i, j]
            v[j] = v[j] * 0.9
    return total


def behind_a_branch(w, x):
    """The call runs only where x[i, j] > 0: it stays behind its test."""
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(w.shape[0]):
            if x[i, j] > 0.0:
                total += math.exp(w[j]) * x[i, j]
    return total


def with_a_break(w, x):
    """The outer loop may stop early: it stays."""
    total = 0.0
    for i in range(x.shape[0]):
        if total > 1e6:
            break
        for j in range(w.shape[0]):
            total += math.exp(w[j]) * x[i, j]
    return total


def triangle(w, x):
    """The inner range starts at the index around it: no rectangle, the call stays."""
    total = 0.0
    for i in range(x.shape[0]):
        for c in range(w.shape[0]):
            for j in range(c, w.shape[0]):
                total += math.exp(w[j]) * x[i, c]
    return total


def index_read_first(w, x):
    """j is read before the nest binds it (0 in the first row, the last index after): the
    filling loops must leave the user's j alone (found by an adversarial run)."""
    j = 0
    total = 0.0
    for i in range(x.shape[0]):
        total += w[j] * 3.0
        for j in range(w.shape[0]):
            total += math.exp(w[j]) * x[i, j]
    return total


def indices_read_around(w, x):
    """The same around a loop over t: the table over (i, j) is filled before it."""
    j = 1
    total = 0.0
    for t in range(2):
        total += w[j] * w[j]
        for i in range(x.shape[0]):
            for j in range(w.shape[0]):
                total += math.exp(w[j]) * x[i, j] * (i + 1.0)
        j = 1
    return total


def index_rebound(w, x):
    """The nest's index is rebound in its body: the entry it reads is not the range's,
    and the call stays (found by an adversarial run)."""
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(w.shape[0] - 1):
            j += 1
            total += math.exp(w[j]) * x[i, j]
    return total


SCALE = np.array([0.5, -1.0, 2.0])


def doubled(v):
    return 2.0 * v


def global_and_a_call(w, x):
    """The call reads a global array, and the loop calls a function of the user's (which
    could change the global in place): it stays."""
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(w.shape[0]):
            total += math.exp(w[j] * SCALE[j]) * doubled(x[i, j])
    return total


CASES = [(scaled_rows, [(3,), (4, 3)]), (two_deep, [(2, 4), (3, 4)]), (inside_another_loop, [(2, 3), (4, 3)]),
         (rebound_in_loop, [(3,), (4, 3)]), (written_in_loop, [(3,), (4, 3)]),
         (behind_a_branch, [(3,), (5, 3)]), (with_a_break, [(3,), (4, 3)]), (triangle, [(3,), (4, 3)]),
         (global_and_a_call, [(3,), (4, 3)]), (index_read_first, [(3,), (2, 3)]),
         (indices_read_around, [(3,), (2, 3)]), (index_rebound, [(3,), (2, 3)])]


@pytest.mark.parametrize("f, shapes", CASES, ids=[c[0].__name__ for c in CASES])
def test_gradients_equal_finite_differences_and_values_are_njits(f, shapes):
    rng = np.random.default_rng(5)
    wrt = tuple(range(len(shapes)))
    g = s2sgrad.grad(f, wrt=wrt, backend="numba")
    vg = s2sgrad.value_and_grad(f, wrt=wrt, backend="numba")
    compiled = numba.njit(f) if f is not global_and_a_call else None  # njit(f) needs its helper jitted
    last = s2sgrad.grad(f, wrt=len(shapes) - 1, backend="numba")  # partial wrt: the table's input inactive
    for _ in range(2):  # a second call with other values: the table is filled again
        args = [rng.normal(size=s) for s in shapes]
        got = g(*args)
        value, again = vg(*args)
        assert value == (compiled(*args) if compiled else pytest.approx(f(*args), rel=1e-13))
        for k in wrt:
            want = fd_gradient(f, args, k)
            np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(again[k], want, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(last(*args), fd_gradient(f, args, len(shapes) - 1), rtol=1e-6, atol=1e-7)


def _loop_of(source: str, header: str) -> str:
    """The code of the first loop with this header, its comments (the user's statements)
    left out."""
    lines = source.split("\n")
    start = next(n for n, line in enumerate(lines) if line.strip() == header)
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = next(n for n in range(start + 1, len(lines))
               if lines[n].strip() and len(lines[n]) - len(lines[n].lstrip()) <= indent)
    return "\n".join(line for line in lines[start:end] if not line.strip().startswith("#"))


def test_the_table_is_filled_before_the_loop_when_it_runs():
    g = s2sgrad.grad(scaled_rows, backend="numba")
    g(np.ones(2), np.ones((3, 2)))
    source = g.source
    assert "    exp_w = np.empty((w.shape[0],))\n" in source
    assert "    if 0 < x.shape[0]:\n        for j_1 in range(w.shape[0]):\n            exp_w[j_1] = math.exp(w[j_1])\n" \
        in source  # indices of its own: the user's j keeps its value
    assert "work[j] = exp_w[j] * x[i, j]" in source
    # no call left in the point loop, forward or reverse
    assert "math.exp" not in _loop_of(source, "for i in range(x.shape[0]):")
    assert "math.exp" not in _loop_of(source, "for i in range(x.shape[0] - 1, -1, -1):")
    # the python target keeps the call where the user wrote it
    assert "work[j] = math.exp(w[j]) * x[i, j]" in s2sgrad.grad(scaled_rows).source


def test_one_table_for_one_value_with_the_ranges_start_taken_off():
    g = s2sgrad.grad(two_deep, backend="numba")
    g(np.ones((2, 3)), np.ones((2, 3)))
    source = g.source
    assert source.count("exp_q[c_1, j_1 - 1] = math.exp(q[c_1, j_1])") == 1 and "exp_q_1" not in source
    assert "tanh_q[c_1, j_1 - 1] = math.tanh(q[c_1, j_1] * 0.5)" in source
    # the point loop's reverse reads the tables (its forward is dead: grad needs no total)
    assert "d_exp_q[c, j - 1] += d_total * (x[i, j] + tanh_q[c, j - 1])" in source


def test_the_table_of_a_value_that_changes_with_an_outer_loop_is_filled_in_it():
    g = s2sgrad.grad(inside_another_loop, backend="numba")
    g(np.ones((2, 3)), np.ones((2, 3)))
    t_loop = _loop_of(g.source, "for t in range(w.shape[0]):")
    assert "        sqrt_w = np.empty((x.shape[1],))\n" in t_loop
    assert "        if 0 < x.shape[0]:\n            for j_1 in range(x.shape[1]):\n" \
        "                sqrt_w[j_1] = math.sqrt(w[t, j_1] * w[t, j_1] + 1.0)" in t_loop
    assert "math.sqrt" not in _loop_of(g.source, "for i in range(x.shape[0] - 1, -1, -1):")


@pytest.mark.parametrize("f", [rebound_in_loop, written_in_loop, behind_a_branch, with_a_break, triangle,
                               global_and_a_call, index_rebound],
                         ids=lambda f: f.__name__)
def test_calls_that_may_change_or_may_not_run_stay_in_the_loop(f):
    g = s2sgrad.grad(f, backend="numba")
    g(np.ones(3), np.ones((2, 3)))
    code = [line.strip() for line in g.source.split("\n") if not line.strip().startswith("#")]
    assert not any("np.empty((" in line for line in code)
    assert any("math.exp(" in line for line in code)


def test_an_outer_loop_that_never_runs_fills_no_table():
    """No point, no call: the gradient is zero, as is the function's."""
    g = s2sgrad.value_and_grad(scaled_rows, wrt=(0, 1), backend="numba")
    value, (dw, dx) = g(np.array([1.0, 800.0]), np.zeros((0, 2)))
    assert value == 0.0 and dx.shape == (0, 2)
    np.testing.assert_array_equal(dw, 0.0)


def test_float32_and_int_arguments():
    w = np.array([0.3, -0.2, 0.1], dtype=np.float32)
    x = (np.arange(12, dtype=np.int64).reshape(4, 3) % 3)
    got = s2sgrad.grad(scaled_rows, wrt=0, backend="numba")(w, x)
    want = fd_gradient(scaled_rows, [w.astype(float), x.astype(float)], 0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_forward_mode_and_hessians_through_tables():
    rng = np.random.default_rng(3)
    q, x = rng.normal(size=(2, 4)), rng.normal(size=(3, 4))
    jvp = s2sgrad.jvp(two_deep, wrt=0, backend="numba")
    t = rng.normal(size=(2, 4))
    value, tangent = jvp(q, x, t)
    assert value == pytest.approx(two_deep(q, x), rel=1e-12)
    assert tangent == pytest.approx(np.sum(fd_gradient(two_deep, [q, x], 0) * t), rel=1e-6)
    h = s2sgrad.hessian(two_deep, wrt=0, backend="numba")(q, x)
    np.testing.assert_allclose(h, s2sgrad.hessian(two_deep, wrt=0)(q, x), rtol=1e-10, atol=1e-12)
    assert not np.allclose(h, 0.0)
