"""analysis.aliasing on its own: which in-place updates are refused because another name
may see them, and the statement-order facts the refusal reads.  Each expectation is read
off the function by hand: who shares the array, is it updated afterwards, is the other
name read after that."""
# ruff: noqa: F841 - the functions below are inputs to a pass: their variables are what it reads

import numpy as np
import pytest

from s2sgrad import ir
from s2sgrad.analysis import aliasing, kinds
from s2sgrad.errors import RankUnknownError, UnsupportedSyntaxError
from s2sgrad.frontend import controlflow, load_program
from s2sgrad.transforms.naming import Namer


def lowered(f):
    fn, _ = load_program(f)
    namer = Namer({fn.name, *fn.params, *ir.assigned_names(fn.body)})
    return controlflow.lower_jumps(fn, namer.fresh)


def kinds_of(fn, param_kind=kinds.array(1)):
    return kinds.KindInference(fn, {p: param_kind for p in fn.params}).run()


def refused(f, helper=False, param_kind=kinds.array(1), sure_only=False):
    fn = lowered(f)
    try:
        aliasing.refuse_aliased_updates(fn, kinds_of(fn, param_kind), helper, sure_only=sure_only)
    except UnsupportedSyntaxError:
        return True
    return False


def assignment_to(fn, name, nth=0):
    found = [s for s in ir.walk_stmts(fn.body) if isinstance(s, ir.Assign)
             and any(ir.target_name(t) == name for t in s.targets)]
    return found[nth]


# ---------------------------------------------------------------------- refusals
def alias_updated_then_read(x):
    v = x * 1.0
    s = v
    s *= 0.5        # v changes too ...
    return np.sum(v + s)   # ... and is read


def alias_never_read_again(x):
    v = x * 1.0
    s = v
    s *= 0.5
    return np.sum(s)


def rebound_before_update(x):
    v = x * 1.0
    s = v
    s = s * 2.0     # a new array: s no longer shares v's
    s *= 0.5
    return np.sum(v + s)


def appended_then_written(x):
    s = x * 1.0
    hs = []
    hs.append(s)
    s[0] = 1.0      # hs[0] is s
    return np.sum(hs[0])


def view_updated(x):
    v = x * 1.0
    s = v[1:]       # a view of v
    s *= 2.0
    return np.sum(v) + np.sum(s)


def writes_its_argument(x):
    x *= 2.0
    return np.sum(x)


def numbers_are_copies(a):
    v = a
    v += 1.0
    return v + a


@pytest.mark.parametrize("f", [alias_updated_then_read, appended_then_written, view_updated])
def test_an_update_another_name_reads_afterwards_is_refused(f):
    assert refused(f)


@pytest.mark.parametrize("f", [alias_never_read_again, rebound_before_update])
def test_an_update_no_other_name_sees_is_allowed(f):
    assert not refused(f)


def test_a_helpers_parameter_is_the_callers_array():
    assert refused(writes_its_argument, helper=True)
    assert not refused(writes_its_argument, helper=False)


def test_numbers_are_never_aliases():
    assert not refused(numbers_are_copies, param_kind=kinds.SCALAR)


def test_with_guessed_kinds_only_sure_arrays_are_refused_the_others_wait_for_a_call():
    assert refused(alias_updated_then_read, param_kind=kinds.array(1), sure_only=True)
    fn = lowered(alias_updated_then_read)
    # not refused on a guess, nor accepted: guessed code a call with these kinds would reuse
    with pytest.raises(RankUnknownError, match="updating the array `s` in place"):
        aliasing.refuse_aliased_updates(fn, kinds_of(fn, kinds.ANY_ARRAY), False, sure_only=True)
    assert refused(alias_updated_then_read, param_kind=kinds.ANY_ARRAY, sure_only=False)


def test_the_refusal_points_at_the_update():
    fn = lowered(alias_updated_then_read)
    with pytest.raises(UnsupportedSyntaxError) as info:
        aliasing.refuse_aliased_updates(fn, kinds_of(fn), helper=False)
    assert "`s`" in str(info.value) and "s *= 0.5" in str(info.value)


# ---------------------------------------------------------------------- order facts
def looped(x, n):
    s = x * 1.0
    for i in range(n):
        a = s * 2.0
        s = a + 1.0
    return s


def test_a_loop_lets_an_earlier_statement_run_after_a_later_one():
    fn = lowered(looped)
    order = aliasing.statement_order(fn.body)
    first_s, a, second_s = assignment_to(fn, "s"), assignment_to(fn, "a"), assignment_to(fn, "s", 1)
    assert aliasing.may_run_after(second_s, first_s, order)
    assert aliasing.may_run_after(a, second_s, order)       # the next iteration
    assert not aliasing.may_run_after(first_s, second_s, order)


def lists_shared(x):
    xs = [x, x]
    ys = xs
    xs.append(x)
    return ys


def lists_settled(x):
    xs = [x, x]
    xs.append(x)
    ys = xs
    return ys


def test_list_written_after():
    fn = lowered(lists_shared)
    assert aliasing.list_written_after(fn.body, assignment_to(fn, "ys"), {"xs", "ys"})
    fn = lowered(lists_settled)
    assert not aliasing.list_written_after(fn.body, assignment_to(fn, "ys"), {"xs", "ys"})


# ---------------------------------------------------------------------- forward mode's questions
def writes_into(x, y, z):
    x[0] = 1.0
    y += z
    w = z + 1.0
    return np.sum(x + y + w)


def test_updated_in_place():
    fn = lowered(writes_into)
    assert aliasing.updated_in_place(fn.body, kinds_of(fn)) == {"x", "y"}


def test_may_alias_existing():
    x = ir.Name("x")
    assert aliasing.may_alias_existing(x)
    assert aliasing.may_alias_existing(ir.Subscript(ir.Subscript(x, ir.Const(0)), ir.Const(1)))
    assert not aliasing.may_alias_existing(ir.BinOp("+", x, ir.Const(0)))
