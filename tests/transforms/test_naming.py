"""transforms.naming on its own, then through generated code: names s2sgrad makes up
never collide with the user's names, fresh names are unique, reserved names (keywords,
builtins, names reserved on the way) are never handed out.

The end-to-end cases use variables named like what s2sgrad generates (d_x, tape_y,
n_tape_y, result, grad_f, vjp_helper); their gradients are derived by hand.  The last
ones are collisions the other way round: a user variable with the name of something the
generated code calls (a module alias, a builtin, a runtime helper) is renamed, so it
never shadows it inside the generated function.
"""
import builtins
import keyword
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import s2sgrad
from s2sgrad.transforms.naming import ADJOINT_PREFIX, Namer


# ---------------------------------------------------------------------- the namer
def test_fresh_takes_the_base_then_numbers_it():
    namer = Namer({"x", "y"})
    assert [namer.fresh("t"), namer.fresh("t"), namer.fresh("t")] == ["t", "t_1", "t_2"]
    assert namer.fresh("x") == "x_1"               # a user name is never handed out
    assert namer.fresh("x") == "x_2"


def test_fresh_skips_names_already_numbered():
    namer = Namer({"d_x", "d_x_1", "d_x_3"})
    assert namer.fresh("d_x") == "d_x_2"
    assert namer.fresh("d_x") == "d_x_4"


def test_keywords_and_builtins_are_reserved():
    namer = Namer()
    assert namer.fresh("lambda") == "lambda_1" and namer.fresh("None") == "None_1"
    assert namer.fresh("sum") == "sum_1" and namer.fresh("float") == "float_1" and namer.fresh("len") == "len_1"
    assert namer.fresh("not an identifier") == "tmp" and namer.fresh("1x") == "tmp_1"


def test_reserve():
    namer = Namer({"x"})
    namer.reserve(["grad_f", "vjp_g"])
    assert namer.fresh("grad_f") == "grad_f_1" and namer.fresh("vjp_g") == "vjp_g_1"
    assert {"x", "grad_f", "vjp_g", "grad_f_1", "vjp_g_1"} <= namer.taken


def test_adjoints_are_stable_tapes_are_fresh():
    namer = Namer({"x", "y", "d_y"})
    assert namer.adjoint("x") == ADJOINT_PREFIX + "x" == "d_x"
    assert namer.adjoint("x") == "d_x"             # the same variable, the same adjoint
    assert namer.adjoint("y") == "d_y_1"           # the user's d_y is left alone
    assert namer.adjoint("d_x") == "d_d_x"
    assert [namer.tape("x"), namer.tape("x")] == ["tape_x", "tape_x_1"]   # one per save site
    assert namer.saved("x") == "x_saved"


# a vocabulary close to what collides in practice
NAMES = st.sampled_from(["x", "y", "d_x", "d_x_1", "d_y", "tape_x", "tape_x_1", "n_tape_x", "result",
                         "returned", "broke", "skip", "tmp", "grad_f", "vjp_f", "sum", "x_saved", "i"])
CALLS = st.lists(st.tuples(st.sampled_from(["fresh", "adjoint", "tape", "saved"]),
                           st.sampled_from(["x", "y", "d_x", "f", "tape_x", "sum", "if", "a b"])),
                 max_size=30)


@settings(max_examples=300, deadline=None)
@given(taken=st.sets(NAMES), calls=CALLS)
def test_generated_names_are_unique_and_never_taken(taken, calls):
    namer = Namer(taken)
    adjoints = {}
    made = []
    for method, base in calls:
        name = getattr(namer, method)(base)
        if method == "adjoint":
            assert adjoints.setdefault(base, name) == name
            if name in made:       # asked again for the same variable
                continue
        made.append(name)
    assert len(made) == len(set(made))
    for name in made:
        assert name not in taken
        assert name.isidentifier() and not keyword.iskeyword(name) and not hasattr(builtins, name)
        assert name in namer.taken


# ---------------------------------------------------------------------- generated code
def clash(x, d_x):
    tape_y = x * 2.0
    d_tape_y = tape_y + d_x
    result = d_tape_y * x
    return result


def test_user_names_like_adjoints():
    # f = (2x + d_x) x: df/dx = 4x + d_x, df/dd_x = x
    g = s2sgrad.grad(clash, wrt=(0, 1))
    assert g(1.5, 0.3) == pytest.approx((4 * 1.5 + 0.3, 1.5), rel=1e-15)
    assert "def grad_clash(x, d_x):" in g.source


def clash_loop(x, n):
    tape_y = 1.0
    d_y = 0.0
    y = 1.0
    n_tape_y = 0.5
    for i in range(n):
        y = y * x
        tape_y = tape_y + y
        d_y = d_y + n_tape_y * y
    return tape_y + d_y


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_user_names_like_tapes_and_their_counts(backend):
    # f = 1 + 1.5 (x + x^2 + ... + x^n): df/dx = 1.5 (1 + 2x + ... + n x^(n-1))
    g = s2sgrad.grad(clash_loop, backend=backend)
    x, n = 1.5, 3
    assert g(x, n) == pytest.approx(1.5 * sum(k * x ** (k - 1) for k in range(1, n + 1)), rel=1e-14)


def named(x):
    grad_named = x * x
    return grad_named * x


def test_a_user_name_like_the_generated_function():
    g = s2sgrad.grad(named)
    assert g(2.0) == 12.0  # 3 x^2
    assert g.__name__ != "grad_named" and g.__name__.startswith("grad_named")


def helper(u):
    return u * u


def calls_helper(x):
    vjp_helper = x * 3.0          # the name of the helper's adjoint the module defines
    return helper(vjp_helper)


def test_a_user_name_like_a_helper_adjoint():
    assert s2sgrad.grad(calls_helper)(2.0) == 36.0   # 9 x^2


def flags(x, n):
    result = 0.0
    returned = 1.0
    broke = 2.0
    skip = 3.0
    for i in range(n):
        if i == 1:
            continue
        result = result + x * returned
        if result > 10.0:
            return result * broke
    return result * skip


def test_user_names_like_the_control_flow_flags():
    # n = 4 at x = 1: result grows by x on trips 0, 2, 3 (trip 1 continues): 3x, never
    # above 10, so f = 3 * 3x and df/dx = 9; at x = 6: trips 0 and 2 give 6 then 12 > 10,
    # so f = 2 * 2x and df/dx = 4
    g = s2sgrad.grad(flags)
    assert g(1.0, 4) == 9.0 and g(6.0, 4) == 4.0


# a user variable named like something the adjoint calls: renamed, never shadowing it
def uses_math_name(x, y):
    math = x * 1.0
    return math ** y


def uses_float_name(x, n):
    float = n * 2
    return x * float


def uses_helper_name(a, b):
    unbroadcast = a * 2.0
    c = unbroadcast + b
    return np.sum(c * c)


def test_a_user_variable_named_math():
    # f = x^y: df/dy = x^y log x
    assert s2sgrad.grad(uses_math_name, wrt=1)(1.5, 2.0) == pytest.approx(1.5 ** 2 * math.log(1.5))


def test_a_user_variable_named_float():
    assert s2sgrad.grad(uses_float_name)(1.5, 3) == 6.0


def test_a_user_variable_named_like_a_runtime_helper():
    a, b = np.array([0.5, -1.0, 2.0]), np.arange(6.0).reshape(2, 3)
    # f = sum((2a + b)^2), a broadcast over b's rows: df/da = sum over rows of 4 (2a + b)
    expected = np.sum(4 * (2 * a + b), axis=0)
    np.testing.assert_allclose(s2sgrad.grad(uses_helper_name)(a, b), expected, rtol=1e-14)


def test_the_names_generated_modules_define_are_all_reserved():
    """Every function runtime/numba.py defines (copied into numba modules) is a name no
    user function or variable is printed under (runtime.MODULE_LEVEL_NAMES)."""
    import ast
    from pathlib import Path

    from s2sgrad import runtime
    from s2sgrad.runtime import helpers
    source = (Path(runtime.__file__).parent / "numba.py").read_text()
    defined = {n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}
    assert defined | set(helpers.__all__) <= runtime.MODULE_LEVEL_NAMES
