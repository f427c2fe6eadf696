"""check_grads against hand-written gradients, without the s2sgrad core.

Each test replaces s2sgrad.testing._reverse_gradient (the one place check_grads asks
s2sgrad for a gradient) by a hand-written gradient, correct or deliberately wrong.
"""
import math

import numpy as np
import pytest

import s2sgrad.testing as testing
from s2sgrad.testing import check_grads


def use_gradient(monkeypatch, gradient):
    """Make `gradient(*args, **kwargs)` the derivative check_grads sees, in both modes;
    returns the calls."""
    calls = []

    def fake(f, wrt, args, kwargs):
        calls.append((f, wrt, args, kwargs))
        return gradient(*args, **kwargs)

    def fake_tangent(f, wrt, args, kwargs, directions):
        # forward mode sees the same (fake) derivative: the gradient dotted with the direction
        g = gradient(*args, **kwargs)
        g = g if isinstance(wrt, tuple) else (g,)
        return None, sum(testing._dot(gi, vi) for gi, vi in zip(g, directions))

    monkeypatch.setattr(testing, "_reverse_gradient", fake)
    monkeypatch.setattr(testing, "_forward_derivative", fake_tangent)
    return calls


def f(x):
    return x * x + math.sin(x)


def df(x):
    return 2 * x + math.cos(x)


def g(x, y, scale=1.0):
    return scale * x * y ** 2


def weighted(w, x):
    return sum(wi * math.exp(wi * x) for wi in w)


def weighted_dw(w, x):
    return [math.exp(wi * x) * (1 + wi * x) for wi in w]


# --- one float argument ----------------------------------------------------------------

def test_correct_gradient_passes(monkeypatch):
    calls = use_gradient(monkeypatch, df)
    check_grads(f, 0.3)
    assert calls == [(f, 0, (0.3,), {})]


@pytest.mark.parametrize("factor", [1.001, -1.0, 0.0])
def test_wrong_gradient_fails(monkeypatch, factor):
    use_gradient(monkeypatch, lambda x: factor * df(x))
    with pytest.raises(AssertionError) as err:
        check_grads(f, 0.3)
    message = str(err.value)
    for part in ["f(0.3)", "direction", "finite differences", "grad . direction",
                 repr(factor * df(0.3))]:
        assert part in message


def test_nan_gradient_fails(monkeypatch):
    use_gradient(monkeypatch, lambda x: math.nan)
    with pytest.raises(AssertionError):
        check_grads(f, 0.3)


def test_int_argument_is_perturbed_as_a_float(monkeypatch):
    calls = use_gradient(monkeypatch, df)
    check_grads(f, 3)
    assert calls[0][2] == (3,) and isinstance(calls[0][2][0], int)


@pytest.mark.parametrize("bad", [1, [1.0], None])
def test_float_argument_needs_a_float_gradient(monkeypatch, bad):
    use_gradient(monkeypatch, lambda x: bad)
    with pytest.raises(AssertionError, match="expected a float"):
        check_grads(f, 0.0)  # df(0) = 1: the int 1 has the right value, not the right type


def test_finite_differences_call_f_itself(monkeypatch):
    use_gradient(monkeypatch, df)
    seen = []

    def h(x):
        seen.append(x)
        return f(x)

    check_grads(h, 0.3, n_directions=4, modes="reverse")
    assert len(seen) == 8 and all(abs(x - 0.3) < 1e-4 for x in seen)


# --- choosing arguments with wrt -------------------------------------------------------

def test_wrt_by_position(monkeypatch):
    use_gradient(monkeypatch, lambda x, y, scale=1.0: 2 * scale * x * y)
    check_grads(g, 0.5, 1.5, wrt=1)
    use_gradient(monkeypatch, lambda x, y, scale=1.0: scale * y ** 2)  # d/dx, not d/dy
    with pytest.raises(AssertionError):
        check_grads(g, 0.5, 1.5, wrt=1)


def test_wrt_by_name_with_keyword_arguments(monkeypatch):
    calls = use_gradient(monkeypatch, lambda x, y, scale=1.0: 2 * scale * x * y)
    check_grads(g, 0.5, y=1.5, scale=3.0, wrt="y")
    assert calls[0][1:] == ("y", (0.5,), {"y": 1.5, "scale": 3.0})
    use_gradient(monkeypatch, lambda x, y, scale=1.0: 2 * x * y)  # forgets scale
    with pytest.raises(AssertionError):
        check_grads(g, 0.5, y=1.5, scale=3.0, wrt="y")


def test_wrt_a_parameter_left_at_its_default(monkeypatch):
    use_gradient(monkeypatch, lambda x, y, scale=1.0: x * y ** 2)
    check_grads(g, 0.5, 1.5, wrt="scale")
    use_gradient(monkeypatch, lambda x, y, scale=1.0: 0.0)
    with pytest.raises(AssertionError):
        check_grads(g, 0.5, 1.5, wrt="scale")


def test_wrt_tuple(monkeypatch):
    use_gradient(monkeypatch, lambda x, y, scale=1.0: (scale * y ** 2, 2 * scale * x * y))
    check_grads(g, 0.5, 1.5, wrt=(0, "y"))
    with pytest.raises(AssertionError):  # the same gradients for wrt in the other order
        check_grads(g, 0.5, 1.5, wrt=("y", 0))


def test_wrt_tuple_needs_one_gradient_per_argument(monkeypatch):
    use_gradient(monkeypatch, lambda x, y, scale=1.0: scale * y ** 2)
    with pytest.raises(AssertionError, match="tuple of 2 gradients"):
        check_grads(g, 0.5, 1.5, wrt=(0, 1))


@pytest.mark.parametrize("wrt", [5, "z", (0, "nope")])
def test_wrt_naming_no_parameter_is_a_usage_error(monkeypatch, wrt):
    use_gradient(monkeypatch, lambda *a, **k: 0.0)
    with pytest.raises(ValueError, match="names no parameter"):
        check_grads(g, 0.5, 1.5, wrt=wrt)


# --- list, tuple and array arguments --------------------------------------------------

def test_list_argument(monkeypatch):
    use_gradient(monkeypatch, weighted_dw)
    check_grads(weighted, [0.5, -1.0, 2.0], 0.7)


@pytest.mark.parametrize("i", [0, 1, 2])
def test_list_gradient_wrong_in_one_component_fails(monkeypatch, i):
    def wrong(w, x):
        grad = weighted_dw(w, x)
        grad[i] += 0.5
        return grad

    use_gradient(monkeypatch, wrong)
    with pytest.raises(AssertionError, match="does not match"):
        check_grads(weighted, [0.5, -1.0, 2.0], 0.7)


@pytest.mark.parametrize("bad", [lambda w, x: weighted_dw(w, x)[:2],
                                 lambda w, x: sum(weighted_dw(w, x)),
                                 lambda w, x: [1, 2, 3]])
def test_list_gradient_needs_the_list_structure(monkeypatch, bad):
    use_gradient(monkeypatch, bad)
    with pytest.raises(AssertionError, match="expected"):
        check_grads(weighted, [0.5, -1.0, 2.0], 0.7)


def test_list_and_float_together(monkeypatch):
    def both(w, x):
        return weighted_dw(w, x), sum(wi * wi * math.exp(wi * x) for wi in w)

    use_gradient(monkeypatch, both)
    check_grads(weighted, (0.5, -1.0, 2.0), 0.7, wrt=(0, "x"))  # a tuple argument too
    use_gradient(monkeypatch, lambda w, x: (both(w, x)[0], 0.0))
    with pytest.raises(AssertionError):
        check_grads(weighted, (0.5, -1.0, 2.0), 0.7, wrt=(0, "x"))


def test_function_writing_into_its_list_argument(monkeypatch):
    def scale_in_place(xs, a):
        for i in range(len(xs)):
            xs[i] *= a
        return xs[0] * xs[1]

    use_gradient(monkeypatch, lambda xs, a: 2 * a * xs[0] * xs[1])
    point = [1.5, -0.5]
    check_grads(scale_in_place, point, 2.0, wrt=1)
    assert point == [1.5, -0.5]


def test_array_argument(monkeypatch):
    c = np.array([[1.0, 2.0], [3.0, -1.0]])

    def quad(a):
        return float(np.sum(c * a ** 2))

    use_gradient(monkeypatch, lambda a: 2 * c * a)
    check_grads(quad, np.array([[0.5, 1.0], [-2.0, 0.3]]))
    use_gradient(monkeypatch, lambda a: 2 * c.T * a)
    with pytest.raises(AssertionError, match="does not match"):
        check_grads(quad, np.array([[0.5, 1.0], [-2.0, 0.3]]))
    use_gradient(monkeypatch, lambda a: (2 * c * a).ravel())
    with pytest.raises(AssertionError, match="shape"):
        check_grads(quad, np.array([[0.5, 1.0], [-2.0, 0.3]]))


# --- options ----------------------------------------------------------------------------

def test_seed_makes_failures_reproducible(monkeypatch):
    use_gradient(monkeypatch, lambda x: 2 * df(x))

    def direction(seed):
        with pytest.raises(AssertionError) as err:
            check_grads(f, 0.3, seed=seed)
        line = next(s for s in str(err.value).splitlines() if "direction:" in s)
        return line.split("(direction")[0]

    assert direction(0) == direction(0)
    assert direction(0) != direction(1)


def test_tolerances_are_used(monkeypatch):
    use_gradient(monkeypatch, lambda x: df(x) * (1 + 1e-3))
    check_grads(f, 0.3, rtol=1e-2)
    with pytest.raises(AssertionError):
        check_grads(f, 0.3, rtol=1e-4)


def test_eps_is_the_finite_difference_step(monkeypatch):
    def cube(x):
        return x ** 3

    use_gradient(monkeypatch, lambda x: 3 * x ** 2)
    check_grads(cube, 1.0, eps=1e-6)
    with pytest.raises(AssertionError):  # the central difference is off by eps^2 v^3
        check_grads(cube, 1.0, eps=0.1)


def use_tangent(monkeypatch, tangent):
    """Make `tangent(*args, *directions)` the forward-mode derivative check_grads sees."""
    def fake(f, wrt, args, kwargs, directions):
        return f(*args, **kwargs), tangent(*args, *directions)

    monkeypatch.setattr(testing, "_forward_derivative", fake)


def test_forward_mode_is_checked(monkeypatch):
    use_gradient(monkeypatch, df)
    use_tangent(monkeypatch, lambda x, v: df(x) * v)
    check_grads(f, 0.3, modes="forward")
    use_tangent(monkeypatch, lambda x, v: df(x) * v * 1.01)  # a wrong forward rule
    with pytest.raises(AssertionError, match="forward-mode derivative of f"):
        check_grads(f, 0.3, modes=("forward", "reverse"))
    check_grads(f, 0.3, modes="reverse")  # reverse alone does not look at the tangent


@pytest.mark.parametrize("modes", [("reverse", "jvp"), "backward"])
def test_unknown_modes_are_refused(monkeypatch, modes):
    with pytest.raises(ValueError, match="is not one of"):
        check_grads(f, 0.3, modes=modes)


@pytest.mark.parametrize("order", [0, 1.5, True])
def test_order_must_be_a_positive_integer(order):
    with pytest.raises(ValueError, match="order="):
        check_grads(f, 0.3, order=order)
