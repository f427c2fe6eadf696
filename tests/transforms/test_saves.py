"""transforms.saves on its own: which overwritten values are saved, where (a variable of
their own outside loops, a tape inside), and the preparation before the sweeps.  The
placeholders come from ReverseMode's sweeps over small functions; what is saved is read
off each function by hand: a value the reverse sweep reads after it was overwritten."""
# ruff: noqa: F841 - the functions below are inputs to a pass: their variables are what it reads

import math
from types import SimpleNamespace

import numpy as np
import pytest

import s2sgrad

from s2sgrad import ir
from s2sgrad.analysis import kinds
from s2sgrad.backends.python import expr_source
from s2sgrad.frontend import controlflow, load_program
from s2sgrad.transforms import saves
from s2sgrad.transforms.naming import Namer
from s2sgrad.transforms.reverse import AdjointSpec, ReverseMode


def placed(f, wrt):
    """(forward sweep, reverse sweep, prologue) of f's adjoint, saves placed."""
    fn, _ = load_program(f)
    namer = Namer({fn.name, *fn.params, *ir.assigned_names(fn.body)})
    fn = controlflow.lower_jumps(fn, namer.fresh)
    var_kinds = kinds.KindInference(fn, {p: kinds.SCALAR for p in fn.params}).run()
    mode = ReverseMode(fn, AdjointSpec(wrt, "grad", "g"), namer, SimpleNamespace(guessed=False), var_kinds)
    fwd, rev = mode.sweep(mode.fn.body, depth=0)
    return saves.place_saves(fwd, rev, mode.fn, mode.kinds, mode.namer, mode.init_values, mode.must_restore)


def lines(stmts, kind):
    """`target = value` (or `tape.append(v)`, `v = tape.pop()`) for the statements of a kind."""
    out = []
    for s in ir.walk_stmts(stmts):
        if kind == "save" and isinstance(s, ir.Assign) and s.role == "save":
            out.append(f"{expr_source(s.targets[0])} = {expr_source(s.values[0])}")
        elif kind == "push" and isinstance(s, ir.Append) and s.pair is not None:
            out.append(f"{s.target.id}.append({expr_source(s.value)})")
        elif kind == "pop" and isinstance(s, ir.Pop) and s.pair is not None:
            out.append(f"{expr_source(s.into)} = {s.target.id}.pop()")
    return out


def no_placeholders(stmts):
    return not any(isinstance(s, (saves.Save, saves.Restore)) for s in ir.walk_stmts(stmts))


def overwrites(x, n):
    y = x * x            # y's first value outside loops overwrites nothing
    y = math.sin(y)      # the adjoint of sin reads the y it overwrote
    for i in range(n):
        x = math.tanh(x * y)   # in a loop: each iteration's x on a tape
    return x


def test_saved_in_a_variable_outside_loops_and_on_a_tape_inside():
    fwd, rev, prologue = placed(overwrites, ["x"])
    assert no_placeholders(fwd) and no_placeholders(rev)
    assert lines(fwd, "save") == ["y_saved = y"]
    assert lines(rev, "save") == ["y = y_saved"]
    assert lines(fwd, "push") == ["tape_x.append(x)"]
    assert lines(rev, "pop") == ["x = tape_x.pop()"]
    assert lines(prologue, "save") == ["tape_x = []"]


def unread(x):
    y = x * 2.0
    y = x * 3.0          # overwrites y, but no adjoint reads y
    return y


def test_a_value_no_adjoint_reads_is_not_saved():
    fwd, rev, prologue = placed(unread, ["x"])
    assert no_placeholders(fwd) and no_placeholders(rev)
    assert lines(fwd, "save") == [] and lines(fwd, "push") == [] and prologue == []


def test_name_popped_values():
    pop = ir.Pop(ir.Name("tape"))
    fn = ir.Function("f", [], {}, [pop])
    var_kinds = {"tape": kinds.list_of(kinds.SCALAR)}
    saves.name_popped_values(fn, var_kinds, Namer({"tape"}))
    assert pop.into.id == "popped" and var_kinds["popped"] == kinds.SCALAR


def test_rebind_array_updates():
    update = ir.Assign([ir.Name("h")], [ir.Name("x")], aug="+")
    on_a_list = ir.Assign([ir.Name("xs")], [ir.Name("ys")], aug="+")
    saves.rebind_array_updates([update, on_a_list], {"h": kinds.array(1), "xs": kinds.list_of(kinds.SCALAR)})
    assert update.aug is None and expr_source(update.values[0]) == "h + x"
    assert on_a_list.aug == "+"   # a list's += extends it: left alone


def test_first_values_for_an_active_array_bound_on_some_paths():
    h = ir.Assign([ir.Name("h")], [ir.Name("x")])
    fwd = [ir.If(ir.Name("c"), [h], [])]
    out = saves.first_values(fwd, [], ["x", "c"], {"x", "h"}, {"h": kinds.array(1), "x": kinds.array(1)})
    assert [(s.targets[0].id, s.values[0].value, s.role) for s in out] == [("h", 0.0, "placeholder")]
    assert saves.first_values([h], [], ["x", "c"], {"x", "h"}, {"h": kinds.array(1)}) == []


def walks_a_packed_triangle(p, x, d):
    # p packs a strictly lower triangle column by column: `pos` advances inside the loop
    total = 0.0
    pos = 0
    for col in range(d):
        for row in range(col + 1, d):
            total = total + p[pos] * x[row] * x[col]
            pos += 1
        pos = pos + 0    # a step of 0 is still a step
        pos = 1 + pos - 1
    return total


def int_and_float_steps(x, n):
    k = 0
    s = x
    for i in range(n):
        k = k + 2
        s = s + 0.1      # a float step is not exact: saved on a tape
        x = x * (s + k)  # the adjoint reads k and s
    return x


def test_an_int_stepped_by_a_constant_is_undone_not_saved():
    """`pos += 1` on an int is undone in the reverse sweep by `pos -= 1` (exact), where a
    float step is taped; `1 + pos - 1` is no plain step and keeps its save."""
    fwd, rev, prologue = placed(int_and_float_steps, ["x"])
    assert lines(fwd, "push") == ["tape_s.append(s)", "tape_x.append(x)"]
    assert "k = k - 2" in lines(rev, "save")
    assert all("tape_k" not in line for line in lines(prologue, "save"))


def test_int_steps_undone_give_the_right_gradient():
    import numpy as np
    import s2sgrad
    rng = np.random.default_rng(3)
    d = 5
    p, x = rng.normal(size=d * (d - 1) // 2), rng.normal(size=d)
    expected_p = np.array([x[r] * x[c] for c in range(d) for r in range(c + 1, d)])  # by hand
    for backend in ("python", "numba"):
        g = s2sgrad.grad(walks_a_packed_triangle, wrt=(0, 1), backend=backend)
        d_p, d_x = g(p, x, d)
        assert np.allclose(d_p, expected_p, rtol=1e-12)
        step, fd = 1e-6, []
        for j in range(d):
            e = np.zeros(d)
            e[j] = step
            fd.append((walks_a_packed_triangle(p, x + e, d) - walks_a_packed_triangle(p, x - e, d)) / (2 * step))
        assert np.allclose(d_x, fd, rtol=1e-6, atol=1e-9)
    source = s2sgrad.grad(walks_a_packed_triangle, wrt=(0, 1)).source
    # only `pos = 1 + pos - 1` is taped; the steps are undone (`pos = pos - 1`)
    assert source.count("tape_pos.append") == 1 and "pos = pos - 1" in source
    g = s2sgrad.grad(int_and_float_steps)
    step = 1e-6
    assert math.isclose(g(0.7, 4), (int_and_float_steps(0.7 + step, 4) - int_and_float_steps(0.7 - step, 4)) / (2 * step),
                        rel_tol=1e-6)


def float_argument_stepped(x):
    t = 1.0
    for i in range(2):
        t = t * x * x
        x = x + 1        # x is a float argument: (x + 1) - 1 is not x
    return t


def test_a_float_argument_stepped_by_an_int_is_taped_not_undone():
    """A parameter's own value counts as a float: undoing `x = x + 1` by `x - 1` lost
    x = 1e-20 entirely (gradient 2e-40).  By hand: f = x^2 (x + 1)^2, f' = 2x(x+1)^2 +
    2x^2(x+1)."""
    import s2sgrad
    x = 1e-20
    by_hand = 2 * x * (x + 1) ** 2 + 2 * x * x * (x + 1)
    for backend in ("python", "numba"):
        g = s2sgrad.grad(float_argument_stepped, backend=backend)
        assert math.isclose(g(x), by_hand, rel_tol=1e-12)
        assert "x = x - 1" not in g.source
    assert math.isclose(s2sgrad.grad(float_argument_stepped)(0.3), 2 * 0.3 * 1.3 ** 2 + 2 * 0.09 * 1.3,
                        rel_tol=1e-12)


def swapped_in_a_loop(w):
    v = w * 1.0
    total = 0.0
    for i in range(2):
        for j in range(2):
            total += v[j] * v[j] * (j + 1.0)
        v[0], v[1] = v[1], v[0]
    return total  # 3 w0^2 + 3 w1^2


def rotated_in_a_loop(w):
    v = w * 1.0
    total = 0.0
    for i in range(3):
        total += v[0] * v[0] * v[1]
        v[0], v[1], v[2] = v[1], v[2], v[0]
    return total  # w0^2 w1 + w1^2 w2 + w2^2 w0


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_parallel_write_of_elements_in_a_loop_is_restored_in_reverse_order(backend):
    """`v[0], v[1] = v[1], v[0]` saves v[0] then v[1] on one tape: the reverse sweep must
    take v[1] back first (it took them in the saves' order and swapped the gradient;
    found by an adversarial run).  Hand derivations of both functions."""
    w = np.array([0.5, 2.0])
    np.testing.assert_allclose(s2sgrad.grad(swapped_in_a_loop, backend=backend)(w), 6 * w, rtol=1e-12)
    a, b, c = w3 = np.array([0.5, 2.0, -1.5])
    want = [2 * a * b + c * c, a * a + 2 * b * c, b * b + 2 * c * a]
    np.testing.assert_allclose(s2sgrad.grad(rotated_in_a_loop, backend=backend)(w3), want, rtol=1e-12)
