"""Rules written with the primal's result (`ans`): np.exp, np.tanh, np.sqrt,
scipy.special.expit and their math twins.  Where a statement's whole value is such a
call, the derivative reads the statement's target: before its old value is restored in
reverse mode, after the statement in forward mode.  Where the target's old value is
needed too, the call is computed again instead."""
import math

import numpy as np
import pytest
import scipy.special

import s2sgrad
from s2sgrad.testing import check_grads


def tanh_layer(z, w):
    h = np.tanh(z)
    return np.sum(w * h)


def tanh_overwrites_in_a_loop(h, n):
    for i in range(n):
        h = np.tanh(h)
        h = 1.7 * h + 0.3
    return np.sum(h)


def tanh_needs_both_values(h, w):
    h = np.tanh(h * w)    # the partial in w reads the old h: the call is computed again
    return np.sum(h * h)


def tanh_broadcasts_its_target(h, b):
    h = np.tanh(h + b)    # h may change shape: the call is computed again
    return np.sum(h * h)


def exp_and_sqrt(x, y):
    a = math.exp(x * y)
    b = math.sqrt(a + x * x)
    return a * b + math.tanh(b)


def exp_overwrites_in_a_while(x):
    while x < 5.0:
        x = math.exp(0.5 * x) + 0.1
        x = math.sqrt(x) * 2.0
    return x


def logistic(x, w):
    p = scipy.special.expit(x)
    return np.sum(w * p * p)


def rnn(W, b, h0, xs):
    h = h0
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t] + b)
    return np.sum(h ** 2)


rng = np.random.default_rng(7)
CASES = [
    (tanh_layer, (rng.standard_normal(4), rng.standard_normal(4)), (0, 1)),
    (tanh_overwrites_in_a_loop, (rng.standard_normal(3), 3), 0),
    (tanh_needs_both_values, (rng.standard_normal(3), rng.standard_normal(3)), (0, 1)),
    (tanh_broadcasts_its_target, (rng.standard_normal(3), rng.standard_normal((2, 3))), (0, 1)),
    (exp_and_sqrt, (0.3, -0.7), (0, 1)),
    (exp_overwrites_in_a_while, (-1.5,), 0),
    (logistic, (rng.standard_normal(5) * 3, rng.standard_normal(5)), (0, 1)),
    (rnn, (0.5 * rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal(3),
           rng.standard_normal((4, 3))), (0, 1, 2)),
]


@pytest.mark.parametrize("f, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_against_differences(f, args, wrt):
    check_grads(f, *args, wrt=wrt, order=2)


def _vector_mode_cases():
    for f, args, wrt in CASES:
        yield pytest.param(f, args, wrt, id=f.__name__)


@pytest.mark.parametrize("f, args, wrt", list(_vector_mode_cases()))
def test_forward_jacobian(f, args, wrt):
    """Vector mode: every direction at once, against reverse mode."""
    wrt = wrt if isinstance(wrt, tuple) else (wrt,)
    forward = s2sgrad.jacobian(f, wrt=wrt, mode="forward")(*args)
    reverse = s2sgrad.grad(f, wrt=wrt)(*args)
    for a, b in zip(forward if len(wrt) > 1 else [forward], reverse if len(wrt) > 1 else [reverse]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _code(source):
    return [line.strip() for line in source.splitlines() if not line.strip().startswith(("#", '"'))]


def test_rnn_adjoint_reuses_h():
    g = s2sgrad.grad(rnn, wrt=(0, 1, 2))
    g(*CASES[-1][1][:4])
    code = _code(g.source[g.source.index("# reverse sweep"):])
    assert "tmp = 1 - h ** 2" in code and not any("np.tanh" in line for line in code)


def test_where_both_values_are_needed_the_call_is_computed_again():
    g = s2sgrad.grad(tanh_needs_both_values, wrt=(0, 1))
    g(*CASES[2][1])
    assert any("np.tanh" in line for line in _code(g.source[g.source.index("# reverse sweep"):]))


def test_expit_where_exp_overflows():
    x = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    with np.errstate(all="raise"):
        g = s2sgrad.grad(logistic)(x, np.ones(5))
    p = scipy.special.expit(x)
    np.testing.assert_allclose(g, 2 * p * p * (1 - p), atol=1e-300)


def test_grad_does_not_compute_an_output_it_does_not_return():
    """`return math.exp(z)`: grad's adjoint calls exp itself rather than computing the
    value only to read it; value_and_grad, which returns it, reads it."""
    def f(x):
        return math.exp(2.0 * x)
    assert "d_x = 2.0 * math.exp(2.0 * x)" in s2sgrad.grad(f).source
    assert "d_x = 2.0 * result" in s2sgrad.value_and_grad(f).source
    assert s2sgrad.value_and_grad(f)(0.3) == pytest.approx((math.exp(0.6), 2 * math.exp(0.6)))
