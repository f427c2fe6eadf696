"""What the differential fuzzer (tests/fuzz) found in the transforms, shrunk by hand to
the smallest programs, with variants (other shapes, positions, names).

Oracles: central differences (s2sgrad.testing.check_grads), hand derivations.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special  # a test dependency (the `test` extra)

import s2sgrad
from s2sgrad.errors import UnsupportedSyntaxError
from s2sgrad.testing import check_grads

M32 = np.array([[-0.63, -0.73], [-0.64, 0.86], [-0.15, -0.78]])
R12 = np.array([[-0.71, 0.93]])


# ---------------------------------------------------------------- swaps of arrays
def swap_arrays(x, y):
    v = y * y
    v, y = (y, v)
    return np.sum(v * x) + np.sum(y)


def swap_three(x, y):
    a, b, c = x * 1.0, y * 2.0, x * y
    a, b, c = c, a, b
    return np.sum(a * b) + np.sum(np.sin(c))


def test_swapped_array_adjoints_by_hand():
    # after the swap v is the old y and y is y**2: f = sum(y*x) + sum(y**2)
    dx, dy = s2sgrad.grad(swap_arrays, wrt=(0, 1))(R12, M32)
    assert np.allclose(dx, M32.sum(axis=0, keepdims=True))
    assert np.allclose(dy, R12 + 2 * M32)


@pytest.mark.parametrize("f, args", [(swap_arrays, (R12, M32)), (swap_arrays, (M32, M32)),
                                     (swap_three, (M32, M32.T[0][:, None] * np.ones((1, 2))))])
def test_swaps_against_differences(f, args):
    check_grads(f, *args, wrt=(0, 1))
    check_grads(f, *args, wrt=1)


# ---------------------------------------------------------------- a tuple bound on some paths
def pair(a, b):
    return a + np.sin(b), np.tanh(a * b)


def tuple_in_a_branch(a, b):
    if a > 3.0:
        pass
    elif a < 3.0:
        b = pair(b, b)[1]
    return np.sin(b)


def tuple_array_in_a_branch(a, x):
    if a > 0.0:
        p = pair(x, x)
        x = p[0] * p[1]
    return np.sum(np.sin(x)) * a


@pytest.mark.parametrize("a", [0.9, 3.5])
def test_tuple_bound_on_one_path_only(a):
    # at 3.5 the tuple is never bound, and its adjoint must still start
    check_grads(tuple_in_a_branch, a, -0.48, wrt=(0, 1))
    check_grads(tuple_array_in_a_branch, a - 2.0, np.array([0.3, -0.2]), wrt=(0, 1))


# ---------------------------------------------------------------- a loop rebinding its own bound
def loop_rebinds_bound(x, n):
    for n in range(1, n):
        x = 0.5 * x + np.sin(x)
    return np.sum(x * x)


def nested_rebinds_bound(x, n):
    for i in range(2):
        for n in range(n + 1):
            x = x * np.cos(x)
    return np.sum(x)


def counter_is_bound(b, n):
    for n in range(n):
        b = b * 2.0
    return b * b + n


def test_loop_rebinding_its_bound_by_hand():
    # n = 3: three iterations of b -> 2b, then (8b)^2 + 2 (n is left at 2)
    assert np.isclose(s2sgrad.grad(counter_is_bound)(0.7, 3), 128 * 0.7)
    assert np.isclose(s2sgrad.grad(counter_is_bound)(0.7, 0), 2 * 0.7)


@pytest.mark.parametrize("n", [0, 1, 2, 4])
def test_loop_rebinding_its_bound_against_differences(n):
    x = np.array([[0.21, 0.9]])
    check_grads(loop_rebinds_bound, x, n)
    check_grads(nested_rebinds_bound, x, n)


# ---------------------------------------------------------------- value_and_grad, several returns
def returns_in_branches(b, x, n):
    if n > 5:
        return np.sum(x) * b
    for n in range(n):
        b = b * 2.0
    if np.sum(x) > -0.6:
        return b * b
    return np.sum(x)


@pytest.mark.parametrize("n, x", [(0, R12), (2, R12), (7, R12), (1, -R12 * 2)])
def test_value_and_grad_value_of_the_taken_return(n, x):
    value, grads = s2sgrad.value_and_grad(returns_in_branches, wrt=(0, 1))(0.3, x, n)
    assert value == returns_in_branches(0.3, x, n)
    assert np.allclose(grads[0], s2sgrad.grad(returns_in_branches, wrt=(0, 1))(0.3, x, n)[0])
    check_grads(returns_in_branches, 0.3, x, n, wrt=(0, 1))


# ---------------------------------------------------------------- tangents of constant tuples
def constant_pair(y, z, scale=0.5):
    return (scale, z)


def test_jvp_of_a_constant_tuple_is_a_tuple():
    value, tangent = s2sgrad.jvp(constant_pair, wrt=0)(np.array([-0.1]), np.ones((2, 2)), 0.3,
                                                       np.array([1.0]))
    assert isinstance(value, tuple) and isinstance(tangent, tuple)
    assert tangent[0] == 0.0 and np.array_equal(tangent[1], np.zeros((2, 2)))


# ---------------------------------------------------------------- writes
def aliased_write(x):
    v = x
    v[0] = v[0] ** 2
    return np.sum(v)


def test_jvp_leaves_the_caller_arrays_alone():
    x, t = np.array([0.8, 0.2]), np.array([0.5, 1.0])
    value, tangent = s2sgrad.jvp(aliased_write)(x, t)
    assert np.isclose(value, 0.64 + 0.2) and np.isclose(tangent, 2 * 0.8 * 0.5 + 1.0)
    assert np.array_equal(x, [0.8, 0.2]) and np.array_equal(t, [0.5, 1.0])


def repeated_aug_constant(x):
    v = x * 1.0
    v[[0, 0, 0]] += 1.0
    return np.sum(v * v)


def test_repeated_index_aug_of_a_constant_refused():
    # the target is read: its adjoint would gather once per repeat
    with pytest.raises(UnsupportedSyntaxError, match="may repeat") as info:
        s2sgrad.grad(repeated_aug_constant)(np.array([0.8, 0.2]))
    assert "v[[0, 0, 0]] += 1.0" in str(info.value)


def loop_left_empty(x, t):
    # the jvp drops everything in the loop (nothing in it reaches the result)
    for n in range(2):
        t = np.tanh(t)
    return np.sum(x * x)


def test_loop_whose_tangent_body_is_empty():
    value, tangent = s2sgrad.jvp(loop_left_empty, wrt=0)(R12, 0.3, np.ones((1, 2)))
    assert np.isclose(tangent, np.sum(2 * R12))


def aliased_view_write(y, z):
    v = z
    w = v
    kept = w.copy()
    v[0] += y
    return np.sum(kept * y + v * y)


def test_reverse_leaves_an_argument_written_through_an_alias_alone():
    y, z = np.array([[1.5]]), np.array([[[-0.9]], [[0.4]]])
    before = z.copy()
    check_grads(aliased_view_write, y, z, wrt=(0, 1), modes=("reverse",))
    s2sgrad.vjp(aliased_view_write, wrt=(0, 1))(y, z, 1.0)
    s2sgrad.jvp(aliased_view_write, wrt=(0, 1))(y, z, y, z)
    assert np.array_equal(z, before)


# ---------------------------------------------------------------- calls writing into arguments
def fill(out, x):
    out[0] = x[0] * x[1]
    out[1] = np.sin(x[0])
    return 0.0


def fills_by_statement(x):
    y = np.zeros(2)
    fill(y, x)
    return np.sum(y * y)


def fills_and_drops(x):
    y = np.zeros(2)
    unused = fill(y, x)
    return np.sum(y * y)


def scale_in_place(v, c):
    v *= c
    return v


def forwards_to_scaler(v, c):
    return scale_in_place(v, c) * 1.0


def scales_through_two_calls(x, c):
    y = x * 1.0
    forwards_to_scaler(y, c)
    return np.sum(y * x)


def scales_a_number(x, c):
    scale_in_place(c, 2.0)  # a number: `v *= c` rebinds it, the caller's c is untouched
    return np.sum(x) * c


@pytest.mark.parametrize("f, args", [(fills_by_statement, (np.array([0.7, -0.3]),)),
                                     (fills_and_drops, (np.array([0.7, -0.3]),)),
                                     (scales_through_two_calls, (np.array([0.7, -0.3]), 1.5))])
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_call_writing_into_its_argument_refused(f, args, mode):
    # before: the write was invisible (a call kept for its effect), the derivative zero
    with pytest.raises(UnsupportedSyntaxError, match=r"writes into its argument `y` in place") as info:
        if mode == "grad":
            s2sgrad.grad(f)(*args)
        else:
            s2sgrad.jvp(f)(*args, np.ones_like(args[0]))
    message = str(info.value)
    assert f"{__file__}:" in message and ("out[0] = x[0] * x[1]" in message or "v *= c" in message)


def test_call_rebinding_a_number_accepted():
    check_grads(scales_a_number, np.array([0.7, -0.3]), 1.5, wrt=(0, 1))


# ---------------------------------------------------------------- masks in forward mode
def mask_write_constant(x):
    y = np.copy(x)
    y[y > 0.5] = -1.0
    return y


def mask_write_value(x, c):
    y = x * 2.0
    y[y < 0.4] = np.cos(c) * y[y < 0.4]
    return np.sum(y * x)


@pytest.mark.parametrize("x", [np.array([[0.3, 0.6]]), np.array([0.1, 0.9, 0.45, 0.55])])
def test_forward_mask_is_the_one_before_the_write(x):
    value, tangent = s2sgrad.jvp(mask_write_constant)(x, np.ones_like(x))
    assert np.array_equal(tangent, (x <= 0.5).astype(float))  # the written slots: constant
    check_grads(mask_write_value, x, 0.3, wrt=(0, 1))


# ---------------------------------------------------------------- tangent shapes
def where_brings_the_shape(a, x, y):
    return np.where(y[-1] > -0.7, np.arctan(a), y) + np.mean(np.sin(x))


def slice_brings_the_shape(x, A):
    return A[0:2] + np.sum(x)


def test_inactive_operand_brings_the_output_shape():
    x, y = np.array([[0.3, 0.6]]), np.array([0.5, -0.2, 0.1])
    for a in (0.3, np.float64(0.3)):
        value, tangent = s2sgrad.jvp(where_brings_the_shape, wrt=(0, 1))(a, x, y, 1.0, np.ones((1, 2)))
        assert np.shape(tangent) == np.shape(value) == (3,)
        assert np.allclose(tangent, 1 / (1 + 0.09) + np.mean(np.cos(x)))
    A = np.ones((3, 2, 2))
    value, tangent = s2sgrad.jvp(slice_brings_the_shape, wrt=0)(x, A, np.ones((1, 2)))
    assert np.shape(tangent) == (2, 2, 2) and np.allclose(tangent, 2.0)


# ---------------------------------------------------------------- 0.0 * x keeps x's shape
def zero_times_array(a, x):
    return np.sum(a + 0.0 * x) + np.sum(x * a)


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_zero_times_an_array_is_not_a_number(backend):
    # d/da = len(x) + sum(x): the first sum has one term per element of x
    x = np.array([0.5, -1.0, 2.0])
    value, tangent = s2sgrad.jvp(zero_times_array, backend=backend)(0.7, x, 1.0)
    assert np.isclose(tangent, 3 + np.sum(x))
    assert np.isclose(s2sgrad.grad(zero_times_array, backend=backend)(0.7, x), 3 + np.sum(x))


# ---------------------------------------------------------------- found by the long profile (10,000 programs)
def write_reads_own_view(x):
    y = x.copy()
    y[0:1] = np.abs(y.T)
    return np.sum(y * np.array([[2.0]]))


def write_reads_own_view_squared(x):
    y = np.copy(x)
    y[0:1] = y.T ** 2.0
    return np.sum(y)


@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("value", [-0.3, 0.7])
def test_a_write_reading_a_view_of_its_target(value, backend):
    # the hoisted y.T is a view of y, which the write changes: the reverse sweep must put
    # y back for it; by hand d/dx 2|x| = 2 sign(x), d/dx x^2 = 2x
    x = np.array([[value]])
    assert np.allclose(s2sgrad.grad(write_reads_own_view, backend=backend)(x), 2 * np.sign(value))
    assert np.allclose(s2sgrad.grad(write_reads_own_view_squared, backend=backend)(x), 2 * value)


def rebinds_to_the_argument(a, b):
    a = b
    return a * b


def test_gradient_never_writes_into_an_argument():
    # d_b started as b itself (unbroadcast(a, b) of equal shapes), then d_b += d_a changed b
    b = np.array(0.3)
    value, grad = s2sgrad.value_and_grad(rebinds_to_the_argument, wrt=1)(np.array(-0.1), b)
    assert b == 0.3 and np.isclose(value, 0.09) and np.isclose(grad, 0.6)
    v = np.array([0.3, -0.2])
    assert np.allclose(s2sgrad.vjp(rebinds_to_the_argument, wrt=1)(v, v, np.ones(2)), 2 * v)
    assert np.array_equal(v, [0.3, -0.2])


def one_minus_min(x):
    return 1.0 - np.min(x)


def one_minus_max_method(z):
    return 1.0 - z.max()


def test_minus_an_extreme():
    # the share of the winners negated: never `-winners` of a boolean array
    x = np.array([[-0.1, 0.3, -0.1]])
    assert np.allclose(s2sgrad.grad(one_minus_min)(x), [[-0.5, 0.0, -0.5]])
    assert np.allclose(s2sgrad.grad(one_minus_max_method)(x), [[0.0, -1.0, 0.0]])
    check_grads(one_minus_max_method, np.array([[[-0.6]]]))


def column_view_tangent(x, y):
    v = x * 0.3 + y
    y = v[:, 1] + 1.2
    v[:, -1] -= np.sum(y)
    return np.sum(v * v) + np.sum(np.sin(y))


@pytest.mark.parametrize("wrt", [0, 1, (0, 1)])
def test_tangent_of_a_new_array_is_not_a_view(wrt):
    # y's tangent was t_v[:, 1], a view the write into v changed
    check_grads(column_view_tangent, np.array([[-0.9, 0.4]]), np.array([-0.03]), wrt=wrt)


def view_then_write(x):
    v = np.cos(x)
    y = np.sin(v.T)
    v[0] = 5.0
    return np.sum(y)


def test_a_view_read_by_the_reverse_sweep_sees_the_old_values():
    # v.T, kept for the reverse sweep, is a view of v, which v[0] = 5.0 changes later
    x = np.array([0.3, -0.5])
    assert np.allclose(s2sgrad.grad(view_then_write)(x), -np.cos(np.cos(x)) * np.sin(x))


# ---------------------------------------------------------------- the long profile of 2026-12-02
class Holder:
    """An object argument: its arrays are constants of the generated code."""

    def __init__(self, A):
        self.A = A


def dot_with_an_attribute(x, obj):
    v1 = np.diagonal(x + obj.A)
    return np.dot(v1, obj.A)


def test_an_array_constant_times_the_seed_is_not_made_a_float():
    """`1.0 * obj_A` was folded to `float(obj_A)`, a TypeError for an array (program 7702).
    By hand: f = sum_i (x_i + A_i) A_i, so d f / d x_i = A_i."""
    A = np.array([-0.50871, -0.700468, -0.247029])
    x = np.array([[-0.1], [-0.2], [-0.5]])
    value, (grad,) = s2sgrad.value_and_grad(dot_with_an_attribute, wrt=("x",))(x, Holder(A))
    np.testing.assert_allclose(grad, A[:, None], rtol=1e-12)
    assert np.isclose(value, dot_with_an_attribute(x, Holder(A)))
    ints = Holder(np.array([1, 2, 3]))  # an int array constant: float() of it fails too
    np.testing.assert_allclose(s2sgrad.grad(dot_with_an_attribute)(x, ints), [[1.0], [2.0], [3.0]])


def xlog1py_of_a_constant(a):
    return scipy.special.xlog1py(0.5, 1.2 + np.sin(a)) + scipy.special.xlogy(2.0, 3.0 + a)


def test_xlogy_of_a_number_first_argument():
    """xlog1py(0.5, y): sympy decides `0.5 == 0` and the piecewise partial collapses to a
    number, which the printer unpacked as a piecewise (program 9190, a raw TypeError)."""
    check_grads(xlog1py_of_a_constant, 0.3, modes=("forward", "reverse"))


def appended_attribute_updated(x, y, z, obj):
    acc = [obj.A for t2, u3 in zip(y, x)]
    v = acc
    v[0] += z    # numpy's += changes obj.A itself
    out = np.copy(z)
    out[0:1] = obj.A[0, 0]
    return out


def attribute_updated(x, obj):
    b = obj.A
    b += x
    return np.sum(obj.A * x)


W_MODULE = np.array([1.0, 2.0])


def module_array_view_updated(x):
    b = W_MODULE[:]
    b *= 2.0
    return np.sum(W_MODULE * x)


def attribute_copied_then_updated(x, obj):
    c = obj.A * 1.0   # a new array
    c += x
    return np.sum(c * x)


def attribute_copy_method_updated(x, obj):
    c = obj.A.copy()  # what the refusal's hint suggests
    c += x
    return np.sum(c * x) + np.sum(obj.A)


def attribute_transposed_updated(x, obj):
    b = obj.A.T       # a view
    b += x
    return np.sum(obj.A * x)


@pytest.mark.parametrize("f, args", [
    (appended_attribute_updated, lambda: (np.array([[0.5]]), np.array([-0.6]), np.array([-0.9]),
                                         Holder(np.array([[0.94], [-0.32], [0.78]])))),
    (attribute_updated, lambda: (np.ones(2), Holder(np.array([1.0, 2.0])))),
    (module_array_view_updated, lambda: (np.ones(2),)),
    (attribute_transposed_updated, lambda: (np.ones(2), Holder(np.array([1.0, 2.0])))),
])
def test_an_update_in_place_of_an_array_constant_is_refused(f, args):
    """An object's array appended to a list, or bound to a name, and updated in place by
    += changes the object itself; the code rebinding instead gave d/dz 0 (program 2481).
    Refused, in both modes."""
    wrt = 2 if f is appended_attribute_updated else 0
    for make in (s2sgrad.grad, s2sgrad.jvp):
        with pytest.raises(UnsupportedSyntaxError, match="in place"):
            g = make(f, wrt=wrt)
            a = args()
            g(*a, *([np.ones_like(a[wrt])] if make is s2sgrad.jvp else []))


@pytest.mark.parametrize("f", [attribute_copied_then_updated, attribute_copy_method_updated])
def test_a_copy_of_an_array_constant_may_be_updated(f):
    """By hand: sum((A + x) x) has gradient A + 2x; obj.A itself is left as it was."""
    A = np.array([1.0, 2.0])
    x = np.array([0.5, -1.5])
    np.testing.assert_allclose(s2sgrad.grad(f)(x, Holder(A)), A + 2.0 * x)
    np.testing.assert_allclose(s2sgrad.jvp(f)(x, Holder(A), np.ones(2))[1], np.sum(A + 2.0 * x))
    np.testing.assert_array_equal(A, [1.0, 2.0])
