"""scipy.special rows (rules/scalar.py): gammaln, digamma (psi), polygamma, xlogy,
xlog1py, expit, logit, erf, erfc, erfcx, ndtr, log_ndtr and logsumexp, for numbers and
arrays, in both modes and to second order (check_grads), against torch.special, and at
the points where a naive derivative fails: log_ndtr far in the tails (against mpmath's
density / distribution function), xlogy and xlog1py at x = 0.
"""
import mpmath
import numpy as np
import pytest
import scipy.special
import torch
from scipy import special
from scipy.special import gammaln, log_ndtr, xlogy

import s2sgrad
from s2sgrad.testing import check_grads

RNG = np.random.default_rng(1313)


def gammas(x):
    return np.sum(gammaln(x) * special.digamma(x) + special.psi(x) ** 2 + special.polygamma(1, x)
                  + scipy.special.polygamma(2, x) * x)


def gammas_scalar(x):
    return special.gammaln(x) * special.digamma(x) + special.polygamma(1, x) * x


def logs(x, y):
    return np.sum(xlogy(x, y) + special.xlog1py(x, y) * x)


def logs_scalar(x, y):
    return special.xlogy(x, y) * y + special.xlog1py(y, x)


def sigmoids(x):
    return np.sum(special.expit(x) * special.logit(0.5 * special.expit(x) + 0.25) + special.logsumexp(x * x))


def normals(x):
    return np.sum(log_ndtr(x) + special.ndtr(x) ** 2 + special.erf(x) * special.erfc(x) + special.erfcx(x))


def normals_scalar(x):
    return special.log_ndtr(x) * special.ndtr(x) + special.erfcx(x)


def tail(x):
    return log_ndtr(x)


@pytest.mark.parametrize("f, args, wrt", [
    (gammas, (RNG.uniform(0.5, 4.0, 5),), 0),
    (gammas, (RNG.uniform(-2.9, -2.1, 3),), 0),  # gammaln of negatives: log|Gamma|
    (gammas_scalar, (1.7,), 0),
    (logs, (RNG.uniform(-2.0, 2.0, 4), RNG.uniform(0.2, 3.0, 4)), (0, 1)),
    (logs_scalar, (0.8, 1.9), (0, 1)),
    (sigmoids, (RNG.standard_normal(5),), 0),
    (normals, (RNG.uniform(-3.0, 3.0, 6),), 0),
    (normals_scalar, (-1.3,), 0),
], ids=lambda v: getattr(v, "__name__", "") if callable(v) else "")
def test_matches_finite_differences_to_second_order(f, args, wrt):
    check_grads(f, *args, wrt=wrt, order=2, rtol=1e-4, atol=1e-6)


def _torch_grads(fn, *arrays):
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    fn(*ts).backward()
    return [t.grad.numpy() for t in ts]


def test_gammas_match_torch():
    x = RNG.uniform(0.5, 4.0, 5)
    ts = torch.special
    want = _torch_grads(lambda t: torch.sum(ts.gammaln(t) * ts.digamma(t) + ts.digamma(t) ** 2
                                            + ts.polygamma(1, t) + ts.polygamma(2, t) * t), x)
    # (torch's polygamma of order 3 agrees with scipy's to about 1e-8)
    np.testing.assert_allclose(s2sgrad.grad(gammas)(x), want[0], rtol=1e-7)


def test_logs_match_torch():
    x, y = RNG.uniform(-2.0, 2.0, 4), RNG.uniform(0.2, 3.0, 4)
    want = _torch_grads(lambda a, b: torch.sum(torch.xlogy(a, b) + torch.special.xlog1py(a, b) * a), x, y)
    for got, w in zip(s2sgrad.grad(logs, wrt=(0, 1))(x, y), want):
        np.testing.assert_allclose(got, w, rtol=1e-12)


def test_sigmoids_and_normals_match_torch():
    x = RNG.uniform(-3.0, 3.0, 6)
    ts = torch.special
    want = _torch_grads(lambda t: torch.sum(ts.expit(t) * ts.logit(0.5 * ts.expit(t) + 0.25)
                                            + torch.logsumexp(t * t, 0)), x)
    np.testing.assert_allclose(s2sgrad.grad(sigmoids)(x), want[0], rtol=1e-12)
    want = _torch_grads(lambda t: torch.sum(ts.log_ndtr(t) + ts.ndtr(t) ** 2 + ts.erf(t) * ts.erfc(t)
                                            + ts.erfcx(t)), x)
    np.testing.assert_allclose(s2sgrad.grad(normals)(x), want[0], rtol=1e-10)


@pytest.mark.parametrize("x", [-40.0, -1e3, -1e6, -1e10, 0.0, 8.0, 40.0])
def test_log_ndtr_derivative_in_the_tails(x):
    """d log_ndtr = density / distribution function: mpmath at 50 digits, both modes;
    -x**2/2 underflows there, so a formula exp(-x**2/2) / ndtr(x) would give 0 / 0."""
    mpmath.mp.dps = 50
    want = float(mpmath.npdf(x) / mpmath.ncdf(x))
    assert s2sgrad.grad(tail)(x) == pytest.approx(want, rel=1e-12, abs=1e-300)
    _, t = s2sgrad.jvp(tail)(x, 1.0)
    assert t == pytest.approx(want, rel=1e-12, abs=1e-300)
    g = s2sgrad.grad(lambda_free_tail)(np.array([x, x]))
    np.testing.assert_allclose(g, [want, want], rtol=1e-12, atol=1e-300)


def lambda_free_tail(x):
    return np.sum(log_ndtr(x))


def test_xlogy_at_zero_is_zero_as_scipy_defines_it():
    """xlogy(0, y) = 0 for every y, so both partials are 0 along x = 0 (d/dx as
    torch.xlogy: log(y) masked where x == 0), also at y = 0 where log(y) is -inf; no
    warning is raised computing it."""
    x, y = np.array([0.0, 0.0, 1.5]), np.array([0.0, 2.0, 0.5])
    with np.errstate(all="raise"):
        dx, dy = s2sgrad.grad(logs, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx[:2], [0.0, 0.0])
    np.testing.assert_array_equal(dy[:2], [0.0, 0.0])
    assert dx[2] == pytest.approx(np.log(0.5) + 2 * 1.5 * np.log1p(0.5))
    assert dy[2] == pytest.approx(1.5 / 0.5 + 1.5 ** 2 / 1.5)
    dx, dy = s2sgrad.grad(logs_scalar, wrt=(0, 1))(0.0, 0.0)
    assert (dx, dy) == (0.0, 0.0 + np.log1p(0.0))


def test_generated_code_imports_what_it_calls():
    source = s2sgrad.grad(gammas).source
    assert "scipy.special.psi(" in source and "scipy.special.polygamma(" in source
    assert "import scipy.special" in source
    assert "s2sgrad" not in source.split('"""')[0] + source.split('"""')[-1]
    namespace = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # runs alone: it imports what it uses
