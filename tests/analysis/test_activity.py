"""analysis.activity on its own: which variables get adjoints.

A variable is active when its value depends differentiably on a wrt input AND the
output depends differentiably on it.  Each expected set below is read off the function
by hand: follow the differentiable data flow forward from wrt and backward from the
result, ignoring statement order (the analysis is flow-insensitive by design).
"""
# ruff: noqa: F841 - the functions below are inputs to a pass: their variables are what it reads

import math

import numpy as np
import pytest

from s2sgrad import ir, stop_gradient
from s2sgrad.analysis.activity import active_variables
from s2sgrad.frontend import controlflow, load_program
from s2sgrad.transforms.naming import Namer


def lowered(f):
    fn, functions = load_program(f)
    namer = Namer({fn.name, *fn.params, *ir.assigned_names(fn.body)})
    return controlflow.lower_jumps(fn, namer.fresh)


def active(f, wrt):
    fn = lowered(f)
    return active_variables(fn, wrt, [fn.result])


def chain(x, y):
    a = x * 2.0     # varied and useful
    b = y * 3.0     # useful, not varied (y is not in wrt)
    c = a + b
    d = x * 5.0     # varied, never reaches the output
    return c


def test_varied_and_useful():
    assert active(chain, ["x"]) == {"x", "a", "c", "result"}
    assert active(chain, ["y"]) == {"y", "b", "c", "result"}
    assert active(chain, ["x", "y"]) == {"x", "y", "a", "b", "c", "result"}


def constant_branches(x):
    k = 2.0
    if x > 0.0:     # the condition depends on x, but no derivative flows through it
        k = 3.0
    return k * x


def test_a_variable_set_to_constants_in_branches_is_inactive():
    assert active(constant_branches, ["x"]) == {"x", "result"}


def overwritten(x):
    a = x * x
    b = a + 1.0
    a = 2.0         # a constant now, but b above read the varied a
    return a * b


def test_a_variable_overwritten_with_a_constant_keeps_its_adjoint():
    # b's adjoint must reach x through the first `a = x * x`, so a stays active
    assert active(overwritten, ["x"]) == {"x", "a", "b", "result"}


def stopped(x):
    s = stop_gradient(x * x)
    t = s * x
    return t


def test_stop_gradient_stops_activity():
    assert active(stopped, ["x"]) == {"x", "t", "result"}


def only_stopped(x):
    s = stop_gradient(x)
    return s * 2.0


def test_nothing_is_active_through_stop_gradient_alone():
    # x is varied but does not reach the output differentiably: not even x is active
    assert active(only_stopped, ["x"]) == set()


def non_differentiable(x, xs):
    k = x // 1.0            # integer division: no derivative
    m = x > 1.0             # a comparison
    n = math.floor(x)       # a step function
    s = xs[int(k)] * m      # an index carries nothing; xs is not varied
    return s + n + k


def test_nondifferentiable_positions_carry_nothing():
    assert active(non_differentiable, ["x"]) == set()
    assert active(non_differentiable, ["xs"]) == {"xs", "s", "result"}


def through_a_list(x, n):
    ys = [0.0]
    for i in range(n):
        ys.append(x * i)
    total = 0.0
    for y in ys:
        total = total + y
    unused = []
    unused.append(x)
    return total


def test_lists_carry_activity():
    # append: x -> ys; for each: ys -> y; then y -> total -> result
    assert active(through_a_list, ["x"]) == {"x", "ys", "y", "total", "result"}


def helper(u, v):
    return u * v


def calls(x, y):
    p = helper(x, 3.0)
    q = helper(y, 2.0)
    return p + q


def test_a_call_carries_from_its_arguments():
    assert active(calls, ["x"]) == {"x", "p", "result"}


def arrays(w, x):
    m = w @ x                # one array primitive a statement: the lowering adds no temporaries
    h = np.tanh(m)
    shape = h.shape          # an attribute: no derivative
    z = np.zeros(shape)
    a = h + z
    s = np.sum(a)
    return s


def test_arrays():
    assert active(arrays, ["w"]) == {"w", "m", "h", "a", "s", "result"}
    assert active(arrays, ["x"]) == {"x", "m", "h", "a", "s", "result"}


def loop_carried(x, n):
    a = 1.0
    b = 0.0
    for i in range(n):
        b = a * 2.0     # b reads a, which only an earlier iteration made varied
        a = a * x
    return b


def test_activity_flows_around_loops():
    assert active(loop_carried, ["x"]) == {"x", "a", "b", "result"}


def test_bookkeeping_statements_carry_no_derivative():
    # c = x as a flag (the role the lowering and the differentiator give their own
    # statements) does not make c active; the same statement as user code does
    def body(role):
        return [ir.Assign([ir.Name("c")], [ir.Name("x")], role=role),
                ir.Assign([ir.Name("r")], [ir.BinOp("*", ir.Name("c"), ir.Name("x"))])]
    user = ir.Function("f", ["x"], {}, body("user"), result="r")
    flag = ir.Function("f", ["x"], {}, body("flag"), result="r")
    assert active_variables(user, ["x"], ["r"]) == {"x", "c", "r"}
    assert active_variables(flag, ["x"], ["r"]) == {"x", "r"}


@pytest.mark.parametrize("f, wrt", [(chain, ["x"]), (overwritten, ["x"]), (through_a_list, ["x"]),
                                    (loop_carried, ["x"]), (arrays, ["w"])])
def test_active_is_wrt_reach_meets_output_reach(f, wrt):
    # the definition itself: active = varied & useful, with varied growing with wrt and
    # useful growing with the outputs; wrt unknown to the function adds nothing
    fn = lowered(f)
    both = active_variables(fn, wrt, [fn.result])
    assert both <= active_variables(fn, fn.params, [fn.result])
    assert active_variables(fn, wrt + ["not_a_variable"], [fn.result]) == both
    assert active_variables(fn, [], [fn.result]) == set()
    assert active_variables(fn, wrt, []) == set()
