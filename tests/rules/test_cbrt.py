"""np.cbrt and math.cbrt: the worked example of a rule written with the primal's result.

d cbrt(x) = 1 / (3 cbrt(x)**2).  sympy would write cbrt(x) as x**(1/3) and its
derivative as x**(-2/3) / 3, which NumPy computes as NaN for x < 0; the row instead
gives the derivative in terms of `ans`, and where a statement's value is the call the
derivative reads the statement's target.  Every test compares with central finite
differences at negative and positive points, in each mode.
"""
import math

import numpy as np
import pytest

import s2sgrad

EPS = 1e-6
POINTS = [-2.7, -0.4, 0.3, 1.9]
ARRAY = np.array([-2.7, -0.4, 0.3, 1.9, -8.0])
W = np.array([0.5, -1.5, 2.0, 0.25, 1.0])


def central(f, x, *rest):
    """The central difference of f at x, entry by entry for an array x."""
    if np.ndim(x) == 0:
        return (f(x + EPS, *rest) - f(x - EPS, *rest)) / (2 * EPS)
    out = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = EPS
        out.flat[i] = (f(x + e, *rest) - f(x - e, *rest)) / (2 * EPS)
    return out


# --- functions -------------------------------------------------------------------------
def cbrt_then_square(x):
    y = np.cbrt(x)            # the derivative reads y: d_x += d_y * (1 / (3 * y ** 2))
    return y * y + x


def cbrt_inside(x):
    return 2.0 * np.cbrt(x) + x   # not the whole value: the derivative calls np.cbrt


def cbrt_overwrites(x):
    x = np.cbrt(x)            # the target is the input
    return x * x * x + x


def cbrt_in_a_loop(x, n):
    for i in range(n):
        y = np.cbrt(x)        # y's values come back from a tape
        x = 1.5 * y - 0.5 * x
    return x


def cbrt_overwrites_in_a_loop(x, n):
    for i in range(n):
        x = np.cbrt(x)
        x = x * 1.25 - 0.5
    return x


def cbrt_of_array(x, w):
    y = np.cbrt(x)
    return np.sum(w * y * y)


def cbrt_of_array_overwrites(x, w):
    x = np.cbrt(x)
    x = np.cbrt(x * w)
    return np.sum(x)


def math_cbrt(x):
    y = math.cbrt(x)
    return y * x


needs_math_cbrt = pytest.mark.skipif(not hasattr(math, "cbrt"), reason="math.cbrt is Python 3.11+")
SCALAR = [cbrt_then_square, cbrt_inside, cbrt_overwrites,
          pytest.param(math_cbrt, marks=needs_math_cbrt)]
LOOPS = [cbrt_in_a_loop, cbrt_overwrites_in_a_loop]
ARRAYS = [cbrt_of_array, cbrt_of_array_overwrites]


# --- reverse mode ----------------------------------------------------------------------
@pytest.mark.parametrize("x", POINTS)
@pytest.mark.parametrize("f", SCALAR)
def test_grad_of_numbers(f, x):
    assert s2sgrad.grad(f)(x) == pytest.approx(central(f, x), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("x", POINTS)
@pytest.mark.parametrize("f", LOOPS)
def test_grad_in_loops(f, x):
    assert s2sgrad.grad(f)(x, 3) == pytest.approx(central(f, x, 3), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("f", ARRAYS)
def test_grad_of_arrays(f):
    np.testing.assert_allclose(s2sgrad.grad(f)(ARRAY, W), central(f, ARRAY, W), rtol=1e-6, atol=1e-9)


def test_the_adjoint_reads_the_result():
    g = s2sgrad.grad(cbrt_then_square)
    g(-2.0)
    sweep = g.source[g.source.index("# reverse sweep"):].splitlines()
    code = [line.strip() for line in sweep if not line.strip().startswith("#")]
    assert "d_x += d_y * (1 / (3 * y ** 2))" in code and not any("cbrt" in line for line in code)


# --- forward mode ----------------------------------------------------------------------
@pytest.mark.parametrize("x", POINTS)
@pytest.mark.parametrize("f", SCALAR)
def test_jvp_of_numbers(f, x):
    value, tangent = s2sgrad.jvp(f)(x, 1.0)
    assert value == pytest.approx(f(x))
    assert tangent == pytest.approx(central(f, x), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("x", POINTS)
@pytest.mark.parametrize("f", LOOPS)
def test_jvp_in_loops(f, x):
    assert s2sgrad.jvp(f)(x, 3, 1.0)[1] == pytest.approx(central(f, x, 3), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("f", ARRAYS)
def test_jvp_of_arrays(f):
    v = np.linspace(-1.0, 1.0, ARRAY.size)
    _, tangent = s2sgrad.jvp(f)(ARRAY, W, v)
    assert tangent == pytest.approx(central(f, ARRAY, W) @ v, rel=1e-6, abs=1e-9)


def test_the_tangent_reads_the_result_after_the_statement():
    j = s2sgrad.jvp(cbrt_overwrites)
    j(-2.0, 1.0)
    assert "    x = np.cbrt(x)\n    t_x = t_x * (1 / (3 * x ** 2))\n" in j.source


# --- vector mode (forward Jacobian: every direction at once) ----------------------------
def cbrt_vector(x):
    y = np.cbrt(x)
    return y * y - np.cbrt(2.0 * x)


def test_forward_jacobian_of_arrays():
    x = ARRAY[:4]
    jac = s2sgrad.jacobian(cbrt_vector, mode="forward")(x)
    columns = [central(lambda s: cbrt_vector(x + s * e), 0.0) for e in np.eye(x.size)]
    np.testing.assert_allclose(jac, np.array(columns).T, rtol=1e-6, atol=1e-9)


# --- second derivatives ------------------------------------------------------------------
@pytest.mark.parametrize("x", POINTS)
def test_second_derivative(x):
    """grad of grad: the first adjoint (1 / (3 * y ** 2)) is differentiated again."""
    gg = s2sgrad.grad(s2sgrad.grad(cbrt_then_square))
    assert gg(x) == pytest.approx(central(s2sgrad.grad(cbrt_then_square), x), rel=1e-5)


# --- numba backend -----------------------------------------------------------------------
@pytest.mark.parametrize("f", [cbrt_then_square, cbrt_inside, cbrt_overwrites])
def test_numba_backend(f):
    g = s2sgrad.grad(f, backend="numba")
    for x in POINTS:
        assert g(x) == pytest.approx(central(f, x), rel=1e-6, abs=1e-9)
    np.testing.assert_allclose(s2sgrad.grad(cbrt_of_array, backend="numba")(ARRAY, W),
                               central(cbrt_of_array, ARRAY, W), rtol=1e-6, atol=1e-9)
