"""symbolic(): closed forms pinned exactly, and evaluated at points against the generated
gradient (per-statement code) and hand derivations; the refusals, positioned."""
import math

import numpy as np
import pytest
import sympy as sp

import s2sgrad
from s2sgrad.teaching.symbolic import closed_form, tree_size

a, x, y, r = (sp.Symbol(n, real=True) for n in "axyr")


def cubic(a):
    return a ** 3 - 2 * a + 1


def branchy(x):
    if x > 1.0:
        v = x ** 2
    else:
        v = 3 * x
    return v


def horner(x):
    s = 0.0
    for i in range(3):
        s = s * x + (i + 1)
    return s


def square(u, k=2):
    return u ** k


def with_helper_and_jumps(x, y):
    acc = x
    for i in range(10):
        acc = square(acc) * y
        if i == 1:
            break
    if acc > 100.0:
        return acc - 100.0
    return math.sin(acc) + y


def logistic(x, r, n):
    for i in range(n):
        x = r * x * (1 - x)
    return x


def until_small(x):
    while x > 1.0:
        x = x / 2
    return x


def array_sum(x):
    return np.sum(x * x)


def test_a_polynomial_is_pinned_exactly():
    d = s2sgrad.symbolic(cubic)
    assert d == 3 * a ** 2 - 2
    assert sp.latex(d) == "3 a^{2} - 2"


def test_a_branch_is_a_piecewise():
    assert s2sgrad.symbolic(branchy) == sp.Piecewise((2 * x, x > 1), (3, True))


def test_a_loop_of_constant_length_is_unrolled():
    assert sp.expand(closed_form(horner).expr) == x ** 2 + 2 * x + 3
    assert s2sgrad.symbolic(horner) == 2 * x + 2


def test_helpers_break_and_early_return_inlined():
    # acc = (x**2 y)**2 y = x**4 y**3 after the break at i == 1
    dx, dy = s2sgrad.symbolic(with_helper_and_jumps, wrt=(0, 1))
    acc = x ** 4 * y ** 3
    assert sp.simplify(dx - sp.Piecewise((sp.diff(acc, x), acc > 100),
                                         (sp.diff(sp.sin(acc) + y, x), True))) == 0
    for px, py in [(1.3, 0.7), (2.5, 2.0), (0.4, -1.5)]:
        point = {x: px, y: py}
        gx, gy = s2sgrad.grad(with_helper_and_jumps, wrt=(0, 1))(px, py)
        assert float(dx.subs(point)) == pytest.approx(gx, rel=1e-12)
        assert float(dy.subs(point)) == pytest.approx(gy, rel=1e-12)


@pytest.mark.parametrize("f, point", [
    (branchy, {"x": 2.5}), (branchy, {"x": -0.5}), (horner, {"x": 1.7}), (cubic, {"a": -3.0}),
])
def test_value_at_a_point_is_the_generated_gradient(f, point):
    (name, value), = point.items()
    d = s2sgrad.symbolic(f)
    assert float(d.subs(sp.Symbol(name, real=True), value)) == pytest.approx(s2sgrad.grad(f)(value), rel=1e-13)


def test_fixed_gives_a_loop_its_length_and_matches_grad():
    dx, dr = s2sgrad.symbolic(logistic, wrt=("x", "r"), fixed={"n": 4})
    gx, gr = s2sgrad.grad(logistic, wrt=(0, 1))(0.3, 3.7, 4)
    assert float(dx.subs({x: 0.3, r: 3.7})) == pytest.approx(gx, rel=1e-12)
    assert float(dr.subs({x: 0.3, r: 3.7})) == pytest.approx(gr, rel=1e-12)
    # one step by hand: d/dx r x (1 - x) = r (1 - 2x)
    assert sp.expand(s2sgrad.symbolic(logistic, fixed={"n": 1}) - r * (1 - 2 * x)) == 0


def test_a_while_loop_is_refused_at_its_line():
    with pytest.raises(s2sgrad.NotClosedFormError, match="while loop") as info:
        s2sgrad.symbolic(until_small)
    assert "test_symbolic.py:" in str(info.value) and "while x > 1.0" in str(info.value)


def test_a_run_time_trip_count_is_refused_with_the_fix():
    with pytest.raises(s2sgrad.NotClosedFormError, match=r"known only at run time") as info:
        s2sgrad.symbolic(logistic)
    assert "for i in range(n)" in str(info.value) and "fixed=" in str(info.value)


def test_array_primitives_are_refused():
    with pytest.raises(s2sgrad.NotClosedFormError, match="array primitive"):
        s2sgrad.symbolic(array_sum)


def test_expression_swell_reports_the_size():
    with pytest.raises(s2sgrad.ExpressionSwellError) as info:
        s2sgrad.symbolic(logistic, fixed={"n": 12}, max_size=1000)
    assert info.value.size > 1000 and f"{info.value.size} nodes" in str(info.value)
    # the same loop one step shorter fits: the tree doubles each step
    sizes = [closed_form(logistic, fixed={"n": n}).size for n in range(1, 8)]
    assert all(b > 1.8 * s for s, b in zip(sizes, sizes[1:]))
    assert tree_size(x * (1 - x)) == len(list(sp.preorder_traversal(x * (1 - x))))


def test_fixed_and_wrt_misuse():
    with pytest.raises(s2sgrad.WrtError, match="fixed"):
        s2sgrad.symbolic(logistic, wrt="n", fixed={"n": 3})
    with pytest.raises(s2sgrad.WrtError, match="not parameters"):
        s2sgrad.symbolic(logistic, fixed={"m": 3})


def collide(pi, E, sp):
    return pi * E + sp ** 2


def test_parameter_names_that_are_sympy_names():
    d = s2sgrad.symbolic(collide, wrt=(0, 2))
    assert d == (sp.Symbol("E", real=True), 2 * sp.Symbol("sp", real=True))
