"""Functions as values, closures and methods (frontend/reach.py and the lambda and local
function lowering): lambdas, local defs, functions passed as arguments, partials, bound
and unbound methods, dataclass containers, numba @njit helpers.

Oracles: central differences in both modes (check_grads), scipy.optimize's Rosenbrock
derivatives, and derivatives worked out by hand in the comments."""
import dataclasses
import functools

import numba
import numpy as np
import pytest
import scipy.optimize

import s2sgrad
from s2sgrad import S2SGradError, UnsupportedSyntaxError, WrtError
from s2sgrad.testing import check_grads

X = np.array([0.5, 1.2, -0.3, 0.8])


# ---------------------------------------------------------------------- lambdas
objective = lambda p: np.sum(p ** 2) + np.sum(np.sin(p))  # noqa: E731  (autograd / emcee style)


def test_lambda_objective_both_modes():
    check_grads(objective, X)
    # d/dp: 2p + cos(p)
    np.testing.assert_allclose(s2sgrad.grad(objective)(X), 2 * X + np.cos(X), rtol=1e-12)
    assert "def grad_objective(p)" in s2sgrad.grad(objective).source


def test_inline_lambda_argument():
    assert s2sgrad.grad(lambda x: x * x * x)(1.5) == pytest.approx(3 * 1.5 ** 2)
    value, tangent = s2sgrad.jvp(lambda x, y: x * np.exp(y), wrt=1)(2.0, 0.5, 1.0)
    assert tangent == pytest.approx(2.0 * np.exp(0.5))


def test_two_lambdas_on_one_line_are_told_apart():
    pair = (lambda x: x * x, lambda x: 3.0 * x * x * x)  # noqa: E731
    assert s2sgrad.grad(pair[0])(2.0) == pytest.approx(4.0)
    assert s2sgrad.grad(pair[1])(2.0) == pytest.approx(36.0)


def make_log_likelihood(data, sigma):
    return lambda mu: -0.5 * np.sum((data - mu) ** 2) / sigma ** 2


def test_lambda_closure_cell_changed_regenerates():
    data = np.array([1.0, 2.0, 4.0])
    loglike = make_log_likelihood(data, 2.0)
    g = s2sgrad.grad(loglike)
    # d/dmu: sum(data - mu) / sigma^2
    assert g(0.5) == pytest.approx(np.sum(data - 0.5) / 4.0)
    cells = dict(zip(loglike.__code__.co_freevars, loglike.__closure__))
    cells["sigma"].cell_contents = 0.5
    assert g(0.5) == pytest.approx(np.sum(data - 0.5) / 0.25)
    cells["data"].cell_contents = np.array([-1.0, 0.0])
    assert g(0.5) == pytest.approx((-1.5 - 0.5) / 0.25)
    check_grads(loglike, 0.5)


SCALE = 2.0
scaled_square = lambda t: SCALE * t * t  # noqa: E731


def calls_global_lambda(x):
    return scaled_square(x) + x


def test_global_lambda_called_and_global_changed():
    global SCALE
    g = s2sgrad.grad(calls_global_lambda)
    assert g(3.0) == pytest.approx(2 * 2.0 * 3.0 + 1)
    try:
        SCALE = 5.0
        assert g(3.0) == pytest.approx(2 * 5.0 * 3.0 + 1)
    finally:
        SCALE = 2.0


# ---------------------------------------------------------------------- local functions
def local_functions(x, a):
    sq = lambda t: t * t * a  # noqa: E731
    def cube(t, k=3.0):
        return t ** k + sq(t)
    y = cube(x) + sq(2.0 * x)
    a = a + 1.0  # a closure reads `a` when called: later calls see the new value
    return y + sq(x)


def test_local_lambda_and_def_both_modes():
    check_grads(local_functions, 1.5, 2.0, wrt=(0, 1))
    x, a = 1.5, 2.0
    # y = x^3 + a x^2 + 4 a x^2, then + (a + 1) x^2
    expected_x = 3 * x ** 2 + 2 * a * x + 8 * a * x + 2 * (a + 1) * x
    expected_a = x ** 2 + 4 * x ** 2 + x ** 2
    gx, ga = s2sgrad.grad(local_functions, wrt=(0, 1))(x, a)
    assert (gx, ga) == (pytest.approx(expected_x), pytest.approx(expected_a))


def local_function_on_arrays(w, x):
    def layer(v):
        return np.tanh(w @ v)
    return np.sum(layer(layer(x)) ** 2)


def test_local_def_on_arrays_partial_wrt():
    w = np.array([[0.3, -0.2, 0.1], [0.05, 0.4, -0.3], [0.2, 0.1, 0.25]])
    x = np.array([0.5, -1.0, 2.0])
    check_grads(local_function_on_arrays, w, x, wrt=0)
    check_grads(local_function_on_arrays, w, x, wrt=1)
    check_grads(local_function_on_arrays, w, x, wrt=(0, 1))


def passes_closure_away(x, a):
    g = lambda t: t * a  # noqa: E731
    return apply(g, x)


def apply(f, x):
    return f(x)


def test_local_function_reading_enclosing_variables_passed_as_value_refused():
    with pytest.raises(UnsupportedSyntaxError, match="local function reading the variables a") as info:
        s2sgrad.grad(passes_closure_away)(1.0, 2.0)
    assert info.value.pos is not None and info.value.hint


def lambda_with_a_local_import(x):
    import numpy as np
    from math import exp
    from scipy.special import expit
    g = lambda t: np.sin(t) * exp(0.5)  # noqa: E731
    squash = lambda t: expit(t) + np.tanh(t)  # noqa: E731
    return np.sum(apply(g, x) * rk4_like(squash, x)) + np.sum(g(x))


def rk4_like(f, y):
    return f(y) + f(2.0 * y)


def def_with_a_local_import(x):
    import numpy

    def g(t):
        return numpy.cos(t) ** 2
    return numpy.sum(apply(g, x))


def imports_after_the_lambda(x):
    g = lambda t: np.sin(t)  # noqa: E731
    import numpy as np
    return np.sum(apply(g, x))


def test_local_functions_read_the_enclosing_functions_imports():
    x = np.array([0.3, -1.2, 0.7])
    check_grads(lambda_with_a_local_import, x)
    check_grads(def_with_a_local_import, x)
    # by hand: d/dx sin(x) e^.5 (s(x) + th(x) + s(2x) + th(2x)) + e^.5 sin(x), s the logistic function
    s, th = (lambda t: 1 / (1 + np.exp(-t))), np.tanh
    inner = s(x) + th(x) + s(2 * x) + th(2 * x)
    d_inner = s(x) * (1 - s(x)) + 1 - th(x) ** 2 + 2 * (s(2 * x) * (1 - s(2 * x)) + 1 - th(2 * x) ** 2)
    e = np.exp(0.5)
    np.testing.assert_allclose(s2sgrad.grad(lambda_with_a_local_import)(x),
                               e * np.cos(x) * inner + e * np.sin(x) * d_inner + e * np.cos(x), rtol=1e-12)
    np.testing.assert_allclose(s2sgrad.grad(def_with_a_local_import)(x), -2 * np.cos(x) * np.sin(x), rtol=1e-12)
    with pytest.raises(UnsupportedSyntaxError, match="reading `np` before the function imports it"):
        s2sgrad.grad(imports_after_the_lambda)(x)


# ---------------------------------------------------------------------- function arguments
def dynamics(y, t):
    return -0.5 * y + np.sin(t) * y * y


def decay(y, t):
    return -0.8 * y


def damped(y, t, k):
    return -k * y + 0.1 * np.cos(t)


def rk4(f, y, t, h):
    k1 = f(y, t)
    k2 = f(y + 0.5 * h * k1, t + 0.5 * h)
    k3 = f(y + 0.5 * h * k2, t + 0.5 * h)
    k4 = f(y + h * k3, t + h)
    return y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


def integrate(f, y, h, n):
    t = 0.0
    for i in range(n):
        y = rk4(f, y, t, h)
        t = t + h
    return np.sum(y * y)


def test_rk4_dynamics_argument_both_modes():
    check_grads(rk4, dynamics, 0.7, 0.3, 0.1, wrt=1)
    check_grads(rk4, dynamics, 0.7, 0.3, 0.1, wrt=(1, 2, 3))
    y0 = np.array([0.7, -0.2, 1.1])
    check_grads(integrate, dynamics, y0, 0.05, 6, wrt=(1, 2))


def test_a_different_function_argument_gives_a_different_derivative():
    g = s2sgrad.grad(rk4, wrt=1)
    first = g(dynamics, 0.7, 0.3, 0.1)
    generated = g.generated
    # linear dynamics y' = -c y: one RK4 step multiplies y by 1 - z + z^2/2 - z^3/6 + z^4/24, z = c h
    z = 0.8 * 0.1
    assert g(decay, 0.7, 0.3, 0.1) == pytest.approx(1 - z + z ** 2 / 2 - z ** 3 / 6 + z ** 4 / 24)
    assert g(dynamics, 0.7, 0.3, 0.1) == pytest.approx(first)
    assert g.generated is generated  # the same function object: the same derivative again
    assert "def grad_rk4(y, t, h)" in g.source and "dynamics(" in g.source


def test_a_lambda_and_a_partial_as_the_function_argument():
    z = 0.8 * 0.1
    expected = 1 - z + z ** 2 / 2 - z ** 3 / 6 + z ** 4 / 24
    g = s2sgrad.grad(rk4, wrt=1)
    assert g(lambda y, t: -0.8 * y, 0.7, 0.3, 0.1) == pytest.approx(expected)
    assert g(functools.partial(damped, k=0.8), 0.7, 0.3, 0.1) == pytest.approx(expected)
    check_grads(rk4, functools.partial(damped, k=0.3), 0.7, 0.3, 0.1, wrt=(1, 2))
    assert g(functools.partial(damped, k=0.5), 0.7, 0.3, 0.1) == pytest.approx(
        1 - 0.05 + 0.05 ** 2 / 2 - 0.05 ** 3 / 6 + 0.05 ** 4 / 24)


def test_partial_as_target():
    def weighted(x, w, p):
        return w * np.sum(np.abs(x) ** p)
    x = np.array([0.3, -1.5, 2.0])
    f = functools.partial(weighted, w=3.0, p=3.0)
    check_grads(f, x)
    np.testing.assert_allclose(s2sgrad.grad(f)(x), 9.0 * x * np.abs(x), rtol=1e-12)
    first = functools.partial(weighted, 2.0)  # binds x: the derivative is with respect to w
    assert s2sgrad.grad(first)(0.5, 3.0) == pytest.approx(8.0)


def test_calling_a_parameter_passed_a_number_is_refused():
    with pytest.raises(S2SGradError, match="calling the parameter `f`"):
        s2sgrad.grad(rk4, wrt=1)(3.0, 0.7, 0.3, 0.1)


# ---------------------------------------------------------------------- methods
class Rosenbrock:
    """As scipy's benchmarks write their test functions."""

    def __init__(self, N):
        self.N = N
        self.scale = 100.0

    def term(self, a, b):
        return self.scale * (b - a * a) ** 2 + (1.0 - a) ** 2

    def fun(self, x):
        s = 0.0
        for i in range(self.N - 1):
            s = s + self.term(x[i], x[i + 1])
        return s


def test_bound_method_against_scipy_both_modes():
    r = Rosenbrock(4)
    np.testing.assert_allclose(s2sgrad.grad(r.fun)(X), scipy.optimize.rosen_der(X), rtol=1e-12)
    check_grads(r.fun, X)
    v = np.array([0.3, -0.1, 0.7, 0.2])
    _, tangent = s2sgrad.jvp(r.fun)(X, v)
    assert tangent == pytest.approx(scipy.optimize.rosen_der(X) @ v)
    np.testing.assert_allclose(s2sgrad.hessian(r.fun)(X), scipy.optimize.rosen_hess(X), rtol=1e-10)


def test_attributes_changed_after_the_first_call():
    r = Rosenbrock(4)
    g = s2sgrad.grad(r.fun)
    g(X)
    r.scale = 10.0  # d/dx of 10 (b - a^2)^2 + (1 - a)^2 summed: by hand
    a, b = X[:-1], X[1:]
    expected = np.zeros(4)
    expected[:-1] += -40.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    expected[1:] += 20.0 * (b - a * a)
    np.testing.assert_allclose(g(X), expected, rtol=1e-12)
    r.scale, r.N = 100.0, 6
    x6 = np.array([0.5, 1.2, -0.3, 0.8, 1.1, 0.9])
    np.testing.assert_allclose(g(x6), scipy.optimize.rosen_der(x6), rtol=1e-12)


def test_unbound_method_self_passed_explicitly():
    r = Rosenbrock(4)
    g = s2sgrad.grad(Rosenbrock.fun, wrt=1)
    np.testing.assert_allclose(g(r, X), scipy.optimize.rosen_der(X), rtol=1e-12)
    x3 = X[:3]
    np.testing.assert_allclose(g(Rosenbrock(3), x3), scipy.optimize.rosen_der(x3), rtol=1e-12)
    check_grads(Rosenbrock.fun, r, X, wrt=1)
    with pytest.raises(WrtError, match="Rosenbrock object"):
        s2sgrad.grad(Rosenbrock.fun, wrt=0)(r, X)


class Quadratic:
    def __init__(self, A, b):
        self.A, self.b = A, b

    def energy(self, x, c):
        return 0.5 * x @ (self.A @ x) - self.b @ x + c * np.sum(x ** 4)


def test_method_array_attributes_and_wrt_by_name():
    A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.1], [0.0, 0.1, 1.0]])
    q = Quadratic(A, np.array([1.0, -1.0, 0.5]))
    x = np.array([0.2, -0.4, 0.9])
    gx = s2sgrad.grad(q.energy, wrt="x")
    # d/dx: A x - b + 4 c x^3 (A symmetric)
    np.testing.assert_allclose(gx(x, 0.3), A @ x - q.b + 1.2 * x ** 3, rtol=1e-12)
    assert s2sgrad.grad(q.energy, wrt=1)(x, 0.3) == pytest.approx(np.sum(x ** 4))
    check_grads(q.energy, x, 0.3, wrt=(0, 1))
    q.A[0, 0] = 5.0  # in place: the derivative reads the array the object holds
    np.testing.assert_allclose(gx(x, 0.3), q.A @ x - q.b + 1.2 * x ** 3, rtol=1e-12)
    q.b = np.zeros(3)  # rebound
    np.testing.assert_allclose(gx(x, 0.3), q.A @ x + 1.2 * x ** 3, rtol=1e-12)


class Writes:
    def __init__(self):
        self.items = [1.0, 2.0]

    def remembers(self, x):
        self.last = x
        return x * x

    def reads_a_list(self, x):
        return self.items[0] * x


def test_writing_an_attribute_or_reading_a_list_attribute_refused():
    w = Writes()
    with pytest.raises(UnsupportedSyntaxError, match="writing the attribute `self.last`") as info:
        s2sgrad.grad(w.remembers)(1.0)
    assert info.value.pos.line > 0 and "never writes" in info.value.hint
    with pytest.raises(UnsupportedSyntaxError, match=r"reading `self.items` \(a list\)"):
        s2sgrad.grad(w.reads_a_list)(1.0)


# ---------------------------------------------------------------------- dataclass containers
@dataclasses.dataclass
class Layer:
    W: np.ndarray
    b: np.ndarray


def layer_loss(p, x):
    return np.sum(np.tanh(p.W @ x + p.b) ** 2)


def test_dataclass_fields_read_as_constants():
    p = Layer(np.arange(6.0).reshape(2, 3) / 10, np.array([0.1, -0.2]))
    x = np.array([0.3, -0.5, 0.9])
    check_grads(layer_loss, p, x, wrt=1)
    h = np.tanh(p.W @ x + p.b)
    # d/dx: W^T (2 h (1 - h^2))
    g = s2sgrad.grad(layer_loss, wrt=1)
    np.testing.assert_allclose(g(p, x), p.W.T @ (2 * h * (1 - h * h)), rtol=1e-12)
    p.W = -p.W
    h = np.tanh(p.W @ x + p.b)
    np.testing.assert_allclose(g(p, x), p.W.T @ (2 * h * (1 - h * h)), rtol=1e-12)
    # taken as wrt, its gradient is a dict keyed by field (tests/test_dataclass_params.py):
    # d/dW = outer(s, x), d/db = s with s = 2 h (1 - h^2)
    s = 2 * h * (1 - h * h)
    got = s2sgrad.grad(layer_loss, wrt=0)(p, x)
    assert list(got) == ["W", "b"]
    np.testing.assert_allclose(got["W"], np.outer(s, x), rtol=1e-12)
    np.testing.assert_allclose(got["b"], s, rtol=1e-12)


# ---------------------------------------------------------------------- numba helpers
@numba.njit
def softplus(z):
    return np.log1p(np.exp(z))


def uses_njit_helper(x):
    return np.sum(softplus(x) * x)


def test_njit_helper_differentiated_through_its_source():
    x = np.array([0.3, -0.5, 0.9])
    check_grads(uses_njit_helper, x)
    s = 1.0 / (1.0 + np.exp(-x))  # d/dx softplus(x) x = sigmoid(x) x + softplus(x)
    np.testing.assert_allclose(s2sgrad.grad(uses_njit_helper)(x), s * x + np.log1p(np.exp(x)),
                               rtol=1e-12)
    assert s2sgrad.grad(softplus)(0.3) == pytest.approx(1.0 / (1.0 + np.exp(-0.3)))


def test_numba_backend_compiles_method_and_function_argument():
    r = Rosenbrock(4)
    g = s2sgrad.grad(r.fun, backend="numba")
    np.testing.assert_allclose(g(X), scipy.optimize.rosen_der(X), rtol=1e-12)
    r.scale = 10.0
    np.testing.assert_allclose(g(X), s2sgrad.grad(r.fun)(X), rtol=1e-12)
    step = s2sgrad.grad(rk4, wrt=1, backend="numba")
    assert step(dynamics, 0.7, 0.3, 0.1) == pytest.approx(s2sgrad.grad(rk4, wrt=1)(dynamics, 0.7, 0.3, 0.1))


def test_numba_backend_sees_an_array_attribute_changed_in_place():
    A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.1], [0.0, 0.1, 1.0]])
    q = Quadratic(A, np.array([1.0, -1.0, 0.5]))
    x = np.array([0.2, -0.4, 0.9])
    g = s2sgrad.grad(q.energy, backend="numba")
    np.testing.assert_allclose(g(x, 0.3), A @ x - q.b + 1.2 * x ** 3, rtol=1e-12)
    q.A[1, 1] = 7.0  # numba froze the array's values: the content changed, so it recompiles
    np.testing.assert_allclose(g(x, 0.3), q.A @ x - q.b + 1.2 * x ** 3, rtol=1e-12)


def one_step(y, t, h):
    return rk4(dynamics, y, t, h)


def test_second_derivatives_through_a_function_argument():
    g = s2sgrad.grad(rk4, wrt=1)
    g(dynamics, 0.7, 0.3, 0.1)
    with pytest.raises(S2SGradError, match="specialised on the function or object passed as f") as info:
        s2sgrad.grad(g, wrt=1)
    assert "def step_dyn" in info.value.hint
    # fixing the function in a def of its own is the way: checked against differences
    check_grads(one_step, 0.7, 0.3, 0.1, wrt=(0, 1), order=2)


def local_def_with_a_default(x, a):
    def q(t, s=0.5):
        return a * t * s
    return np.sum(x) * q(1.0) + q(x[0], s=2.0) + q(x[1], 3.0)


def test_local_def_with_a_default_reading_an_enclosing_variable():
    # the enclosing `a` becomes a parameter after `s=0.5` (found by the fuzzer): a
    # SyntaxError in the generated code before; by hand d/da = 0.5 sum(x) + 2 x0 + 3 x1
    x, a = np.array([0.6, 0.2]), -0.5
    _, da = s2sgrad.grad(local_def_with_a_default, wrt=(0, 1))(x, a)
    assert np.isclose(da, 0.5 * np.sum(x) + 2 * x[0] + 3 * x[1])
    check_grads(local_def_with_a_default, x, a, wrt=(0, 1))
