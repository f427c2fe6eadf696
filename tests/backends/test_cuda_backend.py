"""backend="cuda": the gradient at every point of arrays, one thread a point.

Runs under numba's CUDA simulator (tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1 unless it
is set already; NUMBA_ENABLE_CUDASIM=0 runs these on a real GPU).  Every point is
compared with the python backend called point by point, and where a derivative is
known in closed form, with that.  The simulator runs each thread in Python: few points.
"""
import math

import numpy as np
import pytest

import s2sgrad
from s2sgrad.backends import cuda as s2cuda

import cuda_functions as cf

cuda = pytest.importorskip("numba.cuda")

RNG = np.random.default_rng(5)
N = 24


def pointwise(f, wrt, *args, kind="grad"):
    """The python backend at each point: arrays split into elements, numbers as they are."""
    g = (s2sgrad.grad if kind == "grad" else s2sgrad.value_and_grad)(f, wrt=wrt)
    n = next(len(a) for a in args if isinstance(a, np.ndarray))
    return [g(*[a[k] if isinstance(a, np.ndarray) else a for a in args]) for k in range(n)]


def assert_matches(got, expected, wrt_is_tuple):
    """`got`: an array per wrt entry (a tuple when wrt is); `expected`: one result per point."""
    got = got if wrt_is_tuple else (got,)
    for j, column in enumerate(got):
        assert isinstance(column, np.ndarray) and column.dtype == np.float64
        want = np.array([e[j] if wrt_is_tuple else e for e in expected], dtype=float)
        np.testing.assert_allclose(column, want, rtol=1e-12, atol=1e-12)


CASES = [
    ("poly_trig", cf.poly_trig, (0, 1), lambda: (RNG.uniform(-2, 2, N), RNG.uniform(-2, 2, N)), None),
    ("branches", cf.branches, (0, 1),
     lambda: (np.concatenate([RNG.uniform(-2, 2, N - 4), [0.5, 0.5, -1.0, 0.25]]),
              np.concatenate([RNG.uniform(-2, 2, N - 4), [0.5, 0.1, 1.0, 0.75]])), None),
    ("for_loop", cf.for_loop, (0, 1), lambda: (RNG.uniform(-1, 1, N), RNG.uniform(0, 0.3, N), 7), 16),
    ("for_loop_per_point_trips", cf.for_loop, (0, 1),
     lambda: (RNG.uniform(-1, 1, N), RNG.uniform(0, 0.3, N), RNG.integers(0, 9, N)), 8),
    ("while_loop", cf.while_loop, (0, 1), lambda: (RNG.uniform(0.1, 2, N), RNG.uniform(0.1, 2, N)), 8),
    ("helper", cf.with_helper, (0, 1), lambda: (RNG.uniform(-1, 1, N), RNG.uniform(-1, 1, N)), None),
    ("black_scholes", cf.black_scholes, ("spot", "vol"),
     lambda: (RNG.uniform(50, 150, N), RNG.uniform(0.1, 0.6, N), 100.0, 1.5, 0.02), None),
    ("gauss_loglik", cf.gauss_loglik, (1, 2),
     lambda: (RNG.normal(size=N), RNG.normal(size=N), RNG.uniform(0.5, 2, N)), None),
]


@pytest.mark.parametrize("name,f,wrt,make_args,bound", CASES, ids=[c[0] for c in CASES])
def test_grad_matches_python_backend(name, f, wrt, make_args, bound):
    args = make_args()
    g = s2sgrad.grad(f, wrt=wrt, backend="cuda", tape_bound=bound)
    assert_matches(g(*args), pointwise(f, wrt, *args), True)


def test_value_and_grad_single_wrt():
    x = RNG.uniform(-1, 1, N)
    vg = s2sgrad.value_and_grad(cf.for_loop, wrt=0, backend="cuda", tape_bound=6)
    value, grad = vg(x, 0.2, 6)
    expected = pointwise(cf.for_loop, 0, x, 0.2, 6, kind="value_and_grad")
    np.testing.assert_allclose(value, [cf.for_loop(xk, 0.2, 6) for xk in x], rtol=1e-12, atol=1e-12)
    assert_matches(grad, [e[1] for e in expected], False)
    # grad of a single wrt is one array, not a tuple
    g = s2sgrad.grad(cf.poly_trig, wrt="y", backend="cuda")
    y = RNG.uniform(-1, 1, N)
    assert_matches(g(x, y), pointwise(cf.poly_trig, "y", x, y), False)
    assert len(s2sgrad.grad(cf.poly_trig, wrt=(1,), backend="cuda")(x, y)) == 1


def test_black_scholes_greeks_by_hand():
    """delta = N(d1) and vega = S phi(d1) sqrt(t), the textbook formulas."""
    spot, vol = RNG.uniform(60, 140, N), RNG.uniform(0.1, 0.5, N)
    strike, t, rate = 100.0, 0.75, 0.03
    value, (delta, vega) = s2sgrad.value_and_grad(cf.black_scholes, wrt=(0, 1), backend="cuda")(
        spot, vol, strike, t, rate)
    d1 = (np.log(spot / strike) + (rate + 0.5 * vol ** 2) * t) / (vol * math.sqrt(t))
    cdf = np.array([0.5 * (1 + math.erf(d / math.sqrt(2))) for d in d1])
    np.testing.assert_allclose(delta, cdf, rtol=1e-12)
    np.testing.assert_allclose(vega, spot * np.exp(-d1 ** 2 / 2) / math.sqrt(2 * math.pi) * math.sqrt(t),
                               rtol=1e-11)
    np.testing.assert_allclose(value, [cf.black_scholes(s, v, strike, t, rate) for s, v in zip(spot, vol)],
                               rtol=1e-12)


def test_gauss_loglik_by_hand():
    x, mu, sigma = RNG.normal(size=N), RNG.normal(size=N), RNG.uniform(0.5, 2, N)
    d_mu, d_sigma = s2sgrad.grad(cf.gauss_loglik, wrt=(1, 2), backend="cuda")(x, mu, sigma)
    z = (x - mu) / sigma
    np.testing.assert_allclose(d_mu, z / sigma, rtol=1e-12)
    np.testing.assert_allclose(d_sigma, (z * z - 1) / sigma, rtol=1e-12)


def test_host_arrays_in_numpy_out():
    g = s2sgrad.grad(cf.poly_trig, wrt=(0, 1), backend="cuda")
    x, y = [0.5, 1.0, 1.5], np.array([1, 2, 3])  # a list and an int array are accepted too
    dx, dy = g(x, y)
    assert type(dx) is np.ndarray and type(dy) is np.ndarray and dx.shape == (3,)
    assert_matches((dx, dy), pointwise(cf.poly_trig, (0, 1), np.array(x), y.astype(float)), True)


def test_device_arrays_in_device_arrays_out():
    x = RNG.uniform(-1, 1, N)
    g = s2sgrad.grad(cf.gauss_loglik, wrt=(0, 2), backend="cuda")
    sigma = np.full(N, 1.5)
    dx, dsigma = g(cuda.to_device(x), 0.25, cuda.to_device(sigma))
    assert s2cuda._on_device(dx) and s2cuda._on_device(dsigma)
    assert not isinstance(dx, np.ndarray)
    assert_matches((dx.copy_to_host(), dsigma.copy_to_host()),
                   pointwise(cf.gauss_loglik, (0, 2), x, 0.25, sigma), True)


def test_source_is_cuda_and_standalone():
    g = s2sgrad.grad(cf.for_loop, wrt=0, backend="cuda", tape_bound=32)
    src = g.source
    assert "@cuda.jit(device=True)" in src and "cuda.grid(1)" in src
    # a tape_bound is the room of each thread's part of the tape's buffer: nothing to count
    assert "n_tape_s < tape_s.shape[0]" in src and "tape_s_all[" in src
    assert "count_tapes" not in src and "tape_rooms" not in src
    assert "import s2sgrad" not in src and "from s2sgrad" not in src
    assert "import numpy" not in src and "from numba import cuda" in src
    assert "def kernel_grad_for_loop(" in src


def test_loop_without_tape_needs_no_bound():
    """s = s + x*i + sin(x) overwrites s, but its adjoint never reads s: no tape, no bound."""
    g = s2sgrad.grad(cf.loop_without_tape, backend="cuda")
    assert "local.array" not in g.source
    x, n = RNG.uniform(-1, 1, N), RNG.integers(0, 50, N)
    np.testing.assert_allclose(g(x, n), n * (n - 1) / 2 + n * np.cos(x), rtol=1e-12, atol=1e-12)


def test_tapes_are_sized_without_a_tape_bound():
    """Per-point trip counts of a for loop (up to 40 pushes) and a while loop of tens of
    trips: each thread's tape is sized before the launch (rooms at kernel entry for the
    for loop, a counting pass for the while loop), and the gradients are the python
    backend's."""
    x, a, n = RNG.uniform(-1, 1, 8), RNG.uniform(0, 0.3, 8), RNG.integers(0, 41, 8)
    n[0] = 40
    g = s2sgrad.grad(cf.for_loop, wrt=(0, 1), backend="cuda")
    assert_matches(g(x, a, n), pointwise(cf.for_loop, (0, 1), x, a, n), True)
    assert g.rooms == {"tape_s": 40}  # exactly what the longest point needs
    x, y = RNG.uniform(0.5, 1.0, 6), RNG.uniform(2.0, 5.0, 6)
    w = s2sgrad.grad(cf.creeping_while, wrt=(0, 1), backend="cuda")
    assert_matches(w(x, y), pointwise(cf.creeping_while, (0, 1), x, y), True)
    assert "def count_tapes_grad_creeping_while(x, y):" in w.source
    assert w.rooms["tape_z"] == max(len(_trajectory(xk, yk)) for xk, yk in zip(x, y))


def _trajectory(x, y):
    """The values z takes before each trip of creeping_while's loop (what its tape holds)."""
    z, out = x, []
    while z < y:
        out.append(z)
        z = z + 0.05 * math.sin(z) * x + 0.1
    return out


def test_tape_overflow_is_an_error():
    x = RNG.uniform(-1, 1, 6)
    n = np.array([2, 3, 4, 5, 7, 9])
    g = s2sgrad.grad(cf.for_loop, wrt=0, backend="cuda", tape_bound=4)
    with pytest.raises(s2cuda.TapeOverflowError) as info:
        g(x, 0.1, n)
    assert isinstance(info.value, s2sgrad.S2SGradError)
    text = str(info.value)
    assert "tape_bound=4 is too small" in text and "at 3 of 6 point(s)" in text and "tape_bound=9" in text
    # room enough: the same points are right
    g9 = s2sgrad.grad(cf.for_loop, wrt=0, backend="cuda", tape_bound=9)
    assert_matches(g9(x, 0.1, n), pointwise(cf.for_loop, 0, x, 0.1, n), False)


@pytest.mark.parametrize("f,construct,where", [
    (cf.uses_numpy, "np.sum", "cuda_functions.py:62:12"),
    (cf.uses_list, "lists", "cuda_functions.py:66:10"),
])
def test_unsupported_construct(f, construct, where):
    with pytest.raises(s2sgrad.S2SGradError) as info:
        s2sgrad.grad(f, backend="cuda")
    text = str(info.value)
    assert construct in text and where in text and "^" in text


def test_adjoint_outside_the_subset_is_refused_at_the_call():
    """A helper returning a tuple is fine on the GPU, but its adjoint takes NumPy sums of
    the cotangents: refused at the helper's statement, not left to a NameError."""
    with pytest.raises(s2sgrad.S2SGradError) as info:
        s2sgrad.grad(cf.uses_pair, backend="cuda")
    assert "np.sum" in str(info.value) and "return a * b, a + b" in str(info.value)


def test_bad_arguments():
    g = s2sgrad.grad(cf.poly_trig, wrt=0, backend="cuda")
    with pytest.raises(s2sgrad.S2SGradError, match="shape"):
        g(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(s2sgrad.S2SGradError, match="one length"):
        g(np.ones(3), np.ones(4))
    with pytest.raises(s2sgrad.S2SGradError, match="at least one argument as an array"):
        g(1.0, 2.0)
    with pytest.raises(ValueError, match="tape_bound"):
        s2sgrad.grad(cf.poly_trig, tape_bound=8)
    for other in (s2sgrad.jvp, s2sgrad.vjp, s2sgrad.hvp):
        with pytest.raises(ValueError, match="grad and value_and_grad"):
            other(cf.poly_trig, backend="cuda")
    for other in (s2sgrad.jacobian, s2sgrad.hessian):
        with pytest.raises(ValueError, match="grad and value_and_grad"):
            other(cf.poly_trig, backend="cuda")(1.0, 2.0)
