"""Forward mode (jvp, jacobian(mode="forward"), hessian): once silently wrong or a raw crash.

Every derivative is checked against an oracle independent of the code under test:
central finite differences of the function itself (on copies of the arguments), or a
hand derivation.  Shapes are compared too: a tangent has its value's shape.
"""
from __future__ import annotations

import numpy as np
import pytest

import s2sgrad


def fd_jvp(f, args, wrt, tangents, h=1e-6):
    """Central difference of f along `tangents` (one per position in `wrt`)."""
    def at(sign):
        a = [np.copy(x) if isinstance(x, np.ndarray) else x for x in args]
        for i, t in zip(wrt, tangents):
            a[i] = a[i] + sign * h * t
        return np.asarray(f(*a), dtype=float)
    return (at(1) - at(-1)) / (2 * h)


def fd_jacobian(f, args, i, h=1e-6):
    """d f / d args[i] by central differences: shape f's + args[i]'s."""
    x = np.asarray(args[i], dtype=float)
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = 1.0
        cols.append(fd_jvp(f, args, [i], [e.reshape(x.shape) if x.ndim else e[0]], h))
    out = np.stack(cols, axis=-1)
    return out.reshape(np.shape(cols[0]) + x.shape)


def copies(args):
    return [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]


def check_jvp(f, args, wrt, tangents, backend="python", atol=1e-6):
    """jvp against differences; neither args nor tangents written into; shapes kept."""
    before, t_before = copies(args), copies(tangents)
    value, tangent = s2sgrad.jvp(f, wrt=tuple(wrt), backend=backend)(*args, *tangents)
    for a, b in zip(args + list(tangents), before + t_before):
        np.testing.assert_array_equal(a, b)  # the caller's arrays are untouched
    expected = fd_jvp(f, before, wrt, t_before)
    assert np.shape(tangent) == np.shape(expected)
    np.testing.assert_allclose(tangent, expected, atol=atol, rtol=1e-6)
    np.testing.assert_allclose(value, f(*copies(before)), rtol=1e-12)
    return tangent


def check_forward_jacobian(f, args, i, backend="python"):
    before = copies(args)
    jac = s2sgrad.jacobian(f, wrt=i, mode="forward", backend=backend)(*args)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)
    expected = fd_jacobian(f, copies(before), i)
    assert np.shape(jac) == np.shape(expected)
    np.testing.assert_allclose(jac, expected, atol=1e-6, rtol=1e-6)


# ------------------------------------------------------------ 1: inactive, then active
def scale_param(x, s):
    s = s * x
    return s


def increment_param(x, s):
    s += x
    s = s * s
    return s + x


def write_param_array(x, A):
    A[0] = x
    return np.sum(A * A)


def write_param_array_2d(x, A, n):
    for i in range(n):
        A[i, 0] = x[i] * A[i, 1]
    A *= 2.0
    return np.sum(np.sin(A))


def constant_then_active(x):
    s = 1.0
    s += x
    s *= x
    return s


def loop_carried(x, s, n):
    for i in range(n):
        s = s * x + 1.0
    return s


@pytest.mark.parametrize("f, args, wrt", [
    (scale_param, [2.0, 3.0], [0]),
    (increment_param, [2.0, 3.0], [0]),
    (constant_then_active, [1.5], [0]),
    (loop_carried, [0.7, 2.0, 3], [0]),
    (write_param_array, [2.0, np.array([1.0, 2.0, 3.0])], [0]),
    (write_param_array, [2.0, np.ones(1)], [0]),
    (write_param_array_2d, [np.array([0.5, 1.5]), np.arange(6.0).reshape(3, 2), 2], [0]),
])
def test_tangent_of_a_variable_active_only_after_a_write_starts_at_zero(f, args, wrt):
    tangents = [np.ones_like(args[i]) * 0.7 if isinstance(args[i], np.ndarray) else 0.7 for i in wrt]
    check_jvp(f, args, wrt, tangents)
    check_forward_jacobian(f, args, wrt[0])


@pytest.mark.parametrize("f, args", [
    (scale_param, [2.0, 3.0]), (increment_param, [2.0, 3.0]), (loop_carried, [0.7, 2.0, 3]),
    (write_param_array, [2.0, np.array([1.0, 2.0, 3.0])]),
])
def test_hessian_and_hvp_of_a_parameter_active_after_a_write(f, args):
    g = s2sgrad.grad(f, wrt=0)
    h = 1e-5
    expected = (g(*copies([args[0] + h] + args[1:])) - g(*copies([args[0] - h] + args[1:]))) / (2 * h)
    np.testing.assert_allclose(s2sgrad.hessian(f, wrt=0)(*copies(args)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s2sgrad.hvp(f, wrt=0)(*copies(args), 1.0), expected, rtol=1e-5, atol=1e-6)


def test_by_hand_scale_param():
    # s = s * x: ds = s0 dx, not the caller's s
    assert s2sgrad.jvp(scale_param, wrt=0)(2.0, 3.0, 1.0) == (6.0, 3.0)
    # both in wrt: ds = x ds0 + s0 dx
    assert s2sgrad.jvp(scale_param, wrt=(0, 1))(2.0, 3.0, 1.0, 1.0) == (6.0, 5.0)


# ------------------------------------------------------------ 2: the caller's arrays
def add_in_place(x):
    x += 1.0
    return np.sum(x * x)


def scale_in_place(x):
    x *= 2.0
    return np.sum(np.sin(x))


def write_element(x):
    x[0] = 5.0
    return np.sum(x * x)


def write_other(x, y):
    y[0] = x[1] * 3.0
    x[1] = y[1]
    y += x
    return np.sum(x * y)


@pytest.mark.parametrize("f, args, wrt", [
    (add_in_place, [np.array([1.0, 2.0, 3.0])], [0]),
    (add_in_place, [np.array([[1.0], [2.0]])], [0]),
    (scale_in_place, [np.array([0.3, 0.4])], [0]),
    (write_element, [np.array([1.0, 2.0, 3.0])], [0]),
    (write_other, [np.array([1.0, 2.0]), np.array([3.0, 4.0])], [0]),
    (write_other, [np.array([1.0, 2.0]), np.array([3.0, 4.0])], [1]),
    (write_other, [np.array([1.0, 2.0]), np.array([3.0, 4.0])], [0, 1]),
])
def test_jvp_writes_into_neither_the_callers_arrays_nor_its_tangents(f, args, wrt):
    tangents = [np.linspace(0.5, 1.5, args[i].size).reshape(args[i].shape) for i in wrt]
    check_jvp(f, args, wrt, tangents)
    check_forward_jacobian(f, args, wrt[0])
