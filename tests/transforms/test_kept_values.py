"""Kept values (transforms/kept_values.py, numba target): a call inside an expression in
a loop gets a variable of its own, whose value the reverse sweep takes back from the
tape instead of calling the function again.  Every gradient is checked element by
element against central differences of the function itself; the generated code is
read for where the calls went."""
import math

import numpy as np
import pytest

import s2sgrad
from test_numba_passes import lse  # logsumexp by loops, as GMM's


def fd_gradient(f, args, k, eps=1e-6):
    x = args[k]
    g = np.zeros_like(x, dtype=float)
    for idx in np.ndindex(x.shape):
        up = [a.copy() for a in args]
        down = [a.copy() for a in args]
        up[k][idx] += eps
        down[k][idx] -= eps
        g[idx] = (f(*up) - f(*down)) / (2 * eps)
    return g


def scaled_rows(w, x):
    """GMM's shape: a work array refilled each iteration from exp(w[j]) * x[i, j]."""
    work = np.zeros(w.shape[0])
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(w.shape[0]):
            work[j] = math.exp(w[j]) * x[i, j]
        for j in range(w.shape[0]):
            total += work[j] * work[j] * (i + 1.0)
    return total


def shifted_rows(w, x):
    """As scaled_rows, with an exp that changes with i (invariant_calls.py would move
    exp(w[j]) out of the loop)."""
    work = np.zeros(w.shape[0])
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(w.shape[0]):
            work[j] = math.exp(w[j] - x[i, j]) * x[i, j]
        for j in range(w.shape[0]):
            total += work[j] * work[j] * (i + 1.0)
    return total


def nested_calls(x, y):
    """A call inside a call's argument: both named, the inner first."""
    s = 0.0
    for i in range(x.shape[0]):
        s += math.tanh(x[i] * math.sqrt(y[i] * y[i] + 1.0)) * y[i]
    return s


def conditional_calls(x):
    """Calls behind a conditional expression, and/or and a comparison stay where they are."""
    s = 0.0
    for i in range(x.shape[0]):
        s += (x[i] if x[i] > 0.0 else math.exp(x[i])) * x[i]
        big = math.exp(x[i]) > 1.5
        if big:
            s += math.sqrt(x[i] * x[i] + 2.0) * 3.0
    return s


def user_named_exp(x):
    """A variable of the user's called `exp`: the kept value takes another name."""
    exp = 2.0
    s = 0.0
    for i in range(x.shape[0]):
        s += math.exp(x[i] * 0.5) * exp + x[i]
        exp = exp * 1.5
    return s


def while_loop(x):
    s = 0.0
    i = 0
    while i < x.shape[0]:
        s += math.exp(x[i]) * x[i]
        i += 1
    return s


def rows_lse(x):
    """The helper's vjp keeps its exps on a tape whose room the caller lends."""
    total = 0.0
    for i in range(x.shape[0]):
        total += lse(x[i]) * (i + 1.0)
    return total


def observations(x, w):
    """BA's shape: independent iterations whose only result is returned."""
    p = x.shape[0]
    err = np.zeros(p)
    for i in range(p):
        err[i] = math.exp(x[i] * w[i]) * w[i]
    return err


def summed_observations(x, w):
    return np.sum(observations(x, w))


CASES = [(scaled_rows, [(3,), (4, 3)]), (shifted_rows, [(3,), (4, 3)]), (nested_calls, [(5,), (5,)]), (conditional_calls, [(6,)]),
         (user_named_exp, [(4,)]), (while_loop, [(4,)]), (rows_lse, [(3, 4)]),
         (summed_observations, [(5,), (5,)])]


@pytest.mark.parametrize("f, shapes", CASES, ids=[c[0].__name__ for c in CASES])
def test_gradients_with_kept_values_equal_finite_differences(f, shapes):
    rng = np.random.default_rng(11)
    wrt = tuple(range(len(shapes)))
    g = s2sgrad.grad(f, wrt=wrt, backend="numba")
    vg = s2sgrad.value_and_grad(f, wrt=wrt, backend="numba")
    for _ in range(2):  # a second call with other values: the tapes start again
        args = [rng.normal(size=s) for s in shapes]
        got = g(*args)
        value, again = vg(*args)
        assert value == pytest.approx(f(*args), rel=1e-12)
        for k in wrt:
            want = fd_gradient(f, args, k)
            np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(again[k], want, rtol=1e-6, atol=1e-7)


def _reverse_sweep(source: str, name: str) -> str:
    """The reverse sweep's code of `name`, its comments (the user's statements) left out."""
    body = source[source.index(f"def {name}("):]
    body = body[body.index("# reverse sweep"):]
    body = body[:body.index("\ndef ")] if "\ndef " in body else body
    return "\n".join(line for line in body.split("\n") if not line.strip().startswith("#"))


def test_the_reverse_sweep_takes_exp_back_from_the_tape():
    g = s2sgrad.grad(shifted_rows, backend="numba")
    g(np.ones(2), np.ones((3, 2)))
    source = g.source
    assert "            exp = math.exp(w[j] - x[i, j])\n" in source
    assert "            work[j] = exp * x[i, j]\n" in source
    assert "math.exp" not in _reverse_sweep(source, "grad_shifted_rows_in_rooms")  # its work, lent tapes
    assert "exp = tape_exp[n_tape_exp]" in source
    # the python target keeps the call where the user wrote it (a list's push and pop
    # cost more than exp there)
    python = s2sgrad.grad(shifted_rows).source
    assert "work[j] = math.exp(w[j] - x[i, j]) * x[i, j]" in python and "exp = math.exp" not in python


def test_a_helpers_kept_values_go_on_a_lent_tape():
    g = s2sgrad.grad(rows_lse, backend="numba")
    g(np.ones((2, 3)))
    source = g.source
    assert "math.exp" not in _reverse_sweep(source, "vjp_lse")
    assert "tape_exp_room" in source.split("def vjp_lse(")[1].split(":")[0]


def test_conditional_calls_stay_behind_their_conditions():
    g = s2sgrad.grad(conditional_calls, backend="numba")
    g(np.ones(3))
    source = g.source
    assert "x[i] if x[i] > 0.0 else math.exp(x[i])" in source
    assert "big = math.exp(x[i]) > 1.5" in source
    assert "sqrt = math.sqrt(x[i] * x[i] + 2.0)" in source  # in the branch, where it ran


def test_a_recomputed_loop_whose_forward_sweep_is_dead_calls_again():
    """BA's shape: the vjp recomputes each iteration's values in the reverse loop and has
    no forward loop at all, so exp is called once an iteration either way, with no tape;
    value_and_grad needs the forward loop for the value, and keeps exp on its tape."""
    x, w = np.linspace(-1.0, 1.0, 4), np.linspace(0.5, 1.5, 4)
    vjp = s2sgrad.vjp(observations, wrt=(0, 1), backend="numba")
    got = vjp(x, w, np.ones(4))
    for k in (0, 1):
        np.testing.assert_allclose(got[k], fd_gradient(summed_observations, [x, w], k), rtol=1e-6)
    assert "tape_exp" not in vjp.source
    assert _reverse_sweep(vjp.source, "vjp_observations").count("math.exp(") == 1
    vg = s2sgrad.value_and_grad(summed_observations, wrt=(0, 1), backend="numba")
    value, grads = vg(x, w)
    assert value == pytest.approx(summed_observations(x, w), rel=1e-12)
    for k in (0, 1):
        np.testing.assert_allclose(grads[k], fd_gradient(summed_observations, [x, w], k), rtol=1e-6)


def test_a_user_variable_keeps_its_name():
    g = s2sgrad.grad(user_named_exp, backend="numba")
    g(np.ones(3))
    assert "exp_1 = math.exp(x[i] * 0.5)" in g.source


def test_float32_and_int_arguments():
    x32 = np.linspace(-1.0, 1.0, 4).astype(np.float32)
    w = np.array([0.3, -0.2, 0.1])
    g = s2sgrad.grad(scaled_rows, wrt=(0, 1), backend="numba")
    xs = np.arange(12, dtype=np.int64).reshape(4, 3) % 3
    got = g(w, xs)
    for k in (0, 1):
        np.testing.assert_allclose(got[k], fd_gradient(scaled_rows, [w, xs.astype(float)], k), rtol=1e-6,
                                   atol=1e-7)
    g = s2sgrad.grad(nested_calls, wrt=0, backend="numba")
    y32 = np.linspace(0.5, 2.0, 4).astype(np.float32)
    want = fd_gradient(nested_calls, [x32.astype(float), y32.astype(float)], 0)
    np.testing.assert_allclose(g(x32, y32), want, rtol=1e-4, atol=1e-5)


def test_forward_mode_and_hessians_through_kept_values():
    rng = np.random.default_rng(2)
    w, x = rng.normal(size=3), rng.normal(size=(4, 3))
    jvp = s2sgrad.jvp(scaled_rows, wrt=0, backend="numba")
    t = rng.normal(size=3)
    value, tangent = jvp(w, x, t)
    assert value == pytest.approx(scaled_rows(w, x))
    assert tangent == pytest.approx(fd_gradient(scaled_rows, [w, x], 0) @ t, rel=1e-6)
    y = rng.normal(size=4)
    h = s2sgrad.hessian(nested_calls, wrt=0, backend="numba")(x[:, 0], y)
    np.testing.assert_allclose(h, s2sgrad.hessian(nested_calls, wrt=0)(x[:, 0], y), rtol=1e-10, atol=1e-12)
    assert not np.allclose(h, 0.0)
