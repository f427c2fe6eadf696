"""Regression tests of issue 12 (trust): each once silently wrong or a raw crash.

Every test checks against an oracle independent of the code under test: central finite
differences, a hand derivation, or the python backend where the numba one is in question
(the python backend is itself checked against differences in the corpus tests).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pytest

import s2sgrad


def central(f, x, *rest, h=1e-6):
    return (f(x + h, *rest) - f(x - h, *rest)) / (2 * h)


# ----------------------------------------------------------------- numba: nested-loop tapes
def nested_saves(x):
    for i in range(4):
        x = x * math.sin(x) + 1.0
        for j in range(1):
            x = x * math.cos(x)
    return x


def push_after_inner_loop(x, n):
    for i in range(n):
        x = x * math.sin(x) + 1.0
        for j in range(i):  # the inner trip count changes with i
            x = x * math.cos(x) + 0.5
        x = x * math.tanh(x)  # saved after the inner loop, in the same trip
    return x


def three_deep(x, n):
    for i in range(n):
        for j in range(2):
            x = math.sin(x) * x + 0.25
            for k in range(j + 1):
                x = x * math.cos(x) + 0.1
    return x


def while_in_for(x, n):
    for i in range(n):
        k = 0
        while k < i + 1:
            x = x * math.sin(x) + 0.3
            k += 1
        x = x * math.cos(x)
    return x


@pytest.mark.parametrize("f, rest", [(nested_saves, ()), (push_after_inner_loop, (5,)),
                                     (three_deep, (4,)), (while_in_for, (4,))])
@pytest.mark.parametrize("x", [0.7, -1.3])
def test_numba_tapes_of_nested_loops_hold_every_save(f, rest, x):
    expected = central(f, x, *rest)
    for backend in ("python", "numba"):
        got = s2sgrad.grad(f, backend=backend)(x, *rest)
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-8), backend


def test_numba_outer_loop_with_a_pushing_inner_loop_checks_its_pushes():
    source = s2sgrad.grad(push_after_inner_loop, backend="numba")
    source(0.5, 3)
    text = source.source
    # the outer loop cannot know its inner loops' trip counts at entry: its own pushes
    # check the room; the innermost loop still reserves its room at entry
    assert "tape_reserve(tape_x, n_tape_x + i)" in text
    assert "if n_tape_x == tape_x.shape[0]:" in text


# ----------------------------------------------------------------- numba: number types of tapes
def int_that_becomes_float(x, n):
    for i in range(3):
        n = n * math.sin(x) + 0.5  # n arrives as an int, then holds floats
    return n * x


@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("x, n", [(1.5, 3), (2, 3), (np.int64(2), np.int64(3)), (-0.4, 7)])
def test_an_int_argument_that_later_holds_floats_is_not_truncated(backend, x, n):
    got = s2sgrad.grad(int_that_becomes_float, wrt=(0, 1), backend=backend)(x, n)
    assert got[0] == pytest.approx(central(int_that_becomes_float, float(x), n), rel=1e-6)
    assert got[1] == pytest.approx(central(lambda m, y: int_that_becomes_float(y, m), float(n), float(x)),
                                   rel=1e-6)


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_numpy_int_wrt_argument_is_promoted(backend):
    def f(x):
        return x * x / 3.0
    got = s2sgrad.grad(f, backend=backend)(np.int64(2))
    assert isinstance(got, float) and got == pytest.approx(4.0 / 3.0)


# ----------------------------------------------------------------- globals, closures, defaults live
W = np.array([1.0, 2.0])
C = 5.0


def uses_global_array(x):
    return np.sum(W * x * x)


def uses_global_number(x):
    return C * x * x


def helper_v1(x):
    return x * x


def calls_helper(x):
    return math.sin(helper_v1(x))


def with_default(x, a=2.0):
    return a * x * x


def make_closure(k):
    def scaled(x):
        return k * math.sin(x)
    return scaled


@pytest.fixture
def restore_globals():
    global C, helper_v1
    saved = W.copy(), C, helper_v1
    yield
    W[:] = saved[0]
    C, helper_v1 = saved[1], saved[2]


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_kept_derivative_reads_globals_as_the_function_would_now(backend, restore_globals):
    global C, helper_v1
    x = np.array([0.5, -1.5])
    g_array = s2sgrad.grad(uses_global_array, backend=backend)
    assert g_array(x) == pytest.approx(2 * W * x)
    W[:] = [5.0, 6.0]  # updated in place
    assert g_array(x) == pytest.approx([5.0, -18.0])
    assert s2sgrad.grad(uses_global_array, backend=backend)(x) == pytest.approx([5.0, -18.0])

    g_number = s2sgrad.grad(uses_global_number, backend=backend)
    assert g_number(1.5) == pytest.approx(15.0)
    C = 7.0  # rebound
    assert g_number(1.5) == pytest.approx(21.0)

    g_helper = s2sgrad.grad(calls_helper, backend=backend)
    assert g_helper(0.3) == pytest.approx(math.cos(0.09) * 0.6)

    def helper_v2(x):
        return x * x * x
    helper_v1 = helper_v2  # the name the function calls now means another function
    assert g_helper(0.3) == pytest.approx(math.cos(0.027) * 3 * 0.09)


def uses_builtin_abs(x):
    return abs(x) * 3.0


def squared(v):
    return v * v


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_global_defined_later_over_a_builtin_is_read_as_the_function_would(backend):
    """The check on every call reads a global first and a builtin only where there is
    no global of that name (cache.py), as Python does."""
    g = s2sgrad.grad(uses_builtin_abs, backend=backend)
    assert g(-2.0) == pytest.approx(-3.0)
    globals()["abs"] = squared
    try:
        assert uses_builtin_abs(-2.0) == pytest.approx(12.0)
        assert g(-2.0) == pytest.approx(-12.0)
    finally:
        del globals()["abs"]
    assert g(-2.0) == pytest.approx(-3.0)


def with_keyword_default(x, *, c=2.0):
    return x * c


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_keyword_default_changed_in_place_is_read(backend):
    """`f.__kwdefaults__["c"] = 5.0` changes the dict in place: the call bound the old
    default and the code kept it (found by an adversarial run)."""
    saved = dict(with_keyword_default.__kwdefaults__)
    try:
        g = s2sgrad.grad(with_keyword_default, backend=backend)
        assert g(1.5) == pytest.approx(2.0)
        with_keyword_default.__kwdefaults__["c"] = 5.0
        assert g(1.5) == pytest.approx(5.0)
        assert s2sgrad.grad(with_keyword_default, backend=backend)(1.5) == pytest.approx(5.0)
        assert g(1.5, c=3.0) == pytest.approx(3.0)
    finally:
        with_keyword_default.__kwdefaults__.clear()
        with_keyword_default.__kwdefaults__.update(saved)


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_kept_derivative_reads_closure_cells_and_defaults_now(backend):
    f = make_closure(2.0)
    g = s2sgrad.grad(f, backend=backend)
    assert g(0.4) == pytest.approx(2.0 * math.cos(0.4))
    f.__closure__[0].cell_contents = 9.0
    assert g(0.4) == pytest.approx(9.0 * math.cos(0.4))

    g = s2sgrad.grad(with_default, backend=backend)
    assert g(1.5) == pytest.approx(6.0)
    saved = with_default.__defaults__
    try:
        with_default.__defaults__ = (4.0,)
        assert g(1.5) == pytest.approx(12.0)
        assert s2sgrad.hessian(with_default)(1.5) == pytest.approx(8.0)
    finally:
        with_default.__defaults__ = saved


def test_grad_of_grad_follows_a_redefined_helper(restore_globals):
    global helper_v1
    gg = s2sgrad.grad(s2sgrad.grad(calls_helper))
    x = 0.3
    expected = -math.sin(x * x) * 4 * x * x + math.cos(x * x) * 2  # d/dx [cos(x^2) 2x]
    assert gg(x) == pytest.approx(expected)

    def cube(x):
        return x * x * x
    helper_v1 = cube
    # d/dx [cos(x^3) 3x^2]
    assert gg(x) == pytest.approx(-math.sin(x ** 3) * 9 * x ** 4 + math.cos(x ** 3) * 6 * x)


# ----------------------------------------------------------------- decorators
def times10(fn):
    @functools.wraps(fn)
    def wrapper(x):
        return 10.0 * fn(x)
    return wrapper


def scaled_by(fn):
    @functools.wraps(fn)
    def wrapper(x, scale=3.0):  # parameters of its own, not those of fn
        return scale * fn(x)
    return wrapper


def passes_everything(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return 10.0 * fn(*args, **kwargs)
    return wrapper


@times10
def square_times10(x):
    return x * x


@scaled_by
def sine_scaled(x):
    return math.sin(x)


@passes_everything
def square_passed(x):
    return x * x


@functools.lru_cache(maxsize=None)
def cached_cube(x):
    return x * x * x


def calls_decorated(x):
    return square_times10(x) + cached_cube(x)


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_wraps_decorator_is_differentiated_as_the_function_it_returns(backend):
    assert s2sgrad.grad(square_times10, backend=backend)(1.5) == pytest.approx(30.0)
    assert s2sgrad.jvp(square_times10, backend=backend)(1.5, 2.0) == pytest.approx((22.5, 60.0))
    assert s2sgrad.grad(calls_decorated, backend=backend)(1.5) == pytest.approx(30.0 + 3 * 2.25)
    g = s2sgrad.grad(sine_scaled, wrt=(0, 1), backend=backend)
    assert g(0.5) == pytest.approx((3.0 * math.cos(0.5), math.sin(0.5)))
    assert g(0.5, scale=2.0) == pytest.approx((2.0 * math.cos(0.5), math.sin(0.5)))


def test_lru_cache_is_the_function_it_caches():
    assert s2sgrad.grad(cached_cube)(2.0) == pytest.approx(12.0)


def test_a_wrapper_taking_star_args_is_refused_where_it_is_written():
    with pytest.raises(s2sgrad.S2SGradError) as info:
        s2sgrad.grad(square_passed)(1.5)
    message = str(info.value)
    assert "*args" in message and "test_trust.py" in message
    assert "def wrapper(*args, **kwargs):" in message


# ----------------------------------------------------------------- names generated code needs
def unbroadcast(a, b):  # a user function named like a runtime helper
    return 0.5 * a


add_at = 2.0  # and a user global


def uses_helper_names(x, b):
    y = x * b + unbroadcast(add_at, 1.0)
    return np.sum(y * y)


def shadows_modules(np, math, x):
    float = np * x
    list = [float, float * math]
    return np * list[1] * list[0]


def shadows_in_loops(x, len):
    range = x
    for i in builtins_range(len):
        range = range * np.sin(range) + x
    return range


builtins_range = range


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_user_function_or_global_named_like_a_helper_does_not_replace_it(backend):
    x, b = np.array([1.0, 2.0]), np.array([[1.0], [-2.0]])
    got = s2sgrad.grad(uses_helper_names, backend=backend)(x, b)
    # y[j, i] = x[i] b[j] + 1;  d/dx_i sum y^2 = sum_j 2 y[j, i] b[j]
    y = x * b + 1.0
    assert got == pytest.approx(np.sum(2 * y * b, axis=0))


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_variables_named_like_builtins_and_modules_do_not_hide_them(backend):
    g = s2sgrad.grad(shadows_modules, wrt=(0, 1, 2), backend=backend)
    # f = np^3 x^2 math: d/dnp = 3 np^2 x^2 math, d/dmath = np^3 x^2, d/dx = 2 np^3 x math
    assert g(2.0, 3.0, 0.5) == pytest.approx((3 * 4 * 0.25 * 3, 8 * 0.25, 2 * 8 * 0.5 * 3))
    g = s2sgrad.grad(shadows_in_loops, backend=backend)
    assert g(0.7, 3) == pytest.approx(central(shadows_in_loops, 0.7, 3), rel=1e-6)
    t = s2sgrad.jvp(shadows_in_loops, backend=backend)
    assert t(0.7, 3, 1.0)[1] == pytest.approx(central(shadows_in_loops, 0.7, 3), rel=1e-6)


K32 = np.float32(3.0)
K64 = np.float64(2.5)


def uses_numpy_scalars(x):
    return K64 * x * x + K32 * x


def test_a_numpy_scalar_global_in_a_function_that_imports_no_numpy():
    g = s2sgrad.grad(uses_numpy_scalars)
    assert g(2.0) == pytest.approx(2 * 2.5 * 2.0 + 3.0)


# ----------------------------------------------------------------- API misuse: S2SGradErrors
def square(x):
    return x * x


@pytest.mark.parametrize("call, builtin", [
    (lambda: s2sgrad.grad(square, backend="tpu"), ValueError),
    (lambda: s2sgrad.jacobian(square, mode="sideways"), ValueError),
    (lambda: s2sgrad.grad(square, tape_bound=3), ValueError),
    (lambda: s2sgrad.vjp(square)(), TypeError),
    (lambda: s2sgrad.jvp(square)(1.0), TypeError),
    (lambda: s2sgrad.grad(square)(1.0, 2.0), TypeError),
    (lambda: s2sgrad.grad(square)(y=1.0), TypeError),
    (lambda: s2sgrad.jacobian(square)(1.0, 2.0), TypeError),
    (lambda: s2sgrad.custom_derivative(3.0), TypeError),
])
def test_api_misuse_is_an_s2sgrad_error(call, builtin):
    with pytest.raises(s2sgrad.S2SGradError) as info:
        call()
    assert isinstance(info.value, builtin)  # and still what it was before, for old callers


def test_a_lambda_in_a_call_spanning_lines_is_read():
    # the call's lines parse as a statement, and the lambda is the one whose code it is
    g = s2sgrad.grad(lambda x: x * x,
                     wrt=0)
    assert g(1.5) == 3.0


def test_a_lambda_whose_lines_do_not_parse_is_refused_at_its_line():
    pieces = (1.0,
              lambda x: x * x)
    with pytest.raises(s2sgrad.S2SGradError) as info:
        s2sgrad.grad(pieces[1])
    assert "test_trust.py" in str(info.value) and "lambda x: x * x)" in str(info.value)


# ----------------------------------------------------------------- indexing printed back
def mixed_index(X):
    return np.sum(X[:, [0, 2, 2]] ** 2)


def index_by_element(W, y):
    return np.sum(np.sin(W[1:, y[0]]) * W[:2, ::2].sum())


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_mixed_slice_and_list_indexing(mode):
    X = np.arange(12.0).reshape(3, 4) / 7.0
    expected = np.zeros_like(X)
    expected[:, 0] = 2 * X[:, 0]
    expected[:, 2] = 4 * X[:, 2]  # read twice
    if mode == "reverse":
        assert s2sgrad.grad(mixed_index)(X) == pytest.approx(expected)
    else:
        direction = np.cos(np.arange(12.0)).reshape(3, 4)
        assert s2sgrad.jvp(mixed_index)(X, direction)[1] == pytest.approx(np.sum(expected * direction))
    W, y = X + 0.1, np.array([3, 1])
    s2sgrad.testing.check_grads(index_by_element, W, y, wrt=0)


# ----------------------------------------------------------------- calls writing into arguments
def copies_into(x):
    out = np.zeros(2)
    np.copyto(out, x * x)
    return np.sum(out)


def multiplies_into(x):
    out = np.zeros(2)
    np.multiply(x, x, out=out)
    return np.sum(out)


def puts_into(x):
    out = x * 1.0
    np.put(out, [0], 5.0)
    return np.sum(out * out)


def places_into(x):
    out = x * 1.0
    np.place(out, out > 0.5, [0.0])
    return np.sum(out)


def prints_only(x):
    print("x is", x)
    return np.sum(x * x)


@pytest.mark.parametrize("f, shown", [(copies_into, "np.copyto(out, x * x)"),
                                      (multiplies_into, "np.multiply(x, x, out=out)"),
                                      (puts_into, "np.put(out, [0], 5.0)"),
                                      (places_into, "np.place(out, out > 0.5, [0.0])")])
@pytest.mark.parametrize("transform", [s2sgrad.grad, s2sgrad.jvp])
def test_a_call_that_may_write_into_an_argument_is_refused(f, shown, transform):
    with pytest.raises(s2sgrad.UnsupportedSyntaxError) as info:
        transform(f)
    assert shown in str(info.value) and "test_trust.py" in str(info.value)


def test_print_stays_allowed(capsys):
    x = np.array([0.5, 2.0])
    assert s2sgrad.grad(prints_only)(x) == pytest.approx(2 * x)


# ----------------------------------------------------------------- helpers called in conditions
def positive(v):
    return v > 0.0


def small(v, limit=4.0):
    return abs(v) < limit


def branches_on_helpers(x, y):
    if positive(x) and positive(y):
        return x * y
    return x + y * y


def loops_on_a_helper(x):
    for i in range(6):
        if small(x) or positive(-x - 10.0):
            x = x * 1.5 + 0.25
    return x * x


@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("x, y", [(1.0, 2.0), (1.0, -2.0), (-0.5, 3.0)])
def test_a_helper_called_in_an_and_or_condition_is_in_the_module(backend, x, y):
    expected = (y, x) if x > 0 and y > 0 else (1.0, 2 * y)
    assert s2sgrad.grad(branches_on_helpers, wrt=(0, 1), backend=backend)(x, y) == pytest.approx(expected)
    assert s2sgrad.jvp(branches_on_helpers, wrt=(0, 1), backend=backend)(x, y, 1.0, 0.0)[1] == \
        pytest.approx(expected[0])
    assert s2sgrad.grad(loops_on_a_helper, backend=backend)(0.3) == \
        pytest.approx(central(loops_on_a_helper, 0.3), rel=1e-6)


# ----------------------------------------------------------------- non-differentiable points
def sqrt_of(x):
    return math.sqrt(x)


def half_power(x):
    return x ** 0.5


def arcsine(x):
    return math.asin(x)


def arccosh(x):
    return math.acosh(x)


def hypotenuse(x, y):
    return math.hypot(x, y)


def angle(x, y):
    return math.atan2(x, y)


def log_of(x):
    return np.log(x) * 2.0  # -inf at 0, where math.log would raise


def pole(x):
    return 1.0 / x


def torch_grad(fn, *xs):
    import torch
    ts = [torch.tensor(float(x), dtype=torch.float64, requires_grad=True) for x in xs]
    fn(*ts).backward()
    return tuple(t.grad.item() for t in ts)


def same_ieee(a, b):
    return all((math.isnan(u) and math.isnan(v)) or u == v for u, v in zip(a, b))


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # np.log(0.0) itself warns
@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("f, torch_f, at", [
    (sqrt_of, "sqrt", (0.0,)), (half_power, lambda x: x ** 0.5, (0.0,)), (arcsine, "asin", (1.0,)),
    (arccosh, "acosh", (1.0,)), (hypotenuse, "hypot", (0.0, 0.0)), (log_of, lambda x: 2 * x.log(), (0.0,)),
])
def test_derivatives_at_singular_points_are_pytorchs_ieee_values(backend, f, torch_f, at):
    import torch
    fn = getattr(torch, torch_f) if isinstance(torch_f, str) else torch_f
    wrt = tuple(range(len(at)))
    expected = torch_grad(fn, *at)
    got = s2sgrad.grad(f, wrt=wrt, backend=backend)(*at)
    assert same_ieee(got, expected), (got, expected)
    _, tangent = s2sgrad.jvp(f, wrt=wrt, backend=backend)(*at, *([1.0] + [0.0] * (len(at) - 1)))
    assert same_ieee((tangent,), expected[:1])


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_atan2_at_the_origin_does_not_raise(backend):
    # d atan2(x, y) = (y dx - x dy) / (x^2 + y^2): 0/0 at the origin, nan as in JAX
    assert all(math.isnan(v) for v in s2sgrad.grad(angle, wrt=(0, 1), backend=backend)(0.0, 0.0))


def test_where_the_function_raises_the_derivative_raises_the_functions_error():
    with pytest.raises(ZeroDivisionError):
        pole(0.0)
    with pytest.raises(ZeroDivisionError):
        s2sgrad.grad(pole)(0.0)
    assert s2sgrad.grad(pole)(2.0) == -0.25  # and the plain code elsewhere


def test_a_singular_point_inside_a_loop():
    def f(x, n):
        s = 0.0
        for i in range(1, n):
            s = s + math.sqrt(x) * i
        return s
    g = s2sgrad.grad(f)
    assert g(0.0, 3) == math.inf  # d/dx sqrt(x) i = i / (2 sqrt(x)): inf at x = 0
    assert g(2.0, 3) == pytest.approx(sum(i / (2 * math.sqrt(2.0)) for i in range(1, 3)))


# ----------------------------------------------------------------- powers with a variable exponent
def power(x, k):
    return x ** k


def power_sum(x, y):
    return np.sum(x ** y)


def sqrt_of_product(x, i):
    return math.sqrt(x * i) + math.sqrt(i) * x


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_variable_exponent_is_differentiated_as_the_chain_rule_does(backend):
    # d/dx x**k = k x**(k-1): 0 at x = 0 for k = 2 (k x**k / x was nan there), 1 for k = 1
    g = s2sgrad.grad(power, backend=backend)
    assert g(0.0, 2) == 0.0 and g(0.0, 1) == 1.0 and g(-1.5, 3) == pytest.approx(3 * 2.25)
    both = s2sgrad.grad(power, wrt=(0, 1), backend=backend)
    assert both(0.0, 2.0) == (0.0, 0.0)  # d/dk 0**k = 0 for k > 0, as in PyTorch
    assert both(2.0, 3.0) == pytest.approx((12.0, 8 * math.log(2.0)))
    x, y = np.array([0.0, 2.0, 0.5]), np.array([2.0, 3.0, 1.5])
    import torch
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (x, y))
    (tx ** ty).sum().backward()
    got = s2sgrad.grad(power_sum, wrt=(0, 1), backend=backend)(x, y)
    np.testing.assert_allclose(got[0], tx.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(got[1], ty.grad.numpy(), rtol=1e-14)
    tangent = s2sgrad.jvp(power_sum, wrt=(0, 1), backend=backend)(x, y, np.ones(3), np.ones(3))[1]
    assert tangent == pytest.approx(float(np.sum(tx.grad.numpy() + ty.grad.numpy())))


def test_second_derivatives_of_a_variable_power():
    # x**y: d2/dx2 = y (y-1) x**(y-2), d2/dxdy = x**(y-1) (1 + y log x), d2/dy2 = x**y log(x)**2
    h = s2sgrad.hessian(power, wrt=(0, 1))(2.0, 3.0)
    assert np.array(h, dtype=float) == pytest.approx(
        np.array([[6 * 2.0, 4 * (1 + 3 * math.log(2))], [4 * (1 + 3 * math.log(2)), 8 * math.log(2) ** 2]]))


def test_sqrt_of_a_product_at_zero_is_the_chain_rules_inf():
    # d/dx sqrt(x i) = i / (2 sqrt(x i)): inf at x = 0 (sympy's sqrt(x i) / (2 x) gave 0 / 0)
    assert s2sgrad.grad(sqrt_of_product)(0.0, 3.0) == math.inf
    assert s2sgrad.grad(sqrt_of_product)(2.0, 3.0) == pytest.approx(3 / (2 * math.sqrt(6.0)) + math.sqrt(3.0))


# ----------------------------------------------------------------- keyword arguments and options
M = np.array([True, False, True, True])
V = np.array([0.5, -1.0, 2.0, 3.5])


def sum_by_keyword(x):
    return np.sum(a=x * x)


def reshape_column_first(x):
    return np.sum(np.reshape(x, (2, 2), order="F")[0] * np.array([1.0, 2.0]))


def ravel_column_first(x):
    return np.sum(np.ravel(x * x, order="F") * np.arange(4.0))


def clip_by_keywords(x):
    return np.sum(np.clip(x, a_min=0.0, a_max=2.5) ** 2) + np.sum(x.clip(min=1.0) * x)


def euclidean(x):
    return np.linalg.norm(x, ord=2) + np.sum(np.add(x, x, out=None))


@pytest.mark.parametrize("f, x", [(sum_by_keyword, V), (reshape_column_first, V),
                                  (ravel_column_first, V.reshape(2, 2)), (clip_by_keywords, V),
                                  (euclidean, V)])
def test_keyword_arguments_a_rule_takes_are_differentiated(f, x):
    s2sgrad.testing.check_grads(f, x)  # both modes against central differences


def test_reshape_in_column_order_by_hand():
    # x reshaped column first: row 0 is (x0, x2), so f = x0 + 2 x2
    assert s2sgrad.grad(reshape_column_first)(V) == pytest.approx([1.0, 0.0, 2.0, 0.0])


def sum_where(x):
    return np.sum(x * x, where=M)


def sum_initial(x):
    return np.sum(x * x, initial=10.0)


def max_initial(x):
    return np.max(x, initial=10.0)


def method_reshape_order(x):
    return np.sum(x.reshape((2, 2), order="F")[0])


def exp_where(x):
    return np.sum(np.exp(x, where=x > 2))


def positional_out(x):
    out = np.zeros(4)
    np.multiply(x, x, out)
    return np.sum(out)


@pytest.mark.parametrize("f, shown", [(sum_where, "where="), (sum_initial, "initial="),
                                      (max_initial, "initial="), (method_reshape_order, "order="),
                                      (exp_where, "where="), (positional_out, "np.multiply(x, x, out)")])
@pytest.mark.parametrize("transform", [s2sgrad.grad, s2sgrad.jvp])
def test_an_option_no_rule_takes_is_refused_not_ignored(f, shown, transform):
    with pytest.raises(s2sgrad.S2SGradError) as info:
        t = transform(f)
        t(V) if transform is s2sgrad.grad else t(V, np.ones(4))
    assert shown in str(info.value) and "test_trust.py" in str(info.value)


def keyword_into_a_foreign_call(x):
    return np.sum(dict(x=x)["x"])


def test_a_differentiated_value_passed_by_keyword_to_a_call_without_rule_is_refused():
    with pytest.raises(s2sgrad.UnsupportedCallError):
        s2sgrad.grad(keyword_into_a_foreign_call)(V)


def two_norm(x):
    return np.linalg.norm(x, ord=2)


def test_a_rule_that_needs_a_rank_waits_for_the_call_that_shows_it():
    g = s2sgrad.grad(two_norm)  # x's rank is not known from the code alone: no refusal yet
    assert "generated at the first call" in g.source
    assert g(np.array([3.0, 4.0])) == pytest.approx([0.6, 0.8])
    assert "def grad_two_norm" in g.source
    with pytest.raises(s2sgrad.UnsupportedCallError):  # a matrix's 2-norm has no rule
        g(np.eye(2))
    _, tangent = s2sgrad.jvp(two_norm)(np.array([3.0, 4.0]), np.array([1.0, 0.0]))
    assert tangent == pytest.approx(0.6)


# ----------------------------------------------------------------- found by an adversarial tester
def sin_squared_of_a_cse_named(x, cse0):
    return math.sin(x * cse0) ** 2


def test_a_variable_named_like_a_shared_subexpression_keeps_its_own_value():
    """sympy's shared subexpressions were named @cse0, @cse1, ... and a held variable
    `cse0` printed the same symbol: `2 * tmp * ...` replaced `2 * cse0 * ...`.  By hand:
    d/dx sin(c x)^2 = 2 c sin(c x) cos(c x)."""
    x, c = 0.7, 1.3
    by_hand = 2 * c * math.sin(c * x) * math.cos(c * x)
    assert math.isclose(s2sgrad.grad(sin_squared_of_a_cse_named)(x, c), by_hand, rel_tol=1e-12)
    assert math.isclose(s2sgrad.jvp(sin_squared_of_a_cse_named)(x, c, 1.0)[1], by_hand, rel_tol=1e-12)


WEIGHTS = np.array([1.0, 2.0, 3.0, 4.0, 5.0])


def weighted_clip(x, lo, hi):
    return np.sum(np.clip(x, lo, hi) * WEIGHTS)


def clip_to_a_crossed_bound(x):
    return np.sum(np.clip(x, -0.5, 0.5 * x))


def test_clip_with_crossed_bounds_follows_numpy():
    """NumPy's clip is minimum(maximum(x, lo), hi): where lo > hi the result is hi, whose
    derivative then passes (it passed to nothing, or to both lo and hi).  Against torch's
    clamp, which computes the same, and by hand."""
    torch = pytest.importorskip("torch")
    x = np.array([-2.0, 0.3, 2.0, 0.7, -0.1])
    lo = np.array([-1.0, -1.0, -1.0, 1.0, 1.0])
    hi = np.array([1.0, 1.0, 1.0, 0.5, 0.5])   # the last two crossed
    got = s2sgrad.grad(weighted_clip, wrt=(0, 1, 2))(x, lo, hi)
    t = [torch.tensor(a, requires_grad=True) for a in (x, lo, hi)]
    (torch.clamp(t[0], t[1], t[2]) * torch.tensor(WEIGHTS)).sum().backward()
    for mine, theirs in zip(got, t):
        np.testing.assert_allclose(mine, theirs.grad.numpy())
    np.testing.assert_allclose(s2sgrad.grad(clip_to_a_crossed_bound)(np.array([-2.0, 1.0])), [0.5, 0.5])
    tangent = s2sgrad.jvp(weighted_clip, wrt=(0, 1, 2))(x, lo, hi, np.ones(5), np.ones(5), np.ones(5))[1]
    assert math.isclose(tangent, WEIGHTS.sum())  # each element follows exactly one of x, lo, hi


def rotated_list(x):
    z = x[1:] + x[:1]
    return z[0] * x[0] + z[2]


def test_a_list_of_list_slices_is_refused_not_a_crash():
    """x[1:] of a list was given the kind of an item, so its adjoint started as a number
    and `d_z[0] += ...` raised a TypeError in the generated code."""
    with pytest.raises(s2sgrad.UnsupportedSyntaxError, match=r"rotated_list|x\[1:\]"):
        s2sgrad.grad(rotated_list)([0.5, 1.5, 2.5, 3.5])


def writes_into_an_argument(x, y):
    y[1] = x[0] * x[1]
    return np.sum(np.tanh(y))


def test_the_callers_array_written_by_index_comes_back_as_it_was():
    """The reverse sweep read no old value of y, so nothing was saved and y kept f's
    write; the README promises the caller's arrays back as they were."""
    x, y = np.array([0.3, 0.4]), np.array([1.0, 2.0])
    g = s2sgrad.grad(writes_into_an_argument)(x, y)
    np.testing.assert_array_equal(y, [1.0, 2.0])
    by_hand = (1 - np.tanh(x[0] * x[1]) ** 2) * np.array([x[1], x[0]])
    np.testing.assert_allclose(g, by_hand, rtol=1e-12)
    for backend in ("numba",):
        y = np.array([1.0, 2.0])
        np.testing.assert_allclose(s2sgrad.grad(writes_into_an_argument, backend=backend)(x, y), by_hand)
        np.testing.assert_array_equal(y, [1.0, 2.0])
