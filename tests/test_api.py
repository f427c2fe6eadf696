"""The public API: calling conventions, caching, loading, naming, standalone modules."""
import inspect
import math
import os
import sys
import traceback

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import other_module  # noqa: E402
from other_module import damp  # noqa: E402

import s2sgrad  # noqa: E402
from s2sgrad.testing import check_grads  # noqa: E402

SCALE = 2.0


def product(x, y):
    return x * y + math.sin(x)


def test_wrt_by_position_name_and_tuple():
    x, y = 0.4, 1.7
    assert s2sgrad.grad(product)(x, y) == pytest.approx(y + math.cos(x), rel=1e-15)
    assert s2sgrad.grad(product, wrt="y")(x, y) == pytest.approx(x, rel=1e-15)
    gy, gx = s2sgrad.grad(product, wrt=("y", 0))(x, y)
    assert (gy, gx) == pytest.approx((x, y + math.cos(x)), rel=1e-15)
    (only,) = s2sgrad.grad(product, wrt=(1,))(x, y)
    assert only == pytest.approx(x)


def test_keyword_arguments_and_defaults():
    def shifted(x, shift=1.5):
        return (x - shift) ** 2
    g = s2sgrad.grad(shifted)
    assert g(2.0) == pytest.approx(2 * (2.0 - 1.5))
    assert g(x=2.0, shift=0.5) == pytest.approx(2 * (2.0 - 0.5))


def test_value_and_grad_returns_the_value_too():
    value, gradient = s2sgrad.value_and_grad(product)(0.4, 1.7)
    assert value == product(0.4, 1.7)
    assert gradient == pytest.approx(1.7 + math.cos(0.4))


def polar(r, theta):
    return (r * math.cos(theta), r * math.sin(theta))


def test_vjp_of_a_tuple_output_pulls_back_the_cotangent():
    r, t, cx, cy = 1.3, 0.6, 0.25, -2.0
    d_r, d_t = s2sgrad.vjp(polar, wrt=(0, 1))(r, t, (cx, cy))
    # the Jacobian of (r cos t, r sin t), transposed, times (cx, cy)
    assert d_r == pytest.approx(cx * math.cos(t) + cy * math.sin(t), rel=1e-14)
    assert d_t == pytest.approx(-cx * r * math.sin(t) + cy * r * math.cos(t), rel=1e-14)


def test_vjp_of_a_scalar_output_scales_the_gradient():
    assert s2sgrad.vjp(product)(0.4, 1.7, 3.0) == pytest.approx(3.0 * (1.7 + math.cos(0.4)))


def test_generated_code_is_cached():
    assert s2sgrad.grad(product) is s2sgrad.grad(product)
    assert s2sgrad.grad(product, wrt=1) is not s2sgrad.grad(product)


def uses_scale(x):
    return SCALE * x * x


def test_cache_sees_a_changed_global(monkeypatch):
    assert s2sgrad.grad(uses_scale)(1.0) == pytest.approx(4.0)
    monkeypatch.setattr(sys.modules[__name__], "SCALE", 3.0)
    assert s2sgrad.grad(uses_scale)(1.0) == pytest.approx(6.0)


def make_power(k):
    def power(x):
        return x ** k
    return power


def test_closures_keep_their_free_variables():
    assert s2sgrad.grad(make_power(3))(2.0) == pytest.approx(12.0)
    assert s2sgrad.grad(make_power(4))(2.0) == pytest.approx(32.0)


def uses_both_scales(x):
    return SCALE * damp(x) + other_module.SCALE * x


def scaled_by_the_module(x):
    return other_module.SCALE * x * x + other_module.damp(x)


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_module_attribute_rebound_after_the_first_call_is_read_anew(backend, monkeypatch):
    """`other_module.SCALE` was frozen into the generated code with no dependency on it:
    a rebound module constant or function kept the old derivative, even for a new grad."""
    g = s2sgrad.grad(scaled_by_the_module, backend=backend)
    x = 0.7
    damp_slope = math.exp(-0.5 * x) * (1.0 - 0.5 * x) * 10.0
    assert g(x) == pytest.approx(2 * 10.0 * x + damp_slope)
    monkeypatch.setattr(other_module, "SCALE", 3.0)
    assert g(x) == pytest.approx(2 * 3.0 * x + damp_slope * 0.3)  # damp reads the module's SCALE too
    assert s2sgrad.grad(scaled_by_the_module, backend=backend)(x) == pytest.approx(2 * 3.0 * x + damp_slope * 0.3)
    monkeypatch.setattr(other_module, "damp", lambda v, rate=0.5: v * v * v)
    assert g(x) == pytest.approx(2 * 3.0 * x + 3 * x * x)


square_of = lambda t: t * t  # noqa: E731 - a global lambda is what the test is about


def calls_a_global_lambda(x):
    return square_of(x) * x + square_of(2.0 * x)


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_global_lambda_called_in_an_expression(backend):
    """Its value was bound to `<lambda>_1`, a SyntaxError in the generated code."""
    assert s2sgrad.grad(calls_a_global_lambda, backend=backend)(1.5) == pytest.approx(3 * 1.5 ** 2 + 8 * 1.5)


DEFAULT_WEIGHTS = np.array([3.0, -1.0])


def weighted_by_a_literal_default(x, a=np.array([1.0, 2.0])):
    return np.sum(a * x * x)


def weighted_by_a_global_default(x, a=DEFAULT_WEIGHTS):
    return np.sum(a * x * x)


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_array_defaults_written_as_calls_or_globals(backend):
    """`a=np.array(...)` and `a=DEFAULT_WEIGHTS` were copied into the generated def
    without NumPy's import or the global's binding: NameError when the module loaded."""
    x = np.array([0.5, -1.5])
    for f, a in ((weighted_by_a_literal_default, np.array([1.0, 2.0])), (weighted_by_a_global_default, DEFAULT_WEIGHTS)):
        g = s2sgrad.grad(f, backend=backend)
        np.testing.assert_allclose(g(x), 2 * a * x)
        np.testing.assert_allclose(g(x, np.array([1.0, 1.0])), 2 * x)


def test_imported_helpers_and_same_named_constants_of_two_modules():
    check_grads(uses_both_scales, 0.7)
    source = s2sgrad.grad(uses_both_scales).source
    assert "SCALE = 2.0" in source and "SCALE_1 = 10.0" in source


def test_generated_code_stands_alone():
    source = s2sgrad.grad(uses_both_scales).source
    namespace = {}
    exec(compile(source, "standalone.py", "exec"), namespace)  # no s2sgrad in sight
    assert not any("s2sgrad" in line for line in source.splitlines() if "import" in line)
    assert namespace["grad_uses_both_scales"](0.7) == pytest.approx(s2sgrad.grad(uses_both_scales)(0.7))


def test_generated_source_is_visible_to_inspect_and_tracebacks():
    g = s2sgrad.grad(product)
    assert inspect.getsource(g.generated) in g.source
    with pytest.raises(TypeError) as info:
        g("a", 1.0)
    text = "".join(traceback.format_exception(info.value))
    assert "grad of: return x * y + math.sin(x)" in text or "d_x" in text


def collide(a, d, grad, tape_a=2.0):
    d_a = a * d
    result = d_a + grad
    _stack = [result, a]
    d_d = _stack[0] * _stack[1]
    returned = d_d * tape_a
    return returned + math.sin(d_a)


def test_user_names_never_collide_with_generated_names():
    check_grads(collide, 1.3, 0.7, 0.2, wrt=(0, 1, 2, 3))
    source = s2sgrad.grad(collide, wrt=(0, 1)).source
    assert "d_a_1" in source and "d_d_1" in source


def test_integer_arguments_are_promoted():
    g = s2sgrad.grad(product, wrt=(0, 1))(2, 3)
    assert all(isinstance(v, float) for v in g)
    assert g == pytest.approx((3 + math.cos(2), 2.0))


def test_stop_gradient_passes_the_value_and_no_derivative():
    def f(x):
        return x * s2sgrad.stop_gradient(x * x)
    assert s2sgrad.stop_gradient(1.5) == 1.5
    assert s2sgrad.grad(f)(1.5) == pytest.approx(1.5 * 1.5)
    code = [line for line in s2sgrad.grad(f).source.splitlines() if not line.strip().startswith("#")]
    assert not any("stop_gradient(" in line for line in code)


def test_list_argument_gradient_is_a_list():
    def norm2(xs):
        total = 0.0
        for v in xs:
            total += v * v
        return total
    assert s2sgrad.grad(norm2)([1.0, -2.0, 0.5]) == pytest.approx([2.0, -4.0, 1.0])


def weighted_squares(xs, w):
    s = 0.0
    for v in xs:
        s += w * v * v
    return s


def lists_through_helpers(xs, w):
    ys = [xs[0] * 2.0, xs[1] + w]
    return weighted_squares(ys, w) + weighted_squares(xs, 1.0) + weighted_squares([w, xs[2]], 0.5)


def test_lists_passed_to_helpers_get_their_cotangents_elementwise():
    xs, w = [0.3, -1.2, 0.8], 0.7
    d_xs, d_w = s2sgrad.grad(lists_through_helpers, wrt=(0, 1))(xs, w)
    y0, y1 = 2 * xs[0], xs[1] + w
    # by hand: d/dxs of w*(y0^2 + y1^2) + sum(xs^2) + 0.5*(w^2 + xs2^2)
    assert d_xs == pytest.approx([w * 2 * y0 * 2 + 2 * xs[0], w * 2 * y1 + 2 * xs[1], 2 * xs[2] + xs[2]])
    assert d_w == pytest.approx(y0 ** 2 + y1 ** 2 + w * 2 * y1 + w)
    check_grads(lists_through_helpers, xs, w, wrt=(0, 1))


def no_output(x):
    y = x * 2  # noqa: F841


def test_a_function_without_return_is_refused():
    with pytest.raises(s2sgrad.UnsupportedSyntaxError, match="no return statement") as info:
        s2sgrad.grad(no_output)
    assert "test_api.py:" in str(info.value) and "hint:" in str(info.value)


def reuses_loop_variable(x, n):
    for i in range(n):
        for i in range(n):  # noqa: B020 - the inner loop rebinds the outer loop's variable
            x = x * 1.1
        if i % 2 == 0:
            x = x * x
        else:
            x = x + 1.0
    return x


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_a_body_that_rebinds_its_loop_variable(n):
    # found by test_properties: the branch reads the inner loop's last i, not the outer one
    check_grads(reuses_loop_variable, 0.3, n)


def overwritten_by_a_constant_call(x, y):
    a = x * y
    x = weighted_squares([0.5, 1.0], 2.0)  # no derivative flows into x from here on
    return x + a


def test_a_call_on_constants_resets_the_adjoint_it_overwrites():
    # found by test_properties: the adjoint of x leaked past the overwrite
    assert s2sgrad.grad(overwritten_by_a_constant_call, wrt=(0, 1))(0.3, 0.4) == pytest.approx((0.4, 0.3))


import random  # noqa: E402


def noisy_scale(x):
    return x * random.random() + x * x


def test_foreign_calls_are_evaluated_once():
    # the reverse sweep must use the value the forward sweep drew, not draw again
    random.seed(7)
    expected_noise = random.random()
    random.seed(7)
    assert s2sgrad.grad(noisy_scale)(0.5) == pytest.approx(expected_noise + 1.0, rel=1e-15)
    assert "random_" in s2sgrad.grad(noisy_scale).source  # held in a variable


def returns_from_two_depths(x, y, n):
    a, b = x * y, y - 0.3
    for i in range(n):
        if x / (1.0 + (a + b) * (a + b)) > 0.2371:
            if math.sin(i) + 2.0 * max(i * x, 3.0) > 0.7213:
                return 0.5
            a, b = b, a
        else:
            b *= math.sin(i)
        k = 0
        while k < n and math.sin(a) < 0.9:
            k += 1
            a, b = b, a
            if x > 0.7213:
                return a / (1.0 + y * y)
    return y + a * b


@pytest.mark.parametrize("x, y, n", [(0.8, -0.2, 1), (0.8, 0.3, 3), (-0.3, 0.9, 2), (0.2, -0.9, 3)])
def test_returns_inside_nested_loops_keep_the_tapes_balanced(x, y, n):
    # found by test_properties: a `break` mid-iteration skipped bookkeeping the reverse undid
    check_grads(returns_from_two_depths, x, y, n, wrt=(0, 1))


def bound_on_one_path(x, c):
    z = x
    if c > 0:
        y = x * 2.0
        z = y * y
    y = math.sin(x) * x
    return y * z


@pytest.mark.parametrize("c", [1, -1])
def test_saving_a_variable_bound_on_one_path_only(c):
    check_grads(bound_on_one_path, 0.5, c)


# ---------------------------------------------------- kinds guessed before the first call
def times_first(x):
    return x[0] * x   # no NumPy call: the subscript alone reads as a list's


def scaled_by_list_total(x, xs):
    t = 0.0
    for v in xs:
        t = t + v
    return t * x[0] * x


def test_a_subscripted_parameter_used_as_an_array_is_not_refused_before_the_call():
    """The guess `x is a list` (x[0], no NumPy in sight) made vjp and the reverse-mode
    Jacobian refuse `x[0] * x` as list arithmetic before any call; an array call is fine.
    By hand: d(x0 x)/dx = [[2 x0, 0], [x1, x0]]."""
    import numpy as np
    x = np.array([2.0, 3.0])
    assert np.allclose(s2sgrad.vjp(times_first)(x, np.array([1.0, 10.0])), [2 * 2 + 10 * 3, 10 * 2])
    assert np.allclose(s2sgrad.jacobian(times_first, mode="reverse")(x), [[4.0, 0.0], [3.0, 2.0]])
    jac_x, jac_xs = s2sgrad.jacobian(scaled_by_list_total, wrt=(0, 1), mode="reverse")(x, [1.0, 2.0])
    assert np.allclose(jac_x, 3.0 * np.array([[4.0, 0.0], [3.0, 2.0]]))
    assert np.allclose(jac_xs, [[4.0, 4.0], [6.0, 6.0]])  # x0 x_j for each list item


def below_three(v):
    return v < 3.0


def doubled_while_below_three(xs):
    t = xs[0]
    while below_three(t):  # refused for a list and for an array alike
        t = t * 2.0
    return t


def test_a_refusal_that_holds_for_arrays_too_is_still_raised_before_the_call():
    with pytest.raises(s2sgrad.UnsupportedSyntaxError, match="while condition"):
        s2sgrad.grad(doubled_while_below_three)


# --- repeated calls: a call whose arguments are numbers and float arrays, positional, goes
# straight to the code an earlier call of the same argument types bound (api._fast_key);
# each of these calls changes one thing that must send it back through binding
def scaled_sum(x, y, scale=2.0):
    return SCALE * scale * np.sum(x * x * y)


def test_repeated_calls_follow_types_defaults_and_globals(monkeypatch):
    x, y = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, -0.5])
    g = s2sgrad.grad(scaled_sum, wrt=(0, 1))
    by_hand = lambda x, y, scale=2.0, s=SCALE: (s * scale * 2 * x * y, s * scale * x * x)  # noqa: E731
    for args in [(x, y), (x, y), (x, y, 3.0), (x, y, 3.0), (x, y, 3), (x, y)]:
        for got, expected in zip(g(*args), by_hand(*args)):
            assert np.allclose(got, expected, rtol=1e-14)
    ints = np.array([1, 2, 3])  # promoted: a float gradient, never the same variant as a float array
    gx, gy = g(ints, y)
    assert gx.dtype == np.float64 and np.allclose(gx, by_hand(ints * 1.0, y)[0])
    total = s2sgrad.grad(lambda a: np.sum(a))
    for a in [x, x, np.array([1, 2, 3]), np.array([True, False, True])]:
        assert total(a).dtype == np.float64 and np.array_equal(total(a), np.ones(3))
    single = g(x.astype(np.float32), y.astype(np.float32))
    assert single[0].dtype == np.float32 and np.allclose(single[0], by_hand(x, y)[0], rtol=1e-5)
    monkeypatch.setattr(sys.modules[__name__], "SCALE", 5.0)  # a global read by the code
    assert np.allclose(g(x, y)[0], by_hand(x, y, s=5.0)[0], rtol=1e-14)
    monkeypatch.setattr(scaled_sum, "__defaults__", (7.0,))  # a default changed in place
    assert np.allclose(g(x, y, 2.0)[0], by_hand(x, y, s=5.0)[0], rtol=1e-14)
    assert np.allclose(g(x, y)[0], by_hand(x, y, 7.0, s=5.0)[0], rtol=1e-14)


def test_repeated_vjp_value_and_grad_and_one_tuple_calls():
    x, y = np.array([0.5, -1.0]), np.array([1.5, 0.25])
    vjp = s2sgrad.vjp(lambda x, y: x * y, wrt=0)
    for cotangent in [np.array([1.0, 2.0]), np.array([-3.0, 0.5]), np.array([4.0, 4.0])]:
        assert np.allclose(vjp(x, y, cotangent), cotangent * y, rtol=1e-15)
    both = s2sgrad.value_and_grad(scaled_sum, wrt=(1,))
    for _ in range(2):
        value, (gy,) = both(x, y)
        assert value == pytest.approx(SCALE * 2.0 * np.sum(x * x * y)) and np.allclose(gy, SCALE * 2.0 * x * x)


def inverse(x):
    return 1.0 / x


def test_a_repeated_call_at_a_singular_point_is_the_ieee_value():
    g = s2sgrad.grad(inverse)
    assert g(2.0) == pytest.approx(-0.25)
    with pytest.raises(ZeroDivisionError):  # the function raises there, so does its gradient
        g(0.0)
    assert g(-4.0) == pytest.approx(-1 / 16)
