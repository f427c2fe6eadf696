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


def check_forward_jacobian(f, args, i, backend="python", f_writes_args=False):
    before = copies(args)
    jac = s2sgrad.jacobian(f, wrt=i, mode="forward", backend=backend)(*args)
    for a, b in zip(args, before):
        if not f_writes_args:  # (f itself writing into x through an alias may)
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


# ------------------------------------------------------------ 3: a partial's temporary is an array
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_assigned(x):
    y = 1.0 / (1.0 + np.exp(-x))
    return y


def sigmoid_summed(x, w):
    return np.sum(w * (1.0 / (1.0 + np.exp(-x))))


@pytest.mark.parametrize("f, args", [
    (sigmoid, [np.array([0.5, -1.0, 2.0])]), (sigmoid_assigned, [np.array([0.5, -1.0, 2.0])]),
    (sigmoid_assigned, [np.array([[0.3]])]), (sigmoid_assigned, [0.3]),
    (sigmoid_summed, [np.array([0.5, -1.0]), np.array([2.0, 3.0])]),
])
def test_sigmoid_of_an_array(f, args):
    x = args[0]
    t = np.full_like(x, 0.3) if isinstance(x, np.ndarray) else 0.3
    tangent = check_jvp(f, args, [0], [t])
    s = 1.0 / (1.0 + np.exp(-x))
    if f is not sigmoid_summed:  # by hand: s (1 - s)
        np.testing.assert_allclose(tangent, 0.3 * s * (1 - s), rtol=1e-12)
    if isinstance(x, np.ndarray):
        check_forward_jacobian(f, args, 0)


def test_sigmoid_hessian_by_hand():
    x, w = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    s = 1.0 / (1.0 + np.exp(-x))
    np.testing.assert_allclose(s2sgrad.hessian(sigmoid_summed)(x, w),
                               np.diag(w * s * (1 - s) * (1 - 2 * s)), rtol=1e-10, atol=1e-14)


# ------------------------------------------------------------ 4: builtin max / min
def max_of_array(x):
    return max(x) * 2.0


def min_of_list(x):
    xs = [x, 2.0 * x]
    return min(xs)


def max_with_key(x):
    return max(x, default=0.0)


def max_of_numbers(a, b):
    return max(a, b) * min(a, 2.0 * b)


def max_of_three(a, b, c):
    return max(a, b, c)


@pytest.mark.parametrize("f, args", [
    (max_of_array, [np.array([1.0, 3.0, 3.0])]), (min_of_list, [1.5]), (max_with_key, [np.array([1.0])]),
])
def test_builtin_max_of_one_iterable_is_refused_with_its_position(f, args):
    for make in (lambda: s2sgrad.jvp(f)(*args, *copies(args)),
                 lambda: s2sgrad.jacobian(f, mode="forward")(*args)):
        with pytest.raises(s2sgrad.errors.UnsupportedCallError) as info:
            make()
        err = info.value
        assert err.pos is not None and "test_forward_trust.py" in str(err) and "np." in err.hint


@pytest.mark.parametrize("args", [(1.0, 3.0), (3.0, 1.0), (2.0, 2.0), (2.0, 1.0), (-1.0, -0.5)])
def test_builtin_max_and_min_of_numbers_tie_as_reverse_mode(args):
    g = s2sgrad.grad(max_of_numbers, wrt=(0, 1))(*args)
    for k in range(2):
        e = [0.0, 0.0]
        e[k] = 1.0
        assert s2sgrad.jvp(max_of_numbers, wrt=(0, 1))(*args, *e)[1] == pytest.approx(g[k])
    np.testing.assert_allclose(s2sgrad.jacobian(max_of_numbers, wrt=(0, 1), mode="forward")(*args), g)


def test_builtin_max_of_three_numbers_takes_the_first_of_ties():
    # Python's max returns the first maximal argument: the tangent is that argument's
    assert s2sgrad.jvp(max_of_three, wrt=(0, 1, 2))(1.0, 2.0, 2.0, 10.0, 20.0, 30.0)[1] == 20.0
    assert s2sgrad.jvp(max_of_three, wrt=(0, 1, 2))(2.0, 2.0, 2.0, 10.0, 20.0, 30.0)[1] == 10.0
    assert s2sgrad.jvp(max_of_three, wrt=(0, 1, 2))(1.0, 0.0, 3.0, 10.0, 20.0, 30.0)[1] == 30.0


# ------------------------------------------------------------ 5: a tangent has the broadcast shape
def plus_sin(x, A):
    return A + np.sin(x)


def plus_sin_assigned(x, A):
    y = A + np.sin(x)
    y = y * 2.0
    return y


def tanh_broadcasts(h, b):
    h = np.tanh(h + b)
    return np.sum(h * h)


def tanh_broadcasts_value(h, b):
    h = np.tanh(h + b)
    return h


@pytest.mark.parametrize("f, args, wrt", [
    (plus_sin, [np.array([0.3, 0.4]), np.ones((1, 2))], [0]),
    (plus_sin, [np.array([0.3, 0.4]), np.arange(6.0).reshape(3, 2)], [0]),
    (plus_sin, [np.array([0.3]), np.arange(6.0).reshape(3, 2)], [0]),
    (plus_sin, [np.array([[0.3], [0.2]]), np.arange(6.0).reshape(1, 2, 3)], [0]),
    (plus_sin, [0.3, np.arange(6.0).reshape(3, 2)], [0]),
    (plus_sin, [np.array([0.3, 0.4]), np.arange(6.0).reshape(3, 2)], [1]),
    (plus_sin_assigned, [np.array([0.3, 0.4]), np.arange(6.0).reshape(3, 2)], [0]),
    (tanh_broadcasts, [np.array([0.1, 0.2, 0.3]), np.arange(6.0).reshape(2, 3) / 6], [0]),
    (tanh_broadcasts, [np.array([0.1, 0.2, 0.3]), np.arange(6.0).reshape(2, 3) / 6], [1]),
    (tanh_broadcasts, [np.array([0.1, 0.2, 0.3]), np.arange(6.0).reshape(2, 3) / 6], [0, 1]),
    (tanh_broadcasts_value, [np.array([0.1, 0.2, 0.3]), np.arange(6.0).reshape(2, 3) / 6], [0]),
    (tanh_broadcasts_value, [np.array([0.1]), np.arange(6.0).reshape(2, 3) / 6], [0, 1]),
])
def test_tangent_has_the_broadcast_shape(f, args, wrt):
    tangents = [np.linspace(0.5, 1.5, np.size(args[i])).reshape(np.shape(args[i])) if np.ndim(args[i])
                else 0.7 for i in wrt]
    check_jvp(f, args, wrt, tangents)
    for i in wrt:
        check_forward_jacobian(f, args, i)
    jac = s2sgrad.jacobian(f, wrt=tuple(wrt), mode="forward")(*copies(args))
    jac = jac if isinstance(jac, tuple) else (jac,)
    for i, j in zip(wrt, jac):
        np.testing.assert_allclose(j, fd_jacobian(f, copies(args), i), atol=1e-6, rtol=1e-6)


# ------------------------------------------------------------ 6: a 0-d index
def zero_d_index(x):
    return x[()] * 2.0


def zero_d_index_assigned(x, y):
    z = x[()]
    return z * z * y


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_zero_d_index(backend):
    pytest.importorskip(backend) if backend == "numba" else None
    x = np.array(3.0)
    assert s2sgrad.jvp(zero_d_index, backend=backend)(x, np.array(1.0))[1] == pytest.approx(2.0)
    assert s2sgrad.jvp(zero_d_index_assigned, backend=backend)(x, 2.0, np.array(1.0))[1] == pytest.approx(12.0)
    if backend == "python":
        assert s2sgrad.jacobian(zero_d_index_assigned, mode="forward")(x, 2.0) == pytest.approx(12.0)
        assert s2sgrad.hessian(zero_d_index_assigned)(x, 2.0) == pytest.approx(4.0)


# ------------------------------------------------------------ 7: a callee's array, then written into
def double(x):
    return x * 2.0


def same(x):
    return x


def write_helper_result(x):
    y = double(x)
    y[0] = 0.0
    return np.sum(y * y)


def write_helper_alias(x):
    y = same(x)
    y[0] = 0.0
    return np.sum(y) + np.sum(x * x)


def write_helper_result_2d(x):
    y = double(x)
    y[0, :] = y[1, :] * 3.0
    return y


@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("f, x", [
    (write_helper_result, np.array([1.0, 2.0, 3.0])),
    (write_helper_result_2d, np.arange(6.0).reshape(2, 3)),
    (write_helper_result_2d, np.arange(2.0).reshape(2, 1)),
])
def test_written_helper_result(f, x, backend):
    if backend == "numba":
        pytest.importorskip("numba")
    t = np.linspace(0.5, 1.5, x.size).reshape(x.shape)
    t_before = t.copy()
    value, tangent = s2sgrad.jvp(f, backend=backend)(x.copy(), t)
    np.testing.assert_array_equal(t, t_before)  # the caller's tangent is not written into
    np.testing.assert_allclose(tangent, fd_jvp(f, [x], [0], [t_before]), atol=1e-6)
    if backend == "python":
        check_forward_jacobian(f, [x.copy()], 0, f_writes_args=False)


def test_a_write_through_a_helpers_returned_argument_is_refused_in_both_modes():
    # y is x itself (same returns its argument): the write changes the caller's x, which
    # the one alias analysis refuses in forward mode as in reverse mode, with one message
    x = np.array([1.0, 2.0, 3.0])
    messages = []
    for call in (lambda: s2sgrad.jvp(write_helper_alias)(x, np.ones(3)),
                 lambda: s2sgrad.grad(write_helper_alias)(x)):
        with pytest.raises(s2sgrad.UnsupportedSyntaxError) as info:
            call()
        messages.append(str(info.value))
    assert messages[0] == messages[1] and "y[0] = 0.0" in messages[0]


# ------------------------------------------------------------ 8: numba
def slice_write_2d(x):
    y = x * 1.0
    y[0:1, :] = x[1:2, :] * 2.0
    return np.sum(y * y)


def number_and_array(x):
    return np.sum(x), x * 2.0


def uses_number_and_array(x):
    a, b = number_and_array(x)
    return a * np.sum(b * b)


def write_param_2d(x):
    x[0, :] = x[1, :] * 2.0
    return np.sum(x * x)


@pytest.mark.parametrize("f, x", [
    (slice_write_2d, np.arange(4.0).reshape(2, 2) + 0.5),
    (uses_number_and_array, np.array([0.5, 1.0, 2.0])),
    (write_param_2d, np.arange(6.0).reshape(2, 3)),
])
def test_numba_forward_compiles(f, x):
    pytest.importorskip("numba")
    t = np.linspace(0.5, 1.5, x.size).reshape(x.shape)
    got = check_jvp(f, [x], [0], [t], backend="numba")
    np.testing.assert_allclose(got, check_jvp(f, [x], [0], [t]), rtol=1e-12)


# ---------------------------------------------------------------- tangents of lists written by index
def scale_list_in_place(xs, a):
    for i in range(len(xs)):
        xs[i] *= a
    return xs[0] + xs[-1] * xs[1]


@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("as_array", [True, False])
def test_tangent_of_a_list_written_by_index_is_not_the_callers(backend, as_array):
    # a list's tangent passed as one array was written into by the jvp (found running
    # every transform of the corpus on numba: the second call saw the first's writes)
    xs, a = [0.5, -1.2, 1.7], 0.8
    t_xs = np.array([0.7, -0.4, 0.2]) if as_array else [0.7, -0.4, 0.2]
    jvp = s2sgrad.jvp(scale_list_in_place, wrt=(0, 1), backend=backend)
    # by hand: f = a x0 + a^2 x2 x1
    expected = (a * t_xs[0] + a * a * (t_xs[2] * xs[1] + xs[2] * t_xs[1])
                + 0.3 * (xs[0] + 2 * a * xs[2] * xs[1]))
    for _ in range(2):
        _, tangent = jvp(list(xs), a, t_xs, 0.3)
        assert tangent == pytest.approx(expected, rel=1e-12)
    assert list(t_xs) == [0.7, -0.4, 0.2]
