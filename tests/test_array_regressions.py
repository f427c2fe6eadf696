"""Regressions found by the random array programs of test_array_properties.py.

Each function is the smallest program that showed one bug, checked against finite
differences.  Also here: in-place updates of an array another name refers to are refused.
"""
import numpy as np
import pytest

import s2sgrad
from s2sgrad.testing import check_grads

X = np.array([[0.3, -0.8, 0.5], [1.1, -0.2, 0.7]])   # (2, 3), distinct entries
W3 = np.array([0.4, -1.3, 0.9])
W2 = np.array([0.6, -0.5])
W23 = np.array([[0.2, -0.7, 1.1], [0.5, 0.9, -1.4]])
CASES = {}


def case(*args, wrt=0):
    def register(f):
        CASES[f.__name__] = (f, args, wrt)
        return f
    return register


# --- a variable rebound to a slice / reduction of itself ---------------------------------
@case(X)
def self_slice(x):
    x = x[1:]
    return np.sum(x)

@case(X)
def self_index(x):
    x = x[0]
    return np.sum(x)

@case(X, W3)
def self_mean_axis(x, w):
    x = np.mean(x, axis=0)
    return np.sum(w * x)

@case(X, W3)
def self_var_axis(x, w):
    x = np.var(x, axis=0)
    return np.sum(w * x)

@case(X)
def self_max(x):
    x = np.max(x)
    return x

@case(X, W3)
def self_max_axis(x, w):
    x = np.max(x, axis=0)
    return np.sum(w * x)

# --- max reduction bound to a name ----------------------------------------------------------
@case(X)
def max_bound_then_returned(x):
    y = np.max(x)
    return y

# --- a parameter rebound to a value of another shape -------------------------------------------
@case(X, 0.3, wrt=(0, 1))
def scalar_param_rebound_to_max(x, s):
    s = np.max(x)
    return 0.5 * s

@case(X, W2, wrt=(0, 1))
def vector_param_rebound_to_max_axis(x, y):
    y = np.max(x, axis=1)
    return np.sum(y)

@case(X, 0.3, wrt=(0, 1))
def scalar_param_rebound_to_array(x, s):
    s = x * 2.0
    return np.sum(s)

# --- max in a loop -------------------------------------------------------------------------------
@case(X)
def max_in_loop(x):
    for i in range(2):
        v = np.max(x)
    return v

@case(X)
def max_accumulated_in_loop(x):
    y = 0.0
    for i in range(2):
        y += np.max(x)
    return y

@case(X, W3)
def mean_axis_accumulated_in_loop(x, w):
    y = np.zeros(3)
    for i in range(2):
        y += np.mean(x, axis=0)
    return np.sum(w * y)

# --- a list rebound inside a loop ----------------------------------------------------------------
@case(X)
def list_rebound_in_loop(x):
    for i in range(2):
        hs = []
        hs.append(x * 2.0)
        t = hs[0]
    return np.sum(t)

# --- element-wise power of a power -------------------------------------------------------------
@case(X, W23)
def power_of_power(x, w):
    return np.sum(w * (x ** 2) ** 0.5)

# --- writes of reductions into slots ----------------------------------------------------------
@case(X)
def slot_gets_sum(x):
    y = np.zeros(2)
    y[0] = np.sum(x)
    return np.sum(y)

@case(X)
def slot_gets_max(x):
    y = np.zeros(2)
    y[0] = np.max(x)
    return np.sum(y)

# --- a second name for an argument array, then an index -----------------------------------
@case(X)
def alias_then_index(x):
    v = x
    return x[0, 0] + np.sum(v)

@case(X, W23)
def index_read_and_product(x, w):
    return np.sum(x[1]) + np.sum(w * x)

# --- row of an array to the power of a scalar argument --------------------------------------------
@case(X, 0.3, wrt=(0, 1))
def row_power_scalar_name(x, s):
    t = s
    y = (1.5 + x[0]) ** t
    return np.sum(y)

# --- .T of a reduction's argument --------------------------------------------------------------
@case(X)
def transpose_then_sum_bound(x):
    v = x.T.sum()
    return v

@case(X, 0.3, wrt=(0, 1))
def aug_mean_of_transpose(x, s):
    s += np.mean(x.T)
    return s

# --- a name rebound from one array to a reduction of another --------------------------------------
@case(X, W2)
def rebound_to_var_axis(x, w):
    y = x
    y = np.var(x, axis=1)
    return np.sum(w * y)

@case(X, W23)
def keepdims_of_zero_times(x, w):
    v = np.sum(x, axis=0)
    return np.sum(w * ((0.5 - 0.5) * np.sum(v, keepdims=True)))

@case(X)
def self_transpose(x):
    x = x.T
    return np.sum(x * np.arange(2.0))

@case(X)
def self_reshape(x):
    x = x.reshape(-1)
    return np.sum(x * np.arange(6.0))

@case(X)
def self_reverse(x):
    x = x[::-1]
    return np.sum(x * np.arange(3.0))

@case(X)
def other_slice(x):
    y = x[1:]
    return np.sum(y)

@case(W3, W23)
def zero_times_keepdims(v, w):
    return np.sum(w * (0.0 * np.sum(v, keepdims=True)))

@case(X, W23)
def power_of_power2(x, w):
    return np.sum(w * np.sqrt(x ** 2))

@case(X)
def sqrt_square_bound(x):
    y = np.sqrt(x ** 2)
    return np.sum(y)

@case(X, W23)
def list_index_then_product(x, w):
    a = x[1]
    return np.sum(w * x) + np.sum(a)

@case(X, W23)
def index_then_product_plain(x, w):
    return np.sum(x[1]) + np.sum(x * w)

@case(X)
def sum_T(x):
    v = x.T.sum()
    return v

@case(X)
def sum_T_returned(x):
    return x.T.sum()

@case(X)
def mean_T(x):
    v = np.mean(x.T)
    return v

@case(X)
def self_slice_in_expr(x):
    x = np.sin(x[::-1])
    return np.sum(x * np.arange(3.0))

@case(X)
def self_slice_plus(x):
    x = x[1:] + x[:1]
    return np.sum(x * np.arange(3.0))

@case(X)
def self_slice_loop(x):
    for i in range(1):
        x = x[::-1]
    return np.sum(x * np.arange(3.0))


@case(np.array([0.3, -0.6, 0.9]), np.array([0.2, 0.4, -0.5]))
def list_of_arrays_rebound_in_loop(x, w):
    for i in range(2):
        hs = []
        hs.append(x * 2.0)
        hs.append(np.sin(x))
        t = hs[0] * hs[1]
    return np.sum(w * t)


@case(np.array([[0.3, -0.6], [0.9, 0.4]]), 0.3, wrt=(0, 1))
def inner_product_of_reductions(x, s):
    s -= np.max(x, axis=0) @ x.sum(axis=0)
    return s * np.sum(x)




def appended_then_scaled(x):
    hs = []
    for i in range(2):
        x *= 0.5
        hs.append(x)
    return np.sum(hs[0])


def view_then_written(x):
    y = x[1:]
    y[0] = 2.0 * y[0]
    return np.sum(x)


def helper_writes_its_argument(v):
    v[0] = 0.0
    return np.sum(v)


def calls_writing_helper(x):
    y = x * 1.0
    return helper_writes_its_argument(y) + np.sum(y)


@pytest.mark.parametrize("f, message", [
    (appended_then_scaled, "in place while another name may refer to it"),
    (view_then_written, "in place while another name may refer to it"),
    (calls_writing_helper, r"helper_writes_its_argument\(\) writes into its argument `y` in place")])
def test_in_place_update_of_a_shared_array_is_refused(f, message):
    with pytest.raises(s2sgrad.S2SGradError, match=message):
        s2sgrad.grad(f)(np.array([0.5, -0.4, 0.8]))


def test_in_place_update_of_an_unshared_array_is_differentiated():
    def scaled_twice(x):
        y = x * 2.0
        y *= np.sin(x)
        y[0] = y[0] ** 2
        return np.sum(y)
    # (a local def: check_grads reads its source like any other)
    check_grads(scaled_twice, np.array([0.5, -0.4, 0.8]))


def rebound_after_a_view(x, w):
    y = np.tanh(x.T.T)   # a view of x feeds tanh; y is a new array
    y /= 1.5 + x ** 2
    return np.sum(w * y)


def view_not_read_after_the_update(x, w):
    y = x + x
    y -= np.reshape(y, (3,))  # the view is never read after y changes
    return np.sum(w * y)


@pytest.mark.parametrize("f", [rebound_after_a_view, view_not_read_after_the_update])
def test_in_place_update_after_the_sharing_ended_is_differentiated(f):
    check_grads(f, np.array([0.5, -0.4, 0.8]), np.array([0.3, 1.1, -0.7]))


def number_read_then_array_updated(x, w):
    y = x * 2.0
    a = y[0]          # a number: a copy, not a view
    y *= np.sin(x)
    return np.sum(w * y) + a


def rebound_to_itself(x, s):
    s = s
    s += np.exp(0.3 * s)
    return s * np.sum(x)


def test_a_number_or_a_self_assignment_is_no_alias():
    x, w = np.array([0.5, -0.4, 0.8]), np.array([0.3, 1.1, -0.7])
    check_grads(number_read_then_array_updated, x, w)
    check_grads(rebound_to_itself, x, 0.4, wrt=(0, 1))


def local_array_aliased(x):
    y = np.zeros(3)
    z = y
    y[0] = x
    return np.sum(z) + x


def test_aliasing_is_checked_for_numbers_in_arrays_out():
    # the parameter is a number, so the code generated before the call is the one called
    with pytest.raises(s2sgrad.S2SGradError, match="in place while another name"):
        s2sgrad.grad(local_array_aliased)(0.5)


# --- the helper's last round ------------------------------------------------------------
C2 = np.array([1.0, 2.0])
X22 = np.array([[0.7, 0.2], [0.1, -0.4]])


@case(X22)
def slot_plus_number_of_unknown_rank(x):
    v = x * 2.0
    v = np.sum(v)              # an array, then a number
    y = np.ones(3)
    y[0] += v
    return np.sum(y)


@case(X22, 0.3, wrt=1)
def slot_plus_parameter_rebound_later(x, s):
    y = np.ones(2)
    y[0] += s
    s = x
    return np.sum(y)


@case(X22)
def one_line_loop_body(x):
    hs = []
    hs.append(x[0] * 1.0)
    for p in hs: t = p  # noqa: E701
    y = np.zeros(1)
    y[0] += t @ t
    return np.sum(y)


@case(X22)
def zero_d_array_updated_in_loop(x):
    v = np.where(x[0, 0] > 0.0, np.sum(x), 0.5)   # a 0-d array
    for i in range(1):
        v *= v
    return v


@case(X22)
def index_of_a_constant_call(x):
    y = np.sum(x)
    y += np.arange(3.0)[1]
    return y


@case(X22)
def module_array_constant(x):
    return np.sum(x * C2)


def view_appended_then_updated(x):
    v = x * 1.0
    hs = []
    hs.append(v[1:])           # hs[0] shares memory with v
    v += 1.0
    return np.sum(hs[0] * x[0])


def test_a_view_appended_then_updated_is_refused():
    with pytest.raises(s2sgrad.S2SGradError, match="in place while another name"):
        s2sgrad.grad(view_appended_then_updated)(X22)


@pytest.mark.parametrize("name", sorted(CASES))  # every @case above
def test_regression(name):
    f, args, wrt = CASES[name]
    check_grads(f, *args, wrt=wrt)


# ---------------------------------------------------------------------- 0-d arrays
# np.array(2.0) is a number to the passes, and an ndarray in memory: `b = a; b += x`
# changes a too.  Derivative code treats numbers as values, so such an update is refused
# wherever another name for the same 0-d array is read afterwards (both modes), and
# accepted where the updated name is the only one (its value is then what a rebinding
# gives).  Before, all of these gave the derivative of a that never changed.
def zero_d_alias_updated(x):
    a = np.array(2.0)
    b = a
    b += x
    return a * x


def zero_d_view_updated(x):
    a = np.array(2.0)
    b = a[...]
    b *= x
    return a * x


def zero_d_reshaped_updated(x):
    a = np.zeros(())
    b = a.reshape(())
    b += x * x
    return np.sin(a) * x


def zero_d_argument_aliased(x):
    a = np.asarray(x)  # a 0-d array argument: a is x itself
    a += 1.0
    return a * x


def zero_d_written_by_index(x):
    a = np.array(1.0)
    a[()] = x * 3.0
    return a * x


@pytest.mark.parametrize("f, arg, message", [
    (zero_d_alias_updated, 0.7, "updating the array `b` in place while another name may refer to it"),
    (zero_d_view_updated, 0.7, "updating the array `b` in place"),
    (zero_d_reshaped_updated, 0.7, "updating the array `b` in place"),
    (zero_d_argument_aliased, np.array(0.7), "updating the array `a` in place"),
    (zero_d_written_by_index, 0.7, r"writing into `a\[...\]`, a 0-d array \(a number to s2sgrad\)"),
])
def test_an_update_of_a_shared_0d_array_is_refused_in_both_modes(f, arg, message):
    f(np.copy(arg))  # Python runs it
    for transform in (s2sgrad.grad, s2sgrad.jvp):
        with pytest.raises(s2sgrad.S2SGradError, match=message) as info:
            d = transform(f)
            d(arg) if transform is s2sgrad.grad else d(arg, 1.0)
        assert "test_array_regressions.py:" in str(info.value) and "hint:" in str(info.value)


def zero_d_updated_alone(x):
    a = np.array(2.0)
    c = np.sin(a * x)
    a += x
    a *= x
    return c * a


def zero_d_updated_in_a_loop(x):
    a = np.array(1.0)
    s = 0.0
    for i in range(3):
        s = s + np.sin(a * x)
        a *= x
    return s


def number_aliased_then_updated(x):
    old = np.sum(x * x)  # a NumPy scalar: immutable, `old` keeps its value
    total = old
    total += 1.0
    return old * total


def test_an_update_of_an_unshared_0d_array_is_differentiated():
    x = 0.7
    check_grads(zero_d_updated_alone, x)
    check_grads(zero_d_updated_in_a_loop, x)
    check_grads(zero_d_argument_aliased, x)  # a float argument: np.asarray makes a new array
    check_grads(number_aliased_then_updated, np.array([0.3, -0.6]))
    # by hand: sin(2x) (2 + x) x -> 2 cos(2x) (2x + x^2) + sin(2x) (2 + 2x)
    assert s2sgrad.grad(zero_d_updated_alone)(x) == pytest.approx(
        2 * np.cos(2 * x) * (2 * x + x * x) + np.sin(2 * x) * (2 + 2 * x), rel=1e-12)
    # sin(x) + sin(x^2) + sin(x^3)
    assert s2sgrad.grad(zero_d_updated_in_a_loop)(x) == pytest.approx(
        np.cos(x) + 2 * x * np.cos(x * x) + 3 * x * x * np.cos(x ** 3), rel=1e-12)
    # s = x^2 summed: old (old + 1), d/dx = (2 old + 1) 2x
    v = np.array([0.3, -0.6])
    np.testing.assert_allclose(s2sgrad.grad(number_aliased_then_updated)(v),
                               (2 * np.sum(v * v) + 1) * 2 * v, rtol=1e-12)
    # a 0-d array argument (gradient: a NumPy scalar of shape ())
    assert s2sgrad.grad(zero_d_updated_alone)(np.array(x)) == pytest.approx(
        2 * np.cos(2 * x) * (2 * x + x * x) + np.sin(2 * x) * (2 + 2 * x), rel=1e-12)
